//! The store contract: how sessions reach a backend, in two levels.
//!
//! **The plain level**, [`SessionStore`], is what most drivers write: load a token's
//! [`Record`], create a new one and return its token, replace one, destroy one. The
//! [`Session`](crate::Session) handle decides when to call it: never for a request
//! that does not touch its session, once to load, once to save. A server store hands
//! out a [`SessionId`](crate::SessionId) as the token and keeps the record; a cookie
//! store's token *is* the sealed record.
//!
//! **The merge level**, [`MergeStore`], is for server stores that can apply one
//! request's [`Change`] per key without reading the session first (Redis): a request
//! that only writes then costs one round trip, and concurrent requests that change
//! different keys both keep their writes. A plain store gets whole records, which the
//! core builds by applying the same rules ([`Change::apply_to`]).
//!
//! # Writing a store
//!
//! A complete store, a `HashMap` behind a mutex:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use async_trait::async_trait;
//! use session_core::{now_ms, Error, Expiry, Record, SessionId, SessionStore};
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<HashMap<String, Record>>);
//!
//! #[async_trait]
//! impl SessionStore for MapStore {
//!     async fn load(&self, token: &str, _: &Expiry) -> Result<Option<Record>, Error> {
//!         let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
//!         let record = map.get(token).filter(|r| r.expires_ms > now_ms());
//!         Ok(record.cloned())
//!     }
//!
//!     async fn create(&self, record: &Record) -> Result<String, Error> {
//!         let token = SessionId::generate()?.to_string();
//!         let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
//!         map.insert(token.clone(), record.clone());
//!         Ok(token)
//!     }
//!
//!     async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
//!         let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
//!         // Never bring back a session that was destroyed meanwhile.
//!         let Some(stored) = map.get_mut(token) else { return Ok(None) };
//!         *stored = record.clone();
//!         Ok(Some(token.to_owned()))
//!     }
//!
//!     async fn destroy(&self, token: &str) -> Result<(), Error> {
//!         self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(token);
//!         Ok(())
//!     }
//! }
//! ```
//!
//! Malformed, unknown and expired tokens are not errors: `load` answers `Ok(None)`. A
//! real store keys its backend by [`SessionId::storage_key`](crate::SessionId::storage_key)
//! (a digest, so a leaked backend reveals no usable token) and deletes expired
//! records now and then. `session-testkit` checks a store against every rule.

use async_trait::async_trait;

use crate::{Error, Expiry, Record, StoredValue, UserIndex};

/// The default [`SessionStore::max_session_bytes`]: 256 KiB.
pub const DEFAULT_MAX_SESSION_BYTES: usize = 256 * 1024;

/// A session backend, over whole records (the plain level of the contract).
///
/// Object safe: the HTTP layer holds an `Arc<dyn SessionStore>`. See the
/// [module docs](crate::store) for a complete store.
///
/// Errors are for a backend that is down or slow ([`Error::Unavailable`],
/// [`Error::Timeout`]) or a session that cannot be stored ([`Error::TooLarge`]).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The live session `token` names, or `Ok(None)`. The store may refresh the idle
    /// deadline as part of the load (`record.expires_ms = expiry.deadline(..)`), and
    /// then says where it stood before ([`Record::set_moved_from`]), so that a
    /// persistent cookie is sent again when it moved by 1% of the idle timeout; when
    /// it does not, the [`Session`](crate::Session) saves the session again once the
    /// deadline has moved by that much.
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error>;

    /// Stores `record` as a new session and returns its token. A token must never
    /// name a session that exists already.
    async fn create(&self, record: &Record) -> Result<String, Error>;

    /// Replaces the session `token` names with `record` and returns the token to send
    /// (the same one, for a server store). `Ok(None)`, writing nothing, when the
    /// session no longer exists (expired or destroyed): a save never brings back a
    /// destroyed session.
    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error>;

    /// Destroys the session `token` names. Unknown or malformed tokens are no error.
    async fn destroy(&self, token: &str) -> Result<(), Error>;

    /// The largest session this store keeps, in bytes of keys and JSON values (plus
    /// one per value): the
    /// [`Session`](crate::Session) refuses a larger one with [`Error::TooLarge`]
    /// before calling `create` or `save`.
    fn max_session_bytes(&self) -> usize {
        DEFAULT_MAX_SESSION_BYTES
    }

    /// The merge level of this store, when it has one (`Some(self)`).
    fn merging(&self) -> Option<&dyn MergeStore> {
        None
    }

    /// For a store whose token carries the session (a cookie store): the cookie name
    /// it seals under and the most cookies a token may be split over. An HTTP layer
    /// takes both from here, so the store and the cookies on the wire never disagree.
    /// `None`, the default, for every other store.
    fn cookie_framing(&self) -> Option<(&str, usize)> {
        None
    }

    /// The store's index of users' sessions ([`crate::users`]), or
    /// [`Error::NoUserIndex`] saying what would give it one. The default has none.
    fn users(&self) -> Result<&dyn UserIndex, Error> {
        Err(Error::NoUserIndex {
            enable: String::new(),
        })
    }
}

