//! The UDP side: one datagram per segment document to the X-Ray daemon.
//!
//! opentelemetry-aws has a daemon client, but for Lambda it does three things wrong: it gives
//! up on the whole batch at the first error (a full send buffer, or one document over the
//! daemon's 64 KB limit, loses every document after it); it sends documents over that limit;
//! and it cannot tell "no daemon listening" (an ICMP port unreachable, reported on a later
//! send) from other errors. This client counts each datagram it could not send and goes on,
//! shrinks or counts oversized documents, and checks the socket's pending error after the
//! batch, so a missing daemon is one clear failure.

use super::super::Loss;
use opentelemetry_aws::xray_exporter::SegmentDocument;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Every datagram starts with this line.
pub(super) const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
/// The daemon reads datagrams of up to 64 KB; IPv4 UDP carries at most 65,507 bytes.
pub(super) const MAX_DATAGRAM: usize = 65_507;

/// A connected, non-blocking UDP socket to the daemon.
#[derive(Debug)]
pub(super) struct Daemon {
    socket: UdpSocket,
    address: SocketAddr,
}

/// What became of a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Sent {
    pub sent: usize,
    /// Over 64 KB even without their metadata.
    pub too_large: usize,
    /// Refused or failed by the socket.
    pub failed: usize,
    /// Nobody listens at the address (ICMP port unreachable).
    pub no_daemon: bool,
    pub error: Option<String>,
}

impl Daemon {
    /// Opens the socket: no handshake, nothing sent.
    pub(super) fn connect(address: SocketAddr) -> io::Result<Self> {
        let local: SocketAddr = match address {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(address)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket, address })
    }

    pub(super) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sends every document, one datagram each, and never waits: a datagram the socket cannot
    /// take at once (its send buffer full) is counted as lost. UDP sends complete in the
    /// call, so the flush can run this on the function's own thread.
    pub(super) fn send(&self, documents: Vec<SegmentDocument<'_>>) -> Sent {
        let mut result = send_each(documents, |datagram| self.socket.send(datagram));
        // Port unreachable comes back after the send that caused it: look once more, so a
        // missing daemon fails every batch alike instead of every other one.
        if let Ok(Some(e)) = self.socket.take_error()
            && e.kind() == io::ErrorKind::ConnectionRefused
        {
            result.no_daemon = true;
        }
        result
    }
}

/// Encodes and sends each document with `send`, counting what did not go. Apart from
/// [`Daemon::send`] so a test can fail a send as a full buffer would: on loopback the kernel
/// drops what the receiver has no room for and never answers `WouldBlock`.
pub(super) fn send_each(
    documents: Vec<SegmentDocument<'_>>,
    mut send: impl FnMut(&[u8]) -> io::Result<usize>,
) -> Sent {
    let mut result = Sent::default();
    let mut datagram = Vec::with_capacity(2048);
    for document in documents {
        if !encode(&document, &mut datagram) {
            result.too_large += 1;
            continue;
        }
        match send(&datagram) {
            Ok(_) => result.sent += 1,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                result.no_daemon = true;
                break;
            }
            Err(e) => {
                result.failed += 1;
                result.error = Some(if e.kind() == io::ErrorKind::WouldBlock {
                    "the socket's send buffer was full".to_owned()
                } else {
                    e.to_string()
                });
            }
        }
    }
    result
}

/// Writes the header and `document` into `datagram`. A document over the limit is written
/// again without its metadata (annotations, the `http` block and errors stay); `false` when
/// even that does not fit.
pub(super) fn encode(document: &SegmentDocument<'_>, datagram: &mut Vec<u8>) -> bool {
    datagram.clear();
    datagram.extend_from_slice(HEADER);
    document.to_writer(&mut *datagram);
    nest_metadata(datagram, HEADER.len());
    if datagram.len() <= MAX_DATAGRAM {
        return true;
    }
    let Ok(mut value) = serde_json::to_value(document) else {
        return false;
    };
    strip_metadata(&mut value);
    datagram.truncate(HEADER.len());
    // Without metadata there is nothing left to nest.
    serde_json::to_writer(&mut *datagram, &value).is_ok() && datagram.len() <= MAX_DATAGRAM
}

