//! `OTEL_TRACES_EXPORTER=xray`: spans as X-Ray segment documents over UDP to the X-Ray daemon.
//!
//! With Active tracing, Lambda runs the X-Ray daemon in every execution environment and sets
//! `AWS_XRAY_DAEMON_ADDRESS`. The daemon takes segment documents over UDP with no credentials
//! and forwards them to X-Ray itself, so exporting is one `send` per span: no HTTP exchange,
//! no collector, nothing to wait for. The export completes in the call, so the flush runs it
//! on the function's own thread (no export thread) unless another signal exports OTLP.
//!
//! Translation is opentelemetry-aws's [`SegmentTranslator`]: SERVER spans become segments,
//! the others subsegments; `http` (method, URL, status), `error` (4xx), `fault` (5xx and
//! spans with status Error) and `cause` (the `exception` events) come from the semantic
//! conventions. On top of it:
//!
//! - `faas.coldstart`, `faas.trigger` and `faas.invocation_id` are **annotations**
//!   (`faas_coldstart`, ... : X-Ray's keys allow letters, digits and `_`), searchable with
//!   filter expressions such as `annotation.faas_coldstart = true`; every other attribute is
//!   metadata;
//! - [`prepare`] fixes what the translator gets wrong for Lambda (the invocation span as a
//!   subsegment of Lambda's function segment, roots as segments, names and `http` strings X-Ray
//!   would refuse, `sql` blocks on HTTP spans, `error` for 4xx), see there; the translator gets
//!   only the resource attributes it reads, so documents do not repeat the whole resource;
//! - metadata goes under the `default` namespace, as X-Ray's schema has it (see [`daemon`]);
//! - trace ids: X-Ray refuses a trace id that does not start with a recent epoch second. New
//!   traces use X-Ray's id generator, a parent with a foreign (W3C random) trace id becomes a
//!   link at span start (see [`crate::config::Exporter::Xray`]); a span that still has one is
//!   counted as lost here, never sent to be dropped silently;
//! - links: the translator drops them, and so would drop the caller's trace id that the rule
//!   above made a link. Each goes into the metadata as a W3C `traceparent`
//!   (`metadata.default.links`), which the console shows with the segment: X-Ray's schema has
//!   no field for a link to a trace it refuses (see [`prepare`]);
//! - [`daemon`] sends the documents, within the 64 KB datagram limit, and reports a missing
//!   daemon as one failure.
//!
//! Every loss is counted and reported through the flush's rate-limited warning, like any
//! other export failure.

mod daemon;
mod prepare;

use super::Loss;
use super::xray_compatible;
use daemon::Daemon;
use opentelemetry_aws::xray_exporter::SegmentTranslator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute::{
    FAAS_COLDSTART, FAAS_INVOCATION_ID, FAAS_TRIGGER,
};
use std::net::SocketAddr;
use std::time::SystemTime;

/// The attributes sent as annotations (indexed, searchable); every other one is metadata.
const ANNOTATED: [&str; 3] = [FAAS_COLDSTART, FAAS_TRIGGER, FAAS_INVOCATION_ID];

/// Spans to segment documents to the daemon.
#[derive(Debug)]
pub(crate) struct XrayExporter {
    translator: SegmentTranslator,
    daemon: Daemon,
}

impl XrayExporter {
    /// Opens the UDP socket to `daemon`.
    pub(crate) fn new(daemon: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            translator: translator(),
            daemon: Daemon::connect(daemon)?,
        })
    }

    /// The resource whose attributes every document carries (`service.name` names segments).
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.translator.set_resource(&prepare::resource(resource));
    }

    /// Sends one document per span; `Err` counts what did not reach the daemon, and why.
    /// Never waits: it completes in the call.
    pub(crate) fn export(&self, mut batch: Vec<SpanData>) -> Result<(), Loss> {
        let total = batch.len();
        let refused = drop_foreign_traces(&mut batch, SystemTime::now());
        batch.iter_mut().for_each(prepare::prepare);
        let documents = self.translator.translate_spans(&batch);
        let untranslated = batch.len() - documents.len();
        let refused = merge(
            refused,
            (untranslated > 0).then(|| Loss {
                lost: untranslated,
                reason: format!("{untranslated} spans could not be made segment documents"),
            }),
        );
        let sent = self.daemon.send(documents);
        match sent.loss(total, refused, self.daemon.address()) {
            Some(loss) => Err(loss),
            None => Ok(()),
        }
    }
}

fn translator() -> SegmentTranslator {
    SegmentTranslator::new()
        .with_indexed_attrs(ANNOTATED.map(str::to_owned))
        .metadata_all_attrs()
}

/// Removes the spans X-Ray would refuse for their trace id; the loss, if any.
fn drop_foreign_traces(batch: &mut Vec<SpanData>, now: SystemTime) -> Option<Loss> {
    let before = batch.len();
    batch.retain(|span| xray_compatible(span.span_context.trace_id(), now));
    let lost = before - batch.len();
    (lost > 0).then(|| Loss {
        lost,
        reason: format!(
            "{lost} spans have a trace id X-Ray refuses (not started by X-Ray's id generator \
             or a recent X-Ray header)"
        ),
    })
}

fn merge(a: Option<Loss>, b: Option<Loss>) -> Option<Loss> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Loss {
            lost: a.lost + b.lost,
            reason: format!("{}; {}", a.reason, b.reason),
        }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
