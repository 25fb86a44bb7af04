//! Lambda's shutdown signal for a function without an extension: Lambda sends SIGTERM (and
//! gives the process 500 ms) only when an extension is registered, so the process registers an
//! internal one for no events, drives its `/next` (which Lambda holds for ever), and on
//! SIGTERM (or SIGINT, a local run's Ctrl-C) runs [`Telemetry::shutdown`] and exits.
//!
//! lambda_runtime's `spawn_graceful_shutdown_handler` does the same through lambda-extension,
//! whose `Extension` brings its Logs and Telemetry API servers (hyper's server) into the
//! binary: the dice roller's traces-only build is 5.25 MB with it, 4.74 MB with this (0.23 MB
//! of it this module's code and the shutdown it calls, against a build with neither). Here
//! the two requests go through the crate's own HTTP/1.1 exchange.

use super::Telemetry;
use crate::export::otlp::{Failure, Idle};
use bytes::Bytes;
use futures_util::future::{Either, select};
use std::future::Future;
use std::pin::{Pin, pin};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The internal extension's name: unique among the function's extensions.
const EXTENSION_NAME: &str = "lambda-otel-sigterm";
const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
const NAME_HEADER: &str = "lambda-extension-name";
const ID_HEADER: &str = "lambda-extension-identifier";
/// The most of an Extensions API answer read (the registration's is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

impl Telemetry {
    /// Exports what is left and shuts the providers down when Lambda shuts the environment
    /// down: registers an internal extension for no events (without one, Lambda sends no
    /// SIGTERM and the process is killed with whatever waits for its export interval), and
    /// spawns a task that drives it and, on SIGTERM or SIGINT, runs
    /// [`shutdown`](Self::shutdown) (within Lambda's 500 ms) and exits the process with
    /// status 0.
    ///
    /// Await it in `main` before `Runtime::run` (extensions register during the init phase),
    /// inside the Tokio runtime that runs the function. It returns whether the handler is in
    /// place; when not (no `AWS_LAMBDA_RUNTIME_API`, the Extensions API refused, the SIGTERM
    /// handler could not be installed), it says why on stderr and the function runs as before,
    /// without the flush at shutdown, and with the signals' default actions. The extension is
    /// named `lambda-otel-sigterm`. Like the runtime's own requests to the Runtime API, the
    /// registration has no timeout of its own: Lambda's init timeout bounds it (an answer
    /// given up on could leave a registered extension that never polls, which would hold the
    /// init phase anyway).
    ///
    /// The same as `lambda_runtime::spawn_graceful_shutdown_handler` with
    /// [`shutdown`](Self::shutdown), without lambda-extension's code in the binary; with the
    /// lambda-otel extension deployed, Lambda sends SIGTERM anyway, and this is still the
    /// place the process learns it.
    pub async fn shutdown_on_sigterm(&self) -> bool {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API").ok();
        // Boxed, so that its code is not inlined into the caller's future (`main`'s).
        let install: Pin<Box<dyn Future<Output = Result<(), String>> + Send>> =
            Box::pin(install(self.clone(), api));
        match install.await {
            Ok(()) => true,
            Err(why) => {
                eprintln!("lambda-otel: no flush at shutdown: {why}");
                false
            }
        }
    }
}

/// Installs the handler, with the Extensions API at `api` (`AWS_LAMBDA_RUNTIME_API`).
async fn install(telemetry: Telemetry, api: Option<String>) -> Result<(), String> {
    let api = api.ok_or("AWS_LAMBDA_RUNTIME_API is not set (not on Lambda)")?;
    let api = Api::new(&api)?;
    let id = api.register().await?;
    // The handlers only once the extension is registered: Tokio never gives a signal its
    // default action back, so a handler installed before a failed registration would leave
    // SIGTERM ignored for good. A signal between here and the task's first poll is kept for it.
    let term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    // SIGINT (Ctrl-C in a local run) is a convenience: without its handler, SIGTERM still is.
    let int = signal(SignalKind::interrupt()).ok();
    tokio::spawn(async move {
        let signal = pin!(received(term, int));
        // The extension's `/next`: held by Lambda for ever (no events). Should it end, the
        // signal is still awaited.
        let name = match select(signal, pin!(api.next(&id))).await {
            Either::Left((name, _)) => name,
            Either::Right((_, signal)) => signal.await,
        };
        eprintln!("lambda-otel: {name} received, flushing");
        telemetry.shutdown().await;
        std::process::exit(0);
    });
    Ok(())
}