/// A store that applies a request's changes per key, without reading first (the
/// merge level of the contract).
///
/// With it, a request that only writes costs one round trip, concurrent requests that
/// change different keys both keep their writes, [`Edit::Add`] counts atomically, and
/// `regenerate` carries over what other requests stored under the old token until it
/// was destroyed. The [`Session`](crate::Session) uses these methods instead of
/// `load`, `save` and `create` with a replaced token.
#[async_trait]
pub trait MergeStore: SessionStore {
    /// [`SessionStore::load`], with a mark of what the store saw (a revision, a
    /// length: anything the store wants to know again at save), handed back in the
    /// [`Seen`] of this request's merge.
    async fn load_marked(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<(Record, u64)>, Error>;

    /// Applies `change` to the session `token` names, atomically. `seen` is given
    /// when the request loaded the session. `Ok(false)`, writing nothing, when the
    /// session no longer exists; a session the change leaves empty is removed, and
    /// answers `Ok(false)` too.
    async fn merge(
        &self,
        token: &str,
        change: &Change<'_>,
        seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<bool, Error>;

    /// Starts a new session in place of `old` and destroys `old` in the same step
    /// (`regenerate`, `invalidate`); returns the new token. The new session holds what
    /// `old` holds at that moment with `change` applied (a flushing change keeps
    /// nothing of it); when `old` is gone, it holds `record`, the session as this
    /// request leaves it.
    async fn renew(
        &self,
        old: &str,
        change: &Change<'_>,
        record: &Record,
        expiry: &Expiry,
    ) -> Result<String, Error>;
}

/// A merge of a request that loaded the session.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    /// What the store noted of the session when it loaded it (a revision, a
    /// length): opaque to the core, as [`MergeStore::load_marked`] returned it.
    pub mark: u64,
    /// The session as the request leaves it: the change applied to what it loaded.
    /// A store whose session is still as marked may write it whole.
    pub record: &'a Record,
}

/// One key's part of a [`Change`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit<'a> {
    /// The request wrote this value.
    Set(&'a StoredValue),
    /// The request removed the key (or its flash data aged out).
    Remove,
    /// The request only counted: add `by` to the stored counter (0 when absent or not
    /// an integer); the result is flash data when `flash`.
    Add {
        /// The net amount.
        by: i64,
        /// The counter's kind.
        flash: bool,
    },
}

/// One request's changes to a session, key by key.
///
/// ```
/// use session_core::{Change, Edit, Record, StoredValue};
///
/// let user = StoredValue::persistent(r#""ada""#);
/// let change = Change {
///     flush: false,
///     edits: vec![("user", Edit::Set(&user)), ("visits", Edit::Add { by: 1, flash: false })],
/// };
/// let mut stored = Record::new(0, 0);
/// stored.insert("visits", StoredValue::persistent("41"));
/// change.apply_to(&mut stored);
/// assert_eq!(stored.get("visits").map(StoredValue::json), Some("42"));
/// assert_eq!(stored.get("user"), Some(&user));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change<'a> {
    /// Remove every stored value before the edits (`flush`).
    pub flush: bool,
    /// The edits, in key order, each key once.
    pub edits: Vec<(&'a str, Edit<'a>)>,
}

impl Change<'_> {
    /// Applies the change to `stored` (the merge rules, for a store that keeps
    /// records whole). Deadlines are left as they are.
    pub fn apply_to(&self, stored: &mut Record) {
        if self.flush {
            stored.entries.clear();
        }
        for &(key, edit) in &self.edits {
            match edit {
                Edit::Set(value) => {
                    stored.insert(key, value.clone());
                }
                Edit::Remove => {
                    stored.remove(key);
                }
                Edit::Add { by, flash } => {
                    let current = stored
                        .get(key)
                        .and_then(|v| v.json().parse::<i64>().ok())
                        .unwrap_or(0);
                    let json = current.saturating_add(by).to_string();
                    stored.insert(key, StoredValue::new(json, flash));
                }
            }
        }
    }
}
