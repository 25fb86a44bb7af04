//! One function process: spawned with Lambda's environment, its CPU clock, its peak RSS, what
//! it wrote on stdout.

use crate::DRAIN_PAUSE;
use std::fs;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The stdout pipe's size: far more than a drain pause's worth of log and EMF lines, so the
/// function never blocks on a full pipe (Linux lets anyone go up to 1 MiB).
const PIPE_SIZE: libc::c_int = 1 << 20;
/// How often [`Function::wait_exit`] looks: the resolution of the exit times it reports.
const EXIT_POLL: Duration = Duration::from_millis(1);

/// A running function process, killed when dropped.
pub struct Function {
    child: Child,
    stdout: Option<JoinHandle<io::Result<Vec<u8>>>>,
    /// When `spawn` was called: the start of the cold start.
    pub spawned: Instant,
}

/// What a function wrote on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stdout {
    /// Lines in all.
    pub lines: usize,
    /// CloudWatch EMF lines: JSON objects with a top-level `_aws` object.
    pub emf_lines: usize,
}

impl Function {
    /// Starts `binary` with exactly `env` (nothing inherited). Stdout is a pipe, as Lambda's
    /// log capture is, drained by a thread of the runner; stderr is kept for crashes.
    pub fn spawn(binary: &Path, env: &[(&str, String)]) -> io::Result<Self> {
        Self::start(binary, env, None)
    }

    /// As [`Function::spawn`], and the first line on stdout that starts with `prefix` comes
    /// out of the receiver; it is dropped unsent if stdout ends first.
    pub fn spawn_watching(
        binary: &Path,
        env: &[(&str, String)],
        prefix: &'static str,
    ) -> io::Result<(Self, oneshot::Receiver<String>)> {
        let (sender, receiver) = oneshot::channel();
        let function = Self::start(binary, env, Some((prefix, sender)))?;
        Ok((function, receiver))
    }

    fn start(binary: &Path, env: &[(&str, String)], watch: Option<Watch>) -> io::Result<Self> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let spawned = Instant::now();
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().map(|pipe| {
            std::thread::Builder::new()
                .name("function-stdout".to_owned())
                .spawn(move || drain(pipe, watch))
        });
        let stdout = match stdout.transpose() {
            Ok(stdout) => stdout,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Self {
            child,
            stdout,
            spawned,
        })
    }

    /// Ends the process and counts what it wrote on stdout, every byte of it read.
    pub fn finish(self) -> io::Result<Stdout> {
        self.finish_output().map(|(stdout, _)| stdout)
    }

    /// Ends the process (if it has not ended); what it wrote on stdout, counted and as written.
    pub fn finish_output(mut self) -> io::Result<(Stdout, Vec<u8>)> {
        self.kill();
        let bytes = match self.stdout.take() {
            Some(reader) => reader
                .join()
                .map_err(|_| io::Error::other("the stdout reader panicked"))??,
            None => Vec::new(),
        };
        Ok((count(&bytes), bytes))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself, at most `bound`: its status, or `None`.
    pub async fn wait_exit(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut ticks = tokio::time::interval(EXIT_POLL);
        loop {
            ticks.tick().await;
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process's CPU clock (every thread, user and system).
    pub fn cpu_clock(&self) -> io::Result<CpuClock> {
        CpuClock::of(self.child.id())
    }

    /// The peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> io::Result<u64> {
        peak_rss_of(self.child.id())
    }

    /// Whether the process has exited (a crash), and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for `finished` (the Runtime API handing out its last invocation): an error naming
    /// `name` if the function exits first or `bound` passes, so every run ends by itself.
    pub async fn wait_until(
        &mut self,
        finished: impl std::future::Future<Output = ()>,
        bound: Duration,
        name: &str,
    ) -> Result<(), String> {
        wait_all(&mut [(name, self)], finished, bound).await
    }
}

/// Waits for `finished`: an error naming the process if one of `processes` exits first, or if
/// `bound` passes, so every run ends by itself.
pub async fn wait_all(
    processes: &mut [(&str, &mut Function)],
    finished: impl std::future::Future<Output = ()>,
    bound: Duration,
) -> Result<(), String> {
    tokio::pin!(finished);
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        tokio::select! {
            () = &mut finished => return Ok(()),
            _ = ticks.tick() => {
                for (name, process) in processes.iter_mut() {
                    if let Some(status) = process.exited() {
                        return Err(format!("{name}: exited with {status} during the run"));
                    }
                }
                if tokio::time::Instant::now() > deadline {
                    let names: Vec<&str> = processes.iter().map(|(name, _)| *name).collect();
                    return Err(format!("{}: not finished after {bound:?}", names.join(" + ")));
                }
            }
        }
    }
}

