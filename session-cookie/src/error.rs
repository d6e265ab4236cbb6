//! The one error type of `session-cookie`.

/// What can go wrong setting up a [`CookieStore`](crate::CookieStore).
///
/// Opening a bad cookie is never an error (it is "no session"); these are startup
/// mistakes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key setting is not base64 of exactly 32 bytes.
    #[error("`{setting}` is not a usable key: {reason}; generate one with `session_cookie::Key::generate()?.to_base64()`")]
    InvalidKey {
        /// The setting that held the key (`cookie.key`, `APP_KEY`, `cookie.previous_keys[1]`).
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No key was configured.
    #[error("no cookie key: set `cookie.key` in session.toml or the APP_KEY environment variable (base64 of 32 bytes)")]
    MissingKey,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

impl From<Error> for session_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidKey { setting, reason } => session_core::Error::config(setting, reason),
            Error::MissingKey => {
                session_core::Error::config("cookie.key", Error::MissingKey.to_string())
            }
            Error::Random(r) => session_core::Error::Random(r),
        }
    }
}
