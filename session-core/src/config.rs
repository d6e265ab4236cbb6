//! [`SessionConfig`]: Masonite-shaped `session.toml`, with environment overrides.
//!
//! ```
//! use session_core::{Driver, SessionConfig};
//!
//! let config = SessionConfig::from_toml_str(r#"
//!     default = "redis"
//!
//!     [redis]
//!     host = "127.0.0.1"
//!     port = 6379
//!     password = ""
//!     options = { db = 1 }
//!     timeout = 3600
//!     namespace = "masonite4"
//! "#)?;
//! assert_eq!(config.default, Driver::Redis);
//! assert_eq!(config.redis.options.db, 1);
//! assert_eq!(config.expiry().idle().as_secs(), 3600);
//!
//! // Mistakes name the setting.
//! let err = SessionConfig::from_toml_str("default = \"mongo\"").unwrap_err();
//! assert!(err.to_string().contains("`default`"));
//! # Ok::<(), session_core::Error>(())
//! ```
//!
//! # Settings
//!
//! | setting | default | environment |
//! |---|---|---|
//! | `default` | `"cookie"` | `SESSION_DRIVER` |
//! | `timeout` (idle, seconds) | 3600 | `SESSION_TIMEOUT` |
//! | `lifetime` (absolute, seconds; `0` for none) | 1209600 (14 days) | `SESSION_LIFETIME` |
//! | `cookie.name` | `"session"` | `SESSION_COOKIE` |
//! | `cookie.key`, `cookie.previous_keys` | none | `APP_KEY` (when `key` is absent) |
//! | `cookie.secure`, `domain`, `path`, `same_site`, `host_prefix`, `max_chunks` | false, none, `/`, `lax`, false, 4 | |
//! | `cookie.persistent` (a `Max-Age` cookie that outlives the browser) | false | |
//! | `redis.host`, `port`, `password`, `options.db` | `127.0.0.1`, 6379, none, 0 | `SESSION_REDIS_HOST`, `_PORT`, `_PASSWORD`, `_DB` |
//! | `redis.url` (overrides host, port, password, db) | none | `SESSION_REDIS_URL` |
//! | `redis.cluster` (list of `host:port`) | none | |
//! | `redis.namespace` | `"session"` | `SESSION_REDIS_NAMESPACE` |
//! | `redis.timeout` (idle seconds for Redis, Masonite's name) | `timeout` | |
//! | `redis.connect_timeout_ms`, `redis.response_timeout_ms` | 1000, 500 | |
//! | `redis.max_session_bytes` (refused above, with a 413) | 262144 (256 KiB) | |

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Expiry};

/// The driver named by `default` (Masonite's name for the chosen driver).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Data sealed in the client's cookie (no server).
    #[default]
    Cookie,
    /// Data in Redis or Redis Cluster.
    Redis,
}

/// Everything in `session.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionConfig {
    /// The driver to use.
    #[serde(default)]
    pub default: Driver,
    /// Idle timeout in seconds (default 3600).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Absolute lifetime in seconds (default 14 days; `0` for none).
    #[serde(default)]
    pub lifetime: Option<u64>,
    /// The cookie: its name and attributes (for every driver) and the sealing keys
    /// (for the cookie driver).
    #[serde(default)]
    pub cookie: CookieSettings,
    /// The Redis driver.
    #[serde(default)]
    pub redis: RedisSettings,
}

/// The `SameSite` cookie attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (requires `secure`).
    None,
}

/// `[cookie]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CookieSettings {
    /// Cookie name (default `session`).
    pub name: String,
    /// Base64 of the 32-byte key that seals cookies; `APP_KEY` when absent.
    pub key: Option<String>,
    /// Older keys that still open cookies (rotation).
    pub previous_keys: Vec<String>,
    /// Send the `Secure` attribute.
    pub secure: bool,
    /// The `Domain` attribute.
    pub domain: Option<String>,
    /// The `Path` attribute (default `/`).
    pub path: String,
    /// The `SameSite` attribute (default `lax`).
    pub same_site: SameSite,
    /// Prefix the name with `__Host-` (implies `secure`, no domain, path `/`).
    pub host_prefix: bool,
    /// How many cookies a large cookie-driver session may be split over (default 4).
    pub max_chunks: usize,
    /// Send a persistent cookie (`Max-Age`: the remaining idle timeout, capped by the
    /// lifetime) that outlives the browser, instead of a browser-session cookie
    /// (default false). One session can choose with `Session::remember`.
    pub persistent: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            name: "session".into(),
            key: None,
            previous_keys: Vec::new(),
            secure: false,
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            host_prefix: false,
            max_chunks: 4,
            persistent: false,
        }
    }
}

/// `[redis].options`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Database number (single node only).
    pub db: i64,
}

