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
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, ProtocolVersion,
    RedisConnectionInfo, RedisWrite, Script, ServerErrorKind, ToRedisArgs, Value,
};
use session_core::{
    now_ms, Change, Edit, Expiry, MergeStore, Record, Seen, SessionId, SessionStore,
};

use crate::format;
use crate::near_cache::{Check, Invalidations, NearCache, NearCacheStats};
use crate::scripts;
use crate::{Error, RedisSettings};

mod connection;
mod key;
mod registry;
mod save;
mod tracking;
mod users;

pub use registry::RedisRegistry;

use connection::{Backend, Cluster, Conn, Connection, Deadlines, Node};
use key::RedisKey;
use save::next_revision;

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
        Self::lazy(settings, None)
    }

    /// A store on the server a client the application already made connects to (its
    /// address, credentials, database and TLS), with the other `[redis]` settings
    /// (namespace, timeouts, size cap, near-cache). Connected on first use, as
    /// [`connect_lazy`](Self::connect_lazy); one node only (a cluster or Sentinel is
    /// named in the settings).
    ///
    /// ```no_run
    /// use session_redis::{RedisSettings, RedisStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/2")?;
    /// let mut settings = RedisSettings::default();
    /// settings.namespace = "myapp".into();
    /// let store = RedisStore::from_client(&client, &settings)?;
    /// # Ok(()) }
    /// ```
    pub fn from_client(client: &redis::Client, settings: &RedisSettings) -> Result<Self, Error> {
        if !settings.cluster.is_empty() || settings.sentinel.is_some() {
            return Err(Error::Config {
                field: "redis".into(),
                reason: "a store made from a client talks to that client's one server; leave `cluster` and `sentinel` unset".into(),
            });
        }
        Self::lazy(settings, Some(client.get_connection_info().clone()))
    }

    /// [`connect_lazy`](Self::connect_lazy), on the server `given` names when given.
    fn lazy(settings: &RedisSettings, given: Option<ConnectionInfo>) -> Result<Self, Error> {
        let connect_timeout = Duration::from_millis(settings.connect_timeout_ms.max(1));
        let response_timeout = Duration::from_millis(settings.response_timeout_ms.max(1));
        if let Err(session_core::Error::Config { field, reason }) = settings.validate() {
            return Err(Error::Config { field, reason });
        }
        let password = settings.password.as_deref().filter(|p| !p.is_empty());
        let (backend, target, near) = if settings.cluster.is_empty() {
            let info = match (given, &settings.url) {
                (Some(info), _) => info,
                (None, Some(url)) => {
                    url.as_str()
                        .into_connection_info()
                        .map_err(|e| Error::Config {
                            field: "redis.url".into(),
                            reason: e.to_string(),
                        })?
                }
                (None, None) => {
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
            let cluster = Cluster::new(client);
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

    /// The stored bytes under `key` and the TTL they had, refreshing the idle
    /// deadline to `idle_ms` unless the near-cache is on.
    async fn get_and_touch(
        &self,
        key: RedisKey<'_>,
        idle_ms: u64,
    ) -> Result<(Fetched, Tracked), session_core::Error> {
        let touch = self.near.is_none().then_some(idle_ms);
        self.fetch(key, touch).await
    }

    /// In one round trip: the key's `PTTL` (where its idle deadline stood) and its
    /// value, by `GETEX` refreshing the deadline to `touch_ms` or, with `None` (for
    /// the near-cache), by a `GET`, which does not change the key (a change would
    /// invalidate every other app server's copy; the caller refreshes the deadline
    /// with [`refresh_tracked`](Self::refresh_tracked) only when it is due).
    ///
    /// For the near-cache on a cluster, the same pipeline first turns tracking on
    /// for the connection it goes over (the cluster client may have made that
    /// connection by itself, after a failover or a lost connection): what the read
    /// returns may be cached only when tracking was on before it ([`Tracked`]).
    async fn fetch(
        &self,
        key: RedisKey<'_>,
        touch_ms: Option<u64>,
    ) -> Result<(Fetched, Tracked), session_core::Error> {
        let track = touch_ms.is_none() && self.is_cluster();
        let mut pipe = redis::pipe();
        if track {
            pipe.ignore_errors().add_command(self.tracking_cmd());
        }
        pipe.cmd("PTTL").arg(key);
        match touch_ms {
            Some(idle_ms) => pipe.cmd("GETEX").arg(key).arg("PX").arg(idle_ms),
            None => pipe.cmd("GET").arg(key),
        };
        // The key's node, for the keyless `CLIENT TRACKING` too.
        let route = track.then(|| {
            SingleNodeRoutingInfo::SpecificNode(Route::new(
                key::slot(&key.to_bytes()),
                SlotAddr::Master,
            ))
        });
        self.call(|mut backend| async move {
            let sent = match (&mut backend, route) {
                (Connection::Cluster(c), Some(route)) => {
                    c.route_pipeline(pipe, 0, 3, route).await.map(Value::Array)
                }
                _ => backend.send_pipe(&pipe).await,
            };
            match sent {
                Ok(Value::Array(replies)) => {
                    let mut replies = replies.into_iter();
                    let tracked = match track {
                        false => Tracked::Always,
                        true => Tracked::of(replies.next()),
                    };
                    let fetched = match (replies.next(), replies.next()) {
                        (_, Some(Value::Nil)) => Fetched::Missing,
                        (Some(Value::Int(ttl)), Some(Value::BulkString(bytes))) => {
                            Fetched::Bytes(bytes, u64::try_from(ttl).unwrap_or(0))
                        }
                        _ => Fetched::WrongType,
                    };
                    Ok((fetched, tracked))
                }
                Ok(_) => Ok((Fetched::WrongType, Tracked::Unknown)),
                // A pipeline reports the `GET`'s error as a failure of the whole.
                Err(e) if e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE") => {
                    Ok((Fetched::WrongType, Tracked::Unknown))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }
}

/// Whether Redis tracked the connection a read went over before the read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tracked {
    /// One node: the store's one connection, whose tracking the near-cache follows.
    Always,
    /// A cluster connection on which tracking was on already.
    Before,
    /// A cluster connection on which tracking was off until this read's pipeline
    /// turned it on: one the cluster client made by itself, so invalidations may
    /// have been lost.
    TurnedOn,
    /// Not known (an error): the read is not cached.
    Unknown,
}

impl Tracked {
    /// What the reply to `CLIENT TRACKING ON` says: refused as an overlap when it
    /// was on already.
    fn of(reply: Option<Value>) -> Tracked {
        match reply {
            Some(Value::ServerError(e)) if e.to_string().contains("overlaps") => Tracked::Before,
            Some(Value::Okay) | Some(Value::SimpleString(_)) => Tracked::TurnedOn,
            _ => Tracked::Unknown,
        }
    }
}

/// What a plain load found under a session key.
enum Fetched {
    /// No key.
    Missing,
    /// The stored bytes and the key's remaining TTL (ms) before this load (with the
    /// near-cache, the idle deadline is not refreshed yet; without it, it now is).
    Bytes(Vec<u8>, u64),
    /// A key of another type.
    WrongType,
}

/// Logs, at warn, that `key` holds something other than a session of this format;
/// the request starts a fresh session.
fn warn_not_a_session(key: RedisKey<'_>) {
    tracing::warn!(%key, "redis holds something that is not a session under this key; starting a fresh one");
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

    fn users(&self) -> Result<&dyn session_core::UserIndex, session_core::Error> {
        Ok(self)
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
        let (fetched, tracked) = self.get_and_touch(key, idle).await?;
        let (bytes, ttl) = match fetched {
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
                // Without the near-cache the load moved the idle deadline.
                let mut moved = near.is_none();
                if let Some((near, bytes)) = &near {
                    // When its idle deadline was last set, by any app server.
                    let mut refreshed = now.saturating_sub(idle.saturating_sub(ttl));
                    if now - refreshed >= (idle / 100).max(1) {
                        self.refresh_tracked(key, idle).await?;
                        moved = true;
                        refreshed = now;
                    }
                    match (ticket, tracked) {
                        (Some(ticket), Tracked::Always | Tracked::Before) => {
                            near.fill(bytes, ticket, &record, loaded.mark(), refreshed);
                        }
                        (_, Tracked::TurnedOn) => {
                            tracing::info!(target = %self.target, "a cluster connection was not tracked yet; emptying the near-cache");
                            near.flush();
                        }
                        _ => {}
                    }
                }
                if moved {
                    // From where the deadline stood before this load (after the
                    // fill: what the near-cache serves later moved nothing).
                    record.set_moved_from(now.saturating_add(ttl));
                }
                Ok(Some((record, loaded.mark())))
            }
            Err(reason) => {
                tracing::warn!(%key, %reason, "undecodable session in redis; starting a fresh one");
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
        let (refreshed, ticket) = near.writing(&bytes);
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
