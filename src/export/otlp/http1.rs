//! One HTTP/1.1 exchange over a kept-alive TCP connection: what an export to a plain `http://`
//! collector needs, and no more. A request's head is written once per client ([`Target`]);
//! each export writes it, its own few headers and its body as they are (one vectored write, no
//! copy of the body); the answer is read until its end, by `Content-Length`, by chunks (read on
//! from the chunks already read after each read, each chunk line bounded), or to the
//! connection's close, within bounds. A connection goes back to its [`Idle`] list when the
//! answer left it usable (HTTP/1.1, no `Connection: close`, read to its end, nothing after it).
//!
//! Why not hyper's client, which serves `https` endpoints (`http_client`): for one request at a
//! time to a collector on loopback, the request built as an `http::Request` and its headers
//! merged per export, hyper's pool, its connection task (two wake-ups per exchange) and its
//! codec cost about 9 µs of every flush on the function's CPU, after the response (A/B in the
//! benchmark, README, Performance).
//!
//! A connection kept between invocations may have been closed by the collector meanwhile (an
//! idle timeout, a restart; Lambda's freeze stops the clock, not the collector). Before a kept
//! connection is used, a read that finds it closed drops it; and an exchange on a kept
//! connection that fails before any byte of the answer came is made again, once, on a new
//! connection, if the request is small enough to have been kept ([`MAX_RESENT`]): a larger one
//! is dropped once written, so that exports waiting for a collector that does not answer hold
//! none of their bytes. A new connection's failure is the export's. The one resend is for a
//! collector that closed an idle connection as the request came, before reading it; one that
//! read the request and then closed without an answer gets it twice (hyper's client, which
//! resends only what it never wrote, would have failed the export instead).

use super::http_client::Failure;
use bytes::Bytes;
use opentelemetry_http::{Request, Response};
use std::io;
use std::sync::{Mutex, PoisonError};
use tokio::net::TcpStream;

/// What an answer's head may weigh, and how many fields it may have.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// Connections kept per list: one client's exports may overlap (a flush's and a background
/// one, or the deadline guard's).
const MAX_IDLE: usize = 4;
/// Room for each read of the answer.
const READ_BYTES: usize = 4096;
/// The largest request kept after it is written, to be sent once more on a new connection if
/// the kept one it went out on turns out closed (see [`exchange_on`]).
const MAX_RESENT: usize = 64 * 1024;

/// Where requests go, and the start of every request there: its line, `Host` and the headers
/// every request carries, written once.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// A name or an address (IPv6 without its brackets).
    host: Box<str>,
    port: u16,
    head: Vec<u8>,
}

impl Target {
    /// `method` to `uri` (its path and query), with `headers` (`Host` unless they have one,
    /// as the URI's authority; never their `Content-Length`, which each request sets); `None`
    /// for a URI without a host.
    pub(crate) fn new(
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Option<Self> {
        let authority = uri.authority()?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = Vec::with_capacity(256);
        line(
            &mut head,
            &[
                method.as_str().as_bytes(),
                b" ",
                target.as_bytes(),
                b" HTTP/1.1",
            ],
        );
        if !headers.contains_key(http::header::HOST) {
            line(&mut head, &[b"host: ", authority.as_str().as_bytes()]);
        }
        for (name, value) in headers {
            if name != http::header::CONTENT_LENGTH {
                line(
                    &mut head,
                    &[name.as_str().as_bytes(), b": ", value.as_bytes()],
                );
            }
        }
        Some(Self {
            host: host.into(),
            port: uri.port_u16().unwrap_or(80),
            head,
        })
    }

    /// The head of a request with a body of `body_len` bytes: the head written once, `more`
    /// headers, `Content-Length` and the empty line.
    pub(crate) fn head(&self, more: &[(&str, &[u8])], body_len: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.head.len() + 64);
        bytes.extend_from_slice(&self.head);
        for (name, value) in more {
            line(&mut bytes, &[name.as_bytes(), b": ", value]);
        }
        line(
            &mut bytes,
            &[b"content-length: ", body_len.to_string().as_bytes()],
        );
        line(&mut bytes, &[]);
        bytes
    }
}

fn line(bytes: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        bytes.extend_from_slice(part);
    }
    bytes.extend_from_slice(b"\r\n");
}

