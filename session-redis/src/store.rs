//! [`RedisStore`]: sessions in Redis or Redis Cluster.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};

use crate::sentinel::{self, Master};
use crate::tls;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo,
    RedisWrite, Script, ServerErrorKind, ToRedisArgs, Value,
};
use session_core::{
    now_ms, Change, Edit, Expiry, MergeStore, Record, Seen, SessionId, SessionStore,
};

use crate::format;
use crate::near_cache::{Check, Invalidations, NearCache, NearCacheStats};
use crate::scripts;
use crate::{Error, RedisSettings};

/// The connection: one node's (replaceable, see [`Node`]) or the async cluster
/// client's (see [`Cluster`]). Both multiplex one connection per node.
#[derive(Clone)]
enum Backend {
    Single(Arc<Node>),
    Cluster(Arc<Cluster>),
}

/// A cluster's connection, made on first use by the runtime that serves requests:
/// the cluster client's task, which routes every call and hands invalidations to the
/// near-cache, runs on the runtime that makes it, and a store connected on one
/// runtime (a startup check) may serve on another.
struct Cluster {
    client: ClusterClient,
    current: tokio::sync::OnceCell<ClusterConnection>,
}

impl Cluster {
    /// The connection, made now when this is its first use (a failed attempt is
    /// made again by the next call).
    async fn conn(&self) -> redis::RedisResult<ClusterConnection> {
        self.current
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

/// One node's connection. The `ConnectionManager` reconnects by itself after an I/O
/// error; a connection that stops answering without one (half-open: the peer
/// swallows traffic while new connections would work) is replaced here, after the
/// first call on it that times out.
///
/// The manager is made on first use, by the runtime that serves requests: it spawns
/// the task that hands invalidations to the near-cache on the runtime that makes it,
/// and a store connected on one runtime (a startup check) may serve on another.
struct Node {
    /// The server's client; with Sentinel, replaced when the master moves.
    client: RwLock<redis::Client>,
    config: ConnectionManagerConfig,
    current: RwLock<Option<Conn>>,
    /// Emptied when the connection is replaced: its invalidations may be lost.
    near: Option<Arc<NearCache>>,
    /// With Sentinel: the sentinels that name the master.
    master: Option<Master>,
}

/// A connection and its generation (which replacement made it).
#[derive(Clone)]
struct Conn {
    generation: u64,
    manager: ConnectionManager,
}

impl Node {
    fn new(
        client: redis::Client,
        config: ConnectionManagerConfig,
        near: Option<Arc<NearCache>>,
        master: Option<Master>,
    ) -> redis::RedisResult<Self> {
        // Checks the configuration now (the manager is made again on first use).
        drop(ConnectionManager::new_lazy_with_config(
            client.clone(),
            config.clone(),
        )?);
        Ok(Node {
            client: RwLock::new(client),
            config,
            current: RwLock::new(None),
            near,
            master,
        })
    }

    fn client(&self) -> redis::Client {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// With Sentinel, asks for the master when it may have moved, and moves the
    /// connection to it when it has.
    async fn follow_master(&self, limit: Duration, watch: bool) -> Result<(), Error> {
        let Some(master) = &self.master else {
            return Ok(());
        };
        if !master.may_have_moved(watch) {
            return Ok(());
        }
        // Boxed: the sentinel client's futures are deep, and this one is awaited
        // inside every caller's (an app's `main` included) only when it runs.
        let Some(client) = Box::pin(master.resolve(limit, watch)).await? else {
            return Ok(());
        };
        let moved = sentinel::address(&client) != sentinel::address(&self.client());
        if moved {
            tracing::warn!(master = %sentinel::address(&client), "redis master moved; connecting to it");
            *self
                .client
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = client;
            let generation = self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .as_ref()
                .map(|c| c.generation);
            // Without a connection yet, the first call connects to the new client.
            if let Some(generation) = generation {
                self.replace(generation);
            }
        }
        Ok(())
    }

    /// A call failed in a way a failover explains: with Sentinel, ask for the
    /// master again before the next call.
    fn failed_over_maybe(&self) {
        if let Some(master) = &self.master {
            master.mark_stale();
        }
    }

    fn conn(&self) -> redis::RedisResult<Conn> {
        if let Some(conn) = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
        {
            return Ok(conn.clone());
        }
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(conn) = current.as_ref() {
            return Ok(conn.clone());
        }
        let conn = Conn {
            generation: 0,
            manager: ConnectionManager::new_lazy_with_config(self.client(), self.config.clone())?,
        };
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Replaces connection `generation` with a new one (made on its first use), unless
    /// another call replaced it already. Calls still waiting on the old one finish
    /// or time out by themselves.
    fn replace(&self, generation: u64) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.as_ref().map(|c| c.generation) != Some(generation) {
            return;
        }
        match ConnectionManager::new_lazy_with_config(self.client(), self.config.clone()) {
            Ok(manager) => {
                tracing::warn!("replacing the redis connection with a new one");
                if let Some(near) = &self.near {
                    near.flush();
                }
                *current = Some(Conn {
                    generation: generation + 1,
                    manager,
                });
            }
            Err(error) => tracing::error!(%error, "could not set up a new redis connection"),
        }
    }
}

/// The connection one call uses.
enum Connection {
    Single(Conn),
    Cluster(ClusterConnection),
}

/// Sessions in Redis: one value per session under `{namespace}:{digest of the id}`
/// (see [`format`](crate::format)).
///
/// - **One round trip** per load (a native `GETEX`, which also refreshes the idle
///   deadline) and per save (an `APPEND` of the request's change, checked against the
///   size cap in the same atomic script, or a larger script when the session is new,
///   replaced, or due for compaction); a request that never touches its session
///   costs none.
/// - **Bounded size**: no save leaves more than `max_session_bytes` stored, however
///   many requests write at once; the ones that would pass it get
///   [`session_core::Error::TooLarge`].
/// - **Per-key changes**: a save appends only the keys this request changed or
///   removed, so concurrent requests that change different keys both keep their
///   writes; now and then a save writes the session whole again, compacted, keeping
///   what other requests appended since its load.
/// - **Never revives** a session another request destroyed or that expired; a new id
///   never overwrites an existing session.
/// - **Tokens are not stored**: the key is the SHA-256 digest of the id.
/// - **Bounded waits**: a call gives up with [`session_core::Error::Timeout`] or
///   `Unavailable` after the response timeout while the connection is up, and after
///   the connect + response timeouts while it is being made (at first, and after the
///   connection was lost); the connection recovers by itself when Redis is back. On
///   one node, one timer bounds each call (the client keeps no response timer of
///   its own).
///
/// On Redis Cluster, `regenerate`/`invalidate` cost one extra round trip (the old
/// and new keys live in different slots, so they cannot share one script).
///
/// ```no_run
/// use session_redis::RedisSettings;
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
    /// How long a call may wait (see [`Deadlines`]).
    deadlines: Deadlines,
    /// The largest session kept, in stored bytes.
    max_session_bytes: usize,
    save: redis::Script,
    drop: redis::Script,
    append: redis::Script,
    /// Hot sessions kept here (see [`NearCache`]).
    near: Option<Arc<NearCache>>,
    /// `{namespace}:`, the prefix whose changes Redis announces to the near-cache.
    tracked_prefix: String,
    /// How often the near-cache's heartbeat proves its channel alive.
    heartbeat: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .field("namespace", &self.namespace)
            .field("deadlines", &self.deadlines)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects as `[redis]` says: `cluster` nodes when given, else `url`, else
    /// `host`/`port`/`password`/`options.db`, and checks that Redis answers (a
    /// `PING`): an unreachable server, a wrong password or an unknown host is an
    /// error that names the cause, at startup rather than on every request. An app
    /// that would rather start anyway (and answer 503 until Redis is up) uses
    /// [`connect_lazy`](Self::connect_lazy).
    pub async fn connect(settings: &RedisSettings) -> Result<Self, Error> {
        let store = Self::connect_lazy(settings).await?;
        store.check().await?;
        Ok(store)
    }

    /// Like [`connect`](Self::connect), without the check: Redis (one node or a
    /// cluster) is connected on first use, by the runtime that serves requests (the
    /// app starts even when Redis is down, and answers 503 until it is up).
    pub async fn connect_lazy(settings: &RedisSettings) -> Result<Self, Error> {
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms.max(1));
        let response_timeout = Duration::from_millis(settings.response_timeout_ms.max(1));
        if let Err(session_core::Error::Config { field, reason }) = settings.validate() {
            return Err(Error::Config { field, reason });
        }
        let password = settings.password.as_deref().filter(|p| !p.is_empty());
        let (backend, target, near) = if settings.cluster.is_empty() {
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
                    let addr = if settings.tls {
                        ConnectionAddr::TcpTls {
                            host: settings.host.clone(),
                            port: settings.port,
                            insecure: false,
                            tls_params: None,
                        }
                    } else {
                        ConnectionAddr::Tcp(settings.host.clone(), settings.port)
                    };
                    addr.into_connection_info()
                        .map_err(|e| Error::Config {
                            field: "redis.host".into(),
                            reason: e.to_string(),
                        })?
                        .set_redis_settings(redis)
                }
            };
            let target = info.addr().to_string();
            let near = settings
                .near_cache
                .then(|| NearCache::new(settings.near_cache_bytes));
            // Invalidations arrive as RESP3 pushes on the store's own connection.
            let info = match near {
                Some(_) => {
                    let redis = info
                        .redis_settings()
                        .clone()
                        .set_protocol(ProtocolVersion::RESP3);
                    info.set_redis_settings(redis)
                }
                None => info,
            };
            // With Sentinel, the master the sentinels name (asked on first use) takes
            // the place of host and port; db, password and protocol stay.
            let master = match &settings.sentinel {
                Some(sentinel) => Some(Master::new(sentinel, info.redis_settings().clone())?),
                None => None,
            };
            let target = master.as_ref().map_or(target, |m| m.target.clone());
            let client = tls::client(info, settings)?;
            // No response timeout of the client's own: each call is bounded by one
            // timer of ours (see `Deadlines`), where a second one would cost another
            // timer registration, and often a wake-up of the runtime, per call.
            let mut config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(None)
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(200));
            if let Some(near) = &near {
                config = config.set_push_sender(Invalidations(near.clone()));
            }
            let node =
                Node::new(client, config, near.clone(), master).map_err(|source| Error::Redis {
                    target: target.clone(),
                    source,
                })?;
            (Backend::Single(Arc::new(node)), target, near)
        } else {
            let target = settings.cluster.join(",");
            // Masonite writes nodes as `host:port`; the client wants URLs.
            let scheme = if settings.tls { "rediss" } else { "redis" };
            let nodes = settings.cluster.iter().map(|node| {
                if node.contains("://") {
                    node.clone()
                } else {
                    format!("{scheme}://{node}")
                }
            });
            let mut builder = ClusterClientBuilder::new(nodes)
                .connection_timeout(connect_timeout)
                .response_timeout(response_timeout)
                .retries(1);
            let near = settings
                .near_cache
                .then(|| NearCache::new(settings.near_cache_bytes));
            // Invalidations arrive as RESP3 pushes on each node's connection.
            if let Some(near) = &near {
                builder = builder
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(Invalidations(near.clone()));
            }
            let mut builder = tls::cluster(builder, settings)?;
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
            let cluster = Cluster {
                client,
                current: tokio::sync::OnceCell::new(),
            };
            (Backend::Cluster(Arc::new(cluster)), target, near)
        };
        Ok(RedisStore {
            backend,
            namespace: settings.namespace.clone(),
            target,
            deadlines: Deadlines::new(response_timeout, connect_timeout + response_timeout),
            max_session_bytes: settings.max_session_bytes.max(1),
            save: scripts::save(),
            drop: scripts::drop(),
            append: scripts::append(),
            near,
            tracked_prefix: format!("{}:", settings.namespace),
            heartbeat: Duration::from_millis(settings.near_cache_heartbeat_ms.max(1)),
        })
    }

    /// How the near-cache has done so far: `None` when it is off
    /// (`near_cache = false`).
    pub fn near_cache_stats(&self) -> Option<NearCacheStats> {
        self.near.as_ref().map(|near| near.stats())
    }

    /// Drops `key` from the near-cache: this store is about to change it, or did.
    fn changing(&self, key: RedisKey<'_>) {
        if let Some(near) = &self.near {
            near.invalidate(&key.to_bytes());
        }
    }

    /// Sends a `PING`, within the connect + response timeouts: `Ok` when Redis
    /// answers, else the cause (nothing listening, a wrong password, an unknown host).
    ///
    /// The ping goes over a connection of its own, closed after: the store's
    /// connection is still made on first use, by the runtime that uses it (a store
    /// checked on one runtime and served on another keeps working, on one node and
    /// on a cluster).
    pub async fn check(&self) -> Result<(), Error> {
        let limit = self.deadlines.connecting;
        if let Backend::Single(node) = &self.backend {
            node.follow_master(limit, false).await?;
        }
        let ping = async {
            let mut conn = match &self.backend {
                Backend::Single(node) => Connection::Single(Conn {
                    generation: 0,
                    manager: ConnectionManager::new_lazy_with_config(
                        node.client(),
                        node.config.clone(),
                    )?,
                }),
                Backend::Cluster(cluster) => {
                    Connection::Cluster(cluster.client.get_async_connection().await?)
                }
            };
            conn.send(&redis::cmd("PING")).await
        };
        match tokio::time::timeout(limit, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(Error::Redis {
                target: self.target.clone(),
                source,
            }),
            Err(_) => Err(Error::Timeout {
                target: self.target.clone(),
                after: limit,
            }),
        }
    }

    /// The Redis key of a session id: `{namespace}:{digest}`.
    pub fn key_of(&self, id: &SessionId) -> String {
        self.redis_key(id).to_string()
    }

    /// The Redis key of a session id, to write into a command.
    fn redis_key(&self, id: &SessionId) -> RedisKey<'_> {
        RedisKey::new(&self.namespace, id)
    }

    /// True when connected to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// Runs `f` on the connection, within the time limit, mapping failures to the
    /// session error the HTTP layer answers with 503. A call that times out on one
    /// node has its connection replaced (it may be half-open), so the next call
    /// gets a new one.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, session_core::Error>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let limit = self.deadlines.limit();
        if let Backend::Single(node) = &self.backend {
            if let Err(error) = node.follow_master(limit, true).await {
                tracing::warn!(%error, "cannot learn the redis master from the sentinels");
                return Err(error.into());
            }
        }
        let result = match &self.backend {
            Backend::Single(node) => match node.conn() {
                Ok(conn) => (
                    Some(conn.generation),
                    tokio::time::timeout(limit, f(Connection::Single(conn))).await,
                ),
                Err(e) => (None, Ok(Err(e))),
            },
            // Made within the call's limit on first use.
            Backend::Cluster(cluster) => {
                let call = async { f(Connection::Cluster(cluster.conn().await?)).await };
                (None, tokio::time::timeout(limit, call).await)
            }
        };
        let (generation, result) = result;
        let timed_out = match &result {
            Err(_) => true,
            Ok(Err(e)) => e.is_timeout(),
            Ok(Ok(_)) => false,
        };
        let node = match &self.backend {
            Backend::Single(node) => Some(node),
            Backend::Cluster(_) => None,
        };
        // True when the connection may have been lost or replaced.
        let failed = match &result {
            _ if timed_out => {
                if let (Some(node), Some(generation)) = (node, generation) {
                    node.failed_over_maybe();
                    node.replace(generation);
                    self.deadlines.connection_up(false);
                }
                true
            }
            // The client makes the connection again after an I/O error.
            Ok(Err(e))
                if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() =>
            {
                node.inspect(|node| node.failed_over_maybe());
                self.deadlines.connection_up(false);
                true
            }
            // A master demoted to a replica by a failover.
            Ok(Err(e)) if e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) => {
                node.inspect(|node| node.failed_over_maybe());
                self.deadlines.connection_up(true);
                true
            }
            // A server error reply (`NOSCRIPT`, `WRONGTYPE`) is an answer all the same.
            _ => {
                self.deadlines.connection_up(true);
                false
            }
        };
        // The cluster client makes connections again by itself (on one node the
        // store does, and empties the cache then): invalidations may have been lost.
        if let (true, None, Some(near)) = (failed, node, &self.near) {
            near.flush();
        }
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) if source.is_timeout() => {
                tracing::warn!(target = %self.target, "redis timed out");
                Err(Error::Timeout {
                    target: self.target.clone(),
                    after: limit,
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
                    after: limit,
                }
                .into())
            }
        }
    }

    /// Sends `cmd`, within the time limit.
    async fn query(&self, cmd: &Cmd) -> Result<Value, session_core::Error> {
        self.call(|mut backend| async move { backend.send(cmd).await })
            .await
    }

    /// Sends `cmd`, an `EVALSHA` of `script` (see [`evalsha`]), loading the script
    /// first when Redis does not know it (after a restart or a `SCRIPT FLUSH`).
    async fn run_script(&self, script: &Script, cmd: &Cmd) -> Result<Value, session_core::Error> {
        self.call(|mut backend| async move {
            match backend.send(cmd).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    backend.load(script).await?;
                    backend.send(cmd).await
                }
                reply => reply,
            }
        })
        .await
    }

    /// `GETEX key PX idle`: the stored bytes, with the idle deadline refreshed.
    async fn get_and_touch(
        &self,
        key: RedisKey<'_>,
        idle_ms: u64,
    ) -> Result<Fetched, session_core::Error> {
        if self.near.is_some() {
            return self.get_tracked(key).await;
        }
        let mut cmd = Cmd::with_capacity(4, key.len() + 32);
        cmd.arg("GETEX").arg(key).arg("PX").arg(idle_ms);
        self.call(|mut backend| async move {
            match backend.send(&cmd).await {
                Ok(Value::Nil) => Ok(Fetched::Missing),
                Ok(Value::BulkString(bytes)) => Ok(Fetched::Bytes(bytes, None)),
                Ok(_) => Ok(Fetched::WrongType),
                Err(e) if e.code() == Some("WRONGTYPE") => Ok(Fetched::WrongType),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// For the near-cache, in one round trip: `PTTL` and a `GET`, which unlike
    /// `GETEX` does not change the key (a change would invalidate every other app
    /// server's copy). The caller refreshes the idle deadline
    /// ([`refresh_tracked`](Self::refresh_tracked)) only when it is due.
    async fn get_tracked(&self, key: RedisKey<'_>) -> Result<Fetched, session_core::Error> {
        let mut pipe = redis::pipe();
        pipe.cmd("PTTL").arg(key);
        pipe.cmd("GET").arg(key);
        self.call(|mut backend| async move {
            match backend.send_pipe(&pipe).await {
                Ok(Value::Array(replies)) => {
                    let mut replies = replies.into_iter();
                    Ok(match (replies.next(), replies.next()) {
                        (_, Some(Value::Nil)) => Fetched::Missing,
                        (Some(Value::Int(ttl)), Some(Value::BulkString(bytes))) => {
                            Fetched::Bytes(bytes, Some(u64::try_from(ttl).unwrap_or(0)))
                        }
                        _ => Fetched::WrongType,
                    })
                }
                Ok(_) => Ok(Fetched::WrongType),
                // A pipeline reports the `GET`'s error as a failure of the whole.
                Err(e) if e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE") => {
                    Ok(Fetched::WrongType)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// A ticket for a near-cache fill ([`NearCache::ticket`]), once Redis tracks the
    /// connections this read may use: `None` when what it reads must not be cached.
    ///
    /// On a new connection (after a flush) tracking is turned on first. On a
    /// cluster, tracking is turned on on every master; while a master does not
    /// answer, reads are served from Redis uncached (the other masters' sessions
    /// stay readable).
    async fn tracked_ticket(
        &self,
        near: &Arc<NearCache>,
    ) -> Result<Option<u64>, session_core::Error> {
        let ticket = near.ticket();
        if let Some(epoch) = near.needs_tracking() {
            let sent = now_ms();
            match self.track().await {
                Ok(_) => {
                    near.tracking_on(epoch);
                    near.proven(self.proof_until(sent));
                }
                Err(error) if self.is_cluster() => {
                    tracing::debug!(%error, "cannot turn tracking on on every cluster master yet; reading uncached");
                    return Ok(None);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(Some(ticket))
    }

    /// On a cluster, about once a second, a check in the background (never on a
    /// request's path) turns tracking on where the cluster client made a connection
    /// of its own accord, and empties the cache then: what that node announced
    /// before may have been lost. Run by every load, cached or not.
    fn check_tracking(&self, near: &Arc<NearCache>, now: u64) {
        let due = self.is_cluster() && near.check_due(now, TRACKING_CHECK_MS);
        if let (true, Ok(runtime)) = (due, tokio::runtime::Handle::try_current()) {
            let store = self.clone();
            let near = near.clone();
            runtime.spawn(async move {
                match store.track().await {
                    Ok(true) => {
                        tracing::info!(target = %store.target, "a cluster connection was not tracked yet; emptying the near-cache");
                        near.flush();
                    }
                    Ok(false) => {}
                    Err(error) => tracing::debug!(%error, "tracking check failed"),
                }
            });
        }
    }

    /// Until when an answer to a command sent at `sent_ms` on the invalidation
    /// channel lets the near-cache serve: the next heartbeat's answer is due by then.
    fn proof_until(&self, sent_ms: u64) -> u64 {
        proof_until(sent_ms, self.heartbeat, self.deadlines.up)
    }

    /// Starts the near-cache's heartbeat when none runs: at the first read, and
    /// again if the runtime that ran it ended (a store used on one runtime, then on
    /// another). It runs on the runtime that serves requests, and ends with the store.
    fn keep_heartbeat(&self, near: &Arc<NearCache>, now: u64) {
        let stale = 2 * self.heartbeat + self.deadlines.connecting;
        let stale = u64::try_from(stale.as_millis()).unwrap_or(u64::MAX);
        if !near.heartbeat_due(now, stale) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let heartbeat = Heartbeat {
                backend: match &self.backend {
                    Backend::Single(node) => WeakBackend::Single(Arc::downgrade(node)),
                    Backend::Cluster(cluster) => WeakBackend::Cluster(Arc::downgrade(cluster)),
                },
                near: Arc::downgrade(near),
                every: self.heartbeat,
                deadlines: self.deadlines.clone(),
            };
            runtime.spawn(heartbeat.run());
        }
    }

    /// `CLIENT TRACKING ON BCAST PREFIX {namespace}: NOLOOP`: from now on Redis tells
    /// this connection (on a cluster: each master's) whenever another one changes a
    /// session. True when it was off somewhere (a new connection). Turning it on
    /// where it is on already is refused as an overlap, which means it is on.
    async fn track(&self) -> Result<bool, session_core::Error> {
        let mut cmd = Cmd::with_capacity(7, self.tracked_prefix.len() + 48);
        cmd.arg("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(&self.tracked_prefix)
            .arg("NOLOOP");
        let overlaps = |e: &dyn std::fmt::Display| e.to_string().contains("overlaps");
        self.call(|mut backend| async move {
            match backend {
                Connection::Single(_) => match backend.send(&cmd).await {
                    Err(e) if overlaps(&e) => Ok(false),
                    other => other.map(|_| true),
                },
                Connection::Cluster(ref mut c) => {
                    let every_master =
                        RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                    let mut turned_on = false;
                    // Each master's answer, by address.
                    if let Value::Map(answers) = c.route_command(cmd, every_master).await? {
                        for (_, answer) in answers {
                            match answer {
                                Value::ServerError(e) if overlaps(&e) => {}
                                Value::ServerError(e) => return Err(e.into()),
                                _ => turned_on = true,
                            }
                        }
                    }
                    Ok(turned_on)
                }
            }
        })
        .await
    }

    /// Refreshes the idle deadline of a key the near-cache holds (`PEXPIRE`).
    async fn refresh_tracked(
        &self,
        key: RedisKey<'_>,
        idle_ms: u64,
    ) -> Result<(), session_core::Error> {
        let mut cmd = Cmd::with_capacity(3, key.len() + 24);
        cmd.arg("PEXPIRE").arg(key).arg(idle_ms);
        self.query(&cmd).await.map(drop)
    }

    /// Appends `change` to the session under `key` if the result fits the cap, in one
    /// atomic step ([`scripts::append`]).
    async fn append(
        &self,
        key: RedisKey<'_>,
        change: &[u8],
    ) -> Result<Appended, session_core::Error> {
        let mut cmd = evalsha(&self.append, &[key], 2, change.len() + 16);
        cmd.arg(change).arg(self.max_session_bytes);
        match self.run_script(&self.append, &cmd).await? {
            Value::Int(len) if len > 0 => {
                Ok(usize::try_from(len).map_or(Appended::Full, Appended::Len))
            }
            Value::Int(-1) => Ok(Appended::Full),
            Value::Int(-2) => {
                warn_not_a_session(key);
                Ok(Appended::Gone)
            }
            _ => Ok(Appended::Gone),
        }
    }

    async fn del(&self, key: RedisKey<'_>) -> Result<(), session_core::Error> {
        let mut cmd = Cmd::with_capacity(2, key.len() + 3);
        cmd.arg("DEL").arg(key);
        self.query(&cmd).await.map(drop)
    }
}

impl Connection {
    async fn send(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        match self {
            Connection::Single(c) => cmd.query_async(&mut c.manager).await,
            Connection::Cluster(c) => cmd.query_async(c).await,
        }
    }

    async fn send_pipe(&mut self, pipe: &redis::Pipeline) -> redis::RedisResult<Value> {
        match self {
            Connection::Single(c) => pipe.query_async(&mut c.manager).await,
            Connection::Cluster(c) => pipe.query_async(c).await,
        }
    }

    async fn load(&mut self, script: &Script) -> redis::RedisResult<String> {
        match self {
            Connection::Single(c) => script.load_async(&mut c.manager).await,
            Connection::Cluster(c) => script.load_async(c).await,
        }
    }
}

/// An `EVALSHA` of `script` on `keys`, with room for `args` more arguments of about
/// `bytes` bytes in all; the caller adds the arguments. One buffer for the whole
/// command, where a `ScriptInvocation` copies every argument twice.
fn evalsha(script: &Script, keys: &[RedisKey<'_>], args: usize, bytes: usize) -> Cmd {
    let size = 64 + bytes + keys.iter().map(|k| k.len()).sum::<usize>();
    let mut cmd = Cmd::with_capacity(3 + keys.len() + args, size);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

/// The keys of a save script: the session's, then the one it replaces, if any (in
/// the same call); the script gets the first `n`.
fn save_keys<'a>(key: RedisKey<'a>, replaces: Option<RedisKey<'a>>) -> ([RedisKey<'a>; 2], usize) {
    (
        [key, replaces.unwrap_or(key)],
        1 + usize::from(replaces.is_some()),
    )
}

/// How often, at most, a cluster's masters are asked whether tracking is on for the
/// connections the cluster client uses (ms).
const TRACKING_CHECK_MS: u64 = 1000;

/// A session's Redis key, `{namespace}:{digest of the id}`, written straight into a
/// command (it needs no string of its own); `Display` gives it for logs.
#[derive(Clone, Copy)]
struct RedisKey<'a> {
    namespace: &'a str,
    /// The id's storage key: 64 hex digits, kept on the stack so the key is `Copy`.
    digest: [u8; DIGEST_LEN],
}

/// The length of [`SessionId::storage_key`].
const DIGEST_LEN: usize = 64;

impl<'a> RedisKey<'a> {
    fn new(namespace: &'a str, id: &SessionId) -> Self {
        let mut digest = [b'0'; DIGEST_LEN];
        for (to, from) in digest.iter_mut().zip(id.storage_key().bytes()) {
            *to = from;
        }
        RedisKey { namespace, digest }
    }

    /// The digest as text (hex digits, so always UTF-8).
    fn digest(&self) -> &str {
        std::str::from_utf8(&self.digest).unwrap_or_default()
    }

    /// Its length in bytes.
    fn len(&self) -> usize {
        self.namespace.len() + 1 + DIGEST_LEN
    }

    /// The key's bytes, as Redis names it in an invalidation.
    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(self.namespace.as_bytes());
        out.push(b':');
        out.extend_from_slice(&self.digest);
        out
    }
}

impl ToRedisArgs for RedisKey<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // The writer appends to the command's buffer; it has no error to give.
        let _ = arg.write_all(self.namespace.as_bytes());
        let _ = arg.write_all(b":");
        let _ = arg.write_all(&self.digest);
    }
}

impl std::fmt::Display for RedisKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.namespace, self.digest())
    }
}

/// How long a call may wait: the response timeout while the connection is up, the
/// connect + response timeouts while it is being made (at first, and after an I/O
/// error, when the client makes it again). Shared by a store's clones, as the
/// connection is.
#[derive(Clone, Debug)]
struct Deadlines {
    up: Duration,
    connecting: Duration,
    /// True once a call got an answer, until one fails with an I/O error.
    is_up: Arc<AtomicBool>,
}

impl Deadlines {
    /// Starts with the connection to make.
    fn new(up: Duration, connecting: Duration) -> Self {
        Deadlines {
            up,
            connecting,
            is_up: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The limit for the next call.
    fn limit(&self) -> Duration {
        if self.is_up.load(Ordering::Relaxed) {
            self.up
        } else {
            self.connecting
        }
    }

    /// Records that the connection is up (a call got an answer) or being made again
    /// (a call failed with an I/O error). Written only on a change, so calls on
    /// several threads do not contend for the flag.
    fn connection_up(&self, up: bool) {
        if self.is_up.load(Ordering::Relaxed) != up {
            self.is_up.store(up, Ordering::Relaxed);
        }
    }
}

/// Until when an answer to a command sent on the invalidation channel at `sent_ms`
/// lets the near-cache serve: the next heartbeat (after `every`) is answered within
/// `response` by then, or the cache stops serving.
fn proof_until(sent_ms: u64, every: Duration, response: Duration) -> u64 {
    let grace = u64::try_from((every + response).as_millis()).unwrap_or(u64::MAX);
    sent_ms.saturating_add(grace)
}

/// The store's connection, held weakly by the heartbeat so that it ends with the
/// store.
enum WeakBackend {
    Single(std::sync::Weak<Node>),
    Cluster(std::sync::Weak<Cluster>),
}

/// The near-cache's heartbeat: a `PING` every `every` on the connection that carries
/// the invalidations. An answer proves that every invalidation Redis sent before the
/// ping has arrived (replies and pushes share the connection, in order), so entries
/// may be served until the next answer is due; no answer within the response timeout
/// empties the cache and replaces the connection (half-open: silent, with no error
/// to notice), before a request meets it.
struct Heartbeat {
    backend: WeakBackend,
    near: std::sync::Weak<NearCache>,
    every: Duration,
    deadlines: Deadlines,
}

impl Heartbeat {
    async fn run(self) {
        let mut next_beat = tokio::time::Instant::now();
        loop {
            let Some(near) = self.near.upgrade() else {
                return;
            };
            if tokio::time::Instant::now() >= next_beat {
                let sent = now_ms();
                near.beat(sent);
                match self.ping().await {
                    Some(true) => near.proven(proof_until(sent, self.every, self.deadlines.up)),
                    Some(false) => {
                        tracing::warn!("the near-cache's invalidation channel did not answer its heartbeat; emptying the cache and replacing the connection");
                        near.flush();
                    }
                    // The store is gone.
                    None => return,
                }
                next_beat = tokio::time::Instant::now() + self.every;
            }
            let (checks, ticket) = near.checks_to_send();
            if !checks.is_empty() && self.check(&near, checks, ticket).await.is_none() {
                return;
            }
            // Until the next beat, or until this process's writes want checks.
            tokio::select! {
                () = tokio::time::sleep_until(next_beat) => {}
                () = near.checks_wanted() => {}
            }
        }
    }

    /// Checks, on the connection that carries the invalidations, that each session
    /// this process wrote is stored as written (its revision and length are the
    /// entry's mark): one pipeline for all. `None` when the store is gone.
    async fn check(
        &self,
        near: &NearCache,
        checks: Vec<Check>,
        ticket: u64,
    ) -> Option<()> {
        let mut pipe = redis::pipe();
        for (key, _) in &checks {
            pipe.cmd("GETRANGE")
                .arg(&key[..])
                .arg(0)
                .arg(format::HEAD - 1);
            pipe.cmd("STRLEN").arg(&key[..]);
        }
        let limit = self.deadlines.limit();
        let answered = match &self.backend {
            WeakBackend::Single(node) => {
                let node = node.upgrade()?;
                match node.conn() {
                    Ok(conn) => {
                        let mut manager = conn.manager.clone();
                        tokio::time::timeout(limit, pipe.query_async::<Vec<Value>>(&mut manager))
                            .await
                    }
                    Err(e) => Ok(Err(e)),
                }
            }
            WeakBackend::Cluster(cluster) => {
                let cluster = cluster.upgrade()?;
                let query = async {
                    let mut conn = cluster.conn().await?;
                    pipe.query_async::<Vec<Value>>(&mut conn).await
                };
                tokio::time::timeout(limit, query).await
            }
        };
        let replies = match answered {
            Ok(Ok(replies)) if replies.len() == 2 * checks.len() => replies,
            _ => Vec::new(),
        };
        for (i, (key, _)) in checks.iter().enumerate() {
            let found = match (replies.get(2 * i), replies.get(2 * i + 1)) {
                (Some(Value::BulkString(head)), Some(Value::Int(len))) => {
                    format::mark_of(head, *len)
                }
                _ => None,
            };
            near.checked(key, ticket, found);
        }
        Some(())
    }

    /// `Some(true)` when the connection answered a `PING` in time; `None` when the
    /// store is gone. A silent connection is replaced here.
    async fn ping(&self) -> Option<bool> {
        let limit = self.deadlines.limit();
        match &self.backend {
            WeakBackend::Single(node) => {
                let node = node.upgrade()?;
                let Ok(conn) = node.conn() else {
                    return Some(false);
                };
                let mut manager = conn.manager.clone();
                let ping = redis::cmd("PING");
                let answered =
                    tokio::time::timeout(limit, ping.query_async::<Value>(&mut manager)).await;
                match answered {
                    Ok(Ok(_)) => {
                        self.deadlines.connection_up(true);
                        Some(true)
                    }
                    Ok(Err(e)) if !e.is_timeout() => {
                        // The client makes the connection again after an I/O error
                        // (and empties the cache through its disconnection notice).
                        self.deadlines.connection_up(false);
                        Some(false)
                    }
                    _ => {
                        node.failed_over_maybe();
                        node.replace(conn.generation);
                        self.deadlines.connection_up(false);
                        Some(false)
                    }
                }
            }
            WeakBackend::Cluster(cluster) => {
                let cluster = cluster.upgrade()?;
                let every_master =
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let ping = async {
                    let mut conn = cluster.conn().await?;
                    conn.route_command(redis::cmd("PING"), every_master).await
                };
                let answered = tokio::time::timeout(limit, ping).await;
                let every_one = match answered {
                    Ok(Ok(Value::Map(answers))) => answers
                        .iter()
                        .all(|(_, answer)| !matches!(answer, Value::ServerError(_))),
                    Ok(Ok(_)) => true,
                    _ => false,
                };
                Some(every_one)
            }
        }
    }
}

/// What a plain load found under a session key.
enum Fetched {
    /// No key.
    Missing,
    /// The stored bytes (with the near-cache: and the key's remaining TTL, ms; its
    /// idle deadline is then not refreshed yet).
    Bytes(Vec<u8>, Option<u64>),
    /// A key of another type.
    WrongType,
}

/// Logs, at warn, that `key` holds something other than a session of this format;
/// the request starts a fresh session.
fn warn_not_a_session(key: RedisKey<'_>) {
    tracing::warn!(%key, "redis holds something that is not a session under this key; starting a fresh one");
}

/// A revision for the next save: a per-process random start plus a counter, so every
/// save writes a revision no other save wrote (it marks a change, it is no secret).
fn next_revision() -> u32 {
    static START: OnceLock<u32> = OnceLock::new();
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
    start.wrapping_add(COUNT.fetch_add(1, Ordering::Relaxed))
}

fn lifetime_arg(expiry: &Expiry) -> u64 {
    expiry.lifetime_ms().unwrap_or(0)
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<Record>, session_core::Error> {
        Ok(self
            .load_marked(token, expiry)
            .await?
            .map(|(record, _)| record))
    }

    async fn create(&self, record: &Record) -> Result<String, session_core::Error> {
        self.create_session(record, None, None).await
    }

    async fn save(
        &self,
        token: &str,
        record: &Record,
    ) -> Result<Option<String>, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let value = format::encode(record, next_revision());
        self.within_cap(value.len())?;
        // Replace the session only while it exists: a save never brings one back.
        let key = self.redis_key(&id);
        self.changing(key);
        let mut cmd = Cmd::with_capacity(6, key.len() + value.len() + 32);
        cmd.arg("SET")
            .arg(key)
            .arg(&value)
            .arg("XX")
            .arg("PXAT")
            .arg(record.expires_ms.max(1));
        let saved = self.query(&cmd).await;
        self.changing(key);
        Ok(match saved? {
            Value::Nil => None,
            _ => Some(token.to_owned()),
        })
    }

    async fn destroy(&self, token: &str) -> Result<(), session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(());
        };
        let key = self.redis_key(&id);
        self.changing(key);
        let destroyed = self.del(key).await;
        self.changing(key);
        destroyed
    }

    fn max_session_bytes(&self) -> usize {
        self.max_session_bytes
    }

    fn merging(&self) -> Option<&dyn MergeStore> {
        Some(self)
    }
}

#[async_trait]
impl MergeStore for RedisStore {
    async fn load_marked(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<(Record, u64)>, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let key = self.redis_key(&id);
        let now = now_ms();
        // One native command loads and refreshes the idle deadline; the absolute
        // lifetime is checked here, against the creation time in the value, with the
        // current policy.
        let idle = expiry.idle_ms();
        // A hot session comes from the near-cache while its idle deadline in Redis
        // is within 1% of the timeout of where a load would put it.
        let near = self.near.as_ref().map(|near| (near, key.to_bytes()));
        if let Some((near, bytes)) = &near {
            self.keep_heartbeat(near, now);
            self.check_tracking(near, now);
            if let Some((mut record, mark)) = near.get(bytes, now, (idle / 100).max(1)) {
                record.expires_ms = expiry.deadline(record.created_ms, now);
                if expiry.is_live(record.created_ms, record.expires_ms, now) {
                    return Ok(Some((record, mark)));
                }
            }
        }
        let ticket = match &self.near {
            Some(near) => self.tracked_ticket(near).await?,
            None => None,
        };
        let (bytes, ttl) = match self.get_and_touch(key, idle).await? {
            Fetched::Missing => return Ok(None),
            Fetched::Bytes(bytes, ttl) => (bytes, ttl),
            Fetched::WrongType => {
                warn_not_a_session(key);
                return Ok(None);
            }
        };
        let deadline = now.saturating_add(idle);
        match format::decode(&bytes, deadline) {
            Ok((mut record, loaded)) => {
                record.expires_ms = expiry.deadline(record.created_ms, now);
                if !expiry.is_live(record.created_ms, record.expires_ms, now) {
                    tracing::debug!(%key, "session passed its lifetime; removing it");
                    self.del(key).await?;
                    return Ok(None);
                }
                if let Some((near, bytes)) = &near {
                    // When its idle deadline was last set, by any app server.
                    let mut refreshed =
                        now.saturating_sub(idle.saturating_sub(ttl.unwrap_or(idle)));
                    if now - refreshed >= (idle / 100).max(1) {
                        self.refresh_tracked(key, idle).await?;
                        refreshed = now;
                    }
                    if let Some(ticket) = ticket {
                        near.fill(bytes, ticket, &record, loaded.mark(), refreshed);
                    }
                }
                Ok(Some((record, loaded.mark())))
            }
            Err(reason) => {
                tracing::warn!(%key, reason, "undecodable session in redis; starting a fresh one");
                Ok(None)
            }
        }
    }

    async fn merge(
        &self,
        token: &str,
        change: &Change<'_>,
        seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<bool, session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(false);
        };
        let key = self.redis_key(&id);
        let Some(near) = &self.near else {
            return self
                .merge_at(key, change, seen, expiry)
                .await
                .map(|(live, _)| live);
        };
        let bytes = key.to_bytes();
        let refreshed = near.take(&bytes);
        let ticket = near.ticket();
        near.writing(&bytes);
        let merged = self.merge_at(key, change, seen, expiry).await;
        // An append onto the session exactly as loaded leaves it as this request
        // does: kept, and served once Redis' announcement of this write has come
        // and a check finds it stored as written (see the near-cache's docs).
        match (&merged, seen, refreshed) {
            (Ok((true, Some(now))), Some(seen), Some(refreshed_ms)) => {
                near.written(&bytes, ticket, seen.record, now.mark(), refreshed_ms);
            }
            _ => near.invalidate(&bytes),
        }
        merged.map(|(live, _)| live)
    }

    async fn renew(
        &self,
        old: &str,
        change: &Change<'_>,
        record: &Record,
        _expiry: &Expiry,
    ) -> Result<String, session_core::Error> {
        let carried = (!change.flush).then(|| format::encode_change(change));
        let old_id = SessionId::parse(old);
        if let Some(id) = &old_id {
            self.changing(self.redis_key(id));
        }
        let renewed = self.create_session(record, Some(old), carried).await;
        if let Some(id) = &old_id {
            self.changing(self.redis_key(id));
        }
        renewed
    }
}

impl RedisStore {
    /// [`MergeStore::merge`] into the session under `key`; with what is stored now
    /// when the change was appended natively onto exactly the session as loaded.
    async fn merge_at(
        &self,
        key: RedisKey<'_>,
        change: &Change<'_>,
        seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<(bool, Option<format::Loaded>), session_core::Error> {
        let encoded = format::encode_change(change);
        let loaded = seen.map(|s| (format::Loaded::of(s.mark), s.record));
        if let Some((l, whole)) = loaded {
            let whole_len = format::encoded_len(whole);
            self.within_cap(whole_len)?;
            let fits = l.len as usize + encoded.len() <= self.max_session_bytes;
            // The common save: the request loaded the session, so it is live and its
            // deadline fresh; its change is appended, natively.
            if fits && !format::worth_compacting(l.len as usize, whole_len) {
                match self.append(key, &encoded).await? {
                    Appended::Len(len) => {
                        // Exactly this change's length more than loaded: nobody else wrote.
                        let unchanged = (len == l.len as usize + encoded.len())
                            .then(|| u32::try_from(len).ok())
                            .flatten()
                            .map(|len| format::Loaded { len, ..l });
                        return Ok((true, unchanged));
                    }
                    Appended::Gone => return Ok((false, None)),
                    // Others wrote meanwhile and the change no longer fits on top:
                    // the script below compacts first, or refuses.
                    Appended::Full => {}
                }
            }
        }
        let now = now_ms();
        // Otherwise one script: write the session whole (compacting the appended
        // changes) unless another save did since the load, else append the change.
        let whole = loaded.and_then(|(l, whole)| {
            let deadline = expiry.deadline(whole.created_ms, now);
            (deadline > now).then(|| {
                let value = format::encode(&snapshot_of(whole, change), next_revision());
                (l, value, deadline)
            })
        });
        // A change that only removes keys may leave the session empty: look.
        let removes_only =
            !change.edits.is_empty() && change.edits.iter().all(|(_, edit)| *edit == Edit::Remove);
        let update = Update {
            key,
            loaded: whole.as_ref().map(|(l, _, _)| *l),
            whole: whole.as_ref().map(|(_, v, _)| &v[..]),
            deadline: whole.as_ref().map_or(0, |(_, _, d)| *d),
            change: &encoded,
            flags: if removes_only { "v" } else { "" },
        };
        for _ in 0..3 {
            let outcome = match self.update(&update, expiry).await? {
                Updated::Saved => Saved::Kept,
                Updated::Gone => Saved::Gone,
                Updated::HeadMoved => continue,
                Updated::Appended(value) => self.compact(key, value, None, expiry).await?,
                Updated::Full(value) => {
                    match self.compact(key, value, Some(&encoded), expiry).await? {
                        Saved::Moved => continue,
                        other => other,
                    }
                }
            };
            // Emptied or gone: the caller sends a removal (or starts afresh).
            return Ok((!matches!(outcome, Saved::Gone), None));
        }
        Err(session_core::Error::Unavailable {
            store: "redis",
            source: "the session kept changing under three attempts to save it".into(),
        })
    }
}

/// What [`RedisStore::append`] did.
enum Appended {
    /// Appended; the stored length now.
    Len(usize),
    /// No session there (destroyed or expired since the load): nothing written.
    Gone,
    /// It would pass the cap: nothing written.
    Full,
}

/// One `update` call of the save script (see [`scripts::save`]).
struct Update<'a> {
    key: RedisKey<'a>,
    /// The stored revision and length to compact over, with `whole`.
    loaded: Option<format::Loaded>,
    whole: Option<&'a [u8]>,
    deadline: u64,
    change: &'a [u8],
    flags: &'static str,
}

/// What an `update` call did.
enum Updated {
    Saved,
    Gone,
    /// Strict only: the session was written whole by another request since.
    HeadMoved,
    /// The change was appended; here is the stored value, to look at.
    Appended(Vec<u8>),
    /// Appending would pass the cap; nothing was written; here is the stored value.
    Full(Vec<u8>),
}

/// How a save ended.
enum Saved {
    /// The session holds the request's change.
    Kept,
    /// The session is gone, or this save left it empty and removed it.
    Gone,
    /// A compaction found the session written whole by another request meanwhile.
    Moved,
}

/// The whole session to compact under this request's change: the record it leaves,
/// except that each counter it incremented holds the value it loaded, since the change
/// that follows the snapshot (and the changes of others in between) adds the amounts.
fn snapshot_of<'a>(record: &'a Record, change: &Change<'_>) -> std::borrow::Cow<'a, Record> {
    let mut adds = change.edits.iter().filter_map(|&(key, edit)| match edit {
        Edit::Add { by, .. } => Some((key, by)),
        _ => None,
    });
    let Some(first) = adds.next() else {
        return std::borrow::Cow::Borrowed(record);
    };
    let mut snapshot = record.clone();
    for (key, by) in std::iter::once(first).chain(adds) {
        let rolled_back = snapshot.get(key).map(|value| {
            value.json().parse::<i64>().ok().map(|seen| {
                let json = seen.saturating_sub(by).to_string();
                session_core::StoredValue::new(json, value.is_flash())
            })
        });
        match rolled_back {
            Some(Some(value)) => {
                snapshot.insert(key, value);
            }
            Some(None) => {
                snapshot.remove(key);
            }
            None => {}
        }
    }
    std::borrow::Cow::Owned(snapshot)
}

impl RedisStore {
    /// `TooLarge` when a session of `size` stored bytes passes the cap.
    fn within_cap(&self, size: usize) -> Result<(), session_core::Error> {
        if size > self.max_session_bytes {
            return Err(session_core::Error::TooLarge {
                size,
                limit: self.max_session_bytes,
            });
        }
        Ok(())
    }

    /// A new session (and, with `replaces`, the end of the old one).
    /// `carried` is the change to apply over what `replaces` holds (`regenerate`);
    /// without it, nothing of the replaced session comes along (`invalidate`).
    async fn create_session(
        &self,
        record: &Record,
        replaces: Option<&str>,
        carried: Option<Vec<u8>>,
    ) -> Result<String, session_core::Error> {
        let value = format::encode(record, next_revision());
        self.within_cap(value.len())?;
        let deadline = record.expires_ms.max(1);
        let replaced_id = replaces.and_then(SessionId::parse);
        let mut replaced = replaced_id.as_ref().map(|id| self.redis_key(id));
        let mut value = value;
        // Cluster: the old key lives in another slot, so it cannot be in the script.
        // It is taken and deleted at once (GETDEL): writes after that find no session
        // and start afresh; writes before it come along.
        if self.is_cluster() {
            if let Some(old) = replaced.take() {
                let mut cmd = Cmd::with_capacity(2, old.len() + 8);
                cmd.arg("GETDEL").arg(old);
                if let (Value::BulkString(mut raw), Some(change)) =
                    (self.query(&cmd).await?, &carried)
                {
                    if format::is_session(&raw)
                        && raw.len() + change.len() <= self.max_session_bytes
                    {
                        raw.extend_from_slice(change);
                        value = raw;
                    }
                }
            }
        }
        let carry = if replaced.is_some() {
            carried.as_deref().unwrap_or_default()
        } else {
            &[]
        };
        // A fresh id collides with a live session with probability 2^-256; the
        // script refuses to overwrite, and we draw again.
        for _ in 0..3 {
            let id = SessionId::generate()?;
            let (keys, n) = save_keys(self.redis_key(&id), replaced);
            let mut cmd = evalsha(&self.save, &keys[..n], 5, value.len() + carry.len() + 40);
            cmd.arg("new")
                .arg(&value)
                .arg(deadline)
                .arg(carry)
                .arg(self.max_session_bytes);
            if self.run_script(&self.save, &cmd).await? == Value::Int(1) {
                return Ok(id.to_string());
            }
        }
        Err(session_core::Error::Unavailable {
            store: "redis",
            source: "three fresh session ids were all taken".into(),
        })
    }

    /// One `update` call of the save script.
    async fn update(
        &self,
        u: &Update<'_>,
        expiry: &Expiry,
    ) -> Result<Updated, session_core::Error> {
        let bytes = u.whole.map_or(0, <[u8]>::len) + u.change.len();
        let mut cmd = evalsha(&self.save, &[u.key], 11, bytes);
        cmd.arg("update");
        match (u.loaded, u.whole) {
            (Some(loaded), Some(whole)) => cmd
                .arg(&format::head(loaded.revision)[..])
                .arg(loaded.len)
                .arg(whole)
                .arg(u.deadline),
            _ => cmd.arg("").arg(0).arg("").arg(0),
        };
        cmd.arg(now_ms())
            .arg(expiry.idle_ms())
            .arg(lifetime_arg(expiry))
            .arg(u.change)
            .arg(self.max_session_bytes)
            .arg(u.flags);
        match self.run_script(&self.save, &cmd).await? {
            Value::Int(1) => Ok(Updated::Saved),
            Value::Int(4) => Ok(Updated::HeadMoved),
            Value::Int(n) if n < 0 => Err(session_core::Error::TooLarge {
                size: usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
                limit: self.max_session_bytes,
            }),
            Value::Array(mut reply) if reply.len() == 2 => {
                let value = match reply.pop() {
                    Some(Value::BulkString(value)) => value,
                    _ => Vec::new(),
                };
                match reply.first() {
                    Some(Value::Int(3)) => Ok(Updated::Full(value)),
                    _ => Ok(Updated::Appended(value)),
                }
            }
            _ => Ok(Updated::Gone),
        }
    }

    /// Writes the session stored as `raw` whole again, compacted, keeping what other
    /// requests append meanwhile; with `pending`, a change that was not appended yet
    /// (it did not fit) is applied first. A session left empty is removed.
    async fn compact(
        &self,
        key: RedisKey<'_>,
        raw: Vec<u8>,
        pending: Option<&[u8]>,
        expiry: &Expiry,
    ) -> Result<Saved, session_core::Error> {
        let loaded_len = raw.len();
        let mut bytes = raw;
        if let Some(change) = pending {
            bytes.extend_from_slice(change);
        }
        let Ok((record, decoded)) = format::decode(&bytes, 0) else {
            warn_not_a_session(key);
            return Ok(Saved::Gone);
        };
        // What was read (without the pending change), to write over only if unchanged.
        let loaded = format::Loaded {
            revision: decoded.revision,
            len: u32::try_from(loaded_len).unwrap_or(u32::MAX),
        };
        if record.is_empty() {
            // Remove it, unless another request wrote meanwhile.
            let mut cmd = evalsha(&self.drop, &[key], 2, 16);
            cmd.arg(&format::head(loaded.revision)[..]).arg(loaded_len);
            return match self.run_script(&self.drop, &cmd).await? {
                Value::Int(1) => Ok(Saved::Gone),
                _ if pending.is_some() => Ok(Saved::Moved),
                _ => Ok(Saved::Kept),
            };
        }
        // A value handed back only to see whether it was left empty needs no
        // compaction while it is small (growth hands it back from that size on).
        if pending.is_none() && loaded_len < scripts::COMPACT_FROM {
            return Ok(Saved::Kept);
        }
        let whole = format::encode(&record, next_revision());
        if pending.is_some() {
            self.within_cap(whole.len())?;
        } else if whole.len() > self.max_session_bytes {
            return Ok(Saved::Kept);
        }
        let now = now_ms();
        let update = Update {
            key,
            loaded: Some(loaded),
            whole: Some(&whole),
            deadline: expiry.deadline(record.created_ms, now),
            change: &[],
            flags: "s",
        };
        match self.update(&update, expiry).await {
            Ok(Updated::Saved) => Ok(Saved::Kept),
            Ok(Updated::Gone) => Ok(Saved::Gone),
            // Another request compacted first: what was appended is in it.
            Ok(_) if pending.is_none() => Ok(Saved::Kept),
            Ok(_) => Ok(Saved::Moved),
            // The change was appended and answered already; compaction can wait.
            Err(session_core::Error::TooLarge { .. }) if pending.is_none() => Ok(Saved::Kept),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_into_a_command_is_the_key_shown_in_logs() -> Result<(), session_core::Error> {
        let id = SessionId::generate()?;
        let key = RedisKey::new("app", &id);
        assert!(key.to_string().ends_with(&id.storage_key()));
        let text = key.to_string();
        assert_eq!(text.len(), key.len());
        assert!(text.starts_with("app:"));
        assert_eq!(key.to_redis_args(), [text.into_bytes()]);
        let mut cmd = Cmd::new();
        cmd.arg("GET").arg(key);
        let packed = String::from_utf8_lossy(&cmd.get_packed_command()).into_owned();
        assert_eq!(packed, format!("*2\r\n$3\r\nGET\r\n$68\r\n{key}\r\n"));
        Ok(())
    }

    #[test]
    fn a_call_on_a_connection_that_is_up_gets_the_response_timeout_else_connect_too() {
        let short = Duration::from_millis(500);
        let long = Duration::from_millis(1500);
        let deadlines = Deadlines::new(short, long);
        assert_eq!(
            deadlines.limit(),
            long,
            "the first call makes the connection"
        );
        deadlines.connection_up(true);
        assert_eq!(deadlines.limit(), short);
        let clone = deadlines.clone();
        clone.connection_up(false);
        assert_eq!(
            deadlines.limit(),
            long,
            "clones share the connection's state"
        );
        deadlines.connection_up(true);
        assert_eq!(clone.limit(), short);
    }
}
