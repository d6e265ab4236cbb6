//! The PostgreSQL store's user index: a table beside the sessions,
//! `{table}_users (id, user_id, device)`, one row per signed-in session, whose `id`
//! references the session's row `ON DELETE CASCADE`.
//!
//! The database keeps it consistent: a sign-out, a revocation, a `regenerate` (the
//! old row is deleted), an expiry's cleanup deletes the session's row and with it
//! its index row, so `unbind` does nothing. A sign-in (`bind`) inserts one row and
//! ends the user's oldest sessions past the bound: two statements, on sign-in only.
//! A request that neither signs in nor out never touches the index, and the
//! sessions' own rows carry nothing of it (their updates cost what they did before).

use async_trait::async_trait;
use session_core::users::{user_digest, MAX_SESSIONS_PER_USER};
use session_core::{now_ms, Device, Expiry, SessionId, UserIndex};
use sqlx::Row;

use super::{ms, unsigned, PostgresStore};

/// The index table of `table`.
pub(super) fn index_table(table: &str) -> String {
    format!("{table}_users")
}

/// The SQL that creates the index table of `table` (part of
/// [`PostgresStore::migration`]); `index` is the table's name without its schema.
pub(super) fn migration(table: &str, index: &str) -> String {
    let users = index_table(table);
    format!(
        "CREATE TABLE IF NOT EXISTS {users} (\
             id TEXT PRIMARY KEY REFERENCES {table} (id) ON DELETE CASCADE, \
             user_id TEXT NOT NULL, \
             device TEXT NOT NULL); \
         CREATE INDEX IF NOT EXISTS {index}_users_user_id ON {users} (user_id)"
    )
}

#[async_trait]
impl UserIndex for PostgresStore {
    async fn bind(
        &self,
        user: &str,
        device: &str,
        token: &str,
        _: u64,
        _: &Expiry,
    ) -> Result<(), session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(());
        };
        let table = &self.inner.table;
        let users = index_table(table);
        let user_id = user_digest(user);
        // Only while the session's row is there (a concurrent sign-out wins).
        let sql = format!(
            "INSERT INTO {users} (id, user_id, device) \
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM {table} WHERE id = $1) \
             ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, device = EXCLUDED.device"
        );
        sqlx::query(&sql)
            .bind(id.storage_key())
            .bind(&user_id)
            .bind(device)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        // The user's newest sessions only: the oldest others end.
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (\
                 SELECT u.id FROM {users} u JOIN {table} s ON s.id = u.id \
                 WHERE u.user_id = $1 AND u.device <> $2 \
                 ORDER BY s.created_ms DESC, u.id OFFSET $3)"
        );
        sqlx::query(&sql)
            .bind(&user_id)
            .bind(device)
            .bind(i64::try_from(MAX_SESSIONS_PER_USER - 1).unwrap_or(i64::MAX))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn unbind(&self, _: &str, _: &str) -> Result<(), session_core::Error> {
        // The session's row is gone, and its index row with it.
        Ok(())
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        let now = now_ms();
        let table = &self.inner.table;
        let users = index_table(table);
        let sql = format!(
            "SELECT u.device, s.created_ms, s.touched_ms FROM {users} u JOIN {table} s ON s.id = u.id \
             WHERE u.user_id = $1 AND s.expires_ms > $2 ORDER BY s.created_ms, u.device"
        );
        let rows = sqlx::query(&sql)
            .bind(user_digest(user))
            .bind(ms(now))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        let mut devices = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0).map_err(|e| self.failed(e))?;
            let created = unsigned(row.try_get::<i64, _>(1).map_err(|e| self.failed(e))?);
            let touched = unsigned(row.try_get::<i64, _>(2).map_err(|e| self.failed(e))?);
            // Live under today's policy, as a load would find it.
            if expiry.is_live(created, expiry.deadline(created, touched), now) {
                devices.push(Device {
                    id,
                    current: false,
                    created_ms: created,
                    last_seen_ms: touched,
                });
            }
        }
        Ok(devices)
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, session_core::Error> {
        let table = &self.inner.table;
        let users = index_table(table);
        let sql = format!(
            "DELETE FROM {table} WHERE expires_ms > $3 AND id IN \
                 (SELECT id FROM {users} WHERE user_id = $1 AND device = $2)"
        );
        let done = sqlx::query(&sql)
            .bind(user_digest(user))
            .bind(device)
            .bind(ms(now_ms()))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_others(
        &self,
        user: &str,
        keep: Option<&str>,
    ) -> Result<u64, session_core::Error> {
        let table = &self.inner.table;
        let users = index_table(table);
        let sql = format!(
            "DELETE FROM {table} WHERE expires_ms > $3 AND id IN \
                 (SELECT id FROM {users} WHERE user_id = $1 AND device IS DISTINCT FROM $2)"
        );
        let done = sqlx::query(&sql)
            .bind(user_digest(user))
            .bind(keep)
            .bind(ms(now_ms()))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }
}
