//! A loopback OTLP/HTTP receiver for traces, metrics and logs that decodes
//! every export, records it on the [`Timeline`], then answers according to a
//! [`Behaviour`]. It records every other request too: the lambda-otel
//! extension's mark (`POST /lambda-otel/v1/invocations/{id}/flushed`) on the
//! timeline as [`TimelineEvent::FlushedMarked`], anything else in
//! [`OtlpReceiver::unknown_requests`]; it answers a mark like the extension
//! only under [`Behaviour::Extension`] and [`Behaviour::ExtensionHangsOnMarks`].
//!
//! Spans are flattened here; metrics and logs in the child module `signals`
//! (`signals.rs` beside this file), whose types are re-exported from here.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde::de::DeserializeOwned;

use super::timeline::{Timeline, TimelineEvent};
use super::{Reply, reply, serve};

/// Inherent `attr_str`, `attr_int` and `attr_bool` for types with a public
/// `attributes: HashMap<String, Value>` field (spans, log records, points).
macro_rules! attribute_getters {
    ($($ty:ty),+ $(,)?) => {$(
        impl $ty {
            /// A string attribute.
            pub fn attr_str(&self, key: &str) -> Option<&str> {
                self.attributes.get(key).and_then(Value::as_str)
            }

            /// An integer attribute.
            pub fn attr_int(&self, key: &str) -> Option<i64> {
                self.attributes.get(key).and_then(Value::as_int)
            }

            /// A boolean attribute.
            pub fn attr_bool(&self, key: &str) -> Option<bool> {
                self.attributes.get(key).and_then(Value::as_bool)
            }
        }
    )+};
}

// Declared after the macro so that it can use it. `#[path]` because
// `common/mod.rs` belongs to the harness as a whole: `signals.rs` lives beside
// this file rather than in an `otlp/` folder.
#[path = "signals.rs"]
mod signals;

// Each test file uses a different subset.
#[allow(unused_imports)]
pub use signals::{
    HistogramPoint, MetricData, Number, NumberPoint, ReceivedLog, ReceivedMetric, Temporality,
};

/// How the receiver answers an export, after recording it. This simulates the remote
/// collector; only `UntilResponse`, which holds the answer until the function has posted its
/// response, also orders the test's events.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 200 with the empty export response of the request's signal.
    Ok,
    /// This HTTP status with an empty body.
    Status(u16),
    /// Reads and records the request, then never answers (the connection
    /// stays open): a collector that hangs.
    NeverAnswer,
    /// Answers like [`Behaviour::Ok`] after this long: a slow collector.
    Delay(Duration),
    /// Holds each span export until another one is pending too, then answers both like
    /// [`Behaviour::Ok`] (other signals are answered at once): two flushes get their spans out
    /// only if their exports are in flight side by side.
    SpansInPairs,
    /// Holds every export until the function has posted a response (any invocation's), then
    /// answers like [`Behaviour::Ok`]: what a buffer exports in the background while the
    /// handler runs keeps its place in the buffer's cap until the handler is done.
    UntilResponse,
    /// Answers like the lambda-otel extension: every export like [`Behaviour::Ok`] with the
    /// header `lambda-otel-extension: 1`, every mark with 204 at once.
    Extension,
    /// Answers exports like [`Behaviour::Extension`], and reads and records every mark but
    /// never answers it (the connection stays open): an extension that hangs on the mark.
    ExtensionHangsOnMarks,
    /// 200 with an OTLP partial success (protobuf): this many items rejected, with this
    /// message.
    PartialSuccess(i64, &'static str),
}

/// The header of the extension's answers (its value, the protocol version, is `1`).
const EXTENSION_HEADER: &str = "lambda-otel-extension";
/// `{MARK_PREFIX}{percent-encoded request id}{MARK_SUFFIX}`: an invocation's flush is over.
const MARK_PREFIX: &str = "/lambda-otel/v1/invocations/";
const MARK_SUFFIX: &str = "/flushed";