/// X-Ray's schema wants metadata as namespaces of key-value pairs (`{"default": {"k": v}}`, as
/// the X-Ray SDKs and the Collector's exporter write it); the translator writes the pairs
/// flat. The document's own `metadata` key comes first (values are numbers, strings, booleans
/// and arrays of them, and every `"` inside a string is escaped), so the first
/// `"metadata":{` is it; its object is found by counting braces outside strings.
fn nest_metadata(datagram: &mut Vec<u8>, from: usize) {
    const KEY: &[u8] = b"\"metadata\":{";
    let Some(at) = datagram[from..].windows(KEY.len()).position(|w| w == KEY) else {
        return;
    };
    let open = from + at + KEY.len() - 1;
    let Some(close) = closing_brace(&datagram[open..]) else {
        return;
    };
    datagram.insert(open + close, b'}');
    datagram.splice(open + 1..open + 1, b"\"default\":{".iter().copied());
}

/// The offset of the `}` closing the object that `json` starts with.
fn closing_brace(json: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in json.iter().enumerate() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => depth += 1,
            (false, _, b'}' | b']') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            (false, _, _) => {}
        }
    }
    None
}

fn strip_metadata(document: &mut serde_json::Value) {
    if let Some(object) = document.as_object_mut() {
        object.remove("metadata");
        if let Some(serde_json::Value::Array(subsegments)) = object.get_mut("subsegments") {
            subsegments.iter_mut().for_each(strip_metadata);
        }
    }
}

impl Sent {
    /// The loss to report, if anything of `total` spans (of which `refused` never became a
    /// document) did not reach the daemon.
    pub(super) fn loss(
        self,
        total: usize,
        refused: Option<Loss>,
        address: SocketAddr,
    ) -> Option<Loss> {
        if self.no_daemon {
            return Some(Loss {
                lost: total,
                reason: format!(
                    "no X-Ray daemon is listening at {address} (AWS_XRAY_DAEMON_ADDRESS; \
                     Lambda runs one when the function's tracing mode is Active)"
                ),
            });
        }
        let mut reasons: Vec<String> = refused.iter().map(|l| l.reason.clone()).collect();
        if self.too_large > 0 {
            reasons.push(format!(
                "{} segment documents were over X-Ray's 64 KB even without their metadata",
                self.too_large
            ));
        }
        if let Some(error) = self.error {
            reasons.push(format!("{} datagrams failed: {error}", self.failed));
        }
        let lost = refused.map_or(0, |l| l.lost) + self.too_large + self.failed;
        (lost > 0).then(|| Loss {
            lost,
            reason: reasons.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(json: &str) -> String {
        let mut datagram = HEADER.to_vec();
        datagram.extend_from_slice(json.as_bytes());
        nest_metadata(&mut datagram, HEADER.len());
        String::from_utf8(datagram[HEADER.len()..].to_vec()).expect("UTF-8")
    }

    #[test]
    fn flat_metadata_goes_under_the_default_namespace() {
        let json =
            r#"{"name":"x","metadata":{"a":"}{\"metadata\":{","b":[1,2],"c":true},"end_time":2.0}"#;
        let out = nested(json);
        let value: serde_json::Value = serde_json::from_str(&out).expect(&out);
        assert_eq!(value["metadata"]["default"]["a"], "}{\"metadata\":{");
        assert_eq!(value["metadata"]["default"]["b"], serde_json::json!([1, 2]));
        assert_eq!(value["metadata"]["default"]["c"], true);
        assert_eq!(value["end_time"], 2.0);
        assert_eq!(nested(r#"{"name":"x"}"#), r#"{"name":"x"}"#);
    }
}
