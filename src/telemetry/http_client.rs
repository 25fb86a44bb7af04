//! The plain-HTTP client of the OTLP/HTTP exporters (without the `tls` feature): hyper's
//! HTTP/1.1 client, which lambda_runtime already links, so it adds little to the binary.
//! (opentelemetry-http's own hyper client also pulls in HTTP/2, about 0.9 MB, for a collector
//! that speaks HTTP/1.1 on loopback.)
//!
//! It is also where the request headers are made ours alone. opentelemetry-otlp 0.33 reads
//! `OTEL_EXPORTER_OTLP_HEADERS` (or the signal's variable) from the process environment when it
//! builds an exporter and adds those headers over the ones given in code, whatever
//! `TelemetryBuilder::with_env_lookup` says, and percent-decodes the values it is given a second
//! time. No builder option turns that off, so the exporter is given no headers and this client
//! replaces whatever headers the request arrives with by the resolved ones, keeping only what
//! the exporter decides from our own settings: `Content-Type` (the protocol) and
//! `Content-Encoding` (compression).

use super::exporter::USER_AGENT;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use std::sync::Arc;
use std::time::Duration;

/// The headers the exporter sets from our settings, kept from its request.
const EXPORTER_HEADERS: [&str; 2] = ["content-type", "content-encoding"];

/// What a collector's answer may weigh (an OTLP response is a few bytes, or a status message).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The client: one pooled keep-alive connection per collector, Nagle off (an export is one
/// small request; waiting for an ACK before its tail is sent would delay every flush).
#[derive(Debug, Clone)]
pub(crate) struct PlainHttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    /// Every request's headers, in an empty request: `http` is no direct dependency of this
    /// crate, and opentelemetry-http names its `Request` but not its `HeaderMap`.
    headers: Arc<Request<()>>,
}

impl PlainHttpClient {
    /// Every request, connection included, is cancelled after `timeout` (the flush also bounds
    /// it, by the invocation's deadline). `headers` (checked by the settings) are the only ones
    /// sent besides those the exporter derives from our settings.
    ///
    /// # Errors
    /// The name of a header `http` refuses (never its value).
    pub(crate) fn new(timeout: Duration, headers: &[(String, String)]) -> Result<Self, String> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Self {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            headers: Arc::new(header_template(headers)?),
        })
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
impl HttpClient for PlainHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = with_our_headers(request, &self.headers);
        let exchange = async {
            let response = self.inner.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await?;
            Ok::<_, HttpError>(Response::from_parts(parts, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::from("the collector did not answer in time"))?
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

    #[test]
    fn a_header_http_refuses_is_named() {
        let bad = [("bad name".to_owned(), "secret".to_owned())];
        assert_eq!(header_template(&bad).err().as_deref(), Some("bad name"));
    }
}
