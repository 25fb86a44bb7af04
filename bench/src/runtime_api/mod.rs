//! The loopback Lambda Runtime API: hands out the same event `total` times, one per `/next`,
//! and timestamps every step. With an external extension it also speaks the Extensions API
//! and the Telemetry API, as Lambda does (`extensions.rs`, `telemetry.rs`).
//!
//! The freeze: invocation N+1 is handed out only once the runtime *and* the extension (when
//! one is expected) have called `/next` after N; that moment is the freeze point, where
//! Lambda may freeze the environment, and where the post-response time billed for N ends
//! (`invocations.rs`). At each freeze point the server asks the receiver whether invocation N
//! has all its spans there. X-Ray documents come over UDP: at each freeze point it reads the
//! daemon's socket, and keeps the wall-clock time of the runtime's `/next` to judge them by
//! (`xray.rs`). Every event carries Lambda's X-Ray header as Active tracing sends it
//! (`Sampled=1`); only a function whose propagators include `xray-lambda` reads it.

mod extensions;
mod invocations;
mod telemetry;

use crate::function::CpuClock;
use crate::receiver::Receiver;
use crate::server::{Reply, Server, reply};
use crate::xray::XrayDaemon;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, watch};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const EXTENSION_REGISTER_PATH: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT_PATH: &str = "/2020-01-01/extension/event/next";
const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";

/// The function's name, as `AWS_LAMBDA_FUNCTION_NAME` says.
pub const FUNCTION_NAME: &str = "dice-roller";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:dice-roller";
/// What a function configured with a 30 s timeout gets as its deadline.
const TIMEOUT: Duration = Duration::from_secs(30);
/// What `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` says (1 vCPU).
const MEMORY_MB: u64 = 1769;

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
    /// The external extension that must register (by its `Lambda-Extension-Name`) before the
    /// first invocation, and call `/next` after each one before the next is handed out.
    pub extension: Option<&'static str>,
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

/// The CPU time of the processes of a run at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub function: Option<Duration>,
    pub extension: Option<Duration>,
}

/// What the Telemetry API delivered to the extension.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deliveries {
    /// POSTs answered with success, and the records in them.
    pub delivered: usize,
    pub records: usize,
    /// POSTs that failed (connection refused or reset, or not a 2xx).
    pub failed: usize,
}

/// Everything the Runtime API saw, in its own clock.
#[derive(Debug, Default)]
pub struct Timeline {
    /// The runtime's `/next` arrivals; poll `i` takes invocation `i`, the last one gets nothing.
    pub polls: Vec<Instant>,
    /// The same arrivals in the wall clock, which the kernel stamps UDP datagrams with.
    pub polled_at: Vec<SystemTime>,
    /// The extension's `/next` arrivals, numbered like the runtime's.
    pub extension_polls: Vec<Instant>,
    /// Freeze point `k`: the runtime and the extension (if any) have both called `/next` for
    /// the `k`-th time. Freeze point `i + 1` ends invocation `i`'s billed time.
    pub frozen: Vec<Instant>,
    /// When invocation `i` was handed out to the runtime.
    pub handed_out: Vec<Instant>,
    /// When invocation `i`'s response (or error) began to arrive, and when its last byte was in.
    pub response_started: Vec<Option<Instant>>,
    pub responded: Vec<Option<Instant>>,
    /// The size of invocation `i`'s response body.
    pub response_bytes: Vec<usize>,
    /// Whether invocation `i` posted an error rather than a response.
    pub failed: Vec<bool>,
    /// Whether invocation `i`'s spans were at the receiver at the freeze point that ended it.
    pub freeze_safe: Vec<bool>,
    /// Errors posted instead of responses.
    pub errors: usize,
    /// CPU times when the first measured invocation was handed out (its freeze point), and at
    /// the freeze point after the last one.
    pub cpu_start: CpuTimes,
    pub cpu_end: CpuTimes,
    /// When the expected extension registered, and subscribed to the Telemetry API.
    pub registered: Option<Instant>,
    pub subscribed: Option<Instant>,
    /// When `SHUTDOWN` was handed to the extension.
    pub shutdown: Option<Instant>,
    pub deliveries: Deliveries,
    /// What each invocation was issued with: shared by the runtime's event and the extension's
    /// `INVOKE`.
    issued: Vec<Issued>,
}

/// An invocation's deadline and X-Ray header, fixed when it is handed out.
#[derive(Debug, Clone)]
struct Issued {
    deadline_ms: u128,
    trace_header: String,
}