/// An attribute value, reduced to what tests assert on.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `stringValue`.
    Str(String),
    /// `intValue`.
    Int(i64),
    /// `boolValue`.
    Bool(bool),
    /// `doubleValue`.
    Double(f64),
    /// An array of strings.
    StrArray(Vec<String>),
    /// Other arrays, maps, bytes and empty values, as their debug text.
    Other(String),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn from_proto(value: Option<AnyValue>) -> Self {
        match value.and_then(|v| v.value) {
            Some(any_value::Value::StringValue(s)) => Self::Str(s),
            Some(any_value::Value::IntValue(i)) => Self::Int(i),
            Some(any_value::Value::BoolValue(b)) => Self::Bool(b),
            Some(any_value::Value::DoubleValue(d)) => Self::Double(d),
            Some(any_value::Value::ArrayValue(array))
                if array
                    .values
                    .iter()
                    .all(|v| matches!(v.value, Some(any_value::Value::StringValue(_)))) =>
            {
                Self::StrArray(
                    array
                        .values
                        .into_iter()
                        .filter_map(|v| match v.value {
                            Some(any_value::Value::StringValue(s)) => Some(s),
                            _ => None,
                        })
                        .collect(),
                )
            }
            other => Self::Other(format!("{other:?}")),
        }
    }
}

/// `Value::Str` from `&str`, and so on, for lookups such as
/// [`ReceivedMetric::sum_point`].
macro_rules! value_from {
    ($($ty:ty => $variant:ident),+) => {$(
        impl From<$ty> for Value {
            fn from(value: $ty) -> Self {
                Self::$variant(value.into())
            }
        }
    )+};
}

value_from!(&str => Str, i64 => Int, bool => Bool, f64 => Double);

/// One received span, flattened together with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// Span name.
    pub name: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// Hex, empty for a root span.
    pub parent_span_id: String,
    /// OTLP `SpanKind` number (2 = server, 3 = client, ...).
    pub kind: i32,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds.
    pub end_ns: u64,
    /// Span attributes.
    pub attributes: HashMap<String, Value>,
    /// OTLP `StatusCode` number (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status description.
    pub status_message: String,
    /// Span events: name and attributes, in order.
    pub events: Vec<(String, HashMap<String, Value>)>,
    /// Attributes of the span's resource.
    pub resource: HashMap<String, Value>,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Span links: trace id and span id, in hex, in order.
    pub links: Vec<(String, String)>,
}

attribute_getters!(ReceivedSpan);

/// Flattens an export request into one [`ReceivedSpan`] per span.
fn flatten_spans(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_attributes(resource_spans.resource);
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_name(scope_spans.scope);
            for span in scope_spans.spans {
                let status = span.status.unwrap_or_default();
                spans.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: attributes(span.attributes),
                    status_code: status.code,
                    status_message: status.message,
                    events: span
                        .events
                        .into_iter()
                        .map(|e| (e.name, attributes(e.attributes)))
                        .collect(),
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    links: span
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                });
            }
        }
    }
    spans
}

fn attributes(pairs: Vec<KeyValue>) -> HashMap<String, Value> {
    pairs
        .into_iter()
        .map(|kv| (kv.key, Value::from_proto(kv.value)))
        .collect()
}

/// The attributes of a resource; empty without one.
fn resource_attributes(resource: Option<Resource>) -> HashMap<String, Value> {
    attributes(resource.map(|r| r.attributes).unwrap_or_default())
}

/// The name of an instrumentation scope; empty without one.
fn scope_name(scope: Option<InstrumentationScope>) -> String {
    scope.map(|s| s.name).unwrap_or_default()
}

/// Lowercase hex; empty for no bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The OTLP/HTTP paths the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn from_path(path: &str) -> Option<Self> {
        match path {
            "/v1/traces" => Some(Self::Traces),
            "/v1/metrics" => Some(Self::Metrics),
            "/v1/logs" => Some(Self::Logs),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ReceivedMetric>,
    logs: Vec<ReceivedLog>,
    /// Requests per [`Signal`], decodable or not.
    requests: [usize; 3],
    /// Requests that are neither an export nor a mark: `METHOD path`.
    unknown: Vec<String>,
}

