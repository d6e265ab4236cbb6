//! [`PostgresStore`]: one row per session, the values a JSONB object that the
//! database merges per key.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    now_ms, Change, Edit, Expiry, MergeStore, Record, Seen, SessionId, SessionStore,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;
use tokio::sync::watch;

use crate::row::{decode, encode, indexed_deadline, ms, unsigned};
use crate::{cleanup, Error, PostgresSettings};

mod merge;
mod registry;
mod users;

pub use registry::PostgresRegistry;

use merge::Merge;

/// Sessions in a PostgreSQL table:
///
/// ```sql
/// CREATE TABLE sessions (
///     id         TEXT PRIMARY KEY,  -- sha256 of the session id, hex
///     created_ms BIGINT NOT NULL,   -- unix ms
///     touched_ms BIGINT NOT NULL,   -- last write, for the idle timeout
///     expires_ms BIGINT NOT NULL,   -- deadline at the last write, rounded up (indexed)
///     data       JSONB  NOT NULL    -- {"key": ["<value as JSON text>", is_flash]}
/// );
/// ```
///
/// Keys are stored with NUL (which neither `text` nor JSONB can hold) escaped, so any
/// key the other stores accept is held exactly; a key without NUL or U+0001 is
/// stored as it is.
///
/// A load is one `SELECT`; a save is one `UPDATE` whose new `data` the database
/// computes from the stored row (`data - removed || written`, counters added in
/// SQL), so concurrent requests that change different keys both keep their writes,
/// and concurrent increments all count. `regenerate` moves the row in one
/// transaction. A background task deletes expired rows.
///
/// Whether a session is alive is decided by its last write (`touched_ms`) under the
/// store's current [`Expiry`]. `expires_ms` only tells the cleanup which rows to
/// delete: it is the deadline rounded up to 1% of the time left, so the writes of an
/// active session mostly leave it as it is, and PostgreSQL can update the row in
/// place without touching its indexes (a HOT update). The cleanup therefore deletes
/// a row up to 1% of the timeout after its session expired, never before.
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
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    table: String,
    target: String,
    max_session_bytes: usize,
    acquire_timeout: Duration,
    /// Dropped with the last clone of the store, which ends the cleanup task.
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.inner.target)
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

/// The condition that a row's session is alive at the time in placeholder `now`,
/// under the idle timeout in `idle` and the lifetime in `lifetime` (NULL for none),
/// counted from its last write and its creation: what a load checks.
fn live(now: usize, idle: usize, lifetime: usize) -> String {
    format!("LEAST(touched_ms + ${idle}::bigint, created_ms + ${lifetime}::bigint) > ${now}")
}

