//! The Telemetry API of the loopback Runtime API: `PUT /2022-07-01/telemetry` validated as
//! Lambda validates it, and the delivery of platform records to each subscriber as Lambda
//! delivers them.
//!
//! Delivery follows AWS's own emulator (aws-lambda-runtime-interface-emulator, its telemetry
//! subscriber): a batch opens with its first record and goes out when that record is
//! `timeoutMs` old or when it holds `maxItems` records or `maxBytes` bytes; one HTTP POST of a
//! JSON array of `{"time", "type", "record"}` objects per batch, one batch at a time per
//! subscriber. A batch the subscriber refuses or does not answer within 5 s is dropped (Lambda
//! drops it too and says so with `platform.logsDropped`, which is not emulated).
//!
//! Only `platform` records are produced (no function or extension log lines), and in the
//! 2022-12-13 schema whatever `schemaVersion` the subscription asked for.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::extensions_api::ApiError;
use super::timeline::{Timeline, TimelineEvent};

/// The subscription path (Telemetry API 2022-07-01).
pub(super) const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
/// What a standard function accepts; Lambda Managed Instances accept only the last.
const SCHEMA_VERSIONS: [&str; 3] = ["2022-07-01", "2022-12-13", "2025-01-29"];
const MANAGED_INSTANCES_SCHEMA_VERSION: &str = "2025-01-29";
const TYPES: [&str; 3] = ["platform", "function", "extension"];
/// The Runtime API's own port on Lambda: no listener may use it.
const RESERVED_PORT: u16 = 9001;
/// Hosts a destination may name; Lambda documents `sandbox.localdomain`, AWS's emulator also
/// takes `sandbox`, and the harness takes the loopback names its tests bind.
const HOSTS: [&str; 4] = ["sandbox.localdomain", "sandbox", "127.0.0.1", "localhost"];
/// Lambda's buffering bounds and defaults (`maxItems`, `maxBytes`, `timeoutMs`).
const MAX_ITEMS: (u64, u64, u64) = (1_000, 10_000, 10_000);
const MAX_BYTES: (u64, u64, u64) = (262_144, 1_048_576, 262_144);
const TIMEOUT_MS: (u64, u64, u64) = (25, 30_000, 1_000);
/// How long a subscriber may take to answer one delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One record as Lambda sends it, `{"time", "type", "record"}`, and when it was produced.
#[derive(Debug, Clone)]
pub(super) struct Record {
    produced: Instant,
    item: Value,
    bytes: usize,
}

impl Record {
    /// A record of type `kind` produced now.
    pub(super) fn new(kind: &str, record: Value) -> Self {
        let item = json!({ "time": timestamp(SystemTime::now()), "type": kind, "record": record });
        let bytes = item.to_string().len();
        Self {
            produced: Instant::now(),
            item,
            bytes,
        }
    }
}

/// The platform records produced so far and the subscribers they go to.
#[derive(Debug)]
pub(super) struct Platform {
    /// Records of the init phase, replayed to an extension that subscribes during init
    /// (`None` once init is over: subscriptions are closed then).
    history: Option<Vec<Record>>,
    subscribers: Vec<Subscriber>,
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            history: Some(Vec::new()),
            subscribers: Vec::new(),
        }
    }
}

impl Platform {
    /// Produces a record of type `kind` and hands it to every platform subscriber.
    pub(super) fn produce(&mut self, kind: &str, record: Value) {
        let record = Record::new(kind, record);
        for subscriber in &self.subscribers {
            subscriber.offer(&record);
        }
        if let Some(history) = &mut self.history {
            history.push(record);
        }
    }

    /// Adds `subscriber` (replacing an earlier subscription of the same extension) and hands
    /// it the records produced so far.
    pub(super) fn subscribe(&mut self, subscriber: Subscriber) {
        self.subscribers.retain(|s| s.name != subscriber.name);
        for record in self.history.iter().flatten() {
            subscriber.offer(record);
        }
        self.subscribers.push(subscriber);
    }

