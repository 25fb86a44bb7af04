//! Starting and ending the invocation span.

use super::hook_guard::call_on_invocation;
use super::measurement::Measurement;
use super::metrics::FaasMetrics;
use super::on_invocation::{OnInvocation, SpanStart};
use super::{Outcome, SpanSettings, coldstart};
use crate::attributes::{INIT_DURATION_NS, INVOCATION_DURATION_NS};
use crate::logging::RequestId;
use crate::propagation::{self, Extracted};
use crate::trigger::{self, EventSource, Inspected};
use lambda_runtime::LambdaInvocation;
use opentelemetry::trace::{Link, SpanBuilder, SpanRef, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};
use opentelemetry_semantic_conventions::attribute::{
    AWS_LAMBDA_INVOKED_ARN, CLOUD_ACCOUNT_ID, CLOUD_RESOURCE_ID, FAAS_COLDSTART,
    FAAS_INVOCATION_ID, FAAS_TRIGGER,
};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
struct State {
    request_id: Arc<str>,
    start: Instant,
    start_wall: SystemTime,
    deadline: Option<Instant>,
    /// `faas.trigger`, for the metrics.
    trigger: &'static str,
    /// Start-up time when this is the cold start.
    init: Option<Duration>,
    ended: AtomicBool,
    handled: AtomicBool,
    failed: AtomicBool,
    /// The handler wrapper recorded how the handler ended: it no longer runs.
    returned: AtomicBool,
    /// The deadline guard ended the span: see [`Invocation::time_out`].
    timed_out: AtomicBool,
}

/// Lets the handler wrapper find the invocation in the current context.
#[derive(Debug, Clone)]
struct Handle(Arc<State>);

/// One invocation in flight: the context holding its span, and its timing.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    cx: Context,
    state: Arc<State>,
}

impl State {
    fn new(
        lambda: &lambda_runtime::Context,
        start: Instant,
        start_wall: SystemTime,
        source: EventSource,
        cold: bool,
    ) -> Self {
        Self {
            // One copy of the id, shared by the attribute and the log lines.
            request_id: lambda.request_id.as_str().into(),
            start,
            start_wall,
            deadline: deadline(start, start_wall, lambda.deadline),
            trigger: source.faas_trigger(),
            init: cold.then(|| start.saturating_duration_since(coldstart::process_start())),
            ended: AtomicBool::new(false),
            handled: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            returned: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
        }
    }
}

impl Invocation {
    /// Starts the invocation span: reads the event, finds the parent and the links, lets the
    /// `OnInvocation` hook adjust the name and attributes, and starts the span at `start_wall`.
    pub(crate) fn start(
        tracer: &SdkTracer,
        settings: &SpanSettings,
        on_invocation: Option<&dyn OnInvocation>,
        req: &LambdaInvocation,
    ) -> Self {
        let start = Instant::now();
        let start_wall = SystemTime::now();
        let lambda = &req.context;
        let inspected = read_event(settings, &req.body);
        let cold = coldstart::take_cold_start(settings.cold_start_possible);
        let state = Arc::new(State::new(
            lambda,
            start,
            start_wall,
            inspected.source,
            cold,
        ));
        let Extracted {
            parent,
            baggage,
            links,
        } = parent_and_links(settings, lambda, &inspected);
        let mut span_start = span_start(req, inspected, &state, cold);
        if let Some(hook) = on_invocation {
            call_on_invocation(hook, &mut span_start);
        }
        let span = start_span(tracer, span_start, start_wall, links, &parent);
        // The parent's span (and any X-Ray marker) stays out of this context: the span holds
        // its ids. Baggage from the event does go in, for the handler's own spans and calls.
        let cx = baggage
            .with_span(span)
            .with_value(Handle(Arc::clone(&state)))
            .with_value(RequestId(Arc::clone(&state.request_id)));
        Self { cx, state }
    }

    /// The invocation started by the layer around the code now running, if any.
    pub(crate) fn current() -> Option<Self> {
        let cx = Context::current();
        let state = Arc::clone(&cx.get::<Handle>()?.0);
        Some(Self { cx, state })
    }

