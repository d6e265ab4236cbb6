//! [`RedisSettings`]: the `[redis]` table of `session.toml`.

use serde::Deserialize;
use session_core::Error;

/// `[redis].options`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Database number (single node only).
    pub db: i64,
}

/// `[redis].sentinel`: Redis Sentinel finds the master, and the store follows it
/// to the new one after a failover.
///
/// ```toml
/// [redis]
/// sentinel = { master = "mymaster", nodes = ["10.0.0.1:26379", "10.0.0.2:26379"] }
/// password = "the master's password, if any"
/// ```
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SentinelSettings {
    /// The name the sentinels monitor the master by (`sentinel monitor NAME ...`).
    pub master: String,
    /// The sentinels, `host:port` (or `redis://` URLs); any one that answers will do.
    pub nodes: Vec<String>,
    /// The sentinels' own password (`requirepass` of the sentinels), if any; the
    /// master's is `[redis] password`.
    pub password: Option<String>,
}

/// The password prints as `"***"`.
impl std::fmt::Debug for SentinelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelSettings")
            .field("master", &self.master)
            .field("nodes", &self.nodes)
            .field("password", &session_core::redact::secret(&self.password))
            .finish()
    }
}

impl SentinelSettings {
    /// The master `master` as the sentinels at `nodes` (`host:port`) name it.
    pub fn new<I, S>(master: impl Into<String>, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SentinelSettings {
            master: master.into(),
            nodes: nodes.into_iter().map(Into::into).collect(),
            password: None,
        }
    }

    /// The sentinels' own password (`requirepass` of the sentinels).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::SentinelSettings;
    ///
    /// let sentinel = SentinelSettings::new("mymaster", ["10.0.0.1:26379"]).with_password("s3cret");
    /// assert_eq!(sentinel.password.as_deref(), Some("s3cret"));
    /// ```
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }
}

/// `[redis]`: where Redis is and how the store behaves.
///
/// ```
/// use session_redis::RedisSettings;
///
/// let settings: RedisSettings = toml::from_str(r#"
///     host = "127.0.0.1"
///     port = 6379
///     password = ""
///     options = { db = 1 }
///     timeout = 3600
///     namespace = "masonite4"
/// "#).unwrap();
/// assert_eq!(settings.options.db, 1);
/// settings.validate()?;
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
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
    /// `rediss://` (TLS) needs the `tls` feature.
    pub url: Option<String>,
    /// Connect to `host`/`port` (or the `cluster` nodes) over TLS, as a `rediss://`
    /// URL does (default false; needs the `tls` feature).
    pub tls: bool,
    /// A PEM file of the certificate authorities to trust for TLS instead of the
    /// system's roots, for a server whose certificate a private CA signed (default:
    /// the system's roots).
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Redis Cluster seed nodes (`host:port`); when given, the cluster client is used.
    pub cluster: Vec<String>,
    /// Redis Sentinel: the master is found through the sentinels instead of
    /// `host`/`port`/`url`, and followed after a failover.
    pub sentinel: Option<SentinelSettings>,
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
    /// Keep hot sessions in this process (default true; on one node, with Sentinel
    /// and on a cluster): a read of
    /// a cached session costs no round trip, and Redis tells the store when another
    /// app server changes it (RESP3 client tracking), so it is not served stale once
    /// that notice has arrived (see the crate docs for what a non-sticky balancer
    /// sees before it). Turn it on or off for every app server of a namespace alike:
    /// each read of a server without it changes the key's TTL, which is announced to
    /// the servers with it. Needs Redis 6 or newer (RESP3 and client tracking).
    pub near_cache: bool,
    /// The most memory the near-cache holds, in bytes (default 67108864, 64 MiB):
    /// each session counts its keys, values and bookkeeping, and a session heavier
    /// than a 64th of this is not cached (it is read from Redis each time).
    pub near_cache_bytes: usize,
    /// How often the near-cache proves that its invalidation channel is alive, in ms
    /// (default 500): a `PING` on the connection that carries Redis' invalidation
    /// notices. A session changed through another app server is never served from
    /// this cache later than `near_cache_heartbeat_ms + response_timeout_ms` after the
    /// change (1 s by default), even over a connection that went silent; a heartbeat
    /// that fails empties the cache and replaces the connection.
    pub near_cache_heartbeat_ms: u64,
}

