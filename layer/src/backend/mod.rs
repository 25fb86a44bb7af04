//! Where the received telemetry goes: an OTLP/HTTP(S) backend, each request signed with SigV4
//! when it goes to one of AWS's OTLP endpoints.
//!
//! A forward sends everything it is given at once (one request per signal where the bytes can
//! be joined, see [`otlp::requests`]), bounded as a whole by the configured timeout. There is
//! no retry: a failed or timed-out request is counted as lost and logged, so a hung backend
//! costs each invocation at most the timeout and never piles up work.

mod aws;
pub(crate) mod otlp;
#[cfg(feature = "sigv4")]
pub(crate) mod sigv4;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;

use self::aws::{aws_service_and_region, host_header};
use crate::config::{Config, Signal, Signing};
use crate::state::Batch;

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// How one forward went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Received export requests the backend accepted.
    pub(crate) forwarded: u64,
    /// Received export requests lost (refused, failed, timed out).
    pub(crate) lost: u64,
    /// One line per failed request.
    pub(crate) failures: Vec<String>,
}

/// The backend and how to reach it.
#[derive(Clone)]
pub(crate) struct Backend {
    client: Client<Connector, Full<Bytes>>,
    config: Arc<Config>,
    /// Per signal, whether its requests are signed (and for which service and region).
    signing: [Option<(String, String)>; 3],
    #[cfg(feature = "sigv4")]
    credentials: Option<sigv4::Credentials>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("endpoints", &self.config.endpoints)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Checks that every endpoint can be reached as configured (TLS built in, credentials for
    /// signing) and builds the client.
    pub(crate) fn new(config: Arc<Config>) -> Result<Self, String> {
        let mut signing = [None, None, None];
        for (slot, signal) in signing.iter_mut().zip(Signal::ALL) {
            let Some(uri) = config.endpoint(signal) else {
                continue;
            };
            let host = uri.host().unwrap_or_default();
            let aws = aws_service_and_region(host);
            *slot = match (config.signing, aws) {
                (Signing::Off, _) | (Signing::Auto, None) => None,
                (Signing::On | Signing::Auto, Some(aws)) => Some(aws),
                (Signing::On, None) => {
                    return Err(format!(
                        "{}=on, but {signal} go to {uri}, which is not an AWS endpoint \
                         (<service>.<region>.amazonaws.com): nothing to sign for",
                        crate::config::SIGV4
                    ));
                }
            };
        }
        #[cfg(feature = "sigv4")]
        let credentials = if signing.iter().any(Option::is_some) {
            Some(sigv4::Credentials::from_env()?)
        } else {
            None
        };
        #[cfg(not(feature = "sigv4"))]
        if let Some((service, _)) = signing.iter().flatten().next() {
            return Err(format!(
                "requests to AWS's {service} endpoint must be signed with SigV4, and this build of \
                 the extension cannot sign: build it with the `sigv4` feature (the template does), \
                 or set {}=off",
                crate::config::SIGV4
            ));
        }
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector()?),
            config,
            signing,
            #[cfg(feature = "sigv4")]
            credentials,
        })
    }

    /// Sends `batches`, bounded by the configured timeout.
    pub(crate) async fn forward(&self, batches: Vec<Batch>) -> Outcome {
        let mut outcome = Outcome::default();
        let mut sends = JoinSet::new();
        let mut pending = 0;
        for request in otlp::requests(batches) {
            let Some(uri) = self.config.endpoint(request.signal).cloned() else {
                continue;
            };
            pending += request.batches;
            let backend = self.clone();
            sends.spawn(async move {
                let count = request.batches;
                (count, backend.send(&uri, request).await)
            });
        }
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        while !sends.is_empty() {
            match tokio::time::timeout_at(deadline, sends.join_next()).await {
                Ok(Some(Ok((count, result)))) => {
                    pending -= count;
                    match result {
                        Ok(()) => outcome.forwarded += count,
                        Err(failure) => {
                            outcome.lost += count;
                            outcome.failures.push(failure);
                        }
                    }
                }
                Ok(Some(Err(join_error))) => {
                    outcome
                        .failures
                        .push(format!("a forward task ended: {join_error}"));
                }
                Ok(None) => break,
                Err(_elapsed) => {
                    outcome.failures.push(format!(
                        "no answer within {} ms ({}); {pending} export request(s) lost",
                        self.config.timeout.as_millis(),
                        crate::config::TIMEOUT_MS
                    ));
                    outcome.lost += pending;
                    pending = 0;
                    sends.abort_all();
                    break;
                }
            }
        }
        // Tasks that ended with a join error were neither forwarded nor counted lost above.
        outcome.lost += pending;
        outcome
    }

    async fn send(&self, uri: &Uri, request: otlp::Outgoing) -> Result<(), String> {
        // Only a failure is described: nothing is formatted for a forward that succeeds.
        let (signal, batches) = (request.signal, request.batches);
        let what = || format!("{batches} {signal} request(s) to {}", shown(uri));
        let http = self.build(uri, request)?;
        let response = self
            .client
            .request(http)
            .await
            .map_err(|e| format!("{}: {}", what(), error_chain(&e)))?;
        let status = response.status();
        // Read the answer whole so the connection goes back to the pool.
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            Err(format!("{}: {status} {}", what(), text.trim()))
        }
    }

    fn build(&self, uri: &Uri, request: otlp::Outgoing) -> Result<Request<Full<Bytes>>, String> {
        let content_type = if request.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, content_type);
        if request.gzip {
            builder = builder.header(CONTENT_ENCODING, "gzip");
        }
        builder = builder.header(HOST, host_header(uri)?);
        for (name, value) in &self.config.headers {
            builder = builder.header(name, value);
        }
        let http = builder
            .body(request.body)
            .map_err(|e| format!("request to {}: {e}", shown(uri)))?;
        let http = self.sign(request.signal, http)?;
        Ok(http.map(Full::new))
    }

    #[cfg(feature = "sigv4")]
    fn sign(&self, signal: Signal, mut http: Request<Bytes>) -> Result<Request<Bytes>, String> {
        if let (Some((service, region)), Some(credentials)) =
            (&self.signing[signal as usize], &self.credentials)
        {
            sigv4::sign(
                &mut http,
                credentials,
                service,
                region,
                std::time::SystemTime::now(),
            )?;
        }
        Ok(http)
    }

    #[cfg(not(feature = "sigv4"))]
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn sign(&self, _signal: Signal, http: Request<Bytes>) -> Result<Request<Bytes>, String> {
        Ok(http)
    }
}

#[cfg(feature = "tls")]
fn connector() -> Result<Connector, String> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("TLS set-up: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

#[cfg(not(feature = "tls"))]
#[allow(clippy::unnecessary_wraps)]
fn connector() -> Result<Connector, String> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Ok(http)
}

/// `uri` without user information or query, for log lines.
pub(crate) fn shown(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{}", uri.path())
}

/// An error with its sources, which is where hyper says "connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
