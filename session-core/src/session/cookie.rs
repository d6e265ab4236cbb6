//! What forms and the HTTP layer need of a session beyond its values: the form
//! token against cross-site request forgery, the cookie's "remember me" choice and
//! lifetime, and the token the session goes by.

use super::*;

impl Session {
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

    /// After [`commit`](Self::commit): whether a cookie that carries this session's
    /// lifetime (a persistent cookie's `Max-Age`) is worth sending again. True when
    /// the commit moved the idle deadline by a meaningful share (over a hundredth of
    /// the idle timeout: the same rule as the store's idle refresh) or the request
    /// made a [`remember`](Self::remember) choice; false before the commit, and for
    /// a read a moment after the last refresh, whose cookie's `Max-Age` still holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let first = Session::new(store.clone(), Expiry::default(), None);
    /// first.remember(true).await?;
    /// let TokenUpdate::Send(token) = first.commit().await? else { unreachable!() };
    /// assert!(first.lifetime_moved(), "a remember choice is sent");
    ///
    /// // Read again at once: the deadline moved by less than a hundredth.
    /// let next = Session::new(store, Expiry::default(), Some(token));
    /// next.get::<String>("anything").await?;
    /// next.commit().await?;
    /// assert!(!next.lifetime_moved());
    /// # Ok(()) }
    /// ```
    pub fn lifetime_moved(&self) -> bool {
        self.state().lifetime_moved
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
}
