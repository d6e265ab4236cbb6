//! The Redis session store, for apps that run on several servers: one node (with a
//! reconnecting `ConnectionManager`) or Redis Cluster, chosen by configuration.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_core::{SessionConfig, Session, TokenUpdate};
//! use session_redis::RedisStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::from_toml_str(r#"
//!     default = "redis"
//!     [redis]
//!     host = "127.0.0.1"
//!     port = 6379
//!     options = { db = 1 }
//!     timeout = 3600
//!     namespace = "masonite4"
//! "#)?;
//! let store = Arc::new(RedisStore::connect(&config.redis).await?);
//! let session = Session::new(store, config.expiry(), None);
//! session.set("user", "ada").await?;
//! let TokenUpdate::Send(id) = session.commit().await? else { unreachable!() };
//! # Ok(()) }
//! ```
//!
//! # Stored format (version 2)
//!
//! One string value per session, key `{namespace}:{sha256(id) as 64 hex digits}`,
//! expiring at the session's deadline (the key's TTL). The value is a 17-byte header
//! and a MessagePack map:
//!
//! | bytes | what |
//! |---|---|
//! | `02` | format version 2 |
//! | 8 bytes | revision: changes with every save |
//! | 8 bytes | creation time, unix milliseconds, big-endian |
//! | map header (`8N`, `de`, `df`) | the values |
//! | per value: str, str | the key; `p` (persistent) or `f` (flash) then the value's JSON |
//!
//! Test vector: a session at revision 9, created at 1 ms, holding flash `a` = `1` is
//! `02 00 00 00 00 00 00 00 09 00 00 00 00 00 00 00 01 81 a1 61 a2 66 31` (see
//! [`format`](mod@format)).
//!
//! A load is one native `GETEX key PX idle`. A save is one Lua script: when the stored
//! revision is still the one the request loaded, it writes the request's whole session
//! (a compare of 9 bytes and a `SET`); when another request saved meanwhile, it merges
//! this request's changed and removed keys into the stored value with Redis's
//! built-in `cmsgpack`, so both requests keep their writes. Anything else under a
//! session key (another type, bytes that are not this format, a value without its
//! kind byte, a value of format 1) is logged at warn and treated as no session.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod format;
mod scripts;
mod store;

pub use error::Error;
pub use store::RedisStore;
