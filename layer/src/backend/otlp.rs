//! Export requests as the backend gets them: the function's bytes, joined where that is free.
//!
//! Two serialised protobuf messages of the same type, written one after the other, decode as
//! one message whose repeated fields hold both lists: that is how protobuf merges. So the
//! uncompressed protobuf exports of one signal become one request (the backend sees one
//! `ExportTraceServiceRequest` with every `ResourceSpans`), up to [`MAX_JOINED`] bytes. JSON
//! and gzip bodies cannot be joined without decoding and are sent as they came.

use bytes::{Bytes, BytesMut};

use crate::config::Signal;
use crate::state::Batch;

/// The largest request made by joining exports (one export larger than this goes alone).
pub(crate) const MAX_JOINED: usize = 1024 * 1024;

/// One request to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) signal: Signal,
    pub(crate) json: bool,
    pub(crate) gzip: bool,
    pub(crate) body: Bytes,
    /// How many of the function's export requests it carries.
    pub(crate) batches: u64,
}

/// `batches` as requests: per signal, in arrival order, joined where possible.
pub(crate) fn requests(batches: Vec<Batch>) -> Vec<Outgoing> {
    let mut out: Vec<Outgoing> = Vec::new();
    // Per signal, the index in `out` of the request still open to joining.
    let mut open: [Option<usize>; 3] = [None, None, None];
    for batch in batches {
        let joinable = !batch.json && !batch.gzip;
        let slot = &mut open[batch.signal as usize];
        if joinable
            && let Some(index) = *slot
            && out[index].body.len() + batch.body.len() <= MAX_JOINED
        {
            let request = &mut out[index];
            let mut body = BytesMut::with_capacity(request.body.len() + batch.body.len());
            body.extend_from_slice(&request.body);
            body.extend_from_slice(&batch.body);
            request.body = body.freeze();
            request.batches += 1;
            continue;
        }
        if joinable {
            *slot = Some(out.len());
        }
        out.push(Outgoing {
            signal: batch.signal,
            json: batch.json,
            gzip: batch.gzip,
            body: batch.body,
            batches: 1,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn batch(signal: Signal, json: bool, gzip: bool, body: &[u8]) -> Batch {
        Batch {
            signal,
            json,
            gzip,
            body: Bytes::copy_from_slice(body),
            received: Instant::now(),
        }
    }

    #[test]
    fn protobuf_exports_of_a_signal_are_joined_others_go_as_they_came() {
        let out = requests(vec![
            batch(Signal::Traces, false, false, b"a"),
            batch(Signal::Logs, false, false, b"l"),
            batch(Signal::Traces, true, false, b"{}"),
            batch(Signal::Traces, false, false, b"b"),
            batch(Signal::Traces, false, true, b"z"),
        ]);
        let shape: Vec<(Signal, &[u8], u64)> = out
            .iter()
            .map(|o| (o.signal, &o.body[..], o.batches))
            .collect();
        assert_eq!(
            shape,
            [
                (Signal::Traces, &b"ab"[..], 2),
                (Signal::Logs, &b"l"[..], 1),
                (Signal::Traces, &b"{}"[..], 1),
                (Signal::Traces, &b"z"[..], 1),
            ]
        );
    }

    #[test]
    fn joining_stops_at_the_size_limit() {
        let big = vec![0; MAX_JOINED - 1];
        let out = requests(vec![
            batch(Signal::Metrics, false, false, &big),
            batch(Signal::Metrics, false, false, b"xy"),
            batch(Signal::Metrics, false, false, b"z"),
        ]);
        let sizes: Vec<usize> = out.iter().map(|o| o.body.len()).collect();
        assert_eq!(sizes, [MAX_JOINED - 1, 3]);
    }
}
