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

mod metrics;
mod otlp;
mod spans;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lambda_extension::{
    InitPhase, InitType, LambdaTelemetry, LambdaTelemetryRecord, Status, TraceContext,
};
use serde_json::{Value, json};

use crate::config::Signal;
use crate::state::Batch;

use self::metrics::Window;
use self::otlp::resource;

/// The scope of everything the extension makes.
const SCOPE: &str = "lambda-otel-extension";
/// How many invocations' `platform.start` are remembered until their `runtimeDone`.
const REMEMBERED: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::*;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    use super::otlp::STATUS_ERROR;

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
}
