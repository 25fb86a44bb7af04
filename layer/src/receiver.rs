//! The OTLP/HTTP receiver the function exports to (`localhost:4318` by default), and the end
//! of the function's flush.
//!
//! An export is answered as soon as its bytes are buffered: the function's flush costs one
//! loopback exchange, whatever the backend's latency. The bytes are kept as sent (protobuf or
//! JSON, gzip or not) and forwarded unchanged. Every accepted export is answered with
//! `lambda-otel-extension: 1`, which tells lambda-otel to send
//! `POST /lambda-otel/v1/invocations/{id}/flushed` once an invocation's flush is over: the
//! extension then forwards and calls `/next` without waiting for the Telemetry API (see
//! `layer/README.md`). On Lambda Managed Instances there is no `INVOKE` to end, so the header
//! is left out and the function sends no marks.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::config::{Config, Signal};
use crate::state::{Batch, Shared};

/// The header on every answer, and the protocol version it announces.
pub(crate) const EXTENSION_HEADER: &str = "lambda-otel-extension";
const PROTOCOL_VERSION: &str = "1";
/// `{MARK_PREFIX}{request id}{MARK_SUFFIX}`: the function's flush of that invocation is over.
const MARK_PREFIX: &str = "/lambda-otel/v1/invocations/";
const MARK_SUFFIX: &str = "/flushed";

type Reply = Response<Full<Bytes>>;

/// Serves `listener` until the process ends.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, config: Arc<Config>) {
    crate::server::serve("receiver", listener, move |req| {
        let (shared, config) = (Arc::clone(&shared), Arc::clone(&config));
        async move { handle(req, &shared, &config).await }
    })
    .await;
}

async fn handle(req: Request<Incoming>, shared: &Shared, config: &Config) -> Reply {
    let path = req.uri().path();
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    if let Some(id) = path
        .strip_prefix(MARK_PREFIX)
        .and_then(|rest| rest.strip_suffix(MARK_SUFFIX))
    {
        shared.mark(&percent_decode(id));
        return reply(StatusCode::NO_CONTENT, "");
    }
    let Some(signal) = Signal::from_path(path) else {
        return reply(StatusCode::NOT_FOUND, "not an OTLP/HTTP path");
    };
    let json = match media_type(&req) {
        Some("application/x-protobuf") => false,
        Some("application/json") => true,
        _ => {
            return reply(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/x-protobuf or application/json",
            );
        }
    };
    let gzip = match req.headers().get(CONTENT_ENCODING).map(HeaderValue::to_str) {
        None | Some(Ok("identity")) => false,
        Some(Ok("gzip")) => true,
        _ => {
            return reply(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-encoding must be gzip",
            );
        }
    };
    // A body larger than the whole buffer can never be held: refused like a full buffer.
    let body = match Limited::new(req.into_body(), config.buffer_bytes)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            shared.refuse_unread();
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body not read: {e}"),
            );
        }
    };
    let announce = !config.managed_instances;
    if config.endpoint(signal).is_none() {
        shared.unrouted();
        return accepted(json, announce);
    }
    let batch = Batch {
        signal,
        json,
        gzip,
        body,
        received: Instant::now(),
    };
    if shared.push(batch) {
        accepted(json, announce)
    } else {
        reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "lambda-otel-extension: buffer full, export dropped",
        )
    }
}

/// The content type without parameters (`application/json; charset=utf-8` → `application/json`).
fn media_type<B>(req: &Request<B>) -> Option<&str> {
    let value = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or(value).trim())
}

/// OTLP's success answer: an empty `Export*ServiceResponse` in the request's encoding, with the
/// protocol header when marks are wanted.
fn accepted(json: bool, announce: bool) -> Reply {
    let (content_type, body) = if json {
        ("application/json", Bytes::from_static(b"{}"))
    } else {
        ("application/x-protobuf", Bytes::new())
    };
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if announce {
        response
            .headers_mut()
            .insert(EXTENSION_HEADER, HeaderValue::from_static(PROTOCOL_VERSION));
    }
    response
}

fn reply(status: StatusCode, message: &str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(message.as_bytes())));
    *response.status_mut() = status;
    response
}

/// `%XX` decoded; an id that does not decode is kept as written (request ids are plain ASCII).
fn percent_decode(value: &str) -> String {
    crate::config::percent_decode(value).unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb-c"), "a/b-c");
        assert_eq!(percent_decode("plain-1234"), "plain-1234");
        assert_eq!(percent_decode("bad%zz%"), "bad%zz%");
    }

    #[test]
    fn media_types_lose_their_parameters() {
        let req = Request::builder()
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(())
            .expect("request");
        assert_eq!(media_type(&req), Some("application/json"));
    }
}
