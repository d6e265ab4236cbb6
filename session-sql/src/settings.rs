//! [`PostgresSettings`]: the `[postgres]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

#[macro_use]
mod builders;
mod mysql;
mod sqlite;

pub use mysql::MysqlSettings;
pub use sqlite::SqliteSettings;

/// `[postgres]`: where the database is and how the store behaves.
///
/// ```
/// use session_sql::PostgresSettings;
///
/// let settings: PostgresSettings = toml::from_str(r#"
///     url = "postgres://app@127.0.0.1:5432/app"
///     pool_size = 10
///     table = "sessions"
/// "#).unwrap();
/// settings.validate()?;
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// The database, as a `postgres://user:password@host:port/database` URL (default
    /// `postgres://127.0.0.1:5432/sessions`).
    pub url: String,
    /// The most connections the store keeps open (default 10).
    pub pool_size: u32,
    /// The table, optionally schema-qualified (`app.sessions`; default `sessions`).
    pub table: String,
    /// Create the table and its index when they are missing (default true). With
    /// `false`, run [`PostgresStore::migration`](crate::PostgresStore::migration)'s
    /// SQL yourself.
    pub migrate: bool,
    /// Idle timeout in seconds for these sessions; falls back to the top-level
    /// `timeout`.
    pub timeout: Option<u64>,
    /// The largest session stored, in bytes of keys and JSON values (default
    /// 262144): a larger one is refused with `TooLarge` (413) and stores nothing.
    pub max_session_bytes: usize,
    /// How long a request waits for a free connection, in ms (default 1000); past it
    /// the request is answered 503.
    pub acquire_timeout_ms: u64,
    /// How often expired rows are deleted, in ms (default 60000), at most
    /// `cleanup_batch` rows a statement.
    pub cleanup_interval_ms: u64,
    /// The most expired rows one cleanup statement deletes (default 1000).
    pub cleanup_batch: u32,
}

/// The URL prints without its password and query values
/// ([`session_core::redact::url`]).
impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &session_core::redact::url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("table", &self.table)
            .field("migrate", &self.migrate)
            .field("timeout", &self.timeout)
            .field("max_session_bytes", &self.max_session_bytes)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("cleanup_interval_ms", &self.cleanup_interval_ms)
            .field("cleanup_batch", &self.cleanup_batch)
            .finish()
    }
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            url: "postgres://127.0.0.1:5432/sessions".into(),
            pool_size: 10,
            table: "sessions".into(),
            migrate: true,
            timeout: None,
            max_session_bytes: session_core::DEFAULT_MAX_SESSION_BYTES,
            acquire_timeout_ms: 1000,
            cleanup_interval_ms: 60_000,
            cleanup_batch: 1000,
        }
    }
}

/// The database URL.
impl PostgresSettings {
    /// The database URL (default `postgres://127.0.0.1:5432/sessions`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_url("postgres://app@127.0.0.1:5432/app");
    /// assert_eq!(settings.url, "postgres://app@127.0.0.1:5432/app");
    /// ```
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
}

common_builders!(PostgresSettings);

/// `d` in whole milliseconds, saturating.
pub(crate) fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl PostgresSettings {
    /// Applies the environment overrides `SESSION_POSTGRES_URL` (or `DATABASE_URL`)
    /// and `SESSION_POSTGRES_TABLE`, reading variables through `var`, then checks
    /// the result.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(v) = var("SESSION_POSTGRES_URL").or_else(|| var("DATABASE_URL")) {
            self.url = v;
        }
        if let Some(v) = var("SESSION_POSTGRES_TABLE") {
            self.table = v;
        }
        self.validate()
    }

    /// Checks the values; the error names the setting (`postgres.table`, ...).
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")) {
            return Err(Error::config(
                "postgres.url",
                "must be a postgres:// URL (postgres://user:password@host:port/database)",
            ));
        }
        builders::validate_common(
            "postgres",
            self.pool_size,
            is_table_name(&self.table),
            self.timeout,
            self.max_session_bytes,
            self.acquire_timeout_ms,
            self.cleanup_interval_ms,
            self.cleanup_batch,
        )
    }
}

/// `name` or `schema.name`, each an unquoted SQL identifier of at most 63 bytes.
pub(crate) fn is_table_name(text: &str) -> bool {
    let ident = |part: &str| {
        !part.is_empty()
            && part.len() <= 63
            && part
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut parts = text.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, _) => ident(name),
        (Some(schema), Some(name), None) => ident(schema) && ident(name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["sessions", "app.sessions", "_s2"] {
            assert!(is_table_name(good), "{good}");
        }
        for bad in ["", "1s", "a.b.c", "s; drop table x", "a-b", "\"q\""] {
            assert!(!is_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn bad_values_name_the_field() {
        let s = PostgresSettings {
            table: "x;".into(),
            ..PostgresSettings::default()
        };
        assert!(
            matches!(s.validate(), Err(Error::Config { field, .. }) if field == "postgres.table")
        );
        let s = PostgresSettings {
            url: "mysql://x".into(),
            ..PostgresSettings::default()
        };
        assert!(
            matches!(s.validate(), Err(Error::Config { field, .. }) if field == "postgres.url")
        );
    }
}
