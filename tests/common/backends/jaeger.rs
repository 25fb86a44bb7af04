//! Jaeger v2 all-in-one as `backends/jaeger.yaml` configures it: OTLP in (gRPC and HTTP),
//! in-memory storage, and its query API (`/api/traces`), read here the way Jaeger's UI reads it.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::process::{Process, start_with_retries};
use super::{DATA_BOUND, binary, config, free_tcp_ports, get, poll};

/// A running Jaeger; dropping it kills it.
#[derive(Debug)]
pub struct Jaeger {
    process: Process,
    otlp_grpc: u16,
    otlp_http: u16,
    query: u16,
}

impl Jaeger {
    /// Starts Jaeger on fresh ports and waits until its health check says every component is
    /// up and its query API answers.
    pub fn start() -> Self {
        let binary = binary("LAMBDA_OTEL_TEST_JAEGER", "jaeger");
        start_with_retries("jaeger", || {
            let [otlp_grpc, otlp_http, query, query_grpc, health] = free_tcp_ports(5)[..] else {
                unreachable!("five ports asked for")
            };
            let env = [
                ("JAEGER_OTLP_GRPC_PORT", otlp_grpc.to_string()),
                ("JAEGER_OTLP_HTTP_PORT", otlp_http.to_string()),
                ("JAEGER_QUERY_PORT", query.to_string()),
                ("JAEGER_QUERY_GRPC_PORT", query_grpc.to_string()),
                ("JAEGER_HEALTH_PORT", health.to_string()),
            ];
            let mut process = Process::spawn("jaeger", &binary, &config("jaeger.yaml"), &env);
            process.wait_ready(|_| {
                let answers = |port, path| get(port, path).is_ok_and(|(status, _)| status == 200);
                answers(health, "/status") && answers(query, "/api/services")
            })?;
            Ok(Self {
                process,
                otlp_grpc,
                otlp_http,
                query,
            })
        })
    }

    /// The base URL of its OTLP/HTTP receiver (`/v1/traces` is appended by the exporter).
    pub fn otlp_http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.otlp_http)
    }

    /// The port of its OTLP/HTTP receiver.
    pub fn otlp_http_port(&self) -> u16 {
        self.otlp_http
    }

    /// The port of its OTLP/gRPC receiver.
    pub fn otlp_grpc_port(&self) -> u16 {
        self.otlp_grpc
    }

    /// What Jaeger has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Every trace of `service` the query API returns now.
    pub fn traces(&self, service: &str) -> Result<Vec<Trace>, String> {
        let service: String = service
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.query(&format!("/api/traces?service={service}&limit=1000"))
    }

    /// The trace `trace_id` (32 hex digits), if Jaeger has it.
    pub fn trace(&self, trace_id: &str) -> Result<Option<Trace>, String> {
        match self.query(&format!("/api/traces/{trace_id}")) {
            Ok(mut traces) => Ok(traces.pop()),
            Err(e) if e.starts_with("404") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls the query API until the traces of `service` satisfy `done`, within
    /// [`DATA_BOUND`]; panics with what it last returned and Jaeger's log.
    pub fn wait_for_traces(&self, service: &str, done: impl Fn(&[Trace]) -> bool) -> Vec<Trace> {
        let mut last = Err("never asked".to_owned());
        let found = poll(DATA_BOUND, || {
            last = self.traces(service);
            last.as_ref().ok().filter(|t| done(t)).cloned()
        });
        found.unwrap_or_else(|| {
            panic!(
                "Jaeger's traces of {service} never became what the test waits for within \
                 {DATA_BOUND:?}; it last returned {last:#?}\nJaeger's log:\n{}",
                self.log()
            )
        })
    }

    /// Polls the query API until it has trace `trace_id` and it satisfies `done`, within
    /// [`DATA_BOUND`]; panics with what it last returned and Jaeger's log.
    pub fn wait_for_trace(&self, trace_id: &str, done: impl Fn(&Trace) -> bool) -> Trace {
        let mut last = Ok(None);
        let found = poll(DATA_BOUND, || {
            last = self.trace(trace_id);
            last.as_ref()
                .ok()
                .and_then(Option::as_ref)
                .filter(|t| done(t))
                .cloned()
        });
        found.unwrap_or_else(|| {
            panic!(
                "Jaeger's trace {trace_id} never became what the test waits for within \
                 {DATA_BOUND:?}; it last returned {last:#?}\nJaeger's log:\n{}",
                self.log()
            )
        })
    }

    fn query(&self, path: &str) -> Result<Vec<Trace>, String> {
        let (status, body) = get(self.query, path).map_err(|e| format!("GET {path}: {e}"))?;
        if status != 200 {
            return Err(format!("{status} for GET {path}: {body}"));
        }
        let answer: Answer =
            serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}: {body}"))?;
        Ok(answer
            .data
            .unwrap_or_default()
            .into_iter()
            .map(Trace::from)
            .collect())
    }
}

