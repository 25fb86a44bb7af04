//! The function's side of the lambda-otel extension's protocol (v1).
//!
//! The extension (`layer/`) receives the function's OTLP/HTTP exports on localhost and
//! answers every accepted one with a 2xx and `lambda-otel-extension: 1`. Once an answer
//! carried that header, the process remembers the origin (scheme, host, port) that sent it,
//! and the flush that ends each invocation sends it one more request when every signal's
//! export is over: `POST /lambda-otel/v1/invocations/{request-id}/flushed`, empty body. The
//! extension can then ask Lambda for its next event at once, instead of waiting for the
//! Telemetry API's `platform.runtimeDone`, which arrives 25 ms or more later.
//!
//! Until the first successful answer, every flush carries its invocation's request id to the
//! export thread, which looks for the extension once the exports are over: the first
//! invocation is marked too. After an answer without the header, deciding that no mark is
//! due costs the flush one atomic load.
//!
//! The extension is remembered with the HTTP client whose export saw the header, so the mark
//! goes out on that client's pooled keep-alive connection, already open from the export: one
//! loopback request, no new connection. When and how long to wait for the answer is the
//! flush's decision; this module only makes and sends the request.

use super::USER_AGENT;
use super::http_client::{Failure, Pools, is_plain};
use bytes::Bytes;
use opentelemetry_http::Request;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// The header with which the extension answers an accepted export...
pub(super) const HEADER: &str = "lambda-otel-extension";
/// ...and the protocol version this crate speaks, its only accepted value.
const VERSION: &[u8] = b"1";

/// What an answer to a mark may weigh: the extension sends none (204).
const MAX_RESPONSE_BYTES: usize = 4096;

/// The extension, once an export's answer announced it: a process-wide fact, kept for the
/// life of the process (the first origin that announced it, if several ever did).
static DETECTED: OnceLock<Extension> = OnceLock::new();

/// The lambda-otel extension, found by an export's answer.
pub(crate) struct Extension {
    /// `scheme://host:port`, where the marks go.
    origin: Box<str>,
    client: Pools,
    /// Whether the origin is plain `http`, decided once: the marks then go through our own
    /// exchange, on the connection the exports keep alive.
    plain: bool,
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What the process knows of the extension, in one byte: what the flush reads, once, to decide
/// whether the invocation's end may need a mark.
static PRESENCE: AtomicU8 = AtomicU8::new(NO_CLIENT);
/// No OTLP/HTTP client was built: nothing could find the extension.
const NO_CLIENT: u8 = 0;
/// An OTLP/HTTP client was built and none of its exports was answered yet.
const UNANSWERED: u8 = 1;
/// A successful answer came without the header, and none with it yet.
const NOT_ANNOUNCED: u8 = 2;
/// An answer announced the extension: [`DETECTED`] holds it.
const ANNOUNCED: u8 = 3;

/// Whether the extension is there, as far as the process knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Not found, and nothing suggests it will be: no OTLP/HTTP exporter, or a successful
    /// answer without the header.
    Absent,
    /// No OTLP/HTTP export has been answered yet: the flush under way may find it.
    Unknown,
    /// Found: [`detected`] returns it.
    Present,
}

/// What the process knows of the extension. One atomic load.
pub(crate) fn presence() -> Presence {
    match PRESENCE.load(Ordering::Acquire) {
        UNANSWERED => Presence::Unknown,
        ANNOUNCED => Presence::Present,
        _ => Presence::Absent,
    }
}

/// The extension, if an export's answer announced it. One atomic load.
pub(crate) fn detected() -> Option<&'static Extension> {
    DETECTED.get()
}

/// An OTLP/HTTP client was built: its answers may announce the extension.
pub(super) fn client_built() {
    let _ = PRESENCE.compare_exchange(NO_CLIENT, UNANSWERED, Ordering::AcqRel, Ordering::Acquire);
}

/// Whether a successful export's answer carried `header` (the value of [`HEADER`]) with the
/// version this crate speaks.
pub(super) fn announces(header: Option<&[u8]>) -> bool {
    header.is_some_and(|value| value.trim_ascii() == VERSION)
}

/// Remembers the extension at `origin`, reached by `client`, unless one was already found.
pub(super) fn found(origin: &str, client: &Pools) {
    let _ = DETECTED.set(Extension {
        origin: origin.into(),
        client: client.clone(),
        plain: is_plain(origin),
    });
    PRESENCE.store(ANNOUNCED, Ordering::Release);
}

/// A successful answer did not announce the extension: unless another one did, the flushes
/// stop preparing a mark. A later answer with the header still finds it.
pub(super) fn not_announced() {
    if PRESENCE.load(Ordering::Relaxed) != UNANSWERED {
        return;
    }
    let _ = PRESENCE.compare_exchange(
        UNANSWERED,
        NOT_ANNOUNCED,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

impl Extension {
    /// Tells the extension that the telemetry of `request_id` is out. The error says what
    /// failed and where. Unbounded here: the flush cancels it at its deadline.
    pub(crate) async fn mark_flushed(&self, request_id: &str) -> Result<(), String> {
        let url = format!("{}{}", self.origin, mark_path(request_id));
        let request = Request::builder()
            .method("POST")
            .uri(url.as_str())
            .header("user-agent", USER_AGENT)
            .body(Bytes::new())
            .map_err(|e| format!("cannot make the request to {url}: {e}"))?;
        let response = if self.plain {
            let idle = self.client.idle_here();
            idle.exchange(request, MAX_RESPONSE_BYTES).await
        } else {
            self.client.exchange_tls(request, MAX_RESPONSE_BYTES).await
        };
        let status = response.map_err(|failure| failure.describe(&url))?.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Status(status.as_u16()).describe(&url))
        }
    }
}

