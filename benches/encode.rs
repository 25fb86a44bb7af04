//! The encoding of a flush's spans before they are sent: as lambda-otel's exporter writes the
//! `http/protobuf` body (the default protocol: `lambda-otel-protobuf`, straight from the spans,
//! the resource encoded once), and as opentelemetry-otlp 0.33 does for the other protocols:
//! grouped by resource and scope (`group_spans_by_resource_and_scope`), then protobuf
//! (`http-protobuf`, what lambda-otel's exporter did before) or pretty-printed JSON
//! (`http-json`). The spans are what one dice-roller invocation leaves in the buffer (its
//! invocation span and its `roll` span, made by `lambda_otel::__bench::Invocations`), and what
//! ten such invocations leave.
//!
//! ```sh
//! cargo bench --bench encode -- --warm-up-time 1 --measurement-time 3
//! ```

mod common;

use common::{ROLL, invocations, request, roll, tracing_spans};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lambda_otel::__bench::TracesBody;
use lambda_otel::Exporter;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::resource::{
    AWS_LOG_GROUP_NAMES, CLOUD_PLATFORM, CLOUD_PROVIDER, CLOUD_REGION, FAAS_INSTANCE,
    FAAS_MAX_MEMORY, FAAS_NAME, FAAS_VERSION, TELEMETRY_DISTRO_NAME, TELEMETRY_DISTRO_VERSION,
    TELEMETRY_SDK_LANGUAGE, TELEMETRY_SDK_NAME,
};
use prost::Message as _;
use std::hint::black_box;

/// The spans `count` warm invocations of the dice roller leave in the buffer, two each.
fn spans(count: usize) -> Vec<SpanData> {
    let invocations = invocations(Exporter::None);
    let _tracing = tracing_spans(&invocations);
    let req = request(ROLL);
    // The process's first invocation is its cold start, with attributes the others lack.
    invocations.invoke(&req, roll);
    drop(invocations.take_spans());
    for _ in 0..count {
        invocations.invoke(&req, roll);
    }
    invocations.take_spans()
}

/// The resource the crate builds in Lambda (`telemetry/resource.rs`: `opentelemetry-aws`'s
/// detector, the distro, `service.name`), for the dice roller's environment; the exporters
/// convert it once, when it is set.
fn sdk_resource() -> Resource {
    let log_group = StringValue::from("/aws/lambda/dice-roller");
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new(CLOUD_PROVIDER, "aws"),
            KeyValue::new(CLOUD_PLATFORM, "aws_lambda"),
            KeyValue::new(FAAS_NAME, "dice-roller"),
            KeyValue::new(CLOUD_REGION, "us-east-1"),
            KeyValue::new(FAAS_VERSION, "$LATEST"),
            KeyValue::new(
                FAAS_INSTANCE,
                "2025/11/21/[$LATEST]8f3c2b1a0e9d4c7b6a5f4e3d2c1b0a99",
            ),
            KeyValue::new(FAAS_MAX_MEMORY, 128 * 1024 * 1024),
            KeyValue::new(
                AWS_LOG_GROUP_NAMES,
                Value::Array(Array::String(vec![log_group])),
            ),
            KeyValue::new(TELEMETRY_SDK_LANGUAGE, "rust"),
            KeyValue::new(TELEMETRY_SDK_NAME, "opentelemetry"),
            KeyValue::new(TELEMETRY_DISTRO_NAME, "lambda-otel"),
            KeyValue::new(TELEMETRY_DISTRO_VERSION, env!("CARGO_PKG_VERSION")),
        ])
        .with_service_name("dice-roller")
        .build()
}

fn resource() -> ResourceAttributesWithSchema {
    (&sdk_resource()).into()
}

fn request_of(
    spans: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, resource),
    }
}

/// The `http/protobuf` body.
fn protobuf(spans: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Vec<u8> {
    request_of(spans, resource).encode_to_vec()
}

/// The `http/json` body: the exporter pretty-prints it.
fn json(spans: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Vec<u8> {
    serde_json::to_string_pretty(&request_of(spans, resource))
        .expect("a request serialises")
        .into_bytes()
}

type Encode = fn(Vec<SpanData>, &ResourceAttributesWithSchema) -> Vec<u8>;

fn encode(c: &mut Criterion) {
    let resource = resource();
    let body = TracesBody::new(&sdk_resource());
    let mut group = c.benchmark_group("encode");
    for invocations in [1, 10] {
        let spans = spans(invocations);
        assert_eq!(
            spans.len(),
            2 * invocations,
            "an invocation span and a roll span each"
        );
        // The exporter takes the batch and drops it once encoded, as the others do.
        group.throughput(Throughput::Bytes(body.encode(&spans).len() as u64));
        group.bench_function(format!("lambda-otel-protobuf/{invocations}"), |b| {
            b.iter_batched(
                || spans.clone(),
                |spans| body.encode(black_box(&spans)),
                BatchSize::SmallInput,
            );
        });
        let encodings: [(&str, Encode); 2] = [("http-protobuf", protobuf), ("http-json", json)];
        for (name, encode) in encodings {
            let size = encode(spans.clone(), &resource).len();
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(format!("{name}/{invocations}"), |b| {
                b.iter_batched(
                    || spans.clone(),
                    |spans| encode(spans, black_box(&resource)),
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

/// The grouping and conversion to protobuf messages on their own: the part both encodings
/// share.
fn group_spans(c: &mut Criterion) {
    let resource = resource();
    let mut group = c.benchmark_group("group-spans");
    for invocations in [1, 10] {
        let spans = spans(invocations);
        group.bench_function(invocations.to_string(), |b| {
            b.iter_batched(
                || spans.clone(),
                |spans| request_of(spans, black_box(&resource)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, encode, group_spans);
criterion_main!(benches);