/// Another process's peak resident set size so far (`VmHWM`), in bytes.
pub fn peak_rss_of(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmHWM in /proc/<pid>/status"))
}

impl Drop for Function {
    fn drop(&mut self) {
        // The reader, if still there, ends by itself at the pipe's end.
        self.kill();
    }
}

/// A line to look out for on stdout, and where to send it.
type Watch = (&'static str, oneshot::Sender<String>);

/// Reads the pipe to its end: one wake-up takes everything written so far, then a pause, so
/// the function's writes (on the same CPU) do not each wake the runner. Lines are counted after
/// the run, not here, except the one `watch` looks out for, sent as soon as it is complete.
fn drain(mut pipe: ChildStdout, mut watch: Option<Watch>) -> io::Result<Vec<u8>> {
    // SAFETY: F_SETPIPE_SZ on a pipe this function owns; no memory is passed.
    if unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut all = Vec::new();
    let mut buf = vec![0u8; usize::try_from(PIPE_SIZE).unwrap_or(1 << 20)];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(all),
            Ok(n) => {
                all.extend_from_slice(&buf[..n]);
                if let Some((prefix, _)) = &watch
                    && let Some(line) = complete_line(&all, prefix)
                    && let Some((_, sender)) = watch.take()
                {
                    let _ = sender.send(line);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        std::thread::sleep(DRAIN_PAUSE);
    }
}

/// The first complete line of `bytes` that starts with `prefix`.
fn complete_line(bytes: &[u8], prefix: &str) -> Option<String> {
    let complete = &bytes[..bytes.iter().rposition(|&b| b == b'\n')?];
    complete
        .split(|&b| b == b'\n')
        .find(|line| line.starts_with(prefix.as_bytes()))
        .map(|line| String::from_utf8_lossy(line).into_owned())
}

fn count(bytes: &[u8]) -> Stdout {
    let mut stdout = Stdout::default();
    for line in bytes.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stdout.lines += 1;
        let emf = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
            .is_ok_and(|object| object.get("_aws").is_some_and(serde_json::Value::is_object));
        stdout.emf_lines += usize::from(emf);
    }
    stdout
}

/// Another process's CPU-time clock (`clock_getcpuclockid`): nanoseconds, all its threads.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock(libc::clockid_t);

impl CpuClock {
    fn of(pid: u32) -> io::Result<Self> {
        let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `clock` is a valid place for the result.
        let rc = unsafe { libc::clock_getcpuclockid(pid, &mut clock) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Self(clock))
    }

    /// The CPU time used so far; `None` once the process is gone.
    pub fn read(&self) -> Option<Duration> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write to.
        let rc = unsafe { libc::clock_gettime(self.0, &mut now) };
        if rc != 0 {
            return None;
        }
        Some(Duration::new(
            u64::try_from(now.tv_sec).ok()?,
            u32::try_from(now.tv_nsec).ok()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{Stdout, complete_line, count};

    #[test]
    fn the_watched_line_is_sent_once_complete() {
        let prefix = "[ext] ready";
        assert_eq!(complete_line(b"[ext] ready in 5", prefix), None);
        assert_eq!(
            complete_line(b"starting\n[ext] ready in 5 us\n[ext] rea", prefix).as_deref(),
            Some("[ext] ready in 5 us")
        );
    }

    #[test]
    fn counts_emf_lines_among_log_lines() {
        let stdout = b"{\"level\":\"INFO\",\"message\":\"rolled\"}\n\
{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[]},\"faas.invocations\":1}\n\
plain text\n\n{\"_aws\":\"not an object\"}\n";
        assert_eq!(
            count(stdout),
            Stdout {
                lines: 4,
                emf_lines: 1
            }
        );
    }
}
