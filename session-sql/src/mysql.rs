//! [`MysqlStore`]: one row per session in MySQL or MariaDB, written by
//! compare-and-set on a version.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::now_ms;
use sqlx::mysql::MySqlPool;
use sqlx::Row as _;

use crate::cas::{NewRow, Renewal, Row, Rows};
use crate::cas_users::{index_table, Indexed, UserRows};
use crate::row::{ms, unsigned};
use crate::shared::Shared;
use crate::{pool, Error, MysqlSettings};

/// Sessions in a MySQL (5.7 or newer) or MariaDB (10.2 or newer) table:
///
/// ```sql
/// CREATE TABLE sessions (
///     id         VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, -- sha256 of the id, hex
///     created_ms BIGINT NOT NULL,            -- unix ms
///     touched_ms BIGINT NOT NULL,            -- last write, for the idle timeout
///     expires_ms BIGINT NOT NULL,            -- deadline at the last write, rounded up (indexed)
///     version    BIGINT NOT NULL DEFAULT 0,  -- one more at every write
///     data       LONGBLOB NOT NULL           -- {"key": ["<value as JSON text>", is_flash]}
/// ) ENGINE=InnoDB;
/// ```
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
/// use session_sql::{MysqlSettings, MysqlStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = MysqlSettings::default().with_url("mysql://root@127.0.0.1:3306/app");
/// let store = Arc::new(MysqlStore::connect(&settings).await?);
/// let session = Session::new(store, Expiry::default(), None);
/// session.set("user", "ada").await?;
/// session.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MysqlStore {
    inner: Arc<Shared<sqlx::MySql>>,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug("MysqlStore", f)
    }
}

impl MysqlStore {
    /// Connects as `[mysql]` says, checks that the database answers, creates the
    /// table when `migrate` is on, and starts the task that deletes expired rows
    /// (on the current Tokio runtime).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use session_sql::{MysqlSettings, MysqlStore};
    ///
    /// # async fn run() -> Result<(), session_sql::Error> {
    /// let store = MysqlStore::connect(&MysqlSettings::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(settings: &MysqlSettings) -> Result<Self, Error> {
        Error::checked(settings.validate())?;
        let target = session_core::redact::url(&settings.url);
        let url = match settings.url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => settings.url.clone(),
        };
        let pool = pool::options::<sqlx::MySql>(
            settings.pool_size,
            Duration::from_millis(settings.acquire_timeout_ms),
        )
        .connect(&url)
        .await
        .map_err(|source| Error::Database {
            store: "mysql",
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
    /// use session_sql::{MysqlSettings, MysqlStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::MySqlPool::connect("mysql://root@127.0.0.1:3306/app").await?;
    /// let store = MysqlStore::from_pool(pool, &MysqlSettings::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: MySqlPool, settings: &MysqlSettings) -> Result<Self, Error> {
        Error::checked(settings.validate())?;
        Self::with_target(pool, settings, "the application's pool".to_owned()).await
    }

    async fn with_target(
        pool: MySqlPool,
        settings: &MysqlSettings,
        target: String,
    ) -> Result<Self, Error> {
        let (inner, stopped) = Shared::new(
            "mysql",
            pool,
            &settings.table,
            target,
            settings.max_session_bytes,
        );
        let store = MysqlStore { inner };
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
    /// session's), what `migrate = true` runs, for `table`: two statements, each
    /// ending in `;`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sql = session_sql::MysqlStore::migration("app_sessions");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS app_sessions"));
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS app_sessions_users"));
    /// ```
    pub fn migration(table: &str) -> String {
        let index = table.rsplit('.').next().unwrap_or(table);
        let users = index_table(table);
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
                 id VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, \
                 created_ms BIGINT NOT NULL, \
                 touched_ms BIGINT NOT NULL, \
                 expires_ms BIGINT NOT NULL, \
                 version BIGINT NOT NULL DEFAULT 0, \
                 data LONGBLOB NOT NULL, \
                 INDEX {index}_expires_ms (expires_ms)) ENGINE=InnoDB; \
             CREATE TABLE IF NOT EXISTS {users} (\
                 id VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, \
                 user_id VARCHAR(64) CHARACTER SET ascii NOT NULL, \
                 device VARCHAR(255) NOT NULL, \
                 INDEX {index}_users_user_id (user_id), \
                 FOREIGN KEY (id) REFERENCES {table} (id) ON DELETE CASCADE) ENGINE=InnoDB;"
        )
    }

    /// Runs [`migration`](Self::migration), one app server at a time (a named
    /// lock), so servers starting together do not race.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(store: session_sql::MysqlStore) -> Result<(), session_sql::Error> {
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = self
            .inner
            .pool
            .acquire()
            .await
            .map_err(|e| self.inner.failed(e))?;
        sqlx::query("SELECT GET_LOCK('session-sql migration', 30)")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.inner.failed(e))?;
        let mut made = Ok(());
        for statement in Self::migration(&self.inner.table).split_terminator(';') {
            made = sqlx::query(statement).execute(&mut *conn).await.map(drop);
            if made.is_err() {
                break;
            }
        }
        let released = sqlx::query("SELECT RELEASE_LOCK('session-sql migration')")
            .execute(&mut *conn)
            .await;
        made.map_err(|e| self.inner.failed(e))?;
        released.map_err(|e| self.inner.failed(e))?;
        Ok(())
    }

    /// Deletes the expired rows now (the background task does this every
    /// `cleanup_interval_ms`); how many.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(store: session_sql::MysqlStore) -> Result<(), session_sql::Error> {
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
    /// # fn run(store: session_sql::MysqlStore) {
    /// assert_eq!(store.table(), "sessions");
    /// # }
    /// ```
    pub fn table(&self) -> &str {
        &self.inner.table
    }
}

