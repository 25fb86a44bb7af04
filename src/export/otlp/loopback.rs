//! A loopback collector for the HTTP client's tests: it answers each request from a script,
//! and counts the connections it was given and the requests it read.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback collector that answers the `n`th request of each connection (from 0) with
/// `answer(n)`, then closes the connection if `close(n)`; it counts connections and requests.
pub(crate) struct Collector {
    pub endpoint: String,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
}

pub(crate) fn collector(answer: fn(usize) -> &'static [u8], close: fn(usize) -> bool) -> Collector {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().expect("bound"));
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (counted, served) = (Arc::clone(&connections), Arc::clone(&requests));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let served = Arc::clone(&served);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("a clone"));
                let mut stream = stream;
                for n in 0.. {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(value) = lower.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    served.fetch_add(1, Ordering::SeqCst);
                    if stream.write_all(answer(n)).is_err() || close(n) {
                        return;
                    }
                }
            });
        }
    });
    Collector {
        endpoint,
        connections,
        requests,
    }
}
