//! [`SqliteSettings`]: the `[sqlite]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

use super::{builders, is_table_name};

/// `[sqlite]`: the database file and how the store behaves.
///
/// ```
/// use session_sql::SqliteSettings;
///
/// let settings: SqliteSettings = toml::from_str(r#"
///     path = "/var/lib/app/sessions.db"
/// "#).unwrap();
/// settings.validate()?;
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SqliteSettings {
    /// The database file, created when missing (default `sessions.db`, in the working
    /// directory). `:memory:` keeps the sessions in this process only, over one
    /// connection.
    pub path: String,
    /// The most connections the store keeps open (default 4). SQLite runs one write
    /// at a time; more connections serve more concurrent reads.
    pub pool_size: u32,
    /// The table (default `sessions`).
    pub table: String,
    /// Create the table when it is missing (default true). With `false`, run
    /// [`SqliteStore::migration`](crate::SqliteStore::migration)'s SQL yourself.
    pub migrate: bool,
    /// Idle timeout in seconds for these sessions; falls back to the top-level
    /// `timeout`.
    pub timeout: Option<u64>,
    /// The largest session stored, in bytes of keys and JSON values (default
    /// 262144): a larger one is refused with `TooLarge` (413) and stores nothing.
    pub max_session_bytes: usize,
    /// How long a request waits for a free connection, and a write for the
    /// database's write lock, in ms (default 1000); past it the request is answered
    /// 503.
    pub acquire_timeout_ms: u64,
    /// How often expired rows are deleted, in ms (default 60000), at most
    /// `cleanup_batch` rows a statement.
    pub cleanup_interval_ms: u64,
    /// The most expired rows one cleanup statement deletes (default 1000).
    pub cleanup_batch: u32,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        SqliteSettings {
            path: "sessions.db".into(),
            pool_size: 4,
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

/// The database file.
impl SqliteSettings {
    /// The database file (default `sessions.db`; `:memory:` for this process only).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::SqliteSettings;
    ///
    /// let settings = SqliteSettings::default().with_path("/var/lib/app/sessions.db");
    /// assert_eq!(settings.path, "/var/lib/app/sessions.db");
    /// ```
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

common_builders!(SqliteSettings);

impl SqliteSettings {
    /// Applies the environment overrides `SESSION_SQLITE_PATH` and
    /// `SESSION_SQLITE_TABLE`, reading variables through `var`, then checks the
    /// result.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::SqliteSettings;
    ///
    /// let mut settings = SqliteSettings::default();
    /// settings.apply_env(|name| (name == "SESSION_SQLITE_PATH").then(|| "/tmp/s.db".into()))?;
    /// assert_eq!(settings.path, "/tmp/s.db");
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(v) = var("SESSION_SQLITE_PATH") {
            self.path = v;
        }
        if let Some(v) = var("SESSION_SQLITE_TABLE") {
            self.table = v;
        }
        self.validate()
    }

    /// Checks every setting; the error names the first bad one.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_sql::SqliteSettings;
    ///
    /// assert!(SqliteSettings::default().with_path("").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.path.is_empty() {
            return Err(Error::config(
                "sqlite.path",
                "must name a database file (or `:memory:`)",
            ));
        }
        builders::validate_common(
            "sqlite",
            self.pool_size,
            is_table_name(&self.table) && !self.table.contains('.'),
            self.timeout,
            self.max_session_bytes,
            self.acquire_timeout_ms,
            self.cleanup_interval_ms,
            self.cleanup_batch,
        )
    }
}
