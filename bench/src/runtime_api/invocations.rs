//! The runtime's side (`/next`, `/response`, `/error`) and the lockstep that makes the freeze:
//! whichever of the runtime and the extension calls `/next` last makes the freeze point, does
//! its bookkeeping there, waits the plan's idle time, and releases the next invocation to both.

use super::{Issued, Phase, Process, State, TIMEOUT, epoch, lock};
use crate::function::peak_rss_of;
use crate::server::{Reply, reply};
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use std::time::{Instant, SystemTime};

/// Who called `/next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Party {
    Runtime,
    Extension,
}

/// The runtime's `/next`: invocation `k` once released, or nothing after the last one (the
/// poll is held, as Lambda does while the environment waits for work).
pub(super) async fn next(state: &State) -> Reply {
    let (k, leader) = poll(state, Party::Runtime);
    if let Some(done) = k.checked_sub(1) {
        state.telemetry.runtime_done(state, done);
    }
    if let Some(at) = leader {
        freeze(state, k, at).await;
    }
    released(state, k, false).await;
    let reply = invocation(state, k);
    lock(&state.timeline).handed_out.push(Instant::now());
    reply
}

/// A response or an error for `id`.
pub(super) async fn respond(state: &State, id: &str, error: bool, req: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(400, "", ""),
    };
    // The response counts as posted once its last byte is in.
    let at = Instant::now();
    let mut timeline = lock(&state.timeline);
    // Sized for the plan; empty once the run is over (`take_timeline`).
    if let Some(i) = invocation_index(&state.plan, id)
        && i < timeline.responded.len()
    {
        timeline.response_started[i] = Some(started);
        timeline.responded[i] = Some(at);
        timeline.failed[i] = error;
        timeline.response_bytes[i] = body.len();
    }
    if error {
        timeline.errors += 1;
    }
    reply(202, "application/json", r#"{"status":"OK"}"#)
}

fn invocation_index(plan: &super::Plan, id: &str) -> Option<usize> {
    let (_, index) = id.rsplit_once('-')?;
    let i = usize::from_str_radix(index, 16).ok()?;
    (plan.request_id(i) == id).then_some(i)
}

/// Records `party`'s `/next`; returns its number `k` and, if it completes freeze point `k` (the
/// other party, if any, is already there), its arrival time. One lock, so exactly one leads.
pub(super) fn poll(state: &State, party: Party) -> (usize, Option<Instant>) {
    let now = Instant::now();
    let mut timeline = lock(&state.timeline);
    let k = match party {
        Party::Runtime => {
            timeline.polls.push(now);
            timeline.polled_at.push(SystemTime::now());
            timeline.polls.len() - 1
        }
        Party::Extension => {
            timeline.extension_polls.push(now);
            timeline.extension_polls.len() - 1
        }
    };
    let runtime_there = timeline.polls.len() > k;
    let extension_there = state.plan.extension.is_none() || timeline.extension_polls.len() > k;
    (k, (runtime_there && extension_there).then_some(now))
}