impl Received {
    /// Keeps what an export event carries.
    fn keep(&mut self, event: &TimelineEvent) {
        self.spans.extend_from_slice(event.exported_spans());
        self.metrics.extend_from_slice(event.exported_metrics());
        self.logs.extend_from_slice(event.exported_logs());
    }
}

struct State {
    timeline: Timeline,
    behaviour: Behaviour,
    /// Where span exports wait for each other under [`Behaviour::SpansInPairs`].
    pairs: tokio::sync::Barrier,
    received: Mutex<Received>,
}

impl State {
    fn received(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle on a running loopback OTLP/HTTP receiver.
pub struct OtlpReceiver {
    addr: SocketAddr,
    state: Arc<State>,
}

impl OtlpReceiver {
    /// Starts the receiver on its own thread.
    pub fn start(timeline: Timeline, behaviour: Behaviour) -> Self {
        let state = Arc::new(State {
            timeline,
            behaviour,
            pairs: tokio::sync::Barrier::new(2),
            received: Mutex::default(),
        });
        let shared = Arc::clone(&state);
        let addr = serve("otlp-receiver", move |req| handle(Arc::clone(&shared), req));
        Self { addr, state }
    }

    /// Base endpoint (`http://127.0.0.1:PORT`); exporters post to
    /// `/v1/traces`, `/v1/metrics` and `/v1/logs` below it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span decoded so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state.received().spans.clone()
    }

    /// Every metric decoded so far, in arrival order (one per metric per
    /// export: a cumulative metric appears again in every export).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.state.received().metrics.clone()
    }

    /// Every log record decoded so far, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.state.received().logs.clone()
    }

    /// How many `POST /v1/traces` requests arrived, decodable or not.
    pub fn requests(&self) -> usize {
        self.state.received().requests[Signal::Traces as usize]
    }

    /// How many `POST /v1/metrics` requests arrived, decodable or not.
    pub fn metric_requests(&self) -> usize {
        self.state.received().requests[Signal::Metrics as usize]
    }

    /// How many `POST /v1/logs` requests arrived, decodable or not.
    pub fn log_requests(&self) -> usize {
        self.state.received().requests[Signal::Logs as usize]
    }

    /// Every request that was neither an export nor a mark, as `METHOD path`, in arrival
    /// order (each answered 404).
    pub fn unknown_requests(&self) -> Vec<String> {
        self.state.received().unknown.clone()
    }

    /// An `http://127.0.0.1:PORT` where nothing listens, so connecting is
    /// refused. The port was free a moment ago; another process could take
    /// it, but ephemeral ports are not reused that quickly.
    pub fn refused_endpoint() -> String {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("bind an ephemeral port to learn a free one");
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        drop(listener);
        format!("http://{addr}")
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let signal = match Signal::from_path(req.uri().path()) {
        Some(signal) if req.method() == Method::POST => signal,
        _ => return other(&state, req).await,
    };
    state.received().requests[signal as usize] += 1;
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = content_type.starts_with("application/json");
    let decoded = match req.into_body().collect().await {
        Ok(body) => decode_export(signal, &content_type, &body.to_bytes()),
        Err(e) => Err(format!("unreadable body: {e}")),
    };
    let event = match decoded {
        Ok(event) => event,
        Err(why) => {
            // Printed because the exporter only sees a 400 and a test would
            // otherwise just time out waiting for the export.
            eprintln!("otlp-receiver: rejected {signal:?} export: {why}");
            return reply(400, None, why);
        }
    };
    state.received().keep(&event);
    state.timeline.record(event);
    match state.behaviour {
        Behaviour::Ok => success(signal, json),
        Behaviour::Extension | Behaviour::ExtensionHangsOnMarks => {
            let mut response = success(signal, json);
            let value = "1".parse().expect("a valid header value");
            response.headers_mut().insert(EXTENSION_HEADER, value);
            response
        }
        Behaviour::Status(code) => reply(code, None, ""),
        Behaviour::PartialSuccess(rejected, message) => partial_success(signal, rejected, message),
        Behaviour::NeverAnswer => std::future::pending().await,
        Behaviour::Delay(delay) => {
            tokio::time::sleep(delay).await;
            success(signal, json)
        }
        Behaviour::SpansInPairs => {
            if signal == Signal::Traces {
                state.pairs.wait().await;
            }
            success(signal, json)
        }
        Behaviour::UntilResponse => {
            let timeline = state.timeline.clone();
            tokio::task::spawn_blocking(move || {
                timeline.wait_for(
                    |events| {
                        events
                            .iter()
                            .any(|e| matches!(e, TimelineEvent::ResponsePosted { .. }))
                    },
                    "a response",
                )
            })
            .await
            .expect("the wait");
            success(signal, json)
        }
    }
}

