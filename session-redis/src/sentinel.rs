//! Redis Sentinel: which server is the master, asked of the sentinels when the store
//! starts, when a sentinel announces a new master (`+switch-master`), and after a
//! call fails in a way a failover explains (a lost connection, a timeout, a
//! `READONLY` answer from a master that was demoted).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use tokio::sync::{watch, Mutex};

use crate::settings::SentinelSettings;
use crate::Error;

/// The channel on which sentinels announce a failover.
const SWITCH_MASTER: &str = "+switch-master";

/// The sentinels of one master, and whether the master is to be asked again.
pub(crate) struct Master {
    name: String,
    client: Mutex<SentinelClient>,
    /// The sentinels, for the announcement watcher.
    sentinels: Vec<redis::ConnectionInfo>,
    /// The master is to be asked of the sentinels before the next call (shared with
    /// the announcement watcher).
    stale: Arc<AtomicBool>,
    watching: AtomicBool,
    /// Dropped with the store, which ends the watcher.
    stop: watch::Sender<()>,
    pub(crate) target: String,
}

impl Master {
    /// The sentinels of `settings`; `node` is how to talk to the master they name.
    pub(crate) fn new(
        settings: &SentinelSettings,
        node: RedisConnectionInfo,
    ) -> Result<Self, Error> {
        let target = format!(
            "sentinel {} at {}",
            settings.master,
            settings.nodes.join(",")
        );
        let mut sentinels = Vec::with_capacity(settings.nodes.len());
        for (i, node) in settings.nodes.iter().enumerate() {
            let url = if node.contains("://") {
                node.clone()
            } else {
                format!("redis://{node}")
            };
            let mut info = url
                .as_str()
                .into_connection_info()
                .map_err(|e| Error::Config {
                    field: format!("redis.sentinel.nodes[{i}]"),
                    reason: e.to_string(),
                })?;
            if let Some(password) = settings.password.as_deref().filter(|p| !p.is_empty()) {
                let redis = info.redis_settings().clone().set_password(password);
                info = info.set_redis_settings(redis);
            }
            sentinels.push(info);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(node);
        let client = SentinelClient::build(
            sentinels.clone(),
            settings.master.clone(),
            Some(node),
            SentinelServerType::Master,
        )
        .map_err(|e| Error::Config {
            field: "redis.sentinel".into(),
            reason: e.to_string(),
        })?;
        Ok(Master {
            name: settings.master.clone(),
            client: Mutex::new(client),
            sentinels,
            stale: Arc::new(AtomicBool::new(true)),
            watching: AtomicBool::new(false),
            stop: watch::channel(()).0,
            target,
        })
    }

    /// The master is to be asked again before the next call.
    pub(crate) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// True when [`resolve`](Self::resolve) has work to do: the master is to be
    /// asked again, or (with `watch`) the watcher is to be started.
    pub(crate) fn may_have_moved(&self, watch: bool) -> bool {
        self.stale.load(Ordering::Acquire) || (watch && !self.watching.load(Ordering::Acquire))
    }

    /// The master's client, when it is to be asked again (else `None`), within
    /// `limit`. With `watch`, starts the announcement watcher on this runtime (the
    /// one that serves requests; a startup check passes `false`).
    pub(crate) async fn resolve(
        &self,
        limit: Duration,
        watch: bool,
    ) -> Result<Option<redis::Client>, Error> {
        if watch && !self.watching.swap(true, Ordering::AcqRel) {
            tokio::spawn(watch_announcements(
                self.name.clone(),
                self.sentinels.clone(),
                self.stop.subscribe(),
                self.stale.clone(),
            ));
        }
        if !self.stale.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mut client = self.client.lock().await;
        if !self.stale.swap(false, Ordering::AcqRel) {
            return Ok(None); // another call asked while this one waited
        }
        match tokio::time::timeout(limit, client.async_get_client()).await {
            Ok(Ok(master)) => Ok(Some(master)),
            Ok(Err(source)) => {
                self.mark_stale();
                Err(Error::Redis {
                    target: self.target.clone(),
                    source,
                })
            }
            Err(_) => {
                self.mark_stale();
                Err(Error::Timeout {
                    target: self.target.clone(),
                    after: limit,
                })
            }
        }
    }
}

/// Marks `stale` whenever a sentinel announces a new master for `name`, and each
/// time it (re)subscribes, since an announcement may have been missed meanwhile.
/// Ends when the store is dropped (`stop` closes).
async fn watch_announcements(
    name: String,
    sentinels: Vec<redis::ConnectionInfo>,
    mut stop: watch::Receiver<()>,
    stale: Arc<AtomicBool>,
) {
    let mut next = 0;
    loop {
        let info = sentinels[next % sentinels.len()].clone();
        next += 1;
        let watched = async {
            let client = redis::Client::open(info)?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(SWITCH_MASTER).await?;
            stale.store(true, Ordering::Release);
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                // `<name> <old ip> <old port> <new ip> <new port>`
                let payload: String = message.get_payload().unwrap_or_default();
                if payload.split(' ').next() == Some(name.as_str()) {
                    tracing::info!(%payload, "sentinel announced a new master");
                    stale.store(true, Ordering::Release);
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        tokio::select! {
            result = watched => {
                if let Err(error) = result {
                    tracing::debug!(%error, "sentinel announcements interrupted; subscribing again");
                }
            }
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The address of `client`, to tell whether the master moved.
pub(crate) fn address(client: &redis::Client) -> &ConnectionAddr {
    client.get_connection_info().addr()
}
