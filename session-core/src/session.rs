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

/// What the load found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loaded {
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
        /// When it was loaded: the request's time, for its save too.
        at_ms: u64,
    },
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

#[derive(Debug, Default)]
struct State {
    /// Before loading: only the values this request wrote. After: everything visible.
    /// Values keep their stored form, so a loaded record becomes the view, and the
    /// view the saved record, without copying.
    view: Entries,
    /// The [`Life`] of each value in `view` whose life is not the one its stored form
    /// gives ([`Life::arriving`]): flash data this request wrote or kept, and
    /// `flash_now` data.
    lives: KeyMap<Life>,
    /// Keys written by this request (present in `view`).
    changed: KeySet,
    /// Keys removed by this request.
    removed: KeySet,
    /// Counters changed only by `increment` / `decrement` since the load, with the
    /// net amount (stores that merge add it atomically; see
    /// [`Edit::Add`]).
    increments: KeyMap<i64>,
    /// `flush` was called: nothing stored before survives.
    cleared: bool,
    /// The request read flash data, so it ages flash data (only requests that read
    /// flash data do).
    read: bool,
    /// `regenerate` / `invalidate`: save under a new token, destroy the old one.
    renew: bool,
    /// `commit` ran; later commits do nothing.
    committed: bool,
    /// This session's [`Session::remember`] choice, once known (set in this request,
    /// or loaded).
    remember: Option<bool>,
}

impl State {
    /// The life of `value`, stored in `view` under `key`.
    fn life_of(&self, key: &str, value: &StoredValue) -> Life {
        life_in(&self.lives, key, value)
    }

