//! Proves the metrics and logs paths of the loopback OTLP receiver with
//! hand-made export requests posted by a plain hyper client, in protobuf and
//! in JSON, so tests of the crate's metrics and logs can trust what it decodes.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::otlp::{
    Behaviour, MetricData, Number, OtlpReceiver, ReceivedLog, ReceivedMetric, Temporality, Value,
};
use common::timeline::{Timeline, TimelineEvent};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, Summary, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

/// What the receiver answered.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Bytes,
}

/// POSTs `body` to `path` of the receiver over a fresh HTTP/1.1 connection.
async fn post(receiver: &OtlpReceiver, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
    send(receiver, Method::POST, path, content_type, body).await
}

async fn send(
    receiver: &OtlpReceiver,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Answer {
    let endpoint = receiver.endpoint();
    let addr = endpoint.strip_prefix("http://").expect("http endpoint");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("receiver accepts connections");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("valid request");
    // A failure guard only: a correct receiver answers in milliseconds.
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .expect("the receiver answers")
        .expect("a complete response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII content-type").to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body,
    }
}

/// The request encoded as `content_type` says.
fn encode<T: Message + serde::Serialize>(request: &T, content_type: &str) -> Vec<u8> {
    match content_type {
        PROTOBUF => request.encode_to_vec(),
        JSON => serde_json::to_vec(request).expect("OTLP JSON"),
        other => panic!("no encoding for {other}"),
    }
}

/// Asserts a 200 whose body is the empty `R` in the encoding of the request.
fn assert_success<R>(answer: &Answer, content_type: &str)
where
    R: Message + Default + PartialEq + serde::de::DeserializeOwned,
{
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some(content_type));
    let response = if content_type == JSON {
        serde_json::from_slice(&answer.body).expect("JSON export response")
    } else {
        R::decode(answer.body.as_ref()).expect("protobuf export response")
    };
    assert!(response == R::default(), "not an empty response");
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![str_kv("faas.name", "test-fn")],
        ..Default::default()
    })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.to_owned(),
        ..Default::default()
    })
}

fn int_point(trigger: &str, value: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![str_kv("faas.trigger", trigger)],
        start_time_unix_nano: 1_000,
        time_unix_nano: 2_000,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.to_owned(),
        description: format!("about {name}"),
        unit: unit.to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

/// A monotonic delta sum with two int points, a cumulative histogram and a
/// double gauge, under one resource and scope.
fn sample_metrics() -> ExportMetricsServiceRequest {
    let invocations = metric(
        "faas.invocations",
        "{invocation}",
        metric::Data::Sum(Sum {
            data_points: vec![int_point("http", 3), int_point("pubsub", 1)],
            aggregation_temporality: 1,
            is_monotonic: true,
        }),
    );
    let duration = metric(
        "faas.invoke_duration",
        "s",
        metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![str_kv("faas.trigger", "http")],
                start_time_unix_nano: 1_000,
                time_unix_nano: 3_000,
                count: 4,
                sum: Some(1.5),
                bucket_counts: vec![1, 2, 0, 1],
                explicit_bounds: vec![0.1, 0.5, 1.0],
                min: Some(0.05),
                max: Some(0.9),
                ..Default::default()
            }],
            aggregation_temporality: 2,
        }),
    );
    let memory = metric(
        "process.memory.usage",
        "By",
        metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: 4_000,
                value: Some(number_data_point::Value::AsDouble(2.5e7)),
                ..Default::default()
            }],
        }),
    );
    metrics_request(vec![invocations, duration, memory])
}

