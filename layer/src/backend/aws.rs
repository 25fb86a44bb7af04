//! AWS endpoints as the forwarding sees them: which hosts are AWS's (and so signed under
//! `LAMBDA_OTEL_EXTENSION_SIGV4=auto`), and the `host` header every forwarded request carries.
//! Compiled in every build, so a build without the `sigv4` feature recognises the same hosts
//! and can say that they need it.

use http::HeaderValue;
use http::uri::{Scheme, Uri};

/// The service and region of an AWS endpoint host: `xray.us-east-1.amazonaws.com` → (`xray`,
/// `us-east-1`), `logs.eu-west-1.amazonaws.com` → (`logs`, `eu-west-1`), also the China
/// partition (`amazonaws.com.cn`); `None` otherwise.
///
/// The host is compared without regard to case, and may carry a trailing dot or a port. Only the
/// `<service>.<region>.amazonaws.com[.cn]` shape is recognised: no FIPS, dual-stack (`api.aws`)
/// or VPC endpoint (`vpce-…`) names.
pub(crate) fn aws_service_and_region(host: &str) -> Option<(String, String)> {
    let host = host.to_ascii_lowercase();
    let host = strip_port(&host);
    let host = host.strip_suffix('.').unwrap_or(host);
    let name = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let (service, region) = name.split_once('.')?;
    (is_dns_label(service) && is_region(region)).then(|| (service.to_owned(), region.to_owned()))
}

/// `host` without a trailing `:<digits>`.
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// One DNS label: letters, digits and inner hyphens.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An AWS region name: lowercase words joined by hyphens, ending in a number (`us-east-1`,
/// `us-gov-west-1`, `cn-northwest-1`).
fn is_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let number = parts.next_back();
    let words: Vec<&str> = parts.collect();
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The `host` header for `uri`, as hyper would send it: the host, and the port unless it is the
/// scheme's default (which `aws-sigv4` would also leave out when signing).
pub(crate) fn host_header(uri: &Uri) -> Result<HeaderValue, String> {
    let host = uri
        .host()
        .ok_or_else(|| format!("SigV4 signing: the URI {uri} has no host"))?;
    let default_port = match uri.scheme() {
        Some(scheme) if *scheme == Scheme::HTTPS => Some(443),
        Some(scheme) if *scheme == Scheme::HTTP => Some(80),
        _ => None,
    };
    let value = match uri.port_u16() {
        Some(port) if Some(port) != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&value)
        .map_err(|_| format!("SigV4 signing: the URI's host {value} is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_service_and_region_of_aws_endpoints() {
        for (host, service, region) in [
            ("xray.us-east-1.amazonaws.com", "xray", "us-east-1"),
            ("logs.eu-west-1.amazonaws.com", "logs", "eu-west-1"),
            ("xray.cn-north-1.amazonaws.com.cn", "xray", "cn-north-1"),
            ("logs.us-gov-west-1.amazonaws.com", "logs", "us-gov-west-1"),
            ("XRay.US-East-1.AmazonAWS.com", "xray", "us-east-1"),
            ("xray.us-east-1.amazonaws.com.", "xray", "us-east-1"),
            ("xray.us-east-1.amazonaws.com:443", "xray", "us-east-1"),
        ] {
            let expected = Some((service.to_owned(), region.to_owned()));
            assert_eq!(aws_service_and_region(host), expected, "{host}");
        }
    }

    #[test]
    fn aws_service_and_region_of_other_hosts() {
        for host in [
            "xray.us-east-1.amazonaws.com.evil.com",
            "xray.us-east-1.amazonaws.com.cn.evil.com",
            "xray.us-east-1.evilamazonaws.com",
            "localhost",
            "localhost:4318",
            "127.0.0.1",
            "[::1]:4318",
            "amazonaws.com",
            "xray.amazonaws.com",
            ".us-east-1.amazonaws.com",
            "a.xray.us-east-1.amazonaws.com",
            "xray.localhost.amazonaws.com",
            "xray.us-east.amazonaws.com",
            "xray.us-east-1.api.aws",
            "",
        ] {
            assert_eq!(aws_service_and_region(host), None, "{host}");
        }
    }

    #[test]
    fn host_header_leaves_out_user_information_and_default_ports() {
        for (uri, host) in [
            ("http://localhost:4318/v1/traces", "localhost:4318"),
            (
                "https://xray.us-east-1.amazonaws.com:443/v1/traces",
                "xray.us-east-1.amazonaws.com",
            ),
            ("http://collector:80/v1/logs", "collector"),
            ("http://collector:443/v1/logs", "collector:443"),
            (
                "http://user:secret@collector:4318/v1/logs",
                "collector:4318",
            ),
        ] {
            let uri: Uri = uri.parse().expect("a valid URI");
            let value = host_header(&uri).expect("a host");
            assert_eq!(value.to_str().expect("ascii"), host);
        }
    }
}
