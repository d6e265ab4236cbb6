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
//! One hash per session, key `{namespace}:{sha256(id) as 64 hex digits}`, expiring at
//! the session's deadline (`PEXPIREAT`):
//!
//! | field | value |
//! |---|---|
//! | `#c` | creation time, unix milliseconds, decimal |
//! | `=` + key | `p` (persistent) or `f` (flash), then the value's JSON |
//!
//! Anything else under a session key (another type, a hash without `#c`, a value
//! without its kind byte) is logged at warn and treated as no session.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod scripts;
mod store;

pub use error::Error;
pub use store::RedisStore;
