//! The user index of the MySQL/MariaDB and SQLite stores: a table beside the
//! sessions, `{table}_users (id, user_id, device)`, one row per signed-in session,
//! whose `id` references the session's row `ON DELETE CASCADE`.
//!
//! The database keeps it consistent: a sign-out, a revocation, a `regenerate` (the
//! old row is deleted), an expiry's cleanup deletes the session's row and with it
//! its index row, so `unbind` does nothing. A sign-in writes one index row and ends
//! the user's oldest sessions past [`MAX_SESSIONS_PER_USER`]. A request that neither
//! signs in nor out never touches the index. The statements are the drivers'
//! ([`UserRows`]); what they mean is here, once.

use async_trait::async_trait;
use session_core::users::{user_digest, MAX_SESSIONS_PER_USER};
use session_core::{now_ms, Device, Error, Expiry, SessionId};

use crate::cas::Rows;

/// The index table of `table`.
pub(crate) fn index_table(table: &str) -> String {
    format!("{table}_users")
}

/// One of a user's sessions, as the index and the session's row give it.
pub(crate) struct Indexed {
    /// The session's row key.
    pub(crate) key: String,
    pub(crate) device: String,
    pub(crate) created_ms: u64,
    pub(crate) touched_ms: u64,
}

/// The statements of the user index.
#[async_trait]
pub(crate) trait UserRows: Rows {
    /// Writes the index row of the session `key` (over any earlier one), only while
    /// the session's row is there (a concurrent sign-out wins).
    async fn bind_row(&self, key: &str, user_id: &str, device: &str) -> Result<(), Error>;
    /// The user's sessions whose row's `expires_ms` is after `now`, newest first.
    async fn sessions_of(&self, user_id: &str, now: u64) -> Result<Vec<Indexed>, Error>;
    /// Deletes the session rows of `keys` whose `expires_ms` is after `now`; how
    /// many.
    async fn delete_keys(&self, keys: &[String], now: u64) -> Result<u64, Error>;
}

/// [`UserIndex::bind`](session_core::UserIndex::bind): the index row, then the
/// user's oldest other sessions past the bound ended.
pub(crate) async fn bind(
    rows: &dyn UserRows,
    user: &str,
    device: &str,
    token: &str,
) -> Result<(), Error> {
    let Some(id) = SessionId::parse(token) else {
        return Ok(());
    };
    let user_id = user_digest(user);
    rows.bind_row(&id.storage_key(), &user_id, device).await?;
    let past: Vec<String> = rows
        .sessions_of(&user_id, 0)
        .await?
        .into_iter()
        .filter(|s| s.device != device)
        .skip(MAX_SESSIONS_PER_USER - 1)
        .map(|s| s.key)
        .collect();
    if !past.is_empty() {
        rows.delete_keys(&past, 0).await?;
    }
    Ok(())
}

/// [`UserIndex::list`](session_core::UserIndex::list): the user's live sessions,
/// oldest first.
pub(crate) async fn list(
    rows: &dyn UserRows,
    user: &str,
    expiry: &Expiry,
) -> Result<Vec<Device>, Error> {
    let now = now_ms();
    let mut devices: Vec<Device> = rows
        .sessions_of(&user_digest(user), now)
        .await?
        .into_iter()
        // Live under today's policy, as a load would find it.
        .filter(|s| {
            expiry.is_live(
                s.created_ms,
                expiry.deadline(s.created_ms, s.touched_ms),
                now,
            )
        })
        .map(|s| Device {
            id: s.device,
            current: false,
            created_ms: s.created_ms,
            last_seen_ms: s.touched_ms,
        })
        .collect();
    devices.reverse();
    Ok(devices)
}

/// Ends the user's live sessions whose device `matches`; how many.
pub(crate) async fn revoke_where(
    rows: &dyn UserRows,
    user: &str,
    matches: impl Fn(&str) -> bool + Send,
) -> Result<u64, Error> {
    let now = now_ms();
    let keys: Vec<String> = rows
        .sessions_of(&user_digest(user), now)
        .await?
        .into_iter()
        .filter(|s| matches(&s.device))
        .map(|s| s.key)
        .collect();
    if keys.is_empty() {
        return Ok(0);
    }
    rows.delete_keys(&keys, now).await
}

/// `UserIndex` for a driver's store type over its [`UserRows`], and the store's
/// `users()`.
macro_rules! cas_user_index {
    ($ty:ty) => {
        #[::async_trait::async_trait]
        impl ::session_core::UserIndex for $ty {
            async fn bind(
                &self,
                user: &str,
                device: &str,
                token: &str,
                _: u64,
                _: &::session_core::Expiry,
            ) -> Result<(), ::session_core::Error> {
                $crate::cas_users::bind(self, user, device, token).await
            }

            async fn unbind(&self, _: &str, _: &str) -> Result<(), ::session_core::Error> {
                // The session's row is gone, and its index row with it.
                Ok(())
            }

            async fn list(
                &self,
                user: &str,
                expiry: &::session_core::Expiry,
            ) -> Result<Vec<::session_core::Device>, ::session_core::Error> {
                $crate::cas_users::list(self, user, expiry).await
            }

            async fn revoke(
                &self,
                user: &str,
                device: &str,
            ) -> Result<bool, ::session_core::Error> {
                Ok($crate::cas_users::revoke_where(self, user, |d| d == device).await? > 0)
            }

            async fn revoke_others(
                &self,
                user: &str,
                keep: Option<&str>,
            ) -> Result<u64, ::session_core::Error> {
                $crate::cas_users::revoke_where(self, user, |d| Some(d) != keep).await
            }
        }
    };
}
