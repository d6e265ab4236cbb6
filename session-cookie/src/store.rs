//! [`CookieStore`]: the session sealed in the client's cookie.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{now_ms, Expiry, Record, Registry, SessionStore, UserIndex};

use crate::key::Keyring;
use crate::opened::{self, OpenedCookies};
use crate::seal::{open, seal, Opened, Rejected};
use session_core::cookie::capacity;

/// Sessions sealed in the client's cookie with XChaCha20-Poly1305.
///
/// # What it guarantees
///
/// - **Confidentiality**: the client cannot read what is in its session.
/// - **Integrity and authenticity**: the client cannot change, forge, or splice a
///   session, move it to another cookie name, or extend its deadlines (they are sealed
///   inside); any such cookie opens as "no session".
/// - **Expiry**: the idle `timeout` and absolute `lifetime` are enforced on open, with
///   the server's *current* settings: lowering either shortens cookies already issued.
/// - **Key rotation**: a cookie sealed with a previous key opens, and is sealed again
///   with the current key on that very response, even a read-only one.
/// - **Cookies sent again are not decrypted again**: the store keeps the cookies it
///   opened lately (at most 8 MiB by default, see
///   [`with_opened_cache_bytes`](Self::with_opened_cache_bytes)), so the many
///   read-only requests of a session, which all send the same cookie, cost one
///   comparison instead of decoding and decrypting it; a cookie it seals is kept
///   too, for the request that sends it back. Only a cookie that authenticated or
///   that the store sealed is kept, under its whole text, and the expiry rules
///   above are applied on every load.
/// - **Revocation of signed-in sessions, with a registry**
///   ([`with_registry`](Self::with_registry)): sign-out (`Session::logout`) and
///   revocation end a signed-in session for good, a copy of its cookie included; the
///   user's sessions can be listed. Visitors' sessions never touch the registry.
///
/// # What it does not guarantee
///
/// - **Revocation without a registry**: a copied cookie stays valid until its idle or
///   absolute deadline. `invalidate` and `regenerate` send the client a new cookie,
///   but cannot make a copy of the old one stop working. Configure a registry
///   (`[cookie] registry = "redis"`), keep `timeout` short, or use a server-side
///   store when you must be able to revoke sessions. Even with a registry, a copy
///   of a visitor's (not signed-in) cookie opens until it expires.
/// - **Concurrency**: two concurrent requests each send a whole cookie; the one the
///   browser receives last wins.
/// - **Size**: at most `max_chunks` cookies of 4096 bytes; larger sessions are refused
///   with [`session_core::Error::TooLarge`], never silently cut.
///
/// ```
/// use session_cookie::{CookieStore, Key, Keyring};
///
/// let store = CookieStore::new(Keyring::new(Key::generate()?, []))
///     .with_name("session")
///     .with_max_chunks(4);
/// assert_eq!(store.name(), "session");
/// # Ok::<(), session_cookie::Error>(())
/// ```
#[derive(Clone)]
pub struct CookieStore {
    name: String,
    keyring: Keyring,
    max_chunks: usize,
    /// `capacity(name, max_chunks)`, kept current by the setters.
    limit: usize,
    /// Cookies opened lately, shared by clones; a store that opens under another
    /// name gets its own.
    opened: Arc<OpenedCookies>,
    /// Where signed-in sessions are registered, so that sign-out and revocation
    /// stick (see [`with_registry`](Self::with_registry)).
    registry: Option<Arc<dyn Registry>>,
}

impl std::fmt::Debug for CookieStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieStore")
            .field("name", &self.name)
            .field("keyring", &self.keyring)
            .field("max_chunks", &self.max_chunks)
            .field("limit", &self.limit)
            .field("opened", &self.opened)
            .field("registry", &self.registry.is_some())
            .finish()
    }
}

impl CookieStore {
    /// A store with the default cookie name (`session`) and 4 chunks at most.
    pub fn new(keyring: Keyring) -> Self {
        let name = String::from("session");
        CookieStore {
            limit: capacity(&name, 4),
            name,
            keyring,
            max_chunks: 4,
            opened: Arc::new(OpenedCookies::new(opened::DEFAULT_BYTES)),
            registry: None,
        }
    }

