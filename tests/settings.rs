//! Settings written once: the OTLP exporter sends the headers the settings resolve, and only
//! those, whatever the process environment says (opentelemetry-otlp reads
//! `OTEL_EXPORTER_OTLP_*HEADERS` from it on its own).
//!
//! One test in this file: it sets variables in the process environment.

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_otel::Telemetry;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A loopback OTLP/HTTP collector that keeps the headers of every request and answers 200.
struct HeaderCollector {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<HeaderMap>>>,
}

impl HeaderCollector {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&requests);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(serve(listener, kept));
        });
        Self { addr, requests }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<HeaderMap> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn serve(listener: std::net::TcpListener, kept: Arc<Mutex<Vec<HeaderMap>>>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    while let Ok((stream, _)) = listener.accept().await {
        let kept = Arc::clone(&kept);
        let service = service_fn(move |request: Request<Incoming>| {
            kept.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request.headers().clone());
            async {
                let mut response = Response::new(Full::new(Bytes::new()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-protobuf"),
                );
                Ok::<_, Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::test(flavor = "current_thread")]
async fn headers_come_from_the_settings_only_and_are_decoded_once() {
    // SAFETY: the only test of this binary, before anything else runs or reads the environment.
    unsafe {
        std::env::set_var(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=from-the-process,x-process-only=1",
        );
        std::env::set_var(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-api-key=from-the-process-for-traces",
        );
    }
    let collector = HeaderCollector::start();
    let lookup = |name: &str| {
        let value = match name {
            "OTEL_EXPORTER_OTLP_HEADERS" => "authorization=Bearer%20abc%2520",
            "OTEL_METRICS_EXPORTER" | "OTEL_LOGS_EXPORTER" => "none",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let telemetry = Telemetry::builder()
        .with_env_lookup(lookup)
        .with_tracing_subscriber(false)
        .with_otlp_endpoint(collector.endpoint())
        .with_header("X-Api-Key", "from%20code")
        .with_flush_timeout(Duration::from_secs(2))
        .build()
        .expect("valid settings");
    let tracer = telemetry
        .tracer_provider()
        .expect("telemetry is on")
        .tracer("settings");
    tracer.in_span("one", |_| {});
    telemetry.shutdown().await;

    let requests = collector.requests();
    assert_eq!(requests.len(), 1, "one export: {requests:?}");
    let headers = &requests[0];
    let value = |name: &str| {
        let all = headers.get_all(name).iter();
        all.map(|v| v.to_str().unwrap_or("?")).collect::<Vec<_>>()
    };
    assert_eq!(
        value("x-api-key"),
        ["from%20code"],
        "set in code: wins over every variable, sent as given"
    );
    assert_eq!(
        value("authorization"),
        ["Bearer abc%20"],
        "from the lookup: percent-decoded once"
    );
    assert!(
        value("x-process-only").is_empty(),
        "the process environment is not a source: {headers:?}"
    );
    assert_eq!(value("content-type"), ["application/x-protobuf"]);
}
