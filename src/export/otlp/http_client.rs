//! The HTTP client of the OTLP/HTTP exporters. A plain `http://` endpoint (a collector or the
//! lambda-otel extension on loopback, the usual case) is served by our own HTTP/1.1 exchange
//! over kept-alive connections (`http1`: about 9 µs less of every flush than hyper's client);
//! an `https://` one, with the `tls` feature, by hyper's HTTP/1.1 client. Without `tls` an
//! `https` endpoint is a configuration error, and hyper's client is not compiled in (its pool,
//! connector and body types instantiated for ours: 0.31 MB of the traces-only dice roller).
//! (opentelemetry-http's own hyper client also pulls in HTTP/2, about 0.9 MB, for a collector
//! that speaks HTTP/1.1 on loopback.) With `tls` hyper's connector speaks HTTPS: rustls with
//! the ring provider, chosen explicitly, trusting the system's root certificates as
//! rustls-native-certs finds them (the PEM files of `SSL_CERT_FILE` and `SSL_CERT_DIR` when
//! either is set, else the system's store). The roots are loaded once per start-up, and only for an `https` endpoint.
//!
//! It is where the request headers are made ours alone, with or without TLS.
//! opentelemetry-otlp 0.33 reads `OTEL_EXPORTER_OTLP_HEADERS` (or the signal's variable) from
//! the process environment when it builds an exporter and adds those headers over the ones
//! given in code, whatever `TelemetryBuilder::with_env_lookup` says, and percent-decodes the
//! values it is given a second time. No builder option turns that off, so the exporter is given
//! no headers and this client replaces whatever headers the request arrives with by the
//! resolved ones, keeping only what the exporter decides from our own settings: `Content-Type`
//! (the protocol) and `Content-Encoding` (compression).
//!
//! It is where the lambda-otel extension is found: a successful answer that carries its header
//! makes the process remember the client and its origin (`extension`), the first time.
//!
//! It is also where a failed export is diagnosed. opentelemetry-otlp turns every transport
//! error into "HTTP export failed: network error", and names no endpoint: a refused
//! connection, a timeout, a DNS or a TLS failure read alike. This client sees the real error;
//! it records what kind of failure it was ([`Failure`]) in the scope of the export
//! ([`diagnosed`]), where the exporter's wrapper picks it up to say what failed and where.

use super::USER_AGENT;
use super::extension;
use super::http1::{Idle, Target};
use crate::clock;
use bytes::Bytes;
#[cfg(feature = "tls")]
use http_body_util::{BodyExt as _, Full, Limited};
#[cfg(feature = "tls")]
use hyper_util::client::legacy::{Client, connect::HttpConnector};
#[cfg(feature = "tls")]
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use std::cell::Cell;
#[cfg(feature = "tls")]
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The headers the exporter sets from our settings, kept from its request.
const EXPORTER_HEADERS: [&str; 2] = ["content-type", "content-encoding"];

/// What a collector's answer may weigh (an OTLP response is a few bytes, or a status message).
pub(super) const MAX_RESPONSE_BYTES: usize = 1 << 20;

#[cfg(feature = "tls")]
pub(super) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
/// Without `tls`, every endpoint is plain `http`, served by our own exchange: no connector.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub(super) struct Connector;

/// The client: pooled keep-alive connections per collector and per [`Pools`] side, Nagle off
/// (an export is one small request; waiting for an ACK before its tail is sent would delay
/// every flush).
#[derive(Debug, Clone)]
pub(crate) struct ExportClient {
    inner: Pools,
    timeout: Duration,
    /// Every request's headers, in an empty request: `http` is no direct dependency of this
    /// crate, and opentelemetry-http names its `Request` but not its `HeaderMap`.
    headers: Arc<Request<()>>,
    /// The endpoint's `scheme://host:port`, where the extension's marks would go if its
    /// answers announce it; `None` for an endpoint the settings would have refused.
    origin: Option<Arc<str>>,
    /// The endpoint, parsed once; `None` for one the settings would have refused.
    endpoint: Option<http::Uri>,
    /// For a plain `http` endpoint, where its exports go and the start of each (`http1`: our
    /// own exchanges, not hyper's); `None` for `https`.
    plain: Option<Arc<Target>>,
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientError {
    /// The name of a header `http` refuses (never its value).
    Header(String),
    /// HTTPS could not be set up (no root certificate could be loaded): why.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(name) => write!(f, "the HTTP client refuses the header `{name}`"),
            Self::Tls(why) => write!(f, "HTTPS cannot be set up: {why}"),
        }
    }
}

