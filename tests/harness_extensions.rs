//! Proves the loopback Runtime API's Extensions and Telemetry APIs (`tests/common`) against the
//! real `lambda_runtime` loop and a small extension written here (a hyper client on its own
//! thread, as a separate process would be; once as a real child process), so the extension's
//! own tests can trust what the harness does and records. Also Lambda's resets: an invocation
//! past its deadline (the emulator's own timer) and a runtime process that crashes (the
//! function run as a child process).
//!
//! Orders are asserted on the timeline; an extension that must act "after X" waits for X on
//! the timeline first, so every order asserted here is caused, not timed.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::child::{RuntimeProcess, ignored_test};
use common::extension_process::ExtensionProcess;
use common::runtime_api::{
    Emulation, FUNCTION_ARN, Invocation, MEMORY_SIZE_MB, RuntimeApi, ShutdownReason,
};
use common::telemetry_api::timestamp;
use common::timeline::{Timeline, TimelineEvent};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_runtime::{Error, LambdaEvent, Runtime};
use serde_json::{Value, json};

/// The external extension of these tests.
const EXT: &str = "test-extension";
const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// What lambda_runtime's graceful-shutdown helper registers as.
const GRACEFUL_HELPER: &str = "_lambda-rust-runtime-no-op-graceful-shutdown-helper";

/// An answer of the loopback Runtime API.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    /// The body as JSON; `Null` when empty.
    body: Value,
}

/// One HTTP/1.1 call to `addr`.
async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the Runtime API accepts connections");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let response = sender.send_request(request).await.expect("an answer");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the answer's body").to_bytes();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).expect("a JSON answer")
    };
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// A registered extension, as seen from its own side.
#[derive(Debug, Clone)]
struct Extension {
    api: SocketAddr,
    id: String,
}

impl Extension {
    /// Registers `name` for `events`; the answer must be a success.
    async fn register(api: SocketAddr, name: &str, events: &[&str]) -> Self {
        let answer = register(api, name, events).await;
        assert_eq!(answer.status, 200, "register {name}: {answer:?}");
        let id = answer.headers["lambda-extension-identifier"]
            .to_str()
            .expect("an ASCII identifier")
            .to_owned();
        Self { api, id }
    }

    /// The next event (the answer must be a success, with an event identifier).
    async fn next(&self) -> Value {
        let headers = [("Lambda-Extension-Identifier", self.id.as_str())];
        let answer = call(self.api, Method::GET, NEXT, &headers, None).await;
        assert_eq!(answer.status, 200, "next: {answer:?}");
        assert!(
            answer
                .headers
                .contains_key("lambda-extension-event-identifier"),
            "{answer:?}"
        );
        answer.body
    }

    async fn subscribe(&self, body: &Value) -> Answer {
        let headers = [("Lambda-Extension-Identifier", self.id.as_str())];
        call(self.api, Method::PUT, TELEMETRY, &headers, Some(body)).await
    }
}

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";
const TELEMETRY: &str = "/2022-07-01/telemetry";

async fn register(api: SocketAddr, name: &str, events: &[&str]) -> Answer {
    let headers = [
        ("Lambda-Extension-Name", name),
        ("Lambda-Extension-Accept-Feature", "accountId"),
    ];
    let body = json!({ "events": events });
    call(api, Method::POST, REGISTER, &headers, Some(&body)).await
}

/// Runs `extension` on a thread of its own (as a separate process would run), whose runtime
/// keeps its tasks (held polls) alive after it returned; resolves to what it returned. Fails
/// the test, showing `timeline`, when that takes more than 30 s.
async fn run_extension<T, F>(
    timeline: &Timeline,
    extension: impl FnOnce() -> F + Send + 'static,
) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("extension runtime");
        runtime.block_on(async move {
            let _ = done.send(extension().await);
            std::future::pending::<()>().await;
        });
    });
    match tokio::time::timeout(Duration::from_secs(30), result).await {
        Ok(result) => result.expect("the extension failed (its panic is printed above)"),
        Err(_) => panic!(
            "the extension did not finish within 30 s:\n{}",
            timeline.describe()
        ),
    }
}

/// Waits off the executor until `pred` holds for some event.
async fn wait_until(
    timeline: &Timeline,
    what: &str,
    pred: impl Fn(&TimelineEvent) -> bool + Send + 'static,
) {
    let (timeline, what) = (timeline.clone(), what.to_owned());
    tokio::task::spawn_blocking(move || {
        timeline.wait_for(|events| events.iter().any(&pred), &what)
    })
    .await
    .expect("the wait panicked");
}

/// Runs a blocking timeline wait off the executor (the runtime loop runs on this thread).
async fn off_thread<T: Send + 'static>(
    timeline: &Timeline,
    wait: impl FnOnce(&Timeline) -> T + Send + 'static,
) -> T {
    let timeline = timeline.clone();
    tokio::task::spawn_blocking(move || wait(&timeline))
        .await
        .expect("the wait panicked")
}

/// Echoes its payload; fails when the payload says `"fail": true`.
async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload["fail"] == true {
        return Err("boom: asked to fail".into());
    }
    Ok(event.payload)
}

/// Starts the Runtime API with `emulation` and the real runtime loop with [`echo`].
fn start(invocations: Vec<Invocation>, emulation: Emulation) -> (Timeline, RuntimeApi) {
    let (timeline, api) = start_api(invocations, emulation);
    run_function();
    (timeline, api)
}

/// Starts the Runtime API with `emulation` and points the environment at it.
fn start_api(invocations: Vec<Invocation>, emulation: Emulation) -> (Timeline, RuntimeApi) {
    let timeline = Timeline::new();
    let api = RuntimeApi::start_with(timeline.clone(), invocations, emulation);
    api.set_env();
    (timeline, api)
}

