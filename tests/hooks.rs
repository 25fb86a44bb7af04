//! A hook that panics never costs the function an invocation: through the real lambda_runtime
//! loop, a panicking `OnInvocation` or `OnResponse` hook on one invocation leaves its response,
//! its span and the next invocation as they would be without the hook.

mod common;

use common::function::Function;
use common::otlp::{Behaviour, ReceivedSpan};
use common::runtime_api::Invocation;
use common::timeline::TimelineEvent;
use lambda_otel::{FlushMode, SpanStart};
use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;
use serde_json::{Value, json};

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({"statusCode": 200, "echo": event.payload}))
}

/// The first invocation's event asks the hooks to panic; the second's does not.
fn invocations() -> Vec<Invocation> {
    vec![
        Invocation::new("boom", br#"{"panic":true}"#.to_vec()),
        Invocation::new("calm", br#"{"panic":false}"#.to_vec()),
    ]
}

fn asks_to_panic(value: &Value) -> bool {
    value["panic"] == json!(true)
}

/// The body posted as `id`'s response; fails the test if `id` got an error or nothing.
fn response(function: &Function, id: &str) -> Value {
    let body = function
        .timeline
        .events()
        .into_iter()
        .find_map(|e| match e {
            TimelineEvent::ResponsePosted { request_id, body } if request_id == id => Some(body),
            _ => None,
        });
    let body = body.unwrap_or_else(|| {
        panic!(
            "no response posted for {id}:\n{}",
            function.timeline.describe()
        )
    });
    serde_json::from_slice(&body).expect("a JSON response")
}

fn assert_served(function: &Function, id: &str, panic: bool) -> ReceivedSpan {
    assert_eq!(
        response(function, id),
        json!({"statusCode": 200, "echo": {"panic": panic}})
    );
    let (_, span) = function.invocation_span(id);
    assert_eq!(span.status_code, 0, "{id}: unset, the handler did not fail");
    assert_eq!(span.attr_int("http.response.status_code"), Some(200));
    span
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_on_invocation_hook_leaves_the_span_as_without_it() {
    let function = Function::start(invocations(), Behaviour::Ok, |b| b);
    let otel = function
        .telemetry
        .layer()
        .with_on_invocation(|span: &mut SpanStart<'_>| {
            span.set_name("renamed");
            span.set_attribute(KeyValue::new("app.hook", "ran"));
            span.remove_attribute(&"faas.trigger".into());
            let event: Value = serde_json::from_slice(span.event()).expect("JSON event");
            assert!(!asks_to_panic(&event), "the hook exploded");
        });
    tokio::spawn(Runtime::new(otel.wrap(service_fn(echo))).layer(otel).run());
    // The third poll comes only if the loop survived the first invocation's hook.
    function.wait_for_next_polls(3).await;

    let boom = assert_served(&function, "boom", true);
    assert_eq!(boom.name, "test-fn", "the hook's rename is undone");
    assert_eq!(
        boom.attr_str("app.hook"),
        None,
        "the hook's attribute is undone"
    );
    assert_eq!(
        boom.attr_str("faas.trigger"),
        Some("other"),
        "the hook's removal is undone"
    );
    assert_eq!(boom.attr_str("faas.invocation_id"), Some("boom"));

    let calm = assert_served(&function, "calm", false);
    assert_eq!(calm.name, "renamed");
    assert_eq!(calm.attr_str("app.hook"), Some("ran"));
    assert_eq!(calm.attr_str("faas.trigger"), None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_on_response_hook_leaves_the_response_and_the_flush() {
    // Before-response mode: the flush happens in the handler wrapper, right after the hook.
    let function = Function::start(invocations(), Behaviour::Ok, |b| {
        b.with_flush_mode(FlushMode::BeforeResponse)
    });
    let otel = function.telemetry.layer();
    let handler =
        otel.wrap(service_fn(echo))
            .with_on_response(|response: &Value, span: &SpanRef<'_>| {
                span.set_attribute(KeyValue::new("app.hook", "ran"));
                assert!(!asks_to_panic(&response["echo"]), "the hook exploded");
            });
    tokio::spawn(Runtime::new(handler).layer(otel).run());
    function.wait_for_next_polls(3).await;

    for (id, panic) in [("boom", true), ("calm", false)] {
        let span = assert_served(&function, id, panic);
        // What the hook recorded before it panicked stays: a span cannot take it back.
        assert_eq!(span.attr_str("app.hook"), Some("ran"));
        let exported = function.position(
            |e| {
                e.exported_spans()
                    .iter()
                    .any(|s| s.attr_str("faas.invocation_id") == Some(id))
            },
            "the span exported",
        );
        let posted = function.position(|e| e.is_outcome_for(id), "the response posted");
        assert!(
            exported < posted,
            "{id}: flushed before the response, as the mode says"
        );
    }
}
