//! SigV4 signing for AWS's OTLP endpoints (X-Ray's `/v1/traces`, CloudWatch Logs' `/v1/logs`).
//!
//! AWS's OTLP endpoints take a request only if it carries a Signature Version 4 of the function
//! role's credentials. The pieces, in the order the backend uses them:
//!
//! 1. [`super::aws::aws_service_and_region`] tells from the endpoint's host whether it is an AWS endpoint,
//!    and for which service and region to sign (`xray.us-east-1.amazonaws.com` → `xray`,
//!    `us-east-1`). Any other host gets no signature.
//! 2. [`Credentials::from_env`] reads the keys Lambda gives every process of the execution
//!    environment, the extension's included.
//! 3. [`sign`] runs on the finished request, after compression, just before it is sent: the
//!    signature covers the method, path, query, every header then present and the body's bytes.
//!    A header added after signing is sent unsigned; one changed after signing breaks the
//!    signature.
//!
//! What [`sign`] adds to `POST https://xray.us-east-1.amazonaws.com/v1/traces`, for example:
//!
//! ```text
//! host: xray.us-east-1.amazonaws.com                (only when absent, from the URI)
//! x-amz-date: 20150830T123600Z
//! x-amz-security-token: <AWS_SESSION_TOKEN>          (when there is one)
//! authorization: AWS4-HMAC-SHA256 Credential=<key id>/20150830/us-east-1/xray/aws4_request,
//!     SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token,
//!     Signature=<64 hex digits>
//! ```
//!
//! The signing itself is the `aws-sigv4` crate's, with its default settings for services other
//! than S3: no `x-amz-content-sha256` header (the body's hash is in the signature all the same),
//! the session token signed, `user-agent`, `x-amzn-trace-id` and `transfer-encoding` left out.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use http::HeaderValue;
use http::header::HOST;

use super::aws::host_header;
use super::error_chain;

/// The access key id's variable, set by Lambda for the function's execution role.
const ACCESS_KEY_ID_VAR: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key's variable, set by Lambda for the function's execution role.
const SECRET_ACCESS_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token's variable: Lambda's role credentials are temporary and always have one.
const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";

/// The name `aws-credential-types` keeps beside the keys (it shows in its `Debug` only).
const PROVIDER_NAME: &str = "lambda-otel-extension";

/// The headers a previous signing of the same request added: removed before signing again, so a
/// retried request carries one fresh signature and no stale token.
const SIGNING_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// The function role's credentials as Lambda gives them to every process of the environment.
///
/// Cheap to clone (the keys are shared) and wiped from memory when the last clone is dropped.
/// `Debug` shows the access key id only.
#[derive(Clone)]
pub(crate) struct Credentials(aws_credential_types::Credentials);

