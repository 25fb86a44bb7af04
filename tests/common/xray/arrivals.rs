//! The daemon's arrival log: documents, violations and `/next` poll markers
//! in the order the socket queued them, and the waits on it.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemon::MARKER;
use super::document::{Document, Violation};
use super::rules::Problem;

/// How long a wait may take before the test fails, as for the timeline.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One entry of the daemon's arrival log.
enum Arrival {
    /// Index into `Log::documents`.
    Document(usize),
    /// Index into `Log::violations`.
    Violation(usize),
    /// Marker for `/next` poll #n.
    NextPoll(usize),
}

#[derive(Default)]
pub(super) struct Log {
    arrivals: Vec<Arrival>,
    pub(super) documents: Vec<Document>,
    pub(super) violations: Vec<Violation>,
    /// Datagrams from exporters (markers not counted).
    pub(super) datagrams: usize,
    /// Polls placed so far.
    pub(super) polls: usize,
}

impl Log {
    pub(super) fn keep(&mut self, datagram: Vec<u8>, checked: Result<Value, Vec<Problem>>) {
        let (seq, polls_before) = (self.datagrams, self.polls);
        self.datagrams += 1;
        match checked {
            Ok(json) => {
                self.arrivals.push(Arrival::Document(self.documents.len()));
                self.documents.push(Document {
                    seq,
                    polls_before,
                    json,
                });
            }
            Err(problems) => {
                self.arrivals
                    .push(Arrival::Violation(self.violations.len()));
                let violation = Violation {
                    seq,
                    polls_before,
                    problems,
                    datagram,
                };
                self.violations.push(violation);
            }
        }
    }

    pub(super) fn place_poll(&mut self, marker: &[u8]) {
        let n = std::str::from_utf8(marker)
            .ok()
            .and_then(|m| m.strip_prefix(MARKER))
            .and_then(|n| n.parse().ok());
        match n {
            Some(n) => {
                self.polls = self.polls.max(n);
                self.arrivals.push(Arrival::NextPoll(n));
            }
            None => eprintln!("xray-daemon: unreadable poll marker {marker:?}"),
        }
    }

    pub(super) fn describe(&self) -> String {
        if self.arrivals.is_empty() {
            return "  (nothing)".to_owned();
        }
        let lines: Vec<String> = self
            .arrivals
            .iter()
            .map(|arrival| match arrival {
                Arrival::Document(i) => {
                    let d = &self.documents[*i];
                    format!("  #{} {}", d.seq, d.summary())
                }
                Arrival::Violation(i) => {
                    let v = &self.violations[*i];
                    format!("  #{} {v}", v.seq)
                }
                Arrival::NextPoll(n) => format!("  -- /next poll #{n} --"),
            })
            .collect();
        lines.join("\n")
    }
}

pub(super) struct State {
    pub(super) log: Mutex<Log>,
    pub(super) changed: Condvar,
}

impl State {
    // A panicking test thread must not hide later datagrams: the log is only
    // ever changed whole under the lock.
    pub(super) fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn update(&self, change: impl FnOnce(&mut Log)) {
        change(&mut self.log());
        self.changed.notify_all();
    }

    /// Blocks until `pred` holds; panics after 30 s naming `what` and listing
    /// what arrived.
    pub(super) fn wait_for(&self, pred: impl Fn(&Log) -> bool, what: &str) -> MutexGuard<'_, Log> {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let mut log = self.log();
        while !pred(&log) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen = log.describe();
                drop(log);
                panic!(
                    "timed out after {WAIT_TIMEOUT:?} waiting for {what}; X-Ray daemon saw:\n{seen}"
                );
            }
            log = self
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        log
    }
}
