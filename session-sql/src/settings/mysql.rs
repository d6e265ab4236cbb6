//! [`MysqlSettings`]: the `[mysql]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

use super::{builders, is_table_name};

/// `[mysql]`: where the MySQL or MariaDB database is and how the store behaves.
///
/// ```
/// use session_sql::MysqlSettings;
///
/// let settings: MysqlSettings = toml::from_str(r#"
///     url = "mysql://app@127.0.0.1:3306/app"
///     table = "sessions"
/// "#).unwrap();
/// settings.validate()?;
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MysqlSettings {
    /// The database, as a `mysql://user:password@host:port/database` URL
    /// (`mariadb://` too; default `mysql://root@127.0.0.1:3306/sessions`).
    pub url: String,
    /// The most connections the store keeps open (default 10).
    pub pool_size: u32,
    /// The table, optionally database-qualified (`app.sessions`; default `sessions`).
    pub table: String,
    /// Create the table when it is missing (default true). With `false`, run
    /// [`MysqlStore::migration`](crate::MysqlStore::migration)'s SQL yourself.
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
impl std::fmt::Debug for MysqlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlSettings")
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

impl Default for MysqlSettings {
    fn default() -> Self {
        MysqlSettings {
            url: "mysql://root@127.0.0.1:3306/sessions".into(),
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
impl MysqlSettings {
    /// The database URL (default `mysql://root@127.0.0.1:3306/sessions`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::MysqlSettings;
    ///
    /// let settings = MysqlSettings::default().with_url("mysql://app@127.0.0.1:3306/app");
    /// assert_eq!(settings.url, "mysql://app@127.0.0.1:3306/app");
    /// ```
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
}

common_builders!(MysqlSettings);

impl MysqlSettings {
    /// Applies the environment overrides `SESSION_MYSQL_URL` and
    /// `SESSION_MYSQL_TABLE`, reading variables through `var`, then checks the result.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::MysqlSettings;
    ///
    /// let mut settings = MysqlSettings::default();
    /// settings.apply_env(|name| (name == "SESSION_MYSQL_TABLE").then(|| "web_sessions".into()))?;
    /// assert_eq!(settings.table, "web_sessions");
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(v) = var("SESSION_MYSQL_URL") {
            self.url = v;
        }
        if let Some(v) = var("SESSION_MYSQL_TABLE") {
            self.table = v;
        }
        self.validate()
    }

    /// Checks every setting; the error names the first bad one.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::MysqlSettings;
    ///
    /// let bad = MysqlSettings::default().with_url("postgres://db/app");
    /// assert!(bad.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.url.starts_with("mysql://") || self.url.starts_with("mariadb://")) {
            return Err(Error::config(
                "mysql.url",
                "must be a mysql:// URL (mysql://user:password@host:port/database)",
            ));
        }
        builders::validate_common(
            "mysql",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_debug() {
        let settings = MysqlSettings::default().with_url("mysql://app:s3cret@db/app?password=q7");
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("q7"),
            "{shown}"
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let bad = MysqlSettings::default().with_table("x;");
        assert!(
            matches!(bad.validate(), Err(Error::Config { field, .. }) if field == "mysql.table")
        );
        let bad = MysqlSettings::default().with_url("postgres://x");
        assert!(matches!(bad.validate(), Err(Error::Config { field, .. }) if field == "mysql.url"));
    }
}
