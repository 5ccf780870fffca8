//! Entry point: reads the environment and kiln.json, then serves the router from lib.rs.
//! Run it from the workspace root, where kiln.json lives.

use std::env;
use std::path::Path;
use std::process::ExitCode;

use kiln_app::{load_kiln, normalise_base_path, router, Config};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let port = match env::var("PORT").ok().filter(|p| !p.is_empty()) {
        None => 3000,
        Some(text) => match text.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("PORT must be a port number (0-65535), got {text:?}");
                return ExitCode::FAILURE;
            }
        },
    };
    // Loopback by default: Kiln's proxy is the only intended client.
    let host = env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());

    let kiln = match load_kiln(Path::new("kiln.json")) {
        Ok(kiln) => kiln,
        Err(e) => {
            eprintln!("{e} (run the app from the directory that holds kiln.json)");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        kiln,
        base_path: normalise_base_path(&env::var("BASE_PATH").unwrap_or_default()),
        build_sha: env::var("KILN_BUILD_SHA")
            .ok()
            .filter(|sha| !sha.is_empty())
            .unwrap_or_else(|| "dev".to_owned()),
    };

    let listener = match TcpListener::bind((host.as_str(), port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {host}:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        println!("listening on http://{addr}");
    }

    match axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The deployer stops apps with SIGTERM; finish in-flight requests, then exit.
async fn shutdown() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("cannot listen for SIGTERM, stopping only on Ctrl-C: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
