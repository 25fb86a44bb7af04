//! The hook that sees the event before the invocation span starts. It lives where it is called,
//! at the span's start; the middleware re-exports it (`lambda_otel::layer::OnInvocation`).

use crate::trigger::EventSource;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Key, KeyValue};
use std::borrow::Cow;

/// The invocation span as it is about to start, for an [`OnInvocation`] hook: the raw event,
/// what the wrapper read from it, and the name and attributes it is about to use.
#[derive(Debug)]
pub struct SpanStart<'a> {
    pub(crate) event: &'a [u8],
    pub(crate) context: &'a lambda_runtime::Context,
    pub(crate) source: EventSource,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
}

impl SpanStart<'_> {
    /// The raw event, as Lambda delivered it (usually JSON). Parse only what you need:
    /// `serde_json::from_slice::<MyFields>(start.event())` with a struct of borrowed fields.
    #[must_use]
    pub fn event(&self) -> &[u8] {
        self.event
    }

    /// The invocation's Lambda context (request id, deadline, ARN, X-Ray header).
    #[must_use]
    pub fn context(&self) -> &lambda_runtime::Context {
        self.context
    }

    /// The event source the wrapper detected ([`EventSource::Direct`] when built-in extraction
    /// is off).
    #[must_use]
    pub fn source(&self) -> EventSource {
        self.source
    }

    /// The span kind the wrapper chose for the source.
    #[must_use]
    pub fn kind(&self) -> &SpanKind {
        &self.kind
    }

    /// The span name the wrapper chose (`GET /users/{id}`, `orders process`, the function name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the span name.
    pub fn set_name(&mut self, name: impl Into<Cow<'static, str>>) {
        self.name = name.into();
    }

    /// The attributes the span will start with.
    #[must_use]
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// Adds an attribute, replacing any the wrapper set under the same key.
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        self.remove_attribute(&attribute.key);
        self.attributes.push(attribute);
    }

    /// Removes the attribute under `key`, if any.
    pub fn remove_attribute(&mut self, key: &Key) {
        self.attributes.retain(|kv| &kv.key != key);
    }
}

/// A hook called for every invocation, before its span starts: it may add or remove
/// attributes and rename the span. Set with
/// [`OtelLayer::with_on_invocation`](crate::OtelLayer::with_on_invocation).
///
/// Implemented for closures `Fn(&mut SpanStart<'_>)`, and for `()` (no hook).
///
/// A panic in the hook is caught and reported: the span starts with the name and attributes
/// it had before the hook ran, and the handler runs.
pub trait OnInvocation: Send + Sync + 'static {
    /// Called once per invocation, on the invocation's task.
    fn on_invocation(&self, span: &mut SpanStart<'_>);
}

impl OnInvocation for () {
    fn on_invocation(&self, _: &mut SpanStart<'_>) {}
}

impl<F> OnInvocation for F
where
    F: Fn(&mut SpanStart<'_>) + Send + Sync + 'static,
{
    fn on_invocation(&self, span: &mut SpanStart<'_>) {
        self(span);
    }
}
