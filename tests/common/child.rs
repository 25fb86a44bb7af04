//! Child processes of a test: this test binary running one of its own `#[ignore]`d tests, so
//! that a test can read a function's real stdout (what CloudWatch Logs would store), or run
//! the function's runtime as a process that can crash ([`RuntimeProcess`]); and the waiter
//! every harness-started process shares ([`Watch`], also behind `ExtensionProcess`).

use std::process::Command;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::runtime_api::RuntimeApi;

/// The command that runs the ignored test `name` of this test binary, alone, its output not
/// captured by the test harness.
pub fn ignored_test(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command
}

/// Runs the ignored test `name` of this test binary in a child process with `env` added, and
/// returns its stdout after checking that it succeeded.
pub fn run_ignored(name: &str, env: &[(&str, &str)]) -> String {
    let output = ignored_test(name)
        .envs(env.iter().copied())
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The function's runtime as a process of its own, as Lambda runs `bootstrap`: when it ends,
/// the loopback Runtime API learns it ([`RuntimeApi::runtime_exited`]), as Lambda learns it
/// from the process. Dropping the handle kills it.
#[derive(Debug)]
pub struct RuntimeProcess {
    _watch: Watch,
}

impl RuntimeProcess {
    /// Starts `command` (typically [`ignored_test`] naming a test that runs the
    /// `lambda_runtime` loop) with [`RuntimeApi::env_vars`] added to its environment, so that
    /// its runtime polls `api`; a thread waits for it and calls
    /// [`RuntimeApi::runtime_exited`] with its exit code once it has ended. Stdout and stderr
    /// are the test's. Panics when it cannot be started.
    pub fn spawn(mut command: Command, api: &RuntimeApi) -> Self {
        command.envs(api.env_vars());
        let api = api.clone();
        let watch = Watch::spawn("runtime", command, move |code| api.runtime_exited(code));
        Self { _watch: watch }
    }
}

/// A child process a thread of its own waits for; dropping the handle kills the child
/// (Lambda's SIGKILL).
#[derive(Debug)]
pub(super) struct Watch {
    kill: Option<oneshot::Sender<()>>,
}

impl Watch {
    /// Starts `command` (named `label` in messages and the waiter thread's name) and calls
    /// `on_exit` with its exit code (`None` when a signal ended it) once it has ended. Panics
    /// when it cannot be started.
    pub(super) fn spawn(
        label: &str,
        command: Command,
        on_exit: impl FnOnce(Option<i32>) + Send + 'static,
    ) -> Self {
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        let (kill, killed) = oneshot::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("watch-{label}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("process waiter runtime");
                runtime.block_on(async move {
                    // Spawned here: tokio reaps the child on the runtime that started it.
                    let mut child = match command.spawn() {
                        Ok(child) => {
                            let _ = started_tx.send(Ok(()));
                            child
                        }
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                            return;
                        }
                    };
                    let status = tokio::select! {
                        status = child.wait() => status,
                        _ = killed => {
                            let _ = child.start_kill();
                            child.wait().await
                        }
                    };
                    on_exit(status.ok().and_then(|s| s.code()));
                });
            })
            .unwrap_or_else(|e| panic!("{label}: cannot spawn its waiter thread: {e}"));
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{label}: cannot start: {e}"),
            Err(_) => panic!("{label}: its waiter thread ended before starting it"),
        }
        Self { kill: Some(kill) }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            // Already exited when the waiter is gone: nothing to kill.
            let _ = kill.send(());
        }
    }
}

/// The count `name=<n>` carries in a line the crate writes (its loss reports: `lost_spans=3
/// lost_log_records=0 ...`); `None` when the line has no such field.
pub fn count(line: &str, name: &str) -> Option<usize> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{name} in {line}")))
}
