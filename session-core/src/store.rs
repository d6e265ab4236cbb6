//! The store trait: how sessions reach a backend.
//!
//! A store turns the client's *token* (a cookie value) into a [`Record`] and back. A
//! server store (Redis, memory) hands out a [`SessionId`](crate::SessionId) as the
//! token and keeps the record; the cookie store's token *is* the sealed record. The
//! [`Session`](crate::Session) handle decides when to call the store: never for a
//! request that does not touch its session, once to load, once to save.
//!
//! # Writing a store
//!
//! A complete store, a `HashMap` behind a mutex (the crate's
//! [`MemoryStore`](crate::MemoryStore) is this plus expiry purging):
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use async_trait::async_trait;
//! use session_core::{
//!     Capabilities, Error, Expiry, Record, SaveRequest, SessionId, SessionStore, now_ms,
//! };
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<HashMap<String, Record>>);
//!
//! impl MapStore {
//!     fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
//!         self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
//!     }
//! }
//!
//! #[async_trait]
//! impl SessionStore for MapStore {
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::server()
//!     }
//!
//!     async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
//!         // Malformed ids never reach the backend.
//!         let Some(id) = SessionId::parse(token) else { return Ok(None) };
//!         let mut map = self.map();
//!         let Some(record) = map.get_mut(id.storage_key().as_str()) else { return Ok(None) };
//!         // Refresh the idle deadline as part of the load.
//!         record.expires_ms = expiry.deadline(record.created_ms, now_ms());
//!         Ok(Some(record.clone()))
//!     }
//!
//!     async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, Error> {
//!         let mut map = self.map();
//!         let replaced = request
//!             .replaces
//!             .and_then(SessionId::parse)
//!             .and_then(|old| map.remove(old.storage_key().as_str()));
//!         let key = match request.token.map(SessionId::parse) {
//!             // Never bring back a session that was destroyed meanwhile.
//!             Some(Some(id)) if map.contains_key(id.storage_key().as_str()) => id,
//!             Some(_) => return Ok(None),
//!             None => SessionId::generate()?,
//!         };
//!         let stored = map.entry(key.storage_key().into()).or_default();
//!         match replaced {
//!             // `regenerate`: what the old session holds now comes along.
//!             Some(old) if request.carries_over() => *stored = request.carry_over(old, now_ms()),
//!             _ => request.apply_to(stored, now_ms()),
//!         }
//!         Ok(Some(key.to_string()))
//!     }
//!
//!     async fn destroy(&self, token: &str) -> Result<(), Error> {
//!         if let Some(id) = SessionId::parse(token) {
//!             self.map().remove(id.storage_key().as_str());
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! `SaveRequest::apply_to` implements the merge rules once (per-key changes, flush,
//! increments), and `carry_over` the one of `regenerate`, so a store that keeps
//! records whole does not have to.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use crate::{CompactString, Error, Expiry, Record, StoredValue};

/// What a store can do; the [`Session`](crate::Session) handle and the conformance
/// kit read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The store can apply a request's changes per key without loading first
    /// ([`SaveRequest::merge`]), so a request that only writes costs one round trip.
    pub merges_writes: bool,
    /// `load` refreshes the idle deadline itself, so an unchanged session needs no save.
    pub refreshes_on_load: bool,
    /// `destroy` makes a token unusable (false for the cookie store: a copied cookie
    /// stays valid until its deadline).
    pub revokes_tokens: bool,
    /// Concurrent requests on one session share state: two requests that change
    /// different keys both keep their writes.
    pub shares_state: bool,
    /// The largest session the store keeps, in bytes of keys and JSON values
    /// ([`Record::size`]): a save that would make it larger is refused with
    /// [`Error::TooLarge`]. The [`Session`](crate::Session) checks every whole-record
    /// save against it; a store that merges checks its merges.
    pub max_session_bytes: usize,
}

/// The default [`Capabilities::max_session_bytes`]: 256 KiB.
pub const DEFAULT_MAX_SESSION_BYTES: usize = 256 * 1024;

impl Capabilities {
    /// A server-side store: merges writes, refreshes on load, revokes tokens, shares
    /// state between concurrent requests.
    pub const fn server() -> Self {
        Capabilities {
            merges_writes: true,
            refreshes_on_load: true,
            revokes_tokens: true,
            shares_state: true,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        }
    }

