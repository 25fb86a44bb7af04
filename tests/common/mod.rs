//! Shared integration-test harness: a loopback Lambda Runtime API, a loopback
//! OTLP/HTTP receiver, and the [`timeline::Timeline`] both record into.
//!
//! Each server runs on its own OS thread with its own tokio runtime, so it
//! keeps answering even while the function under test blocks or runs on a
//! `current_thread` runtime that nobody is polling. Servers bind 127.0.0.1:0
//! and live until the test process exits (cargo-nextest runs one test per
//! process).
//!
//! Items are reached through their module (`common::runtime_api::RuntimeApi`)
//! rather than re-exported, because an unused re-export would warn in every
//! test file that does not need it.

// Each test file uses a different subset of the harness.
#![allow(dead_code)]

pub mod backends;
pub mod child;
pub mod emf;
mod environment;
pub mod extension_process;
mod extensions_api;
pub mod function;
pub mod otlp;
mod platform;
pub mod runtime_api;
pub mod telemetry_api;
pub mod timeline;
#[cfg(feature = "tls")]
pub mod tls;
pub mod xray;

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// The response type every loopback handler produces.
type Reply = Response<Full<Bytes>>;

/// Binds 127.0.0.1:0 and serves HTTP/1.1 with `handler` on a dedicated thread
/// named `name`, returning the bound address at once.
///
/// Binding happens on the caller's thread so the address is known (and the
/// port already accepting) before this returns: no start-up handshake needed.
fn serve<H, F>(name: &str, handler: H) -> SocketAddr
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let thread_name = name.to_owned();
    spawn_server(name, move |listener| async move {
        accept_loop(&thread_name, listener, handler).await;
    })
}

/// Binds 127.0.0.1:0 on the caller's thread, then runs `server` with the listener on a
/// dedicated thread named `name` (its own current-thread runtime); returns the bound address.
pub fn spawn_server<S, F>(name: &str, server: S) -> SocketAddr
where
    S: FnOnce(std::net::TcpListener) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("{name}: cannot bind 127.0.0.1:0: {e}"));
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    listener
        .set_nonblocking(true)
        .expect("tokio needs a non-blocking listener");
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server tokio runtime");
            runtime.block_on(server(listener));
        })
        .unwrap_or_else(|e| panic!("{name}: cannot spawn server thread: {e}"));
    addr
}

async fn accept_loop<H, F>(name: &str, listener: std::net::TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener into tokio");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("{name}: accept failed: {e}");
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reply = handler(req);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            // A client that goes away mid-request is expected here (tests end
            // by aborting the runtime while its `/next` is held), so the
            // connection's error carries no information.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A response with `status`, optional content type and `body`.
fn reply(status: u16, content_type: Option<&str>, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).expect("valid HTTP status code");
    if let Some(content_type) = content_type {
        let value = content_type
            .parse()
            .expect("valid content-type header value");
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}