impl Credentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (optional);
    /// `Err` names the missing variable(s) in a sentence a user can act on.
    ///
    /// An empty variable counts as unset, and so does one that is not valid Unicode (no AWS key
    /// is).
    pub(crate) fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Credentials::from_env`] with the environment behind `lookup`, so tests never set
    /// process-wide variables.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let read = |name: &str| lookup(name).filter(|value| !value.is_empty());
        match (read(ACCESS_KEY_ID_VAR), read(SECRET_ACCESS_KEY_VAR)) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Self::new(
                access_key_id,
                secret_access_key,
                read(SESSION_TOKEN_VAR),
            )),
            (None, Some(_)) => Err(missing_credentials(&format!("{ACCESS_KEY_ID_VAR} is"))),
            (Some(_), None) => Err(missing_credentials(&format!("{SECRET_ACCESS_KEY_VAR} is"))),
            (None, None) => Err(missing_credentials(&format!(
                "{ACCESS_KEY_ID_VAR} and {SECRET_ACCESS_KEY_VAR} are"
            ))),
        }
    }

    /// For tests and for callers with explicit keys. An empty session token counts as none.
    pub(crate) fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self(aws_credential_types::Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.filter(|token| !token.is_empty()),
            None,
            PROVIDER_NAME,
        ))
    }
}

/// The error of [`Credentials::from_env`], `missing` saying which variables are (`"X is"`).
fn missing_credentials(missing: &str) -> String {
    format!(
        "signing requests for an AWS endpoint needs the function role's credentials, but \
         {missing} not set (or empty): Lambda sets {ACCESS_KEY_ID_VAR}, {SECRET_ACCESS_KEY_VAR} \
         and {SESSION_TOKEN_VAR} for every process of the function; elsewhere, set them, or \
         export to an endpoint that needs no signing"
    )
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REDACTED: &str = "** redacted **";
        f.debug_struct("Credentials")
            .field("access_key_id", &self.0.access_key_id())
            .field("secret_access_key", &REDACTED)
            .field("session_token", &self.0.session_token().map(|_| REDACTED))
            .finish()
    }
}

/// Signs `request` in place for `service` in `region` at `time`: adds `authorization`,
/// `x-amz-date`, `x-amz-security-token` (when there is a token) and whatever else SigV4 needs for
/// a POST with a body; the `host` header is taken from the URI when absent. The body is the exact
/// bytes that will be sent (it may be gzip-compressed: `content-encoding` is then among the headers
/// and must be signed as sent).
///
/// Signing again (a retry, with a later `time`) replaces the previous signature. `Err` when the
/// URI has no host, a header value is not visible ASCII, or the session token cannot be a header
/// value; the request then carries no signature.
pub(crate) fn sign(
    request: &mut http::Request<bytes::Bytes>,
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), String> {
    // The defaults are the ones for services other than S3, as AWS's SDKs and the OpenTelemetry
    // Collector's `sigv4auth` sign: the body's hash is in the signature, not in a header of its own.
    sign_with(
        request,
        credentials,
        service,
        region,
        time,
        SigningSettings::default(),
    )
}

/// [`sign`] with `aws-sigv4`'s `settings` (the test vectors' `"sign_body": true` adds an
/// `x-amz-content-sha256` header).
fn sign_with(
    request: &mut http::Request<bytes::Bytes>,
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<(), String> {
    if !request.headers().contains_key(HOST) {
        let host = host_header(request.uri())?;
        request.headers_mut().insert(HOST, host);
    }
    for name in SIGNING_HEADERS {
        request.headers_mut().remove(name);
    }
    // `aws-sigv4` would refuse it too, with an error that does not say which value is wrong.
    let token = credentials.0.session_token();
    if token.is_some_and(|token| HeaderValue::from_str(token).is_err()) {
        return Err(format!(
            "SigV4 signing: the session token ({SESSION_TOKEN_VAR}) is not a valid header value"
        ));
    }

    let identity = credentials.0.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("SigV4 signing: {e}"))?
        .into();

    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            value
                .to_str()
                .map(|value| (name.as_str(), value))
                .map_err(|_| {
                    format!("SigV4 signing: the value of header {name} is not visible ASCII")
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.uri().to_string(),
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| format!("SigV4 signing: {}", error_chain(&e)))?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| format!("SigV4 signing: {}", error_chain(&e)))?
        .into_parts();

    // Applied here rather than by `apply_to_request_http1x`, which panics on a header value it
    // cannot represent instead of returning an error.
    let (headers, _query) = instructions.into_parts();
    let headers = headers
        .into_iter()
        .map(|header| {
            let mut value = HeaderValue::from_str(header.value()).map_err(|_| {
                format!(
                    "SigV4 signing: {} is not a valid header value",
                    header.name()
                )
            })?;
            value.set_sensitive(header.sensitive());
            Ok((header.name(), value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    for (name, value) in headers {
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_sigv4::http_request::{PayloadChecksumKind, SigningSettings};
    use bytes::Bytes;
    use http::{HeaderValue, Request};

    use super::{Credentials, sign, sign_with};

    /// The test suite's keys, region, service and time (2015-08-30T12:36:00Z).
    const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    const SUITE_TIME: u64 = 1_440_938_160;

    /// One case of AWS's SigV4 test suite, as smithy-rs's `aws-sigv4` carries it
    /// (`aws-signing-test-suite/v4/<name>`): the request, and the `Authorization` of its
    /// `header-signed-request.txt`.
    struct Vector {
        name: &'static str,
        uri: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        token: Option<&'static str>,
        /// The vector's `"sign_body"`: an `x-amz-content-sha256` header.
        sign_body: bool,
        authorization: &'static str,
    }

    const VECTORS: &[Vector] = &[
        Vector {
            name: "post-vanilla",
            uri: "https://example.amazonaws.com/",
            headers: &[("host", "example.amazonaws.com")],
            body: "",
            token: None,
            sign_body: false,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        },
        Vector {
            name: "post-vanilla, host from the URI",
            uri: "https://example.amazonaws.com/",
            headers: &[],
            body: "",
            token: None,
            sign_body: false,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        },
        Vector {
            name: "post-vanilla-query",
            uri: "https://example.amazonaws.com/?Param1=value1",
            headers: &[("host", "example.amazonaws.com")],
            body: "",
            token: None,
            sign_body: false,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        },
        Vector {
            name: "post-header-value-case",
            uri: "https://example.amazonaws.com/",
            headers: &[("host", "example.amazonaws.com"), ("my-header1", "VALUE1")],
            body: "",
            token: None,
            sign_body: false,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
        },
        Vector {
            name: "post-sts-header-before",
            uri: "https://example.amazonaws.com/",
            headers: &[("host", "example.amazonaws.com")],
            body: "",
            token: Some(SUITE_TOKEN),
            sign_body: false,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        },
        Vector {
            name: "post-x-www-form-urlencoded",
            uri: "https://example.amazonaws.com/",
            headers: &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("host", "example.amazonaws.com"),
                ("content-length", "13"),
            ],
            body: "Param1=value1",
            token: None,
            sign_body: true,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        },
        Vector {
            name: "post-x-www-form-urlencoded-parameters",
            uri: "https://example.amazonaws.com/",
            headers: &[
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("host", "example.amazonaws.com"),
                ("content-length", "13"),
            ],
            body: "Param1=value1",
            token: None,
            sign_body: true,
            authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
        },
    ];

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn header<'a>(request: &'a Request<Bytes>, name: &str) -> Option<&'a str> {
        let value = request.headers().get(name)?;
        Some(value.to_str().expect("signing headers are ASCII"))
    }

    #[test]
    fn signs_aws_test_suite_vectors_byte_for_byte() {
        for vector in VECTORS {
            let mut request = Request::post(vector.uri);
            for (name, value) in vector.headers {
                request = request.header(*name, *value);
            }
            let body = Bytes::from_static(vector.body.as_bytes());
            let mut request = request.body(body).expect("a vector's request is valid");
            let token = vector.token.map(str::to_owned);
            let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, token);
            let time = at(SUITE_TIME);
            let signed = if vector.sign_body {
                let mut settings = SigningSettings::default();
                settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
                sign_with(
                    &mut request,
                    &credentials,
                    "service",
                    "us-east-1",
                    time,
                    settings,
                )
            } else {
                // The vectors without a body hash header are signed as production signs.
                sign(&mut request, &credentials, "service", "us-east-1", time)
            };
            signed.expect("a vector's request signs");

            let body_hash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
            let expected = [
                ("authorization", Some(vector.authorization)),
                ("x-amz-date", Some("20150830T123600Z")),
                ("host", Some("example.amazonaws.com")),
                ("x-amz-security-token", vector.token),
                (
                    "x-amz-content-sha256",
                    vector.sign_body.then_some(body_hash),
                ),
            ];
            for (name, value) in expected {
                assert_eq!(header(&request, name), value, "{}: {name}", vector.name);
            }
        }
    }

    /// 2026-01-02T03:04:05Z.
    const XRAY_TIME: u64 = 1_767_323_045;

    fn xray_request(content_encoding: Option<&str>, body: &'static [u8]) -> Request<Bytes> {
        let mut request = Request::post("https://xray.us-east-1.amazonaws.com/v1/traces")
            .header("content-type", "application/x-protobuf");
        if let Some(encoding) = content_encoding {
            request = request.header("content-encoding", encoding);
        }
        let body = Bytes::from_static(body);
        request.body(body).expect("the request is valid")
    }

    /// [`sign`] for X-Ray in us-east-1, `seconds` after the epoch.
    fn sign_xray(
        request: &mut Request<Bytes>,
        credentials: &Credentials,
        seconds: u64,
    ) -> Result<(), String> {
        sign(request, credentials, "xray", "us-east-1", at(seconds))
    }

    fn signed_xray(content_encoding: Option<&str>, body: &'static [u8]) -> Request<Bytes> {
        let credentials = Credentials::new("ASIAEXAMPLE", "secret", Some("the-token".to_owned()));
        let mut request = xray_request(content_encoding, body);
        sign_xray(&mut request, &credentials, XRAY_TIME).expect("the request signs");
        request
    }

    /// The `Signature=` part of a signed request's `authorization`.
    fn signature(request: &Request<Bytes>) -> &str {
        let authorization = header(request, "authorization").expect("the request is signed");
        let (_, signature) = authorization
            .split_once("Signature=")
            .expect("a SigV4 authorization");
        signature
    }

    #[test]
    fn signs_an_xray_otlp_request_as_the_endpoint_expects() {
        let request = signed_xray(Some("gzip"), b"\x1f\x8b spans");

        let expected = [
            ("host", Some("xray.us-east-1.amazonaws.com")),
            ("x-amz-date", Some("20260102T030405Z")),
            ("x-amz-security-token", Some("the-token")),
            ("x-amz-content-sha256", None),
            // The headers the function's exporter set are left as they were.
            ("content-type", Some("application/x-protobuf")),
            ("content-encoding", Some("gzip")),
        ];
        for (name, value) in expected {
            assert_eq!(header(&request, name), value, "{name}");
        }
        assert!(request.headers()["x-amz-security-token"].is_sensitive());
        let authorization = header(&request, "authorization").expect("the request is signed");
        let expected = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260102/us-east-1/xray/aws4_request, \
             SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token, \
             Signature=";
        assert!(authorization.starts_with(expected), "{authorization}");
        let signature = signature(&request);
        let lowercase_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        assert!(
            signature.len() == 64 && signature.bytes().all(lowercase_hex),
            "{signature}"
        );
        assert_eq!(
            request.uri(),
            "https://xray.us-east-1.amazonaws.com/v1/traces"
        );
    }

    #[test]
    fn signature_covers_body_and_content_encoding() {
        let original = signature(&signed_xray(Some("gzip"), b"\x1f\x8b spans")).to_owned();
        let again = signed_xray(Some("gzip"), b"\x1f\x8b spans");
        let body_changed = signed_xray(Some("gzip"), b"\x1f\x8b spanz");
        let encoding_changed = signed_xray(Some("identity"), b"\x1f\x8b spans");
        assert_eq!(original, signature(&again), "signing is deterministic");
        assert_ne!(
            original,
            signature(&body_changed),
            "the body's hash is signed"
        );
        assert_ne!(
            original,
            signature(&encoding_changed),
            "content-encoding is signed"
        );

        let plain = signed_xray(None, b"\x1f\x8b spans");
        let authorization = header(&plain, "authorization").expect("the request is signed");
        let signed_headers = " SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, ";
        assert!(authorization.contains(signed_headers), "{authorization}");
    }

    #[test]
    fn signing_again_replaces_the_previous_signature() {
        let with_token = Credentials::new("ASIAEXAMPLE", "secret", Some("the-token".to_owned()));
        let without_token = Credentials::new("AKIAEXAMPLE", "secret", None);
        let mut retried = xray_request(Some("gzip"), b"spans");
        sign_xray(&mut retried, &with_token, XRAY_TIME).expect("the request signs");
        sign_xray(&mut retried, &without_token, XRAY_TIME + 60).expect("the request signs again");

        let mut fresh = xray_request(Some("gzip"), b"spans");
        sign_xray(&mut fresh, &without_token, XRAY_TIME + 60).expect("the request signs");
        assert_eq!(retried.headers(), fresh.headers());
        assert_eq!(header(&retried, "x-amz-security-token"), None);
    }

    #[test]
    fn host_header_comes_from_the_uri_without_a_default_port() {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None);
        for (uri, host) in [
            ("http://localhost:4318/v1/traces", "localhost:4318"),
            (
                "https://xray.us-east-1.amazonaws.com:443/v1/traces",
                "xray.us-east-1.amazonaws.com",
            ),
            ("http://collector:80/v1/logs", "collector"),
            ("http://collector:443/v1/logs", "collector:443"),
        ] {
            let mut request = Request::post(uri)
                .body(Bytes::new())
                .expect("the request is valid");
            sign_xray(&mut request, &credentials, XRAY_TIME).expect("the request signs");
            assert_eq!(header(&request, "host"), Some(host), "{uri}");
        }
    }

    #[test]
    fn unsignable_requests_are_errors_not_panics() {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None);
        let mut signed_before = xray_request(None, b"spans");
        sign_xray(&mut signed_before, &credentials, XRAY_TIME).expect("the request signs");
        let mut no_host = Request::post("/v1/traces")
            .body(Bytes::new())
            .expect("the request is valid");
        let error = sign_xray(&mut no_host, &credentials, XRAY_TIME).expect_err("no host");
        assert!(error.contains("/v1/traces has no host"), "{error}");

        let mut not_ascii = xray_request(None, b"spans");
        let value = HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is a valid header value");
        not_ascii.headers_mut().insert("x-note", value);
        let error = sign_xray(&mut not_ascii, &credentials, XRAY_TIME).expect_err("not ASCII");
        assert!(error.contains("x-note"), "{error}");

        let bad_token =
            Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, Some("to\nken".to_owned()));
        let error = sign_xray(&mut signed_before, &bad_token, XRAY_TIME).expect_err("a line break");
        assert!(
            error.contains("session token (AWS_SESSION_TOKEN)"),
            "{error}"
        );
        assert_eq!(
            header(&signed_before, "authorization"),
            None,
            "no stale signature"
        );
    }

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn credentials_from_the_environment() {
        let credentials = Credentials::from_lookup(lookup(&[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "the-token"),
        ]))
        .expect("all three are set");
        assert_eq!(credentials.0.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.0.secret_access_key(), "secret");
        assert_eq!(credentials.0.session_token(), Some("the-token"));

        let credentials = Credentials::from_lookup(lookup(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", ""),
        ]))
        .expect("the token is optional");
        assert_eq!(credentials.0.session_token(), None);
    }

    #[test]
    fn missing_credentials_are_named() {
        let error = Credentials::from_lookup(lookup(&[("AWS_SECRET_ACCESS_KEY", "secret")]))
            .expect_err("no access key id");
        assert!(
            error.contains("but AWS_ACCESS_KEY_ID is not set"),
            "{error}"
        );

        let error = Credentials::from_lookup(lookup(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ]))
        .expect_err("an empty secret");
        assert!(
            error.contains("but AWS_SECRET_ACCESS_KEY is not set"),
            "{error}"
        );

        let error = Credentials::from_lookup(lookup(&[])).expect_err("nothing set");
        let both = "but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set";
        assert!(error.contains(both), "{error}");
    }

    #[test]
    fn debug_shows_neither_secret_nor_token() {
        let credentials =
            Credentials::new("AKIAEXAMPLE", "the-secret", Some("the-token".to_owned()));
        let debug = format!("{credentials:?}");
        assert!(debug.contains("AKIAEXAMPLE"), "{debug}");
        assert!(
            !debug.contains("the-secret") && !debug.contains("the-token"),
            "{debug}"
        );
    }
}
