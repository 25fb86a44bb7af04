//! A loopback OTLP/HTTP trace receiver that decodes every export, records it
//! on the [`Timeline`], then answers according to a [`Behaviour`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

use super::timeline::{Timeline, TimelineEvent};
use super::{Reply, reply, serve};

/// How the receiver answers an export, after recording it. This simulates
/// the remote collector; it is not test synchronisation.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 200 with an empty `ExportTraceServiceResponse`.
    Ok,
    /// This HTTP status with an empty body.
    Status(u16),
    /// Reads and records the request, then never answers (the connection
    /// stays open): a collector that hangs.
    NeverAnswer,
    /// Answers like [`Behaviour::Ok`] after this long: a slow collector.
    Delay(Duration),
}

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

impl ReceivedSpan {
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

/// Flattens an export request into one [`ReceivedSpan`] per span.
fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_spans.scope.map(|s| s.name).unwrap_or_default();
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    requests: usize,
}

struct State {
    timeline: Timeline,
    behaviour: Behaviour,
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
            received: Mutex::default(),
        });
        let shared = Arc::clone(&state);
        let addr = serve("otlp-receiver", move |req| handle(Arc::clone(&shared), req));
        Self { addr, state }
    }

    /// Base endpoint (`http://127.0.0.1:PORT`); exporters post to `/v1/traces`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span decoded so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state.received().spans.clone()
    }

    /// How many `POST /v1/traces` requests arrived, decodable or not.
    pub fn requests(&self) -> usize {
        self.state.received().requests
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
    if req.method() != Method::POST || req.uri().path() != "/v1/traces" {
        eprintln!(
            "otlp-receiver: unexpected {} {}, answering 404",
            req.method(),
            req.uri()
        );
        return reply(404, None, "");
    }
    state.received().requests += 1;
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = content_type.starts_with("application/json");
    let decoded = match req.into_body().collect().await {
        Ok(body) => decode(&content_type, &body.to_bytes()),
        Err(e) => Err(format!("unreadable body: {e}")),
    };
    let request = match decoded {
        Ok(request) => request,
        Err(why) => {
            // Printed because the exporter only sees a 400 and a test would
            // otherwise just time out waiting for spans.
            eprintln!("otlp-receiver: rejected export: {why}");
            return reply(400, None, why);
        }
    };
    let spans = flatten(request);
    state.received().spans.extend(spans.iter().cloned());
    state
        .timeline
        .record(TimelineEvent::SpansExported { spans });
    match state.behaviour {
        Behaviour::Ok => success(json),
        Behaviour::Status(code) => reply(code, None, ""),
        Behaviour::NeverAnswer => std::future::pending().await,
        Behaviour::Delay(delay) => {
            tokio::time::sleep(delay).await;
            success(json)
        }
    }
}

fn decode(content_type: &str, body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    if content_type.starts_with("application/x-protobuf") {
        ExportTraceServiceRequest::decode(body).map_err(|e| format!("bad protobuf: {e}"))
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))
    } else {
        Err(format!("unsupported content-type {content_type:?}"))
    }
}

/// An empty `ExportTraceServiceResponse`, in the request's encoding: the
/// exporter parses the body with the protocol it sent.
fn success(json: bool) -> Reply {
    if json {
        reply(200, Some("application/json"), "{}")
    } else {
        let body = ExportTraceServiceResponse::default().encode_to_vec();
        reply(200, Some("application/x-protobuf"), body)
    }
}
