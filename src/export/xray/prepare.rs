//! What opentelemetry-aws's segment translator gets wrong for Lambda, fixed on the span before
//! it is translated (the narrowest point: the translator itself is used as it is).

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL, URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use opentelemetry_semantic_conventions::resource::{
    AWS_LOG_GROUP_ARNS, AWS_LOG_GROUP_NAMES, CLOUD_PLATFORM, CLOUD_PROVIDER, SERVICE_NAME,
    TELEMETRY_SDK_LANGUAGE, TELEMETRY_SDK_NAME, TELEMETRY_SDK_VERSION,
};
use std::borrow::Cow;

/// X-Ray's longest segment name.
const MAX_NAME_CHARS: usize = 200;
/// The metadata key of a span's links.
const LINKS: &str = "links";

/// Fixes one span for X-Ray:
///
/// 1. **A span with a remote parent is a subsegment of that parent.** In Lambda the parent is
///    the function segment Lambda records itself (Active tracing), and X-Ray lets only Lambda
///    record it: a second segment for the same function would show it twice in the service
///    map, beside Lambda's node instead of inside it. The translator makes a segment of every
///    SERVER span, so such a span becomes INTERNAL (a subsegment named after the span, `GET
///    /rolldice`), and its URL, which the translator assembles from `server.address` for
///    SERVER spans only, is given as `url.full`.
/// 2. **A root span is a segment**, whatever its kind: a subsegment needs a parent, and the
///    translator would send a CONSUMER root (an SQS batch with no parent) as an orphan.
/// 3. **No `sql` block on HTTP spans**, **`error` for 4xx responses**, and **`http` strings
///    within 250 bytes**: see [`is_database`], [`http_error`] and [`cap_http_field`]. An end
///    time before the start (a wall clock stepped back) becomes the start.
/// 4. **Names X-Ray takes.** Names are 1 to 200 letters, digits, spaces and the symbols
///    `_.:/%&#=+\-@`; the translator drops a span with any other name (a route such as
///    `GET /users/{id}`, a name with parentheses). Other characters become `_`, and the name
///    is cut to 200 characters.
/// 5. **Links as metadata**: see [`links`].
pub(super) fn prepare(span: &mut SpanData) {
    links(span);
    if span.span_kind == SpanKind::Server
        && let Some(url) = full_url(&span.attributes)
    {
        span.attributes.push(KeyValue::new(URL_FULL, url));
    }
    if span.parent_span_id == SpanId::INVALID {
        span.span_kind = SpanKind::Server;
    } else if span.parent_span_is_remote && span.span_kind == SpanKind::Server {
        span.span_kind = SpanKind::Internal;
    }
    if !is_database(&span.attributes) {
        span.attributes
            .retain(|kv| !matches!(kv.key.as_str(), SERVER_ADDRESS | SERVER_PORT));
    }
    for kv in &mut span.attributes {
        cap_http_field(kv);
    }
    if span.status == Status::Unset && http_error(&span.attributes) {
        span.status = Status::error("");
    }
    if let Cow::Owned(name) = xray_name(&span.name) {
        span.name = Cow::Owned(name);
    }
    // A wall clock stepped back mid-span; X-Ray refuses an end before the start.
    span.end_time = span.end_time.max(span.start_time);
}

/// The `http` block's strings are at most 250 bytes, and the translator drops the whole span
/// for a longer one (a URL with a long query string): cut them, on a character boundary.
fn cap_http_field(kv: &mut KeyValue) {
    const MAX: usize = 250;
    const HTTP_FIELDS: [&str; 8] = [
        URL_FULL,
        "http.url",
        HTTP_REQUEST_METHOD,
        "http.method",
        USER_AGENT_ORIGINAL,
        "http.user_agent",
        CLIENT_ADDRESS,
        "http.client_ip",
    ];
    let Value::String(value) = &kv.value else {
        return;
    };
    if value.as_str().len() <= MAX || !HTTP_FIELDS.contains(&kv.key.as_str()) {
        return;
    }
    kv.value = Value::from(crate::attributes::truncate(value.as_str(), MAX).to_owned());
}

/// The translator writes `sql.url` from `server.address` on every subsegment, an HTTP one
/// included: outside database spans the address goes (the URL carries it).
fn is_database(attributes: &[KeyValue]) -> bool {
    attributes
        .iter()
        .any(|kv| matches!(kv.key.as_str(), "db.system" | "db.system.name"))
}

/// X-Ray marks 4xx responses as `error` (429 also as `throttle`) and 5xx as `fault`; the
/// translator reads the status code only for spans whose status is Error, which a server span
/// with a 4xx is not (the HTTP conventions keep it Unset), nor a client span left Unset. Only
/// the document's copy of the span changes.
fn http_error(attributes: &[KeyValue]) -> bool {
    attributes.iter().any(|kv| {
        kv.key.as_str() == HTTP_RESPONSE_STATUS_CODE && matches!(kv.value, Value::I64(400..=599))
    })
}

/// What the translator reads from the resource: the service name (segment names), the cloud
/// (`origin`), the SDK (`aws.xray.sdk`) and the log groups (`aws.cloudwatch_logs`). The rest of
/// the resource (`faas.instance`, `faas.max_memory`, ...) would go into the metadata of every
/// document, which Lambda's own function segment already describes.
const RESOURCE_KEYS: [&str; 8] = [
    SERVICE_NAME,
    CLOUD_PROVIDER,
    CLOUD_PLATFORM,
    TELEMETRY_SDK_NAME,
    TELEMETRY_SDK_LANGUAGE,
    TELEMETRY_SDK_VERSION,
    AWS_LOG_GROUP_NAMES,
    AWS_LOG_GROUP_ARNS,
];

