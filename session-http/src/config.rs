//! [`SessionConfig`]: Masonite-shaped `session.toml`, with environment overrides.
//!
//! ```
//! use session_http::SessionConfig;
//!
//! let config = SessionConfig::from_toml_str(r#"
//!     default = "redis"
//!     timeout = 3600
//!
//!     [cookie]
//!     name = "sid"
//!
//!     [redis]
//!     host = "127.0.0.1"
//!     port = 6379
//!     options = { db = 1 }
//!     namespace = "masonite4"
//! "#)?;
//! assert_eq!(config.default, "redis");
//! assert_eq!(config.cookie.name, "sid");
//! assert_eq!(config.expiry().idle().as_secs(), 3600);
//!
//! // Mistakes name the setting.
//! let err = SessionConfig::from_toml_str("[cookie]\nname = \"a b\"").unwrap_err();
//! assert!(err.to_string().contains("`cookie.name`"));
//! # Ok::<(), session_core::Error>(())
//! ```
//!
//! # Settings
//!
//! | setting | default | environment |
//! |---|---|---|
//! | `default` (the driver: `cookie`, `redis`, or one of [`Drivers`](crate::Drivers)) | `"cookie"` | `SESSION_DRIVER` |
//! | `timeout` (idle, seconds; a driver's table may set its own) | 3600 | `SESSION_TIMEOUT` |
//! | `lifetime` (absolute, seconds; `0` for none) | 1209600 (14 days) | `SESSION_LIFETIME` |
//! | `[cookie]`: name, attributes, keys ([`CookieSettings`]) | | `SESSION_COOKIE`, `APP_KEY` |
//! | `[redis]`: `session_redis::RedisSettings` (feature `redis-store`) | | `SESSION_REDIS_HOST`, `_PORT`, `_PASSWORD`, `_DB`, `_URL`, `_NAMESPACE` |
//! | `[postgres]`: `session_sql::PostgresSettings` (feature `postgres-store`) | | `SESSION_POSTGRES_URL` (or `DATABASE_URL`), `SESSION_POSTGRES_TABLE` |
//! | `[mysql]`: `session_sql::MysqlSettings` (feature `mysql-store`; MySQL and MariaDB) | | `SESSION_MYSQL_URL`, `SESSION_MYSQL_TABLE` |
//! | `[sqlite]`: `session_sql::SqliteSettings` (feature `sqlite-store`) | | `SESSION_SQLITE_PATH`, `SESSION_SQLITE_TABLE` |
//! | `[name]` of any other driver: its own table ([`SessionConfig::table`]) | | |

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::CookieSettings;
use serde::de::DeserializeOwned;
use session_core::{Error, Expiry};

/// Everything in `session.toml`. Its `Debug` output holds no secret: keys and
/// passwords print as `"***"`, URLs without their credentials, and the tables of
/// other drivers by name only.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// The driver to use (Masonite's name): `cookie`, `redis`, `postgres`, `mysql`,
    /// `sqlite`, or a driver of your own.
    pub default: String,
    /// Idle timeout in seconds (default 3600).
    pub timeout: Option<u64>,
    /// Absolute lifetime in seconds (default 14 days; `0` for none).
    pub lifetime: Option<u64>,
    /// `[cookie]`: the cookie's name and attributes (for every driver) and the sealing
    /// keys (for the cookie driver).
    pub cookie: CookieSettings,
    /// `[redis]`.
    #[cfg(feature = "redis-store")]
    pub redis: session_redis::RedisSettings,
    /// `[postgres]`.
    #[cfg(feature = "postgres-store")]
    pub postgres: session_sql::PostgresSettings,
    /// `[mysql]`.
    #[cfg(feature = "mysql-store")]
    pub mysql: session_sql::MysqlSettings,
    /// `[sqlite]`.
    #[cfg(feature = "sqlite-store")]
    pub sqlite: session_sql::SqliteSettings,
    /// The tables of other drivers, by name.
    tables: BTreeMap<String, toml::Table>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("SessionConfig");
        out.field("default", &self.default)
            .field("timeout", &self.timeout)
            .field("lifetime", &self.lifetime)
            .field("cookie", &self.cookie);
        #[cfg(feature = "redis-store")]
        out.field("redis", &self.redis);
        #[cfg(feature = "postgres-store")]
        out.field("postgres", &self.postgres);
        #[cfg(feature = "mysql-store")]
        out.field("mysql", &self.mysql);
        #[cfg(feature = "sqlite-store")]
        out.field("sqlite", &self.sqlite);
        // A third-party driver's table may hold its secrets: names only.
        out.field("tables", &self.tables.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            default: "cookie".into(),
            timeout: None,
            lifetime: None,
            cookie: CookieSettings::default(),
            #[cfg(feature = "redis-store")]
            redis: session_redis::RedisSettings::default(),
            #[cfg(feature = "postgres-store")]
            postgres: session_sql::PostgresSettings::default(),
            #[cfg(feature = "mysql-store")]
            mysql: session_sql::MysqlSettings::default(),
            #[cfg(feature = "sqlite-store")]
            sqlite: session_sql::SqliteSettings::default(),
            tables: BTreeMap::new(),
        }
    }
}