    /// Init is over: nothing is kept for later subscribers.
    pub(super) fn end_init(&mut self) {
        self.history = None;
    }
}

/// Where a subscription's records go.
#[derive(Debug, Clone)]
struct Destination {
    /// The URI as the extension gave it.
    uri: String,
    addr: SocketAddr,
    host: String,
    path: String,
}

/// A subscription that passed validation.
#[derive(Debug, Clone)]
pub(super) struct Subscription {
    /// The `types` asked for.
    pub(super) types: Vec<String>,
    destination: Destination,
    max_items: usize,
    max_bytes: usize,
    timeout: Duration,
}

impl Subscription {
    /// The destination URI as given.
    pub(super) fn uri(&self) -> &str {
        &self.destination.uri
    }
}

/// Validates a subscription body as Lambda does (400 `ValidationError` on anything else).
pub(super) fn parse_subscription(
    body: &[u8],
    managed_instances: bool,
) -> Result<Subscription, ApiError> {
    let invalid = ApiError::validation;
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("failed to parse JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(invalid("the subscription must be a JSON object".to_owned()));
    };
    let allowed: &[&str] = if managed_instances {
        &[MANAGED_INSTANCES_SCHEMA_VERSION]
    } else {
        &SCHEMA_VERSIONS
    };
    match body.get("schemaVersion").and_then(Value::as_str) {
        Some(version) if allowed.contains(&version) => {}
        other => {
            return Err(invalid(format!(
                "schemaVersion {other:?} not in {allowed:?}"
            )));
        }
    }
    let types = parse_types(body.get("types")).map_err(invalid)?;
    let destination = parse_destination(body.get("destination")).map_err(invalid)?;
    let buffering = match body.get("buffering") {
        None => &Map::new(),
        Some(Value::Object(buffering)) => buffering,
        Some(other) => return Err(invalid(format!("buffering must be an object, not {other}"))),
    };
    let bounded = |key: &str, (min, max, default): (u64, u64, u64)| match buffering.get(key) {
        None => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(format!("buffering.{key} {value} not in {min}..={max}"))),
    };
    let max_items = bounded("maxItems", MAX_ITEMS)?;
    let max_bytes = bounded("maxBytes", MAX_BYTES)?;
    let timeout_ms = bounded("timeoutMs", TIMEOUT_MS)?;
    Ok(Subscription {
        types,
        destination,
        max_items: usize::try_from(max_items).expect("at most 10 000"),
        max_bytes: usize::try_from(max_bytes).expect("at most 1 MiB"),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn parse_types(types: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(Value::Array(types)) = types else {
        return Err(format!("types must be an array, not {types:?}"));
    };
    if types.is_empty() {
        return Err("types must name at least one of platform, function, extension".to_owned());
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            Some(name) if TYPES.contains(&name) => Ok(name.to_owned()),
            _ => Err(format!("type {t} not in {TYPES:?}")),
        })
        .collect()
}

fn parse_destination(destination: Option<&Value>) -> Result<Destination, String> {
    let Some(Value::Object(destination)) = destination else {
        return Err(format!(
            "destination must be an object, not {destination:?}"
        ));
    };
    match destination.get("protocol").and_then(Value::as_str) {
        Some("HTTP") => {}
        Some("TCP") => return Err("TCP destinations are not emulated by this harness".to_owned()),
        other => return Err(format!("destination.protocol {other:?} is not HTTP or TCP")),
    }
    let uri = match destination.get("URI").and_then(Value::as_str) {
        Some(uri) if !uri.is_empty() => uri,
        _ => return Err("destination.URI is required with protocol HTTP".to_owned()),
    };
    let rest = uri
        .strip_prefix("http://")
        .ok_or_else(|| format!("destination.URI {uri:?} is not http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let (host, port) = authority
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .filter(|(_, port)| *port != 0)
        .ok_or_else(|| format!("destination.URI {uri:?} needs a host and a port"))?;
    if !HOSTS.contains(&host) {
        return Err(format!("destination.URI host {host:?} not in {HOSTS:?}"));
    }
    if port == RESERVED_PORT {
        return Err(format!("destination.URI port {RESERVED_PORT} is reserved"));
    }
    Ok(Destination {
        uri: uri.to_owned(),
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        host: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// One extension's subscription: records go to its delivery task through `records`.
#[derive(Debug)]
pub(super) struct Subscriber {
    name: String,
    platform: bool,
    records: mpsc::UnboundedSender<Record>,
}

impl Subscriber {
    /// Starts delivering to `subscription` on the current tokio runtime; `delay` replaces the
    /// subscription's `timeoutMs` when set.
    pub(super) fn start(
        name: &str,
        subscription: Subscription,
        delay: Option<Duration>,
        timeline: Timeline,
    ) -> Self {
        let (records, queue) = mpsc::unbounded_channel();
        let platform = subscription.types.iter().any(|t| t == "platform");
        let delivery = Delivery {
            name: name.to_owned(),
            timeout: delay.unwrap_or(subscription.timeout),
            subscription,
            timeline,
        };
        tokio::spawn(delivery.run(queue));
        Self {
            name: name.to_owned(),
            platform,
            records,
        }
    }

    fn offer(&self, record: &Record) {
        if self.platform {
            // A closed queue means the delivery task ended with its runtime: nothing to do.
            let _ = self.records.send(record.clone());
        }
    }
}

/// The task that batches and posts one subscriber's records.
struct Delivery {
    name: String,
    subscription: Subscription,
    timeout: Duration,
    timeline: Timeline,
}

impl Delivery {
    async fn run(self, mut queue: mpsc::UnboundedReceiver<Record>) {
        while let Some(first) = queue.recv().await {
            let due = tokio::time::Instant::from_std(first.produced + self.timeout);
            let mut batch = vec![first];
            while !self.full(&batch) {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(due) => {
                        // Records already produced when the batch is due go with it.
                        while !self.full(&batch) && let Ok(record) = queue.try_recv() {
                            batch.push(record);
                        }
                        break;
                    }
                    record = queue.recv() => match record {
                        Some(record) => batch.push(record),
                        None => break,
                    },
                }
            }
            self.deliver(batch).await;
        }
    }

    fn full(&self, batch: &[Record]) -> bool {
        batch.len() >= self.subscription.max_items
            || batch.iter().map(|r| r.bytes).sum::<usize>() >= self.subscription.max_bytes
    }

    async fn deliver(&self, batch: Vec<Record>) {
        let records: Vec<Value> = batch.into_iter().map(|r| r.item).collect();
        let body = serde_json::to_vec(&records).expect("records serialise");
        let outcome = tokio::time::timeout(DELIVERY_TIMEOUT, self.post(body))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {DELIVERY_TIMEOUT:?}")));
        let name = self.name.clone();
        self.timeline.record(match outcome {
            Ok(()) => TimelineEvent::TelemetryDelivered { name, records },
            Err(error) => {
                eprintln!("runtime-api: telemetry delivery to {name} failed: {error}");
                TimelineEvent::TelemetryDeliveryFailed {
                    name,
                    records: records.len(),
                    error,
                }
            }
        });
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let destination = &self.subscription.destination;
        let stream = tokio::net::TcpStream::connect(destination.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", destination.addr))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        let request = Request::post(destination.path.as_str())
            .header(http::header::HOST, destination.host.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("read answer: {e}"))?
            .to_bytes();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "answered {status}: {}",
                String::from_utf8_lossy(&answer)
            ))
        }
    }
}

/// `t` as Lambda writes record times: RFC 3339, UTC, milliseconds (`2022-10-21T14:05:03.165Z`).
pub fn timestamp(t: SystemTime) -> String {
    let since_epoch = t.duration_since(UNIX_EPOCH).expect("clock after 1970");
    let secs = since_epoch.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).expect("days fit in i64"));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date: Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("day of month");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("month");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
