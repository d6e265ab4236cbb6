//! What one request did to its session: the values it sees, the life of each,
//! and what changed, until the commit.

use super::*;

#[derive(Debug, Default)]
pub(super) struct State {
    /// Before loading: only the values this request wrote. After: everything visible.
    /// Values keep their stored form, so a loaded record becomes the view, and the
    /// view the saved record, without copying.
    pub(super) view: Entries,
    /// The [`Life`] of each value in `view` whose life is not the one its stored form
    /// gives ([`Life::arriving`]): flash data this request wrote or kept, and
    /// `flash_now` data.
    pub(super) lives: KeyMap<Life>,
    /// Keys written by this request (present in `view`).
    pub(super) changed: KeySet,
    /// Keys removed by this request.
    pub(super) removed: KeySet,
    /// Counters changed only by `increment` / `decrement` since the load, with the
    /// net amount (stores that merge add it atomically; see
    /// [`Edit::Add`]).
    pub(super) increments: KeyMap<i64>,
    /// `flush` was called: nothing stored before survives.
    pub(super) cleared: bool,
    /// The request read flash data, so it ages flash data (only requests that read
    /// flash data do).
    pub(super) read: bool,
    /// `regenerate` / `invalidate`: save under a new token, destroy the old one.
    pub(super) renew: bool,
    /// `commit` ran; later commits do nothing.
    pub(super) committed: bool,
    /// This session's [`Session::remember`] choice, once known (set in this request,
    /// or loaded).
    pub(super) remember: Option<bool>,
    /// After the commit: it moved the session's idle deadline by a meaningful share
    /// (the idle refresh was due), or the request made a `remember` choice; a cookie
    /// that carries the session's lifetime is worth sending again.
    pub(super) lifetime_moved: bool,
    /// The user and device the loaded session was bound to, as stored.
    pub(super) bound: Option<Bound>,
    /// The commit stored a new session (no live one was loaded, or it vanished).
    pub(super) created: bool,
}

/// A signed-in session's user and device ([`USER_KEY`](crate::USER_KEY),
/// [`DEVICE_KEY`](crate::DEVICE_KEY)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Bound {
    pub(super) user: String,
    pub(super) device: String,
}

impl Bound {
    /// The binding `entries` hold: both keys, each a JSON string.
    pub(super) fn of(entries: &Entries) -> Option<Bound> {
        let (user, device) = crate::users::binding_of(entries)?;
        Some(Bound { user, device })
    }
}

impl State {
    /// The life of `value`, stored in `view` under `key`.
    pub(super) fn life_of(&self, key: &str, value: &StoredValue) -> Life {
        life_in(&self.lives, key, value)
    }

    /// Puts a value this request wrote into the view, with its life.
    pub(super) fn put(&mut self, key: &str, json: JsonText, life: Life) {
        let value = StoredValue {
            json,
            flash: life != Life::Persistent,
        };
        match self.view.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.view.insert(CompactString::from(key), value);
            }
        }
        if life == Life::Persistent {
            self.lives.remove(key);
        } else {
            self.lives.insert(key, life);
        }
        self.increments.remove(key);
        if life == Life::Now {
            self.changed.remove(key);
            self.removed.mark(key);
        } else {
            self.removed.remove(key);
            self.changed.mark(key);
        }
    }

    /// True when every value in the view is persistent: the flash rules then keep
    /// each one as it is ([`settle`] of [`Life::Persistent`]), so a save needs no pass
    /// over them.
    pub(super) fn all_persistent(&self) -> bool {
        self.lives.is_empty() && !self.view.values().any(|value| value.flash)
    }

    /// The value under `key`, read by the handler: reading flash data ages it; a
    /// request that reads only persistent keys (an AJAX call for `user`
    /// while the redirected page loads) ages nothing.
    pub(super) fn read_value(&mut self, key: &str) -> Option<&StoredValue> {
        let value = self.view.get(key)?;
        self.read |= value.flash;
        Some(value)
    }

    /// Removes `key` from the view and marks it removed.
    pub(super) fn forget(&mut self, key: &str) {
        if key == REMEMBER_KEY {
            self.remember = None;
        }
        self.view.remove(key);
        self.lives.remove(key);
        self.increments.remove(key);
        self.changed.remove(key);
        self.removed.mark(key);
    }

    /// `keep` / `reflash` of one value: flash data that arrived gets one more reading
    /// request.
    pub(super) fn keep(&mut self, key: &str) {
        let Some(value) = self.view.get(key) else {
            return;
        };
        let mut life = self.life_of(key, value);
        if life.keep() {
            self.lives.insert(key, life);
            self.changed.mark(key);
        }
    }
}

pub(super) fn life_in(lives: &KeyMap<Life>, key: &str, value: &StoredValue) -> Life {
    lives
        .get(key)
        .copied()
        .unwrap_or(Life::arriving(value.flash))
}

impl Session {
    pub(super) async fn write<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        life: Life,
    ) -> Result<(), Error> {
        let json = encode(key, value)?;
        self.writing().await?.put(key, json.into(), life);
        Ok(())
    }

    pub(super) async fn count(&self, key: &str, by: i64) -> Result<i64, Error> {
        let mut st = self.reading_key(key).await?;
        let (current, life) = match st.view.get(key) {
            Some(value) => (decode::<i64>(key, &value.json)?, st.life_of(key, value)),
            None => (0, Life::Persistent),
        };
        let next = current
            .checked_add(by)
            .ok_or_else(|| Error::CounterOverflow {
                key: key.to_owned(),
            })?;
        // The amount is added to the stored counter at save unless this request set,
        // removed or flushed the key before (then its value is what counts).
        let relative = self.inner.merges
            && !st.cleared
            && !st.removed.contains(key)
            && (st.increments.contains(key) || !st.changed.contains(key));
        let amount = st
            .increments
            .get(key)
            .copied()
            .unwrap_or(0)
            .saturating_add(by);
        // A counter that was flash data stays flash data (one more reading request).
        let life = if life.is_flash() {
            Life::Flashed
        } else {
            Life::Persistent
        };
        st.put(key, next.to_compact_string().into(), life);
        if relative {
            st.increments.insert(key, amount);
        }
        Ok(next)
    }
}
