//! The OpenTelemetry Collector built from `backends/otelcol-builder.yaml`, in one of two
//! configurations: `backends/otelcol-to-jaeger.yaml` (OTLP in; traces on to Jaeger, metrics and
//! logs to a file) and `backends/otelcol-xray.yaml` (X-Ray daemon documents in over UDP; the
//! spans they become to a file and on to Jaeger). The file exporter writes one OTLP/JSON object
//! per line; [`otlp_json`](super::otlp_json) reads them.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};

use serde_json::Value;

use super::jaeger::Jaeger;
use super::process::{Process, start_with_retries};
use super::{DATA_BOUND, binary, config, free_tcp_ports, free_udp_port, poll};

/// The file exporter's output, in the collector's folder.
const OUTPUT: &str = "output.jsonl";
/// What the collector logs once every component has started.
const READY: &str = "Everything is ready";

/// A running collector; dropping it kills it.
#[derive(Debug)]
pub struct Collector {
    process: Process,
    otlp_http: Option<u16>,
    xray: Option<SocketAddr>,
}

impl Collector {
    /// Starts the collector of the seed's topology (app -> collector -> Jaeger): OTLP in over
    /// gRPC and HTTP, traces out to `jaeger` over OTLP/gRPC, metrics and logs to its file.
    pub fn start_to_jaeger(jaeger: &Jaeger) -> Self {
        start_with_retries("otelcol-to-jaeger", || {
            let [grpc, http] = free_tcp_ports(2)[..] else {
                unreachable!("two ports asked for")
            };
            let env = [
                ("OTELCOL_OTLP_GRPC_PORT", grpc.to_string()),
                ("OTELCOL_OTLP_HTTP_PORT", http.to_string()),
                ("JAEGER_OTLP_GRPC_PORT", jaeger.otlp_grpc_port().to_string()),
            ];
            let process = start("otelcol-to-jaeger", "otelcol-to-jaeger.yaml", &env)?;
            Ok(Self {
                process,
                otlp_http: Some(http),
                xray: None,
            })
        })
    }

    /// Starts the collector that takes X-Ray segment documents (the awsxray receiver, UDP), and
    /// writes the spans they become to its file and sends them to `jaeger` over OTLP/HTTP.
    pub fn start_xray(jaeger: &Jaeger) -> Self {
        start_with_retries("otelcol-xray", || {
            let udp = free_udp_port();
            let [proxy] = free_tcp_ports(1)[..] else {
                unreachable!("one port asked for")
            };
            let env = [
                ("OTELCOL_XRAY_UDP_PORT", udp.to_string()),
                ("OTELCOL_XRAY_PROXY_PORT", proxy.to_string()),
                ("JAEGER_OTLP_HTTP_PORT", jaeger.otlp_http_port().to_string()),
                // The receiver's AWS SDK never asks an instance metadata service.
                ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ];
            let process = start("otelcol-xray", "otelcol-xray.yaml", &env)?;
            Ok(Self {
                process,
                otlp_http: None,
                xray: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, udp))),
            })
        })
    }

    /// The base URL of its OTLP/HTTP receiver.
    pub fn otlp_http_endpoint(&self) -> String {
        let port = self.otlp_http.expect("started with start_to_jaeger");
        format!("http://127.0.0.1:{port}")
    }

    /// The address of its awsxray receiver: what `AWS_XRAY_DAEMON_ADDRESS` would say.
    pub fn xray_address(&self) -> SocketAddr {
        self.xray.expect("started with start_xray")
    }

    /// What the collector has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The lines of its log at level warn or error.
    pub fn problems(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("\twarn\t") || l.contains("\terror\t"))
            .map(str::to_owned)
            .collect()
    }

    /// Every complete OTLP/JSON line its file exporter has written so far.
    pub fn output(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.process.dir().join(OUTPUT)).unwrap_or_default();
        // The last line may still be half written: only lines that end are read.
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("file exporter line: {e}: {l}"))
            })
            .collect()
    }

    /// Polls its file until `probe` finds what the test waits for in it, within
    /// [`DATA_BOUND`]; panics with the file and the collector's log.
    pub fn wait_for_output<T>(&self, what: &str, probe: impl Fn(&[Value]) -> Option<T>) -> T {
        poll(DATA_BOUND, || probe(&self.output())).unwrap_or_else(|| {
            panic!(
                "the collector's file never had {what} within {DATA_BOUND:?}; it has:\n{:#?}\n\
                 the collector's log:\n{}",
                self.output(),
                self.log()
            )
        })
    }
}

/// Starts the collector with `config_file` and `env` (and its file exporter's path), and waits
/// until it says every component started.
fn start(label: &str, config_file: &str, env: &[(&str, String)]) -> Result<Process, String> {
    let binary = binary("LAMBDA_OTEL_TEST_OTELCOL", "otelcol-lambda-otel");
    let mut env = env.to_vec();
    // Relative to the collector's own folder, where it runs.
    env.push(("OTELCOL_OUTPUT", OUTPUT.to_owned()));
    let mut process = Process::spawn(label, &binary, &config(config_file), &env);
    process.wait_ready(|p| p.log().contains(READY))?;
    Ok(process)
}
