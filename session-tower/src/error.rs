//! The one error type of `session-tower`.

/// What a handler using the session can fail with.
///
/// With the `axum` feature it is an `IntoResponse`: a store that is down or slow gives
/// 503 Service Unavailable, a session too large to store 413, anything else 500; the cause is logged, not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session failed (see [`session_core::Error`]).
    #[error(transparent)]
    Session(#[from] session_core::Error),
    /// A handler asked for the session on a route without [`SessionLayer`](crate::SessionLayer).
    #[error("no session on this request: add `SessionLayer` to the router (or service) that serves this route")]
    MissingLayer,
}

impl Error {
    /// The HTTP status this error answers with: 503 when the store is unavailable,
    /// 413 when the session is too large to store, 500 otherwise.
    pub fn status(&self) -> http::StatusCode {
        let code = match self {
            Error::Session(e) => session_http::lifecycle::status_of(e),
            Error::MissingLayer => 500,
        };
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(error = %self, "session error");
        let status = self.status();
        let text = status.canonical_reason().unwrap_or("error");
        (status, text).into_response()
    }
}
