//! The spans only the platform can make: the init span and the span of an invocation that
//! ended without the function's own, placed in the invocation's trace by its X-Ray header.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::otlp::{KIND_INTERNAL, KIND_SERVER, STATUS_ERROR, attr_int, attr_str, nanos, span};
use super::{Made, Platform};

impl Platform {
    /// The init span, once: in the trace of `header` (the first invocation's X-Ray header).
    pub(super) fn emit_init(&mut self, header: Option<&str>, made: &mut Made) {
        let Some(init) = &mut self.init else { return };
        if init.done {
            return;
        }
        init.done = true;
        let Some(end) = init.end else { return };
        let context = header.and_then(XrayContext::parse);
        if context.as_ref().is_some_and(|c| !c.sampled) {
            return;
        }
        let mut attributes = vec![
            attr_str("aws.lambda.init.type", init.init_type),
            attr_str("aws.lambda.init.phase", init.phase),
            attr_int(
                "lambda_otel.init.duration_ns",
                nanos(end) - nanos(init.start),
            ),
            attr_str("faas.name", &self.env.function_name),
        ];
        let status = init.failed.as_ref().map(|error| {
            attributes.push(attr_str("error.type", error));
            json!({ "code": STATUS_ERROR, "message": format!("the init phase failed: {error}") })
        });
        made.spans.push(span(
            "init",
            KIND_INTERNAL,
            context.as_ref(),
            init.start,
            end,
            attributes,
            status,
        ));
    }

    pub(super) fn failed_invocation(
        &self,
        request_id: &str,
        kind: &str,
        error_type: Option<&str>,
        header: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<Value> {
        let context = header.and_then(XrayContext::parse);
        if context.as_ref().is_some_and(|c| !c.sampled) {
            return None;
        }
        let message = match error_type {
            Some(error_type) => format!("the invocation ended with status {kind} ({error_type})"),
            None => format!("the invocation ended with status {kind}"),
        };
        let attributes = vec![
            attr_str("faas.invocation_id", request_id),
            attr_str("error.type", kind),
            attr_str("faas.name", &self.env.function_name),
            attr_int(
                "lambda_otel.invocation.duration_ns",
                nanos(end) - nanos(start),
            ),
        ];
        Some(span(
            &self.env.function_name,
            KIND_SERVER,
            context.as_ref(),
            start,
            end,
            attributes,
            Some(json!({ "code": STATUS_ERROR, "message": message })),
        ))
    }
}

/// The trace and parent of an X-Ray header (`Root=1-5759e988-bd86...;Parent=53995c3f42cd8ad8;Sampled=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct XrayContext {
    pub(super) trace_id: String,
    pub(super) parent: Option<String>,
    sampled: bool,
}

impl XrayContext {
    fn parse(header: &str) -> Option<Self> {
        let mut trace_id = None;
        let mut parent = None;
        let mut sampled = true;
        for part in header.split(';') {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            match key {
                "Root" => {
                    let mut pieces = value.split('-');
                    let (Some("1"), Some(time), Some(random), None) =
                        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
                    else {
                        return None;
                    };
                    let id = format!("{time}{random}").to_ascii_lowercase();
                    if id.len() != 32 || !is_hex(&id) {
                        return None;
                    }
                    trace_id = Some(id);
                }
                "Parent" if value.len() == 16 && is_hex(value) => {
                    parent = Some(value.to_ascii_lowercase());
                }
                "Sampled" => sampled = value != "0",
                _ => {}
            }
        }
        Some(Self {
            trace_id: trace_id?,
            parent,
            sampled,
        })
    }
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_headers_give_trace_parent_and_sampling() {
        let context = XrayContext::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .expect("valid");
        assert_eq!(context.trace_id, "5759e988bd862e3fe1be46a994272793");
        assert_eq!(context.parent, None);
        assert!(!context.sampled);
        assert_eq!(XrayContext::parse("Root=2-1-2"), None);
        assert_eq!(XrayContext::parse("Parent=53995c3f42cd8ad8"), None);
    }
}
