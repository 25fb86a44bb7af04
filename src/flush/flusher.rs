//! The per-invocation flush, awaited by the layer.

use super::batch::Batch;
#[cfg(feature = "logs")]
use super::batch::LogEntry;
use super::buffer::Buffer;
use super::report::{ExportFailure, ExportReport, Reporter, Shape};
use super::worker::{Reply, Worker, export_on_caller};
use crate::config::Signal;
use crate::export::otlp::extension::{self, Presence};
use futures_util::future::BoxFuture;
use opentelemetry_sdk::trace::SpanData;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
#[cfg(feature = "metrics")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Exports everything an invocation left behind (its spans, its log records, the metrics)
/// within a bound, without blocking the caller's executor.
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    spans: Option<Arc<Buffer<SpanData>>>,
    #[cfg(feature = "logs")]
    logs: Option<Arc<Buffer<LogEntry>>>,
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<MetricsSchedule>>,
    worker: Worker,
    timeout: Duration,
    reporter: Arc<Reporter>,
}

impl Flusher {
    /// `reporter` is the one the buffers report their background exports to.
    pub(crate) fn new(worker: Worker, timeout: Duration, reporter: Arc<Reporter>) -> Self {
        Self {
            spans: None,
            #[cfg(feature = "logs")]
            logs: None,
            #[cfg(feature = "metrics")]
            metrics: None,
            worker,
            timeout,
            reporter,
        }
    }

    pub(crate) fn with_spans(mut self, buffer: Arc<Buffer<SpanData>>) -> Self {
        self.spans = Some(buffer);
        self
    }

    #[cfg(feature = "logs")]
    pub(crate) fn with_logs(mut self, buffer: Arc<Buffer<LogEntry>>) -> Self {
        self.logs = Some(buffer);
        self
    }

    /// Collects and exports metrics in the flush that ends an invocation once `interval` has
    /// passed since the last time (the first flush's always; every flush's for zero), and at
    /// shutdown.
    #[cfg(feature = "metrics")]
    pub(crate) fn with_metrics(mut self, interval: Duration) -> Self {
        self.metrics = Some(Arc::new(MetricsSchedule::new(interval)));
        self
    }

