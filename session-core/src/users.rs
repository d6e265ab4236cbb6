//! Users and their devices: which sessions belong to a user, listing them, ending
//! them, from a request ([`Session::login`](crate::Session::login) and the methods
//! beside it) or from outside one ([`Users`]).
//!
//! A signed-in session holds its user under [`USER_KEY`] and a device id under
//! [`DEVICE_KEY`]: an opaque handle, made at sign-in, that names the session in a
//! listing and outlives `regenerate` (the token changes, the device stays). It is
//! never a token: it opens nothing.
//!
//! A store that keeps an index of users' sessions offers it through
//! [`SessionStore::users`]; the [`Session`](crate::Session) tells the index of every
//! sign-in, regenerate and sign-out as part of that request's commit (a request that
//! does none of those costs the index nothing). A store without an index answers
//! [`Error::NoUserIndex`], naming what would give it one.
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate, Users};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
//! let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
//! // Ada signs in on two devices.
//! for _ in 0..2 {
//!     let session = Session::new(store.clone(), Expiry::default(), None);
//!     session.login("ada").await?;
//!     session.commit().await?;
//! }
//! // An admin, outside any request, sees both and signs her out everywhere.
//! let users = Users::new(store, Expiry::default());
//! assert_eq!(users.sessions("ada").await?.len(), 2);
//! assert_eq!(users.revoke_all("ada").await?, 2);
//! assert!(users.sessions("ada").await?.is_empty());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Serialize;

use crate::{Error, Expiry, SessionStore};

/// The session key that holds a signed-in session's user id (a JSON string).
pub const USER_KEY: &str = "_user";

/// The session key that holds a signed-in session's device id (a JSON string).
pub const DEVICE_KEY: &str = "_device";

/// The most sessions an index keeps for one user; signing in once more ends the
/// oldest (by creation) of a user who has this many.
pub const MAX_SESSIONS_PER_USER: usize = 256;

/// One of a user's live sessions, as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The session's device id: an opaque handle for revoking it, never a token.
    pub id: String,
    /// True for the session of the request that asked (always false from [`Users`]).
    pub current: bool,
    /// When the session was created (unix ms).
    pub created_ms: u64,
    /// When the session was last used, as the store knows it (unix ms; within a
    /// hundredth of the idle timeout for stores that refresh the deadline in steps).
    pub last_seen_ms: u64,
}

/// A store's index of users' sessions.
///
/// The [`Session`](crate::Session) calls [`bind`](Self::bind) when a commit leaves a
/// signed-in session under a new token or a new user or device (sign-in,
/// `regenerate`), and [`unbind`](Self::unbind) when it ends one (sign-out,
/// `invalidate`, a session emptied). An index that the store keeps consistent by
/// itself (a database column computed from the session) makes both no-ops.
/// Listings never show a session that is gone or past its deadline under `expiry`.
#[async_trait]
pub trait UserIndex: Send + Sync {
    /// The session `token` names, created at `created_ms`, is `user`'s, on
    /// `device` (a new binding, or the same one under a new token).
    async fn bind(
        &self,
        user: &str,
        device: &str,
        token: &str,
        created_ms: u64,
        expiry: &Expiry,
    ) -> Result<(), Error>;

    /// `user`'s session on `device` has ended (destroyed by this request).
    async fn unbind(&self, user: &str, device: &str) -> Result<(), Error>;

    /// `user`'s live sessions, oldest first (`current` false in each).
    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, Error>;

    /// Ends `user`'s session on `device`; false when `user` has no live session
    /// there.
    async fn revoke(&self, user: &str, device: &str) -> Result<bool, Error>;

    /// Ends every session of `user` but the one on `keep`; how many ended.
    async fn revoke_others(&self, user: &str, keep: Option<&str>) -> Result<u64, Error>;
}

/// A server-side registry of the signed-in sessions of a store that keeps no state
/// of its own (the cookie store): the index of users' sessions, and the check that
/// makes sign-out and revocation stick.
///
/// A signed-in session is bound at sign-in; a load of a signed-in session asks
/// [`holds`](Self::holds), and a session whose binding is gone (signed out,
/// revoked, expired) opens as no session, a copy of its cookie included. A session
/// without a user is never looked up.
#[async_trait]
pub trait Registry: Send + Sync {
    /// True while `user`'s session on `device` is bound (not signed out, revoked, or
    /// past its deadline under `expiry`). May answer from a cache, for at most the
    /// registry's documented staleness bound.
    async fn holds(&self, user: &str, device: &str, expiry: &Expiry) -> Result<bool, Error>;

    /// The registry as the store's [`UserIndex`].
    fn index(&self) -> &dyn UserIndex;
}

/// How long a registry's "still signed in" answer is kept in memory by default (ms):
/// a revocation through another app server is honoured within this.
pub const ANSWER_MS: u64 = 500;

/// The most memory a registry's kept answers take by default, in bytes.
pub const ANSWER_BYTES: usize = 1 << 20;

