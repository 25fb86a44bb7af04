//! EventBridge events, scheduled rules and CloudWatch Logs subscriptions.

use super::bound::{bounded, push_str};
use super::de::Str;
use super::probe::Probe;
use super::{EventSource, Inspected};
use crate::attributes::{
    EVENTBRIDGE_DETAIL_TYPE, EVENTBRIDGE_EVENT_ID, EVENTBRIDGE_RESOURCES, EVENTBRIDGE_SOURCE,
};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute::FAAS_TIME;

/// An EventBridge event (`source` and `detail-type`); a schedule when the scheduler sent it.
pub(super) fn eventbridge<'a>(probe: Probe<'a>) -> Option<Inspected<'a>> {
    let source = probe.source?.0;
    let detail_type = probe.detail_type?.0;
    let scheduled = detail_type == "Scheduled Event"
        && matches!(source.as_ref(), "aws.events" | "aws.scheduler");
    let mut attributes = Vec::with_capacity(5);
    push_str(&mut attributes, EVENTBRIDGE_SOURCE, Some(source));
    push_str(&mut attributes, EVENTBRIDGE_DETAIL_TYPE, Some(detail_type));
    push_str(&mut attributes, EVENTBRIDGE_EVENT_ID, probe.id.map(|i| i.0));
    if let Some(resources) = probe.resources.filter(|r| !r.is_empty()) {
        attributes.push(KeyValue::new(
            EVENTBRIDGE_RESOURCES,
            string_array(resources),
        ));
    }
    let (event_source, kind) = if scheduled {
        push_str(&mut attributes, FAAS_TIME, probe.time.map(|t| t.0));
        (EventSource::Schedule, SpanKind::Server)
    } else {
        (EventSource::EventBridge, SpanKind::Consumer)
    };
    Some(Inspected::new(event_source, kind, attributes))
}

/// A CloudWatch Logs subscription delivery (`{"awslogs":{"data":...}}`).
pub(super) fn cloudwatch_logs(data: Option<Str<'_>>) -> Inspected<'static> {
    let attributes = data.map(|d| super::logs::attributes(&d.0));
    Inspected::new(
        EventSource::CloudWatchLogs,
        SpanKind::Consumer,
        attributes.unwrap_or_default(),
    )
}

/// At most this many entries of a list are recorded.
const MAX_LIST: usize = 16;

fn string_array(values: Vec<Str<'_>>) -> Value {
    let values: Vec<StringValue> = values
        .into_iter()
        .take(MAX_LIST)
        .map(|v| StringValue::from(bounded(&v.0)))
        .collect();
    Value::Array(values.into())
}
