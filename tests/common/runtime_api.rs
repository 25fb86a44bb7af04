//! A loopback Lambda Runtime API that hands out queued invocations and records
//! every `/next` poll and every posted outcome on the [`Timeline`].
//!
//! Once the queue is empty, `/next` is held open forever, like the real
//! Runtime API while the sandbox is frozen; tests end the runtime by aborting
//! its task or by finishing.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::timeline::{Timeline, TimelineEvent};
use super::{Reply, reply, serve};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const EXTENSION_REGISTER_PATH: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT_PATH: &str = "/2020-01-01/extension/event/next";

/// The function name in [`RuntimeApi::env_vars`] and the default ARN.
pub const FUNCTION_NAME: &str = "test-fn";
/// The invoked-function ARN of [`Invocation::new`].
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:test-fn";

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

/// What the handler shares across connections.
struct State {
    timeline: Timeline,
    /// Queue and poll counter share one lock so poll numbers are recorded in
    /// the same order the polls took their invocation.
    queue: Mutex<Queue>,
}

struct Queue {
    pending: VecDeque<Invocation>,
    polls: usize,
}

/// Handle on a running loopback Runtime API.
pub struct RuntimeApi {
    addr: SocketAddr,
}

impl RuntimeApi {
    /// Starts the server on its own thread; `invocations` are handed out in
    /// order, one per `/next`.
    pub fn start(timeline: Timeline, invocations: Vec<Invocation>) -> Self {
        let state = Arc::new(State {
            timeline,
            queue: Mutex::new(Queue {
                pending: invocations.into(),
                polls: 0,
            }),
        });
        let addr = serve("runtime-api", move |req| handle(Arc::clone(&state), req));
        Self { addr }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment `lambda_runtime::Runtime::new` reads, pointing at this
    /// server.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/21/[$LATEST]abcdef".to_owned(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            ),
        ]
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

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if method == Method::GET && path == NEXT_PATH {
        return next_invocation(&state).await;
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
        let request_id = request_id.to_owned();
        state.timeline.record(if kind == "response" {
            TimelineEvent::ResponsePosted { request_id, body }
        } else {
            TimelineEvent::ErrorPosted { request_id, body }
        });
        return reply(202, Some("application/json"), r#"{"status":"OK"}"#);
    }
    // lambda_runtime's graceful-shutdown helper registers a no-op extension
    // and then long-polls for its events; it must see a live Runtime API.
    if method == Method::POST && path == EXTENSION_REGISTER_PATH {
        let mut response = reply(
            200,
            Some("application/json"),
            r#"{"functionName":"test-fn","functionVersion":"$LATEST","handler":"bootstrap"}"#,
        );
        let id = "5e1f1a2b-0000-4000-8000-1e57e1e57e11"
            .parse()
            .expect("valid header");
        response
            .headers_mut()
            .insert("lambda-extension-identifier", id);
        return response;
    }
    if method == Method::GET && path == EXTENSION_NEXT_PATH {
        return std::future::pending().await;
    }
    // Printed so a test that hangs on an unexpected call says which one.
    eprintln!("runtime-api: unexpected {method} {path}, answering 404");
    reply(404, None, "")
}

async fn next_invocation(state: &State) -> Reply {
    let invocation = {
        let mut queue = state.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.polls += 1;
        state
            .timeline
            .record(TimelineEvent::NextPolled { n: queue.polls });
        queue.pending.pop_front()
    };
    match invocation {
        Some(invocation) => invocation.into_reply(),
        // Nothing left: hold the poll the way a frozen sandbox would.
        None => std::future::pending().await,
    }
}
