//! A request's session life, for every HTTP integration: [`Sessions`] holds what
//! every request needs (the store, the expiry policy, the cookie, the cross-site
//! protection); [`Sessions::begin`] refuses a cross-site request or makes the
//! request's [`Session`] from its cookies; after the handler, [`Sessions::end`] saves
//! it and says what the response gets ([`Outcome`]): the `Set-Cookie` values, whether
//! caches must be kept out, whether it varies by cookie, or the error status that
//! replaces it. An integration only carries these between its own request and
//! response types.

use std::sync::Arc;

use session_core::{Expiry, Session, SessionStore, TokenUpdate};

use crate::framing::CookieOptions;
use crate::{CrossSiteProtection, RequestFacts};

/// What every request of an app needs for its session.
#[derive(Clone)]
pub struct Sessions {
    /// Where sessions are kept.
    pub store: Arc<dyn SessionStore>,
    /// The idle timeout and lifetime.
    pub expiry: Expiry,
    /// The cookie's name and attributes.
    pub cookie: CookieOptions,
    /// Which unsafe requests are refused (on by default).
    pub cross_site: CrossSiteProtection,
    /// Save the session after a 5xx answer too (default: not).
    pub save_on_server_error: bool,
    /// Where every session's lifecycle events go (created, signed in, regenerated,
    /// signed out, revoked), for an audit log; none by default.
    pub events: Option<session_core::EventSink>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("expiry", &self.expiry)
            .field("cookie", &self.cookie)
            .field("cross_site", &self.cross_site)
            .field("save_on_server_error", &self.save_on_server_error)
            .field("events", &self.events.is_some())
            .finish_non_exhaustive()
    }
}

/// A request's session, from [`Sessions::begin`] to [`Sessions::end`].
#[derive(Clone, Debug)]
pub struct Begun {
    /// The session, for the handler.
    pub session: Session,
    /// How many cookies of the session's name the request carried.
    sent: usize,
}

impl Sessions {
    /// Sessions in `store`, with the default expiry, cookie and protection. A store
    /// that seals the session in its cookie names the cookie and its chunk cap
    /// ([`SessionStore::cookie_framing`]).
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        let mut sessions = Sessions {
            store,
            expiry: Expiry::default(),
            cookie: CookieOptions::default(),
            cross_site: CrossSiteProtection::default(),
            save_on_server_error: false,
            events: None,
        };
        sessions.set_cookie(CookieOptions::default());
        sessions
    }

    /// Sets the cookie's attributes. For a store that seals the session in its cookie
    /// ([`SessionStore::cookie_framing`]), the cookie's name and chunk cap stay the
    /// store's: one source for both, so a cookie is never sealed under one name and
    /// sent under another.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_cookie::{CookieStore, Key, Keyring};
    /// use session_http::framing::CookieOptions;
    /// use session_http::lifecycle::Sessions;
    ///
    /// let store = CookieStore::new(Keyring::new(Key::from_bytes([1; 32]), [])).with_name("sid");
    /// let mut sessions = Sessions::new(Arc::new(store));
    /// assert_eq!(sessions.cookie.name(), "sid");
    /// sessions.set_cookie(CookieOptions::default().with_secure(true));
    /// assert_eq!((sessions.cookie.name(), sessions.cookie.is_secure()), ("sid", true));
    /// ```
    pub fn set_cookie(&mut self, cookie: CookieOptions) {
        self.cookie = match self.store.cookie_framing() {
            Some((name, max_chunks)) => cookie.with_name(name).with_max_chunks(max_chunks),
            None => cookie,
        };
    }

    /// Sessions end after `idle` without a request, in the store and in the browser
    /// alike: the idle timeout becomes `idle` (the absolute lifetime stays the
    /// default 14 days), and the cookie is persistent, its `Max-Age` following the
    /// idle deadline (what tower-sessions calls `Expiry::OnInactivity`). One call, so
    /// the two settings cannot disagree.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use session_core::MemoryStore;
    /// use session_http::lifecycle::Sessions;
    ///
    /// let mut sessions = Sessions::new(Arc::new(MemoryStore::new()));
    /// sessions.expire_after_inactivity(Duration::from_secs(600));
    /// assert_eq!(sessions.expiry.idle(), Duration::from_secs(600));
    /// assert!(sessions.expiry.lifetime().is_some());
    /// assert!(sessions.cookie.is_persistent());
    /// ```
    pub fn expire_after_inactivity(&mut self, idle: std::time::Duration) {
        let mut expiry = Expiry::new(idle);
        if let Some(lifetime) = Expiry::default().lifetime() {
            expiry = expiry.with_lifetime(lifetime);
        }
        self.expiry = expiry;
        self.cookie = self.cookie.clone().with_persistent(true);
    }

    /// The request's session, made from the values of its `Cookie` headers; `None`
    /// when the cross-site protection refuses the request (answer it 403 and touch
    /// no session). `facts` is called only when the protection looks at more than
    /// the request's `method` (an unsafe request, with the protection on).
    pub fn begin<'a, 'r>(
        &self,
        method: &str,
        facts: impl FnOnce() -> RequestFacts<'r>,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Option<Begun> {
        if self.cross_site.reads_headers(method) {
            let mut facts = facts();
            // A site whose session cookie is `Secure` is served over HTTPS.
            let assumed = if self.cookie.is_secure() {
                "https"
            } else {
                "http"
            };
            facts.scheme = facts.scheme.or(Some(assumed));
            if self.cross_site.refuses(&facts) {
                return None;
            }
        }
        let (tokens, sent) = self.cookie.read(cookie_headers);
        let session = Session::with_candidates(self.store.clone(), self.expiry, tokens);
        if let Some(sink) = &self.events {
            session.on_event(sink.clone());
        }
        Some(Begun { session, sent })
    }

    /// The users of these sessions' store, for use outside a request (an admin page,
    /// a background job): list and revoke a user's sessions under this expiry.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// use std::sync::Arc;
    /// use session_core::MemoryStore;
    /// use session_http::lifecycle::Sessions;
    ///
    /// let sessions = Sessions::new(Arc::new(MemoryStore::new()));
    /// assert!(sessions.users().sessions("ada").await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn users(&self) -> session_core::Users {
        let users = session_core::Users::new(self.store.clone(), self.expiry);
        match &self.events {
            Some(sink) => users.with_events(sink.clone()),
            None => users,
        }
    }

    /// Saves the session after the handler answered `status` (a 5xx answer saves
    /// only with `save_on_server_error`), and says what the response gets.
    pub async fn end(&self, begun: &Begun, status: u16) -> Outcome {
        finish(
            &begun.session,
            &self.cookie,
            begun.sent,
            status,
            self.save_on_server_error,
        )
        .await
    }
}

