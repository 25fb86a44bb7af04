//! Reading the few fields of the raw event that the span needs, without deserialising the rest.

use serde::Deserialize;
use std::borrow::Cow;

/// The `faas.trigger` of an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// API Gateway (REST or HTTP API), Function URL, ALB.
    Http,
    /// Anything else.
    Other,
}

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Other => "other",
        }
    }
}

/// What the span needs from the event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EventInfo<'a> {
    pub trigger: Trigger,
    pub method: Option<Cow<'a, str>>,
    pub path: Option<Cow<'a, str>>,
    /// The route template, when the event names one (`/rolldice`, `/users/{id}`).
    pub route: Option<Cow<'a, str>>,
}

/// Unknown fields are skipped by serde without being built, so a large event costs one scan.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, rename = "requestContext")]
    request_context: Option<RequestContext<'a>>,
    /// HTTP API (payload v2) and Function URL: `GET /rolldice` or `$default`.
    #[serde(borrow, rename = "routeKey")]
    route_key: Option<Cow<'a, str>>,
    /// REST API (payload v1) and ALB.
    #[serde(borrow, rename = "httpMethod")]
    http_method: Option<Cow<'a, str>>,
    /// REST API (payload v1): the resource template.
    #[serde(borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "rawPath")]
    raw_path: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RequestContext<'a> {
    #[serde(borrow)]
    http: Option<HttpContext<'a>>,
}

#[derive(Deserialize)]
struct HttpContext<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
}

/// Never fails: an event that is not JSON, or not an HTTP event, is `Other`.
pub(crate) fn inspect(body: &[u8]) -> EventInfo<'_> {
    let other = EventInfo {
        trigger: Trigger::Other,
        method: None,
        path: None,
        route: None,
    };
    let Ok(probe) = serde_json::from_slice::<Probe<'_>>(body) else {
        return other;
    };
    let v2_method = probe
        .request_context
        .and_then(|rc| rc.http)
        .and_then(|http| http.method);
    if let Some(method) = v2_method {
        let route = probe
            .route_key
            .as_deref()
            .and_then(|key| key.split_once(' '))
            .map(|(_, route)| Cow::Owned(route.to_owned()));
        return EventInfo {
            trigger: Trigger::Http,
            method: Some(method),
            path: probe.raw_path,
            route,
        };
    }
    match probe.http_method {
        Some(method) => EventInfo {
            trigger: Trigger::Http,
            method: Some(method),
            path: probe.path,
            route: probe.resource,
        },
        None => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_api_v2_event() {
        let body = br#"{"version":"2.0","routeKey":"GET /rolldice","rawPath":"/rolldice",
            "requestContext":{"http":{"method":"GET","path":"/rolldice"}},"body":null}"#;
        let info = inspect(body);
        assert_eq!(info.trigger, Trigger::Http);
        assert_eq!(info.method.as_deref(), Some("GET"));
        assert_eq!(info.route.as_deref(), Some("/rolldice"));
        assert_eq!(info.path.as_deref(), Some("/rolldice"));
    }

    #[test]
    fn function_url_event_has_no_route() {
        let body = br#"{"routeKey":"$default","rawPath":"/rolldice",
            "requestContext":{"http":{"method":"GET"}}}"#;
        let info = inspect(body);
        assert_eq!(info.trigger, Trigger::Http);
        assert_eq!(info.route, None);
    }

    #[test]
    fn rest_api_v1_event() {
        let body = br#"{"resource":"/users/{id}","path":"/users/7","httpMethod":"POST"}"#;
        let info = inspect(body);
        assert_eq!(info.trigger, Trigger::Http);
        assert_eq!(info.method.as_deref(), Some("POST"));
        assert_eq!(info.route.as_deref(), Some("/users/{id}"));
    }

    #[test]
    fn anything_else_is_other() {
        for body in [
            &b"{}"[..],
            b"not json",
            b"",
            b"[1,2]",
            br#"{"httpMethod":5}"#,
            b"{\"a\":",
        ] {
            assert_eq!(inspect(body).trigger, Trigger::Other);
        }
    }
}