/// The password prints as `"***"`, the URL without its password and query values
/// ([`session_core::redact::url`]).
impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &session_core::redact::secret(&self.password))
            .field("options", &self.options)
            .field("timeout", &self.timeout)
            .field("namespace", &self.namespace)
            .field("url", &session_core::redact::optional_url(&self.url))
            .field("tls", &self.tls)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("cluster", &self.cluster)
            .field("sentinel", &self.sentinel)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("response_timeout_ms", &self.response_timeout_ms)
            .field("max_session_bytes", &self.max_session_bytes)
            .field("near_cache", &self.near_cache)
            .field("near_cache_bytes", &self.near_cache_bytes)
            .field("near_cache_heartbeat_ms", &self.near_cache_heartbeat_ms)
            .finish()
    }
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
            tls: false,
            tls_ca_file: None,
            cluster: Vec::new(),
            sentinel: None,
            connect_timeout_ms: 1000,
            response_timeout_ms: 500,
            max_session_bytes: session_core::DEFAULT_MAX_SESSION_BYTES,
            near_cache: true,
            near_cache_bytes: 64 << 20,
            near_cache_heartbeat_ms: 500,
        }
    }
}

/// Builders: each sets one setting and returns the settings, for settings made in
/// code rather than read from `session.toml`.
impl RedisSettings {
    /// The host (default `127.0.0.1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_host("redis.internal");
    /// assert_eq!(settings.host, "redis.internal");
    /// ```
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port (default 6379).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_port(6380);
    /// assert_eq!(settings.port, 6380);
    /// ```
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The ACL username.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_username("app");
    /// assert_eq!(settings.username.as_deref(), Some("app"));
    /// ```
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (of the master, with Sentinel).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_password("s3cret");
    /// assert_eq!(settings.password.as_deref(), Some("s3cret"));
    /// ```
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The database number (one node or Sentinel; a cluster has only 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_db(2);
    /// assert_eq!(settings.options.db, 2);
    /// ```
    pub fn with_db(mut self, db: i64) -> Self {
        self.options.db = db;
        self
    }

    /// The idle timeout of Redis sessions, in whole seconds (default: the top-level `timeout`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_timeout(std::time::Duration::from_secs(900));
    /// assert_eq!(settings.timeout, Some(900));
    /// ```
    pub fn with_timeout(mut self, idle: std::time::Duration) -> Self {
        self.timeout = Some(idle.as_secs());
        self
    }

    /// The key prefix: keys are `{namespace}:{digest}` (default `session`).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_namespace("shop");
    /// assert_eq!(settings.namespace, "shop");
    /// ```
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// A `redis://` or `rediss://` URL, in place of host, port, password and db.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_url("redis://127.0.0.1:6379/1");
    /// assert_eq!(settings.url.as_deref(), Some("redis://127.0.0.1:6379/1"));
    /// ```
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Connect over TLS (needs the `tls` feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_tls(true);
    /// assert_eq!(settings.tls, true);
    /// ```
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// The certificate authorities to trust for TLS, as a PEM file (default: the system's roots).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_tls_ca_file("/etc/redis/ca.pem");
    /// assert_eq!(settings.tls_ca_file.as_deref(), Some(std::path::Path::new("/etc/redis/ca.pem")));
    /// ```
    pub fn with_tls_ca_file(mut self, pem: impl Into<std::path::PathBuf>) -> Self {
        self.tls_ca_file = Some(pem.into());
        self
    }

    /// Redis Cluster seed nodes (`host:port`): the cluster client is used.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_cluster(["10.0.0.1:7000", "10.0.0.2:7000"]);
    /// assert_eq!(settings.cluster.len(), 2);
    /// ```
    pub fn with_cluster(mut self, nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cluster = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// Find the master through Redis Sentinel, and follow it after a failover.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_sentinel(session_redis::SentinelSettings::new("mymaster", ["10.0.0.1:26379"]));
    /// assert_eq!(settings.sentinel.map(|s| s.master).as_deref(), Some("mymaster"));
    /// ```
    pub fn with_sentinel(mut self, sentinel: SentinelSettings) -> Self {
        self.sentinel = Some(sentinel);
        self
    }

    /// How long to wait for a connection (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_connect_timeout(std::time::Duration::from_millis(250));
    /// assert_eq!(settings.connect_timeout_ms, 250);
    /// ```
    pub fn with_connect_timeout(mut self, wait: std::time::Duration) -> Self {
        self.connect_timeout_ms = duration_ms(wait);
        self
    }

    /// How long to wait for an answer (default 500 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_response_timeout(std::time::Duration::from_millis(200));
    /// assert_eq!(settings.response_timeout_ms, 200);
    /// ```
    pub fn with_response_timeout(mut self, wait: std::time::Duration) -> Self {
        self.response_timeout_ms = duration_ms(wait);
        self
    }

    /// The largest session kept, in stored bytes (default 256 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_max_session_bytes(64 << 10);
    /// assert_eq!(settings.max_session_bytes, 65536);
    /// ```
    pub fn with_max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Keep hot sessions in this process (default true); alike on every app server of a namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_near_cache(false);
    /// assert_eq!(settings.near_cache, false);
    /// ```
    pub fn with_near_cache(mut self, on: bool) -> Self {
        self.near_cache = on;
        self
    }

    /// The near-cache's memory budget (default 64 MiB).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_near_cache_bytes(16 << 20);
    /// assert_eq!(settings.near_cache_bytes, 16 << 20);
    /// ```
    pub fn with_near_cache_bytes(mut self, bytes: usize) -> Self {
        self.near_cache_bytes = bytes;
        self
    }

    /// How often the near-cache proves its invalidation channel alive (default 500 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use session_redis::RedisSettings;
    ///
    /// let settings = RedisSettings::default().with_near_cache_heartbeat(std::time::Duration::from_millis(250));
    /// assert_eq!(settings.near_cache_heartbeat_ms, 250);
    /// ```
    pub fn with_near_cache_heartbeat(mut self, every: std::time::Duration) -> Self {
        self.near_cache_heartbeat_ms = duration_ms(every);
        self
    }
}

/// `d` in whole milliseconds, saturating.
fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisSettings {
    /// Applies the environment overrides `SESSION_REDIS_HOST`, `_PORT`, `_PASSWORD`,
    /// `_DB`, `_URL`, `_NAMESPACE` and `_TLS_CA_FILE`, reading variables through `var`,
    /// then checks the result.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(v) = var("SESSION_REDIS_HOST") {
            self.host = v;
        }
        if let Some(v) = var("SESSION_REDIS_PORT") {
            self.port = number("SESSION_REDIS_PORT", &v)?;
        }
        if let Some(v) = var("SESSION_REDIS_PASSWORD") {
            self.password = Some(v);
        }
        if let Some(v) = var("SESSION_REDIS_DB") {
            self.options.db = number("SESSION_REDIS_DB", &v)?;
        }
        if let Some(v) = var("SESSION_REDIS_URL") {
            self.url = Some(v);
        }
        if let Some(v) = var("SESSION_REDIS_NAMESPACE") {
            self.namespace = v;
        }
        if let Some(v) = var("SESSION_REDIS_TLS_CA_FILE") {
            self.tls_ca_file = Some(v.into());
        }
        self.validate()
    }

    /// The password, with an empty string meaning none.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref().filter(|p| !p.is_empty())
    }

