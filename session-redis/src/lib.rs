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
//! # Guarantees
//!
//! - **Bounded size**: a save that would store more than `max_session_bytes` (default
//!   256 KiB) is refused with `TooLarge` (413 over HTTP) and writes nothing; however
//!   a session is used, its stored value stays within a small factor of its live data
//!   (appended changes are compacted, write-only saves included).
//! - **No lost writes**: concurrent requests that change different keys both keep
//!   them; `increment` is stored as an increment and applied in order, so concurrent
//!   increments all count; `regenerate` carries over every change stored under the old
//!   id up to the moment it is destroyed.
//! - **Complete removal**: a save that leaves the session empty (a write-only delete
//!   of its last key included) removes the key.
//! - **Bounded waits, healing connections**: a call gives up after the response
//!   timeout (connect + response while the connection is being made); a connection
//!   that stops answering is replaced after one call on it times out.
//! - **Checked at startup**: [`RedisStore::connect`] pings Redis and names the cause
//!   of a failure; [`RedisStore::connect_lazy`] starts without it.
//!
//! # Stored format (version 3)
//!
//! One string value per session, key `{namespace}:{sha256(id) as 64 hex digits}`,
//! expiring at the session's deadline (the key's TTL). The value is a 13-byte header,
//! a snapshot of the session, and the changes saved since, in order:
//!
//! | bytes | what |
//! |---|---|
//! | `03` | format version 3 |
//! | 4 bytes | revision: new at every whole write |
//! | 8 bytes | creation time, unix milliseconds, big-endian |
//! | map header (`8N`, `de`, `df`) | the snapshot's values |
//! | per value: str, str | the key; `p` (persistent) or `f` (flash) then the value's JSON |
//! | per change since: (`c3`), map | `c3` when the session was flushed first; then a map from key to value (as above), `c0` (nil: removed), or an increment (`i` persistent or `j` flash, then the signed decimal amount) |
//!
//! Test vector: a session at revision 9, created at 1 ms, holding flash `a` = `1` is
//! `03 00 00 00 09 00 00 00 00 00 00 00 01 81 a1 61 a2 66 31`; a save that then
//! removes `b` and sets `c` to flash `3` appends `82 a1 62 c0 a1 63 a2 66 33` (see
//! [`format`](mod@format)).
//!
//! A load is one native `GETEX key PX idle`; the absolute `lifetime` is checked against
//! the creation time in the value, with the current settings (a session past it is
//! deleted and the request starts afresh). A save of a request that loaded the
//! session is one native `APPEND` of its change: concurrent requests' changes land
//! one after the other, so each keeps its writes and the last writer of a key wins,
//! and Redis does no more work than for a plain `SET`. `APPEND` under a key that is
//! gone (destroyed or expired since the load) leaves a value with no header, which is
//! never read as a session; the store deletes it at once (one more round trip, only in
//! that case) and the request starts a fresh session, so a destroyed session never
//! comes back. When the appended changes outgrow a share of the snapshot (half of it,
//! between 128 bytes and 1 KiB), the save is a Lua script that writes the session
//! whole, compacted, followed by the changes other requests appended since its load
//! and its own change once more (so the last writer of a key still wins), unless
//! another save compacted since (a new revision), in which case it appends. Saves of requests that did not
//! load, and saves that start or replace a session, are scripts too; one that did not
//! load gets the value back when it has grown past a power of two from 4 KiB (or
//! when it only removed keys), and the store then writes it whole again, compacted
//! (or removes it, when empty). Anything else
//! under a session key (another type, bytes that are not this format, a value without
//! its kind byte, a value of format 1 or 2) is logged at warn and treated as no
//! session.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod format;
mod scripts;
mod store;

pub use error::Error;
pub use store::RedisStore;