impl ExportClient {
    /// A client for `endpoint`. Every request, connection included, is cancelled after
    /// `timeout` (the flush also bounds it, by the invocation's deadline). `headers` (checked
    /// by the settings) are the only ones sent besides those the exporter derives from our
    /// settings.
    ///
    /// # Errors
    /// A header `http` refuses; with `tls`, root certificates that cannot be loaded for an
    /// `https` endpoint.
    pub(crate) fn new(
        connectors: &mut Connectors,
        endpoint: &str,
        timeout: Duration,
        headers: &[(String, String)],
    ) -> Result<Self, ClientError> {
        let headers = Arc::new(header_template(headers).map_err(ClientError::Header)?);
        extension::client_built();
        let uri = endpoint.parse::<http::Uri>().ok();
        let plain = uri
            .as_ref()
            .filter(|_| is_plain(endpoint))
            .and_then(|uri| {
                // The content type and coding are each export's (`post`), never the settings'.
                let mut ours = headers.headers().clone();
                for name in EXPORTER_HEADERS {
                    ours.remove(name);
                }
                Target::new(&http::Method::POST, uri, &ours)
            })
            .map(Arc::new);
        Ok(Self {
            inner: Pools::new(connectors.connector(endpoint)?),
            timeout,
            headers,
            origin: extension::origin(endpoint).map(Arc::from),
            endpoint: uri,
            plain,
        })
    }
}

/// Two connection pools, hyper's for `https` (with `tls`) and our own for plain `http`
/// (`http1`): the export thread's, and the one of every other thread (the function's
/// executor). A pooled connection is driven by the runtime that opened it, and only that
/// runtime moves its bytes: were the thread's exports to take a connection of the function's
/// executor, a `force_flush` blocking that executor would wait on itself until its timeout;
/// and the other way round, the function's exports would wait for the thread.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    #[cfg(feature = "tls")]
    thread: Client<Connector, Full<Bytes>>,
    #[cfg(feature = "tls")]
    caller: Client<Connector, Full<Bytes>>,
    idle_thread: Arc<Idle>,
    idle_caller: Arc<Idle>,
}

impl Pools {
    pub(super) fn new(connector: Connector) -> Self {
        #[cfg(feature = "tls")]
        let client = || Client::builder(TokioExecutor::new()).build(connector.clone());
        #[cfg(not(feature = "tls"))]
        let Connector = connector;
        Self {
            #[cfg(feature = "tls")]
            thread: client(),
            #[cfg(feature = "tls")]
            caller: client(),
            idle_thread: Arc::default(),
            idle_caller: Arc::default(),
        }
    }

    /// `request` through hyper's client of the thread this runs on (an `https` endpoint), its
    /// answer read to its end (so the connection goes back to the pool), up to `max` bytes.
    #[cfg(feature = "tls")]
    pub(super) async fn exchange_tls(
        &self,
        request: Request<Bytes>,
        max: usize,
    ) -> Result<Response<Bytes>, Failure> {
        let client = if super::on_export_thread() {
            &self.thread
        } else {
            &self.caller
        };
        let response = client.request(request.map(Full::new)).await;
        let (parts, body) = response.map_err(|e| classify(&e))?.into_parts();
        let body = Limited::new(body, max).collect().await;
        let body = body.map_err(|e| Failure::Exchange(causes_text(&*e)))?;
        Ok(Response::from_parts(parts, body.to_bytes()))
    }

    /// Without `tls` there is no `https` endpoint (the settings refuse one).
    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unused_async)]
    pub(super) async fn exchange_tls(
        &self,
        _request: Request<Bytes>,
        _max: usize,
    ) -> Result<Response<Bytes>, Failure> {
        Err(Failure::Connect(
            "an `https` endpoint needs the `tls` feature".to_owned(),
        ))
    }

    /// The plain-HTTP connections of the thread this runs on.
    pub(crate) fn idle_here(&self) -> &Idle {
        if super::on_export_thread() {
            &self.idle_thread
        } else {
            &self.idle_caller
        }
    }
}

/// Whether `endpoint` is plain HTTP (any case of the scheme, as the settings accept it).
pub(super) fn is_plain(endpoint: &str) -> bool {
    endpoint
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The TCP connector under hyper's client: Nagle off, and no Happy Eyeballs: its fallback
/// delay is a Tokio timer, and the export may run on the function's own executor, which may
/// have none. A name with several addresses (`localhost`: `::1`, then `127.0.0.1`) is tried
/// one address after the other; a refused one fails at once.
#[cfg(feature = "tls")]
fn tcp() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_happy_eyeballs_timeout(None);
    connector
}

