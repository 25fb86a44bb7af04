//! The plain-HTTP client of the OTLP/HTTP exporters (without the `tls` feature): hyper's
//! HTTP/1.1 client, which lambda_runtime already links, so it adds little to the binary.
//! (opentelemetry-http's own hyper client also pulls in HTTP/2, about 0.9 MB, for a collector
//! that speaks HTTP/1.1 on loopback.)

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use std::time::Duration;

/// What a collector's answer may weigh (an OTLP response is a few bytes, or a status message).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The client: one pooled keep-alive connection per collector, Nagle off (an export is one
/// small request; waiting for an ACK before its tail is sent would delay every flush).
#[derive(Debug, Clone)]
pub(crate) struct PlainHttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl PlainHttpClient {
    /// Every request, connection included, is cancelled after `timeout` (the flush also bounds
    /// it, by the invocation's deadline).
    pub(crate) fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for PlainHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
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