/// Connections kept alive for the next exchange, all opened on one Tokio runtime (a stream is
/// driven by the runtime that opened it: see `http_client::Pools`).
#[derive(Debug, Default)]
pub(crate) struct Idle {
    streams: Mutex<Vec<TcpStream>>,
}

impl Idle {
    /// `request` (its method, the path and query of its URI, its headers and its body) to the
    /// URI's authority, and the whole answer, its body at most `max_body` bytes.
    pub(crate) async fn exchange(
        &self,
        request: Request<Bytes>,
        max_body: usize,
    ) -> Result<Response<Bytes>, Failure> {
        let target = Target::new(request.method(), request.uri(), request.headers())
            .ok_or_else(|| Failure::Connect("the endpoint has no host".to_owned()))?;
        let body = request.into_body();
        let head = target.head(&[], body.len());
        self.send(&target, head, body, max_body).await
    }

    /// A request, `head` and `body`, to `target`; the whole answer, its body at most
    /// `max_body` bytes.
    pub(crate) async fn send(
        &self,
        target: &Target,
        head: Vec<u8>,
        body: Bytes,
        max_body: usize,
    ) -> Result<Response<Bytes>, Failure> {
        let mut outgoing = Outgoing { head, body };
        if let Some(stream) = self.take() {
            match exchange_on(&stream, outgoing, max_body).await {
                Ok((response, reusable)) => {
                    self.keep(stream, reusable);
                    return Ok(response);
                }
                // Closed by the collector as it was kept: once more, on a new connection.
                Err(Broken::BeforeAnswer(_, Some(again))) => outgoing = again,
                Err(Broken::BeforeAnswer(why, None) | Broken::During(why)) => {
                    return Err(Failure::Exchange(why));
                }
            }
        }
        let stream = connect(&target.host, target.port).await?;
        match exchange_on(&stream, outgoing, max_body).await {
            Ok((response, reusable)) => {
                self.keep(stream, reusable);
                Ok(response)
            }
            Err(Broken::BeforeAnswer(why, _) | Broken::During(why)) => Err(Failure::Exchange(why)),
        }
    }

    /// A kept connection that is still open, if there is one.
    fn take(&self) -> Option<TcpStream> {
        loop {
            let stream = self.lock().pop()?;
            // Open and quiet: nothing to read yet. Closed (a read of 0), or anything to read
            // before a request was sent: dropped.
            let mut probe = [0; 1];
            if matches!(stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            {
                return Some(stream);
            }
        }
    }

    fn keep(&self, stream: TcpStream, reusable: bool) {
        let mut idle = self.lock();
        if reusable && idle.len() < MAX_IDLE {
            idle.push(stream);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request on its way: its head and its body, written as they are (no copy of the body).
#[derive(Debug)]
struct Outgoing {
    head: Vec<u8>,
    body: Bytes,
}

impl Outgoing {
    fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }
}

/// How an exchange failed: before any byte of the answer came (on a kept connection, the
/// collector had closed it), with the request if it is kept for one more try; or after.
#[derive(Debug)]
enum Broken {
    BeforeAnswer(String, Option<Outgoing>),
    During(String),
}

/// A new connection to `host` (a name or an address) at `port`, Nagle off; each of its addresses in turn (no Happy Eyeballs, which needs a timer
/// the function's executor may not have). A name is looked up on Tokio's blocking threads, as
/// hyper's resolver does.
async fn connect(host: &str, port: u16) -> Result<TcpStream, Failure> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Failure::Dns(e.to_string()))?;
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Off or not, the exchange works; Nagle only delays it.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Failure::Refused,
        Some(e) => Failure::Connect(e.to_string()),
        None => Failure::Dns(format!("no address for {host}")),
    })
}

