use super::*;
use crate::export::otlp::loopback::{Collector, collector};
use std::io::{Read as _, Write as _};
use std::sync::atomic::Ordering;

const MAX: usize = 1 << 20;

fn complete(bytes: &[u8]) -> (Response<Bytes>, bool) {
    match parse(bytes, false, MAX) {
        Parsed::Complete(response, reusable) => (response, reusable),
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

fn invalid(bytes: &[u8], closed: bool) -> String {
    match parse(bytes, closed, MAX) {
        Parsed::Invalid(why) => why,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

fn partial(bytes: &[u8], closed: bool) -> bool {
    matches!(parse(bytes, closed, MAX), Parsed::Partial)
}

#[test]
fn an_answer_with_a_length_is_complete_at_its_last_byte() {
    let answer =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 3\r\n\r\nabc";
    for cut in 0..answer.len() {
        assert!(partial(&answer[..cut], false), "cut at {cut}");
    }
    let (response, reusable) = complete(answer);
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"abc");
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    assert!(reusable);
}

#[test]
fn a_chunked_answer_is_joined_extensions_and_trailers_skipped() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
        3;name=value\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n";
    for cut in 0..answer.len() {
        assert!(partial(&answer[..cut], false), "cut at {cut}");
    }
    let (response, reusable) = complete(answer);
    assert_eq!(response.body().as_ref(), b"abcde");
    assert!(reusable);
    assert!(
        invalid(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .contains("chunk size")
    );
    assert!(
        invalid(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
            false
        )
        .contains("chunk")
    );
}

#[test]
fn an_answer_without_a_length_ends_at_the_close_and_leaves_the_connection() {
    let answer = b"HTTP/1.1 200 OK\r\n\r\nthe body";
    assert!(partial(answer, false));
    match parse(answer, true, MAX) {
        Parsed::Complete(response, reusable) => {
            assert_eq!(response.body().as_ref(), b"the body");
            assert!(!reusable);
        }
        other => panic!("{other:?}"),
    }
    // Not chunked as the last coding: to the close as well.
    assert!(partial(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\nxyz",
        false
    ));
}

#[test]
fn what_leaves_a_connection_unusable() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
        // Bytes after the answer: nothing to pair them with.
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nab",
    ] {
        let (response, reusable) = complete(answer);
        assert_eq!(response.status(), 200);
        assert!(!reusable, "{:?}", String::from_utf8_lossy(answer));
    }
}

#[test]
fn informational_answers_are_skipped_and_no_content_has_no_body() {
    let (response, reusable) =
        complete(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    assert!(reusable);
    assert!(partial(b"HTTP/1.1 100 Continue\r\n\r\n", false));
    assert!(invalid(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", false).contains("switched"));
}

#[test]
fn lengths_that_disagree_or_exceed_the_bound_and_broken_heads_are_refused() {
    assert!(
        invalid(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
            false
        )
        .contains("content-length")
    );
    assert!(
        invalid(b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", false).contains("content-length")
    );
    let (response, _) =
        complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nab");
    assert_eq!(response.body().as_ref(), b"ab");
    match parse(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n", false, 10) {
        Parsed::Invalid(why) => assert!(why.contains("11 bytes"), "{why}"),
        other => panic!("{other:?}"),
    }
    match parse(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nb\r\n",
        false,
        10,
    ) {
        Parsed::Invalid(why) => assert!(why.contains("bound"), "{why}"),
        other => panic!("{other:?}"),
    }
    match parse(b"HTTP/1.1 200 OK\r\n\r\n01234567890", true, 10) {
        Parsed::Invalid(why) => assert!(why.contains("bound"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(invalid(b"SMTP ready\r\n\r\n", false).contains("invalid answer"));
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    endless.resize(MAX_HEAD_BYTES + 1, b'a');
    assert!(invalid(&endless, false).contains("too large"));
}

fn request(uri: &str, headers: &[(&str, &str)], body: &'static [u8]) -> Request<Bytes> {
    let mut builder = Request::builder().method("POST").uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Bytes::from_static(body)).expect("a request")
}

fn encoded(request: &Request<Bytes>, more: &[(&str, &[u8])]) -> String {
    let target = Target::new(request.method(), request.uri(), request.headers()).expect("a host");
    let mut bytes = target.head(more, request.body().len());
    bytes.extend_from_slice(request.body());
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_request_is_its_line_host_headers_length_and_body() {
    let sent = request(
        "http://127.0.0.1:4318/v1/traces?x=1",
        &[("user-agent", "dice/1"), ("content-length", "999")],
        b"body",
    );
    assert_eq!(
        encoded(&sent, &[("content-type", b"application/x-protobuf")]),
        "POST /v1/traces?x=1 HTTP/1.1\r\nhost: 127.0.0.1:4318\r\nuser-agent: dice/1\r\n\
         content-type: application/x-protobuf\r\ncontent-length: 4\r\n\r\nbody"
    );
    // A host among the headers is the one sent.
    let sent = request("http://10.0.0.1/", &[("host", "collector")], b"");
    assert_eq!(
        encoded(&sent, &[]),
        "POST / HTTP/1.1\r\nhost: collector\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn a_target_is_its_host_without_brackets_and_its_port_or_80() {
    let at = |uri: &str| {
        let target = Target::new(
            &http::Method::POST,
            &uri.parse().expect("a URI"),
            &http::HeaderMap::new(),
        );
        target.map(|t| (t.host.into_string(), t.port))
    };
    assert_eq!(
        at("http://[::1]:4318/v1/traces"),
        Some(("::1".to_owned(), 4318))
    );
    assert_eq!(
        at("http://collector/v1/traces"),
        Some(("collector".to_owned(), 80))
    );
    assert_eq!(at("/v1/traces"), None);
}

/// `exports` exchanges with `collector` through one list of kept connections, on a
/// `current_thread` runtime; the answers' statuses, or the failures.
fn export(collector: &Collector, exports: usize) -> Vec<Result<u16, Failure>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let idle = Idle::default();
    runtime.block_on(async {
        let mut statuses = Vec::new();
        for _ in 0..exports {
            let request = request(&collector.endpoint, &[], b"spans");
            let answered = idle.exchange(request, MAX).await;
            statuses.push(answered.map(|response| response.status().as_u16()));
        }
        statuses
    })
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

#[test]
fn one_kept_connection_carries_every_export() {
    let collector = collector(|_| OK, |_| false);
    assert_eq!(export(&collector, 3), [Ok(200), Ok(200), Ok(200)]);
    assert_eq!(collector.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn a_chunked_answer_keeps_the_connection_too() {
    let collector = collector(
        |_| b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        |_| false,
    );
    assert_eq!(export(&collector, 2), [Ok(200), Ok(200)]);
    assert_eq!(collector.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn an_answer_that_closes_the_connection_makes_the_next_export_open_one() {
    let collector = collector(
        |_| b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        |_| true,
    );
    assert_eq!(export(&collector, 2), [Ok(200), Ok(200)]);
    assert_eq!(collector.connections.load(Ordering::SeqCst), 2);
}

/// The collector closes the connection after its answer without saying so (an idle timeout
/// while the function was frozen): the next export still goes out, once, on a new connection.
#[test]
fn a_kept_connection_the_collector_closed_is_replaced() {
    let collector = collector(|_| OK, |_| true);
    assert_eq!(export(&collector, 3), [Ok(200), Ok(200), Ok(200)]);
    assert_eq!(collector.connections.load(Ordering::SeqCst), 3);
    assert_eq!(
        collector.requests.load(Ordering::SeqCst),
        3,
        "each request sent once"
    );
}

#[test]
fn a_status_is_an_answer_and_a_broken_one_a_failed_exchange() {
    let collector = collector(
        |n| match n {
            0 => b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy",
            // Closed before the body it announced.
            _ => b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\ntoo short",
        },
        |n| n == 1,
    );
    let got = export(&collector, 2);
    assert_eq!(got[0], Ok(503));
    assert_eq!(
        got[1],
        Err(Failure::Exchange(
            "the connection closed during the answer".into()
        ))
    );
    assert_eq!(collector.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn a_refused_connection_is_told_apart() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("bound");
    drop(listener);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let idle = Idle::default();
    let refused = runtime.block_on(idle.exchange(
        request(&format!("http://{address}/v1/traces"), &[], b""),
        MAX,
    ));
    assert_eq!(refused.err(), Some(Failure::Refused));
}

/// An IPv6 address in brackets, as a URI writes it.
#[test]
fn an_ipv6_collector_is_reached() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        return; // No IPv6 loopback on this machine.
    };
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("a connection");
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = stream.write_all(OK);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let idle = Idle::default();
    let uri = format!("http://[::1]:{port}/v1/traces");
    let answered = runtime.block_on(idle.exchange(request(&uri, &[], b""), MAX));
    assert_eq!(answered.map(|r| r.status().as_u16()), Ok(200));
}

/// A collector that never ends its answer (an endless chunk-size line) fails the exchange once
/// a bounded amount is read (the line's bound, `MAX_CHUNK_LINE`); the exchange does not grow
/// without end.
#[test]
fn an_endless_answer_is_cut_at_its_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().expect("bound"));
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("a connection");
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        let endless = [b'1'; 16 * 1024];
        while stream.write_all(&endless).is_ok() {}
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let idle = Idle::default();
    let answered = runtime.block_on(idle.exchange(request(&endpoint, &[], b""), 1024));
    assert_eq!(
        answered.err(),
        Some(Failure::Exchange(
            "a chunk line too long in the answer".into()
        ))
    );
}

/// The collector reads a request on a kept connection and closes it unanswered (it closed an
/// idle connection as the request came): a small request is sent again, once, on a new
/// connection; one larger than `MAX_RESENT` was dropped once written, and the export fails.
#[test]
fn only_a_small_request_is_sent_again_after_a_kept_connection_closes_unanswered() {
    let answer_first = |n: usize| if n == 0 { OK } else { &b""[..] };
    let close_after_the_first = |n: usize| n >= 1;
    for (size, resent) in [(1024, true), (MAX_RESENT + 1, false)] {
        let collector = collector(answer_first, close_after_the_first);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let idle = Idle::default();
        let body: &'static [u8] = Vec::leak(vec![b'x'; size]);
        let answers = runtime.block_on(async {
            let mut answers = Vec::new();
            for _ in 0..2 {
                let request = request(&collector.endpoint, &[], body);
                let answer = idle.exchange(request, MAX).await;
                answers.push(answer.map(|r| r.status().as_u16()));
            }
            answers
        });
        let requests = collector.requests.load(Ordering::SeqCst);
        if resent {
            assert_eq!(answers, [Ok(200), Ok(200)], "{size} bytes");
            assert_eq!(requests, 3, "the second sent twice");
            assert_eq!(collector.connections.load(Ordering::SeqCst), 2);
        } else {
            assert_eq!(answers[0], Ok(200));
            assert_eq!(
                answers[1],
                Err(Failure::Exchange(
                    "the connection closed before the answer".into()
                )),
                "{size} bytes"
            );
            assert_eq!(requests, 2, "nothing sent again");
        }
    }
}

#[test]
fn a_chunk_size_past_every_bound_is_refused_not_overflowed() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        1\r\na\r\nffffffffffffffff\r\nX";
    match parse(answer, false, MAX) {
        Parsed::Invalid(why) => assert!(why.contains("bound"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Signs and spaces are no digits.
    assert!(
        invalid(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+a\r\n",
            false
        )
        .contains("chunk size")
    );
    assert!(
        invalid(b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\nabcde", false)
            .contains("content-length")
    );
}

#[test]
fn chunks_with_a_length_beside_them_are_read_by_the_chunks_and_leave_the_connection() {
    let (response, reusable) = complete(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    );
    assert_eq!(response.body().as_ref(), b"ab");
    assert!(!reusable);
}

/// Two kept connections, and a collector that reads every request and closes unanswered: the
/// request goes out on one kept connection, then once on a new one, never on the other kept
/// one.
#[test]
fn a_request_is_sent_again_once_on_a_new_connection_only() {
    let collector = collector(|_| &b""[..], |_| true);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let idle = Idle::default();
    let address = collector.endpoint["http://".len()..]
        .split('/')
        .next()
        .expect("an address")
        .to_owned();
    let answered = runtime.block_on(async {
        for _ in 0..2 {
            let kept = TcpStream::connect(address.as_str())
                .await
                .expect("a connection");
            idle.keep(kept, true);
        }
        idle.exchange(request(&collector.endpoint, &[], b"spans"), MAX)
            .await
    });
    assert_eq!(
        answered.err(),
        Some(Failure::Exchange(
            "the connection closed before the answer".into()
        ))
    );
    assert_eq!(
        collector.requests.load(Ordering::SeqCst),
        2,
        "a kept one, then a new one"
    );
    assert_eq!(collector.connections.load(Ordering::SeqCst), 3);
}

/// A chunked answer that arrives in pieces is read on from the chunks already read, never
/// again from its start: after each piece the bytes of the whole chunks read so far are
/// overwritten, and the body is still the one sent.
#[test]
fn a_chunked_answer_in_pieces_is_read_on_not_again() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        3\r\nabc\r\n4;ext=1\r\ndefg\r\n2\r\nhi\r\n0\r\ntrailer: x\r\n\r\n";
    let head = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let mut buf = Vec::new();
    let mut chunks = Chunks::default();
    let mut outcome = None;
    for piece in answer.chunks(5) {
        buf.extend_from_slice(piece);
        match parse_from(&buf, false, MAX, &mut chunks) {
            Parsed::Partial if chunks.at > 0 => {
                // What the whole chunks took is never read again.
                buf[head..head + chunks.at].fill(b'!');
            }
            Parsed::Partial => {}
            done => {
                outcome = Some(done);
                break;
            }
        }
    }
    match outcome {
        Some(Parsed::Complete(response, reusable)) => {
            assert_eq!(response.body().as_ref(), b"abcdefghi");
            assert!(reusable);
        }
        other => panic!("{other:?}"),
    }
    assert!(chunks.at > 0, "chunks were kept between reads");
}

#[test]
fn a_chunk_line_past_its_bound_is_refused() {
    let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    answer.resize(answer.len() + MAX_CHUNK_LINE + 2, b'1');
    assert!(invalid(&answer, false).contains("chunk line too long"));
    // A trailer line too.
    let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n".to_vec();
    answer.resize(answer.len() + MAX_CHUNK_LINE + 2, b'x');
    assert!(invalid(&answer, false).contains("chunk line too long"));
}
