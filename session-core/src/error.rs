//! The one error type of `session-core`.

use std::time::Duration;

/// Everything that can go wrong with a session.
///
/// Each variant says what failed and, where there is one, what to do about it. Bad
/// input from clients (a tampered cookie, an unknown id) is *not* an error: it is
/// treated as "no session" (a fresh, empty one), so these variants describe application
/// mistakes, configuration mistakes and backend failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value stored under `key` could not be read as the requested type.
    /// The stored value is left untouched.
    #[error("session value `{key}` is not a `{type_name}`: {source}")]
    Decode {
        /// The session key that was read.
        key: String,
        /// The Rust type that was asked for.
        type_name: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },

    /// The value for `key` cannot be stored (a NaN float, a map with non-string keys,
    /// a failing `Serialize` impl). Nothing was stored.
    #[error("session value `{key}` cannot be stored: {reason}")]
    Encode {
        /// The session key that was written.
        key: String,
        /// Why the value cannot be encoded.
        reason: String,
    },

    /// `increment` / `decrement` would leave the range of `i64`.
    #[error("counter `{key}` would overflow an i64; nothing was changed")]
    CounterOverflow {
        /// The counter's key.
        key: String,
    },

    /// The session, sealed, is larger than the store can carry (the cookie store's
    /// cookie budget). Store less in the session or use a server-side store.
    #[error("session is {size} bytes, more than the {limit} bytes the store can carry; store less in the session or use a server-side store such as Redis")]
    TooLarge {
        /// Size of what would have been stored, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },

    /// The store's backend could not be reached or failed. The request should be
    /// answered with 503 and the client's cookie left alone.
    #[error("session store `{store}` is unavailable: {source}")]
    Unavailable {
        /// Which store failed (for logs).
        store: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// The store's backend did not answer in time.
    #[error("session store `{store}` did not answer within {after:?}")]
    Timeout {
        /// Which store timed out.
        store: &'static str,
        /// The configured limit that was exceeded.
        after: Duration,
    },

    /// The store answered something the contract rules out (for example an empty
    /// token from `create`): a bug in the store, answered 500 by the HTTP layer.
    #[error("the session store broke the store contract: {rule}")]
    Contract {
        /// The rule it broke.
        rule: &'static str,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),

    /// A configuration value is wrong. `field` is its path, as in `session.toml`
    /// (`redis.port`) or the environment variable that set it.
    #[error("invalid session configuration `{field}`: {reason}")]
    Config {
        /// The setting's path or environment variable.
        field: String,
        /// What is wrong with it and what is expected.
        reason: String,
    },

    /// The store keeps no index of users' sessions, so it cannot list or revoke
    /// them. `enable` says what would give it one (empty when nothing would).
    #[error("this session store keeps no index of users' sessions, so it cannot list or revoke them{enable}")]
    NoUserIndex {
        /// What gives the store an index (`; set ...`), or empty.
        enable: String,
    },

    /// A user's sessions were asked for in a session that is not signed in.
    #[error("the session is not signed in")]
    NotSignedIn,
}

impl Error {
    /// True when the error comes from the store's backend being down or slow: the
    /// HTTP layer answers these with 503 and leaves the client's cookie untouched.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Timeout { .. })
    }

    /// Builds an [`Error::Config`].
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
