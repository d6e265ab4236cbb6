//! [`SqliteStore`]: one row per session in an SQLite file, written by
//! compare-and-set on a version.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::now_ms;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::Row as _;

use crate::cas::{NewRow, Renewal, Row, Rows};
use crate::cas_users::{index_table, Indexed, UserRows};
use crate::row::{ms, unsigned};
use crate::shared::Shared;
use crate::{pool, Error, SqliteSettings};

/// Sessions in an SQLite database file (SQLite 3.35 or newer; the driver bundles
/// its own):
///
/// ```sql
/// CREATE TABLE sessions (
///     id         TEXT PRIMARY KEY NOT NULL,   -- sha256 of the session id, hex
///     created_ms INTEGER NOT NULL,            -- unix ms
///     touched_ms INTEGER NOT NULL,            -- last write, for the idle timeout
///     expires_ms INTEGER NOT NULL,            -- deadline at the last write, rounded up (indexed)
///     version    INTEGER NOT NULL DEFAULT 0,  -- one more at every write
///     data       BLOB NOT NULL                -- {"key": ["<value as JSON text>", is_flash]}
/// ) WITHOUT ROWID;
/// ```
///
/// The database runs in WAL mode (readers never wait for the writer) with
/// `synchronous = NORMAL`: a power cut can lose the last writes, never corrupt the
/// file. A write waits for SQLite's one write lock up to `acquire_timeout_ms`.
///
/// A load is one `SELECT`. A save is one `UPDATE` of the whole session on the
/// condition that no other request wrote since this one loaded (the version it
/// read); when one did, the store reads the row again and applies this request's
/// changes key by key to what it finds, so concurrent requests that change
/// different keys all keep their writes and counters all count. `regenerate` moves
/// the row in one transaction; a background task deletes expired rows; a session
/// larger than `max_session_bytes` is refused (413) and never stored, however many
/// requests write at once.
///
/// ```no_run
/// use std::sync::Arc;
/// use session_core::{Expiry, Session};
/// use session_sql::{SqliteSettings, SqliteStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = SqliteSettings::default().with_path("sessions.db");
/// let store = Arc::new(SqliteStore::connect(&settings).await?);
/// let session = Session::new(store, Expiry::default(), None);
/// session.set("user", "ada").await?;
/// session.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Shared<sqlx::Sqlite>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug("SqliteStore", f)
    }
}

