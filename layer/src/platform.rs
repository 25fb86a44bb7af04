//! What only the platform knows, as spans and metrics beside the function's own: the init
//! phase, invocations that ended without the function's telemetry (timeout, crash, out of
//! memory), and each invocation's billed duration and memory.
//!
//! The Telemetry API's records become OTLP/JSON export requests (every OTLP/HTTP backend takes
//! JSON, X-Ray's endpoint included), buffered like the function's own exports and forwarded
//! with them. They are placed in the invocation's trace: `platform.start` carries the X-Ray
//! header Lambda gave the invocation, whose `Root` is the trace and whose `Parent` is the
//! parent of lambda-otel's invocation span, so the extension's spans are its siblings.
//!
//! - **init**: `platform.initStart` to `platform.initRuntimeDone`, placed in the first
//!   invocation's trace before the invocation span (its own trace when init failed or there is
//!   no X-Ray header), with the init type and phase and `lambda_otel.init.duration_ns`.
//! - **failed invocation**: a `platform.runtimeDone` with status `timeout`, `failure` or
//!   `error` for which the function sent no end-of-flush mark (so no invocation span): a span
//!   named like lambda-otel's, status Error, `error.type` the platform's status.
//! - **metrics** from `platform.report`: `aws.lambda.billed_duration` and `faas.mem_usage`
//!   histograms, `faas.init_duration` (the platform's, on the cold start), `faas.timeouts`,
//!   and `faas.errors` by `error.type` for the failed invocations above (the function counts
//!   its own errors). They are aggregated in memory and exported as one delta point per
//!   series when the forwarding asks ([`Platform::take_metrics`]), not once per report.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lambda_extension::{
    InitPhase, InitType, LambdaTelemetry, LambdaTelemetryRecord, Status, TraceContext,
};
use serde_json::{Value, json};

use crate::config::Signal;
use crate::state::Batch;

/// The scope of everything the extension makes.
const SCOPE: &str = "lambda-otel-extension";
/// How many invocations' `platform.start` are remembered until their `runtimeDone`.
const REMEMBERED: usize = 64;
/// `faas.mem_usage` buckets, in bytes: Lambda's memory sizes from 128 MB to 10 GB.
const MEMORY_BOUNDARIES_MB: [f64; 8] =
    [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 10240.0];
/// Duration buckets in seconds, as lambda-otel's `faas.invoke_duration`.
const DURATION_BOUNDARIES: [f64; 20] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    30.0, 60.0, 300.0, 900.0,
];
/// OTLP's `SPAN_KIND_INTERNAL`, `SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, delta temporality.
const KIND_INTERNAL: u8 = 1;
const KIND_SERVER: u8 = 2;
const STATUS_ERROR: u8 = 2;
const DELTA: u8 = 1;

/// The parts of the environment the resource is made of (the function's, which it shares).
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    pub(crate) function_name: String,
    pub(crate) service_name: Option<String>,
    pub(crate) function_version: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) log_stream: Option<String>,
    pub(crate) memory_mb: Option<u64>,
}

impl Environment {
    pub(crate) fn from_env() -> Self {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "function".into()),
            service_name: get("OTEL_SERVICE_NAME"),
            function_version: get("AWS_LAMBDA_FUNCTION_VERSION"),
            region: get("AWS_REGION"),
            log_stream: get("AWS_LAMBDA_LOG_STREAM_NAME"),
            memory_mb: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse().ok()),
        }
    }
}

/// The init phase as far as its records have told.
#[derive(Debug, Clone)]
struct Init {
    start: DateTime<Utc>,
    init_type: &'static str,
    phase: &'static str,
    end: Option<DateTime<Utc>>,
    failed: Option<String>,
    done: bool,
}

/// The state kept between deliveries.
#[derive(Debug)]
pub(crate) struct Platform {
    env: Environment,
    resource: Value,
    traces: bool,
    metrics: bool,
    init: Option<Init>,
    /// `platform.start` of recent invocations: request id, time, X-Ray header.
    starts: VecDeque<(String, DateTime<Utc>, Option<String>)>,
    /// The metrics since the last [`Platform::take_metrics`].
    window: Window,
}

/// Spans made from one delivery.
#[derive(Debug, Default)]
struct Made {
    spans: Vec<Value>,
}