/// A request that is no export: recorded, then answered as the extension would (a mark) or
/// with 404.
async fn other(state: &State, req: Request<Incoming>) -> Reply {
    let path = req.uri().path();
    let mark = path
        .strip_prefix(MARK_PREFIX)
        .and_then(|rest| rest.strip_suffix(MARK_SUFFIX))
        .filter(|_| req.method() == Method::POST);
    let Some(encoded) = mark else {
        let request = format!("{} {}", req.method(), req.uri());
        eprintln!("otlp-receiver: unexpected {request}, answering 404");
        state.received().unknown.push(request);
        return reply(404, None, "");
    };
    let request_id = percent_decode(encoded);
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    state
        .timeline
        .record(TimelineEvent::FlushedMarked { request_id });
    match state.behaviour {
        Behaviour::ExtensionHangsOnMarks => std::future::pending().await,
        // The protocol's mark has no body.
        Behaviour::Extension if body.is_ok_and(|b| b.is_empty()) => reply(204, None, ""),
        Behaviour::Extension => reply(400, None, "a mark has no body"),
        _ => reply(404, None, ""),
    }
}

/// `%XX` decoded, as the extension decodes a mark's request id; malformed escapes are kept.
fn percent_decode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = (byte == b'%')
            .then(|| tail.get(..2))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                rest = &tail[2..];
            }
            None => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes and flattens one export into the timeline event that records it.
fn decode_export(signal: Signal, content_type: &str, body: &[u8]) -> Result<TimelineEvent, String> {
    Ok(match signal {
        Signal::Traces => TimelineEvent::SpansExported {
            spans: flatten_spans(decode(content_type, body)?),
        },
        Signal::Metrics => TimelineEvent::MetricsExported {
            metrics: signals::flatten_metrics(decode(content_type, body)?)?,
        },
        Signal::Logs => TimelineEvent::LogsExported {
            logs: signals::flatten_logs(decode(content_type, body)?),
        },
    })
}

fn decode<T>(content_type: &str, body: &[u8]) -> Result<T, String>
where
    T: Message + Default + DeserializeOwned,
{
    if content_type.starts_with("application/x-protobuf") {
        T::decode(body).map_err(|e| format!("bad protobuf: {e}"))
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))
    } else {
        Err(format!("unsupported content-type {content_type:?}"))
    }
}

/// The signal's empty export response, in the request's encoding: the
/// exporter parses the body with the protocol it sent.
fn partial_success(signal: Signal, rejected: i64, message: &str) -> Reply {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    let error_message = message.to_owned();
    let body = match signal {
        Signal::Traces => ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message,
            }),
        }
        .encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message,
            }),
        }
        .encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message,
            }),
        }
        .encode_to_vec(),
    };
    reply(200, Some("application/x-protobuf"), body)
}

fn success(signal: Signal, json: bool) -> Reply {
    if json {
        return reply(200, Some("application/json"), "{}");
    }
    let body = match signal {
        Signal::Traces => ExportTraceServiceResponse::default().encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceResponse::default().encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse::default().encode_to_vec(),
    };
    reply(200, Some("application/x-protobuf"), body)
}
