//! Client tracking for the near-cache: turning it on, the tracked read, and the
//! heartbeat that proves the invalidation channel alive (on a cluster: that every
//! master's connection is alive and tracked).

use super::*;

impl RedisStore {
    /// A ticket for a near-cache fill ([`NearCache::ticket`]), once Redis tracks the
    /// connections this read may use: `None` when what it reads must not be cached.
    ///
    /// On a new connection (after a flush) tracking is turned on first. On a
    /// cluster, tracking is turned on on every master; while a master does not
    /// answer, reads are served from Redis uncached (the other masters' sessions
    /// stay readable).
    pub(super) async fn tracked_ticket(
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

    /// Until when an answer to a command sent at `sent_ms` on the invalidation
    /// channel lets the near-cache serve: the next heartbeat's answer is due by then.
    pub(super) fn proof_until(&self, sent_ms: u64) -> u64 {
        proof_until(sent_ms, self.heartbeat, self.deadlines.up)
    }

    /// Starts the near-cache's heartbeat when none runs: at the first read, and
    /// again if the runtime that ran it ended (a store used on one runtime, then on
    /// another). It runs on the runtime that serves requests, and ends with the store.
    pub(super) fn keep_heartbeat(&self, near: &Arc<NearCache>, now: u64) {
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
                tracking: self.tracking_cmd(),
            };
            runtime.spawn(heartbeat.run());
        }
    }

    /// `CLIENT TRACKING ON BCAST PREFIX {namespace}: NOLOOP`: from now on Redis tells
    /// this connection (on a cluster: each master's) whenever another one changes a
    /// session. True when it was off somewhere (a new connection). Turning it on
    /// where it is on already is refused as an overlap, which means it is on.
    pub(super) async fn track(&self) -> Result<bool, session_core::Error> {
        let cmd = self.tracking_cmd();
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

    /// `CLIENT TRACKING ON BCAST PREFIX {namespace}: NOLOOP`.
    pub(super) fn tracking_cmd(&self) -> Cmd {
        let mut cmd = Cmd::with_capacity(7, self.tracked_prefix.len() + 48);
        cmd.arg("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(&self.tracked_prefix)
            .arg("NOLOOP");
        cmd
    }

    /// Refreshes the idle deadline of a key the near-cache holds (`PEXPIRE`).
    pub(super) async fn refresh_tracked(
        &self,
        key: RedisKey<'_>,
        idle_ms: u64,
    ) -> Result<(), session_core::Error> {
        let mut cmd = Cmd::with_capacity(3, key.len() + 24);
        cmd.arg("PEXPIRE").arg(key).arg(idle_ms);
        self.query(&cmd).await.map(drop)
    }
}

/// How long the checks of this process's own writes gather before one pipeline
/// sends them all: what a write of another server that shared this process's
/// announcement may be served for, besides the check's round trip.
const CHECK_BATCH: Duration = Duration::from_millis(5);

/// Until when an answer to a command sent on the invalidation channel at `sent_ms`
/// lets the near-cache serve: the next heartbeat (after `every`) is answered within
/// `response` by then, or the cache stops serving.
pub(super) fn proof_until(sent_ms: u64, every: Duration, response: Duration) -> u64 {
    let grace = u64::try_from((every + response).as_millis()).unwrap_or(u64::MAX);
    sent_ms.saturating_add(grace)
}

/// The store's connection, held weakly by the heartbeat so that it ends with the
/// store.
pub(super) enum WeakBackend {
    Single(std::sync::Weak<Node>),
    Cluster(std::sync::Weak<Cluster>),
}

/// The near-cache's heartbeat: a `PING` every `every` on the connection that carries
/// the invalidations. An answer proves that every invalidation Redis sent before the
/// ping has arrived (replies and pushes share the connection, in order), so entries
/// may be served until the next answer is due; no answer within the response timeout
/// empties the cache and replaces the connection (half-open: silent, with no error
/// to notice), before a request meets it.
///
/// On a cluster the heartbeat is `CLIENT TRACKING ON` on every master's connection:
/// each answer is the proof a `PING` gives, and also says whether tracking was on
/// there. A connection the cluster client made by itself (after a failover, a lost
/// connection) answers that it was not: what its node announced before may have
/// been lost, so the cache is emptied, within one heartbeat of the new connection.
pub(super) struct Heartbeat {
    pub(super) backend: WeakBackend,
    pub(super) near: std::sync::Weak<NearCache>,
    pub(super) every: Duration,
    pub(super) deadlines: Deadlines,
    /// `CLIENT TRACKING ON ...`: on a cluster, the heartbeat of every master.
    pub(super) tracking: Cmd,
}

impl Heartbeat {
    pub(super) async fn run(self) {
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
            // Until the next beat, or until this process's writes want checks; those
            // wait a moment more, so that one pipeline checks the writes of many
            // requests.
            tokio::select! {
                () = tokio::time::sleep_until(next_beat) => {}
                () = near.checks_wanted() => tokio::time::sleep(CHECK_BATCH).await,
            }
        }
    }

    /// The connection the invalidations arrive on, as calls use it, made within
    /// `limit` on a cluster's first use: `Some(None)` when there is none in time;
    /// `None` when the store is gone.
    async fn connection(&self, limit: Duration) -> Option<Option<Connection>> {
        Some(match &self.backend {
            WeakBackend::Single(node) => node.upgrade()?.conn().ok().map(Connection::Single),
            WeakBackend::Cluster(cluster) => {
                let cluster = cluster.upgrade()?;
                match tokio::time::timeout(limit, cluster.conn()).await {
                    Ok(Ok(conn)) => Some(Connection::Cluster(conn)),
                    _ => None,
                }
            }
        })
    }

    /// Checks, on the connection that carries the invalidations, that each session
    /// this process wrote is stored as written (its revision and length are the
    /// entry's mark): one pipeline for all. `None` when the store is gone.
    pub(super) async fn check(
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
        let answered = match self.connection(limit).await? {
            Some(mut conn) => tokio::time::timeout(limit, conn.send_pipe(&pipe))
                .await
                .ok(),
            None => None,
        };
        let replies = match answered {
            Some(Ok(Value::Array(replies))) if replies.len() == 2 * checks.len() => replies,
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

    /// `Some(true)` when the connection (on a cluster: every master's) answered a
    /// `PING` in time; `None` when the store is gone. A silent connection of one node
    /// is replaced here.
    pub(super) async fn ping(&self) -> Option<bool> {
        let limit = self.deadlines.limit();
        let Some(conn) = self.connection(limit).await? else {
            return Some(false);
        };
        match conn {
            Connection::Single(conn) => {
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
                        if let WeakBackend::Single(node) = &self.backend {
                            let node = node.upgrade()?;
                            node.failed_over_maybe();
                            node.replace(conn.generation);
                        }
                        self.deadlines.connection_up(false);
                        Some(false)
                    }
                }
            }
            Connection::Cluster(_) => {
                let WeakBackend::Cluster(cluster) = &self.backend else {
                    return Some(false);
                };
                let cluster = cluster.upgrade()?;
                let Ok(Ok((generation, mut conn))) =
                    tokio::time::timeout(limit, cluster.current()).await
                else {
                    return Some(false);
                };
                let every_master =
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let beat = conn.route_command(self.tracking.clone(), every_master);
                let answers = match tokio::time::timeout(limit, beat).await {
                    Ok(Ok(Value::Map(answers))) => answers,
                    Ok(Err(e)) if !e.is_timeout() => return Some(false),
                    Ok(Ok(_)) => return Some(false),
                    // A master's connection is silent (half-open): new connections
                    // to every node, before a request meets the silent one.
                    _ => {
                        cluster.replace(generation);
                        self.deadlines.connection_up(false);
                        return Some(false);
                    }
                };
                let mut untracked = false;
                for (_, answer) in answers {
                    match answer {
                        Value::ServerError(e) if e.to_string().contains("overlaps") => {}
                        Value::ServerError(_) => return Some(false),
                        _ => untracked = true,
                    }
                }
                if untracked {
                    tracing::info!(
                        "a cluster connection was not tracked yet; emptying the near-cache"
                    );
                    self.near.upgrade()?.flush();
                }
                Some(true)
            }
        }
    }
}