/// One trace as the query API shows it.
#[derive(Debug, Clone)]
pub struct Trace {
    /// 32 lower-case hex digits (Jaeger drops leading zeros; they are put back).
    pub trace_id: String,
    pub spans: Vec<Span>,
}

impl Trace {
    /// The one span named `operation`; panics, showing the trace, when there is not exactly one.
    pub fn span(&self, operation: &str) -> &Span {
        let found: Vec<_> = self
            .spans
            .iter()
            .filter(|s| s.operation == operation)
            .collect();
        assert_eq!(found.len(), 1, "one {operation:?} span in {self:#?}");
        found[0]
    }
}

/// One span as the query API shows it: attributes and status as tags, the resource as its
/// process, events as logs.
#[derive(Debug, Clone)]
pub struct Span {
    pub span_id: String,
    pub operation: String,
    /// The span id of its `CHILD_OF` reference: the parent.
    pub parent: Option<String>,
    pub tags: HashMap<String, Value>,
    /// Each log's fields (an event's name is the field `event`).
    pub logs: Vec<HashMap<String, Value>>,
    /// The process's service name (`service.name`).
    pub service: String,
    /// The process's tags: the rest of the resource.
    pub process_tags: HashMap<String, Value>,
}

impl Span {
    /// The tag `key`; panics, showing the span, when it has none.
    pub fn tag(&self, key: &str) -> &Value {
        self.tags
            .get(key)
            .unwrap_or_else(|| panic!("no tag {key} on {self:#?}"))
    }
}

#[derive(Deserialize)]
struct Answer {
    data: Option<Vec<RawTrace>>,
}

#[derive(Deserialize)]
struct RawTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<RawSpan>,
    processes: HashMap<String, RawProcess>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpan {
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    #[serde(default)]
    references: Vec<RawReference>,
    #[serde(default)]
    tags: Vec<RawTag>,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(rename = "processID")]
    process_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReference {
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize, Clone)]
struct RawTag {
    key: String,
    value: Value,
}

#[derive(Deserialize)]
struct RawLog {
    #[serde(default)]
    fields: Vec<RawTag>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct RawProcess {
    service_name: String,
    #[serde(default)]
    tags: Vec<RawTag>,
}

fn tags(raw: Vec<RawTag>) -> HashMap<String, Value> {
    raw.into_iter().map(|t| (t.key, t.value)).collect()
}

impl From<RawTrace> for Trace {
    fn from(raw: RawTrace) -> Self {
        let spans = raw
            .spans
            .into_iter()
            .map(|span| {
                let process = raw.processes.get(&span.process_id).cloned();
                let (service, process_tags) =
                    process.map_or_else(Default::default, |p| (p.service_name, tags(p.tags)));
                Span {
                    span_id: span.span_id,
                    operation: span.operation_name,
                    parent: span
                        .references
                        .into_iter()
                        .find(|r| r.ref_type == "CHILD_OF")
                        .map(|r| r.span_id),
                    tags: tags(span.tags),
                    logs: span.logs.into_iter().map(|l| tags(l.fields)).collect(),
                    service,
                    process_tags,
                }
            })
            .collect();
        Self {
            trace_id: format!("{:0>32}", raw.trace_id),
            spans,
        }
    }
}