/// What the clients of one start-up share: with `tls`, the configuration with the root
/// certificates, loaded at most once (reading and parsing the system's bundle takes
/// milliseconds of the cold start) and only if an endpoint is `https`.
#[derive(Debug, Default)]
pub(crate) struct Connectors {
    #[cfg(feature = "tls")]
    verified: Option<rustls::ClientConfig>,
}

impl Connectors {
    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    pub(super) fn connector(&mut self, _endpoint: &str) -> Result<Connector, ClientError> {
        Ok(Connector)
    }

    /// HTTPS or plain HTTP, as the endpoint's scheme says; a plain endpoint gets a
    /// configuration that trusts nothing, never used (a collector's answer is not followed).
    #[cfg(feature = "tls")]
    pub(super) fn connector(&mut self, endpoint: &str) -> Result<Connector, ClientError> {
        let https = endpoint
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        let config = if https {
            match &self.verified {
                Some(config) => config.clone(),
                None => self.verified.insert(tls::config(tls::roots()?)?).clone(),
            }
        } else {
            tls::config(rustls::RootCertStore::empty())?
        };
        let mut tcp = tcp();
        // The TLS connector decides the scheme; the TCP one would refuse `https`.
        tcp.enforce_http(false);
        Ok(hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp))
    }
}

#[cfg(feature = "tls")]
mod tls {
    use super::ClientError;
    use rustls::{ClientConfig, RootCertStore};
    use std::sync::Arc;

    /// The system's root certificates, as rustls-native-certs finds them. Certificates it
    /// cannot read or parse are skipped, as long as one is left; with none, the error says
    /// what went wrong where (`SSL_CERT_FILE` naming a missing file, an empty store...).
    pub(super) fn roots() -> Result<RootCertStore, ClientError> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, unparsable) = roots.add_parsable_certificates(found.certs);
        if added > 0 {
            return Ok(roots);
        }
        let mut why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        if unparsable > 0 {
            why.push(format!("{unparsable} certificates rustls cannot parse"));
        }
        Err(ClientError::Tls(if why.is_empty() {
            "no root certificate in the system's store (`SSL_CERT_FILE` or `SSL_CERT_DIR` can \
             name PEM files)"
                .to_owned()
        } else {
            format!("no root certificate could be loaded: {}", why.join("; "))
        }))
    }

    /// A client configuration with ring as the crypto provider, named here so that rustls
    /// never has to pick a process default (it panics when features leave it ambiguous).
    pub(super) fn config(roots: RootCertStore) -> Result<ClientConfig, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

fn header_template(headers: &[(String, String)]) -> Result<Request<()>, String> {
    let mut template = Request::builder();
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
    {
        template = template.header("user-agent", USER_AGENT);
    }
    for (name, value) in headers {
        template = template.header(name.as_str(), value.as_str());
        if template.headers_ref().is_none() {
            return Err(name.clone());
        }
    }
    template.body(()).map_err(|_| String::from("user-agent"))
}

/// `request` with the resolved headers instead of the exporter's.
fn with_our_headers(mut request: Request<Bytes>, ours: &Request<()>) -> Request<Bytes> {
    let mut headers = ours.headers().clone();
    for name in EXPORTER_HEADERS {
        if let Some(value) = request.headers().get(name) {
            headers.insert(name, value.clone());
        }
    }
    *request.headers_mut() = headers;
    request
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = with_our_headers(request, &self.headers);
        self.bounded(async {
            let answer = if self.plain.is_some() {
                let idle = self.inner.idle_here();
                idle.exchange(request, MAX_RESPONSE_BYTES).await
            } else {
                self.inner.exchange_tls(request, MAX_RESPONSE_BYTES).await
            };
            self.answered(answer)
        })
        .await
    }
}

