//! The simulated client: request after request against one store.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    Capabilities, Error, Expiry, Record, SaveRequest, Session, SessionStore, TokenUpdate,
};

/// How many times each store method was called.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// `load` calls.
    pub loads: usize,
    /// `save` calls.
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
}

#[async_trait]
impl SessionStore for Counted {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(token, expiry).await
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(request).await
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        self.destroys.fetch_add(1, Ordering::SeqCst);
        self.inner.destroy(token).await
    }
}

/// One test's world: a store, the expiry policy, and call counters.
#[derive(Clone)]
pub struct Kit {
    store: Arc<Counted>,
    expiry: Expiry,
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
            }),
            expiry: Expiry::default(),
        }
    }

    /// The same store under another expiry policy.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// What the store declares it can do.
    pub fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
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
