//! Proves the loopback X-Ray daemon in `tests/common/xray/` with hand-made
//! datagrams: valid documents are kept, each kind of violation is named, a
//! burst arrives whole, and `/next` polls are placed among the datagrams.

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use common::runtime_api::{Invocation, RuntimeApi};
use common::timeline::{Timeline, TimelineEvent};
use common::xray::{self, HEADER, MAX_DATAGRAM, Rule, Violation, XrayDaemon};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An X-Ray trace id whose epoch is `age` seconds in the past.
fn trace_id_aged(age: i64) -> String {
    let epoch = now().checked_add_signed(-age).expect("epoch in range");
    format!("1-{epoch:08x}-a006649127e371903a2de979")
}

fn trace_id() -> String {
    trace_id_aged(0)
}

/// A fresh 16-hex id.
fn next_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:016x}",
        0x5eed_0000_0000_0000 + NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A minimal complete segment that started a second ago.
fn segment() -> Value {
    let start = now() as f64 - 1.0;
    json!({
        "name": "test-fn",
        "id": next_id(),
        "trace_id": trace_id(),
        "start_time": start,
        "end_time": start + 0.25,
    })
}

/// A minimal complete subsegment sent on its own.
fn subsegment() -> Value {
    let start = now() as f64 - 1.0;
    json!({
        "type": "subsegment",
        "name": "GET /rolldice",
        "id": next_id(),
        "trace_id": trace_id(),
        "parent_id": "53995c3f42cd8ad8",
        "start_time": start,
        "end_time": start + 0.1,
        "namespace": "remote",
    })
}

fn with(mut document: Value, key: &str, value: Value) -> Value {
    document[key] = value;
    document
}

fn without(mut document: Value, key: &str) -> Value {
    document.as_object_mut().expect("an object").remove(key);
    document
}

/// The header line, then `document`.
fn datagram(document: &Value) -> Vec<u8> {
    [HEADER, &serde_json::to_vec(document).expect("json")].concat()
}

fn send(daemon: &XrayDaemon, datagram: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a sender");
    let sent = socket.send_to(datagram, daemon.addr()).expect("send");
    assert_eq!(sent, datagram.len());
}

/// Sends `datagram` to a fresh daemon and returns the violation it caused,
/// checking that it was kept whole and that no document was.
fn rejected(datagram: Vec<u8>) -> Violation {
    let daemon = XrayDaemon::start(Timeline::new());
    send(&daemon, &datagram);
    let violation = daemon.wait_for_violations(1).remove(0);
    assert!(daemon.documents().is_empty(), "{}", daemon.describe());
    assert_eq!(violation.datagram, datagram);
    violation
}

/// Asserts the violation broke exactly `rule`, at `at`.
fn assert_only(violation: &Violation, rule: Rule, at: &str) {
    let found: Vec<(Rule, &str)> = violation
        .problems
        .iter()
        .map(|p| (p.rule, p.at.as_str()))
        .collect();
    assert_eq!(found, [(rule, at)], "{violation}");
}

fn kept(document: &Value) -> xray::Document {
    let daemon = XrayDaemon::start(Timeline::new());
    send(&daemon, &datagram(document));
    daemon.wait_for_datagrams(1);
    daemon.assert_no_violations();
    daemon.documents().remove(0)
}

