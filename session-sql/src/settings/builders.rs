//! The builders every SQL driver's settings share, one per setting, each with its
//! example: `common_builders!(Type, "default table")`.

/// Builders for the settings every SQL store has, on `$ty`.
macro_rules! common_builders {
    ($ty:ident) => {
        /// Builders: each sets one setting and returns the settings, for settings made
        /// in code rather than read from `session.toml`.
        impl $ty {
            /// The most connections the store keeps open.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_pool_size(20);")]
            /// assert_eq!(settings.pool_size, 20);
            /// ```
            pub fn with_pool_size(mut self, connections: u32) -> Self {
                self.pool_size = connections;
                self
            }

            /// The table (default `sessions`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_table(\"app_sessions\");")]
            /// assert_eq!(settings.table, "app_sessions");
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
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_migrate(false);")]
            /// assert_eq!(settings.migrate, false);
            /// ```
            pub fn with_migrate(mut self, migrate: bool) -> Self {
                self.migrate = migrate;
                self
            }

            /// The idle timeout of these sessions, in whole seconds (default: the
            /// top-level `timeout`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_timeout(std::time::Duration::from_secs(900));")]
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
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_max_session_bytes(64 << 10);")]
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
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_acquire_timeout(std::time::Duration::from_millis(250));")]
            /// assert_eq!(settings.acquire_timeout_ms, 250);
            /// ```
            pub fn with_acquire_timeout(mut self, wait: std::time::Duration) -> Self {
                self.acquire_timeout_ms = $crate::settings::duration_ms(wait);
                self
            }

            /// How often expired rows are deleted (default 60 s).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_cleanup_interval(std::time::Duration::from_secs(300));")]
            /// assert_eq!(settings.cleanup_interval_ms, 300_000);
            /// ```
            pub fn with_cleanup_interval(mut self, every: std::time::Duration) -> Self {
                self.cleanup_interval_ms = $crate::settings::duration_ms(every);
                self
            }

            /// The most expired rows one cleanup statement deletes (default 1000).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use session_sql::", stringify!($ty), ";")]
            ///
            #[doc = concat!("let settings = ", stringify!($ty), "::default().with_cleanup_batch(500);")]
            /// assert_eq!(settings.cleanup_batch, 500);
            /// ```
            pub fn with_cleanup_batch(mut self, rows: u32) -> Self {
                self.cleanup_batch = rows;
                self
            }
        }
    };
}

/// The checks every SQL store's settings share; `section` names the table of
/// `session.toml` (`mysql`, ...).
#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_common(
    section: &str,
    pool_size: u32,
    table_ok: bool,
    timeout: Option<u64>,
    max_session_bytes: usize,
    acquire_timeout_ms: u64,
    cleanup_interval_ms: u64,
    cleanup_batch: u32,
) -> Result<(), session_core::Error> {
    use session_core::Error;
    if !table_ok {
        return Err(Error::config(
            format!("{section}.table"),
            "must be a table name (letters, digits and `_`, not starting with a digit), optionally `schema.table`",
        ));
    }
    if pool_size == 0 {
        return Err(Error::config(
            format!("{section}.pool_size"),
            "must be at least 1",
        ));
    }
    if timeout == Some(0) {
        return Err(Error::config(
            format!("{section}.timeout"),
            "must be at least 1 second",
        ));
    }
    if max_session_bytes == 0 {
        return Err(Error::config(
            format!("{section}.max_session_bytes"),
            "must be at least 1",
        ));
    }
    if acquire_timeout_ms == 0 || cleanup_interval_ms == 0 || cleanup_batch == 0 {
        return Err(Error::config(
            format!("{section}.cleanup_interval_ms"),
            "intervals, timeouts and batches must be at least 1",
        ));
    }
    Ok(())
}
