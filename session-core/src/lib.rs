//! Web sessions in the spirit of Masonite: `set`, `get`, `has`, `delete`, `flush` and
//! `flash` (data for the next request) over pluggable, async stores.
//!
//! This crate is the framework-agnostic core: the [`Session`] handle with the flash
//! rules, the store contract ([`SessionStore`], and [`MergeStore`] for stores that
//! merge per key; see [`store`] for how to write one), [`SessionId`]s and [`Expiry`].
//! Storage drivers live in their own crates (`session-cookie`, `session-redis`); the
//! HTTP integration and `session.toml` in `session-tower`. [`MemoryStore`] is here for
//! tests.
//!
//! Users and devices ([`users`]): [`Session::login`] binds a session to a user, and
//! the user's sessions are listed and revoked from a request
//! ([`Session::devices`], [`Session::revoke_other_devices`]) or from outside one
//! ([`Users`]), on every store that offers an index ([`SessionStore::users`]);
//! [`SessionEvent`]s tell an audit log what happened.
//!
//! # Example
//!
//! One request after another, the way an HTTP layer drives a session:
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
//! let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
//!
//! let session = Session::new(store.clone(), Expiry::default(), None);
//! session.set("cart", &vec!["apple", "pear"]).await?;
//! session.flash("message", &"Added to cart").await?;
//! let token = match session.commit().await? {
//!     TokenUpdate::Send(token) => token,   // put it in the Set-Cookie header
//!     other => panic!("expected a token, got {other:?}"),
//! };
//!
//! let next = Session::new(store.clone(), Expiry::default(), Some(token));
//! let cart: Vec<String> = next.get("cart").await?.unwrap_or_default();
//! assert_eq!(cart, ["apple", "pear"]);
//! assert_eq!(next.pull::<String>("message").await?.as_deref(), Some("Added to cart"));
//! assert_eq!(next.increment("visits", 1).await?, 1);
//! next.commit().await?;
//! # Ok(()) }
//! ```
//!
//! # The request life cycle
//!
//! - Loading is lazy: a request that never touches its session makes no store call.
//! - A session that was never written is never stored and sets no cookie.
//! - A loaded, unchanged session writes nothing (stores that cannot refresh the idle
//!   deadline on load, like the cookie store, re-send it).
//! - A changed session is saved once, after the handler ([`Session::commit`]).
//! - A request that only writes does not load when the store merges writes per key
//!   ([`MergeStore`]), and does not age flash data.
//!
//! # Flash data
//!
//! `flash(k, v)` in request N makes `k` readable for the rest of N and throughout the
//! next request that *reads flash data* (`get`, `has` or `pull` of a key that holds
//! flash data, or `all` / `keys`); when that request saves, `k` is gone unless it was
//! flashed again, kept ([`Session::keep`]) or reflashed. Requests that read no flash
//! data (a favicon, a health check, a write-only request, an AJAX call that reads
//! only `user`) age nothing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
pub mod cookie;
mod entries;
mod error;
mod events;
mod expiry;
mod flash;
mod id;
mod keyed;
mod memory;
mod plan;
mod record;
pub mod redact;
mod session;
pub mod store;
mod text;
pub mod users;
mod value;

pub use error::{Error, Result};
pub use events::{EventSink, SessionEvent};
pub use expiry::{now_ms, Expiry};
pub use id::SessionId;
pub use memory::MemoryStore;
pub use record::{Record, RecordBuilder, StoredValue};
pub use session::{Session, TokenUpdate, CSRF_TOKEN_KEY, MAX_CANDIDATES, REMEMBER_KEY};
pub use store::{Change, Edit, MergeStore, Seen, SessionStore, DEFAULT_MAX_SESSION_BYTES};
pub use users::{Device, Registry, UserIndex, Users, DEVICE_KEY, USER_KEY};
