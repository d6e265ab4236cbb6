//! [`PostgresStore`]: one row per session, the values a JSONB object that the
//! database merges per key.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{now_ms, SessionId};
use sqlx::postgres::PgPool;
use sqlx::Row as _;

use crate::cas::{NewRow, Renewal, Row, Rows};
use crate::row::{ms, unsigned};
use crate::shared::Shared;
use crate::{pool, Error, PostgresSettings};

mod registry;
mod users;

pub use registry::PostgresRegistry;

/// Sessions in a PostgreSQL table:
///
/// ```sql
/// CREATE TABLE sessions (
///     id         TEXT PRIMARY KEY,            -- sha256 of the session id, hex
///     created_ms BIGINT NOT NULL,             -- unix ms
///     touched_ms BIGINT NOT NULL,             -- last write, for the idle timeout
///     expires_ms BIGINT NOT NULL,             -- deadline at the last write, rounded up (indexed)
///     version    BIGINT NOT NULL DEFAULT 0,   -- one more at every write
///     data       BYTEA  NOT NULL              -- {"key": ["<value as JSON text>", is_flash]}
/// );
/// ```
///
/// A load is one `SELECT`. A save is one `UPDATE` of the whole session on the
/// condition that no other request wrote since this one loaded (the version it
/// read), the cost of an overwrite; when one did, the store reads the row again and
/// applies this request's changes key by key to what it finds, so concurrent
/// requests that change different keys all keep their writes and counters all
/// count. A request that writes without reading first reads the row, then writes
/// it on its version. `regenerate` moves the row in one transaction. A background
/// task deletes expired rows. A session larger than `max_session_bytes` is refused
/// (413) and never stored, however many requests write at once.
///
/// Whether a session is alive is decided by its last write (`touched_ms`) under the
/// store's current [`Expiry`]. `expires_ms` only tells the cleanup which rows to
/// delete: it is the deadline rounded up to 1% of the time left, so the writes of an
/// active session mostly leave it as it is, and PostgreSQL can update the row in
/// place without touching its indexes (a HOT update). The cleanup therefore deletes
/// a row up to 1% of the timeout after its session expired, never before.
///
/// Tables made by earlier versions (`data JSONB`, no `version`) are converted by the
/// migration, once.
///
/// ```no_run
/// use std::sync::Arc;
/// use session_core::{Expiry, Session};
/// use session_sql::{PostgresSettings, PostgresStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let settings: PostgresSettings = toml::from_str(r#"url = "postgres://127.0.0.1/app""#)?;
/// let store = Arc::new(PostgresStore::connect(&settings).await?);
/// let session = Session::new(store, Expiry::default(), None);
/// session.set("user", "ada").await?;
/// session.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Shared<sqlx::Postgres>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug("PostgresStore", f)
    }
}

impl PostgresStore {
    /// Connects as `[postgres]` says, checks that the database answers, creates the
    /// table when `migrate` is on, and starts the task that deletes expired rows
    /// (on the current Tokio runtime).
    pub async fn connect(settings: &PostgresSettings) -> Result<Self, Error> {
        let (pool, target) = Self::pool(settings).await?;
        Self::with_target(pool, settings, target).await
    }

    /// The pool `[postgres]` describes, checked to answer, and its redacted URL.
    async fn pool(settings: &PostgresSettings) -> Result<(PgPool, String), Error> {
        Error::checked(settings.validate())?;
        let target = session_core::redact::url(&settings.url);
        let pool = pool::options::<sqlx::Postgres>(
            settings.pool_size,
            Duration::from_millis(settings.acquire_timeout_ms),
        )
        .connect(&settings.url)
        .await
        .map_err(|source| Error::Database {
            store: "postgres",
            target: target.clone(),
            source,
        })?;
        Ok((pool, target))
    }