/// `[redis]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedisSettings {
    /// Host (default `127.0.0.1`).
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// Username (ACL), if any.
    pub username: Option<String>,
    /// Password; empty means none.
    pub password: Option<String>,
    /// `options = { db = 1 }`.
    pub options: RedisOptions,
    /// Idle timeout in seconds for Redis sessions (Masonite's name); falls back to the
    /// top-level `timeout`.
    pub timeout: Option<u64>,
    /// Key prefix: keys are `{namespace}:{digest}` (default `session`).
    pub namespace: String,
    /// A `redis://` or `rediss://` URL; overrides host, port, password and db.
    pub url: Option<String>,
    /// Redis Cluster seed nodes (`host:port`); when given, the cluster client is used.
    pub cluster: Vec<String>,
    /// How long to wait for a connection, in ms (default 1000).
    pub connect_timeout_ms: u64,
    /// How long to wait for an answer, in ms (default 500). A call that has to wait
    /// for the connection to be made (the first, and any after the connection was
    /// lost) gets `connect_timeout_ms` + `response_timeout_ms` in all.
    pub response_timeout_ms: u64,
    /// The largest session Redis keeps, in stored bytes (default 262144, 256 KiB): a
    /// save that would make it larger is refused with `TooLarge` (an HTTP 413) and
    /// stores nothing.
    pub max_session_bytes: usize,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            host: "127.0.0.1".into(),
            port: 6379,
            username: None,
            password: None,
            options: RedisOptions::default(),
            timeout: None,
            namespace: "session".into(),
            url: None,
            cluster: Vec::new(),
            connect_timeout_ms: 1000,
            response_timeout_ms: 500,
            max_session_bytes: crate::DEFAULT_MAX_SESSION_BYTES,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            default: Driver::Cookie,
            timeout: None,
            lifetime: None,
            cookie: CookieSettings::default(),
            redis: RedisSettings::default(),
        }
    }
}