    /// The context to attach while the invocation's code runs.
    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// The invocation span.
    pub(crate) fn span(&self) -> SpanRef<'_> {
        self.cx.span()
    }

    /// The invocation's request id (`Context::request_id`).
    pub(crate) fn request_id(&self) -> &Arc<str> {
        &self.state.request_id
    }

    /// The invocation's deadline, as an instant.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.state.deadline
    }

    /// Records that the handler wrapper saw this invocation (it recorded the outcome and, in
    /// before-response mode, flushed).
    pub(crate) fn mark_handled(&self) {
        self.state.handled.store(true, Ordering::Relaxed);
    }

    /// Whether the handler wrapper saw this invocation: see [`mark_handled`](Self::mark_handled).
    pub(crate) fn handled(&self) -> bool {
        self.state.handled.load(Ordering::Relaxed)
    }

    /// Records how the handler ended on the span, and an error or panic for `faas.errors`.
    pub(crate) fn record(&self, outcome: &Outcome<'_>) {
        self.state.returned.store(true, Ordering::Relaxed);
        if outcome.is_failure() {
            self.state.failed.store(true, Ordering::Relaxed);
        }
        outcome.record(&self.span());
    }

    /// Ends the span, once, and records the invocation's metrics: the duration attribute, the
    /// end time and `faas.invoke_duration` come from one reading of the monotonic clock, so
    /// `end - start == duration` to the nanosecond.
    pub(crate) fn end(&self, metrics: Option<&FaasMetrics>) {
        if self.state.ended.swap(true, Ordering::Relaxed) {
            return;
        }
        self.close(metrics);
    }

    /// Ends the span as timed out (`error.type=timeout`, status Error, counted in
    /// `faas.errors`) while the handler still runs, for the deadline guard; `false`, and
    /// nothing done, when the span has ended already or the handler wrapper saw the handler
    /// return. Whatever the handler does after this is not recorded on the span.
    pub(crate) fn time_out(&self, metrics: Option<&FaasMetrics>) -> bool {
        let state = &self.state;
        if state.returned.load(Ordering::Relaxed) || state.ended.swap(true, Ordering::Relaxed) {
            return false;
        }
        state.timed_out.store(true, Ordering::Relaxed);
        state.failed.store(true, Ordering::Relaxed);
        let now = Instant::now();
        let left = state
            .deadline
            .map_or(Duration::ZERO, |d| d.saturating_duration_since(now));
        Outcome::Timeout { left }.record(&self.span());
        self.close(metrics);
        true
    }

    /// Whether the deadline guard ended the span (and flushed): see [`time_out`](Self::time_out).
    pub(crate) fn timed_out(&self) -> bool {
        self.state.timed_out.load(Ordering::Relaxed)
    }

    /// Ends the span and records the metrics: see [`end`](Self::end).
    fn close(&self, metrics: Option<&FaasMetrics>) {
        let elapsed = self.state.start.elapsed();
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(INVOCATION_DURATION_NS, nanos(elapsed)));
        span.end_with_timestamp(self.state.start_wall + elapsed);
        if let Some(metrics) = metrics {
            metrics.record(Measurement {
                trigger: self.state.trigger,
                duration: elapsed,
                failed: self.state.failed.load(Ordering::Relaxed),
                init: self.state.init,
            });
        }
    }
}

/// What the event says: its source, the span's kind and name, attributes and trace context.
/// Nothing when built-in extraction is off.
fn read_event<'a>(settings: &SpanSettings, body: &'a [u8]) -> Inspected<'a> {
    if settings.event_extraction {
        trigger::inspect(body, &settings.redacted_query_keys)
    } else {
        Inspected::direct()
    }
}

/// The span's parent, the baggage and the links: from the event's trace context and Lambda's
/// X-Ray header as the propagators say, and from the producers of a batch's messages.
fn parent_and_links(
    settings: &SpanSettings,
    lambda: &lambda_runtime::Context,
    inspected: &Inspected<'_>,
) -> Extracted {
    let mut extracted = propagation::extract(
        settings.extraction(),
        &Context::current(),
        &inspected.carrier,
        lambda.xray_trace_id.as_deref(),
    );
    // A batch is linked to its producers, not parented: one link per message that carries
    // a context, up to the SDK's default link limit.
    let room = MAX_LINKS.saturating_sub(extracted.links.len());
    extracted.links.extend(
        inspected
            .records
            .iter()
            .filter_map(propagation::record_link)
            .take(room),
    );
    extracted
}

/// The span as the wrapper would start it, for the hook to see and change: named after what
/// the event is (or after the function), with the invocation's attributes and the event's.
fn span_start<'a>(
    req: &'a LambdaInvocation,
    inspected: Inspected<'_>,
    state: &State,
    cold: bool,
) -> SpanStart<'a> {
    let lambda = &req.context;
    SpanStart {
        event: &req.body,
        context: lambda,
        source: inspected.source,
        kind: inspected.kind,
        name: Cow::Owned(
            inspected
                .name
                .unwrap_or_else(|| lambda.env_config.function_name.clone()),
        ),
        attributes: start_attributes(lambda, state, cold, inspected.attributes),
    }
}

