use super::*;
use crate::flush::testing::{Gated, Hung, Panics, gated, spans, spans_only, worker};

fn batch(n: usize) -> Batch {
    Batch {
        spans: spans(n),
        ..Batch::default()
    }
}

/// Starts a background export of `n` spans, as a full buffer does, far from its deadline.
fn background(worker: &Worker, n: usize, reporter: &Arc<Reporter>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    worker.export(batch(n), deadline, Reply::Detached(Arc::clone(reporter)));
}

/// A flush with nothing of its own, bounded by `bound`.
fn flush(worker: &Worker, bound: Duration) -> ExportReport {
    worker.export_blocking(Batch::default(), bound)
}

#[test]
fn a_background_export_whose_exporter_panics_is_counted_lost() {
    let worker = worker(Panics, Freeze::AfterEachFlush);
    let reporter = Arc::new(Reporter::quiet());
    background(&worker, 3, &reporter);
    // The flush waits for the background export started before it: over by then.
    flush(&worker, Duration::from_secs(30));
    assert_eq!(reporter.unsaid_losses(), (3, 0, 0));
}

#[test]
fn a_flush_whose_exporter_panics_reports_its_items_lost() {
    let worker = worker(Panics, Freeze::AfterEachFlush);
    let report = worker.export_blocking(batch(2), Duration::from_secs(30));
    assert_eq!(report.spans, Some(Err(ExportFailure::Panicked(2))));
}

#[test]
fn one_at_a_time_a_flush_cuts_off_background_exports_at_its_deadline_and_counts_them() {
    let worker = worker(Hung, Freeze::AfterEachFlush);
    let reporter = Arc::new(Reporter::quiet());
    background(&worker, 3, &reporter);
    flush(&worker, Duration::from_millis(20));
    // Counted before the flush answered: nothing is under way when the process may freeze.
    assert_eq!(reporter.unsaid_losses(), (3, 0, 0));
}

/// Invocations side by side: A's flush, due first, leaves the background export (which may
/// carry B's spans) running to its own deadline; B's flush, started after A's, still waits
/// for it.
#[test]
fn side_by_side_a_flush_cuts_off_no_other_invocation_s_background_export() {
    let (exporter, gate): (Gated, _) = gated();
    let worker = worker(exporter, Freeze::Never);
    let reporter = Arc::new(Reporter::quiet());
    background(&worker, 3, &reporter);
    flush(&worker, Duration::from_millis(20));
    gate.open();
    flush(&worker, Duration::from_secs(30));
    assert_eq!(
        gate.done.try_recv(),
        Ok(3),
        "over before B's flush answered"
    );
    assert_eq!(reporter.unsaid_losses(), (0, 0, 0));
}

/// A worker whose flushes export on the caller's executor starts its thread at the first job
/// that needs it (here `force_flush`'s blocking export), which it then runs.
#[test]
fn the_export_thread_starts_at_its_first_job() {
    let (exporter, gate) = gated();
    let worker = Worker::caller_first_with(spans_only(exporter), Freeze::AfterEachFlush);
    assert!(!worker.thread_started());
    gate.open();
    let report = worker.export_blocking(batch(4), Duration::from_secs(30));
    assert!(worker.thread_started());
    assert_eq!(report.spans, Some(Ok(4)));
    assert_eq!(gate.done.try_recv(), Ok(4));
    assert!(worker.shutdown(Duration::from_secs(30)));
}

/// Shutting down a worker whose thread never started shuts the exporters down without
/// starting it.
#[test]
fn shutdown_starts_no_thread() {
    let worker = Worker::caller_first_with(spans_only(Hung), Freeze::AfterEachFlush);
    assert!(worker.shutdown(Duration::from_secs(30)));
    assert!(!worker.thread_started());
}