impl MysqlStore {
    /// One attempt at [`Rows::replace`], in one transaction; what `renewed` refuses
    /// comes back as `Ok(Err(..))`, rolled back.
    async fn try_replace(
        &self,
        old: Option<&str>,
        renewed: Renewal<'_>,
    ) -> Result<Result<(), session_core::Error>, sqlx::Error> {
        let table = &self.inner.table;
        let mut tx = self.inner.pool.begin().await?;
        let mut taken = None;
        if let Some(old) = old {
            let sql = format!(
                "SELECT created_ms, touched_ms, version, data FROM {table} WHERE id = ? FOR UPDATE"
            );
            let row = sqlx::query(&sql).bind(old).fetch_optional(&mut *tx).await?;
            if let Some(row) = row {
                taken = Some(read_row(&row)?);
                sqlx::query(&format!("DELETE FROM {table} WHERE id = ?"))
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let (key, row) = match renewed(taken) {
            Ok(made) => made,
            Err(refused) => return Ok(Err(refused)),
        };
        insert(&mut *tx, table, &key, &row).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}

/// How many times a statement or transaction InnoDB rolled back to break a
/// deadlock is run again.
const DEADLOCK_RETRIES: usize = 8;

/// InnoDB breaks a deadlock by rolling one transaction back whole (error 1213,
/// SQLSTATE 40001): running it again is safe.
fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("40001"))
}

/// `run()`, run again while InnoDB rolls it back to break a deadlock.
async fn again<T, F, Fut>(mut run: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut tries = 1;
    loop {
        match run().await {
            Err(e) if is_deadlock(&e) && tries < DEADLOCK_RETRIES => tries += 1,
            done => return done,
        }
    }
}

/// One statement deleting up to `batch` expired rows of `table`; how many.
async fn delete_batch(pool: MySqlPool, table: String, batch: u32) -> Result<u64, sqlx::Error> {
    let sql = format!("DELETE FROM {table} WHERE expires_ms <= ? LIMIT ?");
    Ok(sqlx::query(&sql)
        .bind(ms(now_ms()))
        .bind(i64::from(batch))
        .execute(&pool)
        .await?
        .rows_affected())
}

/// The row `SELECT created_ms, touched_ms, version, data` gave.
fn read_row(row: &sqlx::mysql::MySqlRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        created_ms: unsigned(row.try_get(0)?),
        touched_ms: unsigned(row.try_get(1)?),
        version: row.try_get(2)?,
        data: row.try_get(3)?,
    })
}

#[async_trait]
impl Rows for MysqlStore {
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
        let done = again(|| {
            let query = sqlx::query(&sql)
                .bind(&row.data)
                .bind(ms(row.touched_ms))
                .bind(ms(row.expires_ms))
                .bind(key)
                .bind(ms(row.touched_ms));
            match version {
                Some(version) => query.bind(version),
                None => query,
            }
            .execute(&self.inner.pool)
        })
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
        let done = again(|| {
            let query = sqlx::query(&sql).bind(key);
            match version {
                Some(version) => query.bind(version),
                None => query,
            }
            .execute(&self.inner.pool)
        })
        .await
        .map_err(|e| self.inner.core(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert(&self, key: &str, row: &NewRow) -> Result<(), session_core::Error> {
        again(|| insert(&self.inner.pool, &self.inner.table, key, row))
            .await
            .map_err(|e| self.inner.core(e))
    }

    async fn replace(
        &self,
        old: Option<&str>,
        renewed: Renewal<'_>,
    ) -> Result<(), session_core::Error> {
        let mut tries = 1;
        loop {
            match self.try_replace(old, renewed).await {
                Err(e) if is_deadlock(&e) && tries < DEADLOCK_RETRIES => tries += 1,
                Err(e) => return Err(self.inner.core(e)),
                Ok(done) => return done,
            }
        }
    }

    fn cap(&self) -> usize {
        self.inner.max_session_bytes
    }

    fn name(&self) -> &'static str {
        "mysql"
    }
}

/// Inserts `row` as `key`, version 0.
async fn insert<'e, E>(executor: E, table: &str, key: &str, row: &NewRow) -> Result<(), sqlx::Error>
where
    E: sqlx::MySqlExecutor<'e>,
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
impl UserRows for MysqlStore {
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
             SELECT ?, ?, ? FROM DUAL WHERE EXISTS (SELECT 1 FROM {table} WHERE id = ?) \
             ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), device = VALUES(device)"
        );
        again(|| {
            sqlx::query(&sql)
                .bind(key)
                .bind(user_id)
                .bind(device)
                .bind(key)
                .execute(&self.inner.pool)
        })
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
            .map(|row: &sqlx::mysql::MySqlRow| {
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
            let done = again(|| {
                let mut query = sqlx::query(&sql).bind(ms(now));
                for key in chunk {
                    query = query.bind(key);
                }
                query.execute(&self.inner.pool)
            })
            .await
            .map_err(|e| self.inner.core(e))?;
            deleted += done.rows_affected();
        }
        Ok(deleted)
    }
}

cas_stores!(MysqlStore);
