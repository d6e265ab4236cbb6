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
use sqlx::Row;

use super::{ms, unsigned, PostgresStore};
use crate::cas_users::{index_table, Indexed, UserRows};

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
impl UserRows for PostgresStore {
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
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM {table} WHERE id = $1) \
             ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, device = EXCLUDED.device"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(user_id)
            .bind(device)
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
             WHERE u.user_id = $1 AND s.expires_ms > $2 \
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
            .map(|row| {
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
        let sql = format!(
            "DELETE FROM {} WHERE expires_ms > $1 AND id = ANY($2)",
            self.inner.table
        );
        let done = sqlx::query(&sql)
            .bind(ms(now))
            .bind(keys)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.inner.core(e))?;
        Ok(done.rows_affected())
    }
}