/// The attributes the span starts with, before the hook: the invocation's own (trigger, id,
/// cold start, function), then what the event gave, then the start-up time of a cold start.
fn start_attributes(
    lambda: &lambda_runtime::Context,
    state: &State,
    cold: bool,
    from_event: Vec<KeyValue>,
) -> Vec<KeyValue> {
    // The SDK keeps this vector as the span's: room for what is set here (up to 7), and
    // later (the status code, `error.type`, the duration), so nothing reallocates.
    let mut attributes = Vec::with_capacity(from_event.len() + 10);
    attributes.push(KeyValue::new(FAAS_TRIGGER, state.trigger));
    attributes.push(KeyValue::new(
        FAAS_INVOCATION_ID,
        StringValue::from(Arc::clone(&state.request_id)),
    ));
    attributes.push(KeyValue::new(FAAS_COLDSTART, cold));
    push_function_attributes(&mut attributes, lambda.invoked_function_arn.as_str());
    attributes.extend(from_event);
    if let Some(init) = state.init {
        attributes.push(KeyValue::new(INIT_DURATION_NS, nanos(init)));
    }
    attributes
}

/// The invoked ARN, the function's ARN without the qualifier, and the account; nothing when
/// the context has no ARN.
fn push_function_attributes(attributes: &mut Vec<KeyValue>, arn: &str) {
    if arn.is_empty() {
        return;
    }
    attributes.push(KeyValue::new(AWS_LAMBDA_INVOKED_ARN, arn.to_owned()));
    attributes.push(KeyValue::new(
        CLOUD_RESOURCE_ID,
        function_arn(arn).to_owned(),
    ));
    if let Some(account) = arn.split(':').nth(4).filter(|a| !a.is_empty()) {
        attributes.push(KeyValue::new(CLOUD_ACCOUNT_ID, account.to_owned()));
    }
}

/// Starts the span as the hook left it, under `parent`.
fn start_span(
    tracer: &SdkTracer,
    start: SpanStart<'_>,
    start_wall: SystemTime,
    links: Vec<Link>,
    parent: &Context,
) -> Span {
    let SpanStart {
        kind,
        name,
        attributes,
        ..
    } = start;
    let builder = SpanBuilder::from_name(name)
        .with_kind(kind)
        .with_start_time(start_wall)
        .with_attributes(attributes)
        .with_links(links);
    tracer.build_with_context(builder, parent)
}

/// The SDK's default limit of links per span; a batch of 10 000 SQS messages must not build
/// 10 000 links only for the SDK to drop them.
const MAX_LINKS: usize = 128;

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The function's ARN without the alias or version the caller used.
fn function_arn(invoked: &str) -> &str {
    match invoked.match_indices(':').nth(6) {
        Some((i, _)) => &invoked[..i],
        None => invoked,
    }
}

/// Deadlines before this (September 2001, in ms since the epoch) are not timestamps: cargo
/// lambda's emulator sends the function timeout (`600000`) in the deadline header.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_000_000_000_000;

/// `Lambda-Runtime-Deadline-Ms` (milliseconds since the epoch) on the monotonic clock; `None`
/// when the header holds no timestamp.
fn deadline(start: Instant, start_wall: SystemTime, deadline_ms: u64) -> Option<Instant> {
    if deadline_ms < PLAUSIBLE_DEADLINE_MS {
        return None;
    }
    let at = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    Some(match at.duration_since(start_wall) {
        Ok(left) => start + left,
        Err(_) => start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arn_drops_the_qualifier() {
        let base = "arn:aws:lambda:us-east-1:123456789012:function:dice";
        assert_eq!(function_arn(base), base);
        assert_eq!(function_arn(&format!("{base}:live")), base);
        assert_eq!(function_arn("not-an-arn"), "not-an-arn");
    }

    #[test]
    fn deadline_maps_to_the_monotonic_clock() {
        let start = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(deadline(start, wall, 0), None);
        assert_eq!(
            deadline(start, wall, 600_000),
            None,
            "cargo lambda's relative timeout"
        );
        let later = deadline(start, wall, 1_800_000_000_250);
        assert_eq!(later, Some(start + Duration::from_millis(250)));
        assert_eq!(
            deadline(start, wall, 1_799_999_999_000),
            Some(start),
            "already passed"
        );
    }
}
