//! Redis Cluster connections that go silent (half-open: the peer swallows every
//! byte, no FIN, no RST, while new connections work), as a NAT or firewall that
//! dropped its state does. Every node is announced behind a proxy of the test's own
//! (`cluster-announce-port`), so the store reaches every node through one. The store
//! replaces the silent connections by itself: writes succeed again within connect +
//! response timeout (+ the heartbeat interval with the near-cache), without a
//! restart.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::near::{create, set};
use common::proxy::HalfOpenProxy;
use session_core::SessionStore;
use session_redis::RedisSettings;
use session_testkit::servers::RedisCluster;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// How long the store may take to heal before the test fails (a liveness bound, far
/// above connect + response timeout + heartbeat: 1.5 s here).
const PATIENCE: Duration = Duration::from_secs(10);

/// A 3-master cluster whose nodes announce the ports of proxies in front of them;
/// the proxies, and settings that reach the cluster through them.
async fn cluster_behind_proxies(
    near_cache: bool,
) -> Result<(RedisCluster, Vec<HalfOpenProxy>, RedisSettings), Box<dyn std::error::Error>> {
    let cluster = RedisCluster::start(3)?;
    let mut proxies = Vec::new();
    for node in cluster.nodes() {
        let proxy = HalfOpenProxy::start(node.port()).await?;
        node.cli(&[
            "config",
            "set",
            "cluster-announce-port",
            &proxy.port.to_string(),
        ])?;
        proxies.push(proxy);
    }
    // Every node tells clients the proxies' ports (gossip carries them).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.nodes().iter().all(|node| {
        node.cli(&["cluster", "slots"]).is_ok_and(|slots| {
            proxies
                .iter()
                .all(|p| slots.lines().any(|l| l.trim() == p.port.to_string()))
        })
    }) {
        if Instant::now() > deadline {
            return Err("the nodes never announced the proxies' ports".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut settings = RedisSettings::default();
    settings.cluster = proxies
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.port))
        .collect();
    settings.namespace = common::fresh_namespace();
    settings.connect_timeout_ms = 500;
    settings.response_timeout_ms = 500;
    settings.near_cache = near_cache;
    Ok((cluster, proxies, settings))
}

/// Writes to `tokens` until every one succeeds; how many answered 503 first.
async fn write_until_healed(
    store: &Arc<dyn SessionStore>,
    tokens: &[String],
    n: i64,
) -> Result<u32, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut unavailable = 0;
    for token in tokens {
        loop {
            match set(store, token, n).await {
                Ok(()) => break,
                Err(e) if e.is_unavailable() && start.elapsed() < PATIENCE => {
                    unavailable += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    return Err(format!(
                        "no write succeeded {:?} after the connections went silent: {e}",
                        start.elapsed()
                    )
                    .into())
                }
            }
        }
    }
    Ok(unavailable)
}

async fn silent_connections_heal(near_cache: bool) -> TestResult {
    let (_cluster, proxies, settings) = cluster_behind_proxies(near_cache).await?;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    // Sessions on every master.
    let mut tokens = Vec::new();
    for _ in 0..12 {
        tokens.push(create(&store, 1).await?);
    }
    write_until_healed(&store, &tokens, 2).await?;

    for proxy in &proxies {
        proxy.silence_open_connections();
    }
    let silenced = Instant::now();
    let unavailable = write_until_healed(&store, &tokens, 3).await?;
    eprintln!(
        "near-cache {near_cache}: healed {:?} after the silence, {unavailable} writes answered 503",
        silenced.elapsed()
    );
    // And again, on the new connections.
    for proxy in &proxies {
        proxy.silence_open_connections();
    }
    write_until_healed(&store, &tokens, 4).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_cluster_connections_are_replaced_without_the_near_cache() -> TestResult {
    silent_connections_heal(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_cluster_connections_are_replaced_with_the_near_cache() -> TestResult {
    silent_connections_heal(true).await
}

/// With the near-cache, the heartbeat finds the silent connections before a request
/// does: the first write after connect + response timeout + the heartbeat interval
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_write_past_the_bound_succeeds() -> TestResult {
    let (_cluster, proxies, settings) = cluster_behind_proxies(true).await?;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(create(&store, 1).await?);
    }
    // The heartbeat runs (it starts with the first read).
    for token in &tokens {
        common::near::get(&store, token, "n").await?;
    }
    for proxy in &proxies {
        proxy.silence_open_connections();
    }
    let bound = Duration::from_millis(
        settings.connect_timeout_ms
            + settings.response_timeout_ms
            + settings.near_cache_heartbeat_ms,
    );
    tokio::time::sleep(bound + Duration::from_millis(500)).await;
    for token in &tokens {
        set(&store, token, 2).await?;
    }
    Ok(())
}

/// While every connection of both app servers is silent, a write and a sign-out
/// through B are never served stale by A's near-cache past the bound: A's heartbeat
/// goes unanswered, A stops serving from memory, makes new connections and reads
/// what B wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_never_serves_another_servers_change_stale() -> TestResult {
    let (_cluster, proxies, settings) = cluster_behind_proxies(true).await?;
    let a: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let b: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = create(&b, 1).await?;
    // A caches it.
    assert_eq!(common::near::get(&a, &token, "n").await?, Some(1));
    assert_eq!(common::near::get(&a, &token, "n").await?, Some(1));
    for proxy in &proxies {
        proxy.silence_open_connections();
    }
    let silenced = Instant::now();
    write_until_healed(&b, std::slice::from_ref(&token), 2).await?;
    let seen = common::near::until(&a, &token, "n", Some(2)).await?;
    let session = session_core::Session::new(
        b.clone(),
        session_core::Expiry::default(),
        Some(token.clone()),
    );
    session.invalidate().await?;
    session.commit().await?;
    let gone = common::near::until(&a, &token, "n", None).await?;
    eprintln!(
        "after the silence ({:?} ago), A saw B's write {seen:?} after it landed and the sign-out after {gone:?}",
        silenced.elapsed()
    );
    Ok(())
}
