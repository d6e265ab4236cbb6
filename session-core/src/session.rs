//! The [`Session`] handle: what a request handler uses.
//!
//! A `Session` is created per request from the client's token (if any) and a store.
//! It loads lazily: nothing is fetched until a method needs the stored data, and a
//! request that never touches its session costs no store call. After the handler, the
//! HTTP layer calls [`Session::commit`] once, which saves in one store call if
//! anything changed and says what to do with the client's token ([`TokenUpdate`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use compact_str::{CompactString, ToCompactString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::entries::Entries;
use crate::expiry::now_ms;
use crate::flash::{settle, Life};
use crate::keyed::{KeyMap, KeySet};
use crate::plan::{plan, Facts, Found, Plan};
use crate::store::{Change, Edit, Seen};
use crate::text::JsonText;
use crate::value::{decode, encode};
use crate::{Error, Expiry, Record, SessionStore, StoredValue};

mod commit;
mod cookie;
mod load;
mod state;
mod users;

use load::Loaded;
use state::{life_in, Bound, State};

/// What the HTTP layer should do with the client's token after [`Session::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenUpdate {
    /// Send nothing: the client's cookie (or its absence) stays as it is.
    Keep,
    /// Send this token (a new or refreshed session).
    Send(String),
    /// Tell the client to delete its cookie (the session was emptied or invalidated).
    Remove,
}

/// One request's session.
///
/// Cheap to clone (an `Arc`); every clone is the same session. All methods are async
/// because the first one that needs stored data loads it.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
/// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
///
/// // Request 1: no cookie yet.
/// let session = Session::new(store.clone(), Expiry::default(), None);
/// session.set("user", &"ada").await?;
/// session.flash("notice", &"Welcome back!").await?;
/// let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
///
/// // Request 2: the client sends the token back.
/// let session = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
/// assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
/// assert!(session.has("notice").await?);
/// session.commit().await?;
///
/// // Request 3: the flash message is gone, the user is not.
/// let session = Session::new(store, Expiry::default(), Some(token));
/// assert!(!session.has("notice").await?);
/// assert!(session.has("user").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn SessionStore>,
    /// The store has a merge level.
    merges: bool,
    expiry: Expiry,
    /// The client's candidate tokens, in the order they are tried (at most
    /// [`MAX_CANDIDATES`]); empty when the request carried none.
    tokens: Vec<String>,
    /// What the load found, once loaded. Concurrent clones of the handle wait for
    /// the first one's load instead of loading again.
    loaded: OnceCell<Loaded>,
    /// Never held across an `await`: the load and the save run outside it.
    state: Mutex<State>,
    /// Where lifecycle events go ([`Session::on_event`]).
    events: std::sync::OnceLock<crate::EventSink>,
}

/// The session key under which [`Session::csrf_token`] keeps its token.
pub const CSRF_TOKEN_KEY: &str = "_csrf_token";

/// The session key under which [`Session::remember`] keeps its choice.
pub const REMEMBER_KEY: &str = "_remember";