    /// The flush timeout: the most a flush may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// What is buffered, and the metrics if they are due at `now` (always, for `None`).
    fn take(&self, now: Option<Instant>) -> Batch {
        let mut batch = Batch::default();
        #[cfg(feature = "metrics")]
        {
            batch.metrics = (self.metrics.as_deref())
                .is_some_and(|schedule| now.is_none_or(|now| schedule.due(now)));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = now;
        if let Some(buffer) = &self.spans {
            let (spans, held) = buffer.take();
            batch.spans = spans;
            batch.held.push(held);
        }
        #[cfg(feature = "logs")]
        if let Some(buffer) = &self.logs {
            let (logs, held) = buffer.take();
            batch.logs = logs;
            batch.held.push(held);
        }
        batch
    }

    /// Exports everything buffered before the flush timeout or `hard_deadline` (the
    /// invocation's), whichever comes first; this flush ends the invocation `request_id`.
    /// When an export's answer announces the lambda-otel extension (this flush's included),
    /// the flush then tells it that the invocation's telemetry is out, within the same bound:
    /// even with nothing to export. Without the extension that costs one atomic load. `None`
    /// when there is nothing to export, no export under way and no extension: with no spans
    /// or logs and the metrics not due (or off), that costs two locks and no allocation.
    ///
    /// The export runs in the returned future, on the caller's own executor, when the worker
    /// allows it ([`Worker::on_caller`]) and no export is under way on the export thread;
    /// else on the thread, the future awaiting its answer.
    pub(crate) fn start(
        &self,
        hard_deadline: Option<Instant>,
        request_id: &Arc<str>,
    ) -> Option<PendingFlush> {
        self.start_where(hard_deadline, request_id, true)
    }

    /// [`start`](Self::start), with the export always on the export thread: for the deadline
    /// guard's flush, which must get out even if the handler, still running beside it on the
    /// same task, then blocks the executor's thread.
    pub(crate) fn start_on_thread(
        &self,
        hard_deadline: Option<Instant>,
        request_id: &Arc<str>,
    ) -> Option<PendingFlush> {
        self.start_where(hard_deadline, request_id, false)
    }

    fn start_where(
        &self,
        hard_deadline: Option<Instant>,
        request_id: &Arc<str>,
        on_caller: bool,
    ) -> Option<PendingFlush> {
        let now = Instant::now();
        let under_way = self.exports_under_way();
        let mut batch = self.take(Some(now));
        let mark = match extension::presence() {
            Presence::Absent => false,
            // Only an export can find it.
            Presence::Unknown => !batch.is_empty(),
            Presence::Present => true,
        };
        if mark {
            batch.mark = Some(Arc::clone(request_id));
        } else if batch.is_empty() && !under_way {
            return None;
        }
        let mut deadline = now + self.timeout;
        if let Some(hard) = hard_deadline {
            deadline = deadline.min(hard);
        }
        let shape = Shape::from(&batch);
        let answer = match self.worker.on_caller() {
            Some(exporters) if on_caller && !under_way => {
                let reporter = Arc::clone(&self.reporter);
                let export = export_on_caller(Arc::clone(exporters), batch, deadline, reporter);
                Answer::Here(Box::pin(export))
            }
            _ => {
                let (tx, rx) = oneshot::channel();
                self.worker.export(batch, deadline, Reply::Async(tx));
                Answer::Thread(rx)
            }
        };
        Some(PendingFlush {
            answer,
            shape,
            flusher: self.clone(),
        })
    }

    /// Whether items left a buffer in a background export that is not over (on the export
    /// thread): a flush with nothing of its own still waits for it there (and cuts it off at
    /// its deadline when the process may freeze). Another invocation's flush (side by side)
    /// is not one: nothing waits for it, nor needs the thread.
    fn exports_under_way(&self) -> bool {
        #[cfg(feature = "logs")]
        if self.logs.as_ref().is_some_and(|b| b.in_background() > 0) {
            return true;
        }
        self.spans.as_ref().is_some_and(|b| b.in_background() > 0)
    }

    /// Exports everything buffered and stops the export thread, blocking the calling thread
    /// for at most `timeout`: for shutdown, off the executor. Every loss the quiet period of
    /// the warnings kept back is reported before it returns.
    pub(crate) fn shutdown_blocking(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let batch = self.take(None);
        let report = if batch.is_empty() {
            ExportReport::default()
        } else {
            self.worker.export_blocking(batch, timeout / 2)
        };
        self.report(&report);
        let stopped = self
            .worker
            .shutdown(timeout.saturating_sub(start.elapsed()));
        self.reporter.final_report();
        stopped
    }

    /// The export's failures, and the items the buffers dropped since the last report.
    fn report(&self, report: &ExportReport) {
        #[cfg(feature = "logs")]
        let logs = self.logs.as_ref().map_or(0, |b| b.take_dropped());
        #[cfg(not(feature = "logs"))]
        let logs = 0;
        let dropped = [
            (
                Signal::Traces,
                self.spans.as_ref().map_or(0, |b| b.take_dropped()),
            ),
            (Signal::Logs, logs),
        ]
        .map(|(signal, n)| (n > 0).then_some((signal, ExportFailure::BufferFull(n))));
        let dropped = dropped.iter().flatten().map(|(signal, f)| (*signal, f));
        self.reporter
            .report_failures(report.failures().chain(dropped));
        if let Some(Err(why)) = &report.mark {
            self.reporter.mark_failed(why);
        }
    }
}

/// When the metrics are due: at most once per interval, at the end of an invocation. There is
/// no timer (a frozen process runs none); the end of an invocation asks.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct MetricsSchedule {
    /// The interval in nanoseconds (zero: every flush).
    interval: u64,
    origin: Instant,
    /// Nanoseconds from `origin` to the last collection, plus one; zero for never.
    last: AtomicU64,
}