/// Writes `outgoing` and reads the answer; the response, and whether the connection may carry
/// another exchange. Once written, a request of more than [`MAX_RESENT`] bytes is dropped: an
/// export waiting for its answer holds none of its bytes (a hung collector with many exports
/// in flight would otherwise hold them all); a smaller one is kept until the answer starts,
/// so that a kept connection found closed then can carry it again on a new one.
async fn exchange_on(
    stream: &TcpStream,
    outgoing: Outgoing,
    max_body: usize,
) -> Result<(Response<Bytes>, bool), Broken> {
    if let Err(e) = write(stream, &outgoing).await {
        return Err(Broken::BeforeAnswer(e.to_string(), Some(outgoing)));
    }
    let mut kept = (outgoing.len() <= MAX_RESENT).then_some(outgoing);
    let mut buf = Vec::with_capacity(1024);
    let mut closed = false;
    // A chunked body's chunks read so far: each read goes on from there, not from the start.
    let mut chunks = Chunks::default();
    loop {
        if !buf.is_empty() || closed {
            match parse_from(&buf, closed, max_body, &mut chunks) {
                Parsed::Complete(response, reusable) => return Ok((response, reusable)),
                Parsed::Invalid(why) => return Err(Broken::During(why)),
                Parsed::Partial if closed => {
                    return Err(if buf.is_empty() {
                        let why = "the connection closed before the answer".to_owned();
                        Broken::BeforeAnswer(why, kept.take())
                    } else {
                        Broken::During("the connection closed during the answer".into())
                    });
                }
                Parsed::Partial => {}
            }
        }
        // Whatever the framing (an endless chunk-size line, endless informational answers),
        // no more than a head and twice the body's bound (its chunks' framing) is held.
        if buf.len() > MAX_HEAD_BYTES + 2 * max_body {
            return Err(Broken::During("an answer larger than its bound".into()));
        }
        // Read into the buffer's own room: an array here would be part of the future, and
        // copied with it through every layer of the export.
        let filled = buf.len();
        buf.resize(filled + READ_BYTES, 0);
        let read = stream.try_read(&mut buf[filled..]);
        buf.truncate(filled + *read.as_ref().unwrap_or(&0));
        let failed = match read {
            Ok(0) => {
                closed = true;
                continue;
            }
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match stream.readable().await {
                Ok(()) => continue,
                Err(e) => e,
            },
            Err(e) => e,
        };
        return Err(if buf.is_empty() {
            Broken::BeforeAnswer(failed.to_string(), kept.take())
        } else {
            Broken::During(failed.to_string())
        });
    }
}

/// Writes the head and the body, as many bytes of each as the socket takes at a time.
async fn write(stream: &TcpStream, outgoing: &Outgoing) -> io::Result<()> {
    let (head, body) = (&outgoing.head[..], &outgoing.body[..]);
    let mut written = 0;
    while written < head.len() + body.len() {
        let slices = if written < head.len() {
            [io::IoSlice::new(&head[written..]), io::IoSlice::new(body)]
        } else {
            [
                io::IoSlice::new(&body[written - head.len()..]),
                io::IoSlice::new(&[]),
            ]
        };
        match stream.try_write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What the bytes read so far make.
#[derive(Debug)]
enum Parsed {
    /// The whole answer, and whether the connection may carry another exchange.
    Complete(Response<Bytes>, bool),
    /// More bytes are needed.
    Partial,
    Invalid(String),
}

/// Reads an answer from `buf`, `closed` once the connection has no more to give. Informational
/// answers (`1xx`) before the final one are skipped.
#[cfg(test)]
fn parse(buf: &[u8], closed: bool, max_body: usize) -> Parsed {
    parse_from(buf, closed, max_body, &mut Chunks::default())
}

/// As `parse`, for a `buf` that only grew since the last call with these `chunks`: a chunked
/// body is read on from the chunks already read (a trickled answer is read once, not again
/// from its start after every read).
fn parse_from(mut buf: &[u8], closed: bool, max_body: usize, chunks: &mut Chunks) -> Parsed {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut fields);
        let head_len = match head.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Parsed::Invalid("the answer's head is too large".into());
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(e) => return Parsed::Invalid(format!("invalid answer: {e}")),
        };
        let status = head.code.unwrap_or(0);
        if (100..200).contains(&status) {
            if status == 101 {
                return Parsed::Invalid("the collector switched protocols".into());
            }
            buf = &buf[head_len..];
            if buf.is_empty() && !closed {
                return Parsed::Partial;
            }
            continue;
        }
        let rest = &buf[head_len..];
        let framing = match framing(status, head.headers) {
            Ok(framing) => framing,
            Err(why) => return Parsed::Invalid(why),
        };
        let (body, used) = match framing {
            Framing::Length(length) if length > max_body => {
                return Parsed::Invalid(format!("an answer of {length} bytes"));
            }
            Framing::Length(length) if rest.len() < length => return Parsed::Partial,
            Framing::Length(length) => (Bytes::copy_from_slice(&rest[..length]), length),
            Framing::Chunked | Framing::ChunkedThenClose => match dechunk(rest, max_body, chunks) {
                Ok(Some(used)) => (Bytes::from(std::mem::take(&mut chunks.body)), used),
                Ok(None) => return Parsed::Partial,
                Err(why) => return Parsed::Invalid(why),
            },
            Framing::ToClose if rest.len() > max_body => {
                return Parsed::Invalid("an answer larger than its bound".into());
            }
            Framing::ToClose if !closed => return Parsed::Partial,
            Framing::ToClose => (Bytes::copy_from_slice(rest), rest.len()),
        };
        let close = head
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("connection") && has_token(h.value, "close"));
        // Bytes after the answer: nothing to pair them with.
        let reusable = head.version == Some(1)
            && !close
            && !matches!(framing, Framing::ToClose | Framing::ChunkedThenClose)
            && used == rest.len();
        let mut response = http::Response::builder().status(status);
        for h in head.headers.iter() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(h.name.as_bytes()),
                http::HeaderValue::from_bytes(h.value),
            ) {
                response = response.header(name, value);
            }
        }
        return match response.body(body) {
            Ok(response) => Parsed::Complete(response, reusable),
            Err(e) => Parsed::Invalid(format!("invalid answer: {e}")),
        };
    }
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    /// Chunks, with a length beside them: read by the chunks, the connection not kept.
    ChunkedThenClose,
    /// At the connection's close (no length, no chunks).
    ToClose,
}