/// At most this many candidate tokens are tried per request.
///
/// A browser sends every cookie of the session's name that matches the request, so a
/// sibling domain can plant duplicates in front of the real one; each planted one
/// costs at most one failed open (or, on a server store, one lookup of a token that
/// names nothing). Sixteen leaves an attacker no cheap way to push the real cookie
/// out, and bounds the work of a request that sends thousands.
pub const MAX_CANDIDATES: usize = 16;

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("expiry", &self.inner.expiry)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for one request. `token` is the client's cookie value, if any; it is
    /// not looked at until a method needs stored data.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// // A request without a cookie, then one that sends the token back.
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
    /// let next = Session::new(store, Expiry::default(), Some(token));
    /// assert!(next.has("user").await?);
    /// # Ok(()) }
    /// ```
    pub fn new(store: Arc<dyn SessionStore>, expiry: Expiry, token: Option<String>) -> Self {
        Session::start(store, expiry, token.into_iter().collect())
    }

    /// A session for a request that carries several candidate tokens (a browser sends
    /// every cookie of the session's name: a duplicate planted by a sibling domain, or
    /// a forged chunk, comes along with the real one). The first candidate that names
    /// a live session wins; the others are ignored. At most [`MAX_CANDIDATES`] are
    /// tried, in the order given; the rest are dropped unread.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
    ///
    /// let tokens = vec!["planted-garbage".to_owned(), token];
    /// let session = Session::with_candidates(store, Expiry::default(), tokens);
    /// assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    /// assert_eq!(session.commit().await?, TokenUpdate::Keep);
    /// # Ok(()) }
    /// ```
    pub fn with_candidates(
        store: Arc<dyn SessionStore>,
        expiry: Expiry,
        mut candidates: Vec<String>,
    ) -> Self {
        candidates.truncate(MAX_CANDIDATES);
        Session::start(store, expiry, candidates)
    }

    fn start(store: Arc<dyn SessionStore>, expiry: Expiry, tokens: Vec<String>) -> Self {
        let merges = store.merging().is_some();
        Session {
            inner: Arc::new(Inner {
                store,
                merges,
                expiry,
                tokens,
                loaded: OnceCell::new(),
                state: Mutex::new(State::default()),
                events: std::sync::OnceLock::new(),
            }),
        }
    }

    /// True once this request loaded its session: the response then depends on the
    /// session (an HTTP layer adds `Vary: Cookie`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// assert!(!session.was_loaded(), "nothing needed the stored data yet");
    /// session.get::<String>("user").await?;
    /// assert!(session.was_loaded());
    /// # Ok(()) }
    /// ```
    pub fn was_loaded(&self) -> bool {
        self.inner.loaded.initialized()
    }

    /// The state. Its lock is only ever held for a few steps without an `await`, and
    /// nothing that can panic runs under it; a poisoned lock is taken as it is.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The token that names this request's session: the candidate a load found
    /// live, or (not loaded yet, or nothing live) the first one.
    fn token(&self) -> Option<&str> {
        let index = match self.inner.loaded.get() {
            Some(Loaded::Live { token, .. }) => *token,
            _ => 0,
        };
        self.inner.tokens.get(index).map(String::as_str)
    }

    /// The value stored under `key`: `Ok(None)` when absent, `Err(Error::Decode)`
    /// naming the key when it is not a `T` (the stored value is left as it is).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("visits", &3).await?;
    /// assert_eq!(session.get::<u32>("visits").await?, Some(3));
    /// assert_eq!(session.get::<u32>("missing").await?, None);
    /// assert!(session.get::<String>("visits").await.is_err(), "not a string");
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let mut st = self.loaded().await?;
        st.read_value(key)
            .map(|value| decode(key, &value.json))
            .transpose()
    }

    /// True exactly when [`get`](Self::get) would return `Some`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// assert!(session.has("user").await?);
    /// assert!(!session.has("cart").await?);
    /// # Ok(()) }
    /// ```
    pub async fn has(&self, key: &str) -> Result<bool, Error> {
        Ok(self.loaded().await?.read_value(key).is_some())
    }

    /// Every value `get` can see, as JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// session.set("visits", &3).await?;
    /// let all = session.all().await?;
    /// assert_eq!(all["user"], serde_json::json!("ada"));
    /// assert_eq!(all.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn all(&self) -> Result<BTreeMap<String, serde_json::Value>, Error> {
        let st = self.reading().await?;
        st.view
            .iter()
            .map(|(key, value)| Ok((key.to_string(), decode(key, &value.json)?)))
            .collect()
    }

    /// Every key `get` can see, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("b", &2).await?;
    /// session.set("a", &1).await?;
    /// assert_eq!(session.keys().await?, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .reading()
            .await?
            .view
            .keys()
            .map(CompactString::to_string)
            .collect())
    }

    /// Stores a persistent value. Makes `key` persistent even if it was flashed.
    /// A value that cannot be encoded gives `Err(Error::Encode)` and stores nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Cart { items: Vec<String> }
    ///
    /// session.set("cart", &Cart { items: vec!["apple".into()] }).await?;
    /// let cart: Option<Cart> = session.get("cart").await?;
    /// assert_eq!(cart.map(|c| c.items.len()), Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.write(key, value, Life::Persistent).await
    }

    /// Stores a value readable for the rest of this request and throughout the next
    /// request that reads flash data.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.flash("notice", "Saved").await?;
    /// let TokenUpdate::Send(token) = first.commit().await? else { unreachable!() };
    /// // The next request that reads flash data sees it...
    /// let second = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    /// assert_eq!(second.get::<String>("notice").await?.as_deref(), Some("Saved"));
    /// second.commit().await?;
    /// // ...and the one after that does not.
    /// let third = Session::new(store, Expiry::default(), Some(token));
    /// assert!(!third.has("notice").await?);
    /// # Ok(()) }
    /// ```
    pub async fn flash<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.write(key, value, Life::Flashed).await
    }

    /// Makes a value readable in this request only; it is never stored, and replaces
    /// any stored value under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.flash_now("error", "Try again").await?;
    /// assert!(session.has("error").await?);
    /// // Never stored: the session stays empty, and no cookie is sent.
    /// assert_eq!(session.commit().await?, TokenUpdate::Keep);
    /// # Ok(()) }
    /// ```
    pub async fn flash_now<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.write(key, value, Life::Now).await
    }

    /// Removes `key` (persistent or flash), now and for every later request.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// session.delete("user").await?;
    /// assert!(!session.has("user").await?);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.writing().await?.forget(key);
        Ok(())
    }

    /// Removes everything, flash data included.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// session.flash("notice", "Hi").await?;
    /// session.flush().await?;
    /// assert!(session.keys().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        let mut st = self.writing().await?;
        st.view.clear();
        st.lives.clear();
        st.changed.clear();
        st.removed.clear();
        st.increments.clear();
        st.remember = None;
        st.cleared = true;
        Ok(())
    }

    /// [`get`](Self::get), then [`delete`](Self::delete) when the value was present.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("coupon", "SAVE10").await?;
    /// assert_eq!(session.pull::<String>("coupon").await?.as_deref(), Some("SAVE10"));
    /// assert!(!session.has("coupon").await?);
    /// # Ok(()) }
    /// ```
    pub async fn pull<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let mut st = self.reading_key(key).await?;
        let Some(stored) = st.view.get(key) else {
            return Ok(None);
        };
        let value = decode(key, &stored.json)?;
        st.forget(key);
        Ok(Some(value))
    }

    /// Adds `by` to the integer counter under `key` (a missing key counts from 0) and
    /// returns the new value as this request sees it. A store that merges applies the
    /// addition atomically at save, so concurrent increments are never lost (the
    /// stored counter then counts them all, though each request saw only its own).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// assert_eq!(session.increment("visits", 1).await?, 1);
    /// assert_eq!(session.increment("visits", 2).await?, 3);
    /// # Ok(()) }
    /// ```
    pub async fn increment(&self, key: &str, by: i64) -> Result<i64, Error> {
        self.count(key, by).await
    }

    /// Subtracts `by` from the integer counter under `key` (a missing key counts
    /// from 0) and returns the new value; see [`increment`](Self::increment).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("credits", &5).await?;
    /// assert_eq!(session.decrement("credits", 2).await?, 3);
    /// # Ok(()) }
    /// ```
    pub async fn decrement(&self, key: &str, by: i64) -> Result<i64, Error> {
        let by = by.checked_neg().ok_or_else(|| Error::CounterOverflow {
            key: key.to_owned(),
        })?;
        self.count(key, by).await
    }

    /// Gives every current flash value one more reading request.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.flash("notice", "Saved").await?;
    /// let TokenUpdate::Send(token) = first.commit().await? else { unreachable!() };
    /// let second = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    /// assert!(second.has("notice").await?);
    /// second.reflash().await?; // one more reading request for every flash value
    /// second.commit().await?;
    /// let third = Session::new(store, Expiry::default(), Some(token));
    /// assert!(third.has("notice").await?);
    /// # Ok(()) }
    /// ```
    pub async fn reflash(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let keys: Vec<CompactString> = st.view.keys().cloned().collect();
        for key in keys {
            st.keep(&key);
        }
        Ok(())
    }

    /// Gives the named flash values one more reading request; other keys are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.flash("notice", "Saved").await?;
    /// first.flash("hint", "Press save").await?;
    /// let TokenUpdate::Send(token) = first.commit().await? else { unreachable!() };
    /// let second = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    /// assert!(second.has("notice").await?);
    /// second.keep(["notice"]).await?;
    /// second.commit().await?;
    /// let third = Session::new(store, Expiry::default(), Some(token));
    /// assert!(third.has("notice").await?);
    /// assert!(!third.has("hint").await?);
    /// # Ok(()) }
    /// ```
    pub async fn keep<I, K>(&self, keys: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut st = self.loaded().await?;
        for key in keys {
            st.keep(key.as_ref());
        }
        Ok(())
    }

    /// Moves the session to a new id, keeping its data, and destroys the old id in
    /// the store. Call it at login, against session fixation.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.set("user", "ada").await?;
    /// let TokenUpdate::Send(old) = first.commit().await? else { unreachable!() };
    /// // At sign-in: a new id, the same data; the old id opens nothing.
    /// let login = Session::new(store.clone(), Expiry::default(), Some(old.clone()));
    /// login.regenerate().await?;
    /// let TokenUpdate::Send(new) = login.commit().await? else { unreachable!() };
    /// assert_ne!(new, old);
    /// assert!(Session::new(store.clone(), Expiry::default(), Some(new)).has("user").await?);
    /// assert!(!Session::new(store, Expiry::default(), Some(old)).has("user").await?);
    /// # Ok(()) }
    /// ```
    pub async fn regenerate(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        st.renew = true;
        // A new id gets a new cross-site request token.
        if st.view.contains_key(CSRF_TOKEN_KEY) {
            st.forget(CSRF_TOKEN_KEY);
        }
        Ok(())
    }

    /// Removes everything and destroys the session in the store; later writes in this
    /// request go to a new id. Call it at logout.
    ///
    /// A server store (Redis, SQL) destroys the stored session, so no copy of the
    /// old cookie opens it again. A store whose cookie carries the session (the
    /// cookie store) keeps nothing to destroy: this clears the client's cookie, but
    /// a copy taken before still opens the session until it expires.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.set("user", "ada").await?;
    /// let TokenUpdate::Send(token) = first.commit().await? else { unreachable!() };
    /// // At sign-out: everything gone, the client's cookie removed.
    /// let logout = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    /// logout.invalidate().await?;
    /// assert_eq!(logout.commit().await?, TokenUpdate::Remove);
    /// assert!(!Session::new(store, Expiry::default(), Some(token)).has("user").await?);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate(&self) -> Result<(), Error> {
        self.flush().await?;
        self.state().renew = true;
        Ok(())
    }

    /// Saves the session (at most one store call, or two when the session was
    /// destroyed meanwhile and a fresh one is started, or when a store without a merge
    /// level renews it) and says what to do with the client's token. Call once, after
    /// the handler; later calls (and changes made after the first) do nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.set("user", "ada").await?;
    /// assert!(matches!(session.commit().await?, TokenUpdate::Send(_)));
    /// // A second commit does nothing.
    /// assert_eq!(session.commit().await?, TokenUpdate::Keep);
    /// # Ok(()) }
    /// ```
    pub async fn commit(&self) -> Result<TokenUpdate, Error> {
        let mut st = {
            let mut state = self.state();
            if state.committed {
                return Ok(TokenUpdate::Keep);
            }
            // What the request did moves out for the save; the `remember` choice
            // stays for `remembered`.
            let spent = std::mem::take(&mut *state);
            state.committed = true;
            state.remember = spent.remember;
            spent
        };
        let chose = st.changed.contains(REMEMBER_KEY);
        // The binding the commit leaves (only a loaded session's view tells); read
        // again only when the request touched it, else it is the loaded one.
        let touched = st.cleared
            || [crate::USER_KEY, crate::DEVICE_KEY]
                .iter()
                .any(|key| st.changed.contains(key) || st.removed.contains(key));
        let bound_after = match (self.was_loaded(), touched) {
            (false, _) => None,
            (true, true) => Bound::of(&st.view),
            (true, false) => st.bound.clone(),
        };
        let renewing = st.renew;
        let update = self.carry_out(&mut st, self.token()).await;
        self.state().lifetime_moved = st.lifetime_moved || chose;
        let update = update?;
        self.follow_users(&st, bound_after, renewing, &update)
            .await?;
        Ok(update)
    }
}