    /// True when the connection is to be made over TLS: `tls = true`, a `rediss://`
    /// URL or cluster node.
    pub fn uses_tls(&self) -> bool {
        let secure = |url: &str| url.trim_start().starts_with("rediss://");
        self.tls
            || self.url.as_deref().is_some_and(secure)
            || self.cluster.iter().any(|node| secure(node))
    }

    /// Checks the values; the error names the setting (`redis.namespace`, ...).
    pub fn validate(&self) -> Result<(), Error> {
        if self.timeout == Some(0) {
            return Err(Error::config("redis.timeout", "must be at least 1 second"));
        }
        if self.namespace.is_empty() {
            return Err(Error::config("redis.namespace", "must not be empty"));
        }
        if self.near_cache_heartbeat_ms == 0 {
            return Err(Error::config(
                "redis.near_cache_heartbeat_ms",
                "must be at least 1",
            ));
        }
        if self.max_session_bytes == 0 {
            return Err(Error::config(
                "redis.max_session_bytes",
                "must be at least 1",
            ));
        }
        if let Some(sentinel) = &self.sentinel {
            if sentinel.master.is_empty() {
                return Err(Error::config(
                    "redis.sentinel.master",
                    "must name the master the sentinels monitor",
                ));
            }
            if sentinel.nodes.is_empty() {
                return Err(Error::config(
                    "redis.sentinel.nodes",
                    "must list at least one sentinel (`host:port`)",
                ));
            }
            if !self.cluster.is_empty() {
                return Err(Error::config(
                    "redis.sentinel",
                    "cannot be combined with `cluster`: a cluster fails over by itself",
                ));
            }
            if self.uses_tls() {
                return Err(Error::config(
                    "redis.sentinel",
                    "TLS through Sentinel is not supported yet: connect to the master with `url`, or use Sentinel without TLS",
                ));
            }
        }
        if self.connect_timeout_ms == 0 || self.response_timeout_ms == 0 {
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
