//! A loopback OTLP/HTTP receiver that speaks only HTTPS, with a self-signed certificate for
//! 127.0.0.1 generated at start: it keeps every request's path, headers, spans and TLS
//! version, and answers 200 with an empty export response.
//!
//! Like the other servers it runs on its own thread and runtime, so a test in the same process
//! can read what it received after a child process (see [`super::child`]) exported to it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{Reply, reply};

/// One request the receiver answered.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// `/v1/traces`, `/v1/metrics` or `/v1/logs`.
    pub path: String,
    /// Every header, names in lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The names of the spans of a `/v1/traces` export (protobuf).
    pub span_names: Vec<String>,
    /// The TLS version of the connection it came on (`TLSv1_3`...).
    pub tls_version: String,
}

impl ReceivedRequest {
    /// Every value of the header `name` (lowercase).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct State {
    requests: Vec<ReceivedRequest>,
    /// Connections whose TLS handshake failed.
    failed_handshakes: usize,
}

/// A certificate for 127.0.0.1, self-signed, and its key.
pub struct SelfSigned {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
    pem: String,
}

impl SelfSigned {
    /// A new certificate and key pair.
    pub fn generate() -> Self {
        let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        Self {
            cert: generated.cert.der().clone(),
            key: generated.signing_key.serialize_der(),
            pem: generated.cert.pem(),
        }
    }

    /// Writes the certificate as PEM to a file of this process named after `name`, and returns
    /// its path (for `SSL_CERT_FILE`).
    pub fn write_pem(&self, name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("lambda-otel-{}-{name}.pem", std::process::id()));
        std::fs::write(&path, &self.pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

/// Handle on a running HTTPS receiver.
pub struct HttpsReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    certificate: SelfSigned,
}

impl HttpsReceiver {
    /// Starts the receiver on its own thread, with a new certificate.
    pub fn start() -> Self {
        let certificate = SelfSigned::generate();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificate.key.clone())),
            )
            .expect("a certificate and its key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let addr = super::spawn_server("https-receiver", move |listener| {
            accept_loop(listener, acceptor, shared)
        });
        Self {
            addr,
            state,
            certificate,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The certificate the receiver presents.
    pub fn certificate(&self) -> &SelfSigned {
        &self.certificate
    }

    /// Every request answered so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many connections failed their TLS handshake.
    pub fn failed_handshakes(&self) -> usize {
        lock(&self.state).failed_handshakes
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn accept_loop(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener into tokio");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, state) = (acceptor.clone(), Arc::clone(&state));
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(stream) => stream,
                Err(_) => {
                    lock(&state).failed_handshakes += 1;
                    return;
                }
            };
            let tls_version = match stream.get_ref().1.protocol_version() {
                Some(version) => format!("{version:?}"),
                None => "none".to_owned(),
            };
            let service = service_fn(move |request| {
                let (state, tls_version) = (Arc::clone(&state), tls_version.clone());
                async move { Ok::<_, Infallible>(handle(&state, tls_version, request).await) }
            });
            // A client going away mid-connection carries no information here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(state: &Mutex<State>, tls_version: String, request: Request<Incoming>) -> Reply {
    let path = request.uri().path().to_owned();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let span_names = match path.as_str() {
        "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
            Ok(export) => export
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
                .map(|span| span.name)
                .collect(),
            Err(e) => return reply(400, None, format!("bad protobuf: {e}")),
        },
        _ => Vec::new(),
    };
    lock(state).requests.push(ReceivedRequest {
        path,
        headers,
        span_names,
        tls_version,
    });
    // Every empty export response encodes to no bytes at all.
    reply(200, Some("application/x-protobuf"), Bytes::new())
}
