//! The Redis session store, for apps that run on several servers: one node (with a
//! reconnecting `ConnectionManager`), a master found through Redis Sentinel, or Redis
//! Cluster, chosen by configuration.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_core::{Expiry, Session, TokenUpdate};
//! use session_redis::{RedisSettings, RedisStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The `[redis]` table of session.toml.
//! let settings: RedisSettings = toml::from_str(r#"
//!     host = "127.0.0.1"
//!     port = 6379
//!     options = { db = 1 }
//!     namespace = "masonite4"
//! "#)?;
//! let store = Arc::new(RedisStore::connect(&settings).await?);
//! let session = Session::new(store, Expiry::default(), None);
//! session.set("user", "ada").await?;
//! let TokenUpdate::Send(id) = session.commit().await? else { unreachable!() };
//!
//! // The same settings made in code.
//! let same = RedisSettings::default().with_db(1).with_namespace("masonite4");
//! assert_eq!(same, settings);
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
//! - **A near-cache, invalidated by Redis** (one node, Sentinel or Cluster;
//!   `near_cache = false` turns it off): a hot session is read from this process's memory, with no round trip, and
//!   a write that appends onto the session as loaded keeps the result there. Redis
//!   announces every change to a session key of the namespace to every app server
//!   (RESP3 client tracking, broadcast mode for the `{namespace}:` prefix), and the
//!   copy is dropped then: from that notice on (typically well under a millisecond
//!   after the write is answered) no read is served from the old copy. A request that
//!   reaches another app server *before* the notice sees the session as it was; with
//!   a balancer that does not keep a user on one server, and requests that must see
//!   the previous request's writes, use sticky sessions or turn the cache off. A lost
//!   or replaced connection, a restart of Redis, or a `FLUSHALL` empties the cache.
//!   **Staleness bound**: the cache serves only while its invalidation channel is
//!   proven alive by a heartbeat (a `PING` every `near_cache_heartbeat_ms`, 500 by
//!   default, on the connection that carries the notices); a heartbeat unanswered
//!   within the response timeout empties the cache and replaces the connection. So
//!   a session changed, signed out or regenerated through another app server is
//!   never served from this cache later than `near_cache_heartbeat_ms +
//!   response_timeout_ms` after the change (1 s by default), even over a connection
//!   that went silent without an error (half-open).
//!   On a cluster, tracking is on for every master's connection, and no read is
//!   cached unless tracking was on for the connection it came over: a read that may
//!   fill the cache carries `CLIENT TRACKING ON` in the same pipeline to the same
//!   node, so a connection the cluster client made by itself (after a failover, a
//!   lost connection) is tracked before its first read, and finding it untracked
//!   empties the cache (its node's earlier notices may be lost). The heartbeat is
//!   `CLIENT TRACKING ON` on every master, so an untracked or silent master
//!   connection is found within one heartbeat; while a master does not answer,
//!   reads are served from Redis without caching.
//!
//!   | topology | a change elsewhere is never served later than | measured on loopback |
//!   |---|---|---|
//!   | one node | `near_cache_heartbeat_ms + response_timeout_ms` (1 s) | the notice: under 1 ms; a silent connection: within the bound |
//!   | Sentinel | the same, on the current master's connection; a failover replaces it and empties the cache | as one node |
//!   | Cluster | the same, on every master's connection; a connection made after a failover is tracked before it fills the cache | after a master kill and failover: under 1 ms (0.36-0.98 ms in tests) |
//!
//! **Connections heal**, on one node and on a cluster alike: a connection that
//! stops answering without an error (half-open) is replaced after the first call,
//! or near-cache heartbeat, that times out on it; on a cluster the client's
//! connections to every node are made again. Writes succeed again within
//! `connect_timeout_ms + response_timeout_ms` (with the near-cache, the heartbeat
//! usually finds the silent connection first: within `near_cache_heartbeat_ms`
//! more, and no request meets it).
//!   The idle deadline in Redis is refreshed when it has moved by 1% of the timeout,
//!   as for the cookie store. **Memory bound**: the cached sessions weigh at most
//!   `near_cache_bytes` (64 MiB by default), each counted with its keys, values and
//!   bookkeeping; a session heavier than a 64th of that (1 MiB by default) is never
//!   cached. [`RedisStore::near_cache_stats`] counts hits, misses and bytes held.
//!
//! # Sentinel
//!
//! With `sentinel = { master = "NAME", nodes = ["host:port", ...] }`, the store asks
//! the sentinels for the master (at startup, and whenever it may have moved), listens
//! for their `+switch-master` announcements, and asks again after a call fails in a
//! way a failover explains (a lost connection, a timeout, a `READONLY` answer from a
//! demoted master). While no master is known, requests answer 503; none hangs past
//! the time limits. Redis replicates asynchronously: a write acknowledged by a master
//! moments before it dies may not have reached the replica that replaces it.
//!
//! ```toml
//! [redis]
//! sentinel = { master = "mymaster", nodes = ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"] }
//! password = "the master's password"
//! ```
//!
//! # TLS
//!
//! With the `tls` feature (rustls, with its `ring` provider), `url = "rediss://..."`
//! or `tls = true` connects over TLS, verifying the server's certificate against the
//! system's roots, or against the CAs of `tls_ca_file` (a PEM file) for a server a
//! private CA signed. Without the feature, a TLS setting is refused at startup with
//! the feature to turn on.
//!
//! ```toml
//! [redis]
//! url = "rediss://:secret@redis.internal:6380/1"
//! tls_ca_file = "/etc/ssl/redis-ca.pem"
//! ```
//!
//! # How it stores sessions
//!
//! One string value per session under `{namespace}:{sha256(id) as 64 hex digits}`,
//! expiring at the session's deadline (the key's TTL): a snapshot followed by the
//! changes saved since. A load is one `GETEX`; a save of a request that loaded is one
//! `APPEND` of its change, so concurrent requests each keep their writes and Redis
//! does no more work than for a `SET`; the store writes the value whole again
//! (compacted) when the changes have grown. The [`format`](mod@format) module has the
//! byte layout and a test vector. Anything else under a session key is logged and
//! treated as no session.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod format;
mod near_cache;
mod scripts;
mod sentinel;
mod settings;
mod store;
mod tls;

pub use error::Error;
pub use near_cache::NearCacheStats;
pub use settings::{RedisOptions, RedisSettings, SentinelSettings};
pub use store::{RedisRegistry, RedisStore};