    /// The store over a pool the application already has (its `url`, `pool_size`
    /// and `acquire_timeout_ms` are the pool's business; the other settings apply):
    /// creates the table when `migrate` is on, and starts the cleanup task.
    ///
    /// ```no_run
    /// use session_sql::{PostgresSettings, PostgresStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::PgPool::connect("postgres://app@127.0.0.1/app").await?;
    /// let settings = PostgresSettings::default().with_table("app_sessions");
    /// let store = PostgresStore::from_pool(pool, &settings).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: PgPool, settings: &PostgresSettings) -> Result<Self, Error> {
        Error::checked(settings.validate())?;
        Self::with_target(pool, settings, "the application's pool".to_owned()).await
    }

    async fn with_target(
        pool: PgPool,
        settings: &PostgresSettings,
        target: String,
    ) -> Result<Self, Error> {
        let (store, stopped) = Self::bare(pool, settings, target);
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

    /// The store over `pool`, without migration or cleanup task; the receiver ends
    /// when its last clone is dropped.
    fn bare(
        pool: PgPool,
        settings: &PostgresSettings,
        target: String,
    ) -> (Self, tokio::sync::watch::Receiver<()>) {
        let (inner, stopped) = Shared::new(
            "postgres",
            pool,
            &settings.table,
            target,
            settings.max_session_bytes,
        );
        let store = PostgresStore { inner };
        (store, stopped)
    }

    /// The SQL that creates the store's table, its deadline index and the index of
    /// users' sessions (`{table}_users`, see the crate docs), what `migrate = true`
    /// runs, for `table`. A table made by an earlier version gains the `version`
    /// column and its JSONB `data` becomes the same JSON text as `BYTEA`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sql = session_sql::PostgresStore::migration("app.sessions");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS app.sessions"));
    /// ```
    pub fn migration(table: &str) -> String {
        let index = table.rsplit('.').next().unwrap_or(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
                 id TEXT PRIMARY KEY, \
                 created_ms BIGINT NOT NULL, \
                 touched_ms BIGINT NOT NULL, \
                 expires_ms BIGINT NOT NULL, \
                 version BIGINT NOT NULL DEFAULT 0, \
                 data BYTEA NOT NULL); \
             CREATE INDEX IF NOT EXISTS {index}_expires_ms ON {table} (expires_ms); \
             ALTER TABLE {table} ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0; \
             DO $$ BEGIN \
                 IF (SELECT atttypid FROM pg_attribute \
                     WHERE attrelid = '{table}'::regclass AND attname = 'data') = 'jsonb'::regtype THEN \
                     ALTER TABLE {table} ALTER COLUMN data TYPE BYTEA USING convert_to(data::text, 'UTF8'); \
                 END IF; \
             END $$; {}",
            users::migration(table, index)
        )
    }

    /// Runs [`migration`](Self::migration), one app server at a time (an advisory
    /// lock), so servers starting together do not race.
    pub async fn migrate(&self) -> Result<(), Error> {
        // A table of the current layout needs no DDL: none runs, so app servers
        // starting beside running ones take no lock that would stall their requests
        // (`ALTER TABLE` waits for every statement on the table and blocks the next).
        let table = &self.inner.table;
        let current: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attname = 'version' AND NOT attisdropped) \
             AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attname = 'data' AND atttypid = 'bytea'::regtype) \
             AND to_regclass($2) IS NOT NULL",
        )
        .bind(table)
        .bind(format!("{table}_users"))
        .fetch_one(&self.inner.pool)
        .await
        .map_err(|e| self.inner.failed(e))?;
        if current {
            return Ok(());
        }
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(|e| self.inner.failed(e))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('session-sql migration'))")
            .execute(&mut *tx)
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
    pub async fn delete_expired(&self) -> Result<u64, Error> {
        self.inner.delete_expired(delete_batch).await
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The row key of a session id: the digest, never the id.
    pub fn key_of(&self, id: &SessionId) -> String {
        id.storage_key()
    }
}

/// One statement deleting up to `batch` expired rows of `table`; how many.
async fn delete_batch(pool: PgPool, table: String, batch: u32) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE expires_ms <= $1 LIMIT $2)"
    );
    Ok(sqlx::query(&sql)
        .bind(ms(now_ms()))
        .bind(i64::from(batch))
        .execute(&pool)
        .await?
        .rows_affected())
}

/// The row `SELECT created_ms, touched_ms, version, data` gave.
fn read_row(row: &sqlx::postgres::PgRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        created_ms: unsigned(row.try_get(0)?),
        touched_ms: unsigned(row.try_get(1)?),
        version: row.try_get(2)?,
        data: row.try_get(3)?,
    })
}

/// Inserts `row` as `key`, version 0.
async fn insert<'e, E>(executor: E, table: &str, key: &str, row: &NewRow) -> Result<(), sqlx::Error>
where
    E: sqlx::PgExecutor<'e>,
{
    let sql = format!(
        "INSERT INTO {table} (id, created_ms, touched_ms, expires_ms, version, data) \
         VALUES ($1, $2, $3, $4, 0, $5)"
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
impl Rows for PostgresStore {
    async fn select(&self, key: &str, now: u64) -> Result<Option<Row>, session_core::Error> {
        let sql = format!(
            "SELECT created_ms, touched_ms, version, data FROM {} WHERE id = $1 AND expires_ms > $2",
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
            "UPDATE {} SET data = $1, touched_ms = $2, expires_ms = $3, version = version + 1 \
             WHERE id = $4 AND expires_ms > $2{}",
            self.inner.table,
            if version.is_some() {
                " AND version = $5"
            } else {
                ""
            }
        );
        let query = sqlx::query(&sql)
            .bind(&row.data)
            .bind(ms(row.touched_ms))
            .bind(ms(row.expires_ms))
            .bind(key);
        let done = match version {
            Some(version) => query.bind(version),
            None => query,
        }
        .execute(&self.inner.pool)
        .await
        .map_err(|e| self.inner.core(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, key: &str, version: Option<i64>) -> Result<bool, session_core::Error> {
        let sql = format!(
            "DELETE FROM {} WHERE id = $1{}",
            self.inner.table,
            if version.is_some() {
                " AND version = $2"
            } else {
                ""
            }
        );
        let query = sqlx::query(&sql).bind(key);
        let done = match version {
            Some(version) => query.bind(version),
            None => query,
        }
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
            let sql = format!(
                "DELETE FROM {table} WHERE id = $1 RETURNING created_ms, touched_ms, version, data"
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
        "postgres"
    }
}

cas_stores!(PostgresStore);

#[cfg(test)]
mod tests {

    #[test]
    fn passwords_stay_out_of_messages() {
        let redacted = session_core::redact::url;
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
    }
}
