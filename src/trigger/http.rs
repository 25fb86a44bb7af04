//! API Gateway (REST and HTTP APIs), Function URLs and ALB: the HTTP server conventions.

use super::bound::{bounded_owned, push_known, push_str};
use super::de::{Headers, Params};
use super::probe::{Probe, RequestContext};
use super::query;
use super::{EventSource, Inspected};
use crate::propagation::TraceHeaders;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE,
    NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};
use std::borrow::Cow;

/// The HTTP sources, told apart by what only each of them sends.
pub(super) fn inspect<'a>(probe: Probe<'a>, sensitive: &[Box<str>]) -> Option<Inspected<'a>> {
    let context = probe.request_context.unwrap_or_default();
    let headers = match (probe.headers, probe.multi_headers) {
        (Some(h), Some(m)) => h.or(m),
        (h, m) => h.or(m).unwrap_or_default(),
    };
    if let Some(method) = context.http.as_ref().and_then(|h| h.method.as_ref()) {
        let method = method.0.clone();
        return Some(payload_v2(
            method,
            probe.route_key.map(|r| r.0),
            probe.raw_path.map(|p| p.0),
            probe.raw_query.map(|q| q.0),
            context,
            headers,
            sensitive,
        ));
    }
    let method = probe.http_method?.0;
    let params = probe.multi_query.or(probe.query).unwrap_or_default();
    Some(payload_v1(
        method,
        probe.resource.map(|r| r.0),
        probe.path.map(|p| p.0),
        params,
        context,
        headers,
        sensitive,
    ))
}

/// HTTP API (payload 2.0) or Function URL.
fn payload_v2<'a>(
    method: Cow<'a, str>,
    route_key: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    raw_query: Option<Cow<'a, str>>,
    context: RequestContext<'a>,
    headers: Headers<'a>,
    sensitive: &[Box<str>],
) -> Inspected<'a> {
    let domain = context.domain_name.map(|d| d.0);
    let source = match &domain {
        Some(d) if d.contains(".lambda-url.") => EventSource::FunctionUrl,
        _ => EventSource::ApiGatewayHttp,
    };
    // `GET /users/{id}`; `$default` names no route.
    let route = route_key.and_then(|key| match key {
        Cow::Borrowed(key) => key.split_once(' ').map(|(_, route)| Cow::Borrowed(route)),
        Cow::Owned(key) => key
            .split_once(' ')
            .map(|(_, route)| Cow::Owned(route.to_owned())),
    });
    let http = context.http.unwrap_or_default();
    let request = Request {
        method,
        route,
        path,
        query: raw_query
            .filter(|q| !q.is_empty())
            .map(|q| query::redact_raw(&q, sensitive)),
        scheme: headers
            .forwarded_proto
            .clone()
            .unwrap_or(Cow::Borrowed("https")),
        server: domain,
        server_port: None,
        client: http.source_ip.map(|s| s.0),
        user_agent: http.user_agent.map(|u| u.0).or(headers.user_agent),
        protocol: http.protocol.map(|p| p.0),
    };
    request.into_inspected(source, headers.trace)
}

/// REST API (payload 1.0) or ALB.
fn payload_v1<'a>(
    method: Cow<'a, str>,
    resource: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    params: Params<'a>,
    context: RequestContext<'a>,
    headers: Headers<'a>,
    sensitive: &[Box<str>],
) -> Inspected<'a> {
    let alb = context.elb;
    let identity = context.identity.unwrap_or_default();
    let client = identity.source_ip.map(|s| s.0).or_else(|| {
        // ALB: the client is the first address of X-Forwarded-For.
        let forwarded = headers.forwarded_for.as_deref()?;
        let first = forwarded.split(',').next()?.trim();
        (!first.is_empty()).then(|| Cow::Owned(first.to_owned()))
    });
    let (source, default_scheme, server) = if alb {
        (EventSource::Alb, "http", headers.host.clone())
    } else {
        let server = context.domain_name.map(|d| d.0).or(headers.host.clone());
        (EventSource::ApiGatewayRest, "https", server)
    };
    let request = Request {
        method,
        // ALB has no route templates; a REST API's resource is one (`/users/{id}`).
        route: if alb { None } else { resource },
        path,
        query: (!params.0.is_empty()).then(|| query::redact_params(&params, sensitive)),
        scheme: headers
            .forwarded_proto
            .clone()
            .unwrap_or(Cow::Borrowed(default_scheme)),
        server,
        server_port: if alb { headers.forwarded_port } else { None },
        client,
        user_agent: identity.user_agent.map(|u| u.0).or(headers.user_agent),
        protocol: context.protocol.map(|p| p.0),
    };
    request.into_inspected(source, headers.trace)
}

struct Request<'a> {
    method: Cow<'a, str>,
    route: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    query: Option<String>,
    scheme: Cow<'a, str>,
    server: Option<Cow<'a, str>>,
    server_port: Option<Cow<'a, str>>,
    client: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    protocol: Option<Cow<'a, str>>,
}

/// The methods the HTTP conventions know; any other is recorded as `_OTHER`.
const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE",
];

/// The schemes and protocol versions written without a copy.
const KNOWN_SCHEMES: [&str; 2] = ["https", "http"];
const KNOWN_VERSIONS: [&str; 5] = ["1.1", "2.0", "1.0", "2", "3"];

impl<'a> Request<'a> {
    fn into_inspected(self, source: EventSource, trace: TraceHeaders<'a>) -> Inspected<'a> {
        let mut attributes = Vec::with_capacity(12);
        let known = KNOWN_METHODS.iter().find(|&&m| m == self.method);
        let name_method = known.copied().unwrap_or("HTTP");
        let name = match &self.route {
            Some(route) => {
                let mut name = String::with_capacity(name_method.len() + 1 + route.len());
                name.push_str(name_method);
                name.push(' ');
                name.push_str(route);
                bounded_owned(name)
            }
            None => name_method.to_owned(),
        };
        if let Some(&method) = known {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method));
        } else {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER"));
            push_str(
                &mut attributes,
                HTTP_REQUEST_METHOD_ORIGINAL,
                Some(self.method),
            );
        }
        push_str(&mut attributes, HTTP_ROUTE, self.route);
        push_str(&mut attributes, URL_PATH, self.path);
        if let Some(query) = self.query {
            attributes.push(KeyValue::new(URL_QUERY, bounded_owned(query)));
        }
        push_known(
            &mut attributes,
            URL_SCHEME,
            Some(self.scheme),
            &KNOWN_SCHEMES,
        );
        push_str(&mut attributes, SERVER_ADDRESS, self.server);
        if let Some(port) = self.server_port.and_then(|p| p.parse::<u16>().ok()) {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
        push_str(&mut attributes, CLIENT_ADDRESS, self.client);
        push_str(&mut attributes, USER_AGENT_ORIGINAL, self.user_agent);
        let version = self
            .protocol
            .as_deref()
            .and_then(|p| p.strip_prefix("HTTP/"))
            .map(Cow::Borrowed);
        push_known(
            &mut attributes,
            NETWORK_PROTOCOL_VERSION,
            version,
            &KNOWN_VERSIONS,
        );
        Inspected::new(source, SpanKind::Server, attributes)
            .with_name(name)
            .with_carrier(trace)
    }
}
