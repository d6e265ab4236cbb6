//! The memory store's user index: a query over the sessions themselves, so there is
//! nothing to keep in step (`bind` and `unbind` do nothing).

use async_trait::async_trait;

use super::MemoryStore;
use crate::expiry::now_ms;
use crate::users::{binding, MAX_SESSIONS_PER_USER};
use crate::{Device, Error, Expiry, UserIndex};

impl MemoryStore {
    /// Removes `user`'s live sessions whose device `ends` says; how many.
    fn remove_where(&self, user: &str, ends: impl Fn(&str) -> bool) -> u64 {
        let mut sessions = self.sessions();
        let before = sessions.map.len();
        sessions.map.retain(|_, record| match binding(record) {
            Some((owner, device)) => owner != user || !ends(&device),
            None => true,
        });
        u64::try_from(before - sessions.map.len()).unwrap_or(u64::MAX)
    }
}

#[async_trait]
impl UserIndex for MemoryStore {
    async fn bind(
        &self,
        user: &str,
        device: &str,
        _: &str,
        _: u64,
        expiry: &Expiry,
    ) -> Result<(), Error> {
        // At most MAX_SESSIONS_PER_USER a user: the oldest others end.
        let live = self.list(user, expiry).await?;
        let excess = live.len().saturating_sub(MAX_SESSIONS_PER_USER);
        let oldest: Vec<String> = live
            .into_iter()
            .filter(|d| d.id != device)
            .take(excess)
            .map(|d| d.id)
            .collect();
        if !oldest.is_empty() {
            self.remove_where(user, |d| oldest.iter().any(|o| o == d));
        }
        Ok(())
    }

    async fn unbind(&self, _: &str, _: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, Error> {
        let now = now_ms();
        let sessions = self.sessions();
        let mut devices: Vec<Device> = sessions
            .map
            .values()
            .filter(|r| r.expires_ms > now && expiry.is_live(r.created_ms, r.expires_ms, now))
            .filter_map(|r| {
                let (owner, id) = binding(r)?;
                (owner == user).then(|| Device {
                    id,
                    current: false,
                    created_ms: r.created_ms,
                    // The deadline was set one idle timeout after the last load.
                    last_seen_ms: r
                        .expires_ms
                        .saturating_sub(expiry.idle_ms())
                        .max(r.created_ms),
                })
            })
            .collect();
        devices.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(devices)
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, Error> {
        Ok(self.remove_where(user, |d| d == device) > 0)
    }

    async fn revoke_others(&self, user: &str, keep: Option<&str>) -> Result<u64, Error> {
        Ok(self.remove_where(user, |d| Some(d) != keep))
    }
}
