//! The per-invocation cost of the invocation span: `lambda_otel::__bench::Invocations`, the
//! layer's start, response and end of the span, with the crate's span processor taking it into
//! its buffer, for the dice roller's request (`events/apigw-v2-roll.json`) and for the HTTP API
//! sample with a W3C parent (`events/triggers/apigw-http-v2.json`).
//!
//! ```sh
//! cargo bench --bench span -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each invocation's spans are taken from the buffer right after it, as the per-invocation flush
//! does, and dropped outside the measurement, as the export thread drops them after the export.

mod common;

use common::{ROLL, invocations, request, roll, tracing_spans};
use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use lambda_otel::__bench::Invocations;
use lambda_otel::Exporter;
use std::hint::black_box;
use std::time::{Duration, Instant};

const APIGW_HTTP_V2: &[u8] = include_bytes!("../events/triggers/apigw-http-v2.json");

/// Invocations whose spans are kept, once taken, until they are dropped together untimed.
const CHUNK: u64 = 128;

/// Times `invoke`, taking the spans after each invocation and dropping them untimed.
fn measure(b: &mut Bencher<'_>, invocations: &Invocations, invoke: impl Fn()) {
    b.iter_custom(|iters| {
        let mut taken = Vec::new();
        let mut elapsed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(CHUNK);
            let start = Instant::now();
            for _ in 0..n {
                invoke();
                taken.push(invocations.take_spans());
            }
            elapsed += start.elapsed();
            taken.clear();
            left -= n;
        }
        elapsed
    });
}

fn invocation(c: &mut Criterion) {
    let roll_request = request(ROLL);
    let http_request = request(APIGW_HTTP_V2);
    let traces = invocations(Exporter::None);
    let with_metrics = invocations(Exporter::Otlp);
    let mut group = c.benchmark_group("invocation");
    group.bench_function("roll/traces", |b| {
        measure(b, &traces, || {
            traces.invoke(black_box(&roll_request), || Some(200))
        });
    });
    group.bench_function("roll/traces+metrics", |b| {
        measure(b, &with_metrics, || {
            with_metrics.invoke(black_box(&roll_request), || Some(200));
        });
    });
    group.bench_function("apigw-http-v2/traces", |b| {
        measure(b, &traces, || {
            traces.invoke(black_box(&http_request), || Some(200))
        });
    });
    let _tracing = tracing_spans(&traces);
    group.bench_function("roll/traces+roll-span", |b| {
        measure(b, &traces, || traces.invoke(black_box(&roll_request), roll));
    });
    group.finish();
}

criterion_group!(benches, invocation);
criterion_main!(benches);
