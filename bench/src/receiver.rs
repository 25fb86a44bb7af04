//! The loopback OTLP/HTTP receiver: decodes `/v1/traces` (protobuf, or JSON as the extension
//! sends its own platform spans), counts the other signals' requests, and answers after a
//! configurable delay (a remote collector), or never (a hung collector: the connection stays
//! open, the request unanswered).

use crate::server::{Reply, Server, reply};
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The attribute that names the invocation a span belongs to, in every configuration.
const INVOCATION_ID: &str = "faas.invocation_id";
/// The dice roller's own span, the invocation span's child.
const ROLL_SPAN: &str = "roll";

/// What arrived for one trace.
#[derive(Debug, Default)]
struct Trace {
    roll: bool,
}

#[derive(Debug, Default)]
struct Received {
    /// Request id → trace id of the span that carries `faas.invocation_id`.
    invocations: HashMap<String, [u8; 16]>,
    traces: HashMap<[u8; 16], Trace>,
    spans: usize,
    trace_requests: usize,
    other_requests: usize,
    rejected: usize,
}

/// A running receiver.
pub struct Receiver {
    received: Arc<Mutex<Received>>,
    server: Server,
}

/// What one invocation left at the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrived {
    /// The span with `faas.invocation_id`.
    pub invocation: bool,
    /// The `roll` span of the same trace.
    pub roll: bool,
}

impl Arrived {
    /// Both expected spans are there.
    pub fn complete(self) -> bool {
        self.invocation && self.roll
    }

    /// How many of the two expected spans are there.
    pub fn count(self) -> usize {
        usize::from(self.invocation) + usize::from(self.roll)
    }
}

/// Totals for a run.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// Every span decoded, expected or not.
    pub spans: usize,
    /// `/v1/traces` requests.
    pub trace_requests: usize,
    /// `/v1/metrics` and `/v1/logs` requests.
    pub other_requests: usize,
    /// Requests that were not OTLP (protobuf, or JSON when so labelled).
    pub rejected: usize,
}

impl Receiver {
    /// Starts a receiver that answers every export after `delay`.
    pub async fn start(delay: Duration) -> io::Result<Self> {
        Self::answering(Some(delay)).await
    }

    /// Starts a receiver that reads and records every export, then never answers it.
    pub async fn hung() -> io::Result<Self> {
        Self::answering(None).await
    }

    async fn answering(delay: Option<Duration>) -> io::Result<Self> {
        let received = Arc::new(Mutex::new(Received::default()));
        let shared = Arc::clone(&received);
        let server = Server::start(move |req| handle(Arc::clone(&shared), delay, req)).await?;
        Ok(Self { received, server })
    }

    /// The base URL to put in `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// What has arrived so far for the invocation `request_id`.
    pub fn arrived(&self, request_id: &str) -> Arrived {
        let received = lock(&self.received);
        match received.invocations.get(request_id) {
            Some(trace) => Arrived {
                invocation: true,
                roll: received.traces.get(trace).is_some_and(|t| t.roll),
            },
            None => Arrived {
                invocation: false,
                roll: false,
            },
        }
    }

    /// The run's totals.
    pub fn totals(&self) -> Totals {
        let received = lock(&self.received);
        Totals {
            spans: received.spans,
            trace_requests: received.trace_requests,
            other_requests: received.other_requests,
            rejected: received.rejected,
        }
    }
}

fn lock(received: &Mutex<Received>) -> MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Answers after `delay`; never with `None`.
async fn handle(
    received: Arc<Mutex<Received>>,
    delay: Option<Duration>,
    req: Request<Incoming>,
) -> Reply {
    let path = req.uri().path().to_owned();
    let json = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(400, "", ""),
    };
    let accepted = match path.as_str() {
        "/v1/traces" => {
            let decoded = if json {
                serde_json::from_slice::<ExportTraceServiceRequest>(&body).ok()
            } else {
                ExportTraceServiceRequest::decode(body).ok()
            };
            let decoded = decoded.map(|request| record(&mut lock(&received), request));
            decoded.is_some()
        }
        "/v1/metrics" | "/v1/logs" => {
            lock(&received).other_requests += 1;
            true
        }
        _ => false,
    };
    if !accepted {
        lock(&received).rejected += 1;
        return reply(400, "", "");
    }
    match delay {
        None => return std::future::pending().await,
        Some(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
        Some(_) => {}
    }
    // An empty Export*ServiceResponse: zero bytes in protobuf, `{}` in JSON.
    if json {
        reply(200, "application/json", "{}")
    } else {
        reply(200, "application/x-protobuf", "")
    }
}

fn record(received: &mut Received, request: ExportTraceServiceRequest) {
    received.trace_requests += 1;
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans);
    for span in spans {
        received.spans += 1;
        let Ok(trace_id) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
            continue;
        };
        let trace = received.traces.entry(trace_id).or_default();
        if span.name == ROLL_SPAN {
            trace.roll = true;
        }
        let invocation_id = span.attributes.iter().find_map(|kv| match &kv.value {
            Some(value) if kv.key == INVOCATION_ID => match &value.value {
                Some(Value::StringValue(id)) => Some(id.clone()),
                _ => None,
            },
            _ => None,
        });
        if let Some(id) = invocation_id {
            received.invocations.insert(id, trace_id);
        }
    }
}
