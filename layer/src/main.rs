//! `lambda-otel-extension`: a Lambda external extension that takes lambda-otel's export off the
//! function's path (see `layer/README.md`).
//!
//! Start-up, in the order Lambda needs it: the OTLP receiver listens first (so the function's
//! first export finds it), then the extension registers (`INVOKE` and `SHUTDOWN`, or `SHUTDOWN`
//! only on Lambda Managed Instances), subscribes to the Telemetry API's platform records on a
//! listener of its own, and loops on `/next` ([`forward`]).
//!
//! A setting it cannot use is logged with the variable's name, and the extension then stays
//! registered but idle: it does not listen, so the function's exports fail and lambda-otel says
//! so, and it never holds an invocation. Telemetry must not break the function.

#![deny(unsafe_code)]
#![warn(unreachable_pub, missing_debug_implementations)]

/// One line on stdout, which Lambda puts in the function's log stream.
macro_rules! log {
    ($($arg:tt)*) => {
        println!("[lambda-otel-extension] {}", format_args!($($arg)*))
    };
}

mod backend;
mod config;
mod forward;
mod lifecycle;
mod platform;
mod receiver;
mod server;
mod state;
mod telemetry_api;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lambda_extension::NextEvent;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::config::{Config, Signal};
use crate::forward::Forwarder;
use crate::lifecycle::ExtensionsApi;
use crate::state::Shared;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let started = Instant::now();
    let runtime_api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| {
        "AWS_LAMBDA_RUNTIME_API is not set: this runs as a Lambda extension".to_owned()
    })?;
    let lmi = config::is_managed_instances(|name| std::env::var(name).ok());
    let events: &[&str] = if lmi {
        &["SHUTDOWN"]
    } else {
        &["INVOKE", "SHUTDOWN"]
    };

    // Everything that can fail on a setting fails before registering, so the receiver never
    // accepts data that could not go anywhere.
    let ready = match prepare().await {
        Ok(ready) => Some(ready),
        Err(e) => {
            log!("{e}; the extension stays idle and forwards nothing");
            None
        }
    };
    let api = ExtensionsApi::register(&runtime_api, &extension_name(), events).await?;
    let Some((config, backend, listener)) = ready else {
        return idle(&api).await;
    };
    let shared = Arc::new(Shared::new(config.buffer_bytes));
    let listen = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    tokio::spawn(receiver::serve(
        listener,
        Arc::clone(&shared),
        Arc::clone(&config),
    ));

    let platform = Arc::new(Mutex::new(platform::Platform::new(
        platform::Environment::from_env(),
        config.endpoint(Signal::Traces).is_some(),
        config.endpoint(Signal::Metrics).is_some(),
    )));
    let subscribed = match subscribe(&api, &config, &shared, &platform).await {
        Ok(()) => true,
        Err(e) => {
            log!(
                "{e}; without platform records an invocation whose function sends no flush mark \
                 ends at its deadline"
            );
            false
        }
    };
    if lmi {
        tokio::spawn(forward::background(
            Arc::clone(&shared),
            backend.clone(),
            Arc::clone(&config),
            Arc::clone(&platform),
        ));
    }
    log!(
        "ready in {} µs: OTLP/HTTP on {listen}; {}; {} mode{}",
        started.elapsed().as_micros(),
        routes(&config),
        config.mode,
        if lmi {
            " (Lambda Managed Instances)"
        } else {
            ""
        }
    );
    Forwarder::new(shared, backend, config, platform, subscribed)
        .run(&api)
        .await
}

/// The settings, the backend and the bound receiver.
async fn prepare() -> Result<(Arc<Config>, Backend, TcpListener), String> {
    let config = Arc::new(Config::from_env().map_err(|e| e.to_string())?);
    let backend = Backend::new(Arc::clone(&config))?;
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        format!(
            "cannot listen on {} ({}): {e}",
            config.listen,
            config::LISTEN
        )
    })?;
    Ok((config, backend, listener))
}

async fn subscribe(
    api: &ExtensionsApi,
    config: &Config,
    shared: &Arc<Shared>,
    platform: &Arc<Mutex<platform::Platform>>,
) -> Result<(), String> {
    let (listener, uri) = telemetry_api::bind(&config.telemetry_host)
        .await
        .map_err(|e| {
            format!(
                "cannot listen for the Telemetry API on {} ({}): {e}",
                config.telemetry_host,
                config::TELEMETRY_HOST
            )
        })?;
    tokio::spawn(telemetry_api::serve(
        listener,
        Arc::clone(shared),
        Arc::clone(platform),
    ));
    api.subscribe_telemetry(&uri).await
}

/// Registered but with nothing to do: answer every event at once until `SHUTDOWN`.
async fn idle(api: &ExtensionsApi) -> Result<(), String> {
    loop {
        if let NextEvent::Shutdown(_) = api.next().await? {
            return Ok(());
        }
    }
}

/// Lambda requires the registered name to be the executable's file name.
fn extension_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lambda-otel-extension".to_owned())
}

/// "traces to X, metrics to Y, logs not forwarded".
fn routes(config: &Config) -> String {
    Signal::ALL
        .iter()
        .map(|&signal| match config.endpoint(signal) {
            Some(uri) => format!("{signal} to {}", backend::shown(uri)),
            None => format!("{signal} not forwarded"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
