//! [`RedisStore`]: sessions in Redis or Redis Cluster.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, ScriptInvocation, Value};
use session_core::{
    now_ms, Capabilities, Expiry, Record, RedisSettings, SaveRequest, SessionId, SessionStore,
    StoredValue,
};

use crate::scripts::{self, CREATED, VALUE_PREFIX};
use crate::Error;

/// The connection: a `ConnectionManager` for one node (it reconnects by itself) or
/// the async cluster client. Both are cheap to clone and multiplex one connection.
#[derive(Clone)]
enum Backend {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Sessions in Redis: one hash per session under `{namespace}:{digest of the id}`.
///
/// - **One round trip** per load (which also refreshes the idle deadline) and per
///   save, each an atomic Lua script; a request that never touches its session costs
///   none.
/// - **Per-key merges**: a save writes only the keys the request changed or removed,
///   so concurrent requests that change different keys both keep their writes.
/// - **Never revives** a session another request destroyed or that expired; a new id
///   never overwrites an existing session.
/// - **Tokens are not stored**: the key is the SHA-256 digest of the id.
/// - **Bounded waits**: every call gives up after the connect + response timeouts
///   with [`session_core::Error::Timeout`] or `Unavailable`; the connection recovers
///   by itself when Redis is back.
///
/// On Redis Cluster, `regenerate`/`invalidate` cost one extra round trip (the old
/// and new keys live in different slots, so they cannot share one script).
///
/// ```no_run
/// use session_core::RedisSettings;
/// use session_redis::RedisStore;
///
/// # async fn connect() -> Result<RedisStore, session_redis::Error> {
/// let mut settings = RedisSettings::default();   // 127.0.0.1:6379, namespace "session"
/// settings.namespace = "myapp".into();
/// let store = RedisStore::connect(&settings).await?;
/// # Ok(store) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    backend: Backend,
    namespace: String,
    target: String,
    /// The longest a call may take: connect timeout + response timeout.
    limit: Duration,
    load: redis::Script,
    save: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .field("namespace", &self.namespace)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects as `[redis]` says: `cluster` nodes when given, else `url`, else
    /// `host`/`port`/`password`/`options.db`. A single node is connected lazily (the
    /// app starts even when Redis is down, and answers 503 until it is up); a
    /// cluster is contacted now, to learn its slots.
    pub async fn connect(settings: &RedisSettings) -> Result<Self, Error> {
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms.max(1));
        let response_timeout = Duration::from_millis(settings.response_timeout_ms.max(1));
        let password = settings.password.as_deref().filter(|p| !p.is_empty());
        let (backend, target) = if settings.cluster.is_empty() {
            let info = match &settings.url {
                Some(url) => url
                    .as_str()
                    .into_connection_info()
                    .map_err(|e| Error::Config {
                        field: "redis.url".into(),
                        reason: e.to_string(),
                    })?,
                None => {
                    let mut redis = RedisConnectionInfo::default().set_db(settings.options.db);
                    if let Some(p) = password {
                        redis = redis.set_password(p);
                    }
                    if let Some(u) = &settings.username {
                        redis = redis.set_username(u);
                    }
                    ConnectionAddr::Tcp(settings.host.clone(), settings.port)
                        .into_connection_info()
                        .map_err(|e| Error::Config {
                            field: "redis.host".into(),
                            reason: e.to_string(),
                        })?
                        .set_redis_settings(redis)
                }
            };
            let target = info.addr().to_string();
            let client = redis::Client::open(info).map_err(|source| Error::Redis {
                target: target.clone(),
                source,
            })?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(response_timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(200));
            let manager =
                ConnectionManager::new_lazy_with_config(client, config).map_err(|source| {
                    Error::Redis {
                        target: target.clone(),
                        source,
                    }
                })?;
            (Backend::Single(manager), target)
        } else {
            let target = settings.cluster.join(",");
            // Masonite writes nodes as `host:port`; the client wants URLs.
            let nodes = settings.cluster.iter().map(|node| {
                if node.contains("://") {
                    node.clone()
                } else {
                    format!("redis://{node}")
                }
            });
            let mut builder = ClusterClientBuilder::new(nodes)
                .connection_timeout(connect_timeout)
                .response_timeout(response_timeout)
                .retries(1);
            if let Some(p) = password {
                builder = builder.password(p);
            }
            if let Some(u) = &settings.username {
                builder = builder.username(u);
            }
            let client = builder.build().map_err(|e| Error::Config {
                field: "redis.cluster".into(),
                reason: e.to_string(),
            })?;
            let limit = connect_timeout + response_timeout;
            let connection = tokio::time::timeout(limit, client.get_async_connection())
                .await
                .map_err(|_| Error::Timeout {
                    target: target.clone(),
                    after: limit,
                })?
                .map_err(|source| Error::Redis {
                    target: target.clone(),
                    source,
                })?;
            (Backend::Cluster(connection), target)
        };
        Ok(RedisStore {
            backend,
            namespace: settings.namespace.clone(),
            target,
            limit: connect_timeout + response_timeout,
            load: scripts::load(),
            save: scripts::save(),
        })
    }

    /// The Redis key of a session id: `{namespace}:{digest}`.
    pub fn key_of(&self, id: &SessionId) -> String {
        format!("{}:{}", self.namespace, id.storage_key())
    }

    /// True when connected to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// Runs `f` on the connection, within the time limit, mapping failures to the
    /// session error the HTTP layer answers with 503.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, session_core::Error>
    where
        F: FnOnce(Backend) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.limit, f(self.backend.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) if source.is_timeout() => {
                tracing::warn!(target = %self.target, "redis timed out");
                Err(Error::Timeout {
                    target: self.target.clone(),
                    after: self.limit,
                }
                .into())
            }
            Ok(Err(source)) => {
                tracing::warn!(target = %self.target, error = %source, "redis failed");
                Err(Error::Redis {
                    target: self.target.clone(),
                    source,
                }
                .into())
            }
            Err(_) => {
                tracing::warn!(target = %self.target, "redis did not answer in time");
                Err(Error::Timeout {
                    target: self.target.clone(),
                    after: self.limit,
                }
                .into())
            }
        }
    }

    async fn invoke(&self, invocation: ScriptInvocation<'_>) -> Result<Value, session_core::Error> {
        self.call(|backend| async move {
            match backend {
                Backend::Single(mut c) => invoke_on(&invocation, &mut c).await,
                Backend::Cluster(mut c) => invoke_on(&invocation, &mut c).await,
            }
        })
        .await
    }

    /// `HGETALL key` and `PEXPIRE key idle` in one pipeline.
    async fn fetch_and_touch(
        &self,
        key: &str,
        idle_ms: u64,
    ) -> Result<Fetched, session_core::Error> {
        let mut pipe = redis::pipe();
        pipe.ignore_errors()
            .cmd("HGETALL")
            .arg(key)
            .cmd("PEXPIRE")
            .arg(key)
            .arg(idle_ms);
        let replies = self
            .call(|backend| async move {
                match backend {
                    Backend::Single(mut c) => pipe.query_async::<Vec<Value>>(&mut c).await,
                    Backend::Cluster(mut c) => pipe.query_async::<Vec<Value>>(&mut c).await,
                }
            })
            .await?;
        Ok(match replies.into_iter().next() {
            Some(Value::Array(fields)) => Fetched::Fields(fields),
            Some(Value::Map(pairs)) => {
                Fetched::Fields(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
            }
            // WRONGTYPE, or anything else that is not a hash.
            _ => Fetched::WrongType,
        })
    }

    async fn del(&self, key: String) -> Result<(), session_core::Error> {
        self.call(|backend| async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(&key);
            match backend {
                Backend::Single(mut c) => cmd.query_async::<()>(&mut c).await,
                Backend::Cluster(mut c) => cmd.query_async::<()>(&mut c).await,
            }
        })
        .await
    }
}

