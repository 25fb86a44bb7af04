//! A loopback Lambda Runtime API that hands out queued invocations and records
//! every `/next` poll and every posted outcome on the [`Timeline`].
//!
//! It also speaks the Extensions API and the Telemetry API (see [`Emulation`]): extensions
//! register, long-poll their events in lockstep with the runtime, get SHUTDOWN, and subscribe
//! to platform records, as on Lambda. With the default [`Emulation`] and no extension it
//! behaves as a bare Runtime API.
//!
//! Once the queue is empty, `/next` is held open forever, like the real
//! Runtime API while the sandbox is frozen; tests end the runtime by aborting
//! its task or by finishing. With [`Emulation::with_timeouts`] it enforces each invocation's
//! deadline as Lambda does, and [`RuntimeApi::runtime_exited`] tells it that the runtime
//! process ended: both reset the environment (see [`Emulation::with_timeouts`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::environment::Environment;
use super::extensions_api;
use super::timeline::Timeline;
use super::{Reply, reply, serve};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";

/// The function name in [`RuntimeApi::env_vars`] and the default ARN.
pub const FUNCTION_NAME: &str = "test-fn";
/// The invoked-function ARN of [`Invocation::new`].
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:test-fn";
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, and `memorySizeMB` in `platform.report`.
pub const MEMORY_SIZE_MB: u32 = 128;

/// One event the Runtime API will hand to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event payload (the function's JSON input).
    pub body: Vec<u8>,
    /// `Lambda-Runtime-Trace-Id`, sent only when set.
    pub xray_trace_id: Option<String>,
    /// `Lambda-Runtime-Deadline-Ms`, epoch milliseconds.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
}

impl Invocation {
    /// An invocation due 30 s from now, for [`FUNCTION_ARN`], without X-Ray.
    pub fn new(request_id: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        let deadline = now + Duration::from_secs(30);
        Self {
            request_id: request_id.into(),
            body: body.into(),
            xray_trace_id: None,
            deadline_ms: u64::try_from(deadline.as_millis()).expect("deadline fits in u64"),
            function_arn: FUNCTION_ARN.to_owned(),
        }
    }

    /// Sends `Lambda-Runtime-Trace-Id: header` with this invocation.
    pub fn with_xray(mut self, header: impl Into<String>) -> Self {
        self.xray_trace_id = Some(header.into());
        self
    }

    /// Overrides the deadline (epoch milliseconds).
    pub fn with_deadline_ms(mut self, deadline_ms: u64) -> Self {
        self.deadline_ms = deadline_ms;
        self
    }

    fn into_reply(self) -> Reply {
        let mut response = reply(200, Some("application/json"), self.body);
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("bad {name} value {value:?}: {e}"));
            headers.insert(name, value);
        };
        set("lambda-runtime-aws-request-id", &self.request_id);
        set("lambda-runtime-deadline-ms", &self.deadline_ms.to_string());
        set("lambda-runtime-invoked-function-arn", &self.function_arn);
        if let Some(trace_id) = &self.xray_trace_id {
            set("lambda-runtime-trace-id", trace_id);
        }
        response
    }
}

/// Why the environment shuts down: the `shutdownReason` of the SHUTDOWN event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// `spindown`: Lambda reclaims an idle environment.
    Spindown,
    /// `timeout`: an invocation ran past its deadline.
    Timeout,
    /// `failure`: the runtime or an extension failed.
    Failure,
}

impl ShutdownReason {
    /// The value Lambda sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spindown => "spindown",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
        }
    }
}

