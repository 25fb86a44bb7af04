//! The parts of an event whose shape varies by source: header maps (any case, single or
//! multi-value), query-parameter maps, message attributes; and the probe's string fields.
//!
//! Only the handful of entries the span needs are kept; every other value is skipped by the
//! reader without being built. A value of an unexpected type is read as absent.

use super::json::{Read, Reader};
use crate::propagation::TraceHeaders;
use std::borrow::Cow;

/// A string borrowed from the event when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Str<'a>(pub Cow<'a, str>);

/// A string field; `None` for any other value.
pub(super) fn string<'a>(r: &mut Reader<'a>) -> Read<Option<Str<'a>>> {
    Ok(r.opt_string()?.map(Str))
}

/// A header's or parameter's values: a string is one, an array gives its string elements,
/// and anything else (null, numbers, objects) none.
fn values<'a>(r: &mut Reader<'a>) -> Read<Vec<Cow<'a, str>>> {
    if r.peek()? != b'[' {
        return Ok(r.opt_string()?.into_iter().collect());
    }
    Ok(r.items(Reader::opt_string)?.unwrap_or_default())
}

/// The request headers the span reads; every other header (Authorization, Cookie, X-Api-Key,
/// ...) is skipped unread, so it can never become an attribute.
#[derive(Debug, Default)]
pub(super) struct Headers<'a> {
    pub trace: TraceHeaders<'a>,
    pub user_agent: Option<Cow<'a, str>>,
    pub forwarded_proto: Option<Cow<'a, str>>,
    pub forwarded_for: Option<Cow<'a, str>>,
    pub forwarded_port: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
}

impl<'a> Headers<'a> {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Cow<'a, str>>> {
        // Header names are short: compare in place rather than lower-casing a copy.
        let eq = |known: &str| name.eq_ignore_ascii_case(known);
        Some(match name.len() {
            4 if eq("host") => &mut self.host,
            7 if eq("baggage") => &mut self.trace.baggage,
            10 if eq("user-agent") => &mut self.user_agent,
            10 if eq("tracestate") => &mut self.trace.tracestate,
            11 if eq("traceparent") => &mut self.trace.traceparent,
            15 if eq("x-amzn-trace-id") => &mut self.trace.xray,
            15 if eq("x-forwarded-for") => &mut self.forwarded_for,
            16 if eq("x-forwarded-port") => &mut self.forwarded_port,
            17 if eq("x-forwarded-proto") => &mut self.forwarded_proto,
            _ => return None,
        })
    }

    /// Fills what `self` lacks from `other` (`headers` first, then `multiValueHeaders`).
    pub(super) fn or(mut self, other: Self) -> Self {
        let Self {
            trace,
            user_agent,
            forwarded_proto,
            forwarded_for,
            forwarded_port,
            host,
        } = other;
        fill(&mut self.trace.traceparent, trace.traceparent);
        fill(&mut self.trace.tracestate, trace.tracestate);
        fill(&mut self.trace.baggage, trace.baggage);
        fill(&mut self.trace.xray, trace.xray);
        fill(&mut self.user_agent, user_agent);
        fill(&mut self.forwarded_proto, forwarded_proto);
        fill(&mut self.forwarded_for, forwarded_for);
        fill(&mut self.forwarded_port, forwarded_port);
        fill(&mut self.host, host);
        self
    }
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

impl<'a> Headers<'a> {
    /// A header map; `None` for any other value.
    pub(super) fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|headers: &mut Self, r, name| match headers.slot(&name) {
            Some(slot) => {
                let value = values(r)?.into_iter().next();
                fill(slot, value);
                Ok(())
            }
            None => r.skip(),
        })
    }
}

/// Query parameters in event order, each with its values (REST API and ALB events carry them
/// as maps of a string or of a list of strings).
#[derive(Debug, Default)]
pub(super) struct Params<'a>(pub Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>);

impl<'a> Params<'a> {
    /// A parameter map; `None` for any other value.
    pub(super) fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|params: &mut Self, r, name| {
            params.0.push((name, values(r)?));
            Ok(())
        })
    }
}

/// A message's user attributes (SQS `messageAttributes`, SNS `MessageAttributes`): only the
/// W3C trace-context entries are read.
#[derive(Debug, Default)]
pub(super) struct MessageAttributes<'a>(pub TraceHeaders<'a>);

impl<'a> MessageAttributes<'a> {
    /// A message attribute map; `None` for any other value.
    pub(super) fn read(r: &mut Reader<'a>) -> Read<Option<Self>> {
        r.fields(|MessageAttributes(trace): &mut Self, r, name| {
            let slot = if name.eq_ignore_ascii_case("traceparent") {
                &mut trace.traceparent
            } else if name.eq_ignore_ascii_case("tracestate") {
                &mut trace.tracestate
            } else if name.eq_ignore_ascii_case("baggage") {
                &mut trace.baggage
            } else {
                return r.skip();
            };
            fill(slot, attribute_value(r)?);
            Ok(())
        })
    }
}

/// An attribute's string: SQS's `stringValue`, or SNS's `Value`.
fn attribute_value<'a>(r: &mut Reader<'a>) -> Read<Option<Cow<'a, str>>> {
    let value = r.fields(|(sqs, sns): &mut (Option<_>, Option<_>), r, key| {
        match key.as_ref() {
            "stringValue" => *sqs = r.opt_string()?,
            "Value" => *sns = r.opt_string()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(value.and_then(|(sqs, sns)| sqs.or(sns)))
}