/// Where the lockstep stands; every `/next` waits on it.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    /// Invocations handed out so far.
    released: usize,
    /// Between a freeze point and the next hand-out (or `SHUTDOWN`): the Telemetry API holds
    /// its deliveries, as a frozen extension cannot take them.
    frozen: bool,
    /// `SHUTDOWN`'s deadline, epoch ms, once the extension is to be shut down.
    shutdown: Option<u128>,
}

/// A process the server reads at the freeze points.
#[derive(Debug, Clone, Copy)]
struct Process {
    clock: CpuClock,
    pid: u32,
}

#[derive(Debug, Default)]
struct Processes {
    function: Option<Process>,
    extension: Option<Process>,
}

struct State {
    plan: Plan,
    /// When the server started: the init phase's start (the extension is started next), in
    /// both clocks.
    started: Instant,
    started_wall: Duration,
    receiver: Arc<Receiver>,
    daemon: Option<Arc<XrayDaemon>>,
    processes: Mutex<Processes>,
    timeline: Mutex<Timeline>,
    phase: watch::Sender<Phase>,
    finished: Notify,
    telemetry: telemetry::Telemetry,
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
                response_started: vec![None; plan.total],
                responded: vec![None; plan.total],
                response_bytes: vec![0; plan.total],
                failed: vec![false; plan.total],
                freeze_safe: vec![false; plan.total],
                ..Timeline::default()
            }),
            plan,
            started: Instant::now(),
            started_wall: epoch(),
            receiver,
            daemon,
            processes: Mutex::new(Processes::default()),
            phase: watch::Sender::new(Phase::default()),
            finished: Notify::new(),
            telemetry: telemetry::Telemetry::default(),
        });
        let shared = Arc::clone(&state);
        let server = Server::start(move |req| handle(Arc::clone(&shared), req)).await?;
        Ok(Self { state, server })
    }

    /// `AWS_LAMBDA_RUNTIME_API` and the rest of the environment Lambda gives a function (and
    /// its extensions: they share it).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.server.addr().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string()),
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

    /// Lets the server read the function's CPU time and peak RSS at the freeze points.
    pub fn set_function(&self, clock: CpuClock, pid: u32) {
        lock(&self.state.processes).function = Some(Process { clock, pid });
    }

    /// The same for the extension.
    pub fn set_extension(&self, clock: CpuClock, pid: u32) {
        lock(&self.state.processes).extension = Some(Process { clock, pid });
    }

    /// When the expected extension registered.
    pub fn registered(&self) -> Option<Instant> {
        lock(&self.state.timeline).registered
    }

    /// The CPU time each process used over the measured invocations, once they are over.
    pub fn cpu_used(&self) -> CpuTimes {
        let timeline = lock(&self.state.timeline);
        let (start, end) = (timeline.cpu_start, timeline.cpu_end);
        let used = |s: Option<Duration>, e: Option<Duration>| Some(e?.saturating_sub(s?));
        CpuTimes {
            function: used(start.function, end.function),
            extension: used(start.extension, end.extension),
        }
    }

    /// Waits for the freeze point after the last invocation.
    pub async fn finished(&self) {
        self.state.finished.notified().await;
    }

    /// Hands `SHUTDOWN` to the extension (now, or as soon as it is back in `/next`), with
    /// `budget` until its deadline; returns when it was sent.
    pub fn shutdown(&self, budget: Duration) -> Instant {
        let deadline = (epoch() + budget).as_millis();
        let now = Instant::now();
        lock(&self.state.timeline).shutdown = Some(now);
        self.state.phase.send_modify(|phase| {
            phase.shutdown = Some(deadline);
            phase.frozen = false;
        });
        now
    }

    /// What the server saw.
    pub fn take_timeline(&self) -> Timeline {
        let mut timeline = std::mem::take(&mut *lock(&self.state.timeline));
        timeline.deliveries = self.state.telemetry.deliveries();
        timeline
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // The Telemetry API's delivery task holds the state; the server's tasks go with it.
        self.state.telemetry.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, as a duration since the epoch.
fn epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, NEXT_PATH) => return invocations::next(&state).await,
        (&Method::POST, EXTENSION_REGISTER_PATH) => return extensions::register(&state, req).await,
        (&Method::GET, EXTENSION_NEXT_PATH) => return extensions::next(&state, &req).await,
        (&Method::PUT, TELEMETRY_PATH) => return telemetry::subscribe(&state, req).await,
        _ => {}
    }
    if req.method() == Method::POST
        && let Some((id, kind)) = path
            .strip_prefix(INVOCATION_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        && (kind == "response" || kind == "error")
    {
        let id = id.to_owned();
        return invocations::respond(&state, &id, kind == "error", req).await;
    }
    reply(404, "", "")
}