#[test]
fn full_segment_is_kept_with_typed_accessors() {
    let start = now() as f64 - 1.0;
    let document = json!({
        "name": "test-fn",
        "id": "70de5b6f19ff9a0a",
        "trace_id": trace_id(),
        "parent_id": "53995c3f42cd8ad8",
        "start_time": start,
        "end_time": start + 0.5,
        "origin": "AWS::Lambda::Function",
        "service": { "version": "$LATEST" },
        "aws": { "xray": { "sdk": "opentelemetry for rust" } },
        "http": {
            "request": { "method": "GET", "url": "https://example.com/rolldice" },
            "response": { "status": 503 },
        },
        "fault": true,
        "cause": { "exceptions": [{ "id": "0000000000000000", "message": "boom", "type": "Oops" }] },
        "annotations": { "faas_coldstart": true, "dice": 6, "who": "me" },
        "metadata": { "debug": { "faas.invocation_id": "id-1" } },
        "subsegments": [{
            "name": "roll",
            "id": "004f72be19cddc2a",
            "start_time": start + 0.1,
            "end_time": start + 0.2,
            "subsegments": [{ "name": "inner", "id": "004f72be19cddc2b", "start_time": start + 0.1, "in_progress": true }],
        }],
    });
    let kept = kept(&document);
    assert_eq!(kept.json, document);
    assert_eq!(kept.name(), "test-fn");
    assert_eq!(kept.id(), "70de5b6f19ff9a0a");
    assert_eq!(kept.otel_trace_id().len(), 32);
    assert_eq!(kept.parent_id(), Some("53995c3f42cd8ad8"));
    assert!(!kept.is_subsegment());
    assert_eq!(kept.http_method(), Some("GET"));
    assert_eq!(kept.http_url(), Some("https://example.com/rolldice"));
    assert_eq!(kept.http_status(), Some(503));
    assert!(kept.is_fault() && !kept.is_error() && !kept.is_throttle());
    assert_eq!(kept.annotation("dice"), Some(&json!(6)));
    assert_eq!(kept.annotations().map(|a| a.len()), Some(3));
    assert!(kept.cause().is_some() && kept.metadata().is_some());
    assert_eq!(kept.end_time(), Some(start + 0.5));
    assert_eq!(kept.subsegments().len(), 1);
    assert_eq!(
        kept.span_ids(),
        ["70de5b6f19ff9a0a", "004f72be19cddc2a", "004f72be19cddc2b"]
    );
}

#[test]
fn subsegment_sent_alone_is_kept() {
    let kept = kept(&subsegment());
    assert!(kept.is_subsegment());
    assert_eq!(kept.parent_id(), Some("53995c3f42cd8ad8"));
    assert_eq!(kept.namespace(), Some("remote"));
}

#[test]
fn in_progress_segment_is_kept() {
    let kept = kept(&with(
        without(segment(), "end_time"),
        "in_progress",
        json!(true),
    ));
    assert_eq!(kept.end_time(), None);
}

#[test]
fn header_must_be_exact() {
    let body = serde_json::to_vec(&segment()).expect("json");
    let compact = [b"{\"format\":\"json\",\"version\":1}\n".as_slice(), &body].concat();
    assert_only(&rejected(compact), Rule::Header, "(datagram)");
    assert_only(&rejected(body), Rule::Header, "(datagram)");
}

#[test]
fn bytes_after_the_document_are_rejected() {
    let mut bytes = datagram(&segment());
    bytes.extend_from_slice(b" trailing");
    assert_only(&rejected(bytes), Rule::TrailingData, "(datagram)");
}

#[test]
fn a_second_document_is_rejected() {
    let mut bytes = datagram(&segment());
    bytes.extend_from_slice(&serde_json::to_vec(&segment()).expect("json"));
    assert_only(&rejected(bytes), Rule::SecondDocument, "(datagram)");
}

#[test]
fn whitespace_after_the_document_is_allowed() {
    let mut bytes = datagram(&segment());
    bytes.push(b'\n');
    let daemon = XrayDaemon::start(Timeline::new());
    send(&daemon, &bytes);
    assert_eq!(daemon.wait_for_documents(1).len(), 1);
}

#[test]
fn malformed_json_and_repeated_keys_are_rejected() {
    let mut bytes = datagram(&segment());
    bytes.truncate(bytes.len() - 1);
    assert_only(&rejected(bytes), Rule::Json, "(document)");

    // The document already has a name: a second one in front repeats the key.
    let body = serde_json::to_string(&segment()).expect("json");
    let repeated = format!(
        "{}{{\"name\":\"other\",{}",
        String::from_utf8_lossy(HEADER),
        &body[1..]
    );
    assert_only(
        &rejected(repeated.into_bytes()),
        Rule::DuplicateKey,
        "(document)",
    );
}

#[test]
fn ids_must_be_16_lower_case_hex_digits() {
    let upper = with(segment(), "id", json!("70DE5B6F19FF9A0A"));
    assert_only(&rejected(datagram(&upper)), Rule::Id, "id");
    let short = with(subsegment(), "parent_id", json!("53995c3f"));
    assert_only(&rejected(datagram(&short)), Rule::Id, "parent_id");
    let zeros = with(segment(), "id", json!("0000000000000000"));
    assert_only(&rejected(datagram(&zeros)), Rule::Id, "id");
}

