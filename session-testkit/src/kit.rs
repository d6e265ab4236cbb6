//! The simulated client: request after request against one store.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    Change, Error, Expiry, MergeStore, Record, Seen, Session, SessionStore, TokenUpdate,
};

/// How many times each store method was called.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// `load` calls.
    pub loads: usize,
    /// Saves: `create`, `save`, and the merge level's `merge` and `renew`.
    pub saves: usize,
    /// `destroy` calls.
    pub destroys: usize,
}

impl Calls {
    /// All calls together.
    pub fn total(&self) -> usize {
        self.loads + self.saves + self.destroys
    }
}

/// The store under test, wrapped so the kit can count the calls that reach it. Every
/// call goes through to the real store.
struct Counted {
    inner: Box<dyn SessionStore>,
    loads: AtomicUsize,
    saves: AtomicUsize,
    destroys: AtomicUsize,
    /// The last load that found a session returned it with its idle deadline
    /// refreshed.
    refreshed: AtomicBool,
}

impl Counted {
    fn loaded(&self, record: Option<&Record>, expiry: &Expiry) {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if let Some(r) = record {
            let fresh = expiry.deadline(r.created_ms, session_core::now_ms());
            let refreshed = fresh.saturating_sub(r.expires_ms) <= expiry.idle_ms() / 100;
            self.refreshed.store(refreshed, Ordering::SeqCst);
        }
    }

    fn merge_level(&self) -> Result<&dyn MergeStore, Error> {
        self.inner.merging().ok_or(Error::Contract {
            rule: "merging() changed its answer",
        })
    }
}

#[async_trait]
impl SessionStore for Counted {
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        let record = self.inner.load(token, expiry).await?;
        self.loaded(record.as_ref(), expiry);
        Ok(record)
    }

    async fn create(&self, record: &Record) -> Result<String, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await
    }

    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(token, record).await
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        self.destroys.fetch_add(1, Ordering::SeqCst);
        self.inner.destroy(token).await
    }

    fn max_session_bytes(&self) -> usize {
        self.inner.max_session_bytes()
    }

    fn cookie_framing(&self) -> Option<(&str, usize)> {
        self.inner.cookie_framing()
    }

    fn merging(&self) -> Option<&dyn MergeStore> {
        self.inner.merging().map(|_| self as &dyn MergeStore)
    }

    fn users(&self) -> Result<&dyn session_core::UserIndex, Error> {
        self.inner.users()
    }
}

#[async_trait]
impl MergeStore for Counted {
    async fn load_marked(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<(Record, u64)>, Error> {
        let loaded = self.merge_level()?.load_marked(token, expiry).await?;
        self.loaded(loaded.as_ref().map(|(r, _)| r), expiry);
        Ok(loaded)
    }

    async fn merge(
        &self,
        token: &str,
        change: &Change<'_>,
        seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<bool, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.merge_level()?.merge(token, change, seen, expiry).await
    }

    async fn renew(
        &self,
        old: &str,
        change: &Change<'_>,
        record: &Record,
        expiry: &Expiry,
    ) -> Result<String, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.merge_level()?.renew(old, change, record, expiry).await
    }
}

/// One test's world: a store, the expiry policy, and call counters.
#[derive(Clone)]
pub struct Kit {
    store: Arc<Counted>,
    expiry: Expiry,
    client_side: bool,
}

impl Kit {
    /// Wraps `store` for a test, with the default expiry (one hour idle).
    pub fn new(store: impl SessionStore) -> Self {
        Kit {
            store: Arc::new(Counted {
                inner: Box::new(store),
                loads: AtomicUsize::new(0),
                saves: AtomicUsize::new(0),
                destroys: AtomicUsize::new(0),
                refreshed: AtomicBool::new(false),
            }),
            expiry: Expiry::default(),
            client_side: false,
        }
    }

    /// The same kit for a store whose token carries the session (a cookie store):
    /// `destroy` cannot revoke a copied token, so the kit checks what such a store
    /// documents instead (the old token still opens until its deadline).
    pub fn client_side(mut self) -> Self {
        self.client_side = true;
        self
    }

    /// True for a [`client_side`](Self::client_side) store.
    pub fn is_client_side(&self) -> bool {
        self.client_side
    }

    /// True when the store has the merge level ([`SessionStore::merging`]).
    pub fn merges(&self) -> bool {
        self.store.inner.merging().is_some()
    }

    /// True when the last load that found a session returned it with its idle
    /// deadline refreshed (so an unchanged session needs no save).
    pub fn load_refreshes(&self) -> bool {
        self.store.refreshed.load(Ordering::SeqCst)
    }

    /// The store's [`SessionStore::max_session_bytes`].
    pub fn max_session_bytes(&self) -> usize {
        self.store.max_session_bytes()
    }

    /// True when the store keeps an index of users' sessions
    /// ([`SessionStore::users`]): it lists and revokes them.
    pub fn has_user_index(&self) -> bool {
        self.store.users().is_ok()
    }

    /// The store's users, from outside a request, under the kit's expiry.
    pub fn users(&self) -> session_core::Users {
        session_core::Users::new(self.store(), self.expiry)
    }

    /// The same store under another expiry policy.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// The store calls made so far.
    pub fn calls(&self) -> Calls {
        Calls {
            loads: self.store.loads.load(Ordering::SeqCst),
            saves: self.store.saves.load(Ordering::SeqCst),
            destroys: self.store.destroys.load(Ordering::SeqCst),
        }
    }

    /// The store, as the HTTP layer would hold it.
    pub fn store(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }

    /// A new client with an empty cookie jar.
    pub fn client(&self) -> Client {
        Client {
            kit: self.clone(),
            token: None,
        }
    }
}

/// A browser with a one-cookie jar: each request sends the token the last response
/// set, the way an HTTP client would.
#[derive(Clone)]
pub struct Client {
    kit: Kit,
    token: Option<String>,
}

impl Client {
    /// Runs one request: a session from the current token, the handler, then
    /// `commit`, whose [`TokenUpdate`] updates the jar.
    pub async fn request<T, F, Fut>(&mut self, handler: F) -> Result<T, Error>
    where
        F: FnOnce(Session) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let session = self.begin();
        let out = handler(session.clone()).await?;
        self.finish(&session).await?;
        Ok(out)
    }

    /// Starts a request without finishing it (to interleave concurrent requests).
    pub fn begin(&self) -> Session {
        Session::new(self.kit.store(), self.kit.expiry, self.token.clone())
    }

    /// Finishes a request started with [`begin`](Self::begin): commits and updates
    /// the jar.
    pub async fn finish(&mut self, session: &Session) -> Result<TokenUpdate, Error> {
        let update = session.commit().await?;
        match &update {
            TokenUpdate::Keep => {}
            TokenUpdate::Send(token) => self.token = Some(token.clone()),
            TokenUpdate::Remove => self.token = None,
        }
        Ok(update)
    }

    /// The token in the jar.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Replaces the token in the jar (a stolen, forged or old cookie).
    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }
}

/// Runs one case on a fresh store from `factory`, on a multi-threaded runtime.
pub fn run<S, F, Fut, C, CFut>(factory: F, case: C) -> Result<(), Error>
where
    S: SessionStore,
    F: FnOnce() -> Fut,
    Fut: Future<Output = S>,
    C: FnOnce(Kit) -> CFut,
    CFut: Future<Output = Result<(), Error>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Unavailable {
            store: "tokio runtime",
            source: Box::new(e),
        })?;
    runtime.block_on(async move {
        let store = factory().await;
        case(Kit::new(store)).await
    })
}
