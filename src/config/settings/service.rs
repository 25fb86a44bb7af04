//! The service name, which the resource attributes may also give, and the CloudWatch namespace
//! of the EMF metrics, which defaults to it.

use crate::Error;
use crate::config::env;
use crate::config::parse;
use crate::config::precedence::{Env, Setting, any_value};

/// The service name, and the resource attributes without theirs: the code's, else
/// `OTEL_SERVICE_NAME`, else the attributes' `service.name`, else the function's name.
pub(super) fn service(
    code: Option<String>,
    env: Env<'_>,
) -> Result<(String, Vec<(String, String)>), Error> {
    let mut attributes = env.read(
        &[env::OTEL_RESOURCE_ATTRIBUTES],
        parse::key_values,
        Vec::new(),
    )?;
    let default = take_service_name(&mut attributes)
        .or_else(|| env.get(env::AWS_LAMBDA_FUNCTION_NAME))
        .unwrap_or_else(|| env::DEFAULT_SERVICE_NAME.to_owned());
    let name = env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_service_name (OTEL_SERVICE_NAME)",
        check: any_value,
        vars: &[env::OTEL_SERVICE_NAME],
        parse: |_, value| Ok(value.to_owned()),
        default,
    })?;
    attributes.retain(|(k, _)| k != "service.name");
    Ok((name, attributes))
}

/// Unset, the service name, cut down to what CloudWatch accepts when it would refuse it.
#[cfg(feature = "metrics")]
pub(super) fn emf_namespace(
    code: Option<String>,
    service_name: &str,
    env: Env<'_>,
) -> Result<String, Error> {
    let var = env::LAMBDA_OTEL_EMF_NAMESPACE;
    env.resolve(Setting {
        code,
        setter: "TelemetryBuilder::with_emf_namespace (LAMBDA_OTEL_EMF_NAMESPACE)",
        check: |setter, namespace: String| parse::emf_namespace(setter, &namespace),
        vars: &[var],
        parse: parse::emf_namespace,
        default: parse::emf_namespace(var, service_name)
            .unwrap_or_else(|_| default_namespace(service_name)),
    })
}

/// The service name as a CloudWatch namespace: printable ASCII without `:`, at most 255
/// characters, never in the reserved `AWS/` space.
#[cfg(feature = "metrics")]
fn default_namespace(service_name: &str) -> String {
    let mut namespace: String = service_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect();
    if namespace.starts_with("AWS/") {
        namespace.replace_range(..4, "AWS_");
    }
    if namespace.is_empty() {
        namespace.push_str(env::DEFAULT_SERVICE_NAME);
    }
    namespace
}

fn take_service_name(attributes: &mut [(String, String)]) -> Option<String> {
    attributes
        .iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v.clone())
}
