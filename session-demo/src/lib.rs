//! The demo app behind `cargo run -p session-demo`: an HTML page (visit counter, flash
//! messages, sign in and out) and a JSON API with one route per `Session` method.
//!
//! ```no_run
//! # async fn run() -> Result<(), session_demo::Error> {
//! let config = session_tower::SessionConfig::load(None)?;
//! let layer = session_demo::session_layer(config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, session_demo::router(layer)).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod page;

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
    /// A command-line argument is wrong.
    #[error("{0}\nusage: session-demo [--addr HOST:PORT] [--config session.toml]")]
    Usage(String),
}

impl From<session_core::Error> for Error {
    fn from(e: session_core::Error) -> Self {
        Error::Session(e.into())
    }
}

/// The session layer for `config`. With the cookie driver and no key configured, a
/// random key is made (and a warning says so): sessions then end when the demo stops.
pub async fn session_layer(mut config: SessionConfig) -> Result<SessionLayer, Error> {
    if config.default == "cookie" && config.cookie.key.is_none() {
        let key = session_cookie::Key::generate().map_err(session_core::Error::from)?;
        tracing::warn!(
            "no cookie key configured (`[cookie] key` in session.toml, or APP_KEY): using a random key; sessions will not survive a restart"
        );
        config.cookie.key = Some(key.to_base64());
    }
    let layer = SessionLayer::from_config(&config).await?;
    tracing::info!(driver = %config.default, "sessions ready");
    Ok(layer)
}

/// The demo's routes behind `layer`.
pub fn router(layer: SessionLayer) -> Router {
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
        .layer(layer)
}

/// Command-line settings: `--addr` (or `SESSION_DEMO_ADDR`), `--config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Where to listen.
    pub addr: String,
    /// The session.toml to read, if given.
    pub config: Option<std::path::PathBuf>,
}

impl Args {
    /// Parses `args` (without the program name), with `env_addr` from
    /// `SESSION_DEMO_ADDR` as the default address.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env_addr: Option<String>,
    ) -> Result<Args, Error> {
        let mut out = Args {
            addr: env_addr.unwrap_or_else(|| "127.0.0.1:8000".into()),
            config: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| Error::Usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--addr" => out.addr = value()?,
                "--config" => out.config = Some(value()?.into()),
                other => return Err(Error::Usage(format!("unknown argument `{other}`"))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_and_environment() -> Result<(), Error> {
        assert_eq!(Args::parse(args(&[]), None)?.addr, "127.0.0.1:8000");
        assert_eq!(
            Args::parse(args(&[]), Some("0.0.0.0:1".into()))?.addr,
            "0.0.0.0:1"
        );
        let a = Args::parse(
            args(&["--addr", "127.0.0.1:9", "--config=x.toml"]),
            Some("e:1".into()),
        )?;
        assert_eq!(a.addr, "127.0.0.1:9");
        assert_eq!(a.config.as_deref(), Some(std::path::Path::new("x.toml")));
        assert!(matches!(
            Args::parse(args(&["--bogus"]), None),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            Args::parse(args(&["--addr"]), None),
            Err(Error::Usage(_))
        ));
        Ok(())
    }
}