/// A registry's memory of recent "yes, still signed in" answers, so that a signed-in
/// request need not ask the registry's server every time: each answer holds for
/// `ttl_ms` (the registry's staleness bound: a revocation through another app
/// server is honoured here within it), and all of them within `budget` bytes (each
/// counts its key and 64 bytes of bookkeeping; past the budget they are all dropped).
///
/// ```
/// use session_core::users::RecentAnswers;
///
/// let answers = RecentAnswers::new(500, 1 << 20);
/// assert!(!answers.holds("ada", "d1", 1_000));
/// answers.remember("ada", "d1", 1_000);
/// assert!(answers.holds("ada", "d1", 1_499));
/// assert!(!answers.holds("ada", "d1", 1_500), "past its time");
/// answers.remember("ada", "d1", 2_000);
/// answers.forget("ada", &["d1"]);
/// assert!(!answers.holds("ada", "d1", 2_001));
/// ```
#[derive(Debug)]
pub struct RecentAnswers {
    ttl_ms: u64,
    budget: usize,
    held: std::sync::Mutex<(std::collections::HashMap<String, u64>, usize)>,
    /// How many [`holds`](Self::holds) answered yes, and no.
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl Default for RecentAnswers {
    /// [`ANSWER_MS`] each, within [`ANSWER_BYTES`].
    fn default() -> Self {
        RecentAnswers::new(ANSWER_MS, ANSWER_BYTES)
    }
}

impl RecentAnswers {
    /// Answers that hold `ttl_ms` each, within `budget` bytes.
    pub fn new(ttl_ms: u64, budget: usize) -> Self {
        RecentAnswers {
            ttl_ms,
            budget,
            held: std::sync::Mutex::default(),
            hits: std::sync::atomic::AtomicU64::new(0),
            misses: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn key(user: &str, device: &str) -> String {
        format!("{}:{device}", user_digest(user))
    }

    fn held(&self) -> std::sync::MutexGuard<'_, (std::collections::HashMap<String, u64>, usize)> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when a yes for `user`'s `device`, remembered before `now`, still holds.
    pub fn holds(&self, user: &str, device: &str, now: u64) -> bool {
        let key = Self::key(user, device);
        let held = self.held().0.get(&key).is_some_and(|until| now < *until);
        let count = if held { &self.hits } else { &self.misses };
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        held
    }

    /// How many checks were answered from memory, and how many were not, so far.
    ///
    /// ```
    /// use session_core::users::RecentAnswers;
    ///
    /// let answers = RecentAnswers::default();
    /// answers.holds("ada", "d1", 0);
    /// answers.remember("ada", "d1", 0);
    /// answers.holds("ada", "d1", 1);
    /// assert_eq!(answers.stats(), (1, 1));
    /// ```
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(std::sync::atomic::Ordering::Relaxed),
            self.misses.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Remembers the registry's yes for `user`'s `device`, given at `now`.
    pub fn remember(&self, user: &str, device: &str, now: u64) {
        let key = Self::key(user, device);
        let weight = key.len() + 64;
        let until = now.saturating_add(self.ttl_ms);
        let mut held = self.held();
        let (map, bytes) = &mut *held;
        if *bytes + weight > self.budget {
            map.clear();
            *bytes = 0;
        }
        if weight <= self.budget && map.insert(key, until).is_none() {
            *bytes += weight;
        }
    }

    /// Forgets what was remembered of `user`'s `devices` (signed out or revoked here).
    pub fn forget(&self, user: &str, devices: &[&str]) {
        let mut held = self.held();
        let (map, bytes) = &mut *held;
        for device in devices {
            let key = Self::key(user, device);
            if map.remove(&key).is_some() {
                *bytes = bytes.saturating_sub(key.len() + 64);
            }
        }
    }

    /// The bytes held now (never more than the budget).
    pub fn bytes(&self) -> usize {
        self.held().1
    }
}

/// The name a server store files `user`'s index under: the lowercase hex SHA-256
/// digest of the user id (64 digits), so any user id, of any length or bytes, makes
/// a key of bounded size that reveals nothing of it.
///
/// ```
/// let key = session_core::users::user_digest("ada@example.com");
/// assert_eq!(key.len(), 64);
/// assert_eq!(key, session_core::users::user_digest("ada@example.com"));
/// ```
pub fn user_digest(user: &str) -> String {
    crate::id::hex_digest(user.as_bytes())
}

/// The user and device `record` is bound to ([`USER_KEY`], [`DEVICE_KEY`]), when it
/// is signed in.
///
/// ```
/// use session_core::{Record, RecordBuilder};
///
/// let mut builder = RecordBuilder::with_capacity(2, 16);
/// builder.push("_device", r#""d1""#, false);
/// builder.push("_user", r#""ada""#, false);
/// let record = builder.finish(0, 1);
/// assert_eq!(session_core::users::binding(&record), Some(("ada".into(), "d1".into())));
/// assert_eq!(session_core::users::binding(&Record::new(0, 1)), None);
/// ```
pub fn binding(record: &crate::Record) -> Option<(String, String)> {
    binding_of(&record.entries)
}

/// The user and device `entries` are bound to: both keys, each a JSON string.
pub(crate) fn binding_of(entries: &crate::entries::Entries) -> Option<(String, String)> {
    let text = |key: &str| {
        entries
            .get(key)
            .and_then(|v| serde_json::from_str::<String>(v.json.as_str()).ok())
    };
    Some((text(USER_KEY)?, text(DEVICE_KEY)?))
}

/// A fresh device id: 128 bits from the operating system's CSPRNG, as 22
/// characters of base64url.
pub(crate) fn new_device_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A user's sessions from outside a request: for an admin page or a background job.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{Expiry, MemoryStore, Users};
///
/// let users = Users::new(Arc::new(MemoryStore::new()), Expiry::default());
/// # let _ = users;
/// ```
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn SessionStore>,
    expiry: Expiry,
    events: Option<crate::EventSink>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("expiry", &self.expiry)
            .finish()
    }
}

impl Users {
    /// The users of `store`, whose sessions live under `expiry` (the policy the app's
    /// sessions use: listings leave out what it has expired).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{Expiry, MemoryStore, Users};
    ///
    /// let users = Users::new(Arc::new(MemoryStore::new()), Expiry::default());
    /// # let _ = users;
    /// ```
    pub fn new(store: Arc<dyn SessionStore>, expiry: Expiry) -> Self {
        Users {
            store,
            expiry,
            events: None,
        }
    }

