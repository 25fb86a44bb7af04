//! Without the `metrics` feature there are no FaaS metrics: [`FaasMetrics`] has no value, so
//! the invocation's `Option<&FaasMetrics>` is always `None` and records nothing.

use super::measurement::Measurement;

/// No instruments: there is no value of this type.
#[derive(Debug, Clone)]
pub(crate) enum FaasMetrics {}

impl FaasMetrics {
    pub(crate) fn record(&self, m: Measurement) {
        // What the metrics would be made of, read as the real `record` reads it.
        let _ = (m.trigger, m.duration, m.failed, m.init);
        match *self {}
    }
}
