//! The loopback X-Ray daemon: a UDP socket whose datagrams are kept with the time the kernel
//! queued them (`SO_TIMESTAMPNS`), so freeze safety is judged by when a document reached the
//! daemon, not by when the runner got round to reading it.
//!
//! Reading must not land in what is measured: in Lambda the daemon runs outside the sandbox,
//! and nothing of it takes the function's CPU. Here it shares one CPU with the function, so
//! the function's sends never wake it: the Runtime API drains the socket at every `/next`,
//! while the function waits for its next event, and a thread of its own drains it every
//! `DRAIN_PAUSE` besides (before the first `/next`, after the last). A thread woken by every
//! datagram added about 20 µs to post-response p50; one that read only after each pause took a
//! pause's worth of datagrams in one burst, inside some invocation's measured time. Documents
//! are decoded after the run.

use crate::DRAIN_PAUSE;
use crate::runtime_api::Plan;
use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The receive buffer asked for; the kernel caps it at `net.core.rmem_max` (4 MB here), still
/// thousands of documents, against the two an invocation sends between drains.
const RCVBUF: libc::c_int = 16 << 20;
/// More than the largest UDP payload, so no datagram is cut.
const MAX_DATAGRAM: usize = 64 * 1024;
/// What the first line of every datagram must say.
const HEADER_FORMAT: &str = "json";
const HEADER_VERSION: u64 = 1;
/// The dice roller's own span, the invocation span's child.
const ROLL_SPAN: &str = "roll";

/// One datagram as it came.
struct Datagram {
    at: SystemTime,
    bytes: Vec<u8>,
}

/// What has been taken from the socket so far.
struct Taken {
    buf: Vec<u8>,
    datagrams: Vec<Datagram>,
    /// The kernel's count of datagrams dropped on a full buffer.
    overflowed: u32,
    /// The first read that failed.
    error: Option<io::Error>,
}

/// A segment document, as far as the benchmark reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// When the kernel queued the datagram.
    pub at: SystemTime,
    /// The random part of `trace_id` (after `1-<epoch>-`).
    pub trace: String,
    /// The span id.
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

/// Everything the daemon got in a run.
#[derive(Debug, Default)]
pub struct Received {
    pub documents: Vec<Document>,
    /// Datagrams that were not a header line and a segment document.
    pub rejected: usize,
    /// Datagrams the kernel dropped on a full buffer (`SO_RXQ_OVFL`): the runner's fault.
    pub overflowed: u32,
}

struct Shared {
    socket: UdpSocket,
    taken: Mutex<Taken>,
    stop: AtomicBool,
}

impl Shared {
    fn drain(&self) {
        let mut taken = lock(&self.taken);
        let Taken {
            buf,
            datagrams,
            overflowed,
            error,
        } = &mut *taken;
        loop {
            match receive(&self.socket, buf, overflowed) {
                Ok(Some(datagram)) => datagrams.push(datagram),
                Ok(None) => return,
                Err(e) => {
                    error.get_or_insert(e);
                    return;
                }
            }
        }
    }
}