/// The bytes of a JSONB session object as the core counts them: key, value text and
/// one per value.
const SIZE_OF: &str =
    "(SELECT coalesce(sum(octet_length(key) + octet_length(value->>0) + 1), 0) FROM jsonb_each(";

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
        if let Err(session_core::Error::Config { field, reason }) = settings.validate() {
            return Err(Error::Config { field, reason });
        }
        let target = session_core::redact::url(&settings.url);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
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
        if let Err(session_core::Error::Config { field, reason }) = settings.validate() {
            return Err(Error::Config { field, reason });
        }
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
        let (pool, table) = (store.inner.pool.clone(), store.inner.table.clone());
        tokio::spawn(cleanup::task(
            Duration::from_millis(settings.cleanup_interval_ms),
            settings.cleanup_batch,
            table.clone(),
            stopped,
            move |batch| {
                let (pool, table) = (pool.clone(), table.clone());
                async move { delete_batch(&pool, &table, batch).await }
            },
        ));
        Ok(store)
    }

    /// The store over `pool`, without migration or cleanup task; the receiver ends
    /// when its last clone is dropped.
    fn bare(
        pool: PgPool,
        settings: &PostgresSettings,
        target: String,
    ) -> (Self, watch::Receiver<()>) {
        let acquire_timeout = pool.options().get_acquire_timeout();
        let (stop, stopped) = watch::channel(());
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                table: settings.table.clone(),
                target,
                max_session_bytes: settings.max_session_bytes,
                acquire_timeout,
                _stop: stop,
            }),
        };
        (store, stopped)
    }

    /// The SQL that creates the store's table, its deadline index and the index of
    /// users' sessions (`{table}_users`, see the crate docs), what `migrate = true`
    /// runs, for `table`. A table made by an earlier version gains the index table.
    pub fn migration(table: &str) -> String {
        let index = table.rsplit('.').next().unwrap_or(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
                 id TEXT PRIMARY KEY, \
                 created_ms BIGINT NOT NULL, \
                 touched_ms BIGINT NOT NULL, \
                 expires_ms BIGINT NOT NULL, \
                 data JSONB NOT NULL); \
             CREATE INDEX IF NOT EXISTS {index}_expires_ms ON {table} (expires_ms); {}",
            users::migration(table, index)
        )
    }

    /// Runs [`migration`](Self::migration), one app server at a time (an advisory
    /// lock), so servers starting together do not race.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self.inner.pool.begin().await.map_err(|e| self.failed(e))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('session-sql migration'))")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(e))?;
        sqlx::raw_sql(&Self::migration(&self.inner.table))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))
    }

    /// Deletes the expired rows now (the background task does this every
    /// `cleanup_interval_ms`); how many.
    pub async fn delete_expired(&self) -> Result<u64, Error> {
        let inner = &self.inner;
        cleanup::delete_expired(1000, true, |batch| {
            delete_batch(&inner.pool, &inner.table, batch)
        })
        .await
        .map_err(|e| self.failed(e))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The row key of a session id: the digest, never the id.
    pub fn key_of(&self, id: &SessionId) -> String {
        id.storage_key()
    }

    fn failed(&self, source: sqlx::Error) -> Error {
        match source {
            sqlx::Error::PoolTimedOut => Error::Timeout {
                store: "postgres",
                target: self.inner.target.clone(),
                after: self.inner.acquire_timeout,
            },
            source => {
                tracing::warn!(target = %self.inner.target, error = %source, "session database failed");
                Error::Database {
                    store: "postgres",
                    target: self.inner.target.clone(),
                    source,
                }
            }
        }
    }

    /// Stores `record` as a new session, written at `now`; its token.
    async fn insert<'e, E>(
        &self,
        executor: E,
        record: &Record,
        now: u64,
    ) -> Result<String, session_core::Error>
    where
        E: sqlx::PgExecutor<'e>,
    {
        let id = SessionId::generate()?;
        let sql = format!(
            "INSERT INTO {} (id, created_ms, touched_ms, expires_ms, data) VALUES ($1, $2, $3, $4, $5::jsonb)",
            self.inner.table
        );
        sqlx::query(&sql)
            .bind(id.storage_key())
            .bind(ms(record.created_ms))
            .bind(ms(now))
            .bind(ms(indexed_deadline(record.expires_ms, now)))
            .bind(encode(record))
            .execute(executor)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(id.to_string())
    }

    fn within_cap(&self, size: usize) -> Result<(), session_core::Error> {
        let limit = self.inner.max_session_bytes;
        if size > limit {
            return Err(session_core::Error::TooLarge { size, limit });
        }
        Ok(())
    }
}

