//! The Extensions API (register, next) and the Telemetry API subscription, over the
//! `AWS_LAMBDA_RUNTIME_API` address; the event and record types are `lambda-extension`'s.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_extension::NextEvent;

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";
const TELEMETRY: &str = "/2022-07-01/telemetry";
const NAME_HEADER: &str = "Lambda-Extension-Name";
const ID_HEADER: &str = "Lambda-Extension-Identifier";
/// Lambda's smallest buffering: records reach the listener 25 ms after they happen at best.
pub(crate) const TELEMETRY_TIMEOUT_MS: u32 = 25;

/// A registered extension's connection to the Extensions API.
#[derive(Debug, Clone)]
pub(crate) struct ExtensionsApi {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    id: String,
}

impl ExtensionsApi {
    /// Registers `name` (the file name, as Lambda requires) for `events`.
    pub(crate) async fn register(
        runtime_api: &str,
        name: &str,
        events: &[&str],
    ) -> Result<Self, String> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let base = format!("http://{runtime_api}");
        let body = serde_json::json!({ "events": events }).to_string();
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{base}{REGISTER}"))
            .header(NAME_HEADER, name)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("register request: {e}"))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("register: {e}"))?;
        let status = response.status();
        let id = response
            .headers()
            .get(ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read(response.into_body()).await;
        match id {
            Some(id) if status.is_success() => Ok(Self { client, base, id }),
            _ => Err(format!("register for {events:?}: {status} {body}")),
        }
    }

    /// Waits for the next event (held by Lambda while the environment is frozen).
    pub(crate) async fn next(&self) -> Result<NextEvent, String> {
        let (status, body) = self.call(Method::GET, NEXT, None).await?;
        if !status.is_success() {
            return Err(format!("next: {status} {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("next: unreadable event {body:?}: {e}"))
    }

    /// Subscribes `uri` to the platform records with Lambda's shortest buffering.
    pub(crate) async fn subscribe_telemetry(&self, uri: &str) -> Result<(), String> {
        let body = serde_json::json!({
            "schemaVersion": "2022-12-13",
            "types": ["platform"],
            "buffering": { "maxItems": 1000, "maxBytes": 262_144, "timeoutMs": TELEMETRY_TIMEOUT_MS },
            "destination": { "protocol": "HTTP", "URI": uri },
        });
        let (status, body) = self
            .call(Method::PUT, TELEMETRY, Some(body.to_string()))
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("telemetry subscription: {status} {body}"))
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, String), String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(ID_HEADER, &self.id);
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|e| format!("{path}: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        Ok((status, read(response.into_body()).await))
    }
}

async fn read(body: hyper::body::Incoming) -> String {
    match body.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => format!("(unreadable body: {e})"),
    }
}