/// What kind of execution environment the loopback Runtime API emulates, beyond the runtime:
/// which extensions Lambda would start, Lambda Managed Instances, SHUTDOWN, telemetry timing.
///
/// The default is a standard (on-demand) function with no external extension, no SHUTDOWN and
/// each subscription's own buffering: what [`RuntimeApi::start`] runs.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Emulation {
    /// Names of the external extensions (the files Lambda finds in `/opt/extensions`).
    pub external_extensions: Vec<String>,
    /// Lambda Managed Instances: extensions may not register for INVOKE, subscriptions need
    /// schema 2025-01-29, `AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`.
    pub managed_instances: bool,
    /// Send SHUTDOWN with this reason once the last queued invocation is done.
    pub shutdown_after_last: Option<ShutdownReason>,
    /// Buffering delay of every Telemetry API delivery, instead of each subscription's
    /// `timeoutMs` (Lambda's default 1000 ms when it has none).
    pub telemetry_delay: Option<Duration>,
    /// Enforce each invocation's deadline as Lambda enforces the function timeout.
    pub timeouts: bool,
}

impl Emulation {
    /// Expects the external extension `name` (the name it registers with, its file name on
    /// Lambda): no invocation is handed out before it has registered and called `/next`, and it
    /// may register for SHUTDOWN. Every other name registers as an internal extension.
    /// Default: none.
    pub fn with_external_extension(mut self, name: impl Into<String>) -> Self {
        self.external_extensions.push(name.into());
        self
    }

    /// Emulates Lambda Managed Instances. Default: off.
    pub fn with_managed_instances(mut self) -> Self {
        self.managed_instances = true;
        self
    }

    /// Sends SHUTDOWN (`reason`, deadline 2 s away) to every extension registered for it once
    /// the last queued invocation is done and everyone is back in `/next`. Default: never.
    pub fn with_shutdown_after_last(mut self, reason: ShutdownReason) -> Self {
        self.shutdown_after_last = Some(reason);
        self
    }

    /// Holds every telemetry batch `delay` after its first record instead of the
    /// subscription's `timeoutMs`. Default: the subscription's.
    pub fn with_telemetry_delay(mut self, delay: Duration) -> Self {
        self.telemetry_delay = Some(delay);
        self
    }

    /// Enforces each invocation's deadline (`Lambda-Runtime-Deadline-Ms`) with a timer, as
    /// Lambda enforces the function timeout over the whole invoke phase: when it passes before
    /// the runtime posted the outcome and called `/next` again and every INVOKE extension is
    /// back in `/next`, the invocation times out ([`TimelineEvent::InvocationTimedOut`]):
    /// `platform.runtimeDone` (unless the runtime was done already) and `platform.report`
    /// with status `timeout` and `errorType` `Sandbox.Timedout`, then the environment is
    /// reset: SHUTDOWN (`timeout`, deadline 2 s away) to every extension registered for it,
    /// at once to one waiting in `/next`, else at its next poll; no invocation handed out after
    /// (the rest of the queue is dropped: Lambda would start a fresh environment, which an
    /// in-process runtime cannot be); the runtime's polls held forever; a late outcome for the
    /// invocation refused with 410 `InvokeTimeout` ([`TimelineEvent::OutcomeRefused`]).
    ///
    /// Standard functions only ([`RuntimeApi::start_with`] refuses it with
    /// [`with_managed_instances`](Self::with_managed_instances)). Default: off, deadlines are
    /// only told to the function (tests of the function's own deadline bounds post at or after
    /// it on purpose).
    ///
    /// [`TimelineEvent::InvocationTimedOut`]: super::timeline::TimelineEvent::InvocationTimedOut
    /// [`TimelineEvent::OutcomeRefused`]: super::timeline::TimelineEvent::OutcomeRefused
    pub fn with_timeouts(mut self) -> Self {
        self.timeouts = true;
        self
    }

    /// `initializationType` of the init records.
    pub(super) fn initialization_type(&self) -> &'static str {
        if self.managed_instances {
            "lambda-managed-instances"
        } else {
            "on-demand"
        }
    }

    /// Whether `name` is an external extension.
    pub(super) fn is_external(&self, name: &str) -> bool {
        self.external_extensions.iter().any(|e| e == name)
    }
}

/// Handle on a running loopback Runtime API; clones share it.
#[derive(Clone)]
pub struct RuntimeApi {
    addr: SocketAddr,
    managed_instances: bool,
    env: Arc<Environment>,
}

