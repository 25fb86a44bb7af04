//! An external extension as a process beside the function under test, as Lambda starts the
//! binaries of `/opt/extensions`: its environment points at the loopback Runtime API, and its
//! end is recorded on the timeline ([`TimelineEvent::ExtensionExited`]).

use std::process::Command;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::runtime_api::RuntimeApi;
use super::timeline::{Timeline, TimelineEvent};

/// A running extension process; dropping the handle kills it (Lambda's SIGKILL).
#[derive(Debug)]
pub struct ExtensionProcess {
    name: String,
    kill: Option<oneshot::Sender<()>>,
}

impl ExtensionProcess {
    /// Starts `command` with [`RuntimeApi::env_vars`] added to its environment, under `name`
    /// (the name it registers with, as [`Emulation::with_external_extension`] gives it); a
    /// thread waits for it and records [`TimelineEvent::ExtensionExited`]. Stdout and stderr
    /// are the test's. Panics when it cannot be started.
    ///
    /// [`Emulation::with_external_extension`]: super::runtime_api::Emulation::with_external_extension
    pub fn spawn(name: &str, mut command: Command, api: &RuntimeApi, timeline: &Timeline) -> Self {
        command.envs(api.env_vars());
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        let (kill, killed) = oneshot::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        let (thread_name, exit_name, timeline) = (
            format!("extension-{name}"),
            name.to_owned(),
            timeline.clone(),
        );
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("extension waiter runtime");
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
                    let code = status.ok().and_then(|s| s.code());
                    timeline.record(TimelineEvent::ExtensionExited {
                        name: exit_name,
                        code,
                    });
                });
            })
            .unwrap_or_else(|e| panic!("extension {name}: cannot spawn its waiter thread: {e}"));
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("extension {name}: cannot start: {e}"),
            Err(_) => panic!("extension {name}: its waiter thread ended before starting it"),
        }
        Self {
            name: name.to_owned(),
            kill: Some(kill),
        }
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ExtensionProcess {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            // Already exited when the waiter is gone: nothing to kill.
            let _ = kill.send(());
        }
    }
}