impl SqliteStore {
    /// Opens the database file `[sqlite]` names (creating it when missing), creates the
    /// table when `migrate` is on, and starts the task that deletes expired rows
    /// (on the current Tokio runtime).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use session_sql::{SqliteSettings, SqliteStore};
    ///
    /// # async fn run() -> Result<(), session_sql::Error> {
    /// let store = SqliteStore::connect(&SqliteSettings::default().with_path("/tmp/app-sessions.db")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(settings: &SqliteSettings) -> Result<Self, Error> {
        Error::checked(settings.validate())?;
        let target = format!("sqlite:{}", settings.path);
        let wait = Duration::from_millis(settings.acquire_timeout_ms);
        let memory = settings.path == ":memory:";
        let options = SqliteConnectOptions::new()
            .filename(&settings.path)
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            // The user index's rows go with their session's (ON DELETE CASCADE).
            .foreign_keys(true)
            .busy_timeout(wait);
        // An in-memory database lives as long as its one connection.
        let pool = pool::options::<sqlx::Sqlite>(if memory { 1 } else { settings.pool_size }, wait)
            .min_connections(u32::from(memory))
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .acquire_timeout(wait)
            .connect_with(options)
            .await
            .map_err(|source| Error::Database {
                store: "sqlite",
                target: target.clone(),
                source,
            })?;
        Self::with_target(pool, settings, target).await
    }

    /// The store over a pool the application already has (its `url`, `pool_size`
    /// and `acquire_timeout_ms` are the pool's business; the other settings apply):
    /// creates the table when `migrate` is on, and starts the cleanup task.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use session_sql::{SqliteSettings, SqliteStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::SqlitePool::connect("sqlite:/tmp/app.db?mode=rwc").await?;
    /// let store = SqliteStore::from_pool(pool, &SqliteSettings::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: SqlitePool, settings: &SqliteSettings) -> Result<Self, Error> {
        Error::checked(settings.validate())?;
        Self::with_target(pool, settings, "the application's pool".to_owned()).await
    }

    async fn with_target(
        pool: SqlitePool,
        settings: &SqliteSettings,
        target: String,
    ) -> Result<Self, Error> {
        let (inner, stopped) = Shared::new(
            "sqlite",
            pool,
            &settings.table,
            target,
            settings.max_session_bytes,
        );
        let store = SqliteStore { inner };
        if settings.migrate {
            store.migrate().await?;
        }
        store.inner.clean_up(
            Duration::from_millis(settings.cleanup_interval_ms),
            settings.cleanup_batch,
            stopped,
            delete_batch,
        );
        Ok(store)
    }

    /// The SQL that creates the store's table with its deadline index, and the
    /// index of users' sessions (`{table}_users`, whose rows go with their
    /// session's: the connection needs `PRAGMA foreign_keys = ON`, as the store's
    /// own and sqlx's default connections have), what `migrate = true` runs, for
    /// `table`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sql = session_sql::SqliteStore::migration("app_sessions");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS app_sessions"));
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS app_sessions_users"));
    /// ```
    pub fn migration(table: &str) -> String {
        let users = index_table(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
                 id TEXT PRIMARY KEY NOT NULL, \
                 created_ms INTEGER NOT NULL, \
                 touched_ms INTEGER NOT NULL, \
                 expires_ms INTEGER NOT NULL, \
                 version INTEGER NOT NULL DEFAULT 0, \
                 data BLOB NOT NULL) WITHOUT ROWID; \
             CREATE INDEX IF NOT EXISTS {table}_expires_ms ON {table} (expires_ms); \
             CREATE TABLE IF NOT EXISTS {users} (\
                 id TEXT PRIMARY KEY NOT NULL REFERENCES {table} (id) ON DELETE CASCADE, \
                 user_id TEXT NOT NULL, \
                 device TEXT NOT NULL) WITHOUT ROWID; \
             CREATE INDEX IF NOT EXISTS {table}_users_user_id ON {users} (user_id)"
        )
    }

    /// Runs [`migration`](Self::migration) in one transaction (SQLite runs one
    /// writer at a time, so servers starting together do not race).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(store: session_sql::SqliteStore) -> Result<(), session_sql::Error> {
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(|e| self.inner.failed(e))?;
        sqlx::raw_sql(&Self::migration(&self.inner.table))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.inner.failed(e))?;
        tx.commit().await.map_err(|e| self.inner.failed(e))
    }

    /// Deletes the expired rows now (the background task does this every
    /// `cleanup_interval_ms`); how many.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(store: session_sql::SqliteStore) -> Result<(), session_sql::Error> {
    /// let deleted = store.delete_expired().await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_expired(&self) -> Result<u64, Error> {
        self.inner.delete_expired(delete_batch).await
    }

    /// The table's name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(store: session_sql::SqliteStore) {
    /// assert_eq!(store.table(), "sessions");
    /// # }
    /// ```
    pub fn table(&self) -> &str {
        &self.inner.table
    }
}

/// One statement deleting up to `batch` expired rows of `table`; how many.
async fn delete_batch(pool: SqlitePool, table: String, batch: u32) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE expires_ms <= ? LIMIT ?)"
    );
    Ok(sqlx::query(&sql)
        .bind(ms(now_ms()))
        .bind(i64::from(batch))
        .execute(&pool)
        .await?
        .rows_affected())
}

/// The row `SELECT created_ms, touched_ms, version, data` gave.
fn read_row(row: &sqlx::sqlite::SqliteRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        created_ms: unsigned(row.try_get(0)?),
        touched_ms: unsigned(row.try_get(1)?),
        version: row.try_get(2)?,
        data: row.try_get(3)?,
    })
}

#[async_trait]
impl Rows for SqliteStore {
    async fn select(&self, key: &str, now: u64) -> Result<Option<Row>, session_core::Error> {
        let sql = format!(
            "SELECT created_ms, touched_ms, version, data FROM {} WHERE id = ? AND expires_ms > ?",
            self.inner.table
        );
        let row = sqlx::query(&sql)
            .bind(key)
            .bind(ms(now))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        row.as_ref()
            .map(read_row)
            .transpose()
            .map_err(|e| self.inner.core(e))
    }

