//! When the received telemetry is forwarded: the extension's event loop.
//!
//! - **End of invocation** (default): on `INVOKE`, wait until the invocation is over (the
//!   function's mark, or else the platform's `runtimeDone`, or else the deadline), forward
//!   everything received, then call `/next`. Nothing is held when Lambda freezes the
//!   environment; the backend's round trip is billed, the Telemetry API's buffering is not.
//! - **Deferred**: on `INVOKE`, start forwarding what earlier invocations left, in the
//!   background while the handler runs; at the end of the invocation wait only for that
//!   forward (usually finished) and for data older than the maximum delay. The last
//!   invocation's data waits in memory until the next `INVOKE` or `SHUTDOWN`.
//! - **Lambda Managed Instances** (registered for `SHUTDOWN` only, never frozen): a background
//!   forward whenever data is older than the maximum delay or the buffer is half full.
//! - **`SHUTDOWN`**: first wait for the platform's report of the last invocation (its metrics;
//!   after a timeout or a crash, its `runtimeDone` makes its span), then forward until nothing
//!   new arrives; all within the shutdown deadline.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_extension::{InvokeEvent, NextEvent, ShutdownEvent};
use tokio::task::JoinHandle;

use crate::backend::{Backend, Outcome};
use crate::config::{Config, Mode};
use crate::lifecycle::ExtensionsApi;
use crate::platform::Platform;
use crate::state::{Ended, Shared};

/// Kept from the shutdown deadline for the last log line and the process exit.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(100);
/// At shutdown, how long the extension waits for more exports after the buffer ran empty (the
/// function's own shutdown flush may still be on its way).
const SHUTDOWN_QUIET: Duration = Duration::from_millis(50);

/// The extension's state between events.
#[derive(Debug)]
pub(crate) struct Forwarder {
    shared: Arc<Shared>,
    backend: Backend,
    config: Arc<Config>,
    /// Whether the Telemetry API will say when an invocation is over.
    subscribed: bool,
    /// Deferred mode: the forward started at the last `INVOKE`.
    in_flight: Option<JoinHandle<Outcome>>,
    /// The platform's metrics, aggregated until they are due.
    platform: Arc<Mutex<Platform>>,
    /// When the platform's metrics were last taken: they go out every `max_delay`.
    metrics_taken: Instant,
    /// The last invocation: at `SHUTDOWN`, its platform records (the report, and after a
    /// timeout or a crash the `runtimeDone` its span is made from) may still be on their way.
    last: Option<String>,
}

impl Forwarder {
    pub(crate) fn new(
        shared: Arc<Shared>,
        backend: Backend,
        config: Arc<Config>,
        platform: Arc<Mutex<Platform>>,
        subscribed: bool,
    ) -> Self {
        Self {
            platform,
            metrics_taken: Instant::now(),
            shared,
            backend,
            config,
            subscribed,
            in_flight: None,
            last: None,
        }
    }

    /// Runs the `/next` loop until `SHUTDOWN` (or the Extensions API fails).
    pub(crate) async fn run(mut self, api: &ExtensionsApi) -> Result<(), String> {
        loop {
            match api.next().await? {
                NextEvent::Invoke(invoke) => self.invocation(&invoke).await,
                NextEvent::Shutdown(shutdown) => {
                    self.shutdown(&shutdown).await;
                    return Ok(());
                }
            }
        }
    }

    async fn invocation(&mut self, invoke: &InvokeEvent) {
        if self.config.mode == Mode::Deferred && self.in_flight.is_none() && !self.shared.is_empty()
        {
            // Only what earlier invocations left: the function may already be exporting this
            // invocation's telemetry (and even have marked it), which waits for the next
            // INVOKE like the rest of it. With the function's marks, that is what arrived
            // before the previous invocation's mark (before the first INVOKE, nothing);
            // without them there is no telling the two apart.
            let batches = match self.last.as_deref() {
                None => Vec::new(),
                Some(last) if self.shared.ended(last) == Some(Ended::Marked) => {
                    self.shared.take_until_mark(last)
                }
                Some(_) => self.shared.take(),
            };
            if !batches.is_empty() {
                let backend = self.backend.clone();
                self.in_flight = Some(tokio::spawn(async move { backend.forward(batches).await }));
            }
        }
        let ended = self.wait_for_end(invoke).await;
        self.last = Some(invoke.request_id.clone());
        if ended.is_none() {
            let runtime_done = if self.subscribed {
                " nor the platform's runtimeDone"
            } else {
                ""
            };
            log!(
                "invocation {}: neither the function's flush mark{runtime_done} came before the \
                 deadline; forwarding what arrived",
                invoke.request_id
            );
        }
        if self.metrics_taken.elapsed() >= self.config.max_delay {
            self.take_metrics();
        }
        match self.config.mode {
            Mode::EndOfInvocation => self.forward_now().await,
            Mode::Deferred => {
                if let Some(in_flight) = self.in_flight.take() {
                    self.settle(in_flight).await;
                }
                let stale = self
                    .shared
                    .oldest()
                    .is_some_and(|t| t.elapsed() >= self.config.max_delay);
                if stale {
                    self.forward_now().await;
                }
            }
        }
    }

