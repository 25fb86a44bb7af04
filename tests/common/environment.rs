//! The execution environment behind the loopback Runtime API: who is registered, who waits in
//! `/next`, which invocation is where, and the platform records all this produces.
//!
//! The rules are Lambda's:
//! - **Init** ends when the runtime has called `/next`, every external extension the
//!   [`Emulation`] names has registered, and every registered extension has called its `/next`
//!   once. No invocation is handed out before, and no registration or subscription after; an
//!   internal extension must register before the runtime's first `/next`, as
//!   `lambda_runtime::spawn_graceful_shutdown_handler` does.
//! - **Lockstep**: an invocation is handed out only while the runtime *and* every extension
//!   registered for INVOKE wait in `/next`; the runtime gets it and each of those extensions an
//!   INVOKE event at the same moment. Between invocations (the environment frozen) the polls are
//!   held. With no INVOKE extension (the default, and always on Lambda Managed Instances) every
//!   runtime poll takes the next queued invocation, several at once under `run_concurrent`.
//! - **Platform records**: `platform.runtimeDone` when the runtime calls `/next` after posting
//!   the invocation's outcome, `platform.report` once every INVOKE extension is back in `/next`
//!   too.
//! - **SHUTDOWN** (when asked for): once the queue is empty and everyone is back in `/next`,
//!   every extension registered for SHUTDOWN gets it, with a deadline 2 s away.
//! - **Reset**: when an invocation's deadline passes before its invoke phase is over (with
//!   [`Emulation::with_timeouts`]; the function timeout bounds the whole phase, the runtime's
//!   and every INVOKE extension's `/next` included) or when the runtime process exits
//!   ([`Environment::runtime_exited`]), Lambda ends the invocation (`platform.runtimeDone`
//!   unless the runtime was done already, then `platform.report`, both with status `timeout` or
//!   `failure`) and resets the environment: SHUTDOWN (`timeout` or `failure`) to every extension
//!   registered for it, nothing handed out after (an in-process runtime cannot be started
//!   afresh, so the rest of the queue is dropped), the runtime's polls held forever, and a late
//!   outcome refused (410 `InvokeTimeout` for the invocation that timed out, 400
//!   `InvalidRequestID` for any other, as AWS's emulator answers).
//!
//! Every change is made under one lock, and recorded on the timeline under it, so the timeline's
//! order is the order things happened in.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::oneshot;

use super::extensions_api::{self, ApiError};
use super::platform::{self, Active, Failure, Outcome};
use super::runtime_api::{Emulation, Invocation, ShutdownReason};
use super::telemetry_api::{self, Platform, Subscriber};
use super::timeline::{Timeline, TimelineEvent};

/// How long an external extension has to finish after SHUTDOWN.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);

/// The shared state of one loopback Runtime API.
pub(super) struct Environment {
    timeline: Timeline,
    emulation: Emulation,
    state: Mutex<State>,
    /// This environment, for the deadline timers it starts.
    me: Weak<Environment>,
}

struct State {
    queue: VecDeque<Invocation>,
    runtime: Runtime,
    extensions: Vec<Extension>,
    init_started: Instant,
    /// How long init took, once it is over.
    init: Option<Duration>,
    /// The first report carries the init duration.
    reported: bool,
    active: Vec<Active>,
    /// Invocations handed out so far.
    dispatched: u64,
    shutdown_sent: bool,
    /// Whether the environment was reset (see the module doc).
    reset: bool,
    /// The invocation that timed out, whose late outcome Lambda refuses with 410.
    timed_out: Option<String>,
    platform: Platform,
}

#[derive(Default)]
struct Runtime {
    polls: usize,
    ready: bool,
    waiting: VecDeque<oneshot::Sender<Invocation>>,
}

impl Runtime {
    fn is_waiting(&self) -> bool {
        self.waiting.iter().any(|poll| !poll.is_closed())
    }
}

struct Extension {
    id: String,
    name: String,
    events: Vec<String>,
    polls: usize,
    waiting: Option<oneshot::Sender<Value>>,
    /// A SHUTDOWN that found the extension outside `/next`, for its next poll.
    pending: Option<Value>,
}

impl Extension {
    fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    fn is_waiting(&self) -> bool {
        self.waiting.as_ref().is_some_and(|poll| !poll.is_closed())
    }
}

