//! The loopback Lambda Runtime API: hands out the same event `total` times, one per `/next`,
//! and timestamps every step. At each `/next` it also asks the receiver whether the invocation
//! that just ended has all its spans there: Lambda may freeze the process from that moment on.
//! X-Ray documents come over UDP: at each `/next` it reads the daemon's socket, and keeps the
//! wall-clock time of the `/next` to judge them by (`xray.rs`). Every event carries Lambda's X-Ray header as Active
//! tracing sends it (`Sampled=1`); only a function whose propagators include `xray-lambda`
//! reads it.

use crate::function::CpuClock;
use crate::receiver::Receiver;
use crate::server::{Reply, Server, reply};
use crate::xray::XrayDaemon;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
// lambda_runtime's graceful-shutdown helper registers an extension and long-polls its events.
const EXTENSION_REGISTER_PATH: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT_PATH: &str = "/2020-01-01/extension/event/next";

/// The function's name, as `AWS_LAMBDA_FUNCTION_NAME` says.
pub const FUNCTION_NAME: &str = "dice-roller";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:dice-roller";
/// What a function configured with a 30 s timeout gets as its deadline.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What one run hands out.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tells this run's request ids from every other run's.
    pub run: u32,
    /// Invocations in all.
    pub total: usize,
    /// The first invocations, not measured (CPU time is read after them).
    pub warmup: usize,
    /// The event every invocation gets.
    pub event: Bytes,
    /// How long each `/next` waits before the event is handed out: with a slow collector, the
    /// configurations that flush sit idle that long between invocations, and an idle CPU comes
    /// back with cold caches; bare must idle as long to be compared fairly.
    pub idle: Duration,
}

impl Plan {
    /// The request id of invocation `i`, shaped like Lambda's.
    pub fn request_id(&self, i: usize) -> String {
        format!("{:08x}-b3c4-4d5e-8f60-{i:012x}", self.run)
    }

    /// The random part of invocation `i`'s X-Ray trace id (`1-<epoch>-<this>`): 24 hex digits
    /// that name the run and the invocation, whatever the epoch.
    pub fn xray_trace(&self, i: usize) -> String {
        format!("{:08x}{i:016x}", self.run)
    }

    /// The `Parent` of invocation `i`'s X-Ray header (Lambda's own segment): 16 hex digits,
    /// never all zeros, which no propagator would accept.
    pub fn xray_parent(&self, i: usize) -> String {
        format!("{:08x}{:08x}", self.run, i + 1)
    }
}

/// Everything the Runtime API saw, in its own clock.
#[derive(Debug, Default)]
pub struct Timeline {
    /// `/next` arrivals; poll `i` takes invocation `i`, the last one gets nothing.
    pub polls: Vec<Instant>,
    /// The same arrivals in the wall clock, which the kernel stamps UDP datagrams with.
    pub polled_at: Vec<SystemTime>,
    /// When invocation `i` was handed out.
    pub handed_out: Vec<Instant>,
    /// When invocation `i`'s response (or error) was posted.
    pub responded: Vec<Option<Instant>>,
    /// Whether invocation `i`'s spans were at the receiver when the next `/next` came.
    pub freeze_safe: Vec<bool>,
    /// Errors posted instead of responses.
    pub errors: usize,
    /// The function's CPU time when the first measured invocation was asked for.
    pub cpu_start: Option<Duration>,
    /// The function's CPU time when it asked for the invocation after the last one.
    pub cpu_end: Option<Duration>,
}

struct State {
    plan: Plan,
    receiver: Arc<Receiver>,
    daemon: Option<Arc<XrayDaemon>>,
    cpu: OnceLock<CpuClock>,
    timeline: Mutex<Timeline>,
    finished: Notify,
}

/// A running Runtime API for one run.
pub struct RuntimeApi {
    state: Arc<State>,
    server: Server,
}

impl RuntimeApi {
    /// Starts the server for `plan`; `receiver` (or `daemon`, for X-Ray) is where the
    /// function's spans go.
    pub async fn start(
        plan: Plan,
        receiver: Arc<Receiver>,
        daemon: Option<Arc<XrayDaemon>>,
    ) -> io::Result<Self> {
        let state = Arc::new(State {
            timeline: Mutex::new(Timeline {
                responded: vec![None; plan.total],
                freeze_safe: vec![false; plan.total],
                ..Timeline::default()
            }),
            plan,
            receiver,
            daemon,
            cpu: OnceLock::new(),
            finished: Notify::new(),
        });
        let shared = Arc::clone(&state);
        let server = Server::start(move |req| handle(Arc::clone(&shared), req)).await?;
        Ok(Self { state, server })
    }