impl ExportClient {
    /// One export: `body`, of `content_type`, to this client's endpoint. For a plain `http`
    /// endpoint the request's bytes are the head written once and `body`: no request is built.
    pub(crate) async fn post(
        &self,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<Response<Bytes>, HttpError> {
        if let Some(target) = &self.plain {
            let head = target.head(&[("content-type", content_type.as_bytes())], body.len());
            let body = Bytes::from(body);
            return self
                .bounded(async {
                    let idle = self.inner.idle_here();
                    self.answered(idle.send(target, head, body, MAX_RESPONSE_BYTES).await)
                })
                .await;
        }
        let endpoint = self
            .endpoint
            .clone()
            .ok_or_else(|| HttpError::from("the endpoint is not a URI"))?;
        let request = Request::post(endpoint)
            .header("content-type", content_type)
            .body(Bytes::from(body))
            .map_err(|e| HttpError::from(e.to_string()))?;
        self.send_bytes(request).await
    }

    /// `exchange`, its failure recorded, and what its answer says: a status that is not a
    /// success is recorded as the failure, a successful one may announce the extension. The
    /// process clock keeps the client's timeout: the export may run on the function's own
    /// executor, which may have no timer. Without the clock, exports run on the export
    /// thread, whose runtime has one.
    async fn bounded(
        &self,
        exchange: impl Future<Output = Result<Response<Bytes>, HttpError>>,
    ) -> Result<Response<Bytes>, HttpError> {
        let exchange = async {
            let response = exchange.await?;
            if !response.status().is_success() {
                record(Failure::Status(response.status().as_u16()));
            } else if extension::presence() != extension::Presence::Present {
                let header = response.headers().get(extension::HEADER);
                self.notice_extension(header.map(|value| value.as_bytes()));
            }
            Ok(response)
        };
        let answered = if clock::runs() {
            clock::before(Instant::now() + self.timeout, exchange).await
        } else {
            tokio::time::timeout(self.timeout, exchange).await.ok()
        };
        answered.ok_or_else(|| {
            record(Failure::Timeout(self.timeout));
            HttpError::from("the collector did not answer in time")
        })?
    }

    /// Our own exchange's answer, or its failure recorded.
    fn answered(
        &self,
        answer: Result<Response<Bytes>, Failure>,
    ) -> Result<Response<Bytes>, HttpError> {
        answer.map_err(|failure| {
            let error = HttpError::from(failure.describe("the collector"));
            record(failure);
            error
        })
    }
}

impl ExportClient {
    /// Remembers this client's origin as the extension's if a successful answer carried
    /// `header` (the extension's, see `extension`) with the version this crate speaks.
    fn notice_extension(&self, header: Option<&[u8]>) {
        match &self.origin {
            Some(origin) if extension::announces(header) => extension::found(origin, &self.inner),
            _ => extension::not_announced(),
        }
    }
}

/// What went wrong with an export, as the client saw it. The texts it carries come from the
/// resolver, the socket, rustls and hyper: never a header, a URL or a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Nothing listens at the endpoint's port.
    Refused,
    /// The endpoint's host name did not resolve: why.
    Dns(String),
    /// The TLS handshake failed: rustls's reason.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(String),
    /// Another failure to connect (an unreachable network, a connection closed during the
    /// handshake...).
    Connect(String),
    /// The connection failed during the exchange (closed, reset...).
    Exchange(String),
    /// No answer within the client's timeout.
    Timeout(Duration),
    /// The collector answered with this status, not a success.
    Status(u16),
}

impl Failure {
    /// What failed and where: `endpoint` as it may be shown (no credentials, no query).
    pub(crate) fn describe(&self, endpoint: &str) -> String {
        match self {
            Self::Refused => format!("connection refused by {endpoint}"),
            Self::Dns(why) => format!("cannot resolve the host of {endpoint}: {why}"),
            Self::Tls(why) => format!("TLS handshake failed with {endpoint}: {why}"),
            Self::Connect(why) => format!("cannot connect to {endpoint}: {why}"),
            Self::Exchange(why) => format!("the connection to {endpoint} failed: {why}"),
            Self::Timeout(timeout) => format!("no answer within {timeout:?} from {endpoint}"),
            Self::Status(status) => format!("HTTP status {status} from {endpoint}"),
        }
    }
}

tokio::task_local! {
    /// Why the export running in this task failed, if the client saw it fail. Scoped to each
    /// export (not kept per exporter): exports of one exporter run side by side, and each
    /// must get its own reason.
    static FAILURE: Cell<Option<Failure>>;
}

/// Runs `export` with a place for the client to say why it failed; returns the export's
/// outcome and that reason, if the client gave one (none over gRPC, or when the export
/// failed before sending).
pub(crate) async fn diagnosed<T>(export: impl Future<Output = T>) -> (T, Option<Failure>) {
    FAILURE
        .scope(Cell::new(None), async move {
            let outcome = export.await;
            (outcome, FAILURE.with(Cell::take))
        })
        .await
}