#[test]
fn trace_id_epoch_must_be_recent() {
    let old = with(segment(), "trace_id", json!(trace_id_aged(31 * 86_400)));
    assert_only(&rejected(datagram(&old)), Rule::TraceIdEpoch, "trace_id");
    let ahead = with(segment(), "trace_id", json!(trace_id_aged(-600)));
    assert_only(&rejected(datagram(&ahead)), Rule::TraceIdEpoch, "trace_id");
}

#[test]
fn trace_id_must_have_xray_format() {
    let w3c = with(
        segment(),
        "trace_id",
        json!("5759e988bd862e3fe1be46a994272793"),
    );
    assert_only(&rejected(datagram(&w3c)), Rule::TraceId, "trace_id");
    let version = trace_id().replacen("1-", "2-", 1);
    let wrong = with(segment(), "trace_id", json!(version));
    assert_only(&rejected(datagram(&wrong)), Rule::TraceId, "trace_id");
}

#[test]
fn end_before_start_is_rejected() {
    let document = segment();
    let start = document["start_time"].as_f64().expect("number");
    let early = with(document, "end_time", json!(start - 0.001));
    assert_only(
        &rejected(datagram(&early)),
        Rule::EndBeforeStart,
        "end_time",
    );
}

#[test]
fn a_document_needs_end_time_or_in_progress() {
    let open = without(segment(), "end_time");
    assert_only(&rejected(datagram(&open)), Rule::Completion, "end_time");
    let both = with(segment(), "in_progress", json!(true));
    assert_only(&rejected(datagram(&both)), Rule::Completion, "end_time");
}

#[test]
fn times_are_epoch_seconds() {
    let millis = now() as f64 * 1000.0;
    let document = with(
        with(segment(), "start_time", json!(millis)),
        "end_time",
        json!(millis + 1.0),
    );
    let violation = rejected(datagram(&document));
    assert_eq!(violation.rules(), [Rule::Time, Rule::Time], "{violation}");
}

#[test]
fn annotation_keys_are_letters_digits_and_underscores() {
    let dotted = with(segment(), "annotations", json!({ "faas.coldstart": true }));
    assert_only(
        &rejected(datagram(&dotted)),
        Rule::AnnotationKey,
        "annotations[\"faas.coldstart\"]",
    );
}

#[test]
fn annotation_values_are_scalars() {
    let nested = with(segment(), "annotations", json!({ "list": [1, 2] }));
    assert_only(
        &rejected(datagram(&nested)),
        Rule::AnnotationValue,
        "annotations[\"list\"]",
    );
}

#[test]
fn at_most_50_annotations() {
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("a{i}"), json!(i))).collect();
    kept(&with(
        segment(),
        "annotations",
        Value::Object(fifty.clone()),
    ));
    let mut fifty_one = fifty;
    fifty_one.insert("a50".to_owned(), json!(50));
    let document = with(segment(), "annotations", Value::Object(fifty_one));
    assert_only(
        &rejected(datagram(&document)),
        Rule::TooManyAnnotations,
        "annotations",
    );
}

#[test]
fn metadata_is_an_object_of_objects() {
    // opentelemetry-aws 0.21 writes attributes routed to metadata this way.
    let flat = with(
        segment(),
        "metadata",
        json!({ "faas.invocation_id": "id-1" }),
    );
    let at = "metadata[\"faas.invocation_id\"]";
    assert_only(&rejected(datagram(&flat)), Rule::Metadata, at);
    let reserved = with(segment(), "metadata", json!({ "AWS.mine": {} }));
    assert_only(
        &rejected(datagram(&reserved)),
        Rule::Metadata,
        "metadata[\"AWS.mine\"]",
    );
}

#[test]
fn names_follow_xray_rules() {
    let braces = with(segment(), "name", json!("GET /users/{id}"));
    assert_only(&rejected(datagram(&braces)), Rule::Name, "name");
    let long = with(segment(), "name", json!("n".repeat(201)));
    assert_only(&rejected(datagram(&long)), Rule::Name, "name");
    kept(&with(
        segment(),
        "name",
        json!("test-fn:prod/é 1_2.3%&#=+\\-@"),
    ));
}