impl SessionConfig {
    /// Parses `session.toml` text and checks it. Errors name the setting; syntax
    /// errors give the line and column.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e.span().map(|span| line_col(text, span.start));
            let field = match at {
                Some((line, col)) => format!("session.toml:{line}:{col}"),
                None => "session.toml".to_owned(),
            };
            Error::config(field, e.message().to_owned())
        })?;
        let mut config = SessionConfig::default();
        for (key, value) in table {
            match key.as_str() {
                "default" => config.default = typed("default", value)?,
                "timeout" => config.timeout = Some(typed("timeout", value)?),
                "lifetime" => config.lifetime = Some(typed("lifetime", value)?),
                "cookie" => config.cookie = typed("cookie", value)?,
                #[cfg(feature = "redis-store")]
                "redis" => config.redis = typed("redis", value)?,
                #[cfg(feature = "postgres-store")]
                "postgres" => config.postgres = typed("postgres", value)?,
                #[cfg(feature = "mysql-store")]
                "mysql" => config.mysql = typed("mysql", value)?,
                #[cfg(feature = "sqlite-store")]
                "sqlite" => config.sqlite = typed("sqlite", value)?,
                _ => match value {
                    toml::Value::Table(table) => {
                        config.tables.insert(key, table);
                    }
                    _ => {
                        return Err(Error::config(
                            key,
                            "unknown setting (a driver's settings are a table: `[name]`)",
                        ))
                    }
                },
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads `path` (when given; a missing file is an error) or `./session.toml`
    /// (when it exists), then applies the environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, Error> {
        let default_path = Path::new("session.toml");
        let path = match path {
            Some(p) => Some(p),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::config(p.display().to_string(), format!("cannot read: {e}"))
                })?;
                SessionConfig::from_toml_str(&text)?
            }
            None => SessionConfig::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies environment overrides, reading variables through `var` (pass
    /// `|n| std::env::var(n).ok()` for the process environment).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(v) = var("SESSION_DRIVER") {
            self.default = v.trim().to_ascii_lowercase();
        }
        if let Some(v) = var("SESSION_TIMEOUT") {
            self.timeout = Some(number("SESSION_TIMEOUT", &v)?);
        }
        if let Some(v) = var("SESSION_LIFETIME") {
            self.lifetime = Some(number("SESSION_LIFETIME", &v)?);
        }
        self.cookie.apply_env(&var);
        #[cfg(feature = "redis-store")]
        self.redis.apply_env(&var)?;
        #[cfg(feature = "postgres-store")]
        self.postgres.apply_env(&var)?;
        #[cfg(feature = "mysql-store")]
        self.mysql.apply_env(&var)?;
        #[cfg(feature = "sqlite-store")]
        self.sqlite.apply_env(&var)?;
        self.validate()
    }

    /// The table `[name]` of a driver this crate does not know.
    pub fn table(&self, name: &str) -> Option<&toml::Table> {
        self.tables.get(name)
    }

    /// The expiry policy: the chosen driver's own `timeout` when its table sets one
    /// (Masonite's `[redis] timeout`), else `timeout`, else one hour; plus `lifetime`
    /// (14 days unless set, none for `0`).
    pub fn expiry(&self) -> Expiry {
        let idle = self.driver_timeout().or(self.timeout);
        let defaults = Expiry::default();
        let expiry = Expiry::new(idle.map_or(defaults.idle(), Duration::from_secs));
        match (self.lifetime, defaults.lifetime()) {
            (Some(0), _) | (None, None) => expiry,
            (Some(secs), _) => expiry.with_lifetime(Duration::from_secs(secs)),
            (None, Some(lifetime)) => expiry.with_lifetime(lifetime),
        }
    }

    fn driver_timeout(&self) -> Option<u64> {
        #[cfg(feature = "redis-store")]
        if self.default == "redis" {
            return self.redis.timeout;
        }
        #[cfg(feature = "postgres-store")]
        if self.default == "postgres" {
            return self.postgres.timeout;
        }
        #[cfg(feature = "mysql-store")]
        if self.default == "mysql" {
            return self.mysql.timeout;
        }
        #[cfg(feature = "sqlite-store")]
        if self.default == "sqlite" {
            return self.sqlite.timeout;
        }
        let timeout = self.table(&self.default)?.get("timeout")?.as_integer()?;
        u64::try_from(timeout).ok()
    }

    fn validate(&self) -> Result<(), Error> {
        if self.timeout == Some(0) || self.driver_timeout() == Some(0) {
            return Err(Error::config("timeout", "must be at least 1 second"));
        }
        self.cookie.validate()?;
        #[cfg(feature = "redis-store")]
        self.redis.validate()?;
        #[cfg(feature = "postgres-store")]
        self.postgres.validate()?;
        #[cfg(feature = "mysql-store")]
        self.mysql.validate()?;
        #[cfg(feature = "sqlite-store")]
        self.sqlite.validate()?;
        Ok(())
    }
}

