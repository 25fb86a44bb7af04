//! For tests that read EMF lines from a function's stdout: the strict check of a line against
//! CloudWatch's specification (the unit tests' own, included from the crate's source), and a
//! proxy in front of the loopback Runtime API that marks every `/next` poll on stdout.
//!
//! The proxy prints its marker when the poll reaches it, before forwarding it, so the runtime
//! cannot start event n+1 before marker n+1 is on stdout: a line of invocation n that comes
//! after marker n+1 was written after the runtime asked for the next event.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::{Reply, reply, serve};

/// The crate's checker, so the integration tests read the specification as the unit tests do.
#[path = "../../src/export/emf/tests/spec.rs"]
pub mod spec;

/// Starts the marker line of `/next` poll n (`emf-test-next-poll n`).
pub const NEXT_MARKER: &str = "emf-test-next-poll";

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";

/// A Runtime API proxy that prints [`NEXT_MARKER`] lines.
pub struct PollMarker {
    addr: SocketAddr,
}

impl PollMarker {
    /// Starts the proxy on its own thread, forwarding every request to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let polls = Arc::new(AtomicUsize::new(0));
        let addr = serve("runtime-api-poll-marker", move |req| {
            forward(upstream, Arc::clone(&polls), req)
        });
        Self { addr }
    }

    /// Where the proxy listens: the `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn forward(upstream: SocketAddr, polls: Arc<AtomicUsize>, req: Request<Incoming>) -> Reply {
    if req.method() == Method::GET && req.uri().path() == NEXT_PATH {
        let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
        // One locked write of the whole line, like the exporter's.
        println!("{NEXT_MARKER} {n}");
    }
    match send(upstream, req).await {
        Ok(response) => response,
        Err(e) => reply(502, None, format!("runtime-api-poll-marker: {e}")),
    }
}

async fn send(upstream: SocketAddr, req: Request<Incoming>) -> Result<Reply, String> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