/// One statement deleting up to `batch` expired rows of `table`; how many.
async fn delete_batch(pool: &PgPool, table: &str, batch: u32) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE id IN \
         (SELECT id FROM {table} WHERE expires_ms <= $1 LIMIT $2)"
    );
    Ok(sqlx::query(&sql)
        .bind(ms(now_ms()))
        .bind(i64::from(batch))
        .execute(pool)
        .await?
        .rows_affected())
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn load(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<Record>, session_core::Error> {
        Ok(self
            .load_marked(token, expiry)
            .await?
            .map(|(record, _)| record))
    }

    async fn create(&self, record: &Record) -> Result<String, session_core::Error> {
        self.within_cap(record.size())?;
        self.insert(&self.inner.pool, record, now_ms()).await
    }

    async fn save(
        &self,
        token: &str,
        record: &Record,
    ) -> Result<Option<String>, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        self.within_cap(record.size())?;
        let now = now_ms();
        // A save follows the load that found the session alive in this request; the
        // row's rounded-up deadline only keeps it from reviving a session long gone.
        let sql = format!(
            "UPDATE {} SET data = $2::jsonb, touched_ms = $3, expires_ms = $4 WHERE id = $1 AND expires_ms > $3",
            self.inner.table
        );
        let updated = sqlx::query(&sql)
            .bind(id.storage_key())
            .bind(encode(record))
            .bind(ms(now))
            .bind(ms(indexed_deadline(record.expires_ms, now)))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?
            .rows_affected();
        Ok((updated == 1).then(|| token.to_owned()))
    }

    async fn destroy(&self, token: &str) -> Result<(), session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(());
        };
        let sql = format!("DELETE FROM {} WHERE id = $1", self.inner.table);
        sqlx::query(&sql)
            .bind(id.storage_key())
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    fn max_session_bytes(&self) -> usize {
        self.inner.max_session_bytes
    }

    fn merging(&self) -> Option<&dyn MergeStore> {
        Some(self)
    }

    fn users(&self) -> Result<&dyn session_core::UserIndex, session_core::Error> {
        Ok(self)
    }
}

#[async_trait]
impl MergeStore for PostgresStore {
    async fn load_marked(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<(Record, u64)>, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let now = now_ms();
        let sql = format!(
            "SELECT created_ms, touched_ms, data::text FROM {} WHERE id = $1 AND expires_ms > $2",
            self.inner.table
        );
        let row = sqlx::query(&sql)
            .bind(id.storage_key())
            .bind(ms(now))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created = unsigned(row.try_get::<i64, _>(0).map_err(|e| self.failed(e))?);
        let touched = unsigned(row.try_get::<i64, _>(1).map_err(|e| self.failed(e))?);
        let data: String = row.try_get(2).map_err(|e| self.failed(e))?;
        // The idle deadline of the last write under today's policy.
        let expires = expiry.deadline(created, touched);
        if !expiry.is_live(created, expires, now) {
            self.destroy(token).await?;
            return Ok(None);
        }
        match decode(data.as_bytes(), created, expires) {
            Some(record) => Ok(Some((record, 0))),
            None => {
                tracing::warn!(table = %self.inner.table, "undecodable session row; starting a fresh one");
                Ok(None)
            }
        }
    }