/// Keeps the failure for the export under way; outside one (a test sending directly), there
/// is nobody to tell.
fn record(failure: Failure) {
    let _ = FAILURE.try_with(|slot| slot.set(Some(failure)));
}

/// The errors under `error`, outermost first. An `io::Error` wrapping another error hides it
/// from `source()` (which skips to the wrapped error's own source): it is unwrapped here.
#[cfg(feature = "tls")]
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// The texts of `error` and its causes, repeated texts once (an `io::Error` shows the error it
/// wraps).
#[cfg(feature = "tls")]
fn causes_text(error: &(dyn StdError + 'static)) -> String {
    let mut texts: Vec<String> = causes(error).map(ToString::to_string).collect();
    texts.dedup();
    texts.join(": ")
}

/// The kind of a failed request, from the error hyper's client returned.
#[cfg(feature = "tls")]
fn classify(error: &hyper_util::client::legacy::Error) -> Failure {
    // The client's own text ("client error (Connect)") says nothing its kind does not.
    let Some(cause) = error.source() else {
        return Failure::Exchange(error.to_string());
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = causes(cause).find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return Failure::Tls(tls.to_string());
    }
    let refused = causes(cause).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    if refused {
        return Failure::Refused;
    }
    if !error.is_connect() {
        return Failure::Exchange(causes_text(cause));
    }
    // hyper-util's connector error is no public type: its text names the step that failed.
    match cause.source() {
        Some(why) if cause.to_string() == "dns error" => Failure::Dns(causes_text(why)),
        _ => Failure::Connect(causes_text(cause)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter_request() -> Request<Bytes> {
        Request::builder()
            .header("content-type", "application/x-protobuf")
            .header("user-agent", "OTel-OTLP-Exporter-Rust/0.33.1")
            .header("x-api-key", "from-the-process-environment")
            .header("x-extra", "from-the-process-environment")
            .body(Bytes::new())
            .expect("valid request")
    }

    #[test]
    fn only_the_resolved_headers_and_the_content_type_are_sent() {
        let ours = [("X-Api-Key".to_owned(), "from%20code".to_owned())];
        let template = header_template(&ours).expect("valid headers");
        let sent = with_our_headers(exporter_request(), &template);
        let headers: Vec<_> = sent
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or_default()))
            .collect();
        assert_eq!(
            headers.len(),
            3,
            "user-agent, x-api-key, content-type: {headers:?}"
        );
        assert!(
            headers.contains(&("x-api-key", "from%20code")),
            "{headers:?}"
        );
        assert!(headers.contains(&("user-agent", USER_AGENT)), "{headers:?}");
        assert!(
            headers.contains(&("content-type", "application/x-protobuf")),
            "{headers:?}"
        );
    }

    #[test]
    fn a_user_agent_in_the_settings_replaces_ours() {
        let ours = [("User-Agent".to_owned(), "dice/1".to_owned())];
        let template = header_template(&ours).expect("valid headers");
        let sent = with_our_headers(exporter_request(), &template);
        let agents: Vec<_> = sent.headers().get_all("user-agent").iter().collect();
        assert_eq!(agents, ["dice/1"]);
    }

    /// A plain endpoint's exports carry the content type of the export alone: one set in the
    /// settings is not written beside it.
    #[tokio::test(flavor = "current_thread")]
    async fn the_settings_content_type_never_rides_along_with_an_export() {
        let ours = [
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("X-Api-Key".to_owned(), "1".to_owned()),
        ];
        let endpoint = "http://127.0.0.1:4318/v1/traces";
        let client = ExportClient::new(
            &mut Connectors::default(),
            endpoint,
            Duration::from_secs(1),
            &ours,
        )
        .expect("a client");
        let target = client.plain.as_ref().expect("a plain endpoint");
        let head = target.head(&[("content-type", b"application/x-protobuf")], 0);
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert_eq!(head.matches("content-type").count(), 1, "{head}");
        assert!(
            head.contains("content-type: application/x-protobuf"),
            "{head}"
        );
        assert!(head.contains("x-api-key: 1"), "{head}");
    }

    #[test]
    fn a_header_http_refuses_is_named() {
        let bad = [("bad name".to_owned(), "secret".to_owned())];
        assert_eq!(header_template(&bad).err().as_deref(), Some("bad name"));
    }

    /// A client of `endpoint` with a 5 s timeout, and the reason it gives for a failed export.
    async fn failure_of(endpoint: &str) -> Option<Failure> {
        let client = ExportClient::new(
            &mut Connectors::default(),
            endpoint,
            Duration::from_secs(5),
            &[],
        )
        .expect("a client");
        let request = post(endpoint);
        let (sent, failure) = diagnosed(client.send_bytes(request)).await;
        assert!(sent.is_err(), "{endpoint} failed");
        failure
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_connection_is_told_apart() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("bound");
        drop(listener);
        let endpoint = format!("http://{address}/v1/traces");
        assert_eq!(failure_of(&endpoint).await, Some(Failure::Refused));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_closed_before_the_answer_is_a_failed_exchange() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let endpoint = format!("http://{}/v1/traces", listener.local_addr().expect("bound"));
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("a connection");
            drop(stream);
        });
        let failure = failure_of(&endpoint).await;
        server.await.expect("the server ran");
        assert!(matches!(failure, Some(Failure::Exchange(_))), "{failure:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_a_scope_nothing_is_recorded_and_nothing_fails() {
        record(Failure::Refused);
        let (_, failure) = diagnosed(async {}).await;
        assert_eq!(failure, None);
    }

    #[test]
    fn every_failure_names_the_endpoint() {
        let endpoint = "http://collector:4318/v1/traces";
        for failure in [
            Failure::Refused,
            Failure::Dns("no such host".into()),
            Failure::Tls("invalid peer certificate: UnknownIssuer".into()),
            Failure::Connect("tcp connect error".into()),
            Failure::Exchange("connection closed".into()),
            Failure::Timeout(Duration::from_millis(200)),
            Failure::Status(401),
        ] {
            let text = failure.describe(endpoint);
            assert!(text.contains(endpoint), "{text}");
        }
        assert_eq!(
            Failure::Timeout(Duration::from_millis(200)).describe(endpoint),
            "no answer within 200ms from http://collector:4318/v1/traces"
        );
    }

    #[cfg(feature = "tls")]
    #[tokio::test(flavor = "current_thread")]
    async fn a_plain_server_behind_an_https_endpoint_fails_the_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let (mut stream, _) = listener.accept().await.expect("a connection");
            let mut hello = [0; 1024];
            let _ = stream.read(&mut hello).await;
            // Plain HTTP where a TLS server hello is expected; then wait for the client to
            // give up (closing first, with its hello unread, could reset the connection).
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
        });
        let endpoint = format!("https://127.0.0.1:{port}/v1/traces");
        // Roots of our own: the test must not depend on the machine's store.
        let mut connectors = Connectors {
            verified: Some(tls::config(rustls::RootCertStore::empty()).expect("config")),
        };
        let client = ExportClient::new(&mut connectors, &endpoint, Duration::from_secs(5), &[])
            .expect("a client");
        let request = post(&endpoint);
        let (sent, failure) = diagnosed(client.send_bytes(request)).await;
        server.await.expect("the server ran");
        assert!(sent.is_err());
        assert!(matches!(failure, Some(Failure::Tls(_))), "{failure:?}");
    }

    fn post(endpoint: &str) -> Request<Bytes> {
        Request::builder()
            .method("POST")
            .uri(endpoint)
            .body(Bytes::new())
            .expect("a request")
    }

    /// The export thread never takes a connection the function's executor opened: with that
    /// executor not running (a `force_flush` from the handler blocks it while the thread
    /// exports), the thread's export goes out on a connection of its own. On the function's
    /// connection it would wait for the client's timeout, and fail.
    #[test]
    fn the_export_thread_never_waits_on_a_connection_of_the_function_s_executor() {
        let collector = crate::export::otlp::loopback::collector(
            |_| b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            |_| false,
        );
        let (endpoint, connections) = (collector.endpoint.clone(), collector.connections);
        let client = ExportClient::new(
            &mut Connectors::default(),
            &endpoint,
            Duration::from_secs(5),
            &[],
        )
        .expect("a client");
        let function = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // An export on the function's executor: its connection stays in the pool, a task of
        // that runtime, which nothing runs from here on.
        let answered = function.block_on(client.send_bytes(post(&endpoint)));
        assert_eq!(answered.expect("answered").status(), 200);
        let on_thread = client.clone();
        let thread_endpoint = endpoint.clone();
        let answered = std::thread::spawn(move || {
            super::super::enter_export_thread();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime
                .block_on(on_thread.send_bytes(post(&thread_endpoint)))
                .map(|response| response.status())
        })
        .join()
        .expect("the thread ran");
        assert_eq!(answered.expect("answered on the thread"), 200);
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
        drop(function);
    }
}