/// What the response gets from the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `Set-Cookie` header values to append.
    pub set_cookies: Vec<String>,
    /// Add `Cache-Control: private, no-store` (the response sets or removes the
    /// session cookie: a shared cache must never hand it to someone else).
    pub no_store: bool,
    /// Add `Vary: Cookie` (the request read its session).
    pub vary_cookie: bool,
    /// Replace the response with this status, and nothing of the session (saving
    /// failed: 503 when the store is unavailable, 413 when the session is too large,
    /// 500 otherwise).
    pub failure: Option<u16>,
}

/// [`Sessions::end`].
async fn finish(
    session: &Session,
    cookie: &CookieOptions,
    sent: usize,
    status: u16,
    save_on_server_error: bool,
) -> Outcome {
    let mut outcome = Outcome {
        vary_cookie: session.was_loaded(),
        ..Outcome::default()
    };
    if (500..600).contains(&status) && !save_on_server_error {
        return outcome;
    }
    let update = session.commit().await;
    let choice = session.remembered();
    let persistent = choice.unwrap_or(cookie.is_persistent());
    let max_age = persistent.then(|| session.time_left());
    // A persistent cookie's Max-Age follows the idle deadline, which moves only when
    // the store's idle refresh is due (or a `remember` choice is made): a read a
    // moment after the last refresh keeps the cookie the client has (and its answer
    // needs no `no-store`).
    let resend = session.lifetime_moved() && (persistent || choice.is_some());
    match update {
        // Nothing to save, but a store that refreshes in its load moved the
        // deadline by a meaningful share: the cookie follows.
        Ok(TokenUpdate::Keep) if resend => {
            if let Some(token) = session.current_token() {
                send(&mut outcome, cookie, token, sent, max_age);
            }
        }
        Ok(TokenUpdate::Keep) => {}
        // A save that kept the token (a server store's session changed in place):
        // the client's cookie already holds it. It is sent again to move a
        // persistent cookie's Max-Age or to carry a choice, never for a write-only
        // save without a choice (sending it could add or drop a Max-Age the session
        // did not choose).
        Ok(TokenUpdate::Send(token))
            if !resend && session.current_token() == Some(token.as_str()) => {}
        Ok(TokenUpdate::Send(token)) => send(&mut outcome, cookie, &token, sent, max_age),
        Ok(TokenUpdate::Remove) => {
            outcome.set_cookies = cookie.remove(sent);
            outcome.no_store = true;
        }
        Err(error) => {
            tracing::error!(%error, "saving the session failed");
            outcome.failure = Some(status_of(&error));
        }
    }
    outcome
}

/// Puts the `Set-Cookie` values that send `token` into `outcome` (500 when the token
/// does not fit the configured cookies).
fn send(
    outcome: &mut Outcome,
    cookie: &CookieOptions,
    token: &str,
    sent: usize,
    max_age: Option<std::time::Duration>,
) {
    match cookie.send(token, sent, max_age) {
        Some(set_cookies) => {
            outcome.set_cookies = set_cookies;
            outcome.no_store = true;
        }
        None => {
            tracing::error!(
                size = token.len(),
                "session token does not fit the configured cookies"
            );
            outcome.failure = Some(500);
        }
    }
}

/// The HTTP status a session error answers with: 503 when the store is unavailable
/// (down or slow), 413 when the session is too large to store, 401 when a user's
/// sessions are asked for without signing in, 501 when the store keeps no index of
/// users' sessions, 500 otherwise.
pub fn status_of(error: &session_core::Error) -> u16 {
    match error {
        e if e.is_unavailable() => 503,
        session_core::Error::TooLarge { .. } => 413,
        session_core::Error::NotSignedIn => 401,
        session_core::Error::NoUserIndex { .. } => 501,
        _ => 500,
    }
}

/// True when `Vary` header values already name `Cookie` (or `*`).
pub fn varies_by_cookie<'a>(vary: impl IntoIterator<Item = &'a str>) -> bool {
    vary.into_iter().any(|v| {
        v.split(',')
            .any(|name| name.trim() == "*" || name.trim().eq_ignore_ascii_case("cookie"))
    })
}
