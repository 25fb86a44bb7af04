//! Hooks are the user's code on telemetry's path: a panic in one is caught and reported, and the
//! invocation goes on as if the hook had not run. The [`OnInvocation`] hook runs outside
//! lambda_runtime's catch-panic layer, where a panic would end the runtime loop; a panicking
//! [`OnResponse`](crate::OnResponse) hook would turn the handler's response into an error and,
//! in before-response mode, leave the span unflushed.

use super::on_invocation::{OnInvocation, SpanStart};
use super::outcome::panic_message;
use crate::flush::QuietPeriod;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Instant;

/// The longest panic message quoted in a warning.
const MAX_MESSAGE_LEN: usize = 256;

/// Panics of hooks in this process, for the warnings.
static PANICS: Mutex<Panics> = Mutex::new(Panics::new());

/// Calls the `OnInvocation` hook; after a panic, the span starts with the name and attributes
/// it had before the hook ran.
pub(crate) fn call_on_invocation(hook: &dyn OnInvocation, start: &mut SpanStart<'_>) {
    let name = start.name.clone();
    let attributes = start.attributes.clone();
    if !guarded("OnInvocation", || hook.on_invocation(start)) {
        start.name = name;
        start.attributes = attributes;
    }
}

/// Calls `hook`; `false` when it panicked (the panic is reported).
pub(crate) fn guarded(name: &'static str, hook: impl FnOnce()) -> bool {
    let Err(payload) = catch_unwind(AssertUnwindSafe(hook)) else {
        return true;
    };
    let message = panic_message(payload.as_ref());
    let mut panics = PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(suppressed) = panics.due(Instant::now()) {
        tracing::warn!(
            target: "lambda_otel",
            hook = name,
            panic = bounded(message),
            suppressed,
            "a telemetry hook panicked; the invocation went on without it"
        );
    }
    false
}

/// When hook panics were last reported (at most one warning a minute, the panics in between
/// counted into the next one), and how many went unreported since.
#[derive(Debug)]
struct Panics {
    quiet: QuietPeriod,
    suppressed: u64,
}

impl Panics {
    const fn new() -> Self {
        Self {
            quiet: QuietPeriod::new(),
            suppressed: 0,
        }
    }

    /// Counts a panic at `now`: `Some(panics suppressed since the last warning)` when this one
    /// is to be reported.
    fn due(&mut self, now: Instant) -> Option<u64> {
        if !self.quiet.due(now) {
            self.suppressed += 1;
            return None;
        }
        self.quiet.said(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

fn bounded(message: &str) -> &str {
    crate::attributes::truncate(message, MAX_MESSAGE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flush::QUIET_PERIOD;
    use std::time::Duration;

    #[test]
    fn one_warning_per_quiet_period_counts_the_rest() {
        let mut panics = Panics::new();
        let start = Instant::now();
        assert_eq!(panics.due(start), Some(0), "the first panic is reported");
        assert_eq!(panics.due(start + Duration::from_secs(1)), None);
        assert_eq!(panics.due(start + Duration::from_secs(59)), None);
        assert_eq!(panics.due(start + QUIET_PERIOD), Some(2));
        assert_eq!(panics.due(start + QUIET_PERIOD), None);
    }

    #[test]
    fn a_panicking_hook_is_caught() {
        assert!(guarded("test", || {}));
        assert!(!guarded("test", || panic!("boom")));
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_MESSAGE_LEN);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_MESSAGE_LEN && cut.len() >= MAX_MESSAGE_LEN - 1);
    }
}