impl SessionConfig {
    /// Parses `session.toml` text and checks it. Errors name the setting.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| Error::config("session.toml", e.message().to_owned()))?;
        let config: SessionConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            Error::config(field, e.into_inner().message().to_owned())
        })?;
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
            self.default = match v.trim().to_ascii_lowercase().as_str() {
                "cookie" => Driver::Cookie,
                "redis" => Driver::Redis,
                other => {
                    return Err(Error::config(
                        "SESSION_DRIVER",
                        format!("unknown driver `{other}`, expected `cookie` or `redis`"),
                    ))
                }
            };
        }
        if let Some(v) = var("SESSION_TIMEOUT") {
            self.timeout = Some(number("SESSION_TIMEOUT", &v)?);
        }
        if let Some(v) = var("SESSION_LIFETIME") {
            self.lifetime = Some(number("SESSION_LIFETIME", &v)?);
        }
        if let Some(v) = var("SESSION_COOKIE") {
            self.cookie.name = v;
        }
        if self.cookie.key.is_none() {
            self.cookie.key = var("APP_KEY").filter(|k| !k.is_empty());
        }
        if let Some(v) = var("SESSION_REDIS_HOST") {
            self.redis.host = v;
        }
        if let Some(v) = var("SESSION_REDIS_PORT") {
            self.redis.port = number("SESSION_REDIS_PORT", &v)?;
        }
        if let Some(v) = var("SESSION_REDIS_PASSWORD") {
            self.redis.password = Some(v);
        }
        if let Some(v) = var("SESSION_REDIS_DB") {
            self.redis.options.db = number("SESSION_REDIS_DB", &v)?;
        }
        if let Some(v) = var("SESSION_REDIS_URL") {
            self.redis.url = Some(v);
        }
        if let Some(v) = var("SESSION_REDIS_NAMESPACE") {
            self.redis.namespace = v;
        }
        self.validate()
    }

    /// The expiry policy: `redis.timeout` for the Redis driver when set, else
    /// `timeout`, else one hour; plus `lifetime` (14 days unless set, none for `0`).
    pub fn expiry(&self) -> Expiry {
        let idle = match self.default {
            Driver::Redis => self.redis.timeout.or(self.timeout),
            Driver::Cookie => self.timeout,
        };
        let expiry = Expiry::new(idle.map_or(crate::expiry::DEFAULT_TIMEOUT, Duration::from_secs));
        match self.lifetime {
            Some(0) => expiry,
            Some(secs) => expiry.with_lifetime(Duration::from_secs(secs)),
            None => expiry.with_lifetime(crate::expiry::DEFAULT_LIFETIME),
        }
    }

    /// The `redis.password`, with an empty string meaning none.
    pub fn redis_password(&self) -> Option<&str> {
        self.redis.password.as_deref().filter(|p| !p.is_empty())
    }

    fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("timeout", self.timeout),
            ("redis.timeout", self.redis.timeout),
        ] {
            if value == Some(0) {
                return Err(Error::config(field, "must be at least 1 second"));
            }
        }
        if self.cookie.name.is_empty()
            || !self
                .cookie
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(Error::config(
                "cookie.name",
                "must be a non-empty cookie token (letters, digits, and !#$%&'*+-.^_`|~)",
            ));
        }
        if self.cookie.max_chunks == 0 || self.cookie.max_chunks > 32 {
            return Err(Error::config(
                "cookie.max_chunks",
                "must be between 1 and 32",
            ));
        }
        if self.cookie.same_site == SameSite::None
            && !self.cookie.secure
            && !self.cookie.host_prefix
        {
            return Err(Error::config(
                "cookie.same_site",
                "`none` requires `secure = true` (browsers drop such cookies otherwise)",
            ));
        }
        if self.redis.namespace.is_empty() {
            return Err(Error::config("redis.namespace", "must not be empty"));
        }
        if self.redis.max_session_bytes == 0 {
            return Err(Error::config(
                "redis.max_session_bytes",
                "must be at least 1",
            ));
        }
        if self.redis.connect_timeout_ms == 0 || self.redis.response_timeout_ms == 0 {
            return Err(Error::config(
                "redis.response_timeout_ms",
                "timeouts must be at least 1 ms",
            ));
        }
        Ok(())
    }
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
    fn empty_file_gives_documented_defaults() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str("")?;
        assert_eq!(c, SessionConfig::default());
        assert_eq!(c.default, Driver::Cookie);
        assert_eq!(c.expiry(), Expiry::default());
        assert_eq!(c.expiry().idle(), Duration::from_secs(3600));
        assert_eq!(c.cookie.name, "session");
        assert_eq!(c.redis.port, 6379);
        Ok(())
    }

    #[test]
    fn unknown_driver_names_the_field() {
        assert_eq!(
            field_of(SessionConfig::from_toml_str("default = \"mongo\"")),
            "default"
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(
            field_of(SessionConfig::from_toml_str("[redis]\nport = \"x\"")),
            "redis.port"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("[redis]\nport = 70000")),
            "redis.port"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str(
                "[redis]\noptions = { db = \"one\" }"
            )),
            "redis.options.db"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("timeout = 0")),
            "timeout"
        );
        assert_eq!(
            field_of(SessionConfig::from_toml_str("[cookie]\nname = \"a b\"")),
            "cookie.name"
        );
    }

    #[test]
    fn unknown_settings_are_refused() {
        let field = field_of(SessionConfig::from_toml_str("[redis]\nhots = \"x\""));
        assert!(field.starts_with("redis"), "{field}");
    }

    #[test]
    fn environment_overrides_the_file() -> Result<(), Error> {
        let mut c = SessionConfig::from_toml_str("default = \"cookie\"\n[redis]\nport = 1")?;
        c.apply_env(env(&[
            ("SESSION_DRIVER", "redis"),
            ("SESSION_REDIS_PORT", "6390"),
            ("SESSION_REDIS_DB", "3"),
            ("APP_KEY", "abc"),
        ]))?;
        assert_eq!(c.default, Driver::Redis);
        assert_eq!(c.redis.port, 6390);
        assert_eq!(c.redis.options.db, 3);
        assert_eq!(c.cookie.key.as_deref(), Some("abc"));
        Ok(())
    }

    #[test]
    fn bad_environment_values_name_the_variable() -> Result<(), Error> {
        let mut c = SessionConfig::default();
        let err = c.apply_env(env(&[("SESSION_DRIVER", "memcached")]));
        assert!(matches!(err, Err(Error::Config { field, .. }) if field == "SESSION_DRIVER"));
        let err = c.apply_env(env(&[("SESSION_REDIS_PORT", "port")]));
        assert!(matches!(err, Err(Error::Config { field, .. }) if field == "SESSION_REDIS_PORT"));
        Ok(())
    }

    #[test]
    fn redis_timeout_is_the_idle_timeout_for_redis() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str(
            "default = \"redis\"\ntimeout = 10\n[redis]\ntimeout = 20",
        )?;
        assert_eq!(c.expiry().idle(), Duration::from_secs(20));
        let c = SessionConfig::from_toml_str("timeout = 10\nlifetime = 30\n[redis]\ntimeout = 20")?;
        assert_eq!(c.expiry().idle(), Duration::from_secs(10));
        assert_eq!(c.expiry().lifetime(), Some(Duration::from_secs(30)));
        Ok(())
    }

    #[test]
    fn lifetime_defaults_to_14_days_and_0_means_none() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str("")?;
        assert_eq!(c.expiry().lifetime(), Some(Duration::from_secs(1_209_600)));
        let c = SessionConfig::from_toml_str("lifetime = 0")?;
        assert_eq!(c.expiry().lifetime(), None);
        Ok(())
    }

    #[test]
    fn an_empty_password_means_none() -> Result<(), Error> {
        let c = SessionConfig::from_toml_str("[redis]\npassword = \"\"")?;
        assert_eq!(c.redis_password(), None);
        Ok(())
    }
}
