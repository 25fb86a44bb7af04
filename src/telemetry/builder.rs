//! [`TelemetryBuilder`]: code-level settings over the environment.

use super::{LogSettings, Providers, Telemetry, resource};
use crate::Error;
use crate::config::{
    Exporter, FlushMode, LogFormat, Overrides, Propagator, Protocol, Settings, XraySampled,
};
use crate::invocation::coldstart;
use crate::layer::{LayerState, OtelLayer};
#[cfg(feature = "metrics")]
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::Sampler;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds [`Telemetry`]. Every setter wins over its environment variable (named in its doc).
#[must_use]
pub struct TelemetryBuilder {
    overrides: Overrides,
    lookup: Lookup,
    install_subscriber: bool,
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        Self {
            overrides: Overrides::default(),
            lookup: Arc::new(|name| std::env::var(name).ok()),
            install_subscriber: true,
        }
    }
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("overrides", &self.overrides)
            .field("install_subscriber", &self.install_subscriber)
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// Reads settings through `lookup` instead of the process environment (for tests, or to
    /// take settings from elsewhere). Default: `std::env::var`.
    pub fn with_env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Turns telemetry off: no span, metric or log record is made or exported, and nothing is
    /// read from the event. Log lines are still written to stdout, and the layer still keeps
    /// each invocation's request id for them. Default `false`; `OTEL_SDK_DISABLED`.
    pub fn with_sdk_disabled(mut self, disabled: bool) -> Self {
        self.overrides.disabled = Some(disabled);
        self
    }

    /// The `service.name` resource attribute. Default: `OTEL_SERVICE_NAME`, else `service.name`
    /// in `OTEL_RESOURCE_ATTRIBUTES`, else the function name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.overrides.service_name = Some(name.into());
        self
    }

    /// Where spans go. Default [`Exporter::Otlp`]; `OTEL_TRACES_EXPORTER` (`otlp`, `xray`,
    /// `console`, `none`). [`Exporter::Emf`] is for metrics: [`build`](Self::build) refuses it.
    pub fn with_traces_exporter(mut self, exporter: Exporter) -> Self {
        self.overrides.traces.exporter = Some(exporter);
        self
    }

    /// Where metrics go. Default [`Exporter::Otlp`]; `OTEL_METRICS_EXPORTER` (`otlp`, `emf`,
    /// `console`, `none`; [`Exporter::Xray`] is refused). With
    /// [`Exporter::None`] no metric is recorded at all, the wrapper's or the function's.
    /// Without the `metrics` feature the default is [`Exporter::None`] and
    /// [`build`](Self::build) refuses any other exporter, naming the feature.
    pub fn with_metrics_exporter(mut self, exporter: Exporter) -> Self {
        self.overrides.metrics.exporter = Some(exporter);
        self
    }

    /// Where log records go. Default [`Exporter::Otlp`]; `OTEL_LOGS_EXPORTER` (`otlp`,
    /// `console`, `none`). Log lines on stdout are written whatever this says, so with the
    /// AWS-native route (`xray` and `emf`) [`Exporter::None`] is the natural choice: the lines
    /// already reach CloudWatch Logs. Without the `logs` feature the default is
    /// [`Exporter::None`] and [`build`](Self::build) refuses any other exporter, naming the
    /// feature.
    pub fn with_logs_exporter(mut self, exporter: Exporter) -> Self {
        self.overrides.logs.exporter = Some(exporter);
        self
    }

    /// The OTLP protocol of every signal. Default [`Protocol::HttpProtobuf`];
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.overrides.otlp.protocol = Some(protocol);
        self
    }

    /// The OTLP base endpoint of every signal: for HTTP, `/v1/traces`, `/v1/metrics` and
    /// `/v1/logs` are appended. Default `http://localhost:4318` (HTTP) or
    /// `http://localhost:4317` (gRPC); `OTEL_EXPORTER_OTLP_ENDPOINT`. Set in code, it wins over
    /// the signal-specific variables too.
    pub fn with_otlp_endpoint(mut self, base: impl Into<String>) -> Self {
        self.overrides.otlp.endpoint = Some(base.into());
        self
    }

    /// The full traces endpoint, used as is (for HTTP include `/v1/traces`). Default: from the
    /// base endpoint; `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub fn with_traces_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.overrides.traces.endpoint = Some(endpoint.into());
        self
    }

    /// The full metrics endpoint, used as is (for HTTP include `/v1/metrics`). Default: from
    /// the base endpoint; `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    pub fn with_metrics_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.overrides.metrics.endpoint = Some(endpoint.into());
        self
    }

    /// The full logs endpoint, used as is (for HTTP include `/v1/logs`). Default: from the
    /// base endpoint; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.
    pub fn with_logs_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.overrides.logs.endpoint = Some(endpoint.into());
        self
    }

    /// A header for every export of every signal, over those of
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_HEADERS` and `OTEL_EXPORTER_OTLP_HEADERS`.
    /// The value is sent as given (not percent-decoded, unlike the variables' values).
    /// [`build`](Self::build) refuses a name that is not an HTTP token and a value that is empty
    /// or not visible ASCII; its error names the header, never the value. Default: none.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides
            .otlp
            .headers
            .push((name.into(), value.into()));
        self
    }

    /// Where the [`Exporter::Xray`] exporter sends segment documents (UDP). Default: the
    /// `AWS_XRAY_DAEMON_ADDRESS` Lambda sets with Active tracing (`host:port` or
    /// `udp:host:port tcp:host:port`), else `127.0.0.1:2000`.
    pub fn with_xray_daemon_address(mut self, address: std::net::SocketAddr) -> Self {
        self.overrides.xray_daemon_address = Some(address);
        self
    }

    /// The CloudWatch namespace of the [`Exporter::Emf`] metrics. Default: the service name
    /// (made valid for CloudWatch); `LAMBDA_OTEL_EMF_NAMESPACE`. [`build`](Self::build) refuses
    /// a namespace CloudWatch would (empty, over 255 characters, `:`, starting with `AWS/`).
    #[cfg(feature = "metrics")]
    pub fn with_emf_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.overrides.emf_namespace = Some(namespace.into());
        self
    }

    /// The temporality of exported metrics. Default [`Temporality::Cumulative`] (each
    /// environment's series, told apart by `faas.instance`); `Delta` suits backends that add
    /// up deltas (CloudWatch, Datadog); `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`
    /// (`cumulative`, `delta`, `lowmemory`).
    #[cfg(feature = "metrics")]
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.overrides.temporality = Some(temporality);
        self
    }

    /// The format of log lines on stdout. Default [`LogFormat::Text`];
    /// `AWS_LAMBDA_LOG_FORMAT` (`Text`, `JSON`), which Lambda sets from the function's
    /// logging configuration. The level comes from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`,
    /// else `INFO`.
    pub fn with_log_format(mut self, format: LogFormat) -> Self {
        self.overrides.log_format = Some(format);
        self
    }

    /// The sampler. Default `parentbased_always_on`; `OTEL_TRACES_SAMPLER`,
    /// `OTEL_TRACES_SAMPLER_ARG`.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.overrides.sampler = Some(sampler);
        self
    }

    /// When the per-invocation flush runs. Default [`FlushMode::AfterResponse`];
    /// `LAMBDA_OTEL_FLUSH` (`after-response`, `before-response`).
    pub fn with_flush_mode(mut self, mode: FlushMode) -> Self {
        self.overrides.flush_mode = Some(mode);
        self
    }

    /// The most a flush may take (never more than what is left of the invocation), from 1 ms
    /// to 60 s: [`build`](Self::build) refuses other values. It also bounds each OTLP export's
    /// timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`). Default 200 ms; `LAMBDA_OTEL_FLUSH_TIMEOUT_MS`.
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.overrides.flush_timeout = Some(timeout);
        self
    }

    /// The least time between two metric exports, at most a day ([`build`](Self::build)
    /// refuses more). There is no timer (a frozen process runs none): the flush that ends an
    /// invocation collects and exports the metrics only when this long has passed since the
    /// last export (the first invocation's always), and [`Telemetry::shutdown`] always does, so
    /// a busy function pays for one metrics export per interval instead of one per invocation.
    /// `Duration::ZERO` exports them at the end of every invocation. Spans and log records are
    /// never held back. Default 60 s; `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds).
    ///
    /// [`Telemetry::shutdown`]: crate::Telemetry::shutdown
    #[cfg(feature = "metrics")]
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        self.overrides.metric_export_interval = Some(interval);
        self
    }

    /// Whether an invocation whose handler is still running when only the flush timeout (and
    /// 50 ms) is left before its deadline ends its span by itself, as timed out
    /// (`error.type=timeout`, status Error), and flushes, before Lambda stops it at the
    /// deadline. Switch it off for a handler that works on, by design, into the last
    /// moments before its deadline and still answers in time: its span would say timeout.
    /// Default `true`; `LAMBDA_OTEL_DEADLINE_GUARD` (`on`, `off`).
    pub fn with_deadline_guard(mut self, on: bool) -> Self {
        self.overrides.deadline_guard = Some(on);
        self
    }

    /// The most spans held for export at once, from 1 to 1,000,000 ([`build`](Self::build)
    /// refuses other values); one more is dropped and counted. Default 2048;
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub fn with_span_queue_size(mut self, size: usize) -> Self {
        self.overrides.span_queue_size = Some(size);
        self
    }

    /// The most log records held for export at once, from 1 to 1,000,000
    /// ([`build`](Self::build) refuses other values); one more is dropped and counted. Default
    /// 2048; `OTEL_BLRP_MAX_QUEUE_SIZE`.
    #[cfg(feature = "logs")]
    pub fn with_log_queue_size(mut self, size: usize) -> Self {
        self.overrides.log_queue_size = Some(size);
        self
    }

    /// The most bytes of a string attribute value, for spans (span, span event and link
    /// attributes, each string of an array too) and log records (the body and attribute
    /// values), from 1 to 1,000,000 ([`build`](Self::build) refuses other values); a longer
    /// value is cut at a character boundary when the span ends or the record is made. Default
    /// 4096; `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` and
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, then `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub fn with_attribute_value_length_limit(mut self, bytes: usize) -> Self {
        self.overrides.attribute_value_length_limit = Some(bytes);
        self
    }

    /// What `Sampled=0` means in an X-Ray header that gives the parent (through the `xray` or
    /// `xray-lambda` propagator). Default [`XraySampled::Ignore`], or [`XraySampled::Honor`]
    /// with the [`Exporter::Xray`] traces exporter (X-Ray's sampling decides);
    /// `LAMBDA_OTEL_XRAY_SAMPLED` (`ignore`, `honor`).
    pub fn with_xray_sampled(mut self, rule: XraySampled) -> Self {
        self.overrides.xray_sampled = Some(rule);
        self
    }

    /// Where the invocation span's parent comes from, in order: a later propagator that finds
    /// a parent replaces the one an earlier propagator found, which becomes a span link. An
    /// empty list (`none`) gives no parent. Default `[TraceContext, Baggage]`;
    /// `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `xray`, `xray-lambda`, `none`). Add
    /// [`Propagator::XrayLambda`] only when reporting to X-Ray: with it, Lambda's X-Ray
    /// segment becomes the parent, which other backends show as a missing parent.
    pub fn with_propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.overrides.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// Query-string keys (any case) whose values `url.query` records as `REDACTED`. Replaces
    /// the default list; an empty list redacts nothing. Keys are compared with the query's
    /// keys percent-decoded. Default: the usual names of signatures, tokens, keys, passwords,
    /// sessions and OAuth codes
    /// ([`DEFAULT_REDACTED_QUERY_KEYS`](crate::config::env::DEFAULT_REDACTED_QUERY_KEYS));
    /// `LAMBDA_OTEL_REDACTED_QUERY_KEYS` (comma-separated).
    pub fn with_redacted_query_keys(
        mut self,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.overrides.redacted_query_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the raw event is read for span attributes and trace context (the HTTP request,
    /// the messages of a batch). Default `true`; `LAMBDA_OTEL_EVENT_EXTRACTION` (`on`, `off`).
    pub fn with_event_extraction(mut self, on: bool) -> Self {
        self.overrides.event_extraction = Some(on);
        self
    }

    /// Whether [`try_init`](Self::try_init) installs a `tracing` subscriber (stdout log lines,
    /// `tracing` spans as OpenTelemetry spans, events as log records). Default `true`. Turn it
    /// off to compose [`otel_layer`](crate::telemetry::otel_layer) and `logs_layer` (with the
    /// `logs` feature) into a subscriber of your own.
    pub fn with_tracing_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// Builds the telemetry without installing anything globally.
    ///
    /// # Errors
    /// A setting with a value this crate does not accept, or an exporter that cannot be built.
    pub fn build(self) -> Result<Telemetry, Error> {
        coldstart::process_start();
        let settings = Settings::resolve(self.overrides, self.lookup.as_ref())?;
        let log = LogSettings {
            format: settings.log_format,
            filter: settings.log_filter.clone(),
            #[cfg(feature = "logs")]
            value_limit: settings.log_attribute_value_length_limit,
        };
        if settings.disabled {
            let tracer = super::providers::request_ids_only();
            return Ok(Telemetry {
                providers: Providers::default(),
                layer: OtelLayer::new(LayerState::new(&settings, &tracer, None)),
                log,
                flusher: None,
                outgoing: None,
            });
        }
        let resource = resource::build(&settings);
        let built = super::providers::providers(&settings, resource)?;
        let state = LayerState::new(&settings, &built.tracer, built.flusher.clone());
        #[cfg(feature = "metrics")]
        let state = match &built.meter {
            Some(meter) => state.with_metrics(meter),
            None => state,
        };
        Ok(Telemetry {
            providers: Providers {
                tracer: Some(built.tracer),
                #[cfg(feature = "metrics")]
                meter: built.meter,
                #[cfg(feature = "logs")]
                logger: built.logger,
            },
            layer: OtelLayer::new(state),
            log,
            flusher: built.flusher,
            outgoing: Some(settings.propagators),
        })
    }

    /// Builds the telemetry and installs it: the global tracer and meter providers (for code
    /// using the OpenTelemetry API), the global text-map propagator for outgoing calls (the
    /// formats of `OTEL_PROPAGATORS`; `xray` and `xray-lambda` inject `X-Amzn-Trace-Id`) and,
    /// unless switched off, a `tracing` subscriber (and `log` records into it).
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn try_init(self) -> Result<Telemetry, Error> {
        let install = self.install_subscriber;
        let telemetry = self.build()?;
        if let Some(provider) = &telemetry.providers.tracer {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        #[cfg(feature = "metrics")]
        if let Some(provider) = &telemetry.providers.meter {
            opentelemetry::global::set_meter_provider(provider.clone());
        }
        // With the SDK disabled the global propagator stays the API's no-op.
        if let Some(propagators) = &telemetry.outgoing {
            opentelemetry::global::set_text_map_propagator(crate::propagation::outgoing(
                propagators,
            ));
        }
        if install {
            #[cfg(feature = "logs")]
            let logs = (telemetry.logger_provider())
                .map(|provider| crate::logging::Bridge::new(provider, telemetry.log.value_limit));
            #[cfg(not(feature = "logs"))]
            let logs = None;
            crate::logging::install(
                telemetry.log.format,
                &telemetry.log.filter,
                telemetry.tracer_provider(),
                logs,
            );
        }
        Ok(telemetry)
    }

    /// [`try_init`](Self::try_init), panicking on a configuration error.
    ///
    /// # Panics
    /// When a setting is invalid; the message names the variable and the accepted values.
    pub fn init(self) -> Telemetry {
        match self.try_init() {
            Ok(telemetry) => telemetry,
            Err(error) => panic!("lambda-otel: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::SpanSettings;

    fn span_settings(builder: TelemetryBuilder, vars: &'static [(&str, &str)]) -> SpanSettings {
        let telemetry = builder
            .with_traces_exporter(Exporter::None)
            .with_env_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .build()
            .expect("valid settings");
        let layer = telemetry.layer();
        layer.state().expect("enabled").span.clone()
    }

    #[test]
    fn propagation_settings_reach_the_span_settings_code_over_env() {
        const ENV: &[(&str, &str)] = &[
            ("OTEL_PROPAGATORS", "xray-lambda"),
            ("LAMBDA_OTEL_REDACTED_QUERY_KEYS", "Session"),
            ("LAMBDA_OTEL_EVENT_EXTRACTION", "off"),
        ];
        let from_env = span_settings(Telemetry::builder(), ENV);
        assert_eq!(*from_env.propagators, [Propagator::XrayLambda]);
        assert_eq!(*from_env.redacted_query_keys, [Box::from("session")]);
        assert!(!from_env.event_extraction);

        let from_code = span_settings(
            Telemetry::builder()
                .with_propagators([Propagator::Xray, Propagator::TraceContext])
                .with_redacted_query_keys(["PIN", "otp"])
                .with_event_extraction(true),
            ENV,
        );
        assert_eq!(
            *from_code.propagators,
            [Propagator::Xray, Propagator::TraceContext]
        );
        assert_eq!(
            *from_code.redacted_query_keys,
            [Box::from("pin"), Box::from("otp")]
        );
        assert!(from_code.event_extraction);

        let none = span_settings(Telemetry::builder().with_propagators([]), ENV);
        assert!(none.propagators.is_empty());
    }
}
