//! The invocation span's parent, links and baggage, from the event's carrier and Lambda's own
//! X-Ray header, as `OTEL_PROPAGATORS` orders them.

use super::{TraceHeaders, xray_header, xray_sampled};
use crate::config::{Propagator, XraySampled};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// What extraction reads from the configuration, resolved once at set-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtractSettings<'a> {
    /// `OTEL_PROPAGATORS`, in order: where the parent and the links come from.
    pub propagators: &'a [Propagator],
    /// What an X-Ray parent's `Sampled=0` decides.
    pub xray_sampled: XraySampled,
    /// Whether the parent's trace id must be one X-Ray takes (the `xray` exporter): a parent
    /// with any other trace id becomes a link instead.
    pub xray_trace_ids: bool,
}

/// What the invocation span starts from.
#[derive(Debug)]
pub(crate) struct Extracted {
    /// The context to start the span in: the base context, the remote parent (if any) and the
    /// carrier's baggage.
    pub parent: Context,
    /// The base context and the carrier's baggage, without the parent: what the invocation's
    /// own context is built on.
    pub baggage: Context,
    /// Span contexts that a later propagator replaced as the parent.
    pub links: Vec<Link>,
}

/// A span context one propagator found, and whether X-Ray's sampling rule applies to it.
struct Found {
    span_context: SpanContext,
    from_xray: bool,
}

/// Runs the configured propagators in order over `carrier`, starting from `base`
/// (`Context::current()`). `lambda_header` is Lambda's X-Ray header for this invocation
/// (`Context::xray_trace_id`), read only by `xray-lambda`.
///
/// As in OpenTelemetry's composite propagator, a later propagator that finds a valid span
/// context replaces the parent an earlier one found; the replaced one becomes a link.
pub(crate) fn extract(
    settings: ExtractSettings<'_>,
    base: &Context,
    carrier: &TraceHeaders<'_>,
    lambda_header: Option<&str>,
) -> Extracted {
    let mut cx = base.clone();
    let mut parent: Option<Found> = None;
    let mut links: Vec<Link> = Vec::new();
    for propagator in settings.propagators {
        let found = match propagator {
            Propagator::Baggage => {
                cx = BaggagePropagator::new().extract_with_context(&cx, carrier);
                continue;
            }
            Propagator::TraceContext => trace_context(carrier).map(|span_context| Found {
                span_context,
                from_xray: false,
            }),
            Propagator::Xray => carrier_xray(carrier).map(Found::xray),
            Propagator::XrayLambda => carrier_xray(carrier)
                .or_else(|| lambda_header.and_then(xray_header::span_context))
                .map(Found::xray),
        };
        let Some(found) = found else { continue };
        if let Some(replaced) = parent.replace(found) {
            let replaced = replaced.span_context;
            if !links.iter().any(|l| same_span(&l.span_context, &replaced)) {
                links.push(Link::with_context(replaced));
            }
        }
    }
    if settings.xray_trace_ids {
        parent = xray_parent(settings.propagators, parent, &mut links, lambda_header);
    }
    if let Some(parent) = &parent {
        links.retain(|l| !same_span(&l.span_context, &parent.span_context));
    }
    let parent = match parent {
        None => cx.clone(),
        Some(Found {
            span_context,
            from_xray: true,
        }) => xray_sampled::with_parent(&cx, span_context, settings.xray_sampled),
        Some(Found { span_context, .. }) => cx.with_remote_span_context(span_context),
    };
    Extracted {
        parent,
        baggage: cx,
        links,
    }
}

/// For the `xray` exporter: a parent whose trace id X-Ray would refuse (a W3C caller's random
/// id) cannot be kept, or the whole trace would be dropped on the way. It becomes a link, and
/// the span joins Lambda's own trace instead when `xray-lambda` is configured (so the X-Ray
/// console shows it under Lambda's segment), else starts a trace of its own.
fn xray_parent(
    propagators: &[Propagator],
    parent: Option<Found>,
    links: &mut Vec<Link>,
    lambda_header: Option<&str>,
) -> Option<Found> {
    let now = std::time::SystemTime::now();
    let found = parent?;
    if crate::export::xray_compatible(found.span_context.trace_id(), now) {
        return Some(found);
    }
    if !links
        .iter()
        .any(|l| same_span(&l.span_context, &found.span_context))
    {
        links.push(Link::with_context(found.span_context));
    }
    propagators
        .contains(&Propagator::XrayLambda)
        .then(|| lambda_header.and_then(xray_header::span_context))
        .flatten()
        .filter(|lambda| crate::export::xray_compatible(lambda.trace_id(), now))
        .map(Found::xray)
}