#[test]
fn subsegment_sent_alone_needs_parent_id() {
    let orphan = without(subsegment(), "parent_id");
    assert_only(&rejected(datagram(&orphan)), Rule::Missing, "parent_id");
}

#[test]
fn type_can_only_be_subsegment() {
    let typed = with(segment(), "type", json!("segment"));
    assert_only(&rejected(datagram(&typed)), Rule::DocumentType, "type");
}

#[test]
fn nested_subsegments_are_checked_recursively() {
    let start = now() as f64 - 1.0;
    let child = json!({ "name": "inner", "id": "XYZ", "start_time": start });
    let document = with(
        segment(),
        "subsegments",
        json!([{ "name": "roll", "id": next_id(), "start_time": start, "end_time": start, "subsegments": [child] }]),
    );
    let violation = rejected(datagram(&document));
    let found: Vec<(Rule, &str)> = violation
        .problems
        .iter()
        .map(|p| (p.rule, p.at.as_str()))
        .collect();
    let inner = "subsegments[0].subsegments[0]";
    assert_eq!(
        found,
        [
            (Rule::Id, &*format!("{inner}.id")),
            (Rule::Completion, &*format!("{inner}.end_time"))
        ],
        "{violation}"
    );
}

#[test]
fn fields_of_the_other_kind_are_rejected() {
    let namespaced = with(segment(), "namespace", json!("remote"));
    assert_only(
        &rejected(datagram(&namespaced)),
        Rule::Placement,
        "namespace",
    );
    let origin = with(subsegment(), "origin", json!("AWS::Lambda::Function"));
    assert_only(&rejected(datagram(&origin)), Rule::Placement, "origin");
    let namespace = with(subsegment(), "namespace", json!("local"));
    assert_only(
        &rejected(datagram(&namespace)),
        Rule::Namespace,
        "namespace",
    );
}

#[test]
fn http_status_is_an_integer_status() {
    let text = with(
        segment(),
        "http",
        json!({ "response": { "status": "200" } }),
    );
    assert_only(
        &rejected(datagram(&text)),
        Rule::Http,
        "http.response.status",
    );
    let long_url =
        json!({ "request": { "url": format!("https://example.com/{}", "a".repeat(250)) } });
    let long = with(segment(), "http", long_url);
    assert_only(
        &rejected(datagram(&long)),
        Rule::TooLong,
        "http.request.url",
    );
}

#[test]
fn a_cause_needs_an_error_flag() {
    let cause = with(
        segment(),
        "cause",
        json!({ "exceptions": [{ "id": next_id() }] }),
    );
    assert_only(&rejected(datagram(&cause)), Rule::Cause, "cause");
    kept(&with(
        with(segment(), "error", json!(true)),
        "cause",
        json!(next_id()),
    ));
}

#[test]
fn size_is_checked_by_the_parser() {
    // UDP cannot carry more than MAX_DATAGRAM bytes, so this one is parsed
    // directly: a document padded to exactly the limit, then one byte more.
    let padded = |total: usize| {
        let document = segment();
        let pad = |x: String| with(document.clone(), "metadata", json!({ "pad": { "x": x } }));
        let unpadded = datagram(&pad(String::new())).len();
        datagram(&pad("p".repeat(total - unpadded)))
    };
    let at_limit = padded(MAX_DATAGRAM);
    assert_eq!(at_limit.len(), MAX_DATAGRAM);
    assert!(xray::parse_datagram(&at_limit).is_ok());
    let over = padded(MAX_DATAGRAM + 1);
    let problems = xray::parse_datagram(&over).expect_err("over the limit");
    let rules: Vec<Rule> = problems.iter().map(|p| p.rule).collect();
    assert_eq!(rules, [Rule::Size]);
}

#[test]
fn a_burst_of_2000_datagrams_all_arrive() {
    let daemon = XrayDaemon::start(Timeline::new());
    assert!(
        daemon.receive_buffer() >= 4 * 1024 * 1024,
        "SO_RCVBUF {}",
        daemon.receive_buffer()
    );
    let datagrams: Vec<Vec<u8>> = (0..2000).map(|_| datagram(&segment())).collect();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a sender");
    for datagram in &datagrams {
        socket.send_to(datagram, daemon.addr()).expect("send");
    }
    let documents = daemon.wait_for_documents(2000);
    daemon.assert_no_violations();
    let ids: HashSet<&str> = documents.iter().map(|d| d.id()).collect();
    assert_eq!(ids.len(), 2000);
    assert_eq!(daemon.datagram_count(), 2000);
}