/// One histogram's delta over a window.
#[derive(Debug, Clone)]
struct Hist {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Hist {
    fn new(bounds: &[f64]) -> Self {
        Self {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn record(&mut self, value: f64) {
        // A bucket holds the values up to and including its upper bound, as OTLP defines.
        let bucket = self.bounds.iter().take_while(|b| value > **b).count();
        self.counts[bucket] += 1;
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// The platform's metrics, aggregated between two forwards: one data point per series and
/// window, not one export per invocation (each report would otherwise cost the extension an
/// OTLP request of its own).
#[derive(Debug, Clone)]
struct Window {
    start: DateTime<Utc>,
    billed: Hist,
    memory: Hist,
    init: Hist,
    timeouts: u64,
    /// `faas.errors` by `error.type`.
    errors: Vec<(&'static str, u64)>,
}

impl Window {
    fn new(start: DateTime<Utc>) -> Self {
        let bytes: Vec<f64> = MEMORY_BOUNDARIES_MB
            .iter()
            .map(|mb| mb * 1024.0 * 1024.0)
            .collect();
        Self {
            start,
            billed: Hist::new(&DURATION_BOUNDARIES),
            memory: Hist::new(&bytes),
            init: Hist::new(&DURATION_BOUNDARIES),
            timeouts: 0,
            errors: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.billed.count == 0
            && self.init.count == 0
            && self.timeouts == 0
            && self.errors.is_empty()
    }

    fn error(&mut self, kind: &'static str) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((kind, 1)),
        }
    }

    /// The window's metrics, ending at `end`.
    fn metrics(&self, end: DateTime<Utc>) -> Vec<Value> {
        let (start, end) = (nanos(self.start).to_string(), nanos(end).to_string());
        let mut metrics = Vec::new();
        let mut histogram = |name: &str, unit: &str, description: &str, h: &Hist| {
            if h.count > 0 {
                metrics.push(histogram(name, unit, description, h, &start, &end));
            }
        };
        histogram(
            "aws.lambda.billed_duration",
            "s",
            "Billed duration of the invocations, as Lambda reports it",
            &self.billed,
        );
        histogram(
            "faas.mem_usage",
            "By",
            "Maximum memory used by each invocation, as Lambda reports it",
            &self.memory,
        );
        histogram(
            "faas.init_duration",
            "s",
            "The init phase of a cold start, as Lambda reports it",
            &self.init,
        );
        if self.timeouts > 0 {
            metrics.push(sum(
                "faas.timeouts",
                "{timeout}",
                "Invocations that ran past their timeout",
                &[(Vec::new(), self.timeouts)],
                &start,
                &end,
            ));
        }
        if !self.errors.is_empty() {
            let points: Vec<(Vec<Value>, u64)> = self
                .errors
                .iter()
                .map(|(kind, n)| (vec![attr_str("error.type", kind)], *n))
                .collect();
            metrics.push(sum(
                "faas.errors",
                "{error}",
                "Invocations that ended in a timeout, a crash or an error without the \
                 function's own telemetry",
                &points,
                &start,
                &end,
            ));
        }
        metrics
    }
}

impl Platform {
    /// `traces` and `metrics`: whether those signals go anywhere (nothing is made otherwise).
    pub(crate) fn new(env: Environment, traces: bool, metrics: bool) -> Self {
        Self {
            resource: resource(&env),
            env,
            traces,
            metrics,
            init: None,
            starts: VecDeque::new(),
            window: Window::new(Utc::now()),
        }
    }

    /// The metrics aggregated since the last call, as one export request, if there are any
    /// (and metrics go anywhere); the next window starts now.
    pub(crate) fn take_metrics(&mut self) -> Option<Batch> {
        let now = Utc::now();
        let window = std::mem::replace(&mut self.window, Window::new(now));
        if !self.metrics || window.is_empty() {
            return None;
        }
        Some(self.batch(
            Signal::Metrics,
            json!({ "resourceMetrics": [{
                "resource": self.resource,
                "scopeMetrics": [{ "scope": { "name": SCOPE }, "metrics": window.metrics(now) }],
            }]}),
        ))
    }

    /// Turns one delivery's records into span export requests, and adds to the metrics'
    /// window (see [`Platform::take_metrics`]); `marked` tells whether the function sent its
    /// end-of-flush mark for a request id (then its own span exists).
    pub(crate) fn records(
        &mut self,
        records: &[LambdaTelemetry<Value>],
        marked: impl Fn(&str) -> bool,
    ) -> Vec<Batch> {
        let mut made = Made::default();
        for record in records {
            self.record(record, &marked, &mut made);
        }
        let mut batches = Vec::new();
        if self.traces && !made.spans.is_empty() {
            batches.push(self.batch(
                Signal::Traces,
                json!({ "resourceSpans": [{
                    "resource": self.resource,
                    "scopeSpans": [{ "scope": { "name": SCOPE }, "spans": made.spans }],
                }]}),
            ));
        }
        batches
    }

    fn batch(&self, signal: Signal, body: Value) -> Batch {
        Batch {
            signal,
            json: true,
            gzip: false,
            body: Bytes::from(body.to_string()),
            received: Instant::now(),
        }
    }

    fn record(
        &mut self,
        record: &LambdaTelemetry<Value>,
        marked: &impl Fn(&str) -> bool,
        made: &mut Made,
    ) {
        match &record.record {
            LambdaTelemetryRecord::PlatformInitStart {
                initialization_type,
                phase,
                ..
            } => {
                self.init = Some(Init {
                    start: record.time,
                    init_type: init_type(initialization_type),
                    phase: init_phase(phase),
                    end: None,
                    failed: None,
                    done: false,
                });
            }
            LambdaTelemetryRecord::PlatformInitRuntimeDone {
                status, error_type, ..
            } => {
                if let Some(init) = &mut self.init {
                    init.end = Some(record.time);
                    if *status != Status::Success {
                        init.failed = Some(
                            error_type
                                .clone()
                                .unwrap_or_else(|| status_name(status).into()),
                        );
                        // No invocation will carry it: it goes out now, in a trace of its own.
                        self.emit_init(None, made);
                    }
                }
            }
            LambdaTelemetryRecord::PlatformStart {
                request_id,
                tracing,
                ..
            } => {
                let header = tracing.as_ref().map(|t| t.value.clone());
                self.emit_init(header.as_deref(), made);
                if self.starts.len() == REMEMBERED {
                    self.starts.pop_front();
                }
                self.starts
                    .push_back((request_id.clone(), record.time, header));
            }
            LambdaTelemetryRecord::PlatformRuntimeDone {
                request_id,
                status,
                error_type,
                metrics,
                tracing,
                ..
            } => {
                if *status == Status::Success || marked(request_id) {
                    return;
                }
                let start = self
                    .starts
                    .iter()
                    .find(|(id, ..)| id == request_id)
                    .cloned();
                let header = start
                    .as_ref()
                    .and_then(|(_, _, h)| h.clone())
                    .or_else(|| tracing.as_ref().map(|t: &TraceContext| t.value.clone()));
                let end = record.time;
                let begin = match (&start, metrics) {
                    (Some((_, time, _)), _) => *time,
                    (None, Some(m)) => {
                        end - chrono::Duration::microseconds((m.duration_ms * 1000.0) as i64)
                    }
                    (None, None) => end,
                };
                let kind = status_name(status);
                made.spans.extend(self.failed_invocation(
                    request_id,
                    kind,
                    error_type.as_deref(),
                    header.as_deref(),
                    begin,
                    end,
                ));
                self.window.error(kind);
            }
            LambdaTelemetryRecord::PlatformReport {
                status, metrics, ..
            } => {
                let window = &mut self.window;
                window
                    .billed
                    .record(metrics.billed_duration_ms as f64 / 1000.0);
                window
                    .memory
                    .record(metrics.max_memory_used_mb as f64 * 1024.0 * 1024.0);
                if let Some(init_ms) = metrics.init_duration_ms {
                    window.init.record(init_ms / 1000.0);
                }
                if *status == Status::Timeout {
                    window.timeouts += 1;
                }
            }
            _ => {}
        }
    }

    /// The init span, once: in the trace of `header` (the first invocation's X-Ray header).
    fn emit_init(&mut self, header: Option<&str>, made: &mut Made) {
        let Some(init) = &mut self.init else { return };
        if init.done {
            return;
        }
        init.done = true;
        let Some(end) = init.end else { return };
        let context = header.and_then(XrayContext::parse);
        if context.as_ref().is_some_and(|c| !c.sampled) {
            return;
        }
        let mut attributes = vec![
            attr_str("aws.lambda.init.type", init.init_type),
            attr_str("aws.lambda.init.phase", init.phase),
            attr_int(
                "lambda_otel.init.duration_ns",
                nanos(end) - nanos(init.start),
            ),
            attr_str("faas.name", &self.env.function_name),
        ];
        let status = init.failed.as_ref().map(|error| {
            attributes.push(attr_str("error.type", error));
            json!({ "code": STATUS_ERROR, "message": format!("the init phase failed: {error}") })
        });
        made.spans.push(span(
            "init",
            KIND_INTERNAL,
            context.as_ref(),
            init.start,
            end,
            attributes,
            status,
        ));
    }

    fn failed_invocation(
        &self,
        request_id: &str,
        kind: &str,
        error_type: Option<&str>,
        header: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<Value> {
        let context = header.and_then(XrayContext::parse);
        if context.as_ref().is_some_and(|c| !c.sampled) {
            return None;
        }
        let message = match error_type {
            Some(error_type) => format!("the invocation ended with status {kind} ({error_type})"),
            None => format!("the invocation ended with status {kind}"),
        };
        let attributes = vec![
            attr_str("faas.invocation_id", request_id),
            attr_str("error.type", kind),
            attr_str("faas.name", &self.env.function_name),
            attr_int(
                "lambda_otel.invocation.duration_ns",
                nanos(end) - nanos(start),
            ),
        ];
        Some(span(
            &self.env.function_name,
            KIND_SERVER,
            context.as_ref(),
            start,
            end,
            attributes,
            Some(json!({ "code": STATUS_ERROR, "message": message })),
        ))
    }
}

/// The trace and parent of an X-Ray header (`Root=1-5759e988-bd86...;Parent=53995c3f42cd8ad8;Sampled=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct XrayContext {
    trace_id: String,
    parent: Option<String>,
    sampled: bool,
}

impl XrayContext {
    fn parse(header: &str) -> Option<Self> {
        let mut trace_id = None;
        let mut parent = None;
        let mut sampled = true;
        for part in header.split(';') {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            match key {
                "Root" => {
                    let mut pieces = value.split('-');
                    let (Some("1"), Some(time), Some(random), None) =
                        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
                    else {
                        return None;
                    };
                    let id = format!("{time}{random}").to_ascii_lowercase();
                    if id.len() != 32 || !is_hex(&id) {
                        return None;
                    }
                    trace_id = Some(id);
                }
                "Parent" if value.len() == 16 && is_hex(value) => {
                    parent = Some(value.to_ascii_lowercase());
                }
                "Sampled" => sampled = value != "0",
                _ => {}
            }
        }
        Some(Self {
            trace_id: trace_id?,
            parent,
            sampled,
        })
    }
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn span(
    name: &str,
    kind: u8,
    context: Option<&XrayContext>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attributes: Vec<Value>,
    status: Option<Value>,
) -> Value {
    let trace_id = context.map_or_else(
        || format!("{:016x}{:016x}", random(), random()),
        |c| c.trace_id.clone(),
    );
    let mut span = json!({
        "traceId": trace_id,
        "spanId": format!("{:016x}", random()),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": nanos(start).to_string(),
        "endTimeUnixNano": nanos(end).to_string(),
        "attributes": attributes,
    });
    if let Some(parent) = context.and_then(|c| c.parent.as_ref()) {
        span["parentSpanId"] = json!(parent);
    }
    if let Some(status) = status {
        span["status"] = status;
    }
    span
}

fn histogram(name: &str, unit: &str, description: &str, h: &Hist, start: &str, end: &str) -> Value {
    let counts: Vec<String> = h.counts.iter().map(ToString::to_string).collect();
    json!({
        "name": name,
        "unit": unit,
        "description": description,
        "histogram": {
            "aggregationTemporality": DELTA,
            "dataPoints": [{
                "startTimeUnixNano": start,
                "timeUnixNano": end,
                "count": h.count.to_string(),
                "sum": h.sum,
                "min": h.min,
                "max": h.max,
                "bucketCounts": counts,
                "explicitBounds": h.bounds,
            }],
        },
    })
}

/// A monotonic delta sum: one point per attribute set.
fn sum(
    name: &str,
    unit: &str,
    description: &str,
    points: &[(Vec<Value>, u64)],
    start: &str,
    end: &str,
) -> Value {
    let points: Vec<Value> = points
        .iter()
        .map(|(attributes, n)| {
            json!({
                "startTimeUnixNano": start,
                "timeUnixNano": end,
                "asInt": n.to_string(),
                "attributes": attributes,
            })
        })
        .collect();
    json!({
        "name": name,
        "unit": unit,
        "description": description,
        "sum": { "aggregationTemporality": DELTA, "isMonotonic": true, "dataPoints": points },
    })
}

fn resource(env: &Environment) -> Value {
    let mut attributes = vec![
        attr_str(
            "service.name",
            env.service_name.as_deref().unwrap_or(&env.function_name),
        ),
        attr_str("cloud.provider", "aws"),
        attr_str("cloud.platform", "aws_lambda"),
        attr_str("faas.name", &env.function_name),
    ];
    if let Some(region) = &env.region {
        attributes.push(attr_str("cloud.region", region));
    }
    if let Some(version) = &env.function_version {
        attributes.push(attr_str("faas.version", version));
    }
    if let Some(stream) = &env.log_stream {
        attributes.push(attr_str("faas.instance", stream));
    }
    if let Some(mb) = env.memory_mb {
        attributes.push(attr_int(
            "faas.max_memory",
            i64::try_from(mb * 1024 * 1024).unwrap_or(i64::MAX),
        ));
    }
    json!({ "attributes": attributes })
}

fn attr_str(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn attr_int(key: &str, value: i64) -> Value {
    json!({ "key": key, "value": { "intValue": value.to_string() } })
}

fn nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or_default()
}

fn init_type(init_type: &InitType) -> &'static str {
    match init_type {
        InitType::OnDemand => "on-demand",
        InitType::ProvisionedConcurrency => "provisioned-concurrency",
        InitType::SnapStart => "snap-start",
    }
}

fn init_phase(phase: &InitPhase) -> &'static str {
    match phase {
        InitPhase::Init => "init",
        InitPhase::Invoke => "invoke",
    }
}

pub(crate) fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Error => "error",
        Status::Failure => "failure",
        Status::Timeout => "timeout",
    }
}

/// A random 64-bit id, never zero (OTLP's invalid id): std's per-process random hasher keys
/// over a counter and the clock.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let id = hasher.finish();
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn records(json: Value) -> Vec<LambdaTelemetry<Value>> {
        crate::telemetry_api::records(json.to_string().as_bytes())
    }

    fn platform() -> Platform {
        let env = Environment {
            function_name: "dice-roller".into(),
            region: Some("eu-west-1".into()),
            memory_mb: Some(128),
            ..Environment::default()
        };
        Platform::new(env, true, true)
    }

    fn body(batch: &Batch) -> Value {
        serde_json::from_slice(&batch.body).expect("JSON")
    }

    fn spans(batches: &[Batch]) -> Vec<Value> {
        batches
            .iter()
            .filter(|b| b.signal == Signal::Traces)
            .flat_map(|b| {
                body(b)["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    fn metric_names(batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .filter(|b| b.signal == Signal::Metrics)
            .flat_map(|b| {
                body(b)["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    #[test]
    fn the_init_span_is_placed_in_the_first_invocations_trace() {
        let mut platform = platform();
        let batches = platform.records(
            &records(json!([
                {"time":"2026-11-29T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init"}},
                {"time":"2026-11-29T10:00:00.150Z","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","phase":"init","status":"success"}},
                {"time":"2026-11-29T10:00:00.160Z","type":"platform.start","record":{"requestId":"r-1","tracing":{"type":"X-Amzn-Trace-Id","value":XRAY}}},
            ])),
            |_| false,
        );
        let spans = spans(&batches);
        assert_eq!(spans.len(), 1);
        let init = &spans[0];
        assert_eq!(init["name"], "init");
        assert_eq!(init["traceId"], "5759e988bd862e3fe1be46a994272793");
        assert_eq!(init["parentSpanId"], "53995c3f42cd8ad8");
        assert_eq!(
            attr(init, "aws.lambda.init.type"),
            Some(&json!({"stringValue":"on-demand"}))
        );
        assert_eq!(
            attr(init, "lambda_otel.init.duration_ns"),
            Some(&json!({"intValue":"150000000"}))
        );
        let later = platform.records(
            &records(json!([{"time":"2026-11-29T10:00:01Z","type":"platform.start","record":{"requestId":"r-2"}}])),
            |_| false,
        );
        assert!(later.is_empty(), "one init span per environment");
    }

    #[test]
    fn a_timed_out_invocation_without_the_functions_span_gets_one() {
        let mut platform = platform();
        let delivery = records(json!([
            {"time":"2026-11-29T10:00:00.000Z","type":"platform.start","record":{"requestId":"r-1","tracing":{"type":"X-Amzn-Trace-Id","value":XRAY}}},
            {"time":"2026-11-29T10:00:03.000Z","type":"platform.runtimeDone","record":{"requestId":"r-1","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000.0,"producedBytes":0}}},
            {"time":"2026-11-29T10:00:03.010Z","type":"platform.report","record":{"requestId":"r-1","status":"timeout","metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":40}}},
        ]));
        let batches = platform.records(&delivery, |_| false);
        let spans = spans(&batches);
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span["name"], "dice-roller");
        assert_eq!(span["traceId"], "5759e988bd862e3fe1be46a994272793");
        assert_eq!(span["parentSpanId"], "53995c3f42cd8ad8");
        assert_eq!(span["status"]["code"], STATUS_ERROR);
        assert_eq!(
            attr(span, "error.type"),
            Some(&json!({"stringValue":"timeout"}))
        );
        assert_eq!(
            attr(span, "faas.invocation_id"),
            Some(&json!({"stringValue":"r-1"}))
        );
        assert_eq!(
            attr(span, "lambda_otel.invocation.duration_ns"),
            Some(&json!({"intValue":"3000000000"}))
        );
        assert!(
            metric_names(&batches).is_empty(),
            "metrics wait for take_metrics"
        );
        let metrics: Vec<Batch> = platform.take_metrics().into_iter().collect();
        assert_eq!(
            metric_names(&metrics),
            [
                "aws.lambda.billed_duration",
                "faas.mem_usage",
                "faas.timeouts",
                "faas.errors",
            ]
        );
        assert!(platform.take_metrics().is_none(), "a window is taken once");
    }

    #[test]
    fn reports_are_aggregated_into_one_point_per_window() {
        let mut platform = platform();
        for (i, (billed, memory)) in [(1u64, 40u64), (3, 60)].iter().enumerate() {
            let delivery = records(json!([
                {"time":"2026-11-29T10:00:00Z","type":"platform.report","record":{"requestId":format!("r-{i}"),"status":"success","metrics":{"durationMs":0.5,"billedDurationMs":billed,"memorySizeMB":128,"maxMemoryUsedMB":memory}}},
            ]));
            assert!(platform.records(&delivery, |_| true).is_empty());
        }
        let batch = platform.take_metrics().expect("two reports");
        let body = body(&batch);
        let metrics = &body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
        let billed = &metrics[0]["histogram"]["dataPoints"];
        assert_eq!(billed.as_array().map(Vec::len), Some(1));
        assert_eq!(billed[0]["count"], "2");
        assert_eq!(billed[0]["sum"], 0.004);
        assert_eq!(billed[0]["min"], 0.001);
        assert_eq!(billed[0]["max"], 0.003);
        assert_eq!(
            billed[0]["bucketCounts"],
            json!([
                "1", "0", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
                "0", "0", "0", "0", "0"
            ])
        );
        assert_eq!(
            metrics[1]["histogram"]["dataPoints"][0]["max"],
            60.0 * 1024.0 * 1024.0
        );
    }

    #[test]
    fn an_invocation_the_function_marked_is_not_duplicated() {
        let mut platform = platform();
        let delivery = records(json!([
            {"time":"2026-11-29T10:00:00Z","type":"platform.runtimeDone","record":{"requestId":"r-1","status":"error","errorType":"Handled"}},
        ]));
        assert!(spans(&platform.records(&delivery, |id| id == "r-1")).is_empty());
        assert_eq!(spans(&platform.records(&delivery, |_| false)).len(), 1);
    }

    #[test]
    fn histograms_put_a_value_in_the_bucket_bounded_above_by_it() {
        let mut h = Hist::new(&[0.001, 0.0025, 0.005]);
        for value in [0.003, 9.0, 0.0025] {
            h.record(value);
        }
        assert_eq!(h.counts, [0, 1, 1, 1]);
    }

    #[test]
    fn xray_headers_give_trace_parent_and_sampling() {
        let context = XrayContext::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .expect("valid");
        assert_eq!(context.trace_id, "5759e988bd862e3fe1be46a994272793");
        assert_eq!(context.parent, None);
        assert!(!context.sampled);
        assert_eq!(XrayContext::parse("Root=2-1-2"), None);
        assert_eq!(XrayContext::parse("Parent=53995c3f42cd8ad8"), None);
    }
}
