//! [`PostgresRegistry`]: the registry of signed-in cookie sessions, in PostgreSQL.

use async_trait::async_trait;
use session_core::users::{user_digest, RecentAnswers, MAX_SESSIONS_PER_USER};
use session_core::{now_ms, Device, Expiry, Registry, UserIndex};
use sqlx::Row;

use super::{ms, unsigned, PostgresStore};
use crate::{Error, PostgresSettings};

/// How many dead rows (past their idle timeout) a sign-in deletes, of any user: the
/// table stays as large as the signed-in sessions while people sign in.
const SWEEP: i64 = 100;

/// The registry of signed-in cookie sessions, in PostgreSQL: a row per session,
/// `(user_id, device, created_ms, last_seen_ms)` in the table
/// `{[postgres] table}_registry` (the user id kept as its SHA-256 digest). It gives
/// the cookie store sign-out and revocation that stick, and the list of a user's
/// sessions (see `CookieStore::with_registry`).
///
/// - Only signed-in sessions touch it: a sign-in inserts a row, a sign-out or a
///   revocation deletes one, and a request of a signed-in session reads its row,
///   answered from this process's memory for [`ANSWER_MS`](session_core::users::ANSWER_MS) (500 ms) after the
///   database said yes. A session last seen more than a hundredth of the idle
///   timeout ago is marked seen again.
/// - Bounded: at most [`MAX_SESSIONS_PER_USER`] rows a user (a sign-in past it
///   deletes the oldest), each sign-in deletes up to 100 dead rows, and the answers
///   kept in memory within [`ANSWER_BYTES`](session_core::users::ANSWER_BYTES) (1 MiB).
///
/// ```no_run
/// use std::sync::Arc;
/// use session_cookie::{CookieStore, Key, Keyring};
/// use session_sql::{PostgresRegistry, PostgresSettings};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = PostgresRegistry::connect(&PostgresSettings::default()).await?;
/// let store = CookieStore::new(Keyring::new(Key::generate()?, []))
///     .with_registry(Arc::new(registry));
/// # Ok(()) }
/// ```
pub struct PostgresRegistry {
    db: PostgresStore,
    table: String,
    answers: RecentAnswers,
}

