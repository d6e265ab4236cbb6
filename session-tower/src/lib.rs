//! Sessions for tower services and axum: [`SessionLayer`] puts a lazily loaded
//! session on every request and saves it once after the handler; [`Session`] is the
//! axum extractor.
//!
//! # Example
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_tower::{Session, SessionConfig, SessionLayer};
//!
//! async fn index(session: Session) -> Result<String, session_tower::Error> {
//!     let visits = session.increment("visits", 1).await?;
//!     let notice: Option<String> = session.get("notice").await?;
//!     Ok(format!("visit {visits}, notice: {notice:?}"))
//! }
//!
//! # async fn build() -> Result<Router, session_tower::Error> {
//! // The driver comes from session.toml / SESSION_DRIVER (cookie by default).
//! let config = SessionConfig::load(None)?;
//! let app = Router::new()
//!     .route("/", get(index))
//!     .layer(SessionLayer::from_config(&config).await?);
//! # Ok(app) }
//! ```
//!
//! # What the layer does
//!
//! See [`SessionLayer`]: no store call for routes that never touch the session, one
//! save after the handler, `Set-Cookie` with `HttpOnly`, `SameSite=Lax`, `Path=/` by
//! default (`Secure`, `Domain`, the `__Host-` prefix configurable), a removal cookie
//! when a stored session is emptied or invalidated, 503 with the cookie untouched when
//! the store fails, 413 when the session is too large to store, and no save on 5xx
//! answers unless asked. Also:
//!
//! - **Cross-site protection** (on by default, [`CrossSiteProtection`]): an unsafe
//!   request a browser marks cross-site is answered 403 and touches no session.
//! - **Caches**: `Cache-Control: private, no-store` on every response that sets or
//!   removes the session cookie, `Vary: Cookie` on every response of a request that
//!   read the session.
//! - **Duplicate cookies**: every cookie of the session's name is a candidate; the
//!   first that names a live session wins, so a planted duplicate logs no one out.
//! - **Persistent cookies**: with [`CookieOptions::with_persistent`] (`[cookie]
//!   persistent`) or `Session::remember(true)`, the cookie carries `Max-Age`, the
//!   remaining idle timeout, and is sent again whenever the session is read.
//!
//! # Features
//!
//! - `axum` (default): the [`Session`] extractor.
//! - `redis-store`: [`SessionLayer::from_config`] can build the Redis store (the
//!   cookie store is always there).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod cookies;
mod cross_site;
mod drivers;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod layer;

pub use config::SessionConfig;
pub use cookies::CookieOptions;
pub use cross_site::CrossSiteProtection;
pub use drivers::Drivers;
pub use error::Error;
#[cfg(feature = "axum")]
pub use extract::Session;
pub use layer::{SessionLayer, SessionService};
pub use session_cookie::{CookieSettings, SameSite};
