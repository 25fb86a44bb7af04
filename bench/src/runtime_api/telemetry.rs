//! The Telemetry API: the extension's subscription, and the platform records of each
//! invocation in the 2022-12-13 schema, POSTed to the subscriber as JSON arrays.
//!
//! - `platform.initStart` when the Runtime API starts (the extension is started next; it is
//!   delivered once the extension has subscribed), `platform.initRuntimeDone` and
//!   `platform.initReport` when the runtime and the extension have both called `/next` for
//!   the first time;
//! - `platform.start` when an invocation is handed out;
//! - `platform.runtimeDone` when the runtime calls `/next` after its response (status,
//!   `durationMs`, `producedBytes`, the `responseLatency` and `responseDuration` spans);
//! - `platform.report` at the freeze point, once the extension is back in `/next` too (the
//!   first one with the init duration).
//!
//! Every record is held for the subscription's buffering `timeoutMs` (25 ms at least, Lambda's
//! minimum) from the moment it was produced, so a record never arrives sooner than Lambda can
//! deliver it; records that fall due together go in one POST (at most `maxItems`). A frozen
//! extension takes nothing: records that fall due between a freeze point and the next hand-out
//! (or `SHUTDOWN`) are delivered at the thaw.
//!
//! Lambda documents `timeoutMs` as the longest a *batch* is buffered, so with invocations back
//! to back it may send fewer, larger batches than this does (here about 0.6 POSTs per
//! invocation at 0 ms, 2 at 5 ms: what a function invoked less often than every 25 ms gets on
//! Lambda). Holding each record the full time keeps `runtimeDone` from ever arriving early,
//! which is what an extension without the function's mark waits for.

use super::extensions::is_external;
use super::{Deliveries, MEMORY_MB, State, epoch, lock};
use crate::server::{Reply, reply};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// The schema the records are written in.
const SCHEMA: &str = "2022-12-13";
/// What `AWS_LAMBDA_INITIALIZATION_TYPE` says.
const INIT_TYPE: &str = "on-demand";
/// Lambda's bounds on `buffering.timeoutMs` and `maxItems`, and its defaults.
const MIN_TIMEOUT_MS: u64 = 25;
const MAX_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_MAX_ITEMS: usize = 10_000;

#[derive(Debug)]
struct Subscriber {
    /// `host:port` of the destination, and its path.
    authority: String,
    path: String,
    delay: Duration,
    max_items: usize,
}

#[derive(Debug)]
struct Pending {
    due: Instant,
    record: Value,
}

#[derive(Debug, Default)]
struct Inner {
    subscriber: Option<Subscriber>,
    queue: VecDeque<Pending>,
    deliveries: Deliveries,
}

/// The subscription and the records waiting for delivery.
#[derive(Debug, Default)]
pub(super) struct Telemetry {
    inner: Mutex<Inner>,
    wake: Notify,
    task: Mutex<Option<AbortHandle>>,
}

impl Telemetry {
    /// What was delivered so far.
    pub(super) fn deliveries(&self) -> Deliveries {
        lock(&self.inner).deliveries
    }

    /// Ends the delivery task.
    pub(super) fn stop(&self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }

    fn subscribed(&self) -> bool {
        lock(&self.inner).subscriber.is_some()
    }

    fn push(&self, record: Value) {
        self.push_produced(record, Instant::now());
    }

    /// Queues `record`, produced at `produced`, for delivery the buffering time after it.
    fn push_produced(&self, record: Value, produced: Instant) {
        let mut inner = lock(&self.inner);
        let Some(delay) = inner.subscriber.as_ref().map(|s| s.delay) else {
            return;
        };
        inner.queue.push_back(Pending {
            due: produced + delay,
            record,
        });
        drop(inner);
        self.wake.notify_one();
    }

    /// `platform.initStart`, produced when the server started, for a new subscriber.
    fn init_start(&self, state: &State) {
        self.push_produced(
            json!({
                "time": rfc3339(state.started_wall),
                "type": "platform.initStart",
                "record": { "initializationType": INIT_TYPE, "phase": "init" },
            }),
            state.started,
        );
    }

    /// `platform.initRuntimeDone` and `platform.initReport`: init ended `at` (freeze point 0).
    pub(super) fn init_done(&self, state: &State, at: Instant) {
        if !self.subscribed() {
            return;
        }
        let time = rfc3339(epoch());
        let duration = ms(at.saturating_duration_since(state.started));
        self.push(json!({
            "time": time,
            "type": "platform.initRuntimeDone",
            "record": {
                "initializationType": INIT_TYPE,
                "phase": "init",
                "status": "success",
                "spans": [],
            },
        }));
        self.push(json!({
            "time": time,
            "type": "platform.initReport",
            "record": {
                "initializationType": INIT_TYPE,
                "phase": "init",
                "status": "success",
                "metrics": { "durationMs": duration },
                "spans": [],
            },
        }));
    }

    /// `platform.start` of invocation `k`.
    pub(super) fn start(&self, state: &State, k: usize, trace_header: &str) {
        if !self.subscribed() {
            return;
        }
        self.push(json!({
            "time": rfc3339(epoch()),
            "type": "platform.start",
            "record": {
                "requestId": state.plan.request_id(k),
                "version": "$LATEST",
                "tracing": tracing(state, k, trace_header),
            },
        }));
    }