/// The mark's path for `request_id`, every byte but `[A-Za-z0-9-]` percent-encoded (Lambda's
/// request ids are UUIDs, which pass as they are).
fn mark_path(request_id: &str) -> String {
    const PREFIX: &str = "/lambda-otel/v1/invocations/";
    const SUFFIX: &str = "/flushed";
    let mut path = String::with_capacity(PREFIX.len() + request_id.len() + SUFFIX.len());
    path.push_str(PREFIX);
    for byte in request_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            path.push(char::from(byte));
        } else {
            let _ = write!(path, "%{byte:02X}");
        }
    }
    path.push_str(SUFFIX);
    path
}

/// The origin of `endpoint`, with its port: `http://127.0.0.1:4318` for
/// `http://127.0.0.1:4318/v1/traces`, `https://collector:443` for `https://collector/v1/logs`.
/// `None` for an endpoint the settings would refuse.
pub(super) fn origin(endpoint: &str) -> Option<Box<str>> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // An IPv6 address has colons of its own: a port comes after its `]`.
    let host_end = authority.rfind(']').unwrap_or(0);
    let origin = if authority[host_end..].contains(':') {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}:{default_port}")
    };
    Some(origin.into())
}

#[cfg(test)]
mod tests {
    use super::super::http_client::Connectors;
    use super::*;

    #[test]
    fn only_version_1_announces_the_extension() {
        assert!(announces(Some(b"1")));
        assert!(announces(Some(b" 1 ")));
        for other in [&b"2"[..], b"", b"true", b"10"] {
            assert!(!announces(Some(other)), "{other:?}");
        }
        assert!(!announces(None));
    }

    #[test]
    fn a_uuid_goes_as_it_is_and_anything_else_is_percent_encoded() {
        assert_eq!(
            mark_path("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            "/lambda-otel/v1/invocations/8476a536-e9f4-11e8-9739-2dfe598c3fcd/flushed"
        );
        assert_eq!(
            mark_path("a/b c?#%_.~é"),
            "/lambda-otel/v1/invocations/a%2Fb%20c%3F%23%25%5F%2E%7E%C3%A9/flushed"
        );
    }

    #[test]
    fn the_origin_has_the_scheme_host_and_port_of_the_endpoint() {
        for (endpoint, expected) in [
            (
                "http://127.0.0.1:4318/v1/traces",
                Some("http://127.0.0.1:4318"),
            ),
            ("http://localhost:4318", Some("http://localhost:4318")),
            ("HTTP://localhost/v1/logs", Some("http://localhost:80")),
            (
                "https://collector/v1/logs?x=1",
                Some("https://collector:443"),
            ),
            ("http://[::1]:4318/v1/metrics", Some("http://[::1]:4318")),
            ("http://[::1]/v1/metrics", Some("http://[::1]:80")),
            ("http://user:secret@collector:4318", None),
            ("ftp://collector", None),
            ("collector:4318", None),
        ] {
            assert_eq!(origin(endpoint).as_deref(), expected, "{endpoint}");
        }
    }

    /// A server that answers one request with `status` and says which path it got.
    async fn one_answer(status: u16) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("a connection");
            let mut head = Vec::new();
            let mut buf = [0; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.expect("the request");
                assert!(n > 0, "the request ended early");
                head.extend_from_slice(&buf[..n]);
            }
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.expect("answered");
            let head = String::from_utf8_lossy(&head).into_owned();
            head.lines().next().unwrap_or_default().to_owned()
        });
        (origin, server)
    }

    fn extension(origin: &str) -> Extension {
        Extension {
            origin: origin.into(),
            client: Pools::new(
                Connectors::default()
                    .connector(origin)
                    .expect("a connector"),
            ),
            plain: super::is_plain(origin),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_mark_is_an_empty_post_to_the_invocation_s_path() {
        let (origin, server) = one_answer(204).await;
        let marked = extension(&origin).mark_flushed("req_1").await;
        assert_eq!(marked, Ok(()));
        assert_eq!(
            server.await.expect("the server ran"),
            "POST /lambda-otel/v1/invocations/req%5F1/flushed HTTP/1.1"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_mark_refused_says_the_status_and_where() {
        let (origin, server) = one_answer(404).await;
        let marked = extension(&origin).mark_flushed("req-1").await;
        server.await.expect("the server ran");
        assert_eq!(
            marked,
            Err(format!(
                "HTTP status 404 from {origin}/lambda-otel/v1/invocations/req-1/flushed"
            ))
        );
    }
}