    /// Tells `sink` of every revocation made through these users
    /// ([`SessionEvent::Revoked`](crate::SessionEvent::Revoked)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// use std::sync::{Arc, Mutex};
    /// use session_core::{Expiry, MemoryStore, Session, SessionEvent, SessionStore, Users};
    ///
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// session.login("ada").await?;
    /// session.commit().await?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let users = Users::new(store, Expiry::default())
    ///     .with_events(Arc::new(move |e: &SessionEvent| log.lock().unwrap().push(e.clone())));
    /// users.revoke_all("ada").await?;
    /// assert!(matches!(&seen.lock().unwrap()[0], SessionEvent::Revoked { count: 1, .. }));
    /// # Ok(()) }
    /// ```
    pub fn with_events(mut self, sink: crate::EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    fn tell(&self, user: &str, device: Option<&str>, count: u64) {
        if let (Some(sink), true) = (&self.events, count > 0) {
            sink(&crate::SessionEvent::Revoked {
                user: user.to_owned(),
                device: device.map(str::to_owned),
                count,
            });
        }
    }

    /// `user`'s live sessions, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, Users};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// session.login("ada").await?;
    /// session.commit().await?;
    /// let sessions = Users::new(store, Expiry::default()).sessions("ada").await?;
    /// assert_eq!(sessions.len(), 1);
    /// assert!(!sessions[0].current);
    /// # Ok(()) }
    /// ```
    pub async fn sessions(&self, user: &str) -> Result<Vec<Device>, Error> {
        self.store.users()?.list(user, &self.expiry).await
    }

    /// Ends `user`'s session on `device` (a [`Device::id`]); false when `user` has no
    /// live session there. The session is gone on its next request, on every app
    /// server (within a near-cache's staleness bound).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, Users};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// # let session = Session::new(store.clone(), Expiry::default(), None);
    /// # session.login("ada").await?;
    /// # session.commit().await?;
    /// let users = Users::new(store, Expiry::default());
    /// let device = users.sessions("ada").await?.remove(0).id;
    /// assert!(users.revoke("ada", &device).await?);
    /// assert!(!users.revoke("ada", &device).await?, "gone already");
    /// # Ok(()) }
    /// ```
    pub async fn revoke(&self, user: &str, device: &str) -> Result<bool, Error> {
        let revoked = self.store.users()?.revoke(user, device).await?;
        self.tell(user, Some(device), u64::from(revoked));
        Ok(revoked)
    }

    /// Ends every session of `user`; how many ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, SessionStore, Users};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let users = Users::new(Arc::new(MemoryStore::new()), Expiry::default());
    /// assert_eq!(users.revoke_all("nobody").await?, 0);
    /// # Ok(()) }
    /// ```
    pub async fn revoke_all(&self, user: &str) -> Result<u64, Error> {
        let count = self.store.users()?.revoke_others(user, None).await?;
        self.tell(user, None, count);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_answers_stay_within_their_budget() {
        let answers = RecentAnswers::new(1_000, 4_096);
        for n in 0..10_000 {
            answers.remember(&format!("user{n}"), "device", 0);
            assert!(answers.bytes() <= 4_096, "{} bytes", answers.bytes());
        }
        // The latest is held; an answer heavier than the whole budget is not kept.
        assert!(answers.holds("user9999", "device", 1));
        let tiny = RecentAnswers::new(1_000, 10);
        tiny.remember("ada", "device", 0);
        assert_eq!(tiny.bytes(), 0);
        assert!(!tiny.holds("ada", "device", 1));
    }
}