    /// `platform.runtimeDone` of invocation `i`: the runtime has just called `/next`.
    pub(super) fn runtime_done(&self, state: &State, i: usize) {
        if !self.subscribed() {
            return;
        }
        let now = Instant::now();
        let wall = epoch();
        let record = {
            let timeline = lock(&state.timeline);
            let (Some(&handed_out), Some(issued)) =
                (timeline.handed_out.get(i), timeline.issued.get(i))
            else {
                return;
            };
            let started = timeline.response_started[i].unwrap_or(now);
            let responded = timeline.responded[i].unwrap_or(now);
            let at = |t: Instant| rfc3339(wall.saturating_sub(now.saturating_duration_since(t)));
            json!({
                "requestId": state.plan.request_id(i),
                "status": status(timeline.failed[i]),
                "tracing": tracing(state, i, &issued.trace_header),
                "spans": [
                    {
                        "name": "responseLatency",
                        "start": at(handed_out),
                        "durationMs": ms(started.saturating_duration_since(handed_out)),
                    },
                    {
                        "name": "responseDuration",
                        "start": at(started),
                        "durationMs": ms(responded.saturating_duration_since(started)),
                    },
                ],
                "metrics": {
                    "durationMs": ms(now.saturating_duration_since(handed_out)),
                    "producedBytes": timeline.response_bytes[i],
                },
            })
        };
        self.push(json!({
            "time": rfc3339(wall),
            "type": "platform.runtimeDone",
            "record": record,
        }));
    }

    /// `platform.report` of invocation `i`, at the freeze point that ended it.
    pub(super) fn report(&self, state: &State, i: usize, max_memory_mb: impl FnOnce() -> u64) {
        if !self.subscribed() {
            return;
        }
        let max_memory_mb = max_memory_mb();
        let record = {
            let timeline = lock(&state.timeline);
            let (Some(&handed_out), Some(&frozen), Some(issued)) = (
                timeline.handed_out.get(i),
                timeline.frozen.get(i + 1),
                timeline.issued.get(i),
            ) else {
                return;
            };
            let duration = ms(frozen.saturating_duration_since(handed_out));
            let mut record = json!({
                "requestId": state.plan.request_id(i),
                "status": status(timeline.failed[i]),
                "tracing": tracing(state, i, &issued.trace_header),
                "metrics": {
                    "durationMs": duration,
                    "billedDurationMs": duration.ceil() as u64,
                    "memorySizeMB": MEMORY_MB,
                    "maxMemoryUsedMB": max_memory_mb,
                },
            });
            // The cold start's report carries the init phase's duration.
            if i == 0
                && let Some(&init_end) = timeline.frozen.first()
            {
                record["metrics"]["initDurationMs"] =
                    json!(ms(init_end.saturating_duration_since(state.started)));
            }
            record
        };
        self.push(json!({
            "time": rfc3339(epoch()),
            "type": "platform.report",
            "record": record,
        }));
    }
}

fn status(failed: bool) -> &'static str {
    if failed { "error" } else { "success" }
}