/// The first of SIGTERM and SIGINT, by name.
async fn received(mut term: Signal, int: Option<Signal>) -> &'static str {
    let Some(mut int) = int else {
        term.recv().await;
        return "SIGTERM";
    };
    match select(pin!(term.recv()), pin!(int.recv())).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    }
}

/// The Extensions API at the Runtime API's address.
struct Api {
    origin: String,
    /// Its own connections: the held `/next` keeps one for ever.
    idle: Idle,
}

impl Api {
    fn new(address: &str) -> Result<Self, String> {
        let origin = format!("http://{address}");
        origin
            .parse::<http::Uri>()
            .map_err(|e| format!("AWS_LAMBDA_RUNTIME_API `{address}`: {e}"))?;
        Ok(Self {
            origin,
            idle: Idle::default(),
        })
    }

    /// Registers the extension for no events; its identifier.
    async fn register(&self) -> Result<String, String> {
        let request = http::Request::post(format!("{}{REGISTER_PATH}", self.origin))
            .header(NAME_HEADER, EXTENSION_NAME)
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"events":[]}"#))
            .map_err(|e| e.to_string())?;
        let answer = self.exchange(request).await?;
        if !answer.status().is_success() {
            let body = String::from_utf8_lossy(answer.body());
            return Err(format!(
                "the Extensions API refused the registration: {} {}",
                answer.status(),
                crate::attributes::truncate(&body, 256)
            ));
        }
        answer
            .headers()
            .get(ID_HEADER)
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("the registration's answer has no `{ID_HEADER}`"))
    }

    /// The extension's next event: never, for an extension of no events. Lambda ends the
    /// init phase only once every registered extension waits here, so a failure is said.
    async fn next(&self, id: &str) {
        let request = http::Request::get(format!("{}{NEXT_PATH}", self.origin))
            .header(ID_HEADER, id)
            .body(Bytes::new());
        let answer = match request {
            Ok(request) => self.exchange(request).await.map(drop),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = answer {
            eprintln!("lambda-otel: the SIGTERM extension's /next failed: {why}");
        }
    }

    async fn exchange(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, String> {
        self.idle
            .exchange(request, MAX_ANSWER)
            .await
            .map_err(|failure: Failure| failure.describe(&self.origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::otlp::loopback;

    /// The Extensions API of a loopback server answering every request with `answer`.
    fn api(answer: fn(usize) -> &'static [u8]) -> Api {
        let server = loopback::collector(answer, |_| false);
        let address = server
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches("/v1/traces");
        Api::new(address).expect("an address")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_registration_gives_the_extension_s_identifier() {
        let api = api(|_| {
            b"HTTP/1.1 200 OK\r\nlambda-extension-identifier: id-1\r\ncontent-length: 2\r\n\r\n{}"
        });
        assert_eq!(api.register().await, Ok("id-1".to_owned()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_registration_says_why() {
        let api = api(|_| {
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 45\r\n\r\n{\"errorType\":\"Extension.InvalidExtensionName\"}"
        });
        let why = api.register().await.expect_err("refused");
        assert!(
            why.contains("403") && why.contains("InvalidExtensionName"),
            "{why}"
        );
        let api = self::api(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        let why = api.register().await.expect_err("no identifier");
        assert!(why.contains(ID_HEADER), "{why}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_the_runtime_api_nothing_is_installed() {
        let telemetry = crate::Telemetry::builder()
            .with_traces_exporter(crate::Exporter::None)
            .build()
            .expect("telemetry");
        let why = install(telemetry.clone(), None)
            .await
            .expect_err("not on Lambda");
        assert!(why.contains("AWS_LAMBDA_RUNTIME_API"), "{why}");
        let why = install(telemetry, Some("not an address/x y".to_owned())).await;
        assert!(why.expect_err("refused").contains("not an address"));
    }
}
