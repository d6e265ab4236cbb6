//! `cargo run -p session-demo [-- --addr 127.0.0.1:8000 --config session.toml]`
//! (`--help` for the rest).

#![forbid(unsafe_code)]

use clap::Parser;
use session_demo::{prepared, router, session_layer, Args, Error, Framework};
use session_tower::SessionConfig;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `--help` and `--version` print and exit 0; a wrong argument exits 2 with usage.
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let config = SessionConfig::load(args.config.as_deref())?;
    if args.framework == Framework::Actix {
        return run_actix(&args, config).await;
    }
    let (layer, about) = session_layer(config).await?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    tracing::info!(
        "session demo listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, router(layer, about))
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("session demo stopped");
    Ok(())
}

/// The same demo on actix-web, which stops by itself on Ctrl-C and SIGTERM.
async fn run_actix(args: &Args, config: SessionConfig) -> Result<(), Error> {
    let (config, about) = prepared(config)?;
    let sessions = session_actix::SessionMiddleware::from_config(&config)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tracing::info!(driver = %config.default, "sessions ready");
    let listener = std::net::TcpListener::bind(&args.addr)?;
    tracing::info!(
        "session demo listening on http://{} (actix-web)",
        listener.local_addr()?
    );
    session_demo::actix::serve(listener, sessions, about).await?;
    tracing::info!("session demo stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
