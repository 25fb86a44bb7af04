//! The process clock: one thread for the process, started by the first alarm, that wakes an
//! alarm's task when its instant comes. It keeps the deadline guard's time (the layer's
//! `finish.rs`) and every export's deadline when the export runs on the function's own
//! executor (`flush`, and the OTLP/HTTP client's timeout in `export`).
//!
//! Not a Tokio timer: the function's runtime may have none (`enable_time` is its builder's
//! choice, a `Sleep` made without it panics, and Tokio offers no way to ask), and nothing else
//! lambda-otel does on it needs one. This clock works under any executor, `current_thread`
//! included, and the executor never waits on it: setting or removing an alarm takes one short
//! lock, and the task is woken as by any other source.
//!
//! Cost per alarm: one allocation and a map entry set and removed under that lock. The thread
//! is woken only when an alarm comes before the instant it waits for; it is not told of
//! removed alarms, so while invocations end in time (each alarm later than the one before) it
//! sleeps until the first one's instant, then the earliest one left: at a steady invocation
//! rate, about one wake per flush timeout, not one per invocation.
//!
//! A leaf: uses only libraries, so both `flush` and `export` may use it.

use futures_util::future::{Either, select};
use futures_util::task::AtomicWaker;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

/// An alarm set for an instant: a future that resolves once the instant has passed, polled by
/// the task it wakes. Dropping it removes it.
#[derive(Debug)]
pub(crate) struct Alarm {
    key: Key,
    bell: Arc<Bell>,
}

/// When, and a sequence number: alarms set for the same instant stay apart.
type Key = (Instant, u64);

#[derive(Debug, Default)]
struct Bell {
    rung: AtomicBool,
    waker: AtomicWaker,
}

struct Clock {
    alarms: Mutex<Alarms>,
    changed: Condvar,
}

struct Alarms {
    set: BTreeMap<Key, Arc<Bell>>,
    next: u64,
    /// When the thread wakes by itself; `None` while it waits for an alarm to be set.
    wakes_at: Option<Instant>,
}

static CLOCK: Clock = Clock {
    alarms: Mutex::new(Alarms {
        set: BTreeMap::new(),
        next: 0,
        wakes_at: None,
    }),
    changed: Condvar::new(),
};

/// Whether the clock's thread runs: started by the first alarm.
static RUNNING: OnceLock<bool> = OnceLock::new();

impl Alarm {
    /// An alarm at `at`; `None` when the clock's thread cannot start (said once, as a warning).
    pub(crate) fn at(at: Instant) -> Option<Self> {
        if !runs() {
            return None;
        }
        let bell = Arc::new(Bell::default());
        let mut alarms = CLOCK.lock();
        let key = (at, alarms.next);
        alarms.next = alarms.next.wrapping_add(1);
        alarms.set.insert(key, Arc::clone(&bell));
        let sooner = alarms.wakes_at.is_none_or(|wakes_at| at < wakes_at);
        drop(alarms);
        if sooner {
            CLOCK.changed.notify_one();
        }
        Some(Self { key, bell })
    }
}

/// Whether the clock's thread runs (starting it if it has not been tried): alarms can then be
/// set. Once true, always true.
pub(crate) fn runs() -> bool {
    *RUNNING.get_or_init(start)
}

/// `future`'s output if it comes by `deadline`; `None` once `deadline` has passed (then
/// `future` is dropped, which cancels it), or at once if the clock's thread cannot run
/// (see [`runs`]). Needs no timer from the executor that awaits it.
pub(crate) async fn before<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    if deadline <= Instant::now() {
        return None;
    }
    let alarm = Alarm::at(deadline)?;
    // The future first: one that is ready when the alarm rings still counts.
    match select(pin!(future), alarm).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}

impl Future for Alarm {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.bell.rung.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.bell.waker.register(cx.waker());
        // Rung between the first look and the registration: the wake may have missed the waker.
        if self.bell.rung.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        // A rung alarm was taken out by the thread.
        if !self.bell.rung.load(Ordering::Acquire) {
            CLOCK.lock().set.remove(&self.key);
        }
    }
}

