//! The end of a request, for every HTTP integration: after the handler, what the
//! response gets from the session ([`finish`]): the `Set-Cookie` values, whether
//! caches must be kept out, whether it varies by cookie, or the error status that
//! replaces it. An integration reads the cookies in ([`CookieOptions::read`]), makes
//! the [`Session`], runs the handler, then applies the [`Outcome`].

use session_core::{Session, TokenUpdate};

use crate::framing::CookieOptions;

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

/// Saves `session` after the handler answered `status` (a 5xx answer saves only
/// with `save_on_server_error`), and says what the response gets. `sent` is how many
/// cookies of the session's name the request carried (from [`CookieOptions::read`]).
pub async fn finish(
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
    let update = match update {
        // A persistent cookie's Max-Age moves with the idle deadline, so every
        // request that loaded the session sends it again.
        Ok(TokenUpdate::Keep) if persistent && session.was_loaded() => {
            match session.current_token() {
                Some(token) => Ok(TokenUpdate::Send(token)),
                None => Ok(TokenUpdate::Keep),
            }
        }
        // A write-only save that kept the token, of a session whose choice is
        // unknown here: the client's cookie stays as it is (sending it again could
        // add or drop a Max-Age the session did not choose).
        Ok(TokenUpdate::Send(token))
            if choice.is_none()
                && !session.was_loaded()
                && session.current_token().as_deref() == Some(token.as_str()) =>
        {
            Ok(TokenUpdate::Keep)
        }
        other => other,
    };
    match update {
        Ok(TokenUpdate::Keep) => {}
        Ok(TokenUpdate::Send(token)) => match cookie.send(&token, sent, max_age) {
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
        },
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

/// The HTTP status a session error answers with: 503 when the store is unavailable
/// (down or slow), 413 when the session is too large to store, 500 otherwise.
pub fn status_of(error: &session_core::Error) -> u16 {
    match error {
        e if e.is_unavailable() => 503,
        session_core::Error::TooLarge { .. } => 413,
        _ => 500,
    }
}
