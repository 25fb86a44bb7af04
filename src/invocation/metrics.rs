//! The FaaS metrics of the semantic conventions, recorded once per invocation.

use super::measurement::Measurement;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry_semantic_conventions::attribute::FAAS_TRIGGER;
use opentelemetry_semantic_conventions::metric::{
    FAAS_COLDSTARTS, FAAS_ERRORS, FAAS_INIT_DURATION, FAAS_INVOCATIONS, FAAS_INVOKE_DURATION,
};

/// Bucket boundaries of the duration histograms, in seconds: the HTTP conventions' advice,
/// with a millisecond bucket below (a warm Rust function often answers in one) and buckets up
/// to Lambda's 15-minute limit above.
pub(crate) const DURATION_BOUNDARIES: [f64; 20] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    30.0, 60.0, 300.0, 900.0,
];

/// The instruments, made once by the meter provider.
#[derive(Debug, Clone)]
pub(crate) struct FaasMetrics {
    invocations: Counter<u64>,
    errors: Counter<u64>,
    coldstarts: Counter<u64>,
    invoke_duration: Histogram<f64>,
    init_duration: Histogram<f64>,
}

impl FaasMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build()
        };
        Self {
            invocations: meter
                .u64_counter(FAAS_INVOCATIONS)
                .with_unit("{invocation}")
                .with_description("Number of invocations of the function")
                .build(),
            errors: meter
                .u64_counter(FAAS_ERRORS)
                .with_unit("{error}")
                .with_description("Number of invocations that ended in an error or a panic")
                .build(),
            coldstarts: meter
                .u64_counter(FAAS_COLDSTARTS)
                .with_unit("{coldstart}")
                .with_description("Number of invocations that are cold starts")
                .build(),
            invoke_duration: seconds(
                FAAS_INVOKE_DURATION,
                "Duration of the invocation, response included",
            ),
            init_duration: seconds(
                FAAS_INIT_DURATION,
                "Duration from the start of the process to its first invocation",
            ),
        }
    }

    pub(crate) fn record(&self, m: Measurement) {
        let attributes = [KeyValue::new(FAAS_TRIGGER, m.trigger)];
        self.invocations.add(1, &attributes);
        self.invoke_duration
            .record(m.duration.as_secs_f64(), &attributes);
        if m.failed {
            self.errors.add(1, &attributes);
        }
        if let Some(init) = m.init {
            self.coldstarts.add(1, &attributes);
            self.init_duration.record(init.as_secs_f64(), &attributes);
        }
    }
}
