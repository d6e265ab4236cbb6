//! Loading: lazily, once per request, from the first candidate token that names a
//! live session under the current expiry policy.

use super::*;

/// What the load found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Loaded {
    /// No candidate token named a live session.
    Nothing,
    /// A live session.
    Live {
        /// Which of the candidate tokens names it.
        token: usize,
        created_ms: u64,
        expires_ms: u64,
        /// The merging store's mark of the load.
        mark: Option<u64>,
        /// The store asked for it to be saved again.
        outdated: bool,
        /// Where the idle deadline stood before the load moved it, when the store
        /// refreshes in `load` and said so.
        moved_from: Option<u64>,
        /// When it was loaded: the request's time, for its save too.
        at_ms: u64,
    },
}

impl Session {
    /// The state, loaded, for a method that returns all of the session's data: it
    /// reads flash data (only requests that read flash data age it).
    pub(super) async fn reading(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut st = self.loaded().await?;
        st.read = true;
        Ok(st)
    }

    /// The state, loaded, for a method that reads the value of `key` and then
    /// changes it ([`State::read_value`]).
    pub(super) async fn reading_key(&self, key: &str) -> Result<MutexGuard<'_, State>, Error> {
        let mut st = self.loaded().await?;
        st.read_value(key);
        Ok(st)
    }

    /// The state, for a method that only writes: loaded only when the store cannot
    /// merge writes.
    pub(super) async fn writing(&self) -> Result<MutexGuard<'_, State>, Error> {
        // With several candidate tokens, only a load tells which one is the session.
        if !(self.inner.merges && self.inner.tokens.len() <= 1) {
            return self.loaded().await;
        }
        Ok(self.state())
    }

    /// The first candidate token that names a live session, with its record and the
    /// merging store's mark; `Loaded::Nothing` when none does.
    pub(super) async fn load_first_live(&self) -> Result<(Loaded, Option<Record>), Error> {
        let now = now_ms();
        for (index, token) in self.inner.tokens.iter().enumerate() {
            if let Some((record, mark)) = self.load_live(token, now).await? {
                let loaded = Loaded::Live {
                    token: index,
                    created_ms: record.created_ms,
                    expires_ms: record.expires_ms,
                    mark,
                    outdated: record.outdated,
                    moved_from: record.moved_from,
                    at_ms: now,
                };
                return Ok((loaded, Some(record)));
            }
        }
        Ok((Loaded::Nothing, None))
    }

    /// The record `token` names, if it is live at `now` under the current policy,
    /// with the merging store's mark.
    pub(super) async fn load_live(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Option<(Record, Option<u64>)>, Error> {
        let expiry = &self.inner.expiry;
        let loaded = match self.inner.store.merging() {
            Some(store) => store
                .load_marked(token, expiry)
                .await?
                .map(|(record, mark)| (record, Some(mark))),
            None => self
                .inner
                .store
                .load(token, expiry)
                .await?
                .map(|record| (record, None)),
        };
        Ok(loaded.filter(|(r, _)| {
            let live = expiry.is_live(r.created_ms, r.expires_ms, now);
            if !live {
                tracing::debug!("stored session has expired; starting a fresh one");
            }
            live
        }))
    }

    /// The state, loaded (without counting as a read).
    pub(super) async fn loaded(&self) -> Result<MutexGuard<'_, State>, Error> {
        if !self.inner.loaded.initialized() {
            self.inner.loaded.get_or_try_init(|| self.load()).await?;
        }
        Ok(self.state())
    }

    /// Loads the session into the state (run once, by [`loaded`](Self::loaded)).
    pub(super) async fn load(&self) -> Result<Loaded, Error> {
        let (loaded, record) = self.load_first_live().await?;
        let mut st = self.state();
        // The stored values become the view as they are; what this request wrote or
        // removed before loading (only on a merging store) stays on top.
        let State {
            view,
            removed,
            cleared,
            bound,
            ..
        } = &mut *st;
        *bound = record.as_ref().and_then(|r| Bound::of(&r.entries));
        if let Some(record) = record.filter(|_| !*cleared) {
            let mut stored = record.entries;
            if !removed.is_empty() {
                stored.retain(|key, _| !removed.contains(key));
            }
            stored.append(view);
            *view = stored;
        }
        st.remember = st
            .view
            .get(REMEMBER_KEY)
            .and_then(|v| serde_json::from_str::<bool>(v.json.as_str()).ok());
        Ok(loaded)
    }
}
