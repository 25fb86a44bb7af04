//! The Extensions API (and the Telemetry API's subscription call) of the loopback Runtime API:
//! the HTTP side of register, event/next, init and exit errors, with Lambda's status codes and
//! error JSON. What the calls do to the execution environment is [`Environment`]'s business.
//!
//! Requests, answers and refusals follow AWS's own emulator
//! (aws-lambda-runtime-interface-emulator, `rapi/handler`): every refusal is a 403 (a 400 for a
//! subscription that fails validation) with `{"errorMessage", "errorType"}`; an external
//! extension (one [`Emulation::with_external_extension`] names, as Lambda knows the files in
//! `/opt/extensions`) may register for INVOKE and SHUTDOWN, an internal one for INVOKE only;
//! on Lambda Managed Instances external extensions may register for SHUTDOWN only and internal
//! ones for nothing.
//!
//! [`Emulation::with_external_extension`]: super::runtime_api::Emulation::with_external_extension

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::environment::Environment;
use super::runtime_api::{FUNCTION_ARN, FUNCTION_NAME, Invocation, ShutdownReason};
use super::telemetry_api::TELEMETRY_PATH;
use super::timeline::{Timeline, TimelineEvent};
use super::{Reply, reply};

const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
const ERROR_PATHS: [(&str, &str); 2] = [
    ("/2020-01-01/extension/init/error", "init"),
    ("/2020-01-01/extension/exit/error", "exit"),
];
const NAME_HEADER: &str = "lambda-extension-name";
const ID_HEADER: &str = "lambda-extension-identifier";
const FEATURE_HEADER: &str = "lambda-extension-accept-feature";
const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
const EVENT_ID_HEADER: &str = "lambda-extension-event-identifier";

/// A refused call: its status and Lambda's error JSON.
#[derive(Debug)]
pub(super) struct ApiError {
    status: u16,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    /// A 403 with `error_type`.
    pub(super) fn forbidden(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 403,
            error_type,
            message: message.into(),
        }
    }

    /// A 400 `ValidationError` (a subscription Lambda does not accept).
    pub(super) fn validation(message: String) -> Self {
        Self {
            status: 400,
            error_type: "ValidationError",
            message,
        }
    }

    /// A late outcome for an invocation that timed out: 410 `InvokeTimeout` (AWS's emulator,
    /// `rapi/rendering`; `lambda_runtime` logs it as "invocation timed out or response was
    /// stale").
    pub(super) fn invoke_timeout() -> Self {
        Self {
            status: 410,
            error_type: "InvokeTimeout",
            message: "Invoke timeout".to_owned(),
        }
    }

    /// An outcome for an invocation that is not under way: 400 `InvalidRequestID`.
    pub(super) fn invalid_request_id() -> Self {
        Self {
            status: 400,
            error_type: "InvalidRequestID",
            message: "Invalid request ID".to_owned(),
        }
    }

    /// Its HTTP status.
    pub(super) fn status(&self) -> u16 {
        self.status
    }

    /// Its `errorType`.
    pub(super) fn error_type(&self) -> &'static str {
        self.error_type
    }

    /// The answer: the status and Lambda's error JSON.
    pub(super) fn reply(&self) -> Reply {
        let body = json!({ "errorMessage": self.message, "errorType": self.error_type });
        reply(self.status, Some("application/json"), body.to_string())
    }

    /// The unknown-identifier refusal.
    pub(super) fn unknown_extension(id: &str) -> Self {
        Self::forbidden(
            "Extension.UnknownExtensionIdentifier",
            format!("Unknown extension {id}"),
        )
    }

    /// Records the refusal on the timeline and answers with it.
    fn into_reply(self, path: &str, timeline: &Timeline) -> Reply {
        eprintln!(
            "runtime-api: {path} refused ({}, {}): {}",
            self.status, self.error_type, self.message
        );
        timeline.record(TimelineEvent::ApiRefused {
            path: path.to_owned(),
            status: self.status,
            error_type: self.error_type.to_owned(),
        });
        self.reply()
    }
}

/// Answers `req` when it is an Extensions or Telemetry API call; gives it back otherwise.
pub(super) async fn handle(
    env: &Environment,
    req: Request<Incoming>,
) -> Result<Reply, Request<Incoming>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let answer = match (method, path.as_str()) {
        (Method::POST, REGISTER_PATH) => register(env, req).await,
        (Method::GET, NEXT_PATH) => next(env, &req).await,
        (Method::PUT, TELEMETRY_PATH) => subscribe(env, req).await,
        (Method::POST, _) => match ERROR_PATHS.iter().find(|(p, _)| *p == path) {
            Some((_, phase)) => extension_error(env, &req, phase),
            None => return Err(req),
        },
        _ => return Err(req),
    };
    Ok(answer.unwrap_or_else(|e| e.into_reply(&path, env.timeline())))
}

