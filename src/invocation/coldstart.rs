//! Cold start and process start: facts of the process, never of a service clone.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static FIRST_INVOCATION: AtomicBool = AtomicBool::new(true);
static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Records the process start before `main`, so the init duration covers everything the
/// function does at start-up, not only what follows the telemetry set-up.
///
/// The crate's one `unsafe` attribute (the crate denies `unsafe_code`): a function pointer in
/// `.init_array`, which the loader calls before `main`. It is sound: `record` takes no
/// arguments, touches only a `OnceLock`, and cannot unwind into the loader (it cannot panic).
#[cfg(target_os = "linux")]
#[used]
#[allow(unsafe_code)]
#[unsafe(link_section = ".init_array")]
static RECORD_PROCESS_START: extern "C" fn() = {
    extern "C" fn record() {
        process_start();
    }
    record
};

/// When the process started (before `main` on Linux; else the first call into this crate).
pub(crate) fn process_start() -> Instant {
    *PROCESS_START.get_or_init(Instant::now)
}

/// True exactly once per process, for the first invocation, and only if `possible`
/// (a provisioned or restored environment has no cold start).
pub(crate) fn take_cold_start(possible: bool) -> bool {
    FIRST_INVOCATION.swap(false, Ordering::Relaxed) && possible
}
