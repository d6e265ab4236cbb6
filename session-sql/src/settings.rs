//! [`PostgresSettings`]: the `[postgres]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

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

/// Builders: each sets one setting and returns the settings, for settings made in
/// code rather than read from `session.toml`.
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

    /// The most connections the store keeps open (default 10).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_pool_size(20);
    /// assert_eq!(settings.pool_size, 20);
    /// ```
    pub fn with_pool_size(mut self, connections: u32) -> Self {
        self.pool_size = connections;
        self
    }

    /// The table, optionally schema-qualified (default `sessions`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_table("app.sessions");
    /// assert_eq!(settings.table, "app.sessions");
    /// ```
    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Create the table when missing (default true).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_migrate(false);
    /// assert_eq!(settings.migrate, false);
    /// ```
    pub fn with_migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// The idle timeout of these sessions, in whole seconds (default: the top-level `timeout`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_timeout(std::time::Duration::from_secs(900));
    /// assert_eq!(settings.timeout, Some(900));
    /// ```
    pub fn with_timeout(mut self, idle: std::time::Duration) -> Self {
        self.timeout = Some(idle.as_secs());
        self
    }

    /// The largest session stored (default 256 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_max_session_bytes(64 << 10);
    /// assert_eq!(settings.max_session_bytes, 65536);
    /// ```
    pub fn with_max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// How long a request waits for a free connection (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_acquire_timeout(std::time::Duration::from_millis(300));
    /// assert_eq!(settings.acquire_timeout_ms, 300);
    /// ```
    pub fn with_acquire_timeout(mut self, wait: std::time::Duration) -> Self {
        self.acquire_timeout_ms = duration_ms(wait);
        self
    }

    /// How often expired rows are deleted (default 60 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_cleanup_interval(std::time::Duration::from_secs(30));
    /// assert_eq!(settings.cleanup_interval_ms, 30_000);
    /// ```
    pub fn with_cleanup_interval(mut self, every: std::time::Duration) -> Self {
        self.cleanup_interval_ms = duration_ms(every);
        self
    }

    /// The most expired rows one cleanup statement deletes (default 1000).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::PostgresSettings;
    ///
    /// let settings = PostgresSettings::default().with_cleanup_batch(500);
    /// assert_eq!(settings.cleanup_batch, 500);
    /// ```
    pub fn with_cleanup_batch(mut self, rows: u32) -> Self {
        self.cleanup_batch = rows;
        self
    }
}

/// `d` in whole milliseconds, saturating.
fn duration_ms(d: std::time::Duration) -> u64 {
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
        if !is_table_name(&self.table) {
            return Err(Error::config(
                "postgres.table",
                "must be a table name (letters, digits and `_`, not starting with a digit), optionally `schema.table`",
            ));
        }
        if self.pool_size == 0 {
            return Err(Error::config("postgres.pool_size", "must be at least 1"));
        }
        if self.timeout == Some(0) {
            return Err(Error::config(
                "postgres.timeout",
                "must be at least 1 second",
            ));
        }
        if self.max_session_bytes == 0 {
            return Err(Error::config(
                "postgres.max_session_bytes",
                "must be at least 1",
            ));
        }
        if self.acquire_timeout_ms == 0 || self.cleanup_interval_ms == 0 || self.cleanup_batch == 0
        {
            return Err(Error::config(
                "postgres.cleanup_interval_ms",
                "intervals, timeouts and batches must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `name` or `schema.name`, each an unquoted SQL identifier of at most 63 bytes.
fn is_table_name(text: &str) -> bool {
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
