//! The commit: the request's [`Plan`], carried out on the store in one call (either
//! store level), and what the client's token becomes.

use super::*;

impl Session {
    /// Plans the commit ([`plan`]) and carries the plan out.
    pub(super) async fn carry_out(
        &self,
        st: &mut State,
        token: Option<&str>,
    ) -> Result<TokenUpdate, Error> {
        let expiry = self.inner.expiry;
        let loaded = self.inner.loaded.get().copied();
        let now = match loaded {
            Some(Loaded::Live { at_ms, .. }) => at_ms,
            _ => now_ms(),
        };
        let (found, created, loaded_expires, outdated, moved_from) = match loaded {
            None => (Found::Unread, now, 0, false, None),
            Some(Loaded::Nothing) => (Found::Nothing, now, 0, false, None),
            Some(Loaded::Live {
                created_ms,
                expires_ms,
                outdated,
                moved_from,
                ..
            }) => (Found::Live, created_ms, expires_ms, outdated, moved_from),
        };
        // The share of the idle timeout that makes a move of the deadline worth a
        // write (the idle refresh) or a cookie (a persistent cookie's Max-Age).
        let share = expiry.idle_ms() / 100;
        let unread = found == Found::Unread;
        let survives = if unread {
            st.view.iter().any(|(key, value)| {
                st.changed.contains(key) && settle(st.life_of(key, value), st.read).is_some()
            })
        } else {
            Self::age(st)
        };
        let facts = Facts {
            found,
            token: token.is_some(),
            changed: st.cleared || !st.changed.is_empty() || !st.removed.is_empty(),
            survives,
            flushed: st.cleared,
            renew: st.renew,
            outdated,
            refresh_due: expiry.deadline(created, now).saturating_sub(loaded_expires) > share,
        };
        // A request that did not load has no deadline to compare with; a load that
        // refreshed the deadline itself says from where.
        let moved_in_load =
            moved_from.is_some_and(|from| loaded_expires.saturating_sub(from) > share);
        st.lifetime_moved = found == Found::Live && (facts.refresh_due || moved_in_load);
        let step = plan(facts);
        if matches!(step, Plan::Keep | Plan::Forget) {
            return Ok(match step {
                Plan::Forget => TokenUpdate::Remove,
                _ => TokenUpdate::Keep,
            });
        }
        let token = match (step, token) {
            (Plan::Create, _) | (_, None) => {
                st.created = true;
                let record = Self::take_settled(st, expiry, created, now, unread);
                return self.create(&record).await;
            }
            (_, Some(token)) => token,
        };
        if step == Plan::Destroy {
            self.inner.store.destroy(token).await?;
            return Ok(TokenUpdate::Remove);
        }
        let record = Self::take_settled(st, expiry, created, now, unread);
        let merging = self.inner.store.merging();
        if step == Plan::Renew {
            return match merging {
                Some(store) => {
                    let change = change_of(st, &record);
                    let new = store.renew(token, &change, &record, &expiry).await?;
                    Ok(TokenUpdate::Send(non_empty(new)?))
                }
                None => {
                    let update = self.create(&record).await?;
                    self.inner.store.destroy(token).await?;
                    Ok(update)
                }
            };
        }
        let saved = match merging {
            Some(store) => {
                let seen = match loaded {
                    Some(Loaded::Live {
                        mark: Some(mark), ..
                    }) => Some(Seen {
                        mark,
                        record: &record,
                    }),
                    _ => None,
                };
                let change = change_of(st, &record);
                store
                    .merge(token, &change, seen, &expiry)
                    .await?
                    .then(|| token.to_owned())
            }
            None => {
                self.within_limit(&record)?;
                self.inner.store.save(token, &record).await?
            }
        };
        match saved {
            Some(token) => Ok(TokenUpdate::Send(token)),
            None => {
                tracing::debug!("session vanished during the request; starting a fresh one");
                let mut fresh = Record::new(now, expiry.deadline(now, now));
                fresh.entries = record
                    .entries
                    .iter()
                    .filter(|(key, _)| st.changed.contains(key))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                if fresh.is_empty() {
                    return Ok(TokenUpdate::Remove);
                }
                st.created = true;
                self.create(&fresh).await
            }
        }
    }

    /// Applies the flash rules' aging to a loaded session: flash data that ages out
    /// in this save is a removal like any other. True when anything survives.
    pub(super) fn age(st: &mut State) -> bool {
        if st.all_persistent() {
            return !st.view.is_empty();
        }
        let aged: Vec<CompactString> = st
            .view
            .iter()
            .filter(|(key, value)| {
                let life = st.life_of(key, value);
                life == Life::Arrived && settle(life, st.read).is_none()
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in aged {
            st.removed.mark(&key);
        }
        st.view
            .iter()
            .any(|(key, value)| settle(st.life_of(key, value), st.read).is_some())
    }

    /// `TooLarge` for a whole record past the store's limit.
    pub(super) fn within_limit(&self, record: &Record) -> Result<(), Error> {
        let (size, limit) = (record.size(), self.inner.store.max_session_bytes());
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        Ok(())
    }

    /// Stores `record` as a new session.
    pub(super) async fn create(&self, record: &Record) -> Result<TokenUpdate, Error> {
        self.within_limit(record)?;
        let token = self.inner.store.create(record).await?;
        Ok(TokenUpdate::Send(non_empty(token)?))
    }

    /// Moves what this request leaves behind out of the view into a record: every
    /// value that survives the flash rules (only the ones this request wrote, with
    /// `only_changed`). The view is spent: `commit` runs once.
    pub(super) fn take_settled(
        st: &mut State,
        expiry: Expiry,
        created_ms: u64,
        now_ms: u64,
        only_changed: bool,
    ) -> Record {
        let mut record = Record::new(created_ms, expiry.deadline(created_ms, now_ms));
        if !only_changed && st.all_persistent() {
            record.entries = std::mem::take(&mut st.view);
            return record;
        }
        let State {
            view,
            lives,
            changed,
            read,
            ..
        } = st;
        view.retain(|key, value| {
            if only_changed && !changed.contains(key) {
                return false;
            }
            match settle(life_in(lives, key, value), *read) {
                Some(flash) => {
                    value.flash = flash;
                    true
                }
                None => false,
            }
        });
        record.entries = std::mem::take(view);
        record
    }
}

/// The change a merging store applies: this request's removals and writes, in key
/// order; a counter it only counted is an [`Edit::Add`]. `record` is the session as
/// the request leaves it (or, unread, what it wrote).
pub(super) fn change_of<'a>(st: &'a State, record: &'a Record) -> Change<'a> {
    let mut edits: Vec<(&str, Edit<'_>)> = Vec::with_capacity(st.changed.len() + st.removed.len());
    edits.extend(st.removed.keys().map(|key| (key.as_str(), Edit::Remove)));
    for key in st.changed.keys() {
        if let Some(value) = record.entries.get(key) {
            let edit = match st.increments.get(key) {
                Some(&by) => Edit::Add {
                    by,
                    flash: value.flash,
                },
                None => Edit::Set(value),
            };
            edits.push((key.as_str(), edit));
        }
    }
    if !st.removed.is_empty() && !st.changed.is_empty() {
        edits.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    Change {
        flush: st.cleared,
        edits,
    }
}

/// A store's new token, refused when empty (a cookie without a value names nothing).
pub(super) fn non_empty(token: String) -> Result<String, Error> {
    if token.is_empty() {
        return Err(Error::Contract {
            rule: "create returned an empty token",
        });
    }
    Ok(token)
}