fn tracing(state: &State, k: usize, trace_header: &str) -> Value {
    json!({
        "spanId": state.plan.xray_parent(k),
        "type": "X-Amzn-Trace-Id",
        "value": trace_header,
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `PUT /2022-07-01/telemetry`, from the registered extension.
pub(super) async fn subscribe(state: &Arc<State>, req: Request<Incoming>) -> Reply {
    if !is_external(state, &req) {
        return reply(403, "application/json", r#"{"errorType":"Forbidden"}"#);
    }
    let Ok(body) = req.into_body().collect().await else {
        return reply(400, "", "");
    };
    let subscriber = match serde_json::from_slice::<Value>(&body.to_bytes())
        .map_err(|e| e.to_string())
        .and_then(|v| subscriber(&v))
    {
        Ok(subscriber) => subscriber,
        Err(message) => {
            let body = json!({ "errorType": "ValidationError", "errorMessage": message });
            return reply(400, "application/json", body.to_string());
        }
    };
    lock(&state.timeline).subscribed = Some(Instant::now());
    let first = lock(&state.telemetry.inner)
        .subscriber
        .replace(subscriber)
        .is_none();
    if first {
        state.telemetry.init_start(state);
    }
    let mut task = lock(&state.telemetry.task);
    if task.is_none() {
        *task = Some(tokio::spawn(deliver(Arc::clone(state))).abort_handle());
    }
    reply(200, "text/plain", "OK")
}

/// Reads a subscription as Lambda validates it.
fn subscriber(body: &Value) -> Result<Subscriber, String> {
    let schema = body.get("schemaVersion").and_then(Value::as_str);
    if schema != Some(SCHEMA) {
        return Err(format!(
            "schemaVersion {schema:?}: the benchmark speaks {SCHEMA}"
        ));
    }
    let types: Vec<&str> = body
        .get("types")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !types.contains(&"platform") {
        return Err(format!(
            "types {types:?}: the benchmark produces platform records only"
        ));
    }
    let buffering = body.get("buffering");
    let number = |key: &str| buffering.and_then(|b| b.get(key)).and_then(Value::as_u64);
    let timeout = number("timeoutMs").unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&timeout) {
        return Err(format!(
            "buffering.timeoutMs {timeout}: must be {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}"
        ));
    }
    let max_items = number("maxItems")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_MAX_ITEMS)
        .max(1);
    let destination = body.get("destination");
    let field = |key: &str| destination.and_then(|d| d.get(key)).and_then(Value::as_str);
    if field("protocol") != Some("HTTP") {
        return Err("destination.protocol must be HTTP".to_owned());
    }
    let uri: Uri = field("URI")
        .unwrap_or_default()
        .parse()
        .map_err(|e| format!("destination.URI: {e}"))?;
    let authority = match (uri.scheme_str(), uri.host(), uri.port_u16()) {
        (Some("http"), Some(host), Some(port)) => format!("{host}:{port}"),
        _ => return Err(format!("destination.URI {uri}: http://host:port/ expected")),
    };
    Ok(Subscriber {
        authority,
        path: uri.path().to_owned(),
        delay: Duration::from_millis(timeout),
        max_items,
    })
}

/// Delivers the records as they fall due, until the Runtime API is dropped (`Telemetry::stop`).
async fn deliver(state: Arc<State>) {
    let telemetry = &state.telemetry;
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let due = loop {
            let front = lock(&telemetry.inner).queue.front().map(|p| p.due);
            match front {
                Some(due) => break due,
                // A push in between leaves a permit: nothing is missed.
                None => telemetry.wake.notified().await,
            }
        };
        tokio::time::sleep_until(due.into()).await;
        let mut phase = state.phase.subscribe();
        let _ = phase.wait_for(|p| !p.frozen).await;
        let (records, authority, path) = {
            let mut inner = lock(&telemetry.inner);
            let Some((authority, path, max)) = inner
                .subscriber
                .as_ref()
                .map(|s| (s.authority.clone(), s.path.clone(), s.max_items))
            else {
                continue;
            };
            let now = Instant::now();
            let mut records = Vec::new();
            while records.len() < max && inner.queue.front().is_some_and(|p| p.due <= now) {
                records.extend(inner.queue.pop_front().map(|p| p.record));
            }
            (records, authority, path)
        };
        if records.is_empty() {
            continue;
        }
        let count = records.len();
        let body = Value::Array(records).to_string();
        let delivered = post(&mut connection, &authority, &path, body).await;
        let mut inner = lock(&telemetry.inner);
        if delivered {
            inner.deliveries.delivered += 1;
            inner.deliveries.records += count;
        } else {
            inner.deliveries.failed += 1;
        }
    }
}

/// One delivery over a kept-alive connection, opened again if it was closed.
async fn post(
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    authority: &str,
    path: &str,
    body: String,
) -> bool {
    if connection.as_ref().is_none_or(SendRequest::is_closed) {
        *connection = connect(authority).await;
    }
    let Some(sender) = connection.as_mut() else {
        return false;
    };
    if sender.ready().await.is_err() {
        *connection = None;
        return false;
    }
    let request = Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)));
    let Ok(request) = request else {
        return false;
    };
    match sender.send_request(request).await {
        Ok(response) => {
            let success = response.status().is_success();
            success && response.into_body().collect().await.is_ok()
        }
        Err(_) => {
            *connection = None;
            false
        }
    }
}

async fn connect(authority: &str) -> Option<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    // Ends when the sender is dropped or the extension closes the connection.
    tokio::spawn(connection);
    Some(sender)
}

/// `2022-10-12T00:03:50.123Z` for a time since the epoch.
fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_with_milliseconds() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        // 2022-10-12T00:03:50.123Z, the Telemetry API documentation's example day.
        assert_eq!(
            rfc3339(Duration::from_millis(1_665_533_030_123)),
            "2022-10-12T00:03:50.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_825_600)),
            "2000-02-29T12:00:00.000Z"
        );
    }

    #[test]
    fn subscriptions_are_validated_as_lambda_does() {
        let good = json!({
            "schemaVersion": "2022-12-13",
            "types": ["platform"],
            "buffering": { "maxItems": 1000, "maxBytes": 262_144, "timeoutMs": 25 },
            "destination": { "protocol": "HTTP", "URI": "http://127.0.0.1:4567/" },
        });
        let s = subscriber(&good).expect("valid");
        assert_eq!(
            (s.authority.as_str(), s.path.as_str(), s.delay, s.max_items),
            ("127.0.0.1:4567", "/", Duration::from_millis(25), 1000)
        );
        let mut short = good.clone();
        short["buffering"]["timeoutMs"] = json!(10);
        assert!(subscriber(&short).is_err(), "below Lambda's 25 ms");
        let mut old = good.clone();
        old["schemaVersion"] = json!("2021-03-18");
        assert!(subscriber(&old).is_err());
        let mut logs = good;
        logs["types"] = json!(["function"]);
        assert!(subscriber(&logs).is_err());
    }
}