/// A running daemon; [`finish`](Self::finish) stops it and hands over what it received.
pub struct XrayDaemon {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl XrayDaemon {
    /// Binds `127.0.0.1:0` and starts the thread.
    pub fn start() -> io::Result<Self> {
        let socket = UdpSocket::bind(("127.0.0.1", 0))?;
        let fd = socket.as_raw_fd();
        set_option(fd, libc::SO_RCVBUF, RCVBUF)?;
        set_option(fd, libc::SO_TIMESTAMPNS, 1)?;
        set_option(fd, libc::SO_RXQ_OVFL, 1)?;
        socket.set_nonblocking(true)?;
        let addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            socket,
            taken: Mutex::new(Taken {
                buf: vec![0; MAX_DATAGRAM],
                datagrams: Vec::new(),
                overflowed: 0,
                error: None,
            }),
            stop: AtomicBool::new(false),
        });
        let reader = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("xray-daemon".to_owned())
            .spawn(move || {
                while !reader.stop.load(Ordering::Acquire) {
                    std::thread::sleep(DRAIN_PAUSE);
                    reader.drain();
                }
            })?;
        Ok(Self {
            addr,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What to put in `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes every datagram queued now, without waiting.
    pub fn drain(&self) {
        self.shared.drain();
    }

    /// Stops the thread, takes what is left and decodes it all. Call it after the function is
    /// gone, so nothing more can come.
    pub fn finish(&self) -> io::Result<Received> {
        self.stop_thread()?;
        self.shared.drain();
        let mut taken = lock(&self.shared.taken);
        if let Some(error) = taken.error.take() {
            return Err(error);
        }
        let mut received = Received {
            overflowed: taken.overflowed,
            ..Received::default()
        };
        for datagram in std::mem::take(&mut taken.datagrams) {
            match decode(&datagram.bytes) {
                Some(document) => received.documents.push(Document {
                    at: datagram.at,
                    ..document
                }),
                None => received.rejected += 1,
            }
        }
        Ok(received)
    }

    fn stop_thread(&self) -> io::Result<()> {
        let thread = lock(&self.thread).take();
        let Some(thread) = thread else {
            return Ok(());
        };
        self.shared.stop.store(true, Ordering::Release);
        thread
            .join()
            .map_err(|_| io::Error::other("the X-Ray daemon thread panicked"))
    }
}

impl Drop for XrayDaemon {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_option(fd: libc::c_int, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a c_int that lives across the call, and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One datagram with its kernel timestamp; `None` when nothing is queued.
fn receive(
    socket: &UdpSocket,
    buf: &mut [u8],
    overflowed: &mut u32,
) -> io::Result<Option<Datagram>> {
    // Room for a timespec and a u32 counter, aligned for cmsghdr.
    let mut control = [0u64; 16];
    loop {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: an all-zero msghdr is valid (no name, no buffers); the fields set below
        // point at `iov` and `control`, which outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` describes buffers this function owns, sized as stated.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(error),
            }
        }
        let len = usize::try_from(n).unwrap_or(0);
        // SAFETY: `msg` was filled by recvmsg; its control buffer is still `control`.
        let at = unsafe { control_messages(&msg, overflowed) };
        let at = at.ok_or_else(|| io::Error::other("a datagram without SO_TIMESTAMPNS"))?;
        return Ok(Some(Datagram {
            at,
            bytes: buf[..len].to_vec(),
        }));
    }
}

/// The kernel's arrival time, and the drop counter into `overflowed`.
///
/// # Safety
/// `msg` must have been filled by `recvmsg`, with its control buffer still alive.
unsafe fn control_messages(msg: &libc::msghdr, overflowed: &mut u32) -> Option<SystemTime> {
    let mut at = None;
    // SAFETY: the caller's guarantee; CMSG_* walk only what the kernel wrote.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                    let ts = data.cast::<libc::timespec>().read_unaligned();
                    at = UNIX_EPOCH.checked_add(Duration::new(
                        u64::try_from(ts.tv_sec).ok()?,
                        u32::try_from(ts.tv_nsec).ok()?,
                    ));
                }
                (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) => {
                    *overflowed = data.cast::<u32>().read_unaligned();
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    at
}

/// The header line and one segment document; `None` for anything else. The arrival time is
/// the caller's.
fn decode(bytes: &[u8]) -> Option<Document> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header: Value = serde_json::from_slice(&bytes[..newline]).ok()?;
    if header.get("format")?.as_str()? != HEADER_FORMAT
        || header.get("version")?.as_u64()? != HEADER_VERSION
    {
        return None;
    }
    let segment: Value = serde_json::from_slice(&bytes[newline + 1..]).ok()?;
    let text = |key: &str| segment.get(key).and_then(Value::as_str).map(str::to_owned);
    let trace_id = text("trace_id")?;
    let mut parts = trace_id.split('-');
    let (Some("1"), Some(epoch), Some(random), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let id = text("id")?;
    if !hex(epoch, 8) || !hex(random, 24) || !hex(&id, 16) {
        return None;
    }
    Some(Document {
        at: UNIX_EPOCH,
        trace: random.to_owned(),
        id,
        name: text("name")?,
        parent_id: text("parent_id"),
    })
}

/// What a run's invocations left at the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Expected documents that arrived: per invocation, the invocation span's (the one whose
    /// parent is the `Parent` of Lambda's header) and `roll`'s, in the header's trace.
    pub received: usize,
    /// Invocations whose two documents arrived before the runtime's next `/next`.
    pub freeze_safe: usize,
}