impl std::fmt::Debug for PostgresRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresRegistry")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresRegistry {
    /// Connects as `[postgres]` says and creates the registry's table when
    /// `migrate` is on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use session_sql::{PostgresRegistry, PostgresSettings};
    ///
    /// # async fn run() -> Result<(), session_sql::Error> {
    /// let registry = PostgresRegistry::connect(&PostgresSettings::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(settings: &PostgresSettings) -> Result<Self, Error> {
        // The pool only: the registry has a table of its own, and no cleanup task.
        let (pool, target) = PostgresStore::pool(settings).await?;
        let (db, _) = PostgresStore::bare(pool, settings, target);
        let table = format!("{}_registry", settings.table);
        let registry = PostgresRegistry {
            db,
            table,
            answers: RecentAnswers::default(),
        };
        if settings.migrate {
            registry.migrate().await?;
        }
        Ok(registry)
    }

    /// The SQL that creates the registry's table (what `migrate = true` runs).
    ///
    /// # Examples
    ///
    /// ```
    /// let sql = session_sql::PostgresRegistry::migration("sessions_registry");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS sessions_registry"));
    /// ```
    pub fn migration(table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
                 user_id TEXT NOT NULL, \
                 device TEXT NOT NULL, \
                 created_ms BIGINT NOT NULL, \
                 last_seen_ms BIGINT NOT NULL, \
                 PRIMARY KEY (user_id, device))"
        )
    }

    /// How many signed-in requests were answered from this process's memory, and
    /// how many asked the registry, so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(registry: session_sql::PostgresRegistry) {
    /// let (from_memory, asked) = registry.answer_stats();
    /// # }
    /// ```
    pub fn answer_stats(&self) -> (u64, u64) {
        self.answers.stats()
    }

    async fn migrate(&self) -> Result<(), Error> {
        sqlx::raw_sql(&Self::migration(&self.table))
            .execute(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        Ok(())
    }

    async fn execute(&self, sql: &str, user: &str, device: Option<&str>) -> Result<u64, Error> {
        let done = sqlx::query(sql)
            .bind(user_digest(user))
            .bind(device)
            .execute(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        Ok(done.rows_affected())
    }
}

/// Live at `now` under `expiry`: seen within the idle timeout, within the lifetime
/// of its creation.
fn is_live(created: u64, last_seen: u64, expiry: &Expiry, now: u64) -> bool {
    expiry.is_live(created, last_seen.saturating_add(expiry.idle_ms()), now)
}

#[async_trait]
impl Registry for PostgresRegistry {
    async fn holds(
        &self,
        user: &str,
        device: &str,
        expiry: &Expiry,
    ) -> Result<bool, session_core::Error> {
        let now = now_ms();
        if self.answers.holds(user, device, now) {
            return Ok(true);
        }
        let sql = format!(
            "SELECT created_ms, last_seen_ms FROM {} WHERE user_id = $1 AND device = $2",
            self.table
        );
        let row = sqlx::query(&sql)
            .bind(user_digest(user))
            .bind(device)
            .fetch_optional(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        let Some(row) = row else {
            self.answers.forget(user, &[device]);
            return Ok(false);
        };
        let created = unsigned(
            row.try_get::<i64, _>(0)
                .map_err(|e| self.db.inner.failed(e))?,
        );
        let seen = unsigned(
            row.try_get::<i64, _>(1)
                .map_err(|e| self.db.inner.failed(e))?,
        );
        if !is_live(created, seen, expiry, now) {
            return Ok(false);
        }
        if now.saturating_sub(seen) > expiry.idle_ms() / 100 {
            // Seen again, only while the row is there (a revocation meanwhile wins).
            let sql = format!(
                "UPDATE {} SET last_seen_ms = $3 WHERE user_id = $1 AND device = $2",
                self.table
            );
            let done = sqlx::query(&sql)
                .bind(user_digest(user))
                .bind(device)
                .bind(ms(now))
                .execute(&self.db.inner.pool)
                .await
                .map_err(|e| self.db.inner.failed(e))?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
        }
        self.answers.remember(user, device, now);
        Ok(true)
    }

    fn index(&self) -> &dyn UserIndex {
        self
    }
}

#[async_trait]
impl UserIndex for PostgresRegistry {
    async fn bind(
        &self,
        user: &str,
        device: &str,
        _token: &str,
        created_ms: u64,
        expiry: &Expiry,
    ) -> Result<(), session_core::Error> {
        let now = now_ms();
        let table = &self.table;
        let user_id = user_digest(user);
        let sql = format!(
            "INSERT INTO {table} (user_id, device, created_ms, last_seen_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, device) DO UPDATE SET last_seen_ms = EXCLUDED.last_seen_ms"
        );
        sqlx::query(&sql)
            .bind(&user_id)
            .bind(device)
            .bind(ms(created_ms))
            .bind(ms(now))
            .execute(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        // The user's newest sessions only, and some of anyone's dead rows.
        let bound = i64::try_from(MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX);
        let sql = format!(
            "DELETE FROM {table} WHERE user_id = $1 AND device NOT IN \
                 (SELECT device FROM {table} WHERE user_id = $1 \
                  ORDER BY created_ms DESC, device LIMIT $2)"
        );
        sqlx::query(&sql)
            .bind(&user_id)
            .bind(bound)
            .execute(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        let sql = format!(
            "DELETE FROM {table} WHERE ctid IN \
                 (SELECT ctid FROM {table} WHERE last_seen_ms < $1 LIMIT $2)"
        );
        sqlx::query(&sql)
            .bind(ms(now.saturating_sub(expiry.idle_ms())))
            .bind(SWEEP)
            .execute(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        Ok(())
    }

    async fn unbind(&self, user: &str, device: &str) -> Result<(), session_core::Error> {
        self.answers.forget(user, &[device]);
        let sql = format!(
            "DELETE FROM {} WHERE user_id = $1 AND device = $2",
            self.table
        );
        self.execute(&sql, user, Some(device)).await?;
        Ok(())
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        let now = now_ms();
        let sql = format!(
            "SELECT device, created_ms, last_seen_ms FROM {} WHERE user_id = $1 \
             ORDER BY created_ms, device",
            self.table
        );
        let rows = sqlx::query(&sql)
            .bind(user_digest(user))
            .fetch_all(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        let mut devices = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0).map_err(|e| self.db.inner.failed(e))?;
            let created = unsigned(
                row.try_get::<i64, _>(1)
                    .map_err(|e| self.db.inner.failed(e))?,
            );
            let seen = unsigned(
                row.try_get::<i64, _>(2)
                    .map_err(|e| self.db.inner.failed(e))?,
            );
            if is_live(created, seen, expiry, now) {
                devices.push(Device {
                    id,
                    current: false,
                    created_ms: created,
                    last_seen_ms: seen,
                });
            }
        }
        Ok(devices)
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, session_core::Error> {
        self.answers.forget(user, &[device]);
        let sql = format!(
            "DELETE FROM {} WHERE user_id = $1 AND device = $2",
            self.table
        );
        Ok(self.execute(&sql, user, Some(device)).await? > 0)
    }

    async fn revoke_others(
        &self,
        user: &str,
        keep: Option<&str>,
    ) -> Result<u64, session_core::Error> {
        let sql = format!(
            "DELETE FROM {} WHERE user_id = $1 AND device IS DISTINCT FROM $2 RETURNING device",
            self.table
        );
        let rows = sqlx::query(&sql)
            .bind(user_digest(user))
            .bind(keep)
            .fetch_all(&self.db.inner.pool)
            .await
            .map_err(|e| self.db.inner.failed(e))?;
        let devices: Vec<String> = rows
            .iter()
            .filter_map(|row| row.try_get::<String, _>(0).ok())
            .collect();
        let names: Vec<&str> = devices.iter().map(String::as_str).collect();
        self.answers.forget(user, &names);
        Ok(u64::try_from(devices.len()).unwrap_or(u64::MAX))
    }
}
