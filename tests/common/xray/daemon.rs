//! The UDP server: the socket and its threads (receive, check, place the
//! `/next` polls), and the [`XrayDaemon`] handle tests query and wait on.

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::arrivals::{Log, State};
use super::datagram::parse_datagram;
use super::document::{Document, Violation};
use crate::common::timeline::{Timeline, TimelineEvent};

/// Requested `SO_RCVBUF`; the kernel caps it at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;
/// The watcher re-enters `Timeline::wait_for` this often so that wait never
/// reaches its own time-out, which panics.
const WATCH_REFRESH: Duration = Duration::from_secs(10);
/// Payload of a poll marker, followed by the poll number.
pub(super) const MARKER: &str = "next-poll ";

/// Handle on a running loopback X-Ray daemon.
pub struct XrayDaemon {
    addr: SocketAddr,
    receive_buffer: usize,
    state: Arc<State>,
}

impl XrayDaemon {
    /// Binds 127.0.0.1:0 with a large receive buffer and starts reading on
    /// its own threads; the address is known (and queuing) on return. Polls
    /// that `timeline` records from now on are placed among the datagrams.
    pub fn start(timeline: Timeline) -> Self {
        let (socket, receive_buffer) = bind_with_large_buffer();
        let addr = socket.local_addr().expect("bound socket has an address");
        let marker =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the poll-marker socket");
        let marker_from = marker.local_addr().expect("bound socket has an address");
        let state = Arc::new(State {
            log: Mutex::default(),
            changed: Condvar::new(),
        });
        let (to_check, datagrams) = mpsc::channel();
        spawn("xray-daemon-recv", move || receive(&socket, &to_check));
        let shared = Arc::clone(&state);
        spawn("xray-daemon-check", move || {
            for (datagram, from) in datagrams {
                if from == marker_from {
                    shared.update(|log| log.place_poll(&datagram));
                } else {
                    let checked = parse_datagram(&datagram);
                    shared.update(|log| log.keep(datagram, checked));
                }
            }
        });
        spawn("xray-daemon-polls", move || {
            watch_polls(&timeline, &marker, addr)
        });
        Self {
            addr,
            receive_buffer,
            state,
        }
    }

    /// Where the daemon listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the form of `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda sets with Active tracing, pointing at this daemon.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![("AWS_XRAY_DAEMON_ADDRESS", self.address())]
    }

    /// Sets [`Self::env_vars`] in the process environment; call it before
    /// anything that reads the environment starts.
    pub fn set_env(&self) {
        for (key, value) in self.env_vars() {
            // SAFETY: as for `RuntimeApi::set_env`: one test per process under
            // cargo-nextest, set before the runtime or any exporter thread
            // starts; the daemon's threads never touch the environment.
            unsafe { std::env::set_var(key, value) };
        }
    }

    /// The socket's receive buffer as the kernel granted it (it doubles the
    /// request, capped by `net.core.rmem_max`).
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer
    }

    /// A `127.0.0.1:PORT` where no socket is bound: datagrams sent there are
    /// lost. The port was free a moment ago; ephemeral ports are not reused
    /// that quickly.
    pub fn unbound_address() -> String {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
        let addr = socket.local_addr().expect("bound socket has an address");
        drop(socket);
        addr.to_string()
    }

    /// Every valid document so far, in arrival order.
    pub fn documents(&self) -> Vec<Document> {
        self.state.log().documents.clone()
    }

    /// Every rejected datagram so far, in arrival order.
    pub fn violations(&self) -> Vec<Violation> {
        self.state.log().violations.clone()
    }

    /// Datagrams received so far, valid or not.
    pub fn datagram_count(&self) -> usize {
        self.state.log().datagrams
    }

    /// Waits until `n` valid documents have arrived and returns all of them.
    pub fn wait_for_documents(&self, n: usize) -> Vec<Document> {
        let what = format!("{n} valid X-Ray document(s)");
        let log = self.state.wait_for(|log| log.documents.len() >= n, &what);
        log.documents.clone()
    }

    /// Waits until `n` datagrams have been rejected and returns all of them.
    pub fn wait_for_violations(&self, n: usize) -> Vec<Violation> {
        let what = format!("{n} rejected datagram(s)");
        let log = self.state.wait_for(|log| log.violations.len() >= n, &what);
        log.violations.clone()
    }

    /// Waits until `n` datagrams have arrived, valid or not.
    pub fn wait_for_datagrams(&self, n: usize) {
        let what = format!("{n} datagram(s)");
        drop(self.state.wait_for(|log| log.datagrams >= n, &what));
    }

    /// Panics listing every rejected datagram and what it broke, if any.
    pub fn assert_no_violations(&self) {
        let log = self.state.log();
        if !log.violations.is_empty() {
            let seen = log.describe();
            let count = log.violations.len();
            drop(log);
            panic!("the X-Ray daemon rejected {count} datagram(s):\n{seen}");
        }
    }

    /// The valid documents sent before the runtime's `n`-th `/next` poll.
    /// Waits until that poll has been placed (so it waits for the poll too).
    pub fn documents_before_next_poll(&self, n: usize) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let before = log.documents.iter().filter(|d| d.polls_before < n);
        before.cloned().collect()
    }

    /// The valid documents that arrived after the runtime's `n`-th `/next`
    /// poll, so far. Waits until that poll has been placed.
    pub fn documents_after_next_poll(&self, n: usize) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let after = log.documents.iter().filter(|d| d.polls_before >= n);
        after.cloned().collect()
    }

    /// Asserts that documents matching `pred` (`what` names them) arrived, all
    /// before the runtime's `n`-th `/next` poll, and returns them. A document
    /// not sent yet counts as neither: check the count returned.
    pub fn assert_arrived_before_next_poll(
        &self,
        n: usize,
        what: &str,
        pred: impl Fn(&Document) -> bool,
    ) -> Vec<Document> {
        let log = self.wait_for_poll(n);
        let (before, after): (Vec<&Document>, Vec<&Document>) = log
            .documents
            .iter()
            .filter(|d| pred(d))
            .partition(|d| d.polls_before < n);
        if before.is_empty() || !after.is_empty() {
            panic!(
                "{what}: {} before /next poll #{n}, {} after it; X-Ray daemon saw:\n{}",
                before.len(),
                after.len(),
                log.describe(),
            );
        }
        before.into_iter().cloned().collect()
    }

    /// Everything received, with the polls placed among it, as numbered lines
    /// for assertion messages.
    pub fn describe(&self) -> String {
        self.state.log().describe()
    }

    fn wait_for_poll(&self, n: usize) -> MutexGuard<'_, Log> {
        let what = format!("/next poll #{n} to be placed among the X-Ray datagrams");
        self.state.wait_for(|log| log.polls >= n, &what)
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .unwrap_or_else(|e| panic!("{name}: cannot spawn thread: {e}"));
}