    /// Sets the cookie name. It is bound into every seal: a cookie sealed under one
    /// name does not open under another.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self.limit = capacity(&self.name, self.max_chunks);
        // What opened under the old name must not be found under the new one.
        self.opened = Arc::new(OpenedCookies::new(self.opened.budget()));
        self
    }

    /// Sets how much memory keeps cookies already opened (default 8 MiB: about
    /// 3,000 sessions of 1 KiB), so a cookie sent again is not decrypted again; 0
    /// turns it off. The bytes count each cookie's text and its session's values.
    ///
    /// ```
    /// use session_cookie::{CookieStore, Key, Keyring};
    ///
    /// let store = CookieStore::new(Keyring::new(Key::generate()?, []))
    ///     .with_opened_cache_bytes(0);
    /// assert_eq!(store.opened_cache_bytes(), 0);
    /// # Ok::<(), session_cookie::Error>(())
    /// ```
    pub fn with_opened_cache_bytes(mut self, bytes: usize) -> Self {
        self.opened = Arc::new(OpenedCookies::new(bytes));
        self
    }

    /// The memory for cookies already opened ([`with_opened_cache_bytes`](Self::with_opened_cache_bytes)).
    pub fn opened_cache_bytes(&self) -> usize {
        self.opened.budget()
    }

    /// Registers signed-in sessions in `registry` (Redis or SQL, from the driver
    /// crates), so that sign-out and revocation stick: a cookie of a signed-out or
    /// revoked session, a copy taken before included, opens as no session. Only a
    /// signed-in session is looked up (a visitor's costs nothing), and the registry
    /// may answer from a cache within its staleness bound. It also gives the store
    /// the index of users' sessions ([`SessionStore::users`]): listing and revoking.
    /// Without one the store keeps no state: a copied cookie stays valid until it
    /// expires, and listing answers an error naming this setting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::SessionStore;
    /// use session_cookie::{CookieStore, Key, Keyring};
    ///
    /// let store = CookieStore::new(Keyring::new(Key::generate()?, []));
    /// assert!(store.users().is_err(), "no registry, no index");
    /// // With one: CookieStore::new(..).with_registry(Arc::new(session_redis::RedisRegistry::new(redis)))
    /// # Ok::<(), session_cookie::Error>(())
    /// ```
    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Sets how many cookies a session may be split over (at least 1).
    pub fn with_max_chunks(mut self, max_chunks: usize) -> Self {
        self.max_chunks = max_chunks.max(1);
        self.limit = capacity(&self.name, self.max_chunks);
        self
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most bytes of sealed text a session may take.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl CookieStore {
    /// Opens `token`, or finds it among the cookies opened lately.
    fn open(&self, token: &str) -> Result<Opened, Rejected> {
        if let Some(opened) = self.opened.get(token) {
            return Ok(opened);
        }
        let opened = open(&self.keyring, &self.name, token)?;
        self.opened.put(token, opened.clone());
        Ok(opened)
    }
}

#[async_trait]
impl SessionStore for CookieStore {
    async fn load(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<Record>, session_core::Error> {
        match self.open(token) {
            Ok(opened) => {
                let mut record = opened.record;
                // The server's current policy applies to cookies already issued: the
                // idle deadline counts from the last save with today's timeout.
                record.expires_ms = record
                    .expires_ms
                    .min(expiry.deadline(record.created_ms, opened.touched_ms));
                if !expiry.is_live(record.created_ms, record.expires_ms, now_ms()) {
                    tracing::debug!(cookie = %self.name, "session cookie has expired");
                    return Ok(None);
                }
                if opened.old_key {
                    tracing::debug!(cookie = %self.name, "cookie sealed with a previous key; re-sealing with the current one");
                    record.mark_outdated();
                }
                if let (Some(registry), Some((user, device))) =
                    (&self.registry, session_core::users::binding(&record))
                {
                    if !registry.holds(&user, &device, expiry).await? {
                        tracing::debug!(cookie = %self.name, "signed-out or revoked session cookie");
                        return Ok(None);
                    }
                }
                Ok(Some(record))
            }
            Err(reason) => {
                tracing::debug!(cookie = %self.name, ?reason, "session cookie rejected");
                Ok(None)
            }
        }
    }

    async fn create(&self, record: &Record) -> Result<String, session_core::Error> {
        let touched_ms = now_ms();
        let sealed = seal(&self.keyring, &self.name, record, touched_ms)?;
        if sealed.len() > self.limit {
            return Err(session_core::Error::TooLarge {
                size: sealed.len(),
                limit: self.limit,
            });
        }
        // The client sends this cookie on its next request, where it opens to what
        // was sealed (a record marked outdated opens unmarked: it is not kept).
        if !record.is_outdated() {
            let opened = Opened {
                record: record.clone(),
                touched_ms,
                old_key: false,
            };
            self.opened.put(&sealed, opened);
        }
        Ok(sealed)
    }

    async fn save(
        &self,
        token: &str,
        record: &Record,
    ) -> Result<Option<String>, session_core::Error> {
        // The token is the session: a save is a new seal, which the client keeps
        // instead of the old one.
        let sealed = self.create(record).await?;
        self.opened.remove(token);
        Ok(Some(sealed))
    }

    async fn destroy(&self, _token: &str) -> Result<(), session_core::Error> {
        // Nothing is kept server-side; the HTTP layer sends the removal cookie.
        Ok(())
    }

    fn cookie_framing(&self) -> Option<(&str, usize)> {
        Some((&self.name, self.max_chunks))
    }

    fn users(&self) -> Result<&dyn UserIndex, session_core::Error> {
        match &self.registry {
            Some(registry) => Ok(registry.index()),
            None => Err(session_core::Error::NoUserIndex {
                enable:
                    "; a cookie session keeps no server state: set `[cookie] registry = \"redis\"` \
                         (or `\"postgres\"`), or `CookieStore::with_registry`"
                        .into(),
            }),
        }
    }
}