/// What a plain load found under a session key.
enum Fetched {
    /// The hash's fields and values, flat (empty: no session).
    Fields(Vec<Value>),
    /// Something that is not a hash.
    WrongType,
}

async fn invoke_on<C: ConnectionLike + Send>(
    invocation: &ScriptInvocation<'_>,
    connection: &mut C,
) -> redis::RedisResult<Value> {
    invocation.invoke_async(connection).await
}

/// A session field's stored value: `p` or `f`, then the JSON.
fn encode_value(value: &StoredValue) -> String {
    let mut out = String::with_capacity(value.json.len() + 1);
    out.push(if value.flash { 'f' } else { 'p' });
    out.push_str(&value.json);
    out
}

fn field(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 1);
    out.push(VALUE_PREFIX);
    out.push_str(key);
    out
}

/// Parses what the load script returned. `Err(reason)` for data that is not a session
/// written by this crate.
fn decode_record(values: Vec<Value>) -> Result<Record, &'static str> {
    let mut items = values.into_iter().map(|v| match v {
        Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| "not UTF-8"),
        Value::SimpleString(s) => Ok(s),
        _ => Err("unexpected reply type"),
    });
    let deadline: u64 = items
        .next()
        .ok_or("empty reply")??
        .parse()
        .map_err(|_| "bad deadline")?;
    let mut record = Record::new(0, deadline);
    let mut created = None;
    while let Some(name) = items.next() {
        let name = name?;
        let value = items.next().ok_or("odd number of hash fields")??;
        if name == CREATED {
            created = Some(value.parse::<u64>().map_err(|_| "bad creation time")?);
        } else if let Some(key) = name.strip_prefix(VALUE_PREFIX) {
            let flash = match value.as_bytes().first() {
                Some(b'p') => false,
                Some(b'f') => true,
                _ => return Err("value without a kind"),
            };
            let json = value.get(1..).ok_or("value without JSON")?.to_owned();
            record
                .entries
                .insert(key.to_owned(), StoredValue { json, flash });
        } else {
            return Err("unknown field");
        }
    }
    record.created_ms = created.ok_or("no creation time")?;
    Ok(record)
}

