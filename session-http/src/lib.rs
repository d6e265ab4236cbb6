//! The framework-neutral HTTP half of the session library, shared by every HTTP
//! integration (`session-tower` for axum and tower, `session-actix` for actix-web):
//!
//! - [`framing`]: how a session token travels in cookies (the name on the wire with
//!   the `__Host-` prefix, the attributes, chunking over numbered cookies, the size
//!   rule), on header *text*, so any framework can use it; reading the cookies of a
//!   request is linear and bounded, whatever the request carries.
//! - [`lifecycle`]: a request's session life ([`Sessions::begin`](lifecycle::Sessions::begin),
//!   [`Sessions::end`](lifecycle::Sessions::end)): the cookies to send, the cache
//!   headers, the status of each error.
//! - [`CrossSiteProtection`]: refusing unsafe requests a browser marks cross-site.
//! - [`SessionConfig`] (`session.toml` with environment overrides, each driver's
//!   table) and [`Drivers`] (the store the configuration names, yours too).
//!
//! An app depends on its framework's integration, which re-exports what it needs.
//!
//! ```
//! use std::sync::Arc;
//! use session_core::MemoryStore;
//! use session_http::lifecycle::Sessions;
//! use session_http::RequestFacts;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
//! let sessions = Sessions::new(Arc::new(MemoryStore::new()));
//!
//! // A request without a cookie writes its session...
//! let begun = sessions
//!     .begin("POST", RequestFacts::default, [])
//!     .expect("a request without browser headers passes the cross-site check");
//! begun.session.set("user", "ada").await?;
//! let outcome = sessions.end(&begun, 200).await;
//! assert!(outcome.set_cookies[0].starts_with("session="));
//! assert!(outcome.no_store, "a response that sets the cookie is kept out of shared caches");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod cookie_settings;
mod cross_site;
mod drivers;
pub mod framing;
pub mod lifecycle;

pub use config::SessionConfig;
pub use cookie_settings::{CookieSettings, SameSite};
pub use cross_site::{CrossSiteProtection, RequestFacts};
pub use drivers::Drivers;
