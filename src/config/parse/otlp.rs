//! Parsers of the OTLP connection settings: endpoints, headers, compression, timeouts and the
//! protocol. Errors never show a header's value or an endpoint's credentials.

use super::percent_decode;
use crate::Error;
use crate::config::Protocol;
use std::time::Duration;

/// `OTEL_EXPORTER_OTLP_TIMEOUT` and its per-signal variants: milliseconds, at least 1.
pub(in crate::config) fn export_timeout(
    variable: &'static str,
    value: &str,
) -> Result<Duration, Error> {
    match value.trim().parse::<u64>() {
        Ok(ms @ 1..) => Ok(Duration::from_millis(ms)),
        _ => Err(Error::invalid(
            variable,
            value,
            "a whole number of milliseconds, at least 1",
        )),
    }
}

/// `OTEL_EXPORTER_OTLP_COMPRESSION` and its per-signal variants: only `none` in this build.
pub(in crate::config) fn compression(variable: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().eq_ignore_ascii_case("none") {
        Ok(())
    } else {
        Err(Error::invalid(
            variable,
            value,
            "`none`: lambda-otel sends exports uncompressed (`gzip` needs opentelemetry-otlp's \
             `gzip-http` and `gzip-tonic` cargo features, which lambda-otel does not enable)",
        ))
    }
}

/// An OTLP endpoint: `http://` or `https://`, a host, an optional port from 1 to 65535, no
/// user name or password, and a URL the exporters' URI parser takes (`http::Uri`, as
/// opentelemetry-otlp and tonic read it). Errors show the URL as [`shown`] writes it.
pub(in crate::config) fn endpoint(variable: &'static str, value: &str) -> Result<(), Error> {
    const EXPECTED: &str = "an `http://` or `https://` URL with a host and an optional port \
                            from 1 to 65535, for example `http://localhost:4318`";
    let invalid = || Error::invalid(variable, shown(value), EXPECTED);
    let (scheme, rest) = value.split_once("://").ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(invalid());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(Error::invalid(
            variable,
            shown(value),
            "a URL without a user name or password: send credentials as a header \
             (`OTEL_EXPORTER_OTLP_HEADERS` or `TelemetryBuilder::with_header`)",
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 address: `[::1]:4318`.
        Some(v6) => {
            let (address, after) = v6.split_once(']').ok_or_else(invalid)?;
            match after {
                "" => (address, None),
                _ => (address, Some(after.strip_prefix(':').ok_or_else(invalid)?)),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p != 0));
    // The exporters parse the URL when they are built: a character it refuses (`exa mple`)
    // would fail there, with a message that names no variable.
    if host.is_empty() || !port_ok || value.parse::<http::Uri>().is_err() {
        return Err(invalid());
    }
    Ok(())
}

/// `endpoint` as an error may show it: the user name and password of its authority
/// (`user:pass@`) replaced by `REDACTED@`, its query and fragment by `?REDACTED` or
/// `#REDACTED`, scheme or not, so that no error repeats a credential or a token.
pub(in crate::config) fn shown(endpoint: &str) -> String {
    let start = endpoint.find("://").map_or(0, |i| i + 3);
    // The authority ends at the path; a `?` or `#` before the last `@` may be part of a
    // password, so the user information is everything up to that `@`.
    let end = endpoint[start..]
        .find('/')
        .map_or(endpoint.len(), |i| start + i);
    let (mut shown, rest) = match endpoint[start..end].rfind('@') {
        Some(at) => (
            format!("{}REDACTED@", &endpoint[..start]),
            &endpoint[start + at + 1..],
        ),
        None => (endpoint[..start].to_owned(), &endpoint[start..]),
    };
    match rest.find(['?', '#']) {
        Some(at) => {
            shown.push_str(&rest[..=at]);
            shown.push_str("REDACTED");
        }
        None => shown.push_str(rest),
    }
    shown
}

/// A header sent as gRPC metadata: tonic refuses a name ending in `-bin` for a text value
/// (binary metadata), so a gRPC exporter could not be built with it. Errors name `variable`.
pub(in crate::config) fn grpc_header(variable: &'static str, name: &str) -> Result<(), Error> {
    let binary = name
        .len()
        .checked_sub(4)
        .and_then(|at| name.get(at..))
        .is_some_and(|suffix| suffix.eq_ignore_ascii_case("-bin"));
    if !binary {
        return Ok(());
    }
    Err(Error::InvalidHeader {
        variable,
        header: format!("`{name}`"),
        expected: "with the `grpc` protocol, a name not ending in `-bin` (gRPC's binary \
                   metadata, which lambda-otel does not send)",
    })
}

/// `OTEL_EXPORTER_OTLP_*HEADERS`: comma-separated `name=value` pairs, each value
/// percent-decoded once. Errors name the variable and the header, never a value.
pub(in crate::config) fn headers(
    variable: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut headers = Vec::new();
    for (index, member) in value.split(',').enumerate() {
        if member.trim().is_empty() {
            continue;
        }
        let position = index + 1;
        // Without `=` the whole member may be a token: only its position is shown.
        let Some((name, encoded)) = member.split_once('=') else {
            return Err(Error::InvalidHeader {
                variable,
                header: format!("number {position}"),
                expected: "comma-separated `name=value` pairs",
            });
        };
        let name = name.trim();
        header_name(variable, position, name)?;
        let value = percent_decode(encoded.trim()).ok_or_else(|| Error::InvalidHeader {
            variable,
            header: format!("`{name}`"),
            expected: "a percent-encoded UTF-8 value",
        })?;
        header_value(variable, name, &value)?;
        headers.push((name.to_owned(), value));
    }
    Ok(headers)
}

/// Checks one header as the HTTP client will send it; `position` counts from 1.
pub(in crate::config) fn header(
    variable: &'static str,
    position: usize,
    name: &str,
    value: &str,
) -> Result<(), Error> {
    header_name(variable, position, name)?;
    header_value(variable, name, value)
}

/// A header name is a token (RFC 9110).
fn header_name(variable: &'static str, position: usize, name: &str) -> Result<(), Error> {
    if !name.is_empty() && name.bytes().all(is_token_byte) {
        return Ok(());
    }
    // The name may hold a credential (`Authorization: Bearer ...=`): only the part of it that
    // is a valid name is shown.
    let start: String = name
        .bytes()
        .take_while(|b| is_token_byte(*b))
        .take(64)
        .map(char::from)
        .collect();
    Err(Error::InvalidHeader {
        variable,
        header: format!("number {position} (name starting `{start}`)"),
        expected: "a name of letters, digits and ``!#$%&'*+-.^_`|~``",
    })
}

/// A header value is visible ASCII, spaces and tabs, and not empty: an empty value is almost
/// always a secret that was not filled in, and would fail every export with a 401.
fn header_value(variable: &'static str, name: &str, value: &str) -> Result<(), Error> {
    let printable = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
    if !value.is_empty() && value.bytes().all(printable) {
        return Ok(());
    }
    Err(Error::InvalidHeader {
        variable,
        header: format!("`{name}`"),
        expected: "a value of visible ASCII characters, spaces and tabs, not empty",
    })
}

/// RFC 9110's `tchar`: what a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(in crate::config) fn protocol(variable: &'static str, value: &str) -> Result<Protocol, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err(Error::invalid(
            variable,
            value,
            "`http/protobuf`, `http/json` or `grpc`",
        )),
    }
}