    /// Puts a value this request wrote into the view, with its life.
    fn put(&mut self, key: &str, json: JsonText, life: Life) {
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
    fn all_persistent(&self) -> bool {
        self.lives.is_empty() && !self.view.values().any(|value| value.flash)
    }

    /// The value under `key`, read by the handler: reading flash data ages it; a
    /// request that reads only persistent keys (an AJAX call for `user`
    /// while the redirected page loads) ages nothing.
    fn read_value(&mut self, key: &str) -> Option<&StoredValue> {
        let value = self.view.get(key)?;
        self.read |= value.flash;
        Some(value)
    }

    /// Removes `key` from the view and marks it removed.
    fn forget(&mut self, key: &str) {
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
    fn keep(&mut self, key: &str) {
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

fn life_in(lives: &KeyMap<Life>, key: &str, value: &StoredValue) -> Life {
    lives
        .get(key)
        .copied()
        .unwrap_or(Life::arriving(value.flash))
}

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

    /// A token for forms that must resist cross-site request forgery in browsers that
    /// send no `Sec-Fetch-Site` or `Origin`: made on first use (256 random bits, kept in
    /// the session under [`CSRF_TOKEN_KEY`]), the same for the rest of the session,
    /// and replaced by [`regenerate`](Self::regenerate) and
    /// [`invalidate`](Self::invalidate).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{Expiry, MemoryStore, Session};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// let token = session.csrf_token().await?;
    /// assert!(session.verify_csrf_token(&token).await?);
    /// assert!(!session.verify_csrf_token("forged").await?);
    /// session.regenerate().await?;
    /// assert_ne!(session.csrf_token().await?, token);
    /// # Ok(()) }
    /// ```
    pub async fn csrf_token(&self) -> Result<String, Error> {
        if let Some(token) = self.get::<String>(CSRF_TOKEN_KEY).await? {
            return Ok(token);
        }
        let token = crate::SessionId::generate()?.to_string();
        self.set(CSRF_TOKEN_KEY, &token).await?;
        Ok(token)
    }

    /// True when `candidate` is this session's [`csrf_token`](Self::csrf_token) (a
    /// session without one accepts none). The comparison takes the same time
    /// wherever the texts differ.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// let token = session.csrf_token().await?;
    /// assert!(session.verify_csrf_token(&token).await?);
    /// assert!(!session.verify_csrf_token("forged").await?);
    /// # Ok(()) }
    /// ```
    pub async fn verify_csrf_token(&self, candidate: &str) -> Result<bool, Error> {
        let Some(token) = self.get::<String>(CSRF_TOKEN_KEY).await? else {
            return Ok(false);
        };
        let (a, b) = (token.as_bytes(), candidate.as_bytes());
        let differ =
            a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
        Ok(!differ)
    }

    /// Makes this session's cookie outlive the browser (`true`: a persistent cookie
    /// with `Max-Age`, for "remember me") or end with it (`false`), whatever the
    /// configured default; the choice is kept in the session under
    /// [`REMEMBER_KEY`] and holds for its later requests.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{Expiry, MemoryStore, Session};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// assert_eq!(session.remembered(), None);
    /// session.remember(true).await?;
    /// assert_eq!(session.remembered(), Some(true));
    /// # Ok(()) }
    /// ```
    pub async fn remember(&self, yes: bool) -> Result<(), Error> {
        self.set(REMEMBER_KEY, &yes).await?;
        self.state().remember = Some(yes);
        Ok(())
    }

    /// This session's [`remember`](Self::remember) choice, when known: made in this
    /// request, or found in the loaded session. `None` when neither (the configured
    /// default applies).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// assert_eq!(session.remembered(), None);
    /// session.remember(false).await?;
    /// assert_eq!(session.remembered(), Some(false));
    /// # Ok(()) }
    /// ```
    pub fn remembered(&self) -> Option<bool> {
        self.state().remember
    }

    /// How long this session lives if left idle from now: the idle timeout, capped by
    /// what its lifetime leaves (counted from its creation; from now, for a session
    /// not loaded or new). What a persistent cookie's `Max-Age` is.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// // A new session lives for the idle timeout (one hour by default).
    /// assert_eq!(session.time_left(), std::time::Duration::from_secs(3600));
    /// # Ok(()) }
    /// ```
    pub fn time_left(&self) -> std::time::Duration {
        let now = now_ms();
        let created = match self.inner.loaded.get() {
            Some(Loaded::Live { created_ms, .. }) => *created_ms,
            _ => now,
        };
        let deadline = self.inner.expiry.deadline(created, now);
        std::time::Duration::from_millis(deadline.saturating_sub(now))
    }

    /// The token this request's session goes by: the client's (or, after a load, the
    /// candidate that named the live session). `None` when the request carried none,
    /// or none named a live session.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// assert_eq!(session.current_token(), None);
    /// session.set("user", "ada").await?;
    /// let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
    /// let next = Session::new(store, Expiry::default(), Some(token.clone()));
    /// assert!(next.has("user").await?);
    /// assert_eq!(next.current_token(), Some(token.as_str()));
    /// # Ok(()) }
    /// ```
    pub fn current_token(&self) -> Option<&str> {
        match self.inner.loaded.get() {
            Some(Loaded::Nothing) => None,
            _ => self.token(),
        }
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
        self.carry_out(&mut st, self.token()).await
    }

    /// Plans the commit ([`plan`]) and carries the plan out.
    async fn carry_out(&self, st: &mut State, token: Option<&str>) -> Result<TokenUpdate, Error> {
        let expiry = self.inner.expiry;
        let loaded = self.inner.loaded.get().copied();
        let now = match loaded {
            Some(Loaded::Live { at_ms, .. }) => at_ms,
            _ => now_ms(),
        };
        let (found, created, loaded_expires, outdated) = match loaded {
            None => (Found::Unread, now, 0, false),
            Some(Loaded::Nothing) => (Found::Nothing, now, 0, false),
            Some(Loaded::Live {
                created_ms,
                expires_ms,
                outdated,
                ..
            }) => (Found::Live, created_ms, expires_ms, outdated),
        };
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
            refresh_due: expiry.deadline(created, now).saturating_sub(loaded_expires)
                > expiry.idle_ms() / 100,
        };
        let step = plan(facts);
        if matches!(step, Plan::Keep | Plan::Forget) {
            return Ok(match step {
                Plan::Forget => TokenUpdate::Remove,
                _ => TokenUpdate::Keep,
            });
        }
        let token = match (step, token) {
            (Plan::Create, _) | (_, None) => {
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
                self.create(&fresh).await
            }
        }
    }

    /// Applies the flash rules' aging to a loaded session: flash data that ages out
    /// in this save is a removal like any other. True when anything survives.
    fn age(st: &mut State) -> bool {
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
    fn within_limit(&self, record: &Record) -> Result<(), Error> {
        let (size, limit) = (record.size(), self.inner.store.max_session_bytes());
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        Ok(())
    }

    /// Stores `record` as a new session.
    async fn create(&self, record: &Record) -> Result<TokenUpdate, Error> {
        self.within_limit(record)?;
        let token = self.inner.store.create(record).await?;
        Ok(TokenUpdate::Send(non_empty(token)?))
    }

    /// Moves what this request leaves behind out of the view into a record: every
    /// value that survives the flash rules (only the ones this request wrote, with
    /// `only_changed`). The view is spent: `commit` runs once.
    fn take_settled(
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

    async fn write<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        life: Life,
    ) -> Result<(), Error> {
        let json = encode(key, value)?;
        self.writing().await?.put(key, json.into(), life);
        Ok(())
    }

    async fn count(&self, key: &str, by: i64) -> Result<i64, Error> {
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

    /// The state, loaded, for a method that returns all of the session's data: it
    /// reads flash data (only requests that read flash data age it).
    async fn reading(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut st = self.loaded().await?;
        st.read = true;
        Ok(st)
    }

    /// The state, loaded, for a method that reads the value of `key` and then
    /// changes it ([`State::read_value`]).
    async fn reading_key(&self, key: &str) -> Result<MutexGuard<'_, State>, Error> {
        let mut st = self.loaded().await?;
        st.read_value(key);
        Ok(st)
    }

    /// The state, for a method that only writes: loaded only when the store cannot
    /// merge writes.
    async fn writing(&self) -> Result<MutexGuard<'_, State>, Error> {
        // With several candidate tokens, only a load tells which one is the session.
        if !(self.inner.merges && self.inner.tokens.len() <= 1) {
            return self.loaded().await;
        }
        Ok(self.state())
    }

    /// The first candidate token that names a live session, with its record and the
    /// merging store's mark; `Loaded::Nothing` when none does.
    async fn load_first_live(&self) -> Result<(Loaded, Option<Record>), Error> {
        let now = now_ms();
        for (index, token) in self.inner.tokens.iter().enumerate() {
            if let Some((record, mark)) = self.load_live(token, now).await? {
                let loaded = Loaded::Live {
                    token: index,
                    created_ms: record.created_ms,
                    expires_ms: record.expires_ms,
                    mark,
                    outdated: record.outdated,
                    at_ms: now,
                };
                return Ok((loaded, Some(record)));
            }
        }
        Ok((Loaded::Nothing, None))
    }

    /// The record `token` names, if it is live at `now` under the current policy,
    /// with the merging store's mark.
    async fn load_live(
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
    async fn loaded(&self) -> Result<MutexGuard<'_, State>, Error> {
        if !self.inner.loaded.initialized() {
            self.inner.loaded.get_or_try_init(|| self.load()).await?;
        }
        Ok(self.state())
    }

    /// Loads the session into the state (run once, by [`loaded`](Self::loaded)).
    async fn load(&self) -> Result<Loaded, Error> {
        let (loaded, record) = self.load_first_live().await?;
        let mut st = self.state();
        // The stored values become the view as they are; what this request wrote or
        // removed before loading (only on a merging store) stays on top.
        let State {
            view,
            removed,
            cleared,
            ..
        } = &mut *st;
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

/// The change a merging store applies: this request's removals and writes, in key
/// order; a counter it only counted is an [`Edit::Add`]. `record` is the session as
/// the request leaves it (or, unread, what it wrote).
fn change_of<'a>(st: &'a State, record: &'a Record) -> Change<'a> {
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
fn non_empty(token: String) -> Result<String, Error> {
    if token.is_empty() {
        return Err(Error::Contract {
            rule: "create returned an empty token",
        });
    }
    Ok(token)
}