    /// A client-side store (the token carries the data): none of the above.
    pub const fn client_side() -> Self {
        Capabilities {
            merges_writes: false,
            refreshes_on_load: false,
            revokes_tokens: false,
            shares_state: false,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        }
    }

    /// Sets [`merges_writes`](Self::merges_writes).
    pub const fn with_merges_writes(mut self, yes: bool) -> Self {
        self.merges_writes = yes;
        self
    }

    /// Sets [`shares_state`](Self::shares_state). A store that saves whole records
    /// (no merge) does not share state: the last save wins whole.
    pub const fn with_shares_state(mut self, yes: bool) -> Self {
        self.shares_state = yes;
        self
    }

    /// Sets [`max_session_bytes`](Self::max_session_bytes).
    pub const fn with_max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Sets [`refreshes_on_load`](Self::refreshes_on_load).
    pub const fn with_refreshes_on_load(mut self, yes: bool) -> Self {
        self.refreshes_on_load = yes;
        self
    }
}

/// One save: what to write, and where.
#[derive(Debug)]
pub struct SaveRequest<'a> {
    /// The token to update in place, or `None` to create a new session (the store
    /// chooses the new token, and must never overwrite an existing session with it).
    pub token: Option<&'a str>,
    /// A token whose session must be destroyed in the same save (`regenerate`,
    /// `invalidate`). Stores that cannot revoke tokens ignore it.
    pub replaces: Option<&'a str>,
    /// When `merge` is false, the whole session. When true, the values this request
    /// wrote are the entries named in [`changed`](Self::changed) (see
    /// [`writes`](Self::writes)); everything else stored stays as it is. With a
    /// [`base`](Self::base), `record` is the whole session as this request leaves it.
    pub record: &'a Record,
    /// See [`record`](Self::record). Only sent to stores whose
    /// [`Capabilities::merges_writes`] is true.
    pub merge: bool,
    /// With `merge`: the stored revision this request loaded the session at (the
    /// [`Record::revision`] its store's `load` returned). `record` is then the whole
    /// session derived from that revision, so a store whose session is still at `base`
    /// may write `record` whole instead of merging; any other revision means another
    /// request wrote meanwhile, and the store merges [`writes`](Self::writes) as usual.
    pub base: Option<u64>,
    /// `flush` was called: with `merge`, remove every stored value before applying
    /// `record`; with `replaces`, nothing of the replaced session carries over
    /// (`invalidate`).
    pub cleared: bool,
    /// Keys whose values this request wrote (all present in `record`).
    pub changed: &'a BTreeSet<CompactString>,
    /// Keys this request removed (or whose flash data aged out).
    pub removed: &'a BTreeSet<CompactString>,
    /// Counters this request changed by `increment` / `decrement` only, with the net
    /// amount. A store that merges adds the amount to the stored counter (0 when
    /// absent) instead of writing the value in `record`, which is what the request
    /// saw; so concurrent increments are never lost. Every key here is in `changed`.
    pub increments: &'a BTreeMap<CompactString, i64>,
    /// The expiry policy, to compute deadlines for a merge.
    pub expiry: &'a Expiry,
}

impl<'a> SaveRequest<'a> {
    /// A save of `record`, whole, as a new session: what a request that starts a
    /// session sends. Handy in a store's own tests and benchmarks.
    ///
    /// ```
    /// use session_core::{Expiry, MemoryStore, Record, SaveRequest, SessionStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store = MemoryStore::new();
    /// let record = Record::new(session_core::now_ms(), u64::MAX);
    /// let token = store.save(SaveRequest::create(&record, &Expiry::default())).await?;
    /// assert!(token.is_some());
    /// # Ok(()) }
    /// ```
    pub fn create(record: &'a Record, expiry: &'a Expiry) -> Self {
        static NONE: BTreeSet<CompactString> = BTreeSet::new();
        static NO_COUNTS: BTreeMap<CompactString, i64> = BTreeMap::new();
        SaveRequest {
            token: None,
            replaces: None,
            record,
            merge: false,
            base: None,
            cleared: false,
            changed: &NONE,
            removed: &NONE,
            increments: &NO_COUNTS,
            expiry,
        }
    }

    /// True when this save starts a new session that replaces another (`regenerate`)
    /// and must carry over what the replaced one holds: every change stored under
    /// the old token up to the moment it is destroyed, with this request's changes
    /// ([`changes`](Self::changes)) on top. See [`carry_over`](Self::carry_over).
    pub fn carries_over(&self) -> bool {
        self.replaces.is_some() && self.token.is_none() && !self.cleared
    }