#[test]
fn polls_on_the_timeline_are_placed_among_the_datagrams() {
    let timeline = Timeline::new();
    let daemon = XrayDaemon::start(timeline.clone());
    let (first, second) = (segment(), segment());
    send(&daemon, &datagram(&first));
    timeline.record(TimelineEvent::NextPolled { n: 1 });
    // Waiting for the poll to be placed before sending again makes "after"
    // certain rather than likely.
    let before = daemon.documents_before_next_poll(1);
    send(&daemon, &datagram(&second));
    daemon.wait_for_documents(2);

    assert_eq!(before.len(), 1);
    assert_eq!(before[0].json, first);
    let after = daemon.documents_after_next_poll(1);
    assert_eq!(after.iter().map(|d| &d.json).collect::<Vec<_>>(), [&second]);
    let first_id = first["id"].as_str().expect("id");
    let arrived =
        daemon.assert_arrived_before_next_poll(1, "the first segment", |d| d.id() == first_id);
    assert_eq!(arrived.len(), 1);
    assert!(
        daemon.describe().contains("-- /next poll #1 --"),
        "{}",
        daemon.describe()
    );
}

#[test]
#[should_panic(expected = "the second segment: 0 before /next poll #1, 1 after it")]
fn a_document_after_the_poll_fails_the_assertion() {
    let timeline = Timeline::new();
    let daemon = XrayDaemon::start(timeline.clone());
    timeline.record(TimelineEvent::NextPolled { n: 1 });
    daemon.documents_before_next_poll(1);
    let late = segment();
    send(&daemon, &datagram(&late));
    daemon.wait_for_documents(1);
    let late_id = late["id"].as_str().expect("id").to_owned();
    daemon.assert_arrived_before_next_poll(1, "the second segment", |d| d.id() == late_id);
}

#[test]
#[should_panic(expected = "\"70DE5B6F19FF9A0A\" is not 16 lower-case hex digits [Id]")]
fn assert_no_violations_says_what_was_wrong() {
    let daemon = XrayDaemon::start(Timeline::new());
    send(
        &daemon,
        &datagram(&with(segment(), "id", json!("70DE5B6F19FF9A0A"))),
    );
    daemon.wait_for_datagrams(1);
    daemon.assert_no_violations();
}

#[test]
fn unbound_address_has_no_listener() {
    let address = XrayDaemon::unbound_address();
    // Nobody holds the port: binding it ourselves succeeds.
    UdpSocket::bind(&address).expect("the port is free");
}

/// What a real function does: the handler sends its segment during the
/// invocation, so it must be placed before the runtime's next poll.
#[tokio::test]
async fn a_segment_sent_by_the_handler_arrives_before_the_next_poll() {
    let timeline = Timeline::new();
    let daemon = XrayDaemon::start(timeline.clone());
    daemon.set_env();
    let invocations = vec![Invocation::new("id-1", "{}"), Invocation::new("id-2", "{}")];
    let api = RuntimeApi::start(timeline.clone(), invocations);
    api.set_env();
    let handler = service_fn(|event: LambdaEvent<Value>| async move {
        let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS")?;
        let document = with(
            segment(),
            "annotations",
            json!({ "request_id": event.context.request_id }),
        );
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.send_to(&datagram(&document), address)?;
        Ok::<_, Error>(json!({}))
    });
    let runtime = tokio::spawn(Runtime::new(handler).run());
    let waiter = timeline.clone();
    tokio::task::spawn_blocking(move || waiter.wait_for_next_polls(3))
        .await
        .expect("the runtime polled /next three times");
    runtime.abort();

    for (n, id) in [(2, "id-1"), (3, "id-2")] {
        let what = format!("the segment of {id}");
        let arrived = daemon.assert_arrived_before_next_poll(n, &what, |d| {
            d.annotation("request_id") == Some(&json!(id))
        });
        assert_eq!(arrived.len(), 1, "{}", daemon.describe());
    }
    daemon.assert_no_violations();
}
