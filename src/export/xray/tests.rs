//! The exporter against a real UDP socket standing in for the daemon.

use super::daemon::{HEADER, MAX_DATAGRAM, send_each};
use super::*;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use serde_json::Value;
use std::borrow::Cow;
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, UNIX_EPOCH};

const LAMBDA_PARENT: &str = "53995c3f42cd8ad8";
const INVOCATION: &str = "bc73c4aa72c474e7";
const ROLL: &str = "9c49e0cc8c7050d6";

/// A trace id X-Ray takes: it starts with the current epoch second.
/// A trace id of this process's start (X-Ray wants a recent epoch in it): the same for every
/// call, so that a test's spans never straddle a second and land in two traces.
fn trace_id() -> TraceId {
    static ID: std::sync::LazyLock<TraceId> = std::sync::LazyLock::new(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        TraceId::from_hex(&format!("{now:08x}3b2f8a91c4d7e6f05a1b2c3d")).expect("hex")
    });
    *ID
}

fn span(
    trace: TraceId,
    id: &str,
    parent: Option<(&str, bool)>,
    kind: SpanKind,
    name: &'static str,
    attributes: Vec<KeyValue>,
) -> SpanData {
    let start = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            trace,
            SpanId::from_hex(id).expect("hex"),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: parent.map_or(SpanId::INVALID, |(p, _)| SpanId::from_hex(p).expect("hex")),
        parent_span_is_remote: parent.is_some_and(|(_, remote)| remote),
        span_kind: kind,
        name: Cow::Borrowed(name),
        start_time: start,
        end_time: start + Duration::from_micros(1500),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("lambda-otel").build(),
    }
}

/// A `roll` span `id`, child of the invocation span.
fn child(trace: TraceId, id: &str, attributes: Vec<KeyValue>) -> SpanData {
    span(
        trace,
        id,
        Some((INVOCATION, false)),
        SpanKind::Internal,
        "roll",
        attributes,
    )
}

fn http_invocation(trace: TraceId, status: i64) -> SpanData {
    span(
        trace,
        INVOCATION,
        Some((LAMBDA_PARENT, true)),
        SpanKind::Server,
        "GET /rolldice",
        vec![
            KeyValue::new("faas.trigger", "http"),
            KeyValue::new("faas.invocation_id", "48672a50-7fef-425e-abcc-bd4fd6e0032d"),
            KeyValue::new("faas.coldstart", true),
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/rolldice"),
            KeyValue::new("url.path", "/rolldice"),
            KeyValue::new("url.query", "player=Alice"),
            KeyValue::new("url.scheme", "https"),
            KeyValue::new(
                "server.address",
                "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
            ),
            KeyValue::new("http.response.status_code", status),
            KeyValue::new("lambda_otel.invocation.duration_ns", 1_500_000_i64),
        ],
    )
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "dice-roller"),
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_lambda"),
        ])
        .build()
}

/// Exports `batch` to a fresh daemon stand-in; the outcome and every datagram it received.
fn export(batch: Vec<SpanData>) -> (Result<(), Loss>, Vec<Vec<u8>>) {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let address = daemon.local_addr().expect("address");
    let result = export_to(address, batch);
    daemon.set_nonblocking(true).expect("non-blocking");
    // Loopback delivers a datagram before `send` returns: what is not queued now never came.
    let mut datagrams = Vec::new();
    let mut buf = vec![0; 70_000];
    while let Ok(n) = daemon.recv(&mut buf) {
        datagrams.push(buf[..n].to_vec());
    }
    (result, datagrams)
}

fn export_to(address: SocketAddr, batch: Vec<SpanData>) -> Result<(), Loss> {
    let mut exporter = XrayExporter::new(address).expect("socket");
    exporter.set_resource(&resource());
    exporter.export(batch)
}

