//! The floor of any exporter that waits for the collector: the bare dice roller, then, after
//! each response is posted and before the next `/next`, one OTLP/HTTP request with two spans
//! as the receiver counts them (the invocation's, with `faas.invocation_id`, and its `roll`
//! child; none of the other attributes, no resource), and its answer awaited. No SDK, no span
//! processing, no HTTP library: the two spans are written straight into opentelemetry-proto's
//! messages, sent with one `write` on a kept-alive connection and the answer read back. What it
//! costs over bare is what a request itself costs (the encoding, the kernel's loopback path
//! both ways, the receiver answering on the same CPU), less than any exporter that waits for
//! the answer can do: a real export carries more (lambda-otel's, 1.7 KB).
//!
//! The endpoint comes from `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://host:port`), as for the others.
use lambda_http::{Adapter, service_fn};
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Error, LambdaInvocation, Runtime};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span::SpanKind};
use prost::Message as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let address = endpoint
        .strip_prefix("http://")
        .ok_or("OTEL_EXPORTER_OTLP_ENDPOINT: expected http://host:port")?
        .trim_end_matches('/')
        .to_owned();
    Runtime::new(Adapter::from(service_fn(dice_roller::handler)))
        .layer(Floor {
            exporter: Arc::new(Exporter {
                address,
                connection: Mutex::new(None),
                ids: AtomicU64::new(1),
            }),
        })
        .run()
        .await
}

#[derive(Clone)]
struct Floor {
    exporter: Arc<Exporter>,
}

impl<S> Layer<S> for Floor {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FloorService {
            inner,
            exporter: Arc::clone(&self.exporter),
        }
    }
}

struct FloorService<S> {
    inner: S,
    exporter: Arc<Exporter>,
}

impl<S> Service<LambdaInvocation> for FloorService<S>
where
    S: Service<LambdaInvocation, Response = ()>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = ();
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: LambdaInvocation) -> Self::Future {
        let request_id = req.context.request_id.clone();
        let trace_id = req.context.xray_trace_id.as_deref().and_then(trace_id);
        let start = now_nanos();
        let exporter = Arc::clone(&self.exporter);
        // Runs the invocation (the inner services post the response), then the export.
        let invocation = self.inner.call(req);
        Box::pin(async move {
            let posted = invocation.await;
            if let Some(trace_id) = trace_id {
                let body = exporter
                    .request(trace_id, &request_id, start)
                    .encode_to_vec();
                if let Err(e) = exporter.send(&body).await {
                    eprintln!("otlp-floor: export failed: {e}");
                }
            }
            posted
        })
    }
}

struct Exporter {
    address: String,
    connection: Mutex<Option<TcpStream>>,
    ids: AtomicU64,
}

impl Exporter {
    /// The invocation span and its `roll` child, as the receiver counts them.
    fn request(
        &self,
        trace_id: [u8; 16],
        request_id: &str,
        start: u64,
    ) -> ExportTraceServiceRequest {
        let end = now_nanos();
        let span = |name: &str, parent: Vec<u8>, attributes: Vec<KeyValue>| {
            let id = self
                .ids
                .fetch_add(1, Ordering::Relaxed)
                .to_be_bytes()
                .to_vec();
            Span {
                trace_id: trace_id.to_vec(),
                span_id: id,
                parent_span_id: parent,
                name: name.to_owned(),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                ..Span::default()
            }
        };
        let invocation = span(
            "GET /rolldice",
            Vec::new(),
            vec![KeyValue {
                key: "faas.invocation_id".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(request_id.to_owned())),
                }),
                ..KeyValue::default()
            }],
        );
        let roll = span("roll", invocation.span_id.clone(), Vec::new());
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![invocation, roll],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    /// One request on the kept-alive connection (opened when there is none), and its answer,
    /// within [`TIMEOUT`]. The connection is kept only after a whole answer: one left half-read
    /// (an error, the timeout) is closed, never reused.
    async fn send(&self, body: &[u8]) -> std::io::Result<()> {
        let mut connection = self.connection.lock().await;
        let mut stream = match connection.take() {
            Some(stream) => stream,
            None => TcpStream::connect(&self.address).await?,
        };
        let mut request = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-protobuf\r\n\
             content-length: {}\r\n\r\n",
            self.address,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        tokio::time::timeout(TIMEOUT, exchange(&mut stream, &request))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        *connection = Some(stream);
        Ok(())
    }
}

/// The most an export may take: the receiver answers at once, or after 5 ms.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Writes `request` and reads one HTTP/1.1 answer with a `content-length` (an error without
/// one: the end of a chunked or closing answer would not be found); an error unless 200.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<()> {
    stream.write_all(request).await?;
    let mut answer = Vec::with_capacity(256);
    let (head, length) = loop {
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&chunk[..n]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| std::io::Error::other("an answer without content-length"))?;
            break (head, end + 4 + length);
        }
    };
    while answer.len() < length {
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    if head.starts_with("http/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "answered {:?}",
            head.lines().next()
        )))
    }
}

/// The trace id of Lambda's X-Ray header: `Root=1-<8 hex>-<24 hex>;...`.
fn trace_id(header: &str) -> Option<[u8; 16]> {
    let root = header
        .split(';')
        .find_map(|part| part.strip_prefix("Root=1-"))?;
    let hex: String = root.chars().filter(|c| *c != '-').collect();
    let value = u128::from_str_radix(hex.get(..32)?, 16).ok()?;
    Some(value.to_be_bytes())
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
