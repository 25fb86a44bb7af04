//! The resource: Lambda's environment, the user's attributes, `service.name`.

use crate::config::Settings;
use opentelemetry::KeyValue;
use opentelemetry_aws::detector::LambdaResourceDetector;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::ResourceDetector;

/// `cloud.*` and `faas.*` from `opentelemetry-aws`'s Lambda detector, then the attributes of
/// `OTEL_RESOURCE_ATTRIBUTES`, then `service.name` (which wins over both).
pub(crate) fn build(settings: &Settings) -> Resource {
    let detected = LambdaResourceDetector.detect();
    let user = settings
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    Resource::builder_empty()
        .with_attributes(
            detected
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes(user)
        .with_attributes([
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.distro.name", env!("CARGO_PKG_NAME")),
            KeyValue::new("telemetry.distro.version", env!("CARGO_PKG_VERSION")),
        ])
        .with_service_name(settings.service_name.clone())
        .build()
}