/// `value` as a `T`; an error names the setting under `field` (`cookie.name`).
fn typed<T: DeserializeOwned>(field: &str, value: toml::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            field.to_owned()
        } else {
            format!("{field}.{path}")
        };
        Error::config(field, e.into_inner().message().to_owned())
    })
}

/// The 1-based line and column of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::config(field, format!("`{text}` is not a valid number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn field_of(result: Result<SessionConfig, Error>) -> String {
        match result {
            Err(Error::Config { field, .. }) => field,
            other => format!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn debug_output_holds_no_key_password_or_credentials() -> Result<(), Error> {
        const SECRET: &str = "s3cr3t";
        let mut text = format!(
            "default = \"mine\"\n\
             [cookie]\nkey = \"{SECRET}-key\"\nprevious_keys = [\"{SECRET}-old\"]\n\
             [mine]\npassword = \"{SECRET}-mine\"\n"
        );
        if cfg!(feature = "redis-store") {
            text.push_str(&format!(
                "[redis]\npassword = \"{SECRET}-pw\"\nurl = \"redis://u:{SECRET}-url@h:1/0?password={SECRET}-q\"\n\
                 sentinel = {{ master = \"m\", nodes = [\"h:26379\"], password = \"{SECRET}-sentinel\" }}\n"
            ));
        }
        if cfg!(feature = "postgres-store") {
            text.push_str(&format!(
                "[postgres]\nurl = \"postgres://u:{SECRET}-pg@h/db?password={SECRET}-pgq\"\n"
            ));
        }
        if cfg!(feature = "mysql-store") {
            text.push_str(&format!(
                "[mysql]\nurl = \"mysql://u:{SECRET}-my@h/db?password={SECRET}-myq\"\n"
            ));
        }
        let config = SessionConfig::from_toml_str(&text)?;
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("\"***\""), "{shown}");
        Ok(())
    }

    #[test]
    fn empty_file_gives_documented_defaults() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str("")?;
        assert_eq!(c, SessionConfig::default());
        assert_eq!(c.default, "cookie");
        assert_eq!(c.expiry(), Expiry::default());
        assert_eq!(c.expiry().idle(), Duration::from_secs(3600));
        assert_eq!(c.cookie.name, "session");
        Ok(())
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(
            field_of(SessionConfig::from_toml_str("timeout = 0")),
            "timeout"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("timeout = \"x\"")),
            "timeout"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("[cookie]\nname = \"a b\"")),
            "cookie.name"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("[cookie]\nmax_chunks = \"x\"")),
            "cookie.max_chunks"
        );
        assert_eq!(field_of(SessionConfig::from_toml_str("color = 1")), "color");
    }

    #[test]
    fn unknown_settings_are_refused() {
        let field = field_of(SessionConfig::from_toml_str("[cookie]\nnmae = \"x\""));
        assert!(field.starts_with("cookie"), "{field}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let field = field_of(SessionConfig::from_toml_str(
            "timeout = 10\n[cookie\nname = 1",
        ));
        assert_eq!(field, "session.toml:2:8");
    }

    #[test]
    fn a_third_party_driver_has_its_own_table_and_timeout() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str(
            "default = \"dynamo\"\ntimeout = 10\n[dynamo]\npath = \"s.db\"\ntimeout = 20",
        )?;
        assert_eq!(c.default, "dynamo");
        let path = c
            .table("dynamo")
            .and_then(|t| t.get("path"))
            .and_then(|v| v.as_str());
        assert_eq!(path, Some("s.db"));
        assert_eq!(c.expiry().idle(), Duration::from_secs(20));
        Ok(())
    }

    #[test]
    fn environment_overrides_the_file() -> Result<(), Error> {
        let mut c = SessionConfig::from_toml_str("default = \"cookie\"")?;
        c.apply_env(env(&[
            ("SESSION_DRIVER", "Redis"),
            ("SESSION_TIMEOUT", "60"),
            ("APP_KEY", "abc"),
            ("SESSION_COOKIE", "sid"),
        ]))?;
        assert_eq!(c.default, "redis");
        assert_eq!(c.timeout, Some(60));
        assert_eq!(c.cookie.key.as_deref(), Some("abc"));
        assert_eq!(c.cookie.name, "sid");
        Ok(())
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let mut c = SessionConfig::default();
        let err = c.apply_env(env(&[("SESSION_TIMEOUT", "soon")]));
        assert!(matches!(err, Err(Error::Config { field, .. }) if field == "SESSION_TIMEOUT"));
    }

    #[test]
    fn lifetime_defaults_to_14_days_and_0_means_none() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str("")?;
        assert_eq!(c.expiry().lifetime(), Some(Duration::from_secs(1_209_600)));
        let c = SessionConfig::from_toml_str("lifetime = 0")?;
        assert_eq!(c.expiry().lifetime(), None);
        Ok(())
    }

    #[cfg(feature = "redis-store")]
    mod redis {
        use super::*;

        #[test]
        fn bad_redis_values_name_their_field() {
            for (text, field) in [
                ("[redis]\nport = \"x\"", "redis.port"),
                ("[redis]\nport = 70000", "redis.port"),
                ("[redis]\noptions = { db = \"one\" }", "redis.options.db"),
                ("[redis]\nnamespace = \"\"", "redis.namespace"),
            ] {
                assert_eq!(
                    field_of(SessionConfig::from_toml_str(text)),
                    field,
                    "{text}"
                );
            }
            let field = field_of(SessionConfig::from_toml_str("[redis]\nhots = \"x\""));
            assert!(field.starts_with("redis"), "{field}");
        }

        #[test]
        fn redis_environment_overrides_the_file() -> Result<(), Error> {
            let mut c = SessionConfig::from_toml_str("[redis]\nport = 1")?;
            c.apply_env(env(&[
                ("SESSION_REDIS_PORT", "6390"),
                ("SESSION_REDIS_DB", "3"),
            ]))?;
            assert_eq!((c.redis.port, c.redis.options.db), (6390, 3));
            let err = c.apply_env(env(&[("SESSION_REDIS_PORT", "port")]));
            assert!(
                matches!(err, Err(Error::Config { field, .. }) if field == "SESSION_REDIS_PORT")
            );
            Ok(())
        }

        #[test]
        fn redis_timeout_is_the_idle_timeout_for_redis() -> Result<(), Error> {
            let c = SessionConfig::from_toml_str(
                "default = \"redis\"\ntimeout = 10\n[redis]\ntimeout = 20",
            )?;
            assert_eq!(c.expiry().idle(), Duration::from_secs(20));
            let c = SessionConfig::from_toml_str("timeout = 10\n[redis]\ntimeout = 20")?;
            assert_eq!(c.expiry().idle(), Duration::from_secs(10));
            Ok(())
        }
    }
}
