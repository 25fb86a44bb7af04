//! One backend as a child process: started with a configuration file and its ports in the
//! environment, output to a log file, killed and reaped when the handle drops.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{START_BOUND, poll};

/// How many times a backend is started with fresh ports before the test gives up.
const ATTEMPTS: usize = 3;

/// A running backend process; dropping it kills it.
#[derive(Debug)]
pub(super) struct Process {
    label: String,
    child: Child,
    dir: PathBuf,
}

impl Process {
    /// Starts `binary --config <config>` with `env` added, in a fresh folder under the target
    /// directory (its log, and any file it writes, go there). Panics when it cannot be started.
    pub(super) fn spawn(label: &str, binary: &Path, config: &Path, env: &[(&str, String)]) -> Self {
        let dir = scratch_dir(label);
        let log = File::create(dir.join("log")).expect("the backend's log file");
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(config)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(&dir)
            // Never the test's stdout or stderr: nextest would wait for them to close.
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start {}: {e}", binary.display()));
        Self {
            label: label.to_owned(),
            child,
            dir,
        }
    }

    /// The folder it runs in.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything it has logged so far.
    pub(super) fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Polls `ready` until it holds. `Err` with the log when the process exited first (a port
    /// taken between picking and binding it, a bad configuration); panics, with the log, when
    /// it is still not ready after [`START_BOUND`].
    pub(super) fn wait_ready(&mut self, ready: impl Fn(&Self) -> bool) -> Result<(), String> {
        let outcome = poll(START_BOUND, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Err(format!("exited ({status}) before it was ready")));
            }
            ready(self).then_some(Ok(()))
        });
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(format!("{}: {why}; its log:\n{}", self.label, self.log())),
            None => panic!(
                "{} not ready after {START_BOUND:?}; its log:\n{}",
                self.label,
                self.log()
            ),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Already exited when kill fails; wait reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "{}: its log and files are kept in {}",
                self.label,
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs `attempt` (start a backend on fresh ports and wait until it is ready) until it succeeds,
/// at most [`ATTEMPTS`] times: another process may take a port between the moment it was found
/// free and the moment the backend binds it. Panics with every attempt's failure.
pub(super) fn start_with_retries<T>(
    label: &str,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        match attempt() {
            Ok(started) => return started,
            Err(why) => failures.push(why),
        }
    }
    panic!(
        "{label} did not start in {ATTEMPTS} attempts:\n{}",
        failures.join("\n---\n")
    )
}

/// A new, empty folder for one backend of this test process.
fn scratch_dir(label: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("backends")
        .join(format!("{label}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}