fn lifetime_arg(expiry: &Expiry) -> u64 {
    expiry.lifetime_ms().unwrap_or(0)
}

#[async_trait]
impl SessionStore for RedisStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server()
    }

    async fn load(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<Record>, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let key = self.key_of(&id);
        let now = now_ms();
        let reply = match expiry.lifetime_ms() {
            // No absolute cap: the deadline is `now + idle`, and two native commands
            // in one pipeline (one round trip) do the load and the refresh.
            None => {
                let idle = expiry.idle_ms();
                match self.fetch_and_touch(&key, idle).await? {
                    Fetched::Fields(fields) if fields.is_empty() => return Ok(None),
                    Fetched::Fields(mut fields) => {
                        fields.insert(0, Value::BulkString((now + idle).to_string().into_bytes()));
                        Value::Array(fields)
                    }
                    Fetched::WrongType => Value::Okay,
                }
            }
            // With a cap, the deadline needs the creation time: one script.
            Some(life) => {
                let mut invocation = self.load.prepare_invoke();
                invocation
                    .key(&key)
                    .arg(now)
                    .arg(expiry.idle_ms())
                    .arg(life);
                self.invoke(invocation).await?
            }
        };
        match reply {
            Value::Nil => Ok(None),
            Value::Array(values) => match decode_record(values) {
                Ok(record) => Ok(Some(record)),
                Err(reason) => {
                    tracing::warn!(%key, reason, "undecodable session in redis; starting a fresh one");
                    Ok(None)
                }
            },
            _ => {
                tracing::warn!(%key, "redis holds something that is not a session under this key; starting a fresh one");
                Ok(None)
            }
        }
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, session_core::Error> {
        let now = now_ms();
        let expiry = request.expiry;
        let replaces = request
            .replaces
            .and_then(SessionId::parse)
            .map(|id| self.key_of(&id));
        // Cluster: the old key lives in another slot, so it goes in its own call.
        let mut same_call_replaces = replaces.clone();
        if self.is_cluster() {
            if let Some(old) = same_call_replaces.take() {
                self.del(old).await?;
            }
        }
        let (removed, cleared): (Vec<String>, bool) = if request.merge {
            (
                request.removed.iter().map(|k| field(k)).collect(),
                request.cleared,
            )
        } else {
            (Vec::new(), true)
        };
        let pairs: Vec<(String, String)> = request
            .record
            .entries
            .iter()
            .map(|(k, v)| (field(k), encode_value(v)))
            .collect();
        let build = |key: &str, mode: &str| {
            let mut invocation = self.save.prepare_invoke();
            invocation.key(key);
            if let Some(old) = &same_call_replaces {
                invocation.key(old);
            }
            invocation
                .arg(mode)
                .arg(now)
                .arg(expiry.idle_ms())
                .arg(lifetime_arg(expiry))
                .arg(request.record.created_ms)
                .arg(if cleared { "1" } else { "0" })
                .arg(removed.len());
            for f in &removed {
                invocation.arg(f);
            }
            for (f, v) in &pairs {
                invocation.arg(f).arg(v);
            }
            invocation
        };
        match request.token {
            Some(token) => {
                let Some(id) = SessionId::parse(token) else {
                    return Ok(None);
                };
                let saved = self.invoke(build(&self.key_of(&id), "update")).await?;
                Ok((saved == Value::Int(1)).then(|| id.to_string()))
            }
            None => {
                // A fresh id collides with a live session with probability 2^-256;
                // the script refuses to overwrite, and we draw again.
                for _ in 0..3 {
                    let id = SessionId::generate()?;
                    let saved = self.invoke(build(&self.key_of(&id), "new")).await?;
                    if saved == Value::Int(1) {
                        return Ok(Some(id.to_string()));
                    }
                }
                Err(session_core::Error::Unavailable {
                    store: "redis",
                    source: "three fresh session ids were all taken".into(),
                })
            }
        }
    }

    async fn destroy(&self, token: &str) -> Result<(), session_core::Error> {
        match SessionId::parse(token) {
            Some(id) => self.del(self.key_of(&id)).await,
            None => Ok(()),
        }
    }
}
