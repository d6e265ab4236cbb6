//! The PostgreSQL store's user index: two columns the database computes from each
//! row's data (`user_id` and `device`, generated from the signed-in session's
//! `_user` and `_device` values, as JSON text) and a partial index on `user_id`.
//!
//! The index is kept consistent by the database itself: a sign-in, a regenerate, a
//! sign-out, an expiry or a cleanup changes or removes the row, and with it the
//! index entry, so `unbind` does nothing and `bind` (a sign-in) only ends the
//! user's oldest sessions past the bound. A visitor's row (no user) is not in the
//! index at all.

use async_trait::async_trait;
use session_core::users::MAX_SESSIONS_PER_USER;
use session_core::{now_ms, Device, Expiry, UserIndex};
use sqlx::Row;

use super::{ms, unsigned, PostgresStore};

/// The SQL that adds the user columns and their index to `table` (part of
/// [`PostgresStore::migration`]); `index` is the table's name without its schema.
pub(super) fn migration(table: &str, index: &str) -> String {
    format!(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS user_id TEXT \
             GENERATED ALWAYS AS (data #>> '{{_user,0}}') STORED; \
         ALTER TABLE {table} ADD COLUMN IF NOT EXISTS device TEXT \
             GENERATED ALWAYS AS (data #>> '{{_device,0}}') STORED; \
         CREATE INDEX IF NOT EXISTS {index}_user_id ON {table} (user_id) \
             WHERE user_id IS NOT NULL"
    )
}

/// A user id or device id as the generated columns hold it: its JSON text, as the
/// session stored the value.
fn json_text(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[async_trait]
impl UserIndex for PostgresStore {
    /// The row carries its user already; a sign-in only ends the user's oldest
    /// sessions past [`MAX_SESSIONS_PER_USER`] (one statement, on sign-in only).
    async fn bind(
        &self,
        user: &str,
        device: &str,
        _: &str,
        _: u64,
        _: &Expiry,
    ) -> Result<(), session_core::Error> {
        let table = &self.inner.table;
        let sql = format!(
            "DELETE FROM {table} WHERE user_id = $1 AND device IS DISTINCT FROM $2 \
             AND id NOT IN (SELECT id FROM {table} WHERE user_id = $1 \
                            ORDER BY created_ms DESC, id LIMIT $3)"
        );
        sqlx::query(&sql)
            .bind(json_text(user))
            .bind(json_text(device))
            .bind(i64::try_from(MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn unbind(&self, _: &str, _: &str) -> Result<(), session_core::Error> {
        Ok(())
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        let now = now_ms();
        let sql = format!(
            "SELECT device, created_ms, touched_ms FROM {} \
             WHERE user_id = $1 AND expires_ms > $2 AND device IS NOT NULL \
             ORDER BY created_ms, device",
            self.inner.table
        );
        let rows = sqlx::query(&sql)
            .bind(json_text(user))
            .bind(ms(now))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        let mut devices = Vec::with_capacity(rows.len());
        for row in rows {
            let device: String = row.try_get(0).map_err(|e| self.failed(e))?;
            let created = unsigned(row.try_get::<i64, _>(1).map_err(|e| self.failed(e))?);
            let touched = unsigned(row.try_get::<i64, _>(2).map_err(|e| self.failed(e))?);
            // Live under today's policy, as a load would find it.
            if !expiry.is_live(created, expiry.deadline(created, touched), now) {
                continue;
            }
            let Ok(id) = serde_json::from_str::<String>(&device) else {
                continue;
            };
            devices.push(Device {
                id,
                current: false,
                created_ms: created,
                last_seen_ms: touched,
            });
        }
        Ok(devices)
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, session_core::Error> {
        let sql = format!(
            "DELETE FROM {} WHERE user_id = $1 AND device = $2 AND expires_ms > $3",
            self.inner.table
        );
        let done = sqlx::query(&sql)
            .bind(json_text(user))
            .bind(json_text(device))
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
        let sql = format!(
            "DELETE FROM {} WHERE user_id = $1 AND device IS DISTINCT FROM $2 AND expires_ms > $3",
            self.inner.table
        );
        let done = sqlx::query(&sql)
            .bind(json_text(user))
            .bind(keep.map(json_text))
            .bind(ms(now_ms()))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }
}