/// Freeze point `k`, reached `at`: invocation `k - 1` is over for the runtime and the
/// extension. What was at the receiver, the CPU clocks at the measured invocations' edges, the
/// platform report; then, unless it was the last, invocation `k` is handed out after the
/// plan's idle time.
pub(super) async fn freeze(state: &State, k: usize, at: Instant) {
    let plan = &state.plan;
    {
        let mut timeline = lock(&state.timeline);
        timeline.frozen.push(at);
        if let Some(ended) = k.checked_sub(1)
            && let Some(safe) = timeline.freeze_safe.get_mut(ended)
        {
            *safe = state.receiver.arrived(&plan.request_id(ended)).complete();
        }
        if k == plan.warmup || k == plan.total {
            let processes = lock(&state.processes);
            let read = |p: Option<Process>| p.and_then(|p| p.clock.read());
            let cpu = super::CpuTimes {
                function: read(processes.function),
                extension: read(processes.extension),
            };
            if k == plan.warmup {
                timeline.cpu_start = cpu;
            } else {
                timeline.cpu_end = cpu;
            }
        }
    }
    state.phase.send_modify(|phase| phase.frozen = true);
    if let Some(ended) = k.checked_sub(1) {
        state
            .telemetry
            .report(state, ended, || max_memory_mb(state));
    }
    // The function waits for its event now: reading its datagrams here takes nothing from
    // what is measured (the event is stamped as handed out by the runtime's `/next`).
    if let Some(daemon) = &state.daemon {
        daemon.drain();
    }
    if k == 0 {
        state.telemetry.init_done(state, at);
    }
    if k >= plan.total {
        state.finished.notify_one();
        return;
    }
    if !plan.idle.is_zero() {
        tokio::time::sleep(plan.idle).await;
    }
    let issued = issue(plan, k);
    state.telemetry.start(state, k, &issued.trace_header);
    lock(&state.timeline).issued.push(issued);
    state.phase.send_modify(|phase| {
        phase.released = k + 1;
        phase.frozen = false;
    });
}

/// Waits until invocation `k` is handed out; with `shutdown`, returns `false` instead when the
/// run is over and `SHUTDOWN` is due. Without it, past the last invocation it never returns.
pub(super) async fn released(state: &State, k: usize, shutdown: bool) -> bool {
    let total = state.plan.total;
    let ready =
        |phase: &Phase| phase.released > k || (shutdown && k >= total && phase.shutdown.is_some());
    let mut phase = state.phase.subscribe();
    let handed_out = phase.wait_for(ready).await.map(|phase| phase.released > k);
    match handed_out {
        Ok(handed_out) => handed_out,
        // The sender lives in the state, which outlives every request: never reached.
        Err(_) => std::future::pending().await,
    }
}

/// Fixes invocation `k`'s deadline and X-Ray header as it is handed out.
fn issue(plan: &super::Plan, k: usize) -> Issued {
    let now = epoch();
    // X-Ray refuses a trace id whose first part is not a recent epoch second.
    let epoch_s = now.as_secs();
    Issued {
        deadline_ms: (now + TIMEOUT).as_millis(),
        trace_header: format!(
            "Root=1-{epoch_s:08x}-{};Parent={};Sampled=1",
            plan.xray_trace(k),
            plan.xray_parent(k)
        ),
    }
}

/// Invocation `k` as the runtime gets it.
fn invocation(state: &State, k: usize) -> Reply {
    let plan = &state.plan;
    let Some(issued) = lock(&state.timeline).issued.get(k).cloned() else {
        return reply(500, "", "");
    };
    let mut response = reply(200, "application/json", plan.event.clone());
    let headers = [
        ("lambda-runtime-aws-request-id", plan.request_id(k)),
        ("lambda-runtime-deadline-ms", issued.deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            super::FUNCTION_ARN.to_owned(),
        ),
        ("lambda-runtime-trace-id", issued.trace_header),
    ];
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The INVOKE event for invocation `k`, as the extension gets it.
pub(super) fn invoke_event(state: &State, k: usize) -> Option<String> {
    let issued = lock(&state.timeline).issued.get(k).cloned()?;
    Some(
        serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": issued.deadline_ms,
            "requestId": state.plan.request_id(k),
            "invokedFunctionArn": super::FUNCTION_ARN,
            "tracing": { "type": "X-Amzn-Trace-Id", "value": issued.trace_header },
        })
        .to_string(),
    )
}

/// `platform.report`'s `maxMemoryUsedMB`: the function's and the extension's peak RSS.
fn max_memory_mb(state: &State) -> u64 {
    let processes = lock(&state.processes);
    let bytes: u64 = [processes.function, processes.extension]
        .into_iter()
        .flatten()
        .filter_map(|p| peak_rss_of(p.pid).ok())
        .sum();
    bytes.div_ceil(1 << 20)
}
