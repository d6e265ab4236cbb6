//! The connection: one node's (replaced when it goes silent, following Sentinel's
//! master) or the cluster client's, and the time limit and error mapping of every call.

use super::*;

/// The connection: one node's (replaceable, see [`Node`]) or the async cluster
/// client's (see [`Cluster`]). Both multiplex one connection per node.
#[derive(Clone)]
pub(super) enum Backend {
    Single(Arc<Node>),
    Cluster(Arc<Cluster>),
}

/// A cluster's connection, made on first use by the runtime that serves requests:
/// the cluster client's task, which routes every call and hands invalidations to the
/// near-cache, runs on the runtime that makes it, and a store connected on one
/// runtime (a startup check) may serve on another.
///
/// The cluster client reconnects a node by itself after an I/O error, but keeps a
/// connection that stops answering without one (half-open). A call that times out
/// drops the whole client connection ([`Cluster::replace`]); the next call makes
/// a new one, with a new connection to every node.
pub(super) struct Cluster {
    pub(super) client: ClusterClient,
    /// The connection in use and its generation (one more each time one is made).
    pub(super) current: RwLock<Option<(u64, ClusterConnection)>>,
    /// Held while a connection is being made, so that one caller makes it.
    pub(super) making: tokio::sync::Mutex<u64>,
}

impl Cluster {
    /// A cluster not connected yet.
    pub(super) fn new(client: ClusterClient) -> Cluster {
        Cluster {
            client,
            current: RwLock::new(None),
            making: tokio::sync::Mutex::new(0),
        }
    }

    /// The connection, made now when there is none (first use, or after
    /// [`replace`](Self::replace)); a failed attempt is made again by the next call.
    pub(super) async fn conn(&self) -> redis::RedisResult<ClusterConnection> {
        self.current().await.map(|(_, conn)| conn)
    }

    /// The connection and its generation.
    pub(super) async fn current(&self) -> redis::RedisResult<(u64, ClusterConnection)> {
        if let Some(current) = self.held() {
            return Ok(current);
        }
        let mut made = self.making.lock().await;
        if let Some(current) = self.held() {
            return Ok(current);
        }
        let conn = self.client.get_async_connection().await?;
        *made += 1;
        let current = (*made, conn);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(current.clone());
        Ok(current)
    }