fn framing(status: u16, headers: &[httparse::Header<'_>]) -> Result<Framing, String> {
    // RFC 9112: a length beside chunks is a sign of smuggling; the answer is read by its
    // chunks and the connection not used again.
    if status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let value = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if let Some(codings) = value("transfer-encoding").next_back() {
        // Chunked must be the last coding; any other ends at the close.
        let last = codings.rsplit(|&b| b == b',').next().unwrap_or_default();
        return Ok(if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Framing::ToClose
        } else if value("content-length").next().is_some() {
            Framing::ChunkedThenClose
        } else {
            Framing::Chunked
        });
    }
    let mut lengths = value("content-length").map(|v| {
        let v = v.trim_ascii();
        (!v.is_empty() && v.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
            .flatten()
    });
    match lengths.next() {
        None => Ok(Framing::ToClose),
        Some(Some(length)) if lengths.all(|other| other == Some(length)) => {
            Ok(Framing::Length(length))
        }
        Some(_) => Err("invalid content-length in the answer".into()),
    }
}

/// The longest chunk-size or trailer line read: past it, the answer is refused (a line that
/// never ends would otherwise be searched again after every read).
const MAX_CHUNK_LINE: usize = 4096;

/// The chunks of a body read so far: the bytes of `buf` they took, and their data.
#[derive(Debug, Default)]
struct Chunks {
    at: usize,
    body: Vec<u8>,
}

/// A chunked body from `buf`, read on from `chunks` (which keeps every whole chunk read): the
/// bytes the body took (trailers included) once it is complete, its data then in
/// `chunks.body`; `None` while incomplete.
fn dechunk(buf: &[u8], max_body: usize, chunks: &mut Chunks) -> Result<Option<usize>, String> {
    let Chunks { at: done, body } = chunks;
    let mut at = *done;
    loop {
        let Some(end) = line_end(&buf[at..])? else {
            return Ok(None);
        };
        let line = &buf[at..at + end];
        let size = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = size.trim_ascii_end();
        let size = (!size.is_empty() && size.iter().all(u8::is_ascii_hexdigit))
            .then(|| std::str::from_utf8(size).ok())
            .flatten()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| "invalid chunk size in the answer".to_owned())?;
        at += end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = line_end(&buf[at..])? else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some(at));
                }
            }
        }
        // Nothing below can overflow: `size` is at most the bound.
        if size > max_body.saturating_sub(body.len()) {
            return Err("an answer larger than its bound".into());
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err("invalid chunk in the answer".into());
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
        *done = at;
    }
}

/// Where the line at the start of `buf` ends (its CRLF); `None` while it may still come.
fn line_end(buf: &[u8]) -> Result<Option<usize>, String> {
    let searched = &buf[..buf.len().min(MAX_CHUNK_LINE + 2)];
    match searched.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some(end)),
        None if buf.len() > MAX_CHUNK_LINE + 1 => Err("a chunk line too long in the answer".into()),
        None => Ok(None),
    }
}

/// Whether a comma-separated header value has `token` (any case).
fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
mod tests;
