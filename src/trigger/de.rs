//! Lenient, borrowing deserialisers for the parts of an event whose shape varies by source:
//! header maps (any case, single or multi-value), query-parameter maps, message attributes.
//!
//! Only the handful of entries the span needs are kept; every other value is skipped by serde
//! without being built. Inside header and parameter maps, a value of an unexpected type is
//! ignored; elsewhere a field the probe reads with the wrong type makes the event unreadable,
//! and the invocation is then a direct one (`faas.trigger=other`).

use crate::propagation::TraceHeaders;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A string borrowed from the event when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Any JSON value, keeping its strings: a string gives one, an array its string elements, and
/// anything else (null, numbers, objects) none.
#[derive(Debug, Default)]
pub(super) struct Strings<'a>(pub Vec<Cow<'a, str>>);

impl<'a> Strings<'a> {
    pub(super) fn into_first(self) -> Option<Cow<'a, str>> {
        self.0.into_iter().next()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Strings<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Strings(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Strings(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Strings(vec![Cow::Owned(v)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Strings<'de>>()? {
                    out.extend(item.0);
                }
                Ok(Strings(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Strings::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Strings::default())
            }
        }
        deserializer.deserialize_any(V)
    }
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

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut headers = Headers::default();
                while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
                    match headers.slot(&name) {
                        Some(slot) => {
                            let value = map.next_value::<Strings<'de>>()?.into_first();
                            fill(slot, value);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(headers)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Headers::default())
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Query parameters in event order, each with its values (REST API and ALB events carry them
/// as maps of a string or of a list of strings).
#[derive(Debug, Default)]
pub(super) struct Params<'a>(pub Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut params = Vec::new();
                while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
                    params.push((name, map.next_value::<Strings<'de>>()?.0));
                }
                Ok(Params(params))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Params::default())
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A message's user attributes (SQS `messageAttributes`, SNS `MessageAttributes`): only the
/// W3C trace-context entries are read.
#[derive(Debug, Default)]
pub(super) struct MessageAttributes<'a>(pub TraceHeaders<'a>);

#[derive(Deserialize)]
struct AttributeValue<'a> {
    /// SQS's shape.
    #[serde(borrow, rename = "stringValue")]
    string_value: Option<Str<'a>>,
    /// SNS's shape.
    #[serde(borrow, rename = "Value")]
    value: Option<Str<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for MessageAttributes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageAttributes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message attribute map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut trace = TraceHeaders::default();
                while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
                    let slot = if name.eq_ignore_ascii_case("traceparent") {
                        &mut trace.traceparent
                    } else if name.eq_ignore_ascii_case("tracestate") {
                        &mut trace.tracestate
                    } else if name.eq_ignore_ascii_case("baggage") {
                        &mut trace.baggage
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    let value = map.next_value::<AttributeValue<'de>>()?;
                    fill(slot, value.string_value.or(value.value).map(|s| s.0));
                }
                Ok(MessageAttributes(trace))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MessageAttributes::default())
            }
        }
        deserializer.deserialize_any(V)
    }
}