    async fn update(
        &self,
        key: &str,
        version: Option<i64>,
        row: &NewRow,
    ) -> Result<bool, session_core::Error> {
        let sql = format!(
            "UPDATE {} SET data = ?, touched_ms = ?, expires_ms = ?, version = version + 1 \
             WHERE id = ? AND expires_ms > ?{}",
            self.inner.table,
            if version.is_some() {
                " AND version = ?"
            } else {
                ""
            }
        );
        let mut query = sqlx::query(&sql)
            .bind(&row.data)
            .bind(ms(row.touched_ms))
            .bind(ms(row.expires_ms))
            .bind(key)
            .bind(ms(row.touched_ms));
        if let Some(version) = version {
            query = query.bind(version);
        }
        let done = query
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, key: &str, version: Option<i64>) -> Result<bool, session_core::Error> {
        let sql = format!(
            "DELETE FROM {} WHERE id = ?{}",
            self.inner.table,
            if version.is_some() {
                " AND version = ?"
            } else {
                ""
            }
        );
        let mut query = sqlx::query(&sql).bind(key);
        if let Some(version) = version {
            query = query.bind(version);
        }
        let done = query
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert(&self, key: &str, row: &NewRow) -> Result<(), session_core::Error> {
        insert(&self.inner.pool, &self.inner.table, key, row)
            .await
            .map_err(|e| self.inner.core(e))
    }

    async fn replace(
        &self,
        old: Option<&str>,
        renewed: Renewal<'_>,
    ) -> Result<(), session_core::Error> {
        let table = &self.inner.table;
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(|e| self.inner.core(e))?;
        let mut taken = None;
        if let Some(old) = old {
            // A write first, so the transaction holds the write lock from its start.
            let sql = format!(
                "DELETE FROM {table} WHERE id = ? RETURNING created_ms, touched_ms, version, data"
            );
            let row = sqlx::query(&sql)
                .bind(old)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.inner.core(e))?;
            taken = row
                .as_ref()
                .map(read_row)
                .transpose()
                .map_err(|e| self.inner.core(e))?;
        }
        let (key, row) = renewed(taken)?;
        insert(&mut *tx, table, &key, &row)
            .await
            .map_err(|e| self.inner.core(e))?;
        tx.commit().await.map_err(|e| self.inner.core(e))
    }

    fn cap(&self) -> usize {
        self.inner.max_session_bytes
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }
}

/// Inserts `row` as `key`, version 0.
async fn insert<'e, E>(executor: E, table: &str, key: &str, row: &NewRow) -> Result<(), sqlx::Error>
where
    E: sqlx::SqliteExecutor<'e>,
{
    let sql = format!(
        "INSERT INTO {table} (id, created_ms, touched_ms, expires_ms, version, data) \
         VALUES (?, ?, ?, ?, 0, ?)"
    );
    sqlx::query(&sql)
        .bind(key)
        .bind(ms(row.created_ms))
        .bind(ms(row.touched_ms))
        .bind(ms(row.expires_ms))
        .bind(&row.data)
        .execute(executor)
        .await?;
    Ok(())
}

#[async_trait]
impl UserRows for SqliteStore {
    async fn bind_row(
        &self,
        key: &str,
        user_id: &str,
        device: &str,
    ) -> Result<(), session_core::Error> {
        let table = &self.inner.table;
        let users = index_table(table);
        let sql = format!(
            "INSERT INTO {users} (id, user_id, device) \
             SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM {table} WHERE id = ?) \
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, device = excluded.device"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(user_id)
            .bind(device)
            .bind(key)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        Ok(())
    }

    async fn sessions_of(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<Indexed>, session_core::Error> {
        let table = &self.inner.table;
        let users = index_table(table);
        let sql = format!(
            "SELECT u.id, u.device, s.created_ms, s.touched_ms \
             FROM {users} u JOIN {table} s ON s.id = u.id \
             WHERE u.user_id = ? AND s.expires_ms > ? \
             ORDER BY s.created_ms DESC, u.device DESC"
        );
        let found = sqlx::query(&sql)
            .bind(user_id)
            .bind(ms(now))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        found
            .iter()
            .map(|row: &sqlx::sqlite::SqliteRow| {
                Ok(Indexed {
                    key: row.try_get(0)?,
                    device: row.try_get(1)?,
                    created_ms: unsigned(row.try_get(2)?),
                    touched_ms: unsigned(row.try_get(3)?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.inner.core(e))
    }

    async fn delete_keys(&self, keys: &[String], now: u64) -> Result<u64, session_core::Error> {
        let mut deleted = 0;
        for chunk in keys.chunks(100) {
            let sql = format!(
                "DELETE FROM {} WHERE expires_ms > ? AND id IN ({})",
                self.inner.table,
                vec!["?"; chunk.len()].join(", ")
            );
            let done = {
                let mut query = sqlx::query(&sql).bind(ms(now));
                for key in chunk {
                    query = query.bind(key);
                }
                query.execute(&self.inner.pool)
            }
            .await
            .map_err(|e| self.inner.core(e))?;
            deleted += done.rows_affected();
        }
        Ok(deleted)
    }
}

cas_stores!(SqliteStore);