/// The producer of one message of a batch, as a link: its `traceparent` (and `tracestate`),
/// else its X-Ray header (SQS's `AWSTraceHeader`). Independent of `OTEL_PROPAGATORS`, as the
/// messaging conventions ask for these links whatever the propagators. `None` when the message
/// carries no valid context.
pub(crate) fn record_link(carrier: &TraceHeaders<'_>) -> Option<Link> {
    trace_context(carrier)
        .or_else(|| carrier_xray(carrier))
        .map(Link::with_context)
}

impl Found {
    fn xray(span_context: SpanContext) -> Self {
        Self {
            span_context,
            from_xray: true,
        }
    }
}

fn trace_context(carrier: &TraceHeaders<'_>) -> Option<SpanContext> {
    if !well_formed_traceparent(carrier.traceparent.as_deref()?) {
        return None;
    }
    // An empty start, so that an invalid header cannot hand back the current span.
    let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), carrier);
    let span = cx.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.clone())
}

/// W3C Trace Context's `traceparent`: `version-trace_id-parent_id-flags`, lower-case hex of
/// 2, 32, 16 and 2 digits, exactly four fields for version `00`, never version `ff`. The SDK's
/// parser also takes shorter ids (`00-1-1-01` becomes trace `0…01`), which would join every
/// malformed header into one made-up trace.
fn well_formed_traceparent(header: &str) -> bool {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut fields = header.trim().split('-');
    let (Some(version), Some(trace), Some(parent), Some(flags)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    let rest_allowed = version != "00" || fields.next().is_none();
    hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && rest_allowed
}

fn carrier_xray(carrier: &TraceHeaders<'_>) -> Option<SpanContext> {
    carrier.xray.as_deref().and_then(xray_header::span_context)
}

/// Two contexts for the same span: linking the parent again, or twice, says nothing new.
fn same_span(a: &SpanContext, b: &SpanContext) -> bool {
    a.trace_id() == b.trace_id() && a.span_id() == b.span_id()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env;
    use crate::propagation::LambdaSampler;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{SpanId, SpanKind, TraceId};
    use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
    use std::borrow::Cow;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const W3C_SPAN: &str = "00f067aa0ba902b7";
    const CARRIER_XRAY: &str =
        "Root=1-6920cc10-3b2f8a91c4d7e6f05a1b2c3d;Parent=1111111111111111;Sampled=1";
    const CARRIER_TRACE: &str = "6920cc103b2f8a91c4d7e6f05a1b2c3d";
    const LAMBDA: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const LAMBDA_UNSAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    const LAMBDA_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
    const LAMBDA_SPAN: &str = "53995c3f42cd8ad8";

    fn settings(propagators: &[Propagator], rule: XraySampled) -> ExtractSettings<'_> {
        ExtractSettings {
            propagators,
            xray_sampled: rule,
            xray_trace_ids: false,
        }
    }

    fn headers<'a>(
        traceparent: Option<&'a str>,
        baggage: Option<&'a str>,
        xray: Option<&'a str>,
    ) -> TraceHeaders<'a> {
        TraceHeaders {
            traceparent: traceparent.map(Cow::Borrowed),
            tracestate: traceparent.map(|_| Cow::Borrowed("vendor=value")),
            baggage: baggage.map(Cow::Borrowed),
            xray: xray.map(Cow::Borrowed),
        }
    }

    fn run(
        propagators: &[Propagator],
        carrier: &TraceHeaders<'_>,
        lambda: Option<&str>,
    ) -> Extracted {
        extract(
            settings(propagators, XraySampled::Ignore),
            &Context::new(),
            carrier,
            lambda,
        )
    }

    /// The parent's trace and span ids, or `None` when there is no parent.
    fn parent_ids(extracted: &Extracted) -> Option<(String, String)> {
        let span = extracted.parent.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }

    fn link_ids(extracted: &Extracted) -> Vec<(String, String)> {
        extracted
            .links
            .iter()
            .map(|l| {
                let sc = &l.span_context;
                (sc.trace_id().to_string(), sc.span_id().to_string())
            })
            .collect()
    }

    fn ids(trace: &str, span: &str) -> (String, String) {
        (trace.to_owned(), span.to_owned())
    }

    fn decide(extracted: &Extracted, sampler: Sampler) -> SamplingDecision {
        let cx = &extracted.parent;
        let trace_id = cx.span().span_context().trace_id();
        LambdaSampler(sampler)
            .should_sample(Some(cx), trace_id, "x", &SpanKind::Server, &[], &[])
            .decision
    }

    fn parent_based() -> Sampler {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }

    use Propagator::{Baggage, TraceContext, Xray, XrayLambda};

    #[test]
    fn w3c_trace_context_gives_the_parent_and_its_trace_state() {
        let carrier = headers(Some(TRACEPARENT), None, Some(CARRIER_XRAY));
        let extracted = run(&[TraceContext], &carrier, Some(LAMBDA));
        assert_eq!(parent_ids(&extracted), Some(ids(W3C_TRACE, W3C_SPAN)));
        let span = extracted.parent.span();
        let sc = span.span_context();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_state().get("vendor"), Some("value"));
        assert!(extracted.links.is_empty(), "X-Ray is not configured");
    }

    #[test]
    fn baggage_joins_the_context_but_never_gives_a_parent() {
        let carrier = headers(Some(TRACEPARENT), Some("tenant=dice,user=bob"), None);
        let both = run(&[TraceContext, Baggage], &carrier, None);
        assert_eq!(parent_ids(&both), Some(ids(W3C_TRACE, W3C_SPAN)));
        assert_eq!(
            both.parent.baggage().get("tenant").map(|v| v.to_string()),
            Some("dice".to_owned())
        );
        let only_baggage = run(&[Baggage], &carrier, Some(LAMBDA));
        assert_eq!(parent_ids(&only_baggage), None);
        assert_eq!(only_baggage.parent.baggage().len(), 2);
        let no_baggage = run(&[TraceContext], &carrier, None);
        assert_eq!(no_baggage.parent.baggage().len(), 0);
    }

    #[test]
    fn xray_reads_the_carrier_only() {
        let carrier = headers(None, None, Some(CARRIER_XRAY));
        let extracted = run(&[Xray], &carrier, Some(LAMBDA));
        assert_eq!(
            parent_ids(&extracted),
            Some(ids(CARRIER_TRACE, "1111111111111111"))
        );
        assert!(extracted.links.is_empty());
        let lambda_only = run(&[Xray], &TraceHeaders::default(), Some(LAMBDA));
        assert_eq!(parent_ids(&lambda_only), None);
    }

    #[test]
    fn xray_lambda_falls_back_to_lambdas_header() {
        // API Gateway and ALB send a Root without a Parent: no parent, so Lambda's header.
        let root_only = headers(None, None, Some("Root=1-6920cc10-3b2f8a91c4d7e6f05a1b2c3d"));
        let extracted = run(&[XrayLambda], &root_only, Some(LAMBDA));
        assert_eq!(parent_ids(&extracted), Some(ids(LAMBDA_TRACE, LAMBDA_SPAN)));
        let none = run(&[XrayLambda], &TraceHeaders::default(), Some(LAMBDA));
        assert_eq!(parent_ids(&none), Some(ids(LAMBDA_TRACE, LAMBDA_SPAN)));
        // A carrier that names a parent wins; Lambda's header is not read at all.
        let carrier = headers(None, None, Some(CARRIER_XRAY));
        let extracted = run(&[XrayLambda], &carrier, Some(LAMBDA));
        assert_eq!(
            parent_ids(&extracted),
            Some(ids(CARRIER_TRACE, "1111111111111111"))
        );
        assert!(extracted.links.is_empty());
    }

    #[test]
    fn the_later_propagator_is_the_parent_and_the_earlier_a_link() {
        let carrier = headers(Some(TRACEPARENT), None, None);
        let xray_first = run(&[XrayLambda, TraceContext], &carrier, Some(LAMBDA));
        assert_eq!(parent_ids(&xray_first), Some(ids(W3C_TRACE, W3C_SPAN)));
        assert_eq!(link_ids(&xray_first), [ids(LAMBDA_TRACE, LAMBDA_SPAN)]);

        let w3c_first = run(&[TraceContext, XrayLambda], &carrier, Some(LAMBDA));
        assert_eq!(parent_ids(&w3c_first), Some(ids(LAMBDA_TRACE, LAMBDA_SPAN)));
        assert_eq!(link_ids(&w3c_first), [ids(W3C_TRACE, W3C_SPAN)]);
    }

    #[test]
    fn the_same_span_found_twice_is_not_linked() {
        let carrier = headers(Some(TRACEPARENT), None, Some(CARRIER_XRAY));
        let extracted = run(&[Xray, TraceContext, XrayLambda], &carrier, Some(LAMBDA));
        assert_eq!(
            parent_ids(&extracted),
            Some(ids(CARRIER_TRACE, "1111111111111111"))
        );
        assert_eq!(link_ids(&extracted), [ids(W3C_TRACE, W3C_SPAN)]);
    }

    #[test]
    fn traceparents_with_short_or_signed_ids_are_refused() {
        for header in [
            "00-1-1-01",
            "00-+1-+2-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            let carrier = headers(Some(header), None, None);
            assert_eq!(
                parent_ids(&run(&[TraceContext], &carrier, None)),
                None,
                "{header}"
            );
        }
        assert!(well_formed_traceparent(TRACEPARENT));
        assert!(well_formed_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            let carrier = headers(Some(bad), None, None);
            let alone = run(&[TraceContext], &carrier, Some(LAMBDA));
            assert_eq!(parent_ids(&alone), None, "{bad}");
            let after = run(&[XrayLambda, TraceContext], &carrier, Some(LAMBDA));
            assert_eq!(
                parent_ids(&after),
                Some(ids(LAMBDA_TRACE, LAMBDA_SPAN)),
                "{bad}"
            );
            assert!(after.links.is_empty(), "{bad}");
        }
    }

    #[test]
    fn no_parent_leaves_the_base_context() {
        let base = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex(W3C_TRACE).expect("hex"),
            SpanId::from_hex("0000000000000abc").expect("hex"),
            Default::default(),
            false,
            Default::default(),
        ));
        let carrier = headers(Some("garbage"), None, Some(CARRIER_XRAY));
        let default = settings(env::DEFAULT_PROPAGATORS, XraySampled::default());
        let extracted = extract(default, &base, &carrier, Some(LAMBDA));
        assert_eq!(
            parent_ids(&extracted),
            Some(ids(W3C_TRACE, "0000000000000abc")),
            "by default neither X-Ray header is read, and bad W3C headers change nothing"
        );
        let none = extract(
            settings(&[], XraySampled::Ignore),
            &base,
            &carrier,
            Some(LAMBDA),
        );
        assert_eq!(parent_ids(&none), Some(ids(W3C_TRACE, "0000000000000abc")));
    }

    #[test]
    fn sampled_0_follows_the_rule_for_both_xray_propagators() {
        let carrier = headers(None, None, Some(LAMBDA_UNSAMPLED));
        for (propagator, carrier, lambda) in [
            (Xray, &carrier, None),
            (XrayLambda, &carrier, None),
            (XrayLambda, &TraceHeaders::default(), Some(LAMBDA_UNSAMPLED)),
        ] {
            let propagators = [propagator];
            let ignore = settings(&propagators, XraySampled::Ignore);
            let extracted = extract(ignore, &Context::new(), carrier, lambda);
            assert_eq!(parent_ids(&extracted), Some(ids(LAMBDA_TRACE, LAMBDA_SPAN)));
            assert_eq!(
                decide(&extracted, parent_based()),
                SamplingDecision::RecordAndSample,
                "{propagator} ignore"
            );
            let honor = settings(&propagators, XraySampled::Honor);
            let extracted = extract(honor, &Context::new(), carrier, lambda);
            assert_eq!(
                decide(&extracted, parent_based()),
                SamplingDecision::Drop,
                "{propagator} honor"
            );
        }
    }

    #[test]
    fn an_unsampled_w3c_parent_is_followed_even_after_an_ignored_xray_one() {
        let carrier = headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            None,
            None,
        );
        let extracted = run(
            &[XrayLambda, TraceContext],
            &carrier,
            Some(LAMBDA_UNSAMPLED),
        );
        assert_eq!(parent_ids(&extracted), Some(ids(W3C_TRACE, W3C_SPAN)));
        assert_eq!(decide(&extracted, parent_based()), SamplingDecision::Drop);
    }

    /// An X-Ray header whose trace started now, as Lambda's is.
    fn recent_lambda_header() -> (String, String) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let trace = format!("{now:08x}3b2f8a91c4d7e6f05a1b2c3d");
        let header = format!(
            "Root=1-{}-{};Parent={LAMBDA_SPAN};Sampled=1",
            &trace[..8],
            &trace[8..]
        );
        (header, trace)
    }

    fn run_for_xray(
        propagators: &[Propagator],
        carrier: &TraceHeaders<'_>,
        lambda: &str,
    ) -> Extracted {
        let settings = ExtractSettings {
            xray_trace_ids: true,
            ..settings(propagators, XraySampled::Honor)
        };
        extract(settings, &Context::new(), carrier, Some(lambda))
    }

    #[test]
    fn for_xray_a_foreign_trace_id_becomes_a_link_under_lambdas_trace() {
        let (lambda, lambda_trace) = recent_lambda_header();
        let carrier = headers(Some(TRACEPARENT), None, None);
        // Without the rule, the W3C parent would win: xray-lambda finds nothing in the event
        // and comes first here.
        let extracted = run_for_xray(&[XrayLambda, TraceContext], &carrier, &lambda);
        assert_eq!(
            parent_ids(&extracted),
            Some(ids(&lambda_trace, LAMBDA_SPAN))
        );
        assert_eq!(link_ids(&extracted), [ids(W3C_TRACE, W3C_SPAN)]);
        assert_eq!(
            decide(&extracted, parent_based()),
            SamplingDecision::RecordAndSample
        );

        // Without xray-lambda there is no X-Ray trace to join: a new one, linked.
        let extracted = run_for_xray(&[TraceContext], &carrier, &lambda);
        assert_eq!(parent_ids(&extracted), None);
        assert_eq!(link_ids(&extracted), [ids(W3C_TRACE, W3C_SPAN)]);

        // A W3C parent whose trace id X-Ray takes (an upstream using X-Ray ids) is kept.
        let upstream = format!("00-{lambda_trace}-{W3C_SPAN}-01");
        let carrier = headers(Some(&upstream), None, None);
        let extracted = run_for_xray(&[TraceContext], &carrier, &lambda);
        assert_eq!(parent_ids(&extracted), Some(ids(&lambda_trace, W3C_SPAN)));
        assert!(extracted.links.is_empty());

        // Lambda's header from 2016 is refused too: nothing X-Ray would drop is kept.
        let carrier = headers(Some(TRACEPARENT), None, None);
        let extracted = run_for_xray(&[TraceContext, XrayLambda], &carrier, LAMBDA);
        assert_eq!(parent_ids(&extracted), None);
    }

    #[test]
    fn record_links_come_from_traceparent_then_the_xray_header() {
        let link = |carrier: &TraceHeaders<'_>| {
            record_link(carrier).map(|l| {
                let sc = l.span_context;
                (sc.trace_id().to_string(), sc.span_id().to_string())
            })
        };
        let both = headers(Some(TRACEPARENT), None, Some(CARRIER_XRAY));
        assert_eq!(link(&both), Some(ids(W3C_TRACE, W3C_SPAN)));
        let aws_trace_header = headers(None, None, Some(CARRIER_XRAY));
        assert_eq!(
            link(&aws_trace_header),
            Some(ids(CARRIER_TRACE, "1111111111111111"))
        );
        let bad_w3c = headers(Some("garbage"), None, Some(CARRIER_XRAY));
        assert_eq!(link(&bad_w3c), Some(ids(CARRIER_TRACE, "1111111111111111")));
        assert_eq!(link(&TraceHeaders::default()), None);
        assert_eq!(
            link(&headers(Some("garbage"), None, Some("Root=nope"))),
            None
        );
        let root_only = headers(None, None, Some("Root=1-6920cc10-3b2f8a91c4d7e6f05a1b2c3d"));
        assert_eq!(link(&root_only), None);
    }
}