    /// `AWS_LAMBDA_RUNTIME_API` and the rest of the environment Lambda gives a function.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.server.addr().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/21/[$LATEST]0123456789abcdef".to_owned(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Lets the server read the function's CPU time at the measured invocations' edges.
    pub fn set_cpu_clock(&self, clock: CpuClock) {
        let _ = self.state.cpu.set(clock);
    }

    /// Waits until the function asks for the invocation after the last one.
    pub async fn finished(&self) {
        self.state.finished.notified().await;
    }

    /// What the server saw.
    pub fn take_timeline(&self) -> Timeline {
        std::mem::take(&mut *lock(&self.state.timeline))
    }
}

fn lock(timeline: &Mutex<Timeline>) -> MutexGuard<'_, Timeline> {
    timeline.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path();
    if req.method() == Method::GET && path == NEXT_PATH {
        return next(&state).await;
    }
    if req.method() == Method::POST
        && let Some((id, kind)) = path
            .strip_prefix(INVOCATION_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        && (kind == "response" || kind == "error")
    {
        let id = id.to_owned();
        let error = kind == "error";
        // The response counts as posted once its last byte is in.
        if req.into_body().collect().await.is_err() {
            return reply(400, "", "");
        }
        let at = Instant::now();
        let mut timeline = lock(&state.timeline);
        if let Some(i) = invocation_index(&state.plan, &id)
            && let Some(slot) = timeline.responded.get_mut(i)
        {
            *slot = Some(at);
        }
        if error {
            timeline.errors += 1;
        }
        return reply(202, "application/json", r#"{"status":"OK"}"#);
    }
    if req.method() == Method::POST && path == EXTENSION_REGISTER_PATH {
        let mut response = reply(
            200,
            "application/json",
            format!(
                r#"{{"functionName":"{FUNCTION_NAME}","functionVersion":"$LATEST","handler":"bootstrap"}}"#
            ),
        );
        response.headers_mut().insert(
            "lambda-extension-identifier",
            HeaderValue::from_static("5e1f1a2b-0000-4000-8000-1e57e1e57e11"),
        );
        return response;
    }
    if req.method() == Method::GET && path == EXTENSION_NEXT_PATH {
        return std::future::pending().await;
    }
    reply(404, "", "")
}

fn invocation_index(plan: &Plan, id: &str) -> Option<usize> {
    let (_, index) = id.rsplit_once('-')?;
    let i = usize::from_str_radix(index, 16).ok()?;
    (plan.request_id(i) == id).then_some(i)
}

async fn next(state: &State) -> Reply {
    let now = Instant::now();
    let wall = SystemTime::now();
    let plan = &state.plan;
    let i = {
        let mut timeline = lock(&state.timeline);
        let i = timeline.polls.len();
        timeline.polls.push(now);
        timeline.polled_at.push(wall);
        if let Some(ended) = i.checked_sub(1) {
            timeline.freeze_safe[ended] =
                state.receiver.arrived(&plan.request_id(ended)).complete();
        }
        if i == plan.warmup || i == plan.total {
            let cpu = state.cpu.get().and_then(CpuClock::read);
            if i == plan.warmup {
                timeline.cpu_start = cpu;
            } else {
                timeline.cpu_end = cpu;
            }
        }
        i
    };
    // The function waits for its event now: reading its datagrams here takes nothing from
    // what is measured (the event is stamped as handed out below).
    if let Some(daemon) = &state.daemon {
        daemon.drain();
    }
    if i >= plan.total {
        state.finished.notify_one();
        // Hold the poll, as Lambda does while the environment waits for work.
        return std::future::pending().await;
    }
    if !plan.idle.is_zero() {
        tokio::time::sleep(plan.idle).await;
    }
    let reply = invocation(plan, i);
    lock(&state.timeline).handed_out.push(Instant::now());
    reply
}

fn invocation(plan: &Plan, i: usize) -> Reply {
    let mut response = reply(200, "application/json", plan.event.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let deadline = (now + TIMEOUT).as_millis();
    // X-Ray refuses a trace id whose first part is not a recent epoch second.
    let epoch = now.as_secs();
    let headers = [
        ("lambda-runtime-aws-request-id", plan.request_id(i)),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            FUNCTION_ARN.to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{epoch:08x}-{};Parent={};Sampled=1",
                plan.xray_trace(i),
                plan.xray_parent(i)
            ),
        ),
    ];
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