/// A UDP socket on 127.0.0.1:0 with `SO_RCVBUF` raised, and the size granted:
/// an exporter sends a whole invocation's documents in a burst.
fn bind_with_large_buffer() -> (UdpSocket, usize) {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .expect("xray-daemon: create a UDP socket");
    socket
        .set_recv_buffer_size(RECEIVE_BUFFER)
        .expect("xray-daemon: set SO_RCVBUF");
    let granted = socket
        .recv_buffer_size()
        .expect("xray-daemon: read SO_RCVBUF");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    socket
        .bind(&addr.into())
        .unwrap_or_else(|e| panic!("xray-daemon: cannot bind 127.0.0.1:0: {e}"));
    (socket.into(), granted)
}

/// Reads datagrams and hands them on at once, so the kernel's buffer drains
/// as fast as the loopback fills it; checking happens on another thread.
fn receive(socket: &UdpSocket, to_check: &mpsc::Sender<(Vec<u8>, SocketAddr)>) {
    // Larger than any UDP payload, so nothing is ever truncated.
    let mut buffer = vec![0; 65_536];
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((len, from)) => {
                if to_check.send((buffer[..len].to_vec(), from)).is_err() {
                    return;
                }
            }
            Err(e) => eprintln!("xray-daemon: receive failed: {e}"),
        }
    }
}

/// Sends a marker to the daemon for every `/next` poll the timeline records,
/// from inside the timeline's wait (its lock held), so the marker is queued
/// before anything the runtime does after that poll can be recorded.
fn watch_polls(timeline: &Timeline, marker: &UdpSocket, daemon: SocketAddr) {
    let scanned = Cell::new(0);
    loop {
        let since = Instant::now();
        let _ = timeline.wait_for(
            |events| {
                for event in &events[scanned.get()..] {
                    if let TimelineEvent::NextPolled { n } = event
                        && let Err(e) = marker.send_to(format!("{MARKER}{n}").as_bytes(), daemon)
                    {
                        eprintln!("xray-daemon: cannot place /next poll #{n}: {e}");
                    }
                }
                scanned.set(events.len());
                since.elapsed() >= WATCH_REFRESH
            },
            "the X-Ray daemon's periodic re-watch",
        );
    }
}