/// The resource the translator gets: the attributes of [`RESOURCE_KEYS`], with a
/// `service.name` X-Ray takes as a segment name (root segments are named after the service).
pub(super) fn resource(resource: &Resource) -> Resource {
    let attributes = resource
        .iter()
        .filter(|(k, _)| RESOURCE_KEYS.contains(&k.as_str()))
        .map(|(k, v)| {
            let value = match (k.as_str(), v) {
                (SERVICE_NAME, Value::String(name)) => {
                    Value::from(xray_name(name.as_str()).into_owned())
                }
                _ => v.clone(),
            };
            KeyValue::new(k.clone(), value)
        });
    Resource::builder_empty()
        .with_attributes(attributes)
        .build()
}

/// The translator ignores span links, and they matter most here: a W3C caller's context, whose
/// trace id X-Ray refuses, is a link of the invocation span, not its parent. X-Ray's segment
/// document schema has no field for links (the Collector's exporter writes a `links` array,
/// but only of trace ids X-Ray accepts, so not this one), and a field X-Ray refuses could cost
/// the whole document. So each link goes into the metadata (`metadata.default.links`, shown
/// with the segment in the console) as the W3C `traceparent` it came from,
/// `00-<trace id>-<span id>-<flags>`: the caller's trace id as its own backend writes it. A
/// span attribute named `links` wins (metadata keys are unique); links are dropped with the
/// rest of the metadata when a document is over 64 KB.
fn links(span: &mut SpanData) {
    if span.links.links.is_empty() || span.attributes.iter().any(|kv| kv.key.as_str() == LINKS) {
        return;
    }
    let traceparents = span
        .links
        .links
        .iter()
        .map(|link| {
            let cx = &link.span_context;
            StringValue::from(format!(
                "00-{}-{}-{:02x}",
                cx.trace_id(),
                cx.span_id(),
                cx.trace_flags().to_u8()
            ))
        })
        .collect();
    span.attributes.push(KeyValue::new(
        LINKS,
        Value::Array(Array::String(traceparents)),
    ));
}

/// `name` within X-Ray's rules; borrowed when it already is.
pub(super) fn xray_name(name: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || "_.:/%&#=+\\-@".contains(c);
    let too_long = name.chars().nth(MAX_NAME_CHARS).is_some();
    if !name.is_empty() && !too_long && name.chars().all(allowed) {
        return Cow::Borrowed(name);
    }
    if name.is_empty() {
        return Cow::Borrowed("unnamed");
    }
    Cow::Owned(
        name.chars()
            .take(MAX_NAME_CHARS)
            .map(|c| if allowed(c) { c } else { '_' })
            .collect(),
    )
}

/// `scheme://host/path?query` of an HTTP server span, from its semantic-convention attributes.
fn full_url(attributes: &[KeyValue]) -> Option<String> {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    };
    if get(URL_FULL).is_some() || get(HTTP_REQUEST_METHOD).is_none() {
        return None;
    }
    let host = get(SERVER_ADDRESS)?;
    let scheme = get(URL_SCHEME);
    let path = get(URL_PATH);
    let mut url = format!(
        "{}://{}{}",
        scheme.as_deref().unwrap_or("https"),
        host,
        path.as_deref().unwrap_or("/")
    );
    if let Some(query) = get(URL_QUERY).filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(&query);
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_x_ray_would_refuse_are_made_valid() {
        assert!(matches!(
            xray_name("GET /rolldice"),
            Cow::Borrowed("GET /rolldice")
        ));
        assert_eq!(xray_name("GET /users/{id}"), "GET /users/_id_");
        assert_eq!(xray_name("fetch(user)!"), "fetch_user__");
        assert_eq!(xray_name("café"), "caf_");
        assert_eq!(xray_name(""), "unnamed");
        let long = "a".repeat(250);
        assert_eq!(xray_name(&long).chars().count(), 200);
        assert!(matches!(xray_name(&long[..200]), Cow::Borrowed(_)));
    }

    #[test]
    fn an_http_server_span_gets_its_full_url() {
        let attributes = [
            KeyValue::new(HTTP_REQUEST_METHOD, "GET"),
            KeyValue::new(URL_SCHEME, "https"),
            KeyValue::new(SERVER_ADDRESS, "abc.execute-api.us-east-1.amazonaws.com"),
            KeyValue::new(URL_PATH, "/rolldice"),
            KeyValue::new(URL_QUERY, "player=Alice"),
        ];
        assert_eq!(
            full_url(&attributes).as_deref(),
            Some("https://abc.execute-api.us-east-1.amazonaws.com/rolldice?player=Alice")
        );
        assert_eq!(full_url(&attributes[1..]), None, "not an HTTP span");
    }

    #[test]
    fn the_translator_gets_what_it_reads_of_the_resource_and_a_valid_service_name() {
        let original = Resource::builder_empty()
            .with_attributes([
                KeyValue::new(SERVICE_NAME, "orders (prod)"),
                KeyValue::new(CLOUD_PLATFORM, "aws_lambda"),
                KeyValue::new("faas.instance", "2026/11/29/[$LATEST]abc"),
            ])
            .build();
        let fixed = resource(&original);
        let get = |key: &'static str| fixed.get(&opentelemetry::Key::from_static_str(key));
        assert_eq!(get(SERVICE_NAME), Some(Value::from("orders _prod_")));
        assert_eq!(get(CLOUD_PLATFORM), Some(Value::from("aws_lambda")));
        assert_eq!(get("faas.instance"), None);
    }
}