#[cfg(feature = "metrics")]
impl MetricsSchedule {
    fn new(interval: Duration) -> Self {
        Self {
            interval: u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX),
            origin: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// Whether the metrics are due at `now`, which makes them not due again for an interval:
    /// of invocations ending side by side (`run_concurrent`), one collects.
    fn due(&self, now: Instant) -> bool {
        if self.interval == 0 {
            return true;
        }
        let at = u64::try_from(now.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX - 1)
            + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && at.saturating_sub(last) < self.interval {
            return false;
        }
        self.last
            .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// A flush under way: resolves by the deadline, with its export done, failed or cut off.
#[derive(Debug)]
pub(crate) struct PendingFlush {
    answer: Answer,
    /// What the flush carries, counted as lost if the export thread drops it.
    shape: Shape,
    flusher: Flusher,
}

/// Where a flush's export runs.
enum Answer {
    /// On the export thread, which answers.
    Thread(oneshot::Receiver<ExportReport>),
    /// In this future, on the executor that polls it (dropped unfinished, it counts its
    /// items lost: [`export_on_caller`]).
    Here(BoxFuture<'static, ExportReport>),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Thread(_) => "Thread",
            Self::Here(_) => "Here",
        })
    }
}

impl Future for PendingFlush {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shape = self.shape;
        let report = match &mut self.answer {
            // The sender is dropped only if the export thread ended with the job.
            Answer::Thread(rx) => ready!(Pin::new(rx).poll(cx))
                .unwrap_or_else(|_| ExportReport::failed(shape, ExportFailure::WorkerGone)),
            Answer::Here(export) => ready!(export.as_mut().poll(cx)),
        };
        self.flusher.report(&report);
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flush::testing::{Hung, Where, span, worker, worker_on_caller};
    use crate::flush::worker::Freeze;
    use futures_util::FutureExt as _;
    use std::sync::{Mutex, mpsc};

    /// Waits for `pending` on an executor of its own, as the layer awaits it.
    fn wait(pending: PendingFlush) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(pending);
    }

    /// A flusher whose span buffer (of 100) holds `n` spans: 100 start a background export.
    fn flusher_with(worker: Worker, reporter: &Arc<Reporter>, n: usize) -> Flusher {
        let timeout = Duration::from_secs(600);
        let buffer = Buffer::new(worker.clone(), timeout, 100, Arc::clone(reporter));
        for _ in 0..n {
            buffer.push(span());
        }
        Flusher::new(worker, timeout, Arc::clone(reporter)).with_spans(buffer)
    }