    async fn merge(
        &self,
        token: &str,
        change: &Change<'_>,
        _seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<bool, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(false);
        };
        let now = now_ms();
        let merge = Merge::new(change, 7);
        let new_data = &merge.expr;
        // One statement: the database computes the new data from the row as it is
        // when the update takes it (concurrent updates of the row wait and see each
        // other's writes), refusing a session past its deadline (from its last write,
        // under this policy) and a result past the cap.
        let sql = format!(
            "UPDATE {table} SET data = {new_data}, touched_ms = $2, \
                 expires_ms = LEAST($3::bigint, created_ms + $4::bigint) \
             WHERE id = $1 AND {live} AND {SIZE_OF}{new_data})) <= $5 \
             RETURNING data = '{{}}'::jsonb",
            table = self.inner.table,
            live = live(2, 6, 4),
        );
        let query = sqlx::query(&sql)
            .bind(id.storage_key())
            .bind(ms(now))
            .bind(ms(indexed_deadline(
                now.saturating_add(expiry.idle_ms()),
                now,
            )))
            .bind(expiry.lifetime_ms().map(ms))
            .bind(ms(self.inner.max_session_bytes as u64))
            .bind(ms(expiry.idle_ms()));
        let row = merge
            .apply(query)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        match row {
            Some(row) => {
                let empty: bool = row.try_get(0).map_err(|e| self.failed(e))?;
                if empty {
                    let sql = format!(
                        "DELETE FROM {} WHERE id = $1 AND data = '{{}}'::jsonb",
                        self.inner.table
                    );
                    sqlx::query(&sql)
                        .bind(id.storage_key())
                        .execute(&self.inner.pool)
                        .await
                        .map_err(|e| self.failed(e))?;
                }
                Ok(!empty)
            }
            None => {
                // Gone, or too large: ask which.
                let merge = Merge::new(change, 5);
                let sql = format!(
                    "SELECT {SIZE_OF}{})) FROM {} WHERE id = $1 AND {}",
                    merge.expr,
                    self.inner.table,
                    live(2, 3, 4),
                );
                let query = sqlx::query(&sql)
                    .bind(id.storage_key())
                    .bind(ms(now))
                    .bind(ms(expiry.idle_ms()))
                    .bind(expiry.lifetime_ms().map(ms));
                let size = merge
                    .apply(query)
                    .fetch_optional(&self.inner.pool)
                    .await
                    .map_err(|e| self.failed(e))?;
                match size {
                    Some(row) => {
                        let size: i64 = row.try_get(0).map_err(|e| self.failed(e))?;
                        Err(session_core::Error::TooLarge {
                            size: usize::try_from(size).unwrap_or(usize::MAX),
                            limit: self.inner.max_session_bytes,
                        })
                    }
                    None => Ok(false),
                }
            }
        }
    }

    async fn renew(
        &self,
        old: &str,
        change: &Change<'_>,
        record: &Record,
        expiry: &Expiry,
    ) -> Result<String, session_core::Error> {
        let now = now_ms();
        let mut tx = self.inner.pool.begin().await.map_err(|e| self.failed(e))?;
        // What `old` holds now, taken out in the same step as it is destroyed.
        let mut renewed = None;
        if let Some(id) = SessionId::parse(old) {
            let sql = format!(
                "DELETE FROM {} WHERE id = $1 RETURNING created_ms, touched_ms, data::text",
                self.inner.table
            );
            let row = sqlx::query(&sql)
                .bind(id.storage_key())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.failed(e))?;
            if let Some(row) = row {
                let created = unsigned(row.try_get::<i64, _>(0).map_err(|e| self.failed(e))?);
                let touched = unsigned(row.try_get::<i64, _>(1).map_err(|e| self.failed(e))?);
                let data: String = row.try_get(2).map_err(|e| self.failed(e))?;
                let expires = expiry.deadline(created, touched);
                if expiry.is_live(created, expires, now) {
                    if let Some(mut stored) = decode(data.as_bytes(), created, expires) {
                        change.apply_to(&mut stored);
                        renewed = Some(stored);
                    }
                }
            }
        }
        let mut renewed = renewed.unwrap_or_else(|| record.clone());
        renewed.created_ms = record.created_ms;
        renewed.expires_ms = expiry.deadline(record.created_ms, now);
        self.within_cap(renewed.size())?;
        let token = self.insert(&mut *tx, &renewed, now).await?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::RecordBuilder;

    #[test]
    fn passwords_stay_out_of_messages() {
        let redacted = session_core::redact::url;
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn the_indexed_deadline_is_the_deadline_rounded_up_to_a_hundredth_of_the_time_left() {
        let idle = 3_600_000;
        let grain = 36_000;
        // A deadline one past a grain boundary.
        let boundary = grain * 50_000_000;
        let first = boundary - idle + 1;
        assert_eq!(indexed_deadline(first + idle, first), boundary + grain);
        // Writes within the grain keep the value; the next grain moves it.
        let later = first + grain - 1;
        assert_eq!(indexed_deadline(later + idle, later), boundary + grain);
        let next = first + grain;
        assert_eq!(indexed_deadline(next + idle, next), boundary + 2 * grain);
        // Never before the deadline, never a grain past it.
        for now in (first..first + 3 * grain).step_by(977) {
            let deadline = now + idle;
            let indexed = indexed_deadline(deadline, now);
            assert!(indexed >= deadline && indexed < deadline + grain);
        }
        // A deadline already passed, or at hand, is kept as it is.
        assert_eq!(indexed_deadline(5, 10), 5);
        assert_eq!(indexed_deadline(10, 10), 10);
    }

    #[test]
    fn rows_round_trip_exactly() {
        let mut builder = RecordBuilder::with_capacity(2, 32);
        builder.push("n", "1.50", false);
        builder.push("notice", r#""h\u00e9""#, true);
        let record = builder.finish(1, 2);
        assert_eq!(decode(encode(&record).as_bytes(), 1, 2), Some(record));
        assert_eq!(decode(b"[1]", 1, 2), None);
    }
}