/// The document of a datagram, after checking the daemon's framing.
fn document(datagram: &[u8]) -> Value {
    assert!(datagram.len() <= MAX_DATAGRAM);
    let body = datagram
        .strip_prefix(HEADER)
        .expect("the daemon's header line");
    serde_json::from_slice(body).expect("one JSON document")
}

fn by_id(documents: &[Value], id: &str) -> Value {
    documents
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no document {id} in {documents:?}"))
        .clone()
}

#[test]
fn the_invocation_is_a_subsegment_of_lambdas_segment_and_its_children_nest_under_it() {
    let trace = trace_id();
    let roll = child(trace, ROLL, vec![KeyValue::new("dice.player", "Alice")]);
    let (result, datagrams) = export(vec![roll, http_invocation(trace, 200)]);
    assert_eq!(result, Ok(()));
    let documents: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    assert_eq!(documents.len(), 2);
    let hex = trace.to_string();
    let xray_trace = format!("1-{}-{}", &hex[..8], &hex[8..]);

    let invocation = by_id(&documents, INVOCATION);
    assert_eq!(invocation["type"], "subsegment");
    assert_eq!(invocation["trace_id"], xray_trace);
    assert_eq!(invocation["parent_id"], LAMBDA_PARENT);
    assert_eq!(invocation["name"], "GET /rolldice");
    assert_eq!(invocation["http"]["request"]["method"], "GET");
    assert_eq!(
        invocation["http"]["request"]["url"],
        "https://r3pmxmplak.execute-api.us-east-1.amazonaws.com/rolldice?player=Alice"
    );
    assert_eq!(invocation["http"]["response"]["status"], 200);
    assert_eq!(invocation["annotations"]["faas_coldstart"], true);
    assert_eq!(invocation["annotations"]["faas_trigger"], "http");
    assert_eq!(
        invocation["annotations"]["faas_invocation_id"],
        "48672a50-7fef-425e-abcc-bd4fd6e0032d"
    );
    let metadata = &invocation["metadata"]["default"];
    assert_eq!(
        metadata["lambda_otel.invocation.duration_ns"], 1_500_000,
        "{invocation}"
    );
    assert_eq!(metadata["http.route"], "/rolldice", "{invocation}");
    assert!(invocation.get("error").is_none_or(|e| e == false));
    assert!(invocation.get("fault").is_none_or(|f| f == false));
    let (start, end) = (
        invocation["start_time"].as_f64(),
        invocation["end_time"].as_f64(),
    );
    assert!(start.zip(end).is_some_and(|(s, e)| e >= s), "{invocation}");

    let roll = by_id(&documents, ROLL);
    assert_eq!(roll["type"], "subsegment");
    assert_eq!(roll["parent_id"], INVOCATION);
    assert_eq!(roll["trace_id"], xray_trace);
    assert_eq!(roll["name"], "roll");
}

