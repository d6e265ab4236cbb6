//! The axum extractor.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::Error;

/// The request's session, as an axum extractor. Derefs to [`session_core::Session`],
/// so every session method is there.
///
/// # Example
///
/// ```
/// use session_tower::Session;
///
/// async fn sign_in(session: Session) -> Result<&'static str, session_tower::Error> {
///     session.regenerate().await?;            // new id at login
///     session.set("user", "ada").await?;
///     session.flash("notice", "Welcome back").await?;
///     Ok("signed in")
/// }
/// ```
///
/// # When extraction fails
///
/// Only when the route is not behind [`SessionLayer`](crate::SessionLayer): the
/// rejection is [`Error::MissingLayer`], answered with 500 and logged. Extracting never
/// touches the store; a store failure shows up when a method is called (as
/// `Error::Session`, which answers 503 when the store is unavailable).
#[derive(Clone, Debug)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(Error::MissingLayer)
    }
}
