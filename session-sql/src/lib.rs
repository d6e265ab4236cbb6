//! The SQL session stores, on [`sqlx`]: PostgreSQL ([`PostgresStore`], feature
//! `postgres`), MySQL and MariaDB ([`MysqlStore`], feature `mysql`) and SQLite
//! ([`SqliteStore`], feature `sqlite`); all three are default features.
//!
//! One row per session, keyed by the digest of its id (a leaked table holds no usable
//! token). Concurrent requests that change different keys both keep their writes and
//! `increment` counts atomically: PostgreSQL merges each request's changes per key
//! in one `UPDATE` of a JSONB object; MySQL and SQLite write the session whole on the
//! condition that its row's version is the one the request loaded, and on a conflict
//! apply the request's changes key by key to the row as it is now. `regenerate`
//! moves the row in one transaction; a bounded background task deletes expired rows;
//! sessions larger than `max_session_bytes` are refused (413), however many requests
//! write at once. Each store creates its table and its index of users' sessions
//! (`migration()`) unless told not to.
//!
//! | | PostgreSQL | MySQL / MariaDB | SQLite |
//! |---|---|---|---|
//! | `session.toml` | `[postgres] url` | `[mysql] url` | `[sqlite] path` |
//! | a load | one `SELECT` | one `SELECT` | one `SELECT` |
//! | a save | one `UPDATE` merging in SQL | one `UPDATE` if unchanged since the load, else read + `UPDATE` again | as MySQL |
//! | data column | `JSONB` | `LONGBLOB` (JSON text) | `BLOB` (JSON text) |
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_core::{Expiry, Session, TokenUpdate};
//! use session_sql::{PostgresSettings, PostgresStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The `[postgres]` table of session.toml.
//! let settings: PostgresSettings = toml::from_str(r#"
//!     url = "postgres://app:secret@127.0.0.1:5432/app"
//!     pool_size = 10
//!     table = "sessions"
//! "#)?;
//! let store = Arc::new(PostgresStore::connect(&settings).await?);
//! let session = Session::new(store, Expiry::default(), None);
//! session.set("user", "ada").await?;
//! let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
//! # let _ = token; Ok(()) }
//! ```
//!
//! With `session-tower` (feature `postgres-store`), `default = "postgres"` in
//! `session.toml` picks this store:
//!
//! ```toml
//! default = "postgres"
//!
//! [postgres]
//! url = "postgres://app:secret@127.0.0.1:5432/app"   # or SESSION_POSTGRES_URL / DATABASE_URL
//! pool_size = 10
//! table = "sessions"
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[macro_use]
mod cas_users;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[macro_use]
mod cas;
mod cleanup;
mod error;
mod keys;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod settings;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod shared;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use error::Error;
#[cfg(feature = "mysql")]
pub use mysql::MysqlStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresRegistry, PostgresStore};
pub use settings::{MysqlSettings, PostgresSettings, SqliteSettings};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