impl Clock {
    // Nothing runs under the lock but map operations, so a poisoned lock holds a sound map.
    fn lock(&self) -> MutexGuard<'_, Alarms> {
        self.alarms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Alarms {
    /// Takes out every alarm due at `now`.
    fn take_due(&mut self, now: Instant) -> Vec<Arc<Bell>> {
        let mut due = Vec::new();
        while let Some(entry) = self.set.first_entry()
            && entry.key().0 <= now
        {
            due.push(entry.remove());
        }
        due
    }
}

fn start() -> bool {
    let spawned = std::thread::Builder::new()
        .name("lambda-otel-clock".into())
        // It only moves a few pointers around: the default 2 MiB would be wasted address space.
        .stack_size(64 * 1024)
        .spawn(run);
    if let Err(error) = &spawned {
        tracing::warn!(
            target: "lambda_otel",
            %error,
            "the clock's thread cannot start: no invocation is guarded, and every export \
             runs on the export thread"
        );
    }
    spawned.is_ok()
}

fn run() {
    let mut alarms = CLOCK.lock();
    loop {
        let now = Instant::now();
        let due = alarms.take_due(now);
        if !due.is_empty() {
            // Woken outside the lock: a waker may run anything, setting an alarm included.
            drop(alarms);
            for bell in due {
                bell.rung.store(true, Ordering::Release);
                bell.waker.wake();
            }
            alarms = CLOCK.lock();
            continue;
        }
        alarms.wakes_at = alarms.set.first_key_value().map(|(&(at, _), _)| at);
        alarms = match alarms.wakes_at {
            Some(at) => {
                CLOCK
                    .changed
                    .wait_timeout(alarms, at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => CLOCK
                .changed
                .wait(alarms)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Fails a test that would otherwise hang; never reached when the clock works.
    const HANG: Duration = Duration::from_secs(10);

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    #[test]
    fn an_alarm_rings_once_its_instant_has_passed() {
        let at = Instant::now() + Duration::from_millis(20);
        let alarm = Alarm::at(at).expect("the clock runs");
        runtime().block_on(async {
            tokio::time::timeout(HANG, alarm).await.expect("rung");
        });
        assert!(Instant::now() >= at);
    }

    #[test]
    fn an_alarm_already_due_rings_at_once() {
        let alarm = Alarm::at(Instant::now()).expect("the clock runs");
        runtime().block_on(async {
            tokio::time::timeout(HANG, alarm).await.expect("rung");
        });
    }

    #[test]
    fn an_alarm_sooner_than_the_one_the_thread_waits_for_wakes_it() {
        let later = Alarm::at(Instant::now() + Duration::from_secs(3600)).expect("the clock runs");
        // The thread now waits an hour, unless told of the sooner alarm.
        let sooner = Alarm::at(Instant::now() + Duration::from_millis(20)).expect("set");
        runtime().block_on(async {
            tokio::time::timeout(HANG, sooner).await.expect("rung");
        });
        drop(later);
    }

    #[test]
    fn before_gives_the_output_of_a_future_ready_in_time() {
        let deadline = Instant::now() + HANG;
        let output = runtime().block_on(before(deadline, async { 7 }));
        assert_eq!(output, Some(7));
    }

    /// On a runtime with no timer at all: the clock alone ends the wait.
    #[test]
    fn before_gives_up_at_the_deadline_on_a_runtime_without_a_timer() {
        let deadline = Instant::now() + Duration::from_millis(20);
        let never = std::future::pending::<()>();
        let output = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(before(deadline, never));
        assert_eq!(output, None);
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn before_a_deadline_already_past_gives_up_at_once() {
        let output = runtime().block_on(before(Instant::now(), async { 7 }));
        assert_eq!(output, None);
    }

    #[test]
    fn a_dropped_alarm_leaves_the_clock() {
        let alarm = Alarm::at(Instant::now() + Duration::from_secs(3600)).expect("the clock runs");
        let key = alarm.key;
        assert!(CLOCK.lock().set.contains_key(&key));
        drop(alarm);
        assert!(!CLOCK.lock().set.contains_key(&key));
    }
}