    /// With no export under way, a flush runs its export in its own future, on the executor
    /// that awaits it: here one with no timer and no IO driver, on this thread. The export
    /// thread is never started.
    #[test]
    fn a_flush_exports_on_the_executor_that_awaits_it() {
        let (tx, seen) = mpsc::channel();
        let worker = worker_on_caller(Where(Mutex::new(tx)));
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 5);
        wait(flusher.start(None, &Arc::from("req")).expect("a flush"));
        assert_eq!(seen.try_recv(), Ok((std::thread::current().id(), 5)));
        assert_eq!(reporter.unsaid_losses(), (0, 0, 0));
        assert!(!worker.thread_started());
    }

    /// There, the process clock keeps its deadline: a collector that never answers is cut off
    /// on an executor with no timer, and the flush's items are counted lost.
    #[test]
    fn a_flush_on_the_caller_s_executor_ends_at_its_deadline_without_a_timer() {
        let worker = worker_on_caller(Hung);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 5);
        let deadline = Instant::now() + Duration::from_millis(20);
        wait(
            flusher
                .start(Some(deadline), &Arc::from("req"))
                .expect("a flush"),
        );
        assert!(Instant::now() >= deadline);
        assert_eq!(reporter.unsaid_losses(), (5, 0, 0));
        assert!(!worker.thread_started(), "cut off on the caller's executor");
    }

    /// An export under way on the thread (a long invocation's full buffer, which starts the
    /// thread) keeps the flush there: it waits for that export and, one invocation at a time,
    /// cuts it off.
    #[test]
    fn with_an_export_under_way_a_flush_runs_on_the_thread() {
        let worker = worker_on_caller(Hung);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 100);
        assert!(
            worker.thread_started(),
            "the full buffer's export started it"
        );
        let deadline = Instant::now() + Duration::from_millis(20);
        wait(
            flusher
                .start(Some(deadline), &Arc::from("req"))
                .expect("a flush"),
        );
        assert_eq!(reporter.unsaid_losses(), (100, 0, 0), "cut off and counted");
    }

    /// Another invocation's flush under way on its own executor (side by side) is nothing to
    /// wait for: the next flush stays on its caller's executor too, and starts no thread.
    #[test]
    fn another_invocation_s_flush_keeps_no_flush_off_its_executor() {
        let worker = worker_on_caller(Hung);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 5);
        let first = flusher.start(None, &Arc::from("req-1")).expect("a flush");
        flusher.spans.as_ref().expect("spans").push(span());
        let deadline = Instant::now() + Duration::from_millis(20);
        wait(
            flusher
                .start(Some(deadline), &Arc::from("req-2"))
                .expect("a flush"),
        );
        assert!(!worker.thread_started());
        drop(first);
        assert_eq!(reporter.unsaid_losses(), (6, 0, 0));
    }

    /// The deadline guard's flush exports on the thread, whatever the worker allows.
    #[test]
    fn a_flush_started_on_the_thread_exports_there() {
        let (tx, seen) = mpsc::channel();
        let worker = worker_on_caller(Where(Mutex::new(tx)));
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 5);
        wait(
            flusher
                .start_on_thread(None, &Arc::from("req"))
                .expect("a flush"),
        );
        let (thread, spans) = seen.try_recv().expect("exported");
        assert_ne!(thread, std::thread::current().id());
        assert_eq!(spans, 5);
        assert!(worker.thread_started());
    }

    /// A flush dropped while its export runs in it (its executor shut down, say) counts that
    /// export's items lost.
    #[test]
    fn a_flush_dropped_with_its_export_unfinished_counts_its_items_lost() {
        let worker = worker_on_caller(Hung);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker, &reporter, 5);
        let mut pending = flusher.start(None, &Arc::from("req")).expect("a flush");
        assert!(
            (&mut pending).now_or_never().is_none(),
            "the collector hangs"
        );
        drop(pending);
        assert_eq!(reporter.unsaid_losses(), (5, 0, 0));
    }

    /// A flush the export thread drops unanswered (its runtime ends with the thread, at
    /// shutdown) counts its items lost: every span of it.
    #[test]
    fn a_flush_the_export_thread_drops_counts_its_items_lost() {
        let worker = worker(Hung, Freeze::AfterEachFlush);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker.clone(), &reporter, 5);
        let pending = flusher.start(None, &Arc::from("req")).expect("a flush");
        // The thread takes the flush, then the shutdown, and ends with the flush pending.
        assert!(worker.shutdown(Duration::from_secs(30)));
        wait(pending);
        assert_eq!(reporter.unsaid_losses(), (5, 0, 0));
    }

    /// A long invocation's spans all left in a background export: its flush has nothing of its
    /// own, yet still settles that export before the process may freeze.
    #[test]
    fn a_flush_with_nothing_of_its_own_settles_the_exports_under_way() {
        let worker = worker(Hung, Freeze::AfterEachFlush);
        let reporter = Arc::new(Reporter::quiet());
        let flusher = flusher_with(worker, &reporter, 100);
        let deadline = Instant::now() + Duration::from_millis(20);
        let pending = flusher
            .start(Some(deadline), &Arc::from("req"))
            .expect("a flush for the export under way");
        wait(pending);
        assert_eq!(reporter.unsaid_losses(), (100, 0, 0), "cut off and counted");
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn metrics_are_due_first_then_once_per_interval() {
        let schedule = MetricsSchedule::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(
            schedule.due(start),
            "the first invocation's metrics are due"
        );
        assert!(!schedule.due(start), "not twice at once");
        assert!(!schedule.due(start + Duration::from_secs(59)));
        assert!(schedule.due(start + Duration::from_secs(61)));
        assert!(!schedule.due(start + Duration::from_secs(62)));
        assert!(schedule.due(start + Duration::from_secs(200)));
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn a_zero_interval_makes_every_flush_collect() {
        let schedule = MetricsSchedule::new(Duration::ZERO);
        let now = Instant::now();
        assert!((0..3).all(|_| schedule.due(now)));
    }
}
