//! The futures of the two services: run the inner future with the span attached, then record,
//! and end and flush where [`LayerState::finish_at`] says.

use super::OnResponse;
use super::finish::FinishPoint;
use super::layer::LayerState;
use crate::clock::Alarm;
use crate::flush::PendingFlush;
use crate::invocation::{Invocation, Outcome, guarded, outcome};
use futures_util::future::CatchUnwind;
use futures_util::{FutureExt as _, TryFuture};
use lambda_runtime::Diagnostic;
use pin_project_lite::pin_project;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

pin_project! {
    /// The future of [`OtelService`](super::OtelService): the whole invocation, then the flush.
    /// While the invocation runs, it also watches the deadline guard's alarm (see
    /// [`LayerState::time_out`]): no task, no timer of the function's runtime.
    pub struct InvocationFuture<F: Future> {
        #[pin]
        future: F,
        tracking: Option<(Invocation, Arc<LayerState>)>,
        guard: Option<Alarm>,
        flush: Option<PendingFlush>,
        output: Option<F::Output>,
    }
}

impl<F: Future> InvocationFuture<F> {
    /// `tracking` is `None` when telemetry is disabled.
    pub(crate) fn new(future: F, tracking: Option<(Invocation, Arc<LayerState>)>) -> Self {
        let guard = tracking
            .as_ref()
            .and_then(|(invocation, state)| state.arm_guard(invocation));
        Self {
            future,
            tracking,
            guard,
            flush: None,
            output: None,
        }
    }
}

impl<F: Future> Future for InvocationFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if this.output.is_none() {
            let polled = {
                let _attached = this
                    .tracking
                    .as_ref()
                    .map(|(invocation, _)| invocation.context().clone().attach());
                this.future.poll(cx)
            };
            let Poll::Ready(output) = polled else {
                watch_deadline(this.guard, this.tracking.as_ref(), this.flush, cx);
                return Poll::Pending;
            };
            *this.guard = None;
            // After the guard, `finish_at` has nothing to do: the guard's flush, if it is
            // still under way, is the one awaited below.
            if let Some((invocation, state)) = this.tracking.take()
                && let Some(flush) = state.finish_at(FinishPoint::ResponsePosted, &invocation)
            {
                *this.flush = Some(flush);
            }
            *this.output = Some(output);
        }
        if let Some(flush) = this.flush.as_mut() {
            ready!(Pin::new(flush).poll(cx));
            *this.flush = None;
        }
        Poll::Ready(
            this.output
                .take()
                .expect("InvocationFuture polled after completion"),
        )
    }
}

/// While the invocation runs: rings the deadline guard once its alarm has (ending the span and
/// starting the guard's flush), and drives that flush side by side with the invocation, whose
/// response must still be posted if it comes.
fn watch_deadline(
    guard: &mut Option<Alarm>,
    tracking: Option<&(Invocation, Arc<LayerState>)>,
    flush: &mut Option<PendingFlush>,
    cx: &mut Context<'_>,
) {
    if let Some(alarm) = guard
        && Pin::new(alarm).poll(cx).is_ready()
    {
        *guard = None;
        if let Some((invocation, state)) = tracking {
            *flush = state.time_out(invocation);
        }
    }
    if let Some(pending) = flush
        && Pin::new(pending).poll(cx).is_ready()
    {
        *flush = None;
    }
}

/// How the handler ended, kept while a before-response flush runs.
enum Finished<T> {
    Response(T),
    Error(Diagnostic),
    Panic(Box<dyn Any + Send>),
}

impl<T: 'static> Finished<T> {
    fn record(&self, invocation: &Invocation, on_response: &impl OnResponse<T>) {
        let outcome = match self {
            Self::Response(response) => {
                guarded("OnResponse", || {
                    on_response.on_response(response, &invocation.span());
                });
                Outcome::Response(outcome::status_code(response))
            }
            Self::Error(d) => Outcome::Error {
                error_type: &d.error_type,
                message: &d.error_message,
            },
            Self::Panic(payload) => Outcome::Panic {
                message: outcome::panic_message(payload.as_ref()),
            },
        };
        invocation.record(&outcome);
    }
}

pin_project! {
    /// The future of [`OtelHandler`](super::OtelHandler).
    pub struct HandlerFuture<F: TryFuture, R = ()> {
        #[pin]
        future: CatchUnwind<AssertUnwindSafe<F>>,
        tracking: Option<(Invocation, Arc<LayerState>)>,
        on_response: R,
        flush: Option<PendingFlush>,
        finished: Option<Finished<F::Ok>>,
    }
}

impl<F: TryFuture, R> HandlerFuture<F, R> {
    /// `tracking` is `None` when there is no invocation to record on.
    pub(crate) fn new(
        future: F,
        tracking: Option<(Invocation, Arc<LayerState>)>,
        on_response: R,
    ) -> Self {
        Self {
            future: AssertUnwindSafe(future).catch_unwind(),
            tracking,
            on_response,
            flush: None,
            finished: None,
        }
    }
}

impl<F, R> Future for HandlerFuture<F, R>
where
    F: TryFuture + Future<Output = Result<F::Ok, F::Error>>,
    F::Ok: 'static,
    F::Error: Into<Diagnostic>,
    R: OnResponse<F::Ok>,
{
    type Output = Result<F::Ok, Diagnostic>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.finished.is_none() {
            let finished = match ready!(this.future.poll(cx)) {
                Ok(Ok(response)) => Finished::Response(response),
                Ok(Err(error)) => Finished::Error(error.into()),
                Err(payload) => Finished::Panic(payload),
            };
            if let Some((invocation, state)) = this.tracking.take() {
                // After the deadline guard the span has ended: there is nothing to record on
                // it, and `OnResponse` is called before the span ends or not at all.
                if !invocation.timed_out() {
                    finished.record(&invocation, this.on_response);
                }
                *this.flush = state.finish_at(FinishPoint::HandlerReturned, &invocation);
            }
            *this.finished = Some(finished);
        }
        if let Some(flush) = this.flush.as_mut() {
            ready!(Pin::new(flush).poll(cx));
            *this.flush = None;
        }
        match this.finished.take() {
            Some(Finished::Response(response)) => Poll::Ready(Ok(response)),
            Some(Finished::Error(diagnostic)) => Poll::Ready(Err(diagnostic)),
            // lambda_runtime catches it again and reports it to Lambda, as without the wrapper.
            Some(Finished::Panic(payload)) => resume_unwind(payload),
            None => panic!("HandlerFuture polled after completion"),
        }
    }
}
