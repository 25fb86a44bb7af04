//! The dice roller with stage marks (`scripts/bench.sh --stages`): where an invocation's time
//! goes inside the process, stage by stage, bare, with lambda-otel and with lambda_runtime's own
//! layer, chosen by `BENCH_STAGES_SETUP` (`bare`, `lambda-otel`, `peer`).
//!
//! The marks use nothing but what any user has: a layer outside every other one (the event
//! handed to the service stack, and the invocation's future done), one inside every other one
//! (around lambda_runtime's own service: its future is done when the Runtime API has answered
//! the response's `POST`), the handler's first and last lines, and lambda-otel's
//! `with_on_invocation` hook (the event read, before the span starts):
//!
//! | stage | from | to |
//! | --- | --- | --- |
//! | event read | the event handed to the service stack | lambda-otel's hook (bare and the peer: nothing) |
//! | to the handler | the hook | the handler's first line: the span started, lambda_runtime's and lambda_http's reading of the event |
//! | handler | the handler's first line | its last (the `roll` span, the log line, the metric) |
//! | response posted | the handler's last line | the Runtime API's answer to the response's `POST` |
//! | after the response | that answer | the invocation's future done: the span's end and the flush |
//!
//! After the last of the runner's invocations (`BENCH_STAGES_TOTAL`, the first
//! `BENCH_STAGES_WARMUP` of them not measured) it writes the totals on stdout as one line
//! (`shared/stage_line.rs`). Each mark is one read of the monotonic clock; the two layers box
//! their futures, the same in every set-up.
use lambda_http::{Adapter, Body, Error, Request, Response, service_fn};
use lambda_runtime::{LambdaInvocation, Runtime};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

#[path = "../shared/peer.rs"]
mod peer;
#[path = "../shared/stage_line.rs"]
mod stage_line;

/// The marks, in order: event handed over, event read, handler entered, handler done,
/// response posted, invocation done.
const MARKS: usize = 6;

/// This invocation's marks and the totals so far.
struct Marks {
    at: [Option<Instant>; MARKS],
    invocation: u64,
    warmup: u64,
    total: u64,
    totals: [u64; 5],
}

thread_local! {
    static MARKS_NOW: RefCell<Marks> = RefCell::new(Marks {
        at: [None; MARKS],
        invocation: 0,
        warmup: count("BENCH_STAGES_WARMUP"),
        total: count("BENCH_STAGES_TOTAL"),
        totals: [0; 5],
    });
}

fn count(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mark(index: usize) {
    let now = Instant::now();
    MARKS_NOW.with_borrow_mut(|m| m.at[index] = Some(now));
}

/// The invocation is done: its stages are added up (a mark that did not happen, such as the
/// hook without lambda-otel, is the one before it), and after the last one the line written.
fn done() {
    let now = Instant::now();
    MARKS_NOW.with_borrow_mut(|m| {
        m.at[MARKS - 1] = Some(now);
        let measured = (m.warmup..m.total).contains(&m.invocation);
        let mut previous = m.at[0].unwrap_or(now);
        for (stage, at) in m.at[1..].iter().enumerate() {
            let at = at.unwrap_or(previous).max(previous);
            if measured {
                let nanos = u64::try_from((at - previous).as_nanos()).unwrap_or(u64::MAX);
                m.totals[stage] = m.totals[stage].saturating_add(nanos);
            }
            previous = at;
        }
        m.at = [None; MARKS];
        m.invocation += 1;
        if m.invocation == m.total {
            println!(
                "{}",
                stage_line::format(m.total.saturating_sub(m.warmup), &m.totals)
            );
        }
    });
}

/// Marks the call with `start` (if any) and the future's end with `end`.
#[derive(Clone, Copy)]
struct Marked {
    start: Option<usize>,
    end: fn(),
}

impl<S> Layer<S> for Marked {
    type Service = MarkedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MarkedService {
            inner,
            marks: *self,
        }
    }
}

#[derive(Clone)]
struct MarkedService<S> {
    inner: S,
    marks: Marked,
}

impl<S> Service<LambdaInvocation> for MarkedService<S>
where
    S: Service<LambdaInvocation>,
    S::Future: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        if let Some(start) = self.marks.start {
            mark(start);
        }
        let future = self.inner.call(invocation);
        let end = self.marks.end;
        Box::pin(async move {
            let output = future.await;
            end();
            output
        })
    }
}

/// Outside every other layer: the event handed over, the invocation done.
const OUTER: Marked = Marked {
    start: Some(0),
    end: done,
};
/// Inside every other layer, around lambda_runtime's own service: the response posted.
const INNER: Marked = Marked {
    start: None,
    end: || mark(4),
};

async fn handler(request: Request) -> Result<Response<Body>, Error> {
    mark(2);
    let response = dice_roller::handler(request).await;
    mark(3);
    response
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let setup = std::env::var("BENCH_STAGES_SETUP").unwrap_or_default();
    match setup.as_str() {
        "bare" => {
            Runtime::new(Adapter::from(service_fn(handler)))
                .layer(INNER)
                .layer(OUTER)
                .run()
                .await
        }
        "lambda-otel" => {
            let telemetry = lambda_otel::Telemetry::from_env()?;
            let otel = telemetry
                .layer()
                .with_on_invocation(|_: &mut lambda_otel::layer::SpanStart<'_>| mark(1));
            Runtime::new(Adapter::from(otel.wrap(service_fn(handler))))
                .layer(INNER)
                .layer(otel)
                .layer(OUTER)
                .run()
                .await
        }
        "peer" => {
            Runtime::new(Adapter::from(service_fn(handler)))
                .layer(INNER)
                .layer(peer::layer()?)
                .layer(OUTER)
                .run()
                .await
        }
        other => Err(format!(
            "BENCH_STAGES_SETUP: expected bare, lambda-otel or peer, got {other:?}"
        )
        .into()),
    }
}
