//! What the flush's unit tests share: spans, and exporters that hang, panic or wait to be let
//! through.

use super::Exporters;
use super::worker::{Freeze, Worker};
use crate::export::boxed::ExportSpans;
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use std::future::Future;
use std::sync::{Arc, Mutex, mpsc};
use std::time::SystemTime;
use tokio::sync::Semaphore;

pub(crate) fn span() -> SpanData {
    SpanData {
        span_context: SpanContext::empty_context(),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: "step".into(),
        start_time: SystemTime::now(),
        end_time: SystemTime::now(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

/// Exporters with `exporter` for spans and none for the other signals.
pub(crate) fn spans_only(exporter: impl ExportSpans + 'static) -> Exporters {
    Exporters {
        spans: Some(Box::new(exporter)),
        #[cfg(feature = "logs")]
        logs: None,
        #[cfg(feature = "metrics")]
        metrics: None,
    }
}

/// The export thread with `exporter` for spans, on its own runtime.
pub(crate) fn worker(exporter: impl ExportSpans + 'static, freeze: Freeze) -> Worker {
    let runtime = super::export_runtime().expect("runtime");
    Worker::spawn_with(spans_only(exporter), runtime, freeze).expect("thread")
}

/// As [`worker`], one invocation at a time, but a flush runs its export on the caller's
/// executor, and the export thread starts when first needed.
pub(crate) fn worker_on_caller(exporter: impl ExportSpans + 'static) -> Worker {
    Worker::caller_first_with(spans_only(exporter), Freeze::AfterEachFlush)
}

pub(crate) fn spans(n: usize) -> Vec<SpanData> {
    (0..n).map(|_| span()).collect()
}

/// A collector that never answers.
#[derive(Debug)]
pub(crate) struct Hung;

impl SpanExporter for Hung {
    fn export(&self, _batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        std::future::pending()
    }
}

/// A collector that answers at once, and tells the test on which thread each export ran and
/// how many spans it carried.
#[derive(Debug)]
pub(crate) struct Where(pub Mutex<mpsc::Sender<(std::thread::ThreadId, usize)>>);

impl SpanExporter for Where {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let seen = (std::thread::current().id(), batch.len());
        let _ = self.0.lock().expect("unpoisoned").send(seen);
        std::future::ready(Ok(()))
    }
}

/// An exporter with a bug.
#[derive(Debug)]
pub(crate) struct Panics;

impl SpanExporter for Panics {
    fn export(&self, _batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        std::future::poll_fn::<OTelSdkResult, _>(|_| panic!("an exporter's bug"))
    }
}

/// A collector that answers each export once the test lets it through ([`Gate::open`]), and
/// tells the test how many spans each answered export carried.
#[derive(Debug)]
pub(crate) struct Gated {
    gate: Arc<Semaphore>,
    done: Mutex<mpsc::Sender<usize>>,
}

/// The test's side of [`Gated`].
pub(crate) struct Gate {
    gate: Arc<Semaphore>,
    /// The size of each export answered, in order.
    pub done: mpsc::Receiver<usize>,
}

impl Gate {
    /// Lets one export through.
    pub(crate) fn open(&self) {
        self.gate.add_permits(1);
    }
}

pub(crate) fn gated() -> (Gated, Gate) {
    let gate = Arc::new(Semaphore::new(0));
    let (tx, done) = mpsc::channel();
    let exporter = Gated {
        gate: Arc::clone(&gate),
        done: Mutex::new(tx),
    };
    (exporter, Gate { gate, done })
}

impl SpanExporter for Gated {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let permit = self.gate.acquire().await.expect("the gate is never closed");
        permit.forget();
        let done = self.done.lock().expect("unpoisoned");
        let _ = done.send(batch.len());
        Ok(())
    }
}