/// Runs the real runtime loop with [`echo`] on this test's runtime.
fn run_function() {
    tokio::spawn(Runtime::new(lambda_runtime::service_fn(echo)).run());
}

fn invocation(id: &str, payload: &Value) -> Invocation {
    Invocation::new(id, serde_json::to_vec(payload).expect("JSON"))
}

fn outcome(id: &'static str) -> impl Fn(&TimelineEvent) -> bool {
    move |e| e.is_outcome_for(id)
}

fn next_poll(n: usize) -> impl Fn(&TimelineEvent) -> bool {
    move |e| e.is_next_poll(n)
}

fn extension_poll(n: usize) -> impl Fn(&TimelineEvent) -> bool {
    move |e| e.is_extension_next_poll(EXT, n)
}

/// What happened, and how to recognise it on the timeline.
type Step<'a> = (&'a str, &'a dyn Fn(&TimelineEvent) -> bool);

/// Asserts that the events `steps` name happened in that order.
fn assert_order(timeline: &Timeline, steps: &[Step<'_>]) {
    let at: Vec<usize> = steps
        .iter()
        .map(|(what, pred)| timeline.position(pred, what))
        .collect();
    let names: Vec<&str> = steps.iter().map(|(what, _)| *what).collect();
    assert!(
        at.is_sorted(),
        "{names:?} at {at:?}:\n{}",
        timeline.describe()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_runtime_and_an_invoke_extension_go_in_lockstep() {
    let first = invocation("id-1", &json!({ "n": 1 })).with_xray(XRAY);
    let second = invocation("id-2", &json!({ "n": 2 }));
    let expected = [first.clone(), second.clone()];
    let emulation = Emulation::default().with_external_extension(EXT);
    let (timeline, api) = start(vec![first, second], emulation);

    let (addr, tl) = (api.addr(), timeline.clone());
    let (register_answer, events) = run_extension(&timeline, move || async move {
        // Registers only once the runtime waits: init must wait for the extension.
        wait_until(&tl, "next poll #1", next_poll(1)).await;
        let answer = register(addr, EXT, &["INVOKE", "SHUTDOWN"]).await;
        let id = answer.headers["lambda-extension-identifier"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let extension = Extension { api: addr, id };
        let first = extension.next().await;
        // Back in /next only once the runtime asked for invocation 2: it must not get it before.
        wait_until(&tl, "next poll #2", next_poll(2)).await;
        let second = extension.next().await;
        (answer, [first, second])
    })
    .await;
    off_thread(&timeline, |tl| tl.wait_for_outcomes(2)).await;

    assert_eq!(register_answer.status, 200, "{register_answer:?}");
    assert_eq!(
        register_answer.body,
        json!({
            "functionName": "test-fn",
            "functionVersion": "$LATEST",
            "handler": "bootstrap",
            "accountId": "123456789012",
        })
    );
    for (event, invocation) in events.iter().zip(&expected) {
        let mut want = json!({
            "eventType": "INVOKE",
            "deadlineMs": invocation.deadline_ms,
            "requestId": invocation.request_id,
            "invokedFunctionArn": FUNCTION_ARN,
        });
        if let Some(header) = &invocation.xray_trace_id {
            want["tracing"] = json!({ "type": "X-Amzn-Trace-Id", "value": header });
        }
        assert_eq!(event, &want);
    }
    assert_order(
        &timeline,
        &[
            ("runtime next #1", &next_poll(1)),
            ("registration", &|e| e.is_extension_registered(EXT)),
            ("extension next #1", &extension_poll(1)),
            ("INVOKE id-1", &|e| e.is_extension_invoked(EXT, "id-1")),
            ("outcome id-1", &outcome("id-1")),
            ("runtime next #2", &next_poll(2)),
            ("extension next #2", &extension_poll(2)),
            ("INVOKE id-2", &|e| e.is_extension_invoked(EXT, "id-2")),
            ("outcome id-2", &outcome("id-2")),
        ],
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_extension_registered_for_no_event_neither_gets_events_nor_holds_invocations() {
    let invocations = vec![
        invocation("id-1", &json!({})),
        invocation("id-2", &json!({})),
    ];
    let (timeline, api) = start_api(invocations, Emulation::default());
    assert!(
        !api.env_vars()
            .iter()
            .any(|(key, _)| *key == "AWS_LAMBDA_INITIALIZATION_TYPE"),
        "a standard function's environment is unchanged"
    );

    let addr = api.addr();
    let ids = run_extension(&timeline, move || async move {
        // As lambda_runtime's graceful-shutdown helper does: internal, no events, then /next.
        let helper = Extension::register(addr, GRACEFUL_HELPER, &[]).await;
        let other = Extension::register(addr, "another-internal", &[]).await;
        let ids = [helper.id.clone(), other.id.clone()];
        tokio::spawn(async move { helper.next().await });
        tokio::spawn(async move { other.next().await });
        ids
    })
    .await;
    // As lambda_runtime does: internal extensions register before the runtime loop starts.
    run_function();
    assert_ne!(ids[0], ids[1], "one identifier per extension");
    for id in &ids {
        let shape: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(shape, [8, 4, 4, 4, 12], "UUID-shaped: {id}");
    }
    off_thread(&timeline, |tl| {
        tl.wait_for_outcomes(2);
        tl.wait_for_next_polls(3)
    })
    .await;

    let events = timeline.events();
    assert!(
        !events.iter().any(|e| matches!(
            e,
            TimelineEvent::ExtensionInvoked { .. } | TimelineEvent::ShutdownSent { .. }
        )),
        "{}",
        timeline.describe()
    );
    // Each held its one /next the whole time, and init waited for both.
    for name in [GRACEFUL_HELPER, "another-internal"] {
        let polls: Vec<_> = events
            .iter()
            .filter(
                |e| matches!(e, TimelineEvent::ExtensionNextPolled { name: n, .. } if n == name),
            )
            .collect();
        assert_eq!(polls.len(), 1, "{}", timeline.describe());
        assert!(
            timeline.position(|e| e.is_extension_next_poll(name, 1), "its poll")
                < timeline.position(outcome("id-1"), "outcome id-1")
        );
    }
    // Once the runtime has asked for an event, an internal extension is too late.
    let late = run_extension(&timeline, move || register(addr, "too-late", &[])).await;
    assert_eq!(
        (late.status, &late.body["errorType"]),
        (403, &json!("Extension.RegistrationClosed"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn managed_instances_refuse_invoke_and_never_hold_the_runtime() {
    let invocations = vec![
        invocation("id-1", &json!({})),
        invocation("id-2", &json!({})),
    ];
    let emulation = Emulation::default()
        .with_managed_instances()
        .with_external_extension(EXT);
    let (timeline, api) = start(invocations, emulation);
    assert!(
        api.env_vars().contains(&(
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "lambda-managed-instances".to_owned()
        )),
        "{:?}",
        api.env_vars()
    );

    let addr = api.addr();
    let (refused, internal, old_schema, subscribed) =
        run_extension(&timeline, move || async move {
            let refused = register(addr, EXT, &["INVOKE", "SHUTDOWN"]).await;
            let internal = register(addr, "an-internal", &["SHUTDOWN"]).await;
            let extension = Extension::register(addr, EXT, &["SHUTDOWN"]).await;
            let (listener, _) = telemetry_listener();
            let old_schema = extension
                .subscribe(&subscription("2022-12-13", &listener.to_string()))
                .await;
            let subscribed = extension
                .subscribe(&subscription("2025-01-29", &listener.to_string()))
                .await;
            tokio::spawn(async move { extension.next().await });
            (refused, internal, old_schema, subscribed)
        })
        .await;
    // The extension's one /next is held while the runtime runs both invocations.
    off_thread(&timeline, |tl| tl.wait_for_outcomes(2)).await;

    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.body,
        json!({
            "errorType": "Extension.InvalidEventType",
            "errorMessage": "INVOKE: ErrorInvalidEventType",
        })
    );
    assert_eq!(internal.status, 403, "{internal:?}");
    assert_eq!(
        internal.body["errorMessage"],
        "No events allowed for internal extensions"
    );
    assert_eq!(
        (old_schema.status, &old_schema.body["errorType"]),
        (400, &json!("ValidationError")),
        "{old_schema:?}"
    );
    assert_eq!((subscribed.status, subscribed.body), (200, json!("OK")));
    let events = timeline.events();
    assert!(
        events.iter().any(|e| matches!(e, TimelineEvent::ExtensionRegistered { name, events } if name == EXT && events == &["SHUTDOWN"])),
        "{}",
        timeline.describe()
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TimelineEvent::ExtensionInvoked { .. })),
        "{}",
        timeline.describe()
    );
    let polls = events
        .iter()
        .filter(|e| matches!(e, TimelineEvent::ExtensionNextPolled { .. }))
        .count();
    assert_eq!(polls, 1, "{}", timeline.describe());
}

/// The extension run as a process by the SHUTDOWN test: registers for INVOKE and SHUTDOWN,
/// loops on /next and exits (0) once SHUTDOWN came, after checking it.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run as an extension process by shutdown_reaches_an_extension_process_which_then_exits"]
async fn extension_process() {
    let started = epoch_ms();
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .expect("Lambda's variable")
        .parse()
        .expect("an address");
    let name = std::env::var("TEST_EXTENSION_NAME").expect("the test's variable");
    let extension = Extension::register(api, &name, &["INVOKE", "SHUTDOWN"]).await;
    loop {
        let event = extension.next().await;
        if event["eventType"] != "SHUTDOWN" {
            assert_eq!(event["eventType"], "INVOKE", "{event}");
            continue;
        }
        let received = epoch_ms();
        assert_eq!(event["shutdownReason"], "spindown", "{event}");
        let deadline = event["deadlineMs"].as_u64().expect("a deadline");
        // Sent after this process started and before it was received, 2 s ahead.
        assert!(
            (started + 2_000..=received + 2_000).contains(&deadline),
            "{event}: started {started}, received {received}"
        );
        return;
    }
}

fn epoch_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(now.as_millis()).expect("fits")
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_reaches_an_extension_process_which_then_exits() {
    const CHILD: &str = "child-extension";
    let emulation = Emulation::default()
        .with_external_extension(CHILD)
        .with_shutdown_after_last(ShutdownReason::Spindown);
    let (timeline, api) = start(vec![invocation("id-1", &json!({}))], emulation);

    let mut command = ignored_test("extension_process");
    command.env("TEST_EXTENSION_NAME", CHILD);
    let process = ExtensionProcess::spawn(CHILD, command, &api, &timeline);
    assert_eq!(process.name(), CHILD);
    off_thread(&timeline, |tl| tl.wait_for_extension_done(CHILD)).await;

    let events = timeline.events();
    let exit = events.iter().find_map(|e| match e {
        TimelineEvent::ExtensionExited { name, code } if name == CHILD => Some(*code),
        _ => None,
    });
    assert_eq!(
        exit,
        Some(Some(0)),
        "the extension's checks passed:\n{}",
        timeline.describe()
    );
    let child_poll = |n| move |e: &TimelineEvent| e.is_extension_next_poll(CHILD, n);
    assert_order(
        &timeline,
        &[
            ("INVOKE id-1", &|e| e.is_extension_invoked(CHILD, "id-1")),
            ("outcome id-1", &outcome("id-1")),
            ("runtime next #2", &next_poll(2)),
            ("SHUTDOWN", &|e| e.is_shutdown_sent(CHILD)),
            ("exit", &|e| e.is_extension_exit(CHILD)),
        ],
    );
    assert_order(
        &timeline,
        &[
            ("extension next #2", &child_poll(2)),
            ("SHUTDOWN", &|e| e.is_shutdown_sent(CHILD)),
        ],
    );
    assert!(
        events.iter().any(
            |e| matches!(e, TimelineEvent::ShutdownSent { reason, .. } if reason == "spindown")
        )
    );
}

/// A subscription to the platform records at `127.0.0.1:port`.
fn subscription(schema_version: &str, listener: &str) -> Value {
    json!({
        "schemaVersion": schema_version,
        "types": ["platform"],
        "buffering": { "maxItems": 1000, "maxBytes": 262_144, "timeoutMs": 25 },
        "destination": { "protocol": "HTTP", "URI": format!("http://{listener}/telemetry") },
    })
}

/// What a Telemetry API listener received: when each batch arrived, and the batch.
type Received = Arc<Mutex<Vec<(SystemTime, Value)>>>;

/// A Telemetry API listener on 127.0.0.1 that answers every delivery with 200 and keeps it
/// with its arrival time.
fn telemetry_listener() -> (SocketAddr, Received) {
    let received = Received::default();
    let kept = Arc::clone(&received);
    let addr = common::spawn_server("telemetry-listener", |listener| async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener into tokio");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let kept = Arc::clone(&kept);
                    async move {
                        let arrived = SystemTime::now();
                        let body = req.into_body().collect().await.expect("a body").to_bytes();
                        let batch = serde_json::from_slice(&body).expect("a JSON batch");
                        kept.lock().expect("lock").push((arrived, batch));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

/// Every record delivered to `name`, in delivery order, with the timeline index of its batch.
fn delivered(timeline: &Timeline, name: &str) -> Vec<(usize, Value)> {
    timeline
        .events()
        .into_iter()
        .enumerate()
        .filter(
            |(_, e)| matches!(e, TimelineEvent::TelemetryDelivered { name: n, .. } if n == name),
        )
        .flat_map(|(i, e)| {
            e.delivered_records()
                .to_vec()
                .into_iter()
                .map(move |r| (i, r))
        })
        .collect()
}

/// `2022-10-21T14:05:03.165Z`.
fn assert_time(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time string: {value}"));
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99.999Z", "{text}");
}

fn assert_millis(value: &Value) {
    assert!(value.as_f64().is_some_and(|ms| ms >= 0.0), "{value}");
}

#[tokio::test(flavor = "current_thread")]
async fn platform_records_arrive_in_schema_after_the_buffering_delay() {
    let invocations = vec![
        invocation("id-1", &json!({ "n": 1 })).with_xray(XRAY),
        invocation("id-2", &json!({ "fail": true })),
    ];
    let (timeline, api) = start(
        invocations,
        Emulation::default().with_external_extension(EXT),
    );

    let (addr, tl) = (api.addr(), timeline.clone());
    let (listener, received) = telemetry_listener();
    let subscribed = run_extension(&timeline, move || async move {
        wait_until(&tl, "next poll #1", next_poll(1)).await;
        let extension = Extension::register(addr, EXT, &["INVOKE"]).await;
        // Longer than Lambda's shortest buffering, so that the order asserted below is no race.
        let mut body = subscription("2022-12-13", &listener.to_string());
        body["buffering"]["timeoutMs"] = json!(300);
        let subscribed = extension.subscribe(&body).await;
        for (n, id) in [(2, "id-1"), (3, "id-2")] {
            let event = extension.next().await;
            assert_eq!(event["requestId"], id);
            // As an extension that does not wait for platform.runtimeDone: back in /next as
            // soon as the runtime is (which produced the record).
            wait_until(&tl, "the runtime's next poll", next_poll(n)).await;
        }
        tokio::spawn(async move { extension.next().await });
        subscribed
    })
    .await;
    assert_eq!((subscribed.status, subscribed.body), (200, json!("OK")));
    off_thread(&timeline, |tl| {
        tl.wait_for_delivered("platform.report", Some("id-2"))
    })
    .await;

    let records = delivered(&timeline, EXT);
    let types: Vec<&str> = records
        .iter()
        .map(|(_, r)| r["type"].as_str().expect("a type"))
        .collect();
    assert_eq!(
        types,
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.telemetrySubscription",
            "platform.extension",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ]
    );
    for (_, item) in &records {
        assert_time(&item["time"]);
        assert_eq!(item.as_object().map(|o| o.len()), Some(3), "{item}");
    }
    let record = |kind: &str, id: Option<&str>| -> Value {
        records
            .iter()
            .map(|(_, r)| r)
            .find(|r| r["type"] == kind && id.is_none_or(|id| r["record"]["requestId"] == id))
            .unwrap_or_else(|| panic!("no {kind} {id:?}"))["record"]
            .clone()
    };
    assert_eq!(
        (
            &record("platform.initStart", None)["initializationType"],
            &record("platform.initStart", None)["phase"]
        ),
        (&json!("on-demand"), &json!("init"))
    );
    assert_eq!(
        record("platform.initRuntimeDone", None)["status"],
        "success"
    );
    assert_eq!(
        record("platform.extension", None),
        json!({ "name": EXT, "state": "Ready", "events": ["INVOKE"] })
    );
    assert_eq!(
        record("platform.telemetrySubscription", None),
        json!({ "name": EXT, "state": "Subscribed", "types": ["platform"] })
    );
    assert_millis(&record("platform.initReport", None)["metrics"]["durationMs"]);

    let tracing = json!({ "type": "X-Amzn-Trace-Id", "value": XRAY });
    assert_eq!(
        record("platform.start", Some("id-1")),
        json!({ "requestId": "id-1", "version": "$LATEST", "tracing": tracing })
    );
    assert_eq!(
        record("platform.start", Some("id-2")),
        json!({ "requestId": "id-2", "version": "$LATEST" })
    );

    let posted = |id: &str| {
        timeline
            .events()
            .into_iter()
            .find_map(|e| match e {
                TimelineEvent::ResponsePosted { request_id, body }
                | TimelineEvent::ErrorPosted { request_id, body }
                    if request_id == id =>
                {
                    Some(body)
                }
                _ => None,
            })
            .expect("posted")
    };
    for (id, status) in [("id-1", "success"), ("id-2", "error")] {
        let done = record("platform.runtimeDone", Some(id));
        assert_eq!(done["status"], status, "{done}");
        assert_eq!(done["metrics"]["producedBytes"], posted(id).len(), "{done}");
        assert_millis(&done["metrics"]["durationMs"]);
        let spans = done["spans"].as_array().expect("spans");
        let names: Vec<&Value> = spans.iter().map(|s| &s["name"]).collect();
        assert_eq!(names, ["responseLatency", "responseDuration"], "{done}");
        for span in spans {
            assert_time(&span["start"]);
            assert_millis(&span["durationMs"]);
        }
        let report = record("platform.report", Some(id));
        assert_eq!(report["status"], status, "{report}");
        let metrics = &report["metrics"];
        assert_millis(&metrics["durationMs"]);
        assert!(metrics["billedDurationMs"].is_u64(), "{report}");
        assert_eq!(metrics["memorySizeMB"], MEMORY_SIZE_MB, "{report}");
        assert!(metrics["maxMemoryUsedMB"].is_u64(), "{report}");
        // Only the first invocation carries the init duration.
        assert_eq!(
            metrics.get("initDurationMs").is_some(),
            id == "id-1",
            "{report}"
        );
        assert_eq!(done.get("tracing"), report.get("tracing"));
        assert_eq!(done.get("tracing").is_some(), id == "id-1", "{done}");
    }
    let error: Value = serde_json::from_slice(&posted("id-2")).expect("JSON error");
    assert_eq!(
        record("platform.runtimeDone", Some("id-2"))["errorType"],
        error["errorType"]
    );
    assert_eq!(
        record("platform.report", Some("id-2"))["errorType"],
        error["errorType"]
    );

    let runtime_done =
        |id: &'static str| move |e: &TimelineEvent| e.delivers("platform.runtimeDone", Some(id));
    assert_order(
        &timeline,
        &[
            ("outcome id-1", &outcome("id-1")),
            ("runtime next #2 (runtimeDone produced)", &next_poll(2)),
            // The buffering delay: the extension was back in /next before the record came.
            ("extension next #2", &extension_poll(2)),
            ("runtimeDone id-1 delivered", &runtime_done("id-1")),
        ],
    );
    // The delay itself: no batch came before its first record was 300 ms old (a lower bound
    // the emulator's own wait guarantees, however slow the machine).
    let batches = received.lock().expect("lock").clone();
    assert_eq!(
        batches
            .iter()
            .map(|(_, b)| b.as_array().map_or(0, Vec::len))
            .sum::<usize>(),
        records.len()
    );
    for (arrived, batch) in &batches {
        let oldest = batch[0]["time"].as_str().expect("a time");
        let due = timestamp(*arrived - Duration::from_millis(300));
        assert!(
            due.as_str() >= oldest,
            "{batch} arrived at {}",
            timestamp(*arrived)
        );
    }
    // A report waits for the extension, as the freeze does.
    assert_order(
        &timeline,
        &[
            ("extension next #3", &extension_poll(3)),
            ("report id-2 delivered", &|e| {
                e.delivers("platform.report", Some("id-2"))
            }),
        ],
    );
}

#[tokio::test(flavor = "current_thread")]
async fn bad_calls_are_refused_with_lambdas_errors() {
    let timeline = Timeline::new();
    let emulation = Emulation::default().with_external_extension(EXT);
    let api = RuntimeApi::start_with(timeline.clone(), Vec::new(), emulation);
    let addr = api.addr();
    let tl = timeline.clone();
    let refusals = run_extension(&timeline, move || async move {
        let mut refusals: Vec<(String, Answer)> = Vec::new();
        let mut refused = |what: &str, answer: Answer| refusals.push((what.to_owned(), answer));
        let no_name = call(addr, Method::POST, REGISTER, &[], Some(&json!({ "events": [] }))).await;
        refused("no name", no_name);
        refused("internal for SHUTDOWN", register(addr, "internal", &["SHUTDOWN"]).await);
        refused("unknown event", register(addr, EXT, &["RESTORE"]).await);
        let keys = json!({ "events": [], "configurationKeys": ["A"] });
        let headers = [("Lambda-Extension-Name", EXT)];
        refused(
            "configurationKeys",
            call(addr, Method::POST, REGISTER, &headers, Some(&keys)).await,
        );
        let extension = Extension::register(addr, EXT, &["INVOKE"]).await;
        refused("twice", register(addr, EXT, &["INVOKE"]).await);
        refused("next without id", call(addr, Method::GET, NEXT, &[], None).await);
        let unknown = [("Lambda-Extension-Identifier", "00000000-0000-4000-8000-000000000000")];
        refused("next of unknown id", call(addr, Method::GET, NEXT, &unknown, None).await);

        let listener = telemetry_listener().0.to_string();
        let good = subscription("2022-12-13", &listener);
        let bad: Vec<(&str, Value)> = vec![
            ("schemaVersion", json!({ "schemaVersion": "2021-03-18" })),
            ("no types", json!({ "types": [] })),
            ("unknown type", json!({ "types": ["platform", "metrics"] })),
            ("timeoutMs under 25", json!({ "buffering": { "timeoutMs": 10, "maxItems": 1000, "maxBytes": 262_144 } })),
            ("maxItems", json!({ "buffering": { "maxItems": 10 } })),
            ("maxBytes", json!({ "buffering": { "maxBytes": 4_096 } })),
            ("no destination", json!({ "destination": null })),
            ("protocol", json!({ "destination": { "protocol": "HTTPS", "URI": format!("http://{listener}") } })),
            ("reserved port", json!({ "destination": { "protocol": "HTTP", "URI": "http://sandbox.localdomain:9001" } })),
            ("remote host", json!({ "destination": { "protocol": "HTTP", "URI": "http://example.com:8080" } })),
            ("no port", json!({ "destination": { "protocol": "HTTP", "URI": "http://127.0.0.1/" } })),
        ];
        for (what, change) in bad {
            let mut body = good.clone();
            for (key, value) in change.as_object().expect("an object") {
                body[key] = value.clone();
            }
            refused(what, extension.subscribe(&body).await);
        }
        let headers = [("Lambda-Extension-Identifier", extension.id.as_str())];
        let not_json = call(addr, Method::PUT, TELEMETRY, &headers, Some(&json!("{"))).await;
        refused("not an object", not_json);
        let anonymous = call(addr, Method::PUT, TELEMETRY, &[], Some(&good)).await;
        refused("subscription without id", anonymous);
        let accepted = extension.subscribe(&good).await;
        assert_eq!((accepted.status, &accepted.body), (200, &json!("OK")), "{accepted:?}");

        // Init ends once the runtime and the extension wait in /next: no more of either.
        tokio::spawn(call(addr, Method::GET, "/2018-06-01/runtime/invocation/next", &[], None));
        let waiting = extension.clone();
        tokio::spawn(async move { waiting.next().await });
        wait_until(&tl, "runtime next #1", next_poll(1)).await;
        wait_until(&tl, "extension next #1", extension_poll(1)).await;
        refused("subscription after init", extension.subscribe(&good).await);
        refused("registration after init", register(addr, "late", &[]).await);
        refusals
    })
    .await;

    let expected = [
        ("no name", 403, "Extension.InvalidExtensionName"),
        ("internal for SHUTDOWN", 403, "Extension.InvalidEventType"),
        ("unknown event", 403, "Extension.InvalidEventType"),
        ("configurationKeys", 403, "InvalidRequestFormat"),
        ("twice", 403, "Extension.InvalidExtensionState"),
        (
            "next without id",
            403,
            "Extension.MissingExtensionIdentifier",
        ),
        (
            "next of unknown id",
            403,
            "Extension.UnknownExtensionIdentifier",
        ),
        ("schemaVersion", 400, "ValidationError"),
        ("no types", 400, "ValidationError"),
        ("unknown type", 400, "ValidationError"),
        ("timeoutMs under 25", 400, "ValidationError"),
        ("maxItems", 400, "ValidationError"),
        ("maxBytes", 400, "ValidationError"),
        ("no destination", 400, "ValidationError"),
        ("protocol", 400, "ValidationError"),
        ("reserved port", 400, "ValidationError"),
        ("remote host", 400, "ValidationError"),
        ("no port", 400, "ValidationError"),
        ("not an object", 400, "ValidationError"),
        (
            "subscription without id",
            403,
            "Extension.MissingExtensionIdentifier",
        ),
        (
            "subscription after init",
            403,
            "Telemetry.SubscriptionClosed",
        ),
        (
            "registration after init",
            403,
            "Extension.RegistrationClosed",
        ),
    ];
    let seen: Vec<(&str, u16, &str)> = refusals
        .iter()
        .map(|(what, answer)| {
            let error_type = answer.body["errorType"].as_str().unwrap_or("(none)");
            assert!(
                answer.body["errorMessage"].is_string(),
                "{what}: {answer:?}"
            );
            (what.as_str(), answer.status, error_type)
        })
        .collect();
    assert_eq!(seen, expected);
    let recorded = timeline
        .events()
        .iter()
        .filter(|e| matches!(e, TimelineEvent::ApiRefused { .. }))
        .count();
    assert_eq!(recorded, expected.len(), "{}", timeline.describe());
    assert_eq!(
        refusals[1].1.body["errorMessage"],
        "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"
    );
}

/// How far away the deadline of an invocation that times out is: short, as the tests wait it
/// out (the emulator's timer ends it, nothing in the test does).
const DEADLINE_MS: u64 = 300;

/// An extension registered for INVOKE and SHUTDOWN, subscribed to the platform records.
async fn subscribed_extension(api: SocketAddr) -> Extension {
    let extension = Extension::register(api, EXT, &["INVOKE", "SHUTDOWN"]).await;
    let (listener, _) = telemetry_listener();
    let body = subscription("2022-12-13", &listener.to_string());
    let answer = extension.subscribe(&body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    extension
}

/// Posts an outcome for `request_id` as a runtime would (`kind`: `response` or `error`).
async fn post_outcome(api: SocketAddr, request_id: &str, kind: &str) -> Answer {
    let path = format!("/2018-06-01/runtime/invocation/{request_id}/{kind}");
    let body = json!({ "errorType": "Late", "errorMessage": "too late" });
    call(api, Method::POST, &path, &[], Some(&body)).await
}

/// The `kind` record of `request_id` delivered to [`EXT`], with its place among them all.
fn delivered_record(timeline: &Timeline, kind: &str, request_id: &str) -> (usize, Value) {
    delivered(timeline, EXT)
        .into_iter()
        .map(|(_, item)| item)
        .enumerate()
        .find(|(_, item)| item["type"] == kind && item["record"]["requestId"] == request_id)
        .map(|(at, item)| (at, item["record"].clone()))
        .unwrap_or_else(|| panic!("no {kind} of {request_id}:\n{}", timeline.describe()))
}

/// The records of an invocation Lambda ended itself: `runtimeDone` (with no response spans,
/// as nothing was posted) then `report`, both with `status` and `error_type`.
fn assert_ended_by_lambda(timeline: &Timeline, request_id: &str, status: &str, error_type: &str) {
    let (done_at, done) = delivered_record(timeline, "platform.runtimeDone", request_id);
    let (report_at, report) = delivered_record(timeline, "platform.report", request_id);
    assert!(done_at < report_at, "{}", timeline.describe());
    for record in [&done, &report] {
        assert_eq!(
            (&record["status"], &record["errorType"]),
            (&json!(status), &json!(error_type)),
            "{record}"
        );
        assert_millis(&record["metrics"]["durationMs"]);
    }
    assert_eq!(done["metrics"]["producedBytes"], 0, "{done}");
    assert_eq!(done.get("spans"), None, "{done}");
    assert!(report["metrics"]["billedDurationMs"].is_u64(), "{report}");
    assert_millis(&report["metrics"]["initDurationMs"]);
}

/// Nothing of `request_id` was handed out nor posted, nor any record of it delivered.
fn assert_never_handed(timeline: &Timeline, request_id: &str) {
    let events = timeline.events();
    assert!(
        !events
            .iter()
            .any(|e| e.is_extension_invoked(EXT, request_id)
                || e.is_outcome_for(request_id)
                || e.delivers("platform.start", Some(request_id))),
        "{request_id} handed out:\n{}",
        timeline.describe()
    );
}

/// Answers only once the harness has timed its invocation out (waited for on the timeline, so
/// the answer is late by cause): a response Lambda refuses.
async fn answers_after_its_timeout(
    event: LambdaEvent<Value>,
    timeline: Timeline,
) -> Result<Value, Error> {
    let id = event.context.request_id.clone();
    off_thread(&timeline, move |tl| tl.wait_for_timed_out(&id)).await;
    Ok(event.payload)
}

#[tokio::test(flavor = "current_thread")]
async fn an_invocation_past_its_deadline_times_out_and_the_environment_is_reset() {
    let first = invocation("id-1", &json!({ "n": 1 })).with_deadline_ms(epoch_ms() + DEADLINE_MS);
    let deadline_ms = first.deadline_ms;
    let invocations = vec![first, invocation("id-2", &json!({ "n": 2 }))];
    let emulation = Emulation::default()
        .with_external_extension(EXT)
        .with_timeouts();
    let (timeline, api) = start_api(invocations, emulation);
    let tl = timeline.clone();
    let handler = move |event| answers_after_its_timeout(event, tl.clone());
    tokio::spawn(Runtime::new(lambda_runtime::service_fn(handler)).run());

    let addr = api.addr();
    let (events, received_ms, late) = run_extension(&timeline, move || async move {
        let extension = subscribed_extension(addr).await;
        let invoke = extension.next().await;
        // Back in /next at once: only the runtime holds the invocation past its deadline.
        let shutdown = extension.next().await;
        let received_ms = epoch_ms();
        let late = [
            post_outcome(addr, "id-1", "error").await,
            post_outcome(addr, "id-2", "response").await,
        ];
        // As an extension with nothing left to do: back in /next, held.
        tokio::spawn(async move { extension.next().await });
        ([invoke, shutdown], received_ms, late)
    })
    .await;
    off_thread(&timeline, |tl| {
        tl.wait_for_delivered("platform.report", Some("id-1"));
        tl.wait_for_next_polls(2);
        tl.wait_for_extension_next_polls(EXT, 3)
    })
    .await;

    assert_eq!(events[0]["requestId"], "id-1", "{events:?}");
    let shutdown = &events[1];
    assert_eq!(
        (&shutdown["eventType"], &shutdown["shutdownReason"]),
        (&json!("SHUTDOWN"), &json!("timeout")),
        "{shutdown}"
    );
    // Sent once the deadline had passed, 2 s ahead, before it was received.
    let shutdown_deadline = shutdown["deadlineMs"].as_u64().expect("a deadline");
    assert!(
        (deadline_ms + 2_000..=received_ms + 2_000).contains(&shutdown_deadline),
        "{shutdown}: invocation deadline {deadline_ms}, received at {received_ms}"
    );
    let refusals: Vec<(u16, &Value)> = late.iter().map(|a| (a.status, &a.body)).collect();
    assert_eq!(
        refusals,
        [
            (
                410,
                &json!({ "errorType": "InvokeTimeout", "errorMessage": "Invoke timeout" })
            ),
            (
                400,
                &json!({ "errorType": "InvalidRequestID", "errorMessage": "Invalid request ID" })
            ),
        ]
    );
    let handler_refused = |e: &TimelineEvent| {
        matches!(e, TimelineEvent::OutcomeRefused { request_id, error: false, status: 410, error_type }
            if request_id == "id-1" && error_type == "InvokeTimeout")
    };
    assert_order(
        &timeline,
        &[
            ("INVOKE id-1", &|e| e.is_extension_invoked(EXT, "id-1")),
            ("timeout of id-1", &|e| e.is_timed_out("id-1")),
            ("the handler's late response refused", &handler_refused),
            ("runtime next #2, held", &next_poll(2)),
        ],
    );
    assert_order(
        &timeline,
        &[
            ("timeout of id-1", &|e| e.is_timed_out("id-1")),
            ("SHUTDOWN timeout", &|e| {
                e.is_shutdown_sent_with(EXT, "timeout")
            }),
        ],
    );
    assert_ended_by_lambda(&timeline, "id-1", "timeout", "Sandbox.Timedout");
    // The runtime and the extension both wait in /next: the queue's next one would be theirs.
    assert_never_handed(&timeline, "id-2");
}

#[tokio::test(flavor = "current_thread")]
async fn an_invoke_extension_still_at_work_past_the_deadline_times_the_invocation_out() {
    let first = invocation("id-1", &json!({ "n": 1 })).with_deadline_ms(epoch_ms() + DEADLINE_MS);
    let invocations = vec![first, invocation("id-2", &json!({ "n": 2 }))];
    let emulation = Emulation::default()
        .with_external_extension(EXT)
        .with_timeouts();
    let (timeline, api) = start(invocations, emulation);

    let (addr, tl) = (api.addr(), timeline.clone());
    let shutdown = run_extension(&timeline, move || async move {
        let extension = subscribed_extension(addr).await;
        let invoke = extension.next().await;
        assert_eq!(invoke["requestId"], "id-1", "{invoke}");
        // At work until the deadline has passed: the timeout bounds the whole invoke phase.
        wait_until(&tl, "the timeout of id-1", |e| e.is_timed_out("id-1")).await;
        extension.next().await
    })
    .await;
    off_thread(&timeline, |tl| {
        tl.wait_for_delivered("platform.report", Some("id-1"));
        tl.wait_for_next_polls(2)
    })
    .await;

    assert_eq!(shutdown["shutdownReason"], "timeout", "{shutdown}");
    assert_order(
        &timeline,
        &[
            ("outcome id-1", &outcome("id-1")),
            ("timeout of id-1", &|e| e.is_timed_out("id-1")),
            ("extension next #2", &extension_poll(2)),
            ("SHUTDOWN timeout", &|e| {
                e.is_shutdown_sent_with(EXT, "timeout")
            }),
        ],
    );
    let (_, report) = delivered_record(&timeline, "platform.report", "id-1");
    assert_eq!(
        (&report["status"], &report["errorType"]),
        (&json!("timeout"), &json!("Sandbox.Timedout")),
        "{report}"
    );
    // The runtime was done (success) if it asked for its next event before the deadline.
    let (_, done) = delivered_record(&timeline, "platform.runtimeDone", "id-1");
    let runtime_first = timeline.position(next_poll(2), "runtime next #2")
        < timeline.position(|e| e.is_timed_out("id-1"), "the timeout");
    let status = if runtime_first { "success" } else { "timeout" };
    assert_eq!(done["status"], status, "{done}\n{}", timeline.describe());
    assert_eq!(done["spans"].as_array().map(Vec::len), Some(2), "{done}");
    assert_never_handed(&timeline, "id-2");
}

/// The function run as a child process by the crash test: its handler aborts the process.
#[tokio::test(flavor = "current_thread")]
#[ignore = "run as the runtime process by a_runtime_process_that_aborts_fails_its_invocation"]
async fn aborting_function() {
    let handler = lambda_runtime::service_fn(abort_process);
    Runtime::new(handler).run().await.expect("the runtime loop");
}

async fn abort_process(_: LambdaEvent<Value>) -> Result<Value, Error> {
    std::process::abort()
}

#[tokio::test(flavor = "current_thread")]
async fn a_runtime_process_that_aborts_fails_its_invocation_and_the_environment_is_reset() {
    let invocations = vec![
        invocation("id-1", &json!({ "n": 1 })),
        invocation("id-2", &json!({ "n": 2 })),
    ];
    let (timeline, api) = start_api(
        invocations,
        Emulation::default().with_external_extension(EXT),
    );
    let runtime = RuntimeProcess::spawn(ignored_test("aborting_function"), &api);

    let addr = api.addr();
    let events = run_extension(&timeline, move || async move {
        let extension = subscribed_extension(addr).await;
        let events = [extension.next().await, extension.next().await];
        tokio::spawn(async move { extension.next().await });
        events
    })
    .await;
    off_thread(&timeline, |tl| {
        tl.wait_for_runtime_exit();
        tl.wait_for_delivered("platform.report", Some("id-1"));
        tl.wait_for_extension_next_polls(EXT, 3)
    })
    .await;
    drop(runtime);

    assert_eq!(events[0]["requestId"], "id-1", "{events:?}");
    assert_eq!(
        (&events[1]["eventType"], &events[1]["shutdownReason"]),
        (&json!("SHUTDOWN"), &json!("failure")),
        "{events:?}"
    );
    assert_order(
        &timeline,
        &[
            ("INVOKE id-1", &|e| e.is_extension_invoked(EXT, "id-1")),
            ("runtime exit", &TimelineEvent::is_runtime_exit),
            ("SHUTDOWN failure", &|e| {
                e.is_shutdown_sent_with(EXT, "failure")
            }),
        ],
    );
    let exit = timeline.events().into_iter().find_map(|e| match e {
        TimelineEvent::RuntimeExited { code } => Some(code),
        _ => None,
    });
    assert_eq!(
        exit,
        Some(None),
        "ended by SIGABRT:\n{}",
        timeline.describe()
    );
    assert_ended_by_lambda(&timeline, "id-1", "failure", "Runtime.ExitError");
    assert_never_handed(&timeline, "id-2");
}

#[test]
fn record_times_are_rfc3339_utc_with_milliseconds() {
    let at = |ms| timestamp(UNIX_EPOCH + Duration::from_millis(ms));
    assert_eq!(at(1_666_361_103_165), "2022-10-21T14:05:03.165Z");
    assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(at(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
}
