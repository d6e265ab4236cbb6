//! The demo app behind `cargo run -p session-demo`: an HTML page (visit counter, flash
//! messages, sign in and out) and a JSON API with one route per `Session` method.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_demo::Error> {
//! let config = session_tower::SessionConfig::load(None)?;
//! let (layer, about) = session_demo::session_layer(config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, session_demo::router(layer, about)).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod actix;
mod answers;
mod api;
mod page;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;
use session_tower::SessionConfig;
use session_tower::SessionLayer;

/// What can stop the demo from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session configuration or store.
    #[error(transparent)]
    Session(#[from] session_tower::Error),
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

impl From<session_core::Error> for Error {
    fn from(e: session_core::Error) -> Self {
        Error::Session(e.into())
    }
}

/// What the page says about how the demo runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// The driver `session.toml` (or `SESSION_DRIVER`) named: `cookie`, `redis`, ...
    pub driver: String,
    /// True when no cookie key was configured and a random one was made.
    pub random_key: bool,
    /// True when sign-out ends the session on the server, so that no copy of its
    /// cookie opens it again: a server store, or the cookie store with a registry.
    pub revocable: bool,
}

impl About {
    /// How a demo on `driver` runs.
    pub fn new(driver: impl Into<String>, random_key: bool) -> Self {
        let driver = driver.into();
        About {
            revocable: driver != "cookie",
            driver,
            random_key,
        }
    }
}

/// The session layer for `config`, and what the page says about it. With the cookie
/// driver and no key configured, a random key is made (and a warning says so):
/// sessions then end when the demo stops.
pub async fn session_layer(config: SessionConfig) -> Result<(SessionLayer, About), Error> {
    let (config, about) = prepared(config)?;
    let layer = SessionLayer::from_config(&config).await?;
    tracing::info!(driver = %config.default, "sessions ready");
    Ok((layer, about))
}

/// `config` as the demo runs it, and what the page says about it: with the cookie
/// driver and no key configured, a random key is made (and a warning says so).
pub fn prepared(mut config: SessionConfig) -> Result<(SessionConfig, About), Error> {
    let random_key = config.default == "cookie" && config.cookie.key.is_none();
    if random_key {
        let key = session_tower::Key::generate().map_err(session_core::Error::from)?;
        tracing::warn!(
            "no cookie key configured (`[cookie] key` in session.toml, or APP_KEY): using a random key; sessions will not survive a restart"
        );
        config.cookie.key = Some(key.to_base64());
    }
    let mut about = About::new(config.default.clone(), random_key);
    about.revocable |= config.cookie.registry.is_some();
    Ok((config, about))
}

/// The web framework the demo runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Framework {
    /// axum, with `session-tower`.
    #[default]
    Axum,
    /// actix-web, with `session-actix`.
    Actix,
}

/// The demo's routes behind `layer`; the page tells visitors `about` the demo.
pub fn router(layer: SessionLayer, about: About) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/flash", post(page::flash))
        .route("/login", post(page::login))
        .route("/logout", post(page::logout))
        .route("/health", get(|| async { "ok" }))
        .route("/api/session", get(api::all).delete(api::flush))
        .route("/api/session/regenerate", post(api::regenerate))
        .route("/api/session/invalidate", post(api::invalidate))
        .route(
            "/api/session/{key}",
            get(api::get)
                .head(api::has)
                .put(api::set)
                .delete(api::delete),
        )
        .route("/api/session/{key}/pull", post(api::pull))
        .route("/api/flash/{key}", post(api::flash))
        .route("/api/counter/{key}", put(api::increment))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/me/sessions", get(api::my_sessions))
        .route("/api/me/sessions/revoke-others", post(api::revoke_others))
        .route(
            "/api/me/sessions/{id}",
            axum::routing::delete(api::revoke_session),
        )
        .route("/logout-others", post(page::logout_others))
        .with_state(Arc::new(about))
        .layer(layer)
}

/// Command-line settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
#[command(
    name = "session-demo",
    version,
    about = "The session library's demo: an HTML page and a JSON API over every Session method.",
    after_help = "With no session.toml it runs on the cookie driver with a random key. \
                  SESSION_DRIVER, APP_KEY and the other variables of session.toml override the file."
)]
pub struct Args {
    /// Where to listen.
    #[arg(
        long,
        env = "SESSION_DEMO_ADDR",
        default_value = "127.0.0.1:8000",
        value_name = "HOST:PORT"
    )]
    pub addr: String,
    /// The session.toml to read (default: ./session.toml when there is one).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The web framework to serve the same page and JSON API on.
    #[arg(long, env = "SESSION_DEMO_FRAMEWORK", value_enum, default_value_t = Framework::Axum)]
    pub framework: Framework,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn arguments() -> Result<(), clap::Error> {
        let a = Args::try_parse_from(["session-demo", "--addr", "127.0.0.1:9", "--config=x.toml"])?;
        assert_eq!(a.addr, "127.0.0.1:9");
        assert_eq!(a.config.as_deref(), Some(std::path::Path::new("x.toml")));
        assert_eq!(a.framework, Framework::Axum);
        let a = Args::try_parse_from(["session-demo", "--framework", "actix"])?;
        assert_eq!(a.framework, Framework::Actix);
        let bogus = Args::try_parse_from(["session-demo", "--bogus"]).map(|_| ());
        assert!(bogus.is_err());
        let missing = Args::try_parse_from(["session-demo", "--addr"]).map(|_| ());
        assert!(missing.is_err());
        let help = Args::try_parse_from(["session-demo", "--help"]).map(|_| ());
        assert!(matches!(help, Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp));
        Ok(())
    }
}
