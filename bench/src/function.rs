//! One function process: spawned with Lambda's environment, its CPU clock, its peak RSS.

use std::fs;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running function process, killed when dropped.
pub struct Function {
    child: Child,
    /// When `spawn` was called: the start of the cold start.
    pub spawned: Instant,
}

impl Function {
    /// Starts `binary` with exactly `env` (nothing inherited); stdout is discarded, as the
    /// Lambda log pipe would take it, stderr is kept for crashes.
    pub fn spawn(binary: &Path, env: &[(&str, String)]) -> io::Result<Self> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let spawned = Instant::now();
        let child = command.spawn()?;
        Ok(Self { child, spawned })
    }

    /// The process's CPU clock (every thread, user and system).
    pub fn cpu_clock(&self) -> io::Result<CpuClock> {
        CpuClock::of(self.child.id())
    }

    /// The peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> io::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| io::Error::other("no VmHWM in /proc/<pid>/status"))
    }

    /// Whether the process has exited (a crash), and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
