//! The Extensions API: registration and the extension's `/next` (INVOKE in lockstep with the
//! runtime, SHUTDOWN at the end). lambda_runtime's graceful-shutdown helper registers an
//! internal extension for no events: it gets an identifier of its own and its `/next` is held
//! for ever, as on Lambda, outside the lockstep.

use super::invocations::{self, Party};
use super::{State, lock};
use crate::server::{Reply, reply};
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use std::time::Instant;

const NAME_HEADER: &str = "lambda-extension-name";
pub(super) const ID_HEADER: &str = "lambda-extension-identifier";
/// The identifier of the expected external extension.
pub(super) const EXTERNAL_ID: &str = "0e7e0a1d-0000-4000-8000-e7e75104e001";
/// Every other registration's (lambda_runtime's internal helper).
const INTERNAL_ID: &str = "5e1f1a2b-0000-4000-8000-1e57e1e57e11";
/// What the expected extension must register for: the benchmark's lockstep needs INVOKE.
const EVENTS: [&str; 2] = ["INVOKE", "SHUTDOWN"];

/// `POST /2020-01-01/extension/register`.
pub(super) async fn register(state: &State, req: Request<Incoming>) -> Reply {
    let name = req
        .headers()
        .get(NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Ok(body) = req.into_body().collect().await else {
        return reply(400, "", "");
    };
    let events: Vec<String> = serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
        .ok()
        .and_then(|v| serde_json::from_value(v.get("events")?.clone()).ok())
        .unwrap_or_default();
    let id = if Some(name.as_str()) == state.plan.extension {
        if !EVENTS.iter().all(|e| events.iter().any(|got| got == e)) {
            return reply(
                400,
                "application/json",
                format!(
                    r#"{{"errorMessage":"the benchmark expects {name} to register for INVOKE and SHUTDOWN, not {events:?}","errorType":"InvalidEvents"}}"#
                ),
            );
        }
        let mut timeline = lock(&state.timeline);
        timeline.registered.get_or_insert_with(Instant::now);
        EXTERNAL_ID
    } else {
        INTERNAL_ID
    };
    let mut response = reply(
        200,
        "application/json",
        format!(
            r#"{{"functionName":"{}","functionVersion":"$LATEST","handler":"bootstrap"}}"#,
            super::FUNCTION_NAME
        ),
    );
    response
        .headers_mut()
        .insert(ID_HEADER, HeaderValue::from_static(id));
    response
}

/// `GET /2020-01-01/extension/event/next`.
pub(super) async fn next(state: &State, req: &Request<Incoming>) -> Reply {
    if !is_external(state, req) {
        return std::future::pending().await;
    }
    let (k, leader) = invocations::poll(state, Party::Extension);
    if let Some(at) = leader {
        invocations::freeze(state, k, at).await;
    }
    if invocations::released(state, k, true).await {
        return match invocations::invoke_event(state, k) {
            Some(event) => reply(200, "application/json", event),
            None => reply(500, "", ""),
        };
    }
    let deadline = state.phase.borrow().shutdown.unwrap_or_default();
    reply(
        200,
        "application/json",
        serde_json::json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": "spindown",
            "deadlineMs": deadline,
        })
        .to_string(),
    )
}

/// Whether the request comes from the registered external extension.
pub(super) fn is_external(state: &State, req: &Request<Incoming>) -> bool {
    req.headers()
        .get(ID_HEADER)
        .is_some_and(|id| id.as_bytes() == EXTERNAL_ID.as_bytes())
        && lock(&state.timeline).registered.is_some()
}