    fn held(&self) -> Option<(u64, ClusterConnection)> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Drops the connection of `generation` (one that timed out: some node's
    /// connection may be half-open), unless another already replaced it; the next
    /// call makes a new one.
    pub(super) fn replace(&self, generation: u64) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current
            .as_ref()
            .is_some_and(|(held, _)| *held == generation)
        {
            tracing::warn!("a redis cluster call timed out; making new connections to every node");
            *current = None;
        }
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
pub(super) struct Node {
    /// The server's client; with Sentinel, replaced when the master moves.
    pub(super) client: RwLock<redis::Client>,
    pub(super) config: ConnectionManagerConfig,
    pub(super) current: RwLock<Option<Conn>>,
    /// Emptied when the connection is replaced: its invalidations may be lost.
    pub(super) near: Option<Arc<NearCache>>,
    /// With Sentinel: the sentinels that name the master.
    pub(super) master: Option<Master>,
}

/// A connection and its generation (which replacement made it).
#[derive(Clone)]
pub(super) struct Conn {
    pub(super) generation: u64,
    pub(super) manager: ConnectionManager,
}

impl Node {
    pub(super) fn new(
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

    pub(super) fn client(&self) -> redis::Client {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// With Sentinel, asks for the master when it may have moved, and moves the
    /// connection to it when it has.
    pub(super) async fn follow_master(&self, limit: Duration, watch: bool) -> Result<(), Error> {
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
    pub(super) fn failed_over_maybe(&self) {
        if let Some(master) = &self.master {
            master.mark_stale();
        }
    }

    pub(super) fn conn(&self) -> redis::RedisResult<Conn> {
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
    pub(super) fn replace(&self, generation: u64) {
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
pub(super) enum Connection {
    Single(Conn),
    Cluster(ClusterConnection),
}

/// How long a call may wait: the response timeout while the connection is up, the
/// connect + response timeouts while it is being made (at first, and after an I/O
/// error, when the client makes it again). Shared by a store's clones, as the
/// connection is.
#[derive(Clone, Debug)]
pub(super) struct Deadlines {
    pub(super) up: Duration,
    pub(super) connecting: Duration,
    /// True once a call got an answer, until one fails with an I/O error.
    pub(super) is_up: Arc<AtomicBool>,
}

impl Deadlines {
    /// Starts with the connection to make.
    pub(super) fn new(up: Duration, connecting: Duration) -> Self {
        Deadlines {
            up,
            connecting,
            is_up: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The limit for the next call.
    pub(super) fn limit(&self) -> Duration {
        if self.is_up.load(Ordering::Relaxed) {
            self.up
        } else {
            self.connecting
        }
    }

    /// Records that the connection is up (a call got an answer) or being made again
    /// (a call failed with an I/O error). Written only on a change, so calls on
    /// several threads do not contend for the flag.
    pub(super) fn connection_up(&self, up: bool) {
        if self.is_up.load(Ordering::Relaxed) != up {
            self.is_up.store(up, Ordering::Relaxed);
        }
    }
}

impl Connection {
    pub(super) async fn send(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        match self {
            Connection::Single(c) => cmd.query_async(&mut c.manager).await,
            Connection::Cluster(c) => cmd.query_async(c).await,
        }
    }

    pub(super) async fn send_pipe(&mut self, pipe: &redis::Pipeline) -> redis::RedisResult<Value> {
        match self {
            Connection::Single(c) => pipe.query_async(&mut c.manager).await,
            Connection::Cluster(c) => pipe.query_async(c).await,
        }
    }

    pub(super) async fn load(&mut self, script: &Script) -> redis::RedisResult<String> {
        match self {
            Connection::Single(c) => script.load_async(&mut c.manager).await,
            Connection::Cluster(c) => script.load_async(c).await,
        }
    }
}

impl RedisStore {
    /// Runs `f` on the connection, within the time limit, mapping failures to the
    /// session error the HTTP layer answers with 503. A call that times out on one
    /// node has its connection replaced (it may be half-open), so the next call
    /// gets a new one.
    pub(super) async fn call<T, F, Fut>(&self, f: F) -> Result<T, session_core::Error>
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
                let made = std::sync::Mutex::new(None);
                let call = async {
                    let (generation, conn) = cluster.current().await?;
                    *made.lock().unwrap_or_else(|e| e.into_inner()) = Some(generation);
                    f(Connection::Cluster(conn)).await
                };
                let result = tokio::time::timeout(limit, call).await;
                let generation = made.into_inner().unwrap_or_else(|e| e.into_inner());
                (generation, result)
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
                match (&self.backend, generation) {
                    (Backend::Single(node), Some(generation)) => {
                        node.failed_over_maybe();
                        node.replace(generation);
                        self.deadlines.connection_up(false);
                    }
                    (Backend::Cluster(cluster), Some(generation)) => {
                        cluster.replace(generation);
                        self.deadlines.connection_up(false);
                    }
                    _ => {}
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
    pub(super) async fn query(&self, cmd: &Cmd) -> Result<Value, session_core::Error> {
        self.call(|mut backend| async move { backend.send(cmd).await })
            .await
    }

    /// Sends `cmd`, an `EVALSHA` of `script` (see [`evalsha`]), loading the script
    /// first when Redis does not know it (after a restart or a `SCRIPT FLUSH`).
    pub(super) async fn run_script(
        &self,
        script: &Script,
        cmd: &Cmd,
    ) -> Result<Value, session_core::Error> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