fn metrics_request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope("lambda-otel"),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Asserts every flattened value of [`sample_metrics`].
fn assert_sample_metrics(metrics: &[ReceivedMetric]) {
    let [invocations, duration, memory] = metrics else {
        panic!("expected three metrics, got {metrics:#?}");
    };
    assert_eq!(
        (invocations.name.as_str(), invocations.unit.as_str()),
        ("faas.invocations", "{invocation}")
    );
    assert_eq!(invocations.description, "about faas.invocations");
    let MetricData::Sum {
        monotonic,
        temporality,
        ..
    } = &invocations.data
    else {
        panic!("not a sum: {invocations:#?}");
    };
    assert!(monotonic);
    assert_eq!(*temporality, Temporality::Delta);
    assert_eq!(invocations.temporality(), Some(Temporality::Delta));
    assert_eq!(invocations.sum_points().len(), 2);
    let http = invocations.sum_point("faas.trigger", "http");
    assert_eq!(http.value, Number::Int(3));
    assert_eq!((http.start_ns, http.time_ns), (1_000, 2_000));
    assert_eq!(http.attr_str("faas.trigger"), Some("http"));
    let pubsub = invocations.sum_point("faas.trigger", "pubsub");
    assert_eq!(pubsub.value.as_int(), Some(1));
    assert_eq!(pubsub.value.as_f64(), 1.0);

    assert_eq!(duration.name, "faas.invoke_duration");
    assert_eq!(duration.temporality(), Some(Temporality::Cumulative));
    let point = duration.histogram_point("faas.trigger", "http");
    assert_eq!((point.start_ns, point.time_ns), (1_000, 3_000));
    assert_eq!(point.count, 4);
    assert_eq!(
        (point.sum, point.min, point.max),
        (Some(1.5), Some(0.05), Some(0.9))
    );
    assert_eq!(point.bounds, [0.1, 0.5, 1.0]);
    assert_eq!(point.bucket_counts, [1, 2, 0, 1]);

    assert_eq!(memory.name, "process.memory.usage");
    assert_eq!(memory.temporality(), None);
    let [gauge] = memory.gauge_points() else {
        panic!("expected one gauge point: {memory:#?}");
    };
    assert_eq!(gauge.value, Number::Double(2.5e7));
    assert!(gauge.attributes.is_empty(), "{gauge:#?}");
    assert_eq!(gauge.time_ns, 4_000);

    for metric in metrics {
        assert_eq!(metric.resource["faas.name"].as_str(), Some("test-fn"));
        assert_eq!(metric.scope_name, "lambda-otel");
    }
}

fn log_record(severity: (i32, &str), body: &str, in_span: bool) -> LogRecord {
    let (trace_id, span_id) = if in_span {
        (TRACE_ID.to_vec(), SPAN_ID.to_vec())
    } else {
        (Vec::new(), Vec::new())
    };
    LogRecord {
        time_unix_nano: 5_000,
        observed_time_unix_nano: 6_000,
        severity_number: severity.0,
        severity_text: severity.1.to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.to_owned())),
        }),
        attributes: vec![
            str_kv("faas.invocation_id", "id-1"),
            kv("code.lineno", any_value::Value::IntValue(42)),
        ],
        trace_id,
        span_id,
        ..Default::default()
    }
}

/// An info record inside a span and a warning outside any, under one
/// resource and scope.
fn sample_logs() -> ExportLogsServiceRequest {
    logs_request(vec![
        log_record((9, "INFO"), "handling", true),
        log_record((13, "WARN"), "slow", false),
    ])
}

