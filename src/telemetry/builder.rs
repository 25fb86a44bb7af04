//! [`TelemetryBuilder`]: code-level settings over the environment.

use super::{Telemetry, exporter, resource, subscriber};
use crate::Error;
use crate::config::{
    FlushMode, Overrides, Propagator, Protocol, Settings, TracesExporter, XraySampled,
};
use crate::flush::{Flusher, InvocationSpanProcessor, SpanBuffer};
use crate::invocation::{LambdaSampler, SpanSettings, coldstart};
use crate::layer::{OtelLayer, Shared};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
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

    /// Turns telemetry off: the layer passes everything through. Default `false`;
    /// `OTEL_SDK_DISABLED`.
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

    /// Where spans go. Default [`TracesExporter::Otlp`]; `OTEL_TRACES_EXPORTER`.
    pub fn with_exporter(mut self, exporter: TracesExporter) -> Self {
        self.overrides.exporter = Some(exporter);
        self
    }

    /// The OTLP protocol. Default [`Protocol::HttpProtobuf`];
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.overrides.protocol = Some(protocol);
        self
    }

    /// The full traces endpoint, used as is (for HTTP include `/v1/traces`). Default
    /// `http://localhost:4318/v1/traces` (HTTP) or `http://localhost:4317` (gRPC);
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.overrides.endpoint = Some(endpoint.into());
        self
    }

    /// A header for every export, over those of `OTEL_EXPORTER_OTLP_TRACES_HEADERS` and
    /// `OTEL_EXPORTER_OTLP_HEADERS`. Default: none.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.headers.push((name.into(), value.into()));
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

    /// The most a flush may take (never more than what is left of the invocation). Default
    /// 200 ms; `LAMBDA_OTEL_FLUSH_TIMEOUT_MS`.
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.overrides.flush_timeout = Some(timeout);
        self
    }

    /// What `Sampled=0` means in an X-Ray header that gives the parent (through the `xray` or
    /// `xray-lambda` propagator). Default [`XraySampled::Ignore`];
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
    /// the default list; an empty list redacts nothing. Default: `sig`, `signature`,
    /// `awsaccesskeyid`, `x-goog-signature`, `x-amz-signature`, `x-amz-credential`,
    /// `x-amz-security-token`, `token`, `access_token`, `id_token`, `refresh_token`, `api_key`,
    /// `apikey`, `key`, `password`, `secret`, `client_secret`, `code`
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
    /// and `tracing` spans as OpenTelemetry spans). Default `true`. Turn it off to compose
    /// [`otel_layer`](crate::telemetry::otel_layer) into a subscriber of your own.
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
        if settings.disabled {
            return Ok(Telemetry::new(None, OtelLayer::disabled()));
        }
        let resource = resource::build(&settings);
        let worker = exporter::spawn_worker(&settings, &resource)?;
        let mut provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(LambdaSampler(settings.sampler.clone()));
        let mut flusher = None;
        if let Some(worker) = worker {
            let buffer = SpanBuffer::new(worker, settings.flush_timeout);
            flusher = Some(Flusher::new(Arc::clone(&buffer), settings.flush_timeout));
            provider = provider.with_span_processor(InvocationSpanProcessor::new(buffer));
        }
        let provider = provider.build();
        let layer = OtelLayer::new(Shared {
            tracer: provider.tracer("lambda-otel"),
            flusher,
            span: SpanSettings {
                xray_sampled: settings.xray_sampled,
                cold_start_possible: settings.cold_start_possible,
                propagators: settings.propagators,
                sensitive_query_keys: settings.redacted_query_keys,
                extract_event: settings.event_extraction,
            },
            flush_mode: settings.flush_mode,
            on_invocation: None,
        });
        Ok(Telemetry::new(Some(provider), layer))
    }

    /// Builds the telemetry and installs it: the global tracer provider (for code using the
    /// OpenTelemetry API), the global text-map propagator for outgoing calls (the formats of
    /// `OTEL_PROPAGATORS`; `xray` and `xray-lambda` inject `X-Amzn-Trace-Id`) and, unless
    /// switched off, a `tracing` subscriber.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn try_init(self) -> Result<Telemetry, Error> {
        let install = self.install_subscriber;
        let lookup = Arc::clone(&self.lookup);
        let telemetry = self.build()?;
        if let Some(provider) = telemetry.tracer_provider() {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        if let Some(shared) = &telemetry.layer.shared {
            let propagator = crate::propagation::outgoing(&shared.span.propagators);
            opentelemetry::global::set_text_map_propagator(propagator);
        }
        if install {
            subscriber::install(telemetry.tracer_provider(), lookup.as_ref());
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
            .with_exporter(TracesExporter::None)
            .with_env_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .build()
            .expect("valid settings");
        let shared = telemetry.layer().shared.expect("enabled");
        shared.span.clone()
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
        assert_eq!(*from_env.sensitive_query_keys, [Box::from("session")]);
        assert!(!from_env.extract_event);

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
            *from_code.sensitive_query_keys,
            [Box::from("pin"), Box::from("otp")]
        );
        assert!(from_code.extract_event);

        let none = span_settings(Telemetry::builder().with_propagators([]), ENV);
        assert!(none.propagators.is_empty());
    }
}
