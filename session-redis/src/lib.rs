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
//! # Stored format (version 1)
//!
//! One string value per session, key `{namespace}:{sha256(id) as 64 hex digits}`,
//! expiring at the session's deadline (the key's TTL). The value is MessagePack:
//!
//! | bytes | what |
//! |---|---|
//! | `93` | an array of 3 |
//! | `01` | format version 1 |
//! | `cf` + 8 bytes | creation time, unix milliseconds, big-endian |
//! | map header (`8N`, `de`, `df`) | the values |
//! | per value: str, str | the key; `p` (persistent) or `f` (flash) then the value's JSON |
//!
//! Test vector: a session created at 1 ms holding flash `a` = `1` is
//! `93 01 cf 00 00 00 00 00 00 00 01 81 a1 61 a2 66 31` (see [`format`](mod@format)). A load is one
//! native `GETEX key PX idle`; a save is one Lua script that merges the request's
//! changed and removed keys into the stored value with Redis's built-in `cmsgpack`.
//! Anything else under a session key (another type, bytes that are not this format, a
//! value without its kind byte) is logged at warn and treated as no session.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod format;
mod scripts;
mod store;

pub use error::Error;
pub use store::RedisStore;
