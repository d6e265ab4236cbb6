//! The SQL session store, on [`sqlx`]: PostgreSQL (feature `postgres`, the default).
//!
//! One row per session, keyed by the digest of its id (a leaked table holds no usable
//! token), with the values in a JSONB object. The database merges each request's
//! changes per key in one `UPDATE`, so concurrent requests that change different keys
//! both keep their writes and `increment` counts atomically; `regenerate` moves the
//! row in one transaction; a bounded background task deletes expired rows; sessions
//! larger than `max_session_bytes` are refused (413). The store creates its table
//! ([`PostgresStore::migration`]) unless told not to.
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

#[cfg(any(feature = "mysql", feature = "sqlite"))]
#[macro_use]
mod cas;
mod cleanup;
mod error;
mod keys;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod settings;
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
