//! The one error type of `session-sql`.

use std::time::Duration;

/// What can go wrong setting up or talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of `[postgres]`, `[mysql]` or `[sqlite]` is unusable.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The setting (`postgres.url`, `postgres.table`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The database could not be reached or answered with an error.
    #[error(
        "the session database at {target} failed: {source}{}",
        hint(store, source)
    )]
    Database {
        /// The driver (`postgres`, `mysql`, `sqlite`).
        store: &'static str,
        /// Where we tried to connect (the URL without its password).
        target: String,
        /// What the client said.
        #[source]
        source: sqlx::Error,
    },
    /// No connection of the pool was free in time.
    #[error("the session database at {target} did not answer within {after:?}")]
    Timeout {
        /// The driver (`postgres`, `mysql`, `sqlite`).
        store: &'static str,
        /// Where we tried to connect.
        target: String,
        /// The configured limit.
        after: Duration,
    },
}

impl Error {
    /// A settings check's answer as this crate's error: a bad setting is
    /// [`Error::Config`].
    pub(crate) fn checked(checked: Result<(), session_core::Error>) -> Result<(), Error> {
        match checked {
            Err(session_core::Error::Config { field, reason }) => {
                Err(Error::Config { field, reason })
            }
            _ => Ok(()),
        }
    }
}

/// What to do about a failure, by its cause.
fn hint(store: &str, source: &sqlx::Error) -> &'static str {
    let text = source.to_string();
    match store {
        "postgres" if text.contains("Connection refused") => {
            "; nothing listens there: is PostgreSQL running? (pg_ctlcluster VERSION main start)"
        }
        "postgres"
            if text.contains("password authentication failed") || text.contains("no password") =>
        {
            "; the user or password is wrong: check `postgres.url`"
        }
        "postgres" if text.contains("does not exist") && text.contains("database") => {
            "; create the database (createdb NAME) or name another in `postgres.url`"
        }
        "mysql" if text.contains("Connection refused") => {
            "; nothing listens there: is MariaDB or MySQL running? (service mariadb start)"
        }
        "mysql" if text.contains("Access denied") => {
            "; the user or password is wrong: check `mysql.url`"
        }
        "mysql" if text.contains("Unknown database") => {
            "; create the database (CREATE DATABASE name) or name another in `mysql.url`"
        }
        "sqlite" if text.contains("unable to open") => {
            "; the file cannot be opened: check `sqlite.path` and that its directory exists and is writable"
        }
        _ => "",
    }
}

impl From<Error> for session_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { field, reason } => session_core::Error::config(field, reason),
            Error::Timeout { store, after, .. } => session_core::Error::Timeout { store, after },
            Error::Database { store, .. } => session_core::Error::Unavailable {
                store,
                source: Box::new(e),
            },
        }
    }
}