impl Environment {
    /// An environment starting its init now, with `invocations` queued.
    pub(super) fn new(
        timeline: Timeline,
        invocations: Vec<Invocation>,
        emulation: Emulation,
    ) -> Arc<Self> {
        let mut platform = Platform::default();
        platform.produce(
            "platform.initStart",
            platform::init_start(emulation.initialization_type()),
        );
        Arc::new_cyclic(|me| Self {
            timeline,
            emulation,
            state: Mutex::new(State {
                queue: invocations.into(),
                runtime: Runtime::default(),
                extensions: Vec::new(),
                init_started: Instant::now(),
                init: None,
                reported: false,
                active: Vec::new(),
                dispatched: 0,
                shutdown_sent: false,
                reset: false,
                timed_out: None,
                platform,
            }),
            me: me.clone(),
        })
    }

    /// The timeline everything is recorded on.
    pub(super) fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The runtime called `/next`: what it will be handed, when it is.
    pub(super) fn runtime_next(&self) -> oneshot::Receiver<Invocation> {
        let mut state = self.lock();
        let state = &mut *state;
        state.runtime.polls += 1;
        self.timeline.record(TimelineEvent::NextPolled {
            n: state.runtime.polls,
        });
        let (poll, invocation) = oneshot::channel();
        if state.reset {
            // Held forever: its sender is gone, and nothing is handed out after a reset.
            return invocation;
        }
        let initialization_type = self.emulation.initialization_type();
        if !state.runtime.ready {
            state.runtime.ready = true;
            let record = platform::init_runtime_done(initialization_type);
            state.platform.produce("platform.initRuntimeDone", record);
        }
        for active in state.active.iter_mut().filter(|a| a.awaits_runtime_done()) {
            state
                .platform
                .produce("platform.runtimeDone", active.runtime_done());
        }
        state.runtime.waiting.push_back(poll);
        self.progress(state);
        invocation
    }

    /// The runtime posted a response (`error` false) or an error for `request_id`; refused
    /// once the environment was reset (410 for the invocation that timed out, else 400).
    pub(super) fn outcome(
        &self,
        request_id: String,
        error: bool,
        body: Vec<u8>,
        arrived_at: Instant,
    ) -> Result<(), ApiError> {
        let read = arrived_at.elapsed();
        let mut state = self.lock();
        if state.reset {
            let refusal = if state.timed_out.as_ref() == Some(&request_id) {
                ApiError::invoke_timeout()
            } else {
                ApiError::invalid_request_id()
            };
            self.timeline.record(TimelineEvent::OutcomeRefused {
                request_id,
                error,
                status: refusal.status(),
                error_type: refusal.error_type().to_owned(),
            });
            return Err(refusal);
        }
        if let Some(active) = state
            .active
            .iter_mut()
            .find(|a| a.request_id() == request_id)
        {
            active.set_outcome(Outcome::new(error, &body, arrived_at, read));
        }
        self.timeline.record(if error {
            TimelineEvent::ErrorPosted { request_id, body }
        } else {
            TimelineEvent::ResponsePosted { request_id, body }
        });
        Ok(())
    }

    /// The runtime process ended with `code` (`None`: a signal ended it). During an invocation
    /// Lambda ends it with `Runtime.ExitError` and resets the environment (see the module doc);
    /// after the environment's SHUTDOWN or reset it is only recorded.
    pub(super) fn runtime_exited(&self, code: Option<i32>) {
        let mut state = self.lock();
        let state = &mut *state;
        self.timeline.record(TimelineEvent::RuntimeExited { code });
        if state.shutdown_sent {
            return;
        }
        for active in std::mem::take(&mut state.active) {
            self.fail(state, active, Failure::RuntimeExit);
        }
        self.reset(state, ShutdownReason::Failure);
    }

    /// The deadline of the `seq`-th invocation passed: a timeout if its invoke phase is not over.
    fn deadline_passed(&self, seq: u64) {
        let mut state = self.lock();
        let state = &mut *state;
        if state.shutdown_sent {
            return;
        }
        let Some(at) = state.active.iter().position(|a| a.seq() == seq) else {
            return;
        };
        let active = state.active.remove(at);
        let request_id = active.request_id().to_owned();
        self.timeline.record(TimelineEvent::InvocationTimedOut {
            request_id: request_id.clone(),
        });
        state.timed_out = Some(request_id);
        self.fail(state, active, Failure::Timeout);
        self.reset(state, ShutdownReason::Timeout);
    }

    /// Lambda ends `active` with `failure`: its `platform.runtimeDone` (unless the runtime was
    /// done with it already) and its `platform.report`.
    fn fail(&self, state: &mut State, mut active: Active, failure: Failure) {
        active.fail(failure);
        if !active.is_runtime_done() {
            state
                .platform
                .produce("platform.runtimeDone", active.runtime_done());
        }
        produce_report(state, &active);
    }