fn logs_request(log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope("app"),
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Asserts every flattened value of [`sample_logs`].
fn assert_sample_logs(logs: &[ReceivedLog]) {
    let [info, warn] = logs else {
        panic!("expected two log records, got {logs:#?}");
    };
    assert_eq!(
        (info.severity_number, info.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(info.body_str(), Some("handling"));
    assert_eq!(info.body, Value::Str("handling".to_owned()));
    assert_eq!((info.time_ns, info.observed_ns), (5_000, 6_000));
    assert_eq!(info.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(info.span_id, "eee19b7ec3c1b174");
    assert_eq!(info.attr_str("faas.invocation_id"), Some("id-1"));
    assert_eq!(info.attr_int("code.lineno"), Some(42));
    assert_eq!(info.attr_bool("code.lineno"), None);
    assert_eq!(info.event_name, "");

    assert_eq!((warn.severity_number, warn.body_str()), (13, Some("slow")));
    assert_eq!((warn.trace_id.as_str(), warn.span_id.as_str()), ("", ""));

    for log in logs {
        assert_eq!(log.resource["faas.name"].as_str(), Some("test-fn"));
        assert_eq!(log.scope_name, "app");
    }
}

/// Posts the sample metrics, then the sample logs, in `content_type`, and
/// checks the answers and what the receiver and the timeline kept.
async fn round_trip(content_type: &str) {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);

    let body = encode(&sample_metrics(), content_type);
    let answer = post(&receiver, "/v1/metrics", content_type, body).await;
    assert_success::<ExportMetricsServiceResponse>(&answer, content_type);
    let metrics = receiver.metrics();
    assert_sample_metrics(&metrics);
    assert!(receiver.logs().is_empty(), "{:#?}", receiver.logs());

    let body = encode(&sample_logs(), content_type);
    let answer = post(&receiver, "/v1/logs", content_type, body).await;
    assert_success::<ExportLogsServiceResponse>(&answer, content_type);
    let logs = receiver.logs();
    assert_sample_logs(&logs);

    assert_eq!(receiver.metrics(), metrics);
    assert!(receiver.spans().is_empty());
    let counts = (
        receiver.requests(),
        receiver.metric_requests(),
        receiver.log_requests(),
    );
    assert_eq!(counts, (0, 1, 1));
    // Recorded before the answers, so already there.
    assert_eq!(
        timeline.events(),
        [
            TimelineEvent::MetricsExported { metrics },
            TimelineEvent::LogsExported { logs }
        ]
    );
}

#[tokio::test]
async fn protobuf_metrics_and_logs_are_flattened() {
    round_trip(PROTOBUF).await;
}

#[tokio::test]
async fn json_metrics_and_logs_are_flattened() {
    round_trip(JSON).await;
}

#[tokio::test]
async fn other_metric_kinds_and_unset_temporality_are_kept_by_name() {
    let receiver = OtlpReceiver::start(Timeline::new(), Behaviour::Ok);
    let request = metrics_request(vec![
        metric(
            "rpc.latency",
            "ms",
            metric::Data::Summary(Summary::default()),
        ),
        metric(
            "queue.depth",
            "",
            metric::Data::Sum(Sum {
                data_points: vec![int_point("http", -2)],
                aggregation_temporality: 0,
                is_monotonic: false,
            }),
        ),
    ]);
    let answer = post(&receiver, "/v1/metrics", PROTOBUF, request.encode_to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK);

    let metrics = receiver.metrics();
    let [summary, sum] = metrics.as_slice() else {
        panic!("expected two metrics, got {metrics:#?}");
    };
    assert_eq!(summary.data, MetricData::Other("summary".to_owned()));
    assert_eq!(summary.temporality(), None);
    let MetricData::Sum {
        monotonic,
        temporality,
        points,
    } = &sum.data
    else {
        panic!("not a sum: {sum:#?}");
    };
    assert_eq!(
        (*monotonic, *temporality),
        (false, Temporality::Unspecified)
    );
    assert_eq!(points[0].value, Number::Int(-2));
}

#[tokio::test]
async fn undecodable_exports_are_counted_answered_400_and_not_recorded() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);
    let mut valueless = int_point("http", 1);
    valueless.value = None;
    let request = metrics_request(vec![metric(
        "faas.invocations",
        "",
        metric::Data::Sum(Sum {
            data_points: vec![valueless],
            ..Default::default()
        }),
    )]);

    let answers = [
        post(&receiver, "/v1/metrics", PROTOBUF, request.encode_to_vec()).await,
        post(
            &receiver,
            "/v1/logs",
            JSON,
            b"{\"resourceLogs\": 7}".to_vec(),
        )
        .await,
        post(&receiver, "/v1/logs", "text/plain", b"hello".to_vec()).await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [400, 400, 400]);
    let why = String::from_utf8_lossy(&answers[0].body);
    assert!(why.contains("without a value"), "{why}");

    assert_eq!(
        (receiver.metric_requests(), receiver.log_requests()),
        (1, 2)
    );
    assert!(receiver.metrics().is_empty() && receiver.logs().is_empty());
    assert_eq!(timeline.events(), []);
}

#[tokio::test]
async fn unknown_paths_and_methods_are_404_and_not_counted() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);
    let metrics = sample_metrics().encode_to_vec();

    let answers = [
        post(&receiver, "/v1/profiles", PROTOBUF, metrics.clone()).await,
        post(&receiver, "/v1/metrics/", PROTOBUF, metrics.clone()).await,
        send(&receiver, Method::PUT, "/v1/logs", PROTOBUF, metrics).await,
        send(&receiver, Method::GET, "/v1/metrics", PROTOBUF, Vec::new()).await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [404, 404, 404, 404]);

    let counts = (
        receiver.requests(),
        receiver.metric_requests(),
        receiver.log_requests(),
    );
    assert_eq!(counts, (0, 0, 0));
    assert_eq!(timeline.events(), []);
}

#[tokio::test]
async fn status_behaviour_applies_to_metrics_and_logs() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Status(503));

    let metrics = post(
        &receiver,
        "/v1/metrics",
        JSON,
        encode(&sample_metrics(), JSON),
    )
    .await;
    let logs = post(
        &receiver,
        "/v1/logs",
        PROTOBUF,
        sample_logs().encode_to_vec(),
    )
    .await;
    assert_eq!((metrics.status.as_u16(), logs.status.as_u16()), (503, 503));
    assert_eq!((metrics.body.len(), logs.body.len()), (0, 0));

    // Recorded all the same, before the answer.
    assert_eq!(receiver.metrics().len(), 3);
    assert_eq!(receiver.logs().len(), 2);
    let events = timeline.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                TimelineEvent::MetricsExported { .. },
                TimelineEvent::LogsExported { .. }
            ]
        ),
        "{}",
        timeline.describe()
    );
}

