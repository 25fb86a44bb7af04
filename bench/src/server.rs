//! A loopback HTTP/1.1 server on its own tasks, stopped when its handle is dropped.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What every handler answers.
pub type Reply = Response<Full<Bytes>>;

/// A response with a status, a content type and a body.
pub fn reply(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if !content_type.is_empty() {
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
    }
    response
}

/// A running server; dropping it stops the listener and every connection.
pub struct Server {
    addr: SocketAddr,
    _tasks: JoinSet<()>,
}

impl Server {
    /// Listens on `127.0.0.1` at a free port and answers every request with `handle`.
    pub async fn start<H, F>(handle: H) -> io::Result<Self>
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Reply> + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let handle = Arc::new(handle);
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            // Connections live in their own set, dropped (and aborted) with the accept loop.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                // Both ends are on loopback; small requests must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let handle = Arc::clone(&handle);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let reply = handle(req);
                        async move { Ok::<_, Infallible>(reply.await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            _tasks: tasks,
        })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
