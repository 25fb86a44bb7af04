//! The real backends `scripts/setup-backends.sh` builds from their own Go modules: Jaeger v2
//! ([`jaeger::Jaeger`]) and an OpenTelemetry Collector ([`collector::Collector`]). Each test
//! runs its own, as a child process with a configuration from `backends/`, listening on
//! 127.0.0.1 ports picked for it, killed when its handle drops (a panicking test's too;
//! cargo-nextest runs each test in a process group of its own, so a test killed on timeout
//! takes them along).
//!
//! The binaries are found in `.backends/bin/`, or where `LAMBDA_OTEL_TEST_JAEGER` and
//! `LAMBDA_OTEL_TEST_OTELCOL` say; a missing one fails the test with the command that builds it.
//!
//! Two waits, each polled within a bound: readiness ([`START_BOUND`]: a health endpoint, a log
//! line) and data ([`DATA_BOUND`]: a backend stores what it received a little after answering
//! the export, and a collector forwards it later still).

pub mod collector;
pub mod jaeger;
pub mod otlp_json;
mod process;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most a backend may take to start (Go binaries of 40 to 85 MB, on a busy 2-core machine).
pub const START_BOUND: Duration = Duration::from_secs(60);
/// The most data may take to become visible in a backend after the function exported it.
pub const DATA_BOUND: Duration = Duration::from_secs(30);
/// Time between two polls.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// Polls `probe` until it returns `Some`, for at most `bound`; `None` once `bound` has passed.
pub fn poll<T>(bound: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if start.elapsed() >= bound {
            return None;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// The backend binary `file` of `.backends/bin/`, or the path in `var`. Panics, saying how to
/// build it, when it is missing: these tests never pass without their backends.
fn binary(var: &str, file: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(
        || repository().join(".backends/bin").join(file),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{file} not found at {}: run scripts/setup-backends.sh first (it builds Jaeger and the \
         OpenTelemetry Collector into .backends/bin; {var} overrides the path)",
        path.display()
    );
    path
}

/// The configuration file `name` of `backends/`.
fn config(name: &str) -> PathBuf {
    repository().join("backends").join(name)
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `n` distinct TCP ports on 127.0.0.1 that were free a moment ago.
fn free_tcp_ports(n: usize) -> Vec<u16> {
    // All held at once, so the system hands out distinct ones.
    let listeners: Vec<_> = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free TCP port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_udp_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.0: the body ends with the connection, never chunked):
/// the status and the body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let bad = || std::io::Error::other(format!("not an HTTP response: {response:?}"));
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    Ok((status, body.to_owned()))
}