impl RuntimeApi {
    /// Starts the server on its own thread; `invocations` are handed out in
    /// order, one per `/next`.
    pub fn start(timeline: Timeline, invocations: Vec<Invocation>) -> Self {
        Self::start_with(timeline, invocations, Emulation::default())
    }

    /// As [`start`](Self::start), emulating `emulation`'s environment. Panics when it asks
    /// for timeouts on Lambda Managed Instances (not emulated).
    pub fn start_with(
        timeline: Timeline,
        invocations: Vec<Invocation>,
        emulation: Emulation,
    ) -> Self {
        assert!(
            !(emulation.timeouts && emulation.managed_instances),
            "timeouts are emulated for standard functions only, not on Lambda Managed Instances"
        );
        let managed_instances = emulation.managed_instances;
        let env = Environment::new(timeline, invocations, emulation);
        let server_env = Arc::clone(&env);
        let addr = serve("runtime-api", move |req| {
            handle(Arc::clone(&server_env), req)
        });
        Self {
            addr,
            managed_instances,
            env,
        }
    }

    /// Tells the emulator that the function's runtime process ended with `exit_code` (`None`
    /// when a signal ended it), as Lambda learns it from the process: recorded as
    /// [`TimelineEvent::RuntimeExited`]. Unless the environment had its SHUTDOWN (or a reset)
    /// already, Lambda ends the invocation under way, if any, with `platform.runtimeDone`
    /// (unless the runtime was done with it) and `platform.report`, status `failure`,
    /// `errorType` `Runtime.ExitError`, and resets the environment as for a timeout (see
    /// [`Emulation::with_timeouts`]) with SHUTDOWN reason `failure`. A test calls it once it has
    /// seen the process end; [`RuntimeProcess`] does it by itself.
    ///
    /// [`TimelineEvent::RuntimeExited`]: super::timeline::TimelineEvent::RuntimeExited
    /// [`RuntimeProcess`]: super::child::RuntimeProcess
    pub fn runtime_exited(&self, exit_code: Option<i32>) {
        self.env.runtime_exited(exit_code);
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment `lambda_runtime::Runtime::new` reads, pointing at this
    /// server.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("AWS_LAMBDA_RUNTIME_API", self.addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                MEMORY_SIZE_MB.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/21/[$LATEST]abcdef".to_owned(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            ),
        ];
        if self.managed_instances {
            vars.push((
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                "lambda-managed-instances".to_owned(),
            ));
        }
        vars
    }

    /// Sets [`Self::env_vars`] in the process environment.
    ///
    /// Call it before starting the runtime or anything else that reads the
    /// environment.
    pub fn set_env(&self) {
        for (key, value) in self.env_vars() {
            // SAFETY: `set_var` races only with concurrent reads or writes of
            // the environment from other threads. Tests run under
            // cargo-nextest, one test per process, and call this before the
            // runtime (or any exporter thread) starts; the harness's own
            // server threads never touch the environment.
            unsafe { std::env::set_var(key, value) };
        }
    }
}

async fn handle(env: Arc<Environment>, req: Request<Incoming>) -> Reply {
    let arrived_at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if method == Method::GET && path == NEXT_PATH {
        // Held until the environment hands out an invocation: forever once the queue is empty.
        return match env.runtime_next().await {
            Ok(invocation) => invocation.into_reply(),
            Err(_) => std::future::pending().await,
        };
    }
    if method == Method::POST
        && let Some((request_id, kind)) = path
            .strip_prefix(INVOCATION_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        && (kind == "response" || kind == "error")
    {
        let body = match req.into_body().collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(e) => return reply(400, None, format!("unreadable body: {e}")),
        };
        return match env.outcome(request_id.to_owned(), kind == "error", body, arrived_at) {
            Ok(()) => reply(202, Some("application/json"), r#"{"status":"OK"}"#),
            Err(refusal) => refusal.reply(),
        };
    }
    match extensions_api::handle(&env, req).await {
        Ok(answer) => answer,
        Err(_) => {
            // Printed so a test that hangs on an unexpected call says which one.
            eprintln!("runtime-api: unexpected {method} {path}, answering 404");
            reply(404, None, "")
        }
    }
}