    /// Resets the environment for `reason`: SHUTDOWN to every extension registered for it,
    /// nothing handed out after, the runtime's polls held forever.
    fn reset(&self, state: &mut State, reason: ShutdownReason) {
        state.reset = true;
        state.queue.clear();
        // Their senders dropped, the polls are held forever (see `runtime_api::handle`).
        state.runtime.waiting.clear();
        self.send_shutdown_to_all(state, reason);
    }

    /// Registers extension `name` for `events`; returns its identifier.
    pub(super) fn register(&self, name: &str, events: Vec<String>) -> Result<String, ApiError> {
        let external = self.emulation.is_external(name);
        extensions_api::check_events(&events, external, self.emulation.managed_instances)?;
        let mut state = self.lock();
        // Lambda starts the runtime once its external extensions registered, so an internal
        // one (started by the runtime) must register before the runtime's first `/next`.
        if state.init.is_some() || (!external && state.runtime.ready) {
            return Err(ApiError::forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already",
            ));
        }
        if state.extensions.iter().any(|e| e.name == name) {
            return Err(ApiError::forbidden(
                "Extension.InvalidExtensionState",
                "Extension with this name already registered",
            ));
        }
        let id = extensions_api::new_id();
        self.timeline.record(TimelineEvent::ExtensionRegistered {
            name: name.to_owned(),
            events: events.clone(),
        });
        state.extensions.push(Extension {
            id: id.clone(),
            name: name.to_owned(),
            events,
            polls: 0,
            waiting: None,
            pending: None,
        });
        Ok(id)
    }

    /// Extension `id` called `/next`: the event it will be handed, when it is.
    pub(super) fn extension_next(&self, id: &str) -> Result<oneshot::Receiver<Value>, ApiError> {
        let mut state = self.lock();
        let state = &mut *state;
        let extension = find(&mut state.extensions, id)?;
        extension.polls += 1;
        self.timeline.record(TimelineEvent::ExtensionNextPolled {
            name: extension.name.clone(),
            n: extension.polls,
        });
        let (poll, event) = oneshot::channel();
        match extension.pending.take() {
            Some(shutdown) => self.send_shutdown(extension, poll, shutdown),
            None => extension.waiting = Some(poll),
        }
        self.progress(state);
        Ok(event)
    }

    /// Extension `id` reported an `init` or `exit` error.
    pub(super) fn extension_error(
        &self,
        id: &str,
        phase: &str,
        error_type: &str,
    ) -> Result<(), ApiError> {
        let mut state = self.lock();
        let extension = find(&mut state.extensions, id)?;
        self.timeline.record(TimelineEvent::ExtensionErrorPosted {
            name: extension.name.clone(),
            phase: phase.to_owned(),
            error_type: error_type.to_owned(),
        });
        Ok(())
    }

    /// Extension `id` subscribes to the Telemetry API with `body`.
    pub(super) fn subscribe(&self, id: &str, body: &[u8]) -> Result<(), ApiError> {
        let mut state = self.lock();
        let state = &mut *state;
        let name = find(&mut state.extensions, id)?.name.clone();
        let subscription =
            telemetry_api::parse_subscription(body, self.emulation.managed_instances)?;
        if state.init.is_some() {
            return Err(ApiError::forbidden(
                "Telemetry.SubscriptionClosed",
                "Telemetry API subscription is closed",
            ));
        }
        self.timeline.record(TimelineEvent::TelemetrySubscribed {
            name: name.clone(),
            types: subscription.types.clone(),
            uri: subscription.uri().to_owned(),
        });
        let record = platform::telemetry_subscription(&name, &subscription.types);
        let delay = self.emulation.telemetry_delay;
        let subscriber = Subscriber::start(&name, subscription, delay, self.timeline.clone());
        state.platform.subscribe(subscriber);
        state
            .platform
            .produce("platform.telemetrySubscription", record);
        Ok(())
    }

    /// Moves the environment on as far as the parties in `/next` allow.
    fn progress(&self, state: &mut State) {
        self.end_init(state);
        self.report(state);
        while self.dispatch(state) {}
        self.shut_down(state);
    }

    fn end_init(&self, state: &mut State) {
        let registered = |name: &String| state.extensions.iter().any(|e| &e.name == name);
        if state.init.is_some()
            || !state.runtime.ready
            || !self.emulation.external_extensions.iter().all(registered)
            || state.extensions.iter().any(|e| e.polls == 0)
        {
            return;
        }
        let duration = state.init_started.elapsed();
        state.init = Some(duration);
        for extension in &state.extensions {
            let record = platform::extension(&extension.name, &extension.events);
            state.platform.produce("platform.extension", record);
        }
        let record = platform::init_report(self.emulation.initialization_type(), duration);
        state.platform.produce("platform.initReport", record);
        state.platform.end_init();
    }

    /// `platform.report` for every invocation the runtime is done with, once every INVOKE
    /// extension is back in `/next`.
    fn report(&self, state: &mut State) {
        if !invoke_extensions_waiting(&state.extensions) {
            return;
        }
        let (done, active): (Vec<Active>, Vec<Active>) = std::mem::take(&mut state.active)
            .into_iter()
            .partition(Active::is_runtime_done);
        state.active = active;
        for invocation in done {
            produce_report(state, &invocation);
        }
    }

    /// Hands out the next invocation if everyone it goes to waits; true if it did.
    fn dispatch(&self, state: &mut State) -> bool {
        if state.init.is_none()
            || state.shutdown_sent
            || state.queue.is_empty()
            || !invoke_extensions_waiting(&state.extensions)
        {
            return false;
        }
        // Polls whose connection is gone (a runtime aborted by its test) take nothing.
        state.runtime.waiting.retain(|poll| !poll.is_closed());
        let Some(poll) = state.runtime.waiting.pop_front() else {
            return false;
        };
        let invocation = state.queue.pop_front().expect("checked above");
        state.dispatched += 1;
        let active = Active::new(invocation.clone(), state.dispatched);
        if self.emulation.timeouts {
            self.start_deadline_timer(state.dispatched, invocation.deadline_ms);
        }
        state.platform.produce("platform.start", active.start());
        let event = extensions_api::invoke_event(&invocation);
        for extension in state.extensions.iter_mut().filter(|e| e.wants("INVOKE")) {
            let extension_poll = extension.waiting.take().expect("checked above");
            self.timeline.record(TimelineEvent::ExtensionInvoked {
                name: extension.name.clone(),
                request_id: invocation.request_id.clone(),
            });
            // A poll that went away since loses its event, as on Lambda.
            let _ = extension_poll.send(event.clone());
        }
        state.active.push(active);
        let _ = poll.send(invocation);
        true
    }

    /// Lambda's timer for the `seq`-th invocation, due at `deadline_ms` (epoch milliseconds).
    /// Runs on the server's runtime (every hand-out happens in one of its handlers).
    fn start_deadline_timer(&self, seq: u64, deadline_ms: u64) {
        let left = Duration::from_millis(deadline_ms.saturating_sub(epoch_ms(SystemTime::now())));
        let env = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(left).await;
            if let Some(env) = env.upgrade() {
                env.deadline_passed(seq);
            }
        });
    }

    fn shut_down(&self, state: &mut State) {
        let Some(reason) = self.emulation.shutdown_after_last else {
            return;
        };
        if state.shutdown_sent
            || state.init.is_none()
            || !state.queue.is_empty()
            || !state.active.is_empty()
            || !state.runtime.is_waiting()
            || !invoke_extensions_waiting(&state.extensions)
        {
            return;
        }
        self.send_shutdown_to_all(state, reason);
    }

    /// SHUTDOWN (`reason`, deadline 2 s away) to every extension registered for it: now to
    /// one waiting in `/next`, at its next poll to any other.
    fn send_shutdown_to_all(&self, state: &mut State, reason: ShutdownReason) {
        state.shutdown_sent = true;
        let deadline = SystemTime::now() + SHUTDOWN_BUDGET;
        let event = extensions_api::shutdown_event(reason, epoch_ms(deadline));
        for extension in state.extensions.iter_mut().filter(|e| e.wants("SHUTDOWN")) {
            match extension.waiting.take() {
                Some(poll) if !poll.is_closed() => {
                    self.send_shutdown(extension, poll, event.clone())
                }
                _ => extension.pending = Some(event.clone()),
            }
        }
    }

    fn send_shutdown(&self, extension: &Extension, poll: oneshot::Sender<Value>, event: Value) {
        let reason = event["shutdownReason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.timeline.record(TimelineEvent::ShutdownSent {
            name: extension.name.clone(),
            reason,
        });
        let _ = poll.send(event);
    }

    // As the timeline does: a panicking handler must not hide the rest of the test's calls.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `platform.report` of `invocation`; the first report carries the init duration.
fn produce_report(state: &mut State, invocation: &Active) {
    let init = if state.reported { None } else { state.init };
    state.reported = true;
    state
        .platform
        .produce("platform.report", invocation.report(init));
}

/// `t` in milliseconds since the epoch.
fn epoch_ms(t: SystemTime) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("fits in u64")
}

fn find<'a>(extensions: &'a mut [Extension], id: &str) -> Result<&'a mut Extension, ApiError> {
    extensions
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::unknown_extension(id))
}

fn invoke_extensions_waiting(extensions: &[Extension]) -> bool {
    extensions
        .iter()
        .filter(|e| e.wants("INVOKE"))
        .all(Extension::is_waiting)
}