    /// This request's changes, key by key: `None` for a key it removed (or whose
    /// flash data aged out), the value it wrote otherwise.
    pub fn changes(
        &self,
    ) -> impl Iterator<Item = (&'a CompactString, Option<&'a StoredValue>)> + Clone + '_ {
        let entries = &self.record.entries;
        let removed = self.removed.iter().map(|key| (key, None));
        let changed = self.changed.iter().map(move |key| (key, entries.get(key)));
        removed.chain(changed)
    }

    /// The new session of a save that [`carries_over`](Self::carries_over): the
    /// replaced session as stored now, with this request's changes applied.
    pub fn carry_over(&self, replaced: Record, now_ms: u64) -> Record {
        let mut stored = replaced;
        self.merge_into(&mut stored, now_ms);
        stored
    }

    /// Applies this save to `stored`, the record kept under the token (a default
    /// record for a new session), and stamps its deadline at `now_ms`.
    pub fn apply_to(&self, stored: &mut Record, now_ms: u64) {
        if !self.merge {
            stored.clone_from(self.record);
            return;
        }
        if stored.created_ms == 0 {
            stored.created_ms = self.record.created_ms;
        }
        if self.cleared {
            stored.entries.clear();
        }
        self.merge_into(stored, now_ms);
    }

    /// Applies [`changes`](Self::changes) and [`increments`](Self::increments) to
    /// `stored` and stamps its deadline.
    fn merge_into(&self, stored: &mut Record, now_ms: u64) {
        for (key, change) in self.changes() {
            match (change, self.increments.get(key)) {
                (Some(value), Some(&by)) => {
                    let current = stored
                        .entries
                        .get(key)
                        .and_then(|v| v.json.as_str().parse::<i64>().ok())
                        .unwrap_or(0);
                    let counted = StoredValue {
                        json: current.saturating_add(by).to_string().into(),
                        flash: value.flash,
                    };
                    stored.entries.insert(key.clone(), counted);
                }
                (Some(value), None) => {
                    stored.entries.insert(key.clone(), value.clone());
                }
                (None, _) => {
                    stored.entries.remove(key);
                }
            }
        }
        stored.expires_ms = self.expiry.deadline(stored.created_ms, now_ms);
    }

    /// The values this request wrote: with `merge` (or when the save
    /// [`carries_over`](Self::carries_over)), the entries of `record` named in
    /// `changed` (one lookup per changed key, not a pass over the session); without,
    /// every entry.
    pub fn writes(
        &self,
    ) -> impl Iterator<Item = (&'a CompactString, &'a StoredValue)> + Clone + '_ {
        let entries = &self.record.entries;
        let (changed, all) = if self.merge || self.carries_over() {
            (Some(self.changed.iter()), None)
        } else {
            (None, Some(entries.iter()))
        };
        changed
            .into_iter()
            .flatten()
            .filter_map(move |key| entries.get_key_value(key))
            .chain(all.into_iter().flatten())
    }
}

/// A session backend.
///
/// Object safe: the HTTP layer holds an `Arc<dyn SessionStore>`. See the
/// [module docs](crate::store) for a complete example store and the
/// `session-testkit` crate for the conformance suite every store should pass.
///
/// Bad tokens (malformed, unknown, expired, tampered) are not errors: `load` answers
/// `Ok(None)` and the request starts a fresh session. Errors are for a backend that is
/// down or slow ([`Error::Unavailable`], [`Error::Timeout`]) or a session that cannot
/// be stored ([`Error::TooLarge`]).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// What this store can do.
    fn capabilities(&self) -> Capabilities;

    /// Loads the session named by `token`, refreshing its idle deadline when the store
    /// [`refreshes_on_load`](Capabilities::refreshes_on_load). `Ok(None)` for a token
    /// that names no live session.
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error>;

    /// Saves, in one round trip, and returns the token to send to the client.
    /// `Ok(None)` when `request.token` names a session that no longer exists (expired
    /// or destroyed): the store must not bring it back; the caller starts a new one.
    async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, Error>;

    /// Destroys the session named by `token` (logout, or a session emptied by
    /// `flush`). Unknown or malformed tokens are not an error.
    async fn destroy(&self, token: &str) -> Result<(), Error>;
}