#[tokio::test]
async fn delay_behaviour_applies_to_logs() {
    const DELAY: Duration = Duration::from_millis(200);
    let receiver = OtlpReceiver::start(Timeline::new(), Behaviour::Delay(DELAY));

    let started = tokio::time::Instant::now();
    let answer = post(&receiver, "/v1/logs", JSON, encode(&sample_logs(), JSON)).await;
    assert_success::<ExportLogsServiceResponse>(&answer, JSON);
    assert!(
        started.elapsed() >= DELAY,
        "answered after {:?}",
        started.elapsed()
    );
}

fn one_span() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    name: "handler".to_owned(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post_metrics_and_logs(receiver: &OtlpReceiver) {
    let metrics = post(
        receiver,
        "/v1/metrics",
        PROTOBUF,
        sample_metrics().encode_to_vec(),
    )
    .await;
    let logs = post(receiver, "/v1/logs", JSON, encode(&sample_logs(), JSON)).await;
    assert_eq!((metrics.status.as_u16(), logs.status.as_u16()), (200, 200));
}

/// Each wait counts its own signal: metrics by export, logs by record,
/// spans by span; and each accessor, count and timeline line sees only its
/// own signal.
#[tokio::test]
async fn signals_are_kept_apart_and_waited_for_separately() {
    let timeline = Timeline::new();
    let receiver = OtlpReceiver::start(timeline.clone(), Behaviour::Ok);
    // One metrics export of three metrics, one logs export of two records.
    post_metrics_and_logs(&receiver).await;

    let wait = |f: fn(&Timeline) -> Vec<TimelineEvent>| {
        let timeline = timeline.clone();
        tokio::task::spawn_blocking(move || f(&timeline))
    };
    let metrics_wait = wait(|t| t.wait_for_metrics(2));
    let logs_wait = wait(|t| t.wait_for_logs(3));
    let spans_wait = wait(|t| t.wait_for_spans(1));
    // Not synchronisation: a bounded check that none of them is satisfied
    // yet (two metrics exports, three records, one span are still missing).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let finished = [&metrics_wait, &logs_wait, &spans_wait].map(|w| w.is_finished());
    assert_eq!(finished, [false; 3], "{}", timeline.describe());

    post_metrics_and_logs(&receiver).await;
    let trace = post(
        &receiver,
        "/v1/traces",
        PROTOBUF,
        one_span().encode_to_vec(),
    )
    .await;
    assert_eq!(trace.status, 200);
    let seen = metrics_wait.await.expect("two metrics exports");
    let exports = seen
        .iter()
        .filter(|e| matches!(e, TimelineEvent::MetricsExported { .. }))
        .count();
    assert!(exports >= 2, "{}", timeline.describe());
    logs_wait.await.expect("three log records");
    spans_wait.await.expect("one span");
    wait(|t| t.wait_for_metric("faas.invoke_duration"))
        .await
        .expect("a duration metric");

    let counts = (
        receiver.requests(),
        receiver.metric_requests(),
        receiver.log_requests(),
    );
    assert_eq!(counts, (1, 2, 2));
    assert_eq!(receiver.spans().len(), 1);
    assert_eq!(receiver.metrics().len(), 6);
    assert_eq!(receiver.logs().len(), 4);

    let events = timeline.events();
    let spans: usize = events.iter().map(|e| e.exported_spans().len()).sum();
    let metrics: usize = events.iter().map(|e| e.exported_metrics().len()).sum();
    let logs: usize = events.iter().map(|e| e.exported_logs().len()).sum();
    assert_eq!((spans, metrics, logs), (1, 6, 4));
    assert_sample_metrics(events[2].exported_metrics());
    assert_sample_logs(events[3].exported_logs());

    let lines: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines[0],
        r#"export of 3 metric(s): ["faas.invocations", "faas.invoke_duration", "process.memory.usage"]"#
    );
    assert_eq!(
        lines[1],
        r#"export of 2 log record(s): ["INFO handling", "WARN slow"]"#
    );
    assert_eq!(lines[4], r#"export of 1 span(s): ["handler"]"#);
}
