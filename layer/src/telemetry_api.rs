//! The listener the Telemetry API posts platform records to (a port of its own: Lambda reserves
//! 9001), and what the extension takes from them.
//!
//! Records arrive in batches, a JSON array of `{"time", "type", "record"}` in the 2022-12-13
//! schema. Each is read on its own: a record type or a field this version does not know is
//! skipped, never fatal. `platform.runtimeDone` ends an invocation whose function sent no mark;
//! every record goes to [`Platform`], whose spans and metrics are buffered with the function's.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lambda_extension::{LambdaTelemetry, LambdaTelemetryRecord};
use tokio::net::TcpListener;

use crate::platform::{Platform, status_name};
use crate::state::{Ended, Shared};

/// Binds a free port on `host`; returns the listener and the URI to subscribe with.
pub(crate) async fn bind(host: &str) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind((host, 0)).await?;
    let port = listener.local_addr()?.port();
    Ok((listener, format!("http://{host}:{port}/")))
}

/// Serves the Telemetry API's deliveries until the process ends.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    platform: Arc<Mutex<Platform>>,
) {
    crate::server::serve("telemetry listener", listener, move |req| {
        let (shared, platform) = (Arc::clone(&shared), Arc::clone(&platform));
        async move { handle(req, &shared, &platform).await }
    })
    .await;
}

async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    platform: &Mutex<Platform>,
) -> Response<Full<Bytes>> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            log!("telemetry listener: unreadable delivery: {e}");
            return Response::new(Full::new(Bytes::new()));
        }
    };
    let records = records(&body);
    // The platform's spans and metrics are buffered before the invocation is said to be over,
    // so the forward that follows takes them along.
    let batches = platform
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .records(&records, |id| shared.ended(id) == Some(Ended::Marked));
    for batch in batches {
        shared.push(batch);
    }
    for record in &records {
        match &record.record {
            LambdaTelemetryRecord::PlatformRuntimeDone {
                request_id, status, ..
            } => shared.runtime_done(request_id, status_name(status)),
            LambdaTelemetryRecord::PlatformReport { request_id, .. } => shared.reported(request_id),
            _ => {}
        }
    }
    // Lambda retries a delivery that is not answered with success; a record this extension
    // cannot read would only come back, so every delivery is acknowledged.
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::OK;
    response
}

/// The records of one delivery that this version understands, in order.
pub(crate) fn records(body: &[u8]) -> Vec<LambdaTelemetry<serde_json::Value>> {
    let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(body) else {
        log!("telemetry listener: a delivery that is not a JSON array was ignored");
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_record_types_and_fields_are_skipped_not_fatal() {
        let body = br#"[
            {"time":"2022-10-12T00:03:50.000Z","type":"platform.someFutureRecord","record":{"x":1}},
            {"time":"2022-10-12T00:03:50.000Z","type":"platform.runtimeDone",
             "record":{"requestId":"r-1","status":"timeout","newField":{"a":1},
                       "metrics":{"durationMs":3000.0,"producedBytes":0}}},
            {"time":"not a time","type":"platform.runtimeDone","record":{}}
        ]"#;
        let records = records(body);
        assert_eq!(records.len(), 1);
        match &records[0].record {
            LambdaTelemetryRecord::PlatformRuntimeDone {
                request_id, status, ..
            } => {
                assert_eq!(request_id, "r-1");
                assert_eq!(status_name(status), "timeout");
            }
            other => panic!("unexpected record {other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_an_array_yields_nothing() {
        assert!(records(b"{}").is_empty());
        assert!(records(b"").is_empty());
    }
}