async fn register(env: &Environment, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let name = header(&req, NAME_HEADER)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            ApiError::forbidden("Extension.InvalidExtensionName", "Empty extension name")
        })?;
    let account_id = header(&req, FEATURE_HEADER)
        .is_some_and(|features| features.split(',').any(|f| f.trim() == "accountId"));
    let body = read_body(req).await?;
    let events = parse_events(&body)?;
    let id = env.register(&name, events)?;
    let mut body = json!({
        "functionName": FUNCTION_NAME,
        "functionVersion": "$LATEST",
        "handler": "bootstrap",
    });
    if account_id {
        body["accountId"] = json!(account_id_of(FUNCTION_ARN));
    }
    let mut response = reply(200, Some("application/json"), body.to_string());
    response.headers_mut().insert(
        ID_HEADER,
        id.parse().expect("an identifier is a valid header"),
    );
    Ok(response)
}

/// The `events` of a register body; Lambda refuses the deprecated `configurationKeys`.
fn parse_events(body: &[u8]) -> Result<Vec<String>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Register {
        #[serde(default)]
        events: Vec<String>,
        #[serde(default)]
        configuration_keys: Vec<String>,
    }
    let invalid = |message: String| ApiError::forbidden("InvalidRequestFormat", message);
    let register: Register = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !register.configuration_keys.is_empty() {
        return Err(invalid(
            "configurationKeys are deprecated; use environment variables instead".to_owned(),
        ));
    }
    Ok(register.events)
}

/// Whether an extension may register for `events` (Lambda's rules, see the module doc).
pub(super) fn check_events(
    events: &[String],
    external: bool,
    managed_instances: bool,
) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::forbidden("Extension.InvalidEventType", message);
    if managed_instances && !external && !events.is_empty() {
        return Err(invalid(
            "No events allowed for internal extensions".to_owned(),
        ));
    }
    for event in events {
        let refusal = match event.as_str() {
            "INVOKE" if !managed_instances => None,
            "SHUTDOWN" if external => None,
            "SHUTDOWN" if !managed_instances => {
                Some("ShutdownEventNotSupportedForInternalExtension")
            }
            _ => Some("ErrorInvalidEventType"),
        };
        if let Some(refusal) = refusal {
            return Err(invalid(format!("{event}: {refusal}")));
        }
    }
    Ok(())
}

async fn next(env: &Environment, req: &Request<Incoming>) -> Result<Reply, ApiError> {
    let id = extension_id(req)?;
    let event = env.extension_next(&id)?;
    // The documented unbounded wait: a frozen environment holds `/next` until the next event,
    // and an extension that has had its SHUTDOWN is held until the test process ends.
    let Ok(event) = event.await else {
        return Ok(std::future::pending().await);
    };
    let mut response = reply(200, Some("application/json"), event.to_string());
    response.headers_mut().insert(
        EVENT_ID_HEADER,
        new_id().parse().expect("an identifier is a valid header"),
    );
    Ok(response)
}

fn extension_error(
    env: &Environment,
    req: &Request<Incoming>,
    phase: &str,
) -> Result<Reply, ApiError> {
    let id = extension_id(req)?;
    let error_type = header(req, ERROR_TYPE_HEADER).ok_or_else(|| {
        ApiError::forbidden(
            "Extension.MissingHeader",
            "Lambda-Extension-Function-Error-Type not found",
        )
    })?;
    env.extension_error(&id, phase, &error_type)?;
    Ok(reply(202, Some("application/json"), r#"{"status":"OK"}"#))
}

async fn subscribe(env: &Environment, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let id = extension_id(&req)?;
    let body = read_body(req).await?;
    env.subscribe(&id, &body)?;
    Ok(reply(200, Some("application/json"), r#""OK""#))
}

fn extension_id(req: &Request<Incoming>) -> Result<String, ApiError> {
    header(req, ID_HEADER).ok_or_else(|| {
        ApiError::forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )
    })
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    let value = req.headers().get(name)?;
    Some(value.to_str().ok()?.to_owned())
}

async fn read_body(req: Request<Incoming>) -> Result<Vec<u8>, ApiError> {
    match req.into_body().collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) => Err(ApiError::forbidden(
            "InvalidRequestFormat",
            format!("unreadable body: {e}"),
        )),
    }
}

/// The INVOKE event an extension gets with `invocation` (`tracing` only with an X-Ray header).
pub(super) fn invoke_event(invocation: &Invocation) -> Value {
    let mut event = json!({
        "eventType": "INVOKE",
        "deadlineMs": invocation.deadline_ms,
        "requestId": invocation.request_id,
        "invokedFunctionArn": invocation.function_arn,
    });
    if let Some(header) = &invocation.xray_trace_id {
        event["tracing"] = json!({ "type": "X-Amzn-Trace-Id", "value": header });
    }
    event
}

/// The SHUTDOWN event, due at `deadline_ms` (epoch milliseconds).
pub(super) fn shutdown_event(reason: ShutdownReason, deadline_ms: u64) -> Value {
    json!({
        "eventType": "SHUTDOWN",
        "shutdownReason": reason.as_str(),
        "deadlineMs": deadline_ms,
    })
}

/// A fresh random identifier shaped like Lambda's (a version 4 UUID).
pub(super) fn new_id() -> String {
    let random = || RandomState::new().build_hasher().finish();
    let (a, b) = (random(), random());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// The account id, the fifth field of an ARN.
fn account_id_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}