#[test]
fn a_root_span_is_a_segment_named_after_the_service() {
    let trace = trace_id();
    let mut root = http_invocation(trace, 200);
    root.parent_span_id = SpanId::INVALID;
    root.parent_span_is_remote = false;
    let mut batch_root = span(
        trace,
        ROLL,
        None,
        SpanKind::Consumer,
        "orders process",
        vec![],
    );
    batch_root.span_context = SpanContext::new(
        TraceId::from_hex(&format!(
            "{}00000000000000000000000a",
            &trace.to_string()[..8]
        ))
        .expect("hex"),
        SpanId::from_hex(ROLL).expect("hex"),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let (result, datagrams) = export(vec![root, batch_root]);
    assert_eq!(result, Ok(()));
    let documents: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    for id in [INVOCATION, ROLL] {
        let segment = by_id(&documents, id);
        assert!(segment.get("type").is_none(), "a segment: {segment}");
        assert!(segment.get("parent_id").is_none(), "{segment}");
        assert_eq!(segment["name"], "dice-roller");
    }
}

#[test]
fn client_errors_are_errors_server_errors_and_failures_are_faults_with_their_cause() {
    let trace = trace_id();
    let not_found = http_invocation(trace, 404);
    let mut unavailable = http_invocation(trace, 503);
    unavailable.span_context = SpanContext::new(
        trace,
        SpanId::from_hex(ROLL).expect("hex"),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let mut failed = span(
        trace,
        "1111111111111111",
        Some((INVOCATION, false)),
        SpanKind::Internal,
        "handler",
        vec![KeyValue::new("error.type", "DiceError")],
    );
    failed.status = Status::error("the die fell off the table");
    failed.events.events.push(opentelemetry::trace::Event::new(
        "exception",
        SystemTime::now(),
        vec![
            KeyValue::new("exception.type", "DiceError"),
            KeyValue::new("exception.message", "the die fell off the table"),
        ],
        0,
    ));
    let (result, datagrams) = export(vec![not_found, unavailable, failed]);
    assert_eq!(result, Ok(()));
    let documents: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    let not_found = by_id(&documents, INVOCATION);
    assert_eq!(not_found["error"], true, "{not_found}");
    assert!(
        not_found.get("fault").is_none_or(|f| f == false),
        "{not_found}"
    );
    let unavailable = by_id(&documents, ROLL);
    assert_eq!(unavailable["fault"], true, "{unavailable}");
    let failed = by_id(&documents, "1111111111111111");
    assert_eq!(failed["fault"], true, "{failed}");
    let exceptions = failed["cause"]["exceptions"].to_string();
    assert!(
        exceptions.contains("the die fell off the table"),
        "{failed}"
    );
    assert!(exceptions.contains("DiceError"), "{failed}");
}

#[test]
fn too_many_requests_are_a_throttle_and_an_error_not_a_fault() {
    let (result, datagrams) = export(vec![http_invocation(trace_id(), 429)]);
    assert_eq!(result, Ok(()));
    let throttled = document(&datagrams[0]);
    assert_eq!(throttled["throttle"], true, "{throttled}");
    assert_eq!(throttled["error"], true, "{throttled}");
    assert!(
        throttled.get("fault").is_none_or(|f| f == false),
        "{throttled}"
    );
}

#[test]
fn links_are_metadata_as_the_traceparents_they_came_from() {
    let caller = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
        SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let producer = SpanContext::new(
        trace_id(),
        SpanId::from_hex("1111111111111111").expect("hex"),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let mut linked = http_invocation(trace_id(), 200);
    linked.links.links = vec![Link::with_context(caller), Link::with_context(producer)];
    let mut own = child(
        trace_id(),
        ROLL,
        vec![KeyValue::new("links", "the user's own")],
    );
    own.links.links = linked.links.links.clone();
    let (result, datagrams) = export(vec![linked, own]);
    assert_eq!(result, Ok(()));
    let documents: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    let linked = by_id(&documents, INVOCATION);
    assert_eq!(
        linked["metadata"]["default"]["links"],
        serde_json::json!([
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            format!("00-{}-1111111111111111-00", trace_id()),
        ]),
        "{linked}"
    );
    assert!(
        linked.get("links").is_none(),
        "no field X-Ray's schema lacks"
    );
    let own = by_id(&documents, ROLL);
    assert_eq!(own["metadata"]["default"]["links"], "the user's own");
}

#[test]
fn a_send_the_socket_cannot_take_at_once_is_counted_as_lost() {
    let trace = trace_id();
    let mut batch = vec![
        http_invocation(trace, 200),
        child(trace, ROLL, vec![]),
        child(trace, "1111111111111111", vec![]),
    ];
    batch.iter_mut().for_each(prepare::prepare);
    let translator = translator();
    let documents = translator.translate_spans(&batch);
    assert_eq!(documents.len(), 3);
    let mut calls = 0;
    // The first fits in the send buffer, then it is full.
    let sent = send_each(documents, |datagram| {
        calls += 1;
        if calls == 1 {
            Ok(datagram.len())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    });
    assert_eq!((sent.sent, sent.failed), (1, 2));
    let address = "127.0.0.1:2000".parse().expect("address");
    let loss = sent.loss(3, None, address).expect("two lost");
    assert_eq!(loss.lost, 2);
    assert!(
        loss.reason
            .contains("2 datagrams failed: the socket's send buffer was full"),
        "{}",
        loss.reason
    );
}

#[test]
fn a_url_over_x_rays_250_bytes_is_cut_not_the_span_dropped() {
    let trace = trace_id();
    let mut long = http_invocation(trace, 200);
    let query = format!("player={}", "é".repeat(200));
    for kv in &mut long.attributes {
        if kv.key.as_str() == "url.query" {
            kv.value = query.clone().into();
        }
    }
    let (result, datagrams) = export(vec![long]);
    assert_eq!(result, Ok(()));
    let url = document(&datagrams[0])["http"]["request"]["url"].clone();
    let url = url.as_str().expect("a URL");
    assert!(
        url.len() <= 250 && url.starts_with("https://r3pmxmplak"),
        "{url}"
    );
}

#[test]
fn names_x_ray_would_refuse_still_reach_it() {
    let trace = trace_id();
    let mut route = http_invocation(trace, 200);
    route.name = Cow::Borrowed("GET /users/{id}");
    let (result, datagrams) = export(vec![route]);
    assert_eq!(result, Ok(()));
    assert_eq!(document(&datagrams[0])["name"], "GET /users/_id_");
}

#[test]
fn an_oversized_document_goes_without_its_metadata_and_one_that_cannot_is_counted() {
    let trace = trace_id();
    let mut big = http_invocation(trace, 200);
    big.attributes
        .push(KeyValue::new("payload", "x".repeat(100_000)));
    // The exception is the `cause`, not metadata: nothing can be left out.
    let mut huge = child(trace, ROLL, vec![]);
    huge.status = Status::error("failed");
    huge.events.events.push(opentelemetry::trace::Event::new(
        "exception",
        SystemTime::now(),
        vec![
            KeyValue::new("exception.type", "Overflow"),
            KeyValue::new("exception.message", "z".repeat(100_000)),
        ],
        0,
    ));
    let (result, datagrams) = export(vec![big, huge]);
    let documents: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    let big = by_id(&documents, INVOCATION);
    assert!(big.get("metadata").is_none());
    assert_eq!(big["annotations"]["faas_trigger"], "http");
    let loss = result.expect_err("the huge one is lost");
    assert_eq!(loss.lost, 1);
    assert!(loss.reason.contains("64 KB"), "{}", loss.reason);
}

#[test]
fn a_span_with_a_trace_id_x_ray_refuses_is_counted_not_silently_dropped() {
    let trace = trace_id();
    let w3c = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
    let foreign = span(
        w3c,
        ROLL,
        Some((INVOCATION, true)),
        SpanKind::Server,
        "x",
        vec![],
    );
    let (result, datagrams) = export(vec![http_invocation(trace, 200), foreign]);
    assert_eq!(datagrams.len(), 1);
    let loss = result.expect_err("one lost");
    assert_eq!(loss.lost, 1);
    assert!(
        loss.reason.contains("trace id X-Ray refuses"),
        "{}",
        loss.reason
    );
}

#[test]
fn no_daemon_is_one_clear_failure_for_the_whole_batch() {
    let address = {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("address")
    };
    let trace = trace_id();
    for _ in 0..3 {
        let batch = vec![http_invocation(trace, 200)];
        let loss = export_to(address, batch).expect_err("nobody listens");
        assert_eq!(loss.lost, 1);
        assert!(loss.reason.contains("no X-Ray daemon"), "{}", loss.reason);
        assert!(
            loss.reason.contains(&address.to_string()),
            "{}",
            loss.reason
        );
    }
}