/// Counts `documents` against `plan`; `polled_at[i + 1]` is when invocation `i` ended.
pub fn tally(documents: &[Document], plan: &Plan, polled_at: &[SystemTime]) -> Tally {
    let mut traces: HashMap<&str, Vec<&Document>> = HashMap::new();
    for document in documents {
        traces.entry(&document.trace).or_default().push(document);
    }
    let mut tally = Tally {
        received: 0,
        freeze_safe: 0,
    };
    for i in 0..plan.total {
        let trace = traces.get(plan.xray_trace(i).as_str());
        let find = |matches: &dyn Fn(&Document) -> bool| {
            trace.and_then(|docs| docs.iter().copied().find(|d| matches(d)))
        };
        let parent = plan.xray_parent(i);
        let invocation = find(&|d| d.parent_id.as_deref() == Some(parent.as_str()));
        let roll = find(&|d| d.name == ROLL_SPAN);
        tally.received += usize::from(invocation.is_some()) + usize::from(roll.is_some());
        if let (Some(invocation), Some(roll), Some(&ended)) =
            (invocation, roll, polled_at.get(i + 1))
            && invocation.at <= ended
            && roll.at <= ended
        {
            tally.freeze_safe += 1;
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn plan() -> Plan {
        Plan {
            run: 7,
            total: 2,
            warmup: 0,
            event: Bytes::new(),
            idle: Duration::ZERO,
            extension: None,
        }
    }

    fn datagram(trace: &str, id: &str, name: &str, parent: Option<&str>) -> Vec<u8> {
        let parent = parent.map_or(String::new(), |p| format!(r#","parent_id":"{p}""#));
        format!(
            "{{\"format\": \"json\", \"version\": 1}}\n{{\"trace_id\":\"1-6920cc10-{trace}\",\"id\":\"{id}\",\"name\":\"{name}\"{parent},\"start_time\":1.5}}"
        )
        .into_bytes()
    }

    #[test]
    fn decodes_a_segment_and_refuses_the_rest() {
        let p = plan();
        let bytes = datagram(&p.xray_trace(0), "00000000000000aa", "roll", Some("1"));
        let document = decode(&bytes).expect("a document");
        assert_eq!(document.trace, p.xray_trace(0));
        assert_eq!(document.id, "00000000000000aa");
        assert_eq!(document.parent_id.as_deref(), Some("1"));
        assert!(decode(b"{\"trace_id\":\"1-6920cc10-000000000000000000000000\"}").is_none());
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        let short = datagram("00", "00000000000000aa", "roll", None);
        assert!(decode(&short).is_none());
    }

    #[test]
    fn counts_both_documents_and_judges_them_by_arrival() {
        let p = plan();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ms = Duration::from_millis;
        let document = |i: usize, name: &str, parent: Option<String>, at: SystemTime| Document {
            at,
            trace: p.xray_trace(i),
            id: format!("{:016x}", i + 10),
            name: name.to_owned(),
            parent_id: parent,
        };
        let documents = [
            document(0, "dice-roller", Some(p.xray_parent(0)), t0 + ms(1)),
            document(0, ROLL_SPAN, Some("x".into()), t0 + ms(1)),
            // Invocation 1's span arrives after the runtime asked for the next event.
            document(1, "dice-roller", Some(p.xray_parent(1)), t0 + ms(5)),
            document(1, ROLL_SPAN, Some("x".into()), t0 + ms(3)),
            // Not parented under Lambda's header: not the invocation span.
            document(1, "other", None, t0 + ms(3)),
        ];
        let polled_at = [t0, t0 + ms(2), t0 + ms(4)];
        let tally = tally(&documents, &p, &polled_at);
        assert_eq!(
            tally,
            Tally {
                received: 4,
                freeze_safe: 1
            }
        );
    }

    #[test]
    fn receives_with_kernel_timestamps() {
        let daemon = XrayDaemon::start().expect("daemon");
        let p = plan();
        let before = SystemTime::now();
        let sender = UdpSocket::bind(("127.0.0.1", 0)).expect("socket");
        for name in ["dice-roller", ROLL_SPAN] {
            let bytes = datagram(&p.xray_trace(0), "00000000000000aa", name, None);
            sender.send_to(&bytes, daemon.addr()).expect("sent");
        }
        sender
            .send_to(b"not a document", daemon.addr())
            .expect("sent");
        let received = daemon.finish().expect("finished");
        assert_eq!(received.documents.len(), 2);
        assert_eq!(received.rejected, 1);
        assert_eq!(received.overflowed, 0);
        assert!(received.documents.iter().all(|d| d.at >= before));
    }
}