    /// Until the invocation is over: the function's mark, else `runtimeDone`, else the deadline.
    async fn wait_for_end(&self, invoke: &InvokeEvent) -> Option<Ended> {
        let ended = self.shared.until(|s| s.ended(&invoke.request_id));
        tokio::time::timeout(until_epoch_ms(invoke.deadline_ms), ended)
            .await
            .ok()
    }

    async fn forward_now(&self) {
        let batches = self.shared.take();
        if batches.is_empty() {
            return;
        }
        let outcome = self.backend.forward(batches).await;
        self.record(&outcome);
    }

    /// Buffers the platform's metrics aggregated so far.
    fn take_metrics(&mut self) {
        self.metrics_taken = Instant::now();
        take_metrics(&self.platform, &self.shared);
    }

    /// Forwards what is buffered, cut at `deadline`; `false` when the deadline cut it.
    async fn forward_within(&self, deadline: Instant) -> bool {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || self.shared.is_empty() {
            return !remaining.is_zero();
        }
        let batches = self.shared.take();
        let count = batches.len() as u64;
        match tokio::time::timeout(remaining, self.backend.forward(batches)).await {
            Ok(outcome) => {
                self.record(&outcome);
                true
            }
            Err(_) => {
                self.shared.forwarded(0, count);
                false
            }
        }
    }

    async fn settle(&self, in_flight: JoinHandle<Outcome>) {
        match in_flight.await {
            Ok(outcome) => self.record(&outcome),
            Err(e) => log!("a background forward ended: {e}"),
        }
    }

    fn record(&self, outcome: &Outcome) {
        record(&self.shared, outcome);
    }

    async fn shutdown(&mut self, shutdown: &ShutdownEvent) {
        let deadline =
            Instant::now() + until_epoch_ms(shutdown.deadline_ms).saturating_sub(SHUTDOWN_MARGIN);
        if let Some(in_flight) = self.in_flight.take() {
            self.settle(in_flight).await;
        }
        // What is here goes first: the wait below may use half of what is left.
        self.forward_within(deadline).await;
        // The last invocation's `platform.report` is the last record Lambda sends about it (and
        // after a timeout or a crash, its `runtimeDone` makes its span): worth waiting for, for
        // at most half the time left, so the other half can forward what it brings.
        if let Some(request_id) = self.last.take()
            && self.subscribed
        {
            let half = deadline.saturating_duration_since(Instant::now()) / 2;
            let reported = self
                .shared
                .until(|s| s.is_reported(&request_id).then_some(()));
            let _ = tokio::time::timeout(half, reported).await;
        }
        self.take_metrics();
        loop {
            let changed = self.shared.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.shared.is_empty() {
                if !self.forward_within(deadline).await {
                    break;
                }
                continue;
            }
            let quiet = SHUTDOWN_QUIET.min(deadline.saturating_duration_since(Instant::now()));
            if quiet.is_zero() || tokio::time::timeout(quiet, changed).await.is_err() {
                break;
            }
        }
        let lost_at_shutdown = self.shared.take().len() as u64;
        self.shared.forwarded(0, lost_at_shutdown);
        let counts = self.shared.counts();
        log!(
            "shutdown ({}): {} export request(s) received, {} forwarded, {} lost, {} refused \
             (buffer full), {} for signals with no endpoint",
            shutdown.shutdown_reason,
            counts.received,
            counts.forwarded,
            counts.lost,
            counts.refused,
            counts.unrouted
        );
    }
}

/// Lambda Managed Instances: the environment is never frozen and there is no `INVOKE`, so
/// data goes out in the background once it is `max_delay` old or the buffer is half full.
pub(crate) async fn background(
    shared: Arc<Shared>,
    backend: Backend,
    config: Arc<Config>,
    platform: Arc<Mutex<Platform>>,
) {
    let mut metrics_taken = Instant::now();
    loop {
        if metrics_taken.elapsed() >= config.max_delay {
            metrics_taken = Instant::now();
            take_metrics(&platform, &shared);
        }
        let changed = shared.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let due = shared.oldest().map(|t| t + config.max_delay);
        match due {
            Some(due) if shared.is_half_full() || due <= Instant::now() => {
                let outcome = backend.forward(shared.take()).await;
                record(&shared, &outcome);
            }
            Some(due) => {
                let _ = tokio::time::timeout_at(due.into(), changed).await;
            }
            None => changed.await,
        }
    }
}

/// Counts a forward's results and logs its failures.
fn record(shared: &Shared, outcome: &Outcome) {
    shared.forwarded(outcome.forwarded, outcome.lost);
    for failure in &outcome.failures {
        log!("forward failed: {failure}");
    }
}

fn take_metrics(platform: &Mutex<Platform>, shared: &Shared) {
    let batch = platform
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take_metrics();
    if let Some(batch) = batch {
        shared.push(batch);
    }
}

/// How long until `epoch_ms` (zero if it has passed).
fn until_epoch_ms(epoch_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(epoch_ms).saturating_sub(now)
}
