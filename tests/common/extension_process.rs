//! An external extension as a process beside the function under test, as Lambda starts the
//! binaries of `/opt/extensions`: its environment points at the loopback Runtime API, and its
//! end is recorded on the timeline ([`TimelineEvent::ExtensionExited`]).

use std::process::Command;

use super::child::Watch;
use super::runtime_api::RuntimeApi;
use super::timeline::{Timeline, TimelineEvent};

/// A running extension process; dropping the handle kills it (Lambda's SIGKILL).
#[derive(Debug)]
pub struct ExtensionProcess {
    name: String,
    _watch: Watch,
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
        let (exit_name, timeline) = (name.to_owned(), timeline.clone());
        let watch = Watch::spawn(&format!("extension {name}"), command, move |code| {
            timeline.record(TimelineEvent::ExtensionExited {
                name: exit_name,
                code,
            });
        });
        Self {
            name: name.to_owned(),
            _watch: watch,
        }
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }
}
