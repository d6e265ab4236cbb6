//! The near-cache across app servers: two stores on one Redis stand for two app
//! servers. What one writes, destroys or regenerates is never served by the other's
//! cache once Redis' invalidation has arrived; a restart of Redis empties the caches.
//! The invalidation window (from a write's answer to the other server's first read
//! of it) is measured and printed, not asserted.
//!
//! Over a connection that goes half-open (silent, no error), the cache stops serving
//! within its staleness bound (heartbeat interval + response timeout), and the
//! connection is replaced before a request meets it.
//!
//! On a 3-master cluster, sessions spread over every master, and connections that
//! are lost (and made again by the cluster client) empty the cache, and tracking is
//! turned on again on the new ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionStore, TokenUpdate};
use session_redis::{RedisSettings, RedisStore};
use session_testkit::servers::{RedisCluster, RedisServer};

mod common;

use common::near::*;
use common::proxy::HalfOpenProxy;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn two_servers(
    redis: &RedisServer,
) -> (RedisStore, Arc<dyn SessionStore>, Arc<dyn SessionStore>) {
    two_servers_with(&common::settings_for(redis)).await
}

/// A store connected (and checked) on a runtime that is gone before it serves.
fn connected_on_a_runtime_that_ends(
    settings: &RedisSettings,
) -> Result<RedisStore, Box<dyn std::error::Error>> {
    let settings = settings.clone();
    let store = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(RedisStore::connect(&settings))
            .map_err(|e| e.to_string().into())
    })
    .join()
    .map_err(|_| "the connecting thread panicked")?
    .map_err(|e: Box<dyn std::error::Error + Send + Sync>| e.to_string())?;
    Ok(store)
}

#[tokio::test]
async fn a_write_through_one_server_reaches_the_others_cache() -> TestResult {
    let redis = RedisServer::start()?;
    let (b_store, a, b) = two_servers(&redis).await;
    let token = create(&a, 0).await?;
    let mut windows = Vec::new();
    for n in 1..=20 {
        // B reads (and caches), A writes, B must see the write.
        assert_eq!(get(&b, &token, "n").await?, Some(n - 1));
        assert_eq!(get(&b, &token, "n").await?, Some(n - 1));
        set(&a, &token, n).await?;
        windows.push(until(&b, &token, "n", Some(n)).await?);
    }
    let stats = b_store.near_cache_stats().ok_or("near-cache off")?;
    assert!(
        stats.hits >= 20,
        "B's second read of each round is a hit: {stats:?}"
    );
    windows.sort();
    println!(
        "invalidation window over {} writes: median {:?}, max {:?}; B's cache: {stats:?}",
        windows.len(),
        windows[windows.len() / 2],
        windows[windows.len() - 1]
    );
    Ok(())
}

/// A session this server wrote is kept (and served once checked), but a write by
/// another server, even one racing this server's own, always reaches it: after both
/// writes are answered, this server's reads settle on what Redis stores, and stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writes_through_two_servers_settle_on_what_redis_stores() -> TestResult {
    let redis = RedisServer::start()?;
    let settings = common::settings_for(&redis);
    let (_, a, b) = two_servers_with(&settings).await;
    let mut plain = settings.clone();
    plain.near_cache = false;
    let truth: Arc<dyn SessionStore> = Arc::new(common::connect(&plain).await);
    let token = create(&a, 0).await?;
    for round in 1..=30 {
        let (sa, sb) = (
            Session::new(a.clone(), Expiry::default(), Some(token.clone())),
            Session::new(b.clone(), Expiry::default(), Some(token.clone())),
        );
        sa.get::<i64>("n").await?;
        sb.get::<i64>("n").await?;
        sa.set("n", &(2 * round)).await?;
        sb.set("n", &(2 * round + 1)).await?;
        let (ra, rb) = tokio::join!(sa.commit(), sb.commit());
        ra?;
        rb?;
        let stored = get(&truth, &token, "n").await?;
        until(&a, &token, "n", stored).await?;
        until(&b, &token, "n", stored).await?;
        for _ in 0..3 {
            assert_eq!(get(&a, &token, "n").await?, stored, "round {round}");
        }
        // A's own write alone: kept, and read back as written.
        set(&a, &token, -round).await?;
        until(&a, &token, "n", Some(-round)).await?;
        assert_eq!(get(&b, &token, "n").await?, Some(-round));
    }
    Ok(())
}

#[tokio::test]
async fn logout_and_regenerate_on_one_server_are_never_served_by_the_other() -> TestResult {
    let redis = RedisServer::start()?;
    let (_, a, b) = two_servers(&redis).await;

    // Logout on A: B stops serving the session.
    let token = create(&a, 1).await?;
    assert_eq!(get(&b, &token, "n").await?, Some(1));
    let s = Session::new(a.clone(), Expiry::default(), Some(token.clone()));
    s.invalidate().await?;
    s.commit().await?;
    until(&b, &token, "n", None).await?;
    assert_eq!(
        get(&b, &token, "n").await?,
        None,
        "a destroyed session came back"
    );

    // Login (regenerate) on A: the old id stops working on B, the new one works.
    let old = create(&a, 2).await?;
    assert_eq!(get(&b, &old, "n").await?, Some(2));
    let s = Session::new(a.clone(), Expiry::default(), Some(old.clone()));
    s.regenerate().await?;
    let TokenUpdate::Send(new) = s.commit().await? else {
        return Err("regenerate sent no token".into());
    };
    until(&b, &old, "n", None).await?;
    assert_eq!(get(&b, &new, "n").await?, Some(2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_redis_empties_the_caches() -> TestResult {
    let mut redis = RedisServer::start()?;
    let (b_store, a, b) = two_servers(&redis).await;
    let token = create(&a, 7).await?;
    assert_eq!(get(&b, &token, "n").await?, Some(7));
    assert_eq!(get(&b, &token, "n").await?, Some(7));
    assert!(b_store.near_cache_stats().is_some_and(|s| s.entries == 1));
    // The restarted Redis keeps nothing (no persistence): neither may B, from the
    // moment its client sees the connection drop.
    redis.kill()?;
    let start = Instant::now();
    while b_store.near_cache_stats().is_some_and(|s| s.entries > 0) {
        if start.elapsed() > PATIENCE {
            return Err("the cache was not emptied when the connection dropped".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "the cache was emptied {:?} after Redis was killed",
        start.elapsed()
    );
    redis.restart()?;
    let start = Instant::now();
    loop {
        match get(&b, &token, "n").await {
            Ok(None) => break,
            Ok(Some(_)) => return Err("a session Redis lost was served from the cache".into()),
            // Reconnecting: 503s until Redis answers again.
            Err(e) if e.is_unavailable() && start.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(b_store.near_cache_stats().map(|s| s.entries), Some(0));
    Ok(())
}

#[tokio::test]
async fn the_near_cache_can_be_turned_off() -> TestResult {
    let redis = RedisServer::start()?;
    let mut settings = common::settings_for(&redis);
    settings.near_cache = false;
    let store = common::connect(&settings).await;
    assert_eq!(store.near_cache_stats(), None);
    let shared: Arc<dyn SessionStore> = Arc::new(store);
    let token = create(&shared, 3).await?;
    assert_eq!(get(&shared, &token, "n").await?, Some(3));
    Ok(())
}

#[tokio::test]
async fn a_store_connected_on_another_runtime_still_gets_invalidations() -> TestResult {
    let redis = RedisServer::start()?;
    let settings = common::settings_for(&redis);
    let a: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let b_store = connected_on_a_runtime_that_ends(&settings)?;
    let b: Arc<dyn SessionStore> = Arc::new(b_store);
    let token = create(&a, 1).await?;
    for n in 2..=5 {
        assert_eq!(get(&b, &token, "n").await?, Some(n - 1));
        assert_eq!(get(&b, &token, "n").await?, Some(n - 1));
        set(&a, &token, n).await?;
        until(&b, &token, "n", Some(n)).await?;
    }
    Ok(())
}

/// Sessions per test: enough that every master holds some.
const SESSIONS: i64 = 12;

fn cluster_settings(addrs: Vec<String>) -> RedisSettings {
    let mut settings = RedisSettings::default();
    settings.cluster = addrs;
    settings.namespace = common::fresh_namespace();
    settings
}

/// The cluster's masters that hold at least one of `tokens`' keys.
fn masters_holding(cluster: &RedisCluster, store: &RedisStore, tokens: &[String]) -> usize {
    cluster
        .nodes()
        .iter()
        .filter(|node| {
            tokens.iter().any(|token| {
                session_core::SessionId::parse(token).is_some_and(|id| {
                    node.cli(&["exists", &store.key_of(&id)])
                        .is_ok_and(|n| n.trim() == "1")
                })
            })
        })
        .count()
}

#[tokio::test]
async fn on_a_cluster_a_write_through_one_server_reaches_the_others_cache() -> TestResult {
    let cluster = common::cluster();
    let (b_store, a, b) = two_servers_with(&cluster_settings(cluster.addrs())).await;
    let mut tokens = Vec::new();
    // Sessions until every master holds some (ids are random).
    while tokens.len() < SESSIONS as usize || masters_holding(cluster, &b_store, &tokens) < 3 {
        assert!(tokens.len() < 100, "100 sessions and a master holds none");
        tokens.push(create(&a, 0).await?);
    }
    let mut windows = Vec::new();
    for n in 1..=3 {
        for token in &tokens {
            // B reads (and caches), A writes, B must see the write.
            assert_eq!(get(&b, token, "n").await?, Some(n - 1));
            assert_eq!(get(&b, token, "n").await?, Some(n - 1));
            set(&a, token, n).await?;
            windows.push(until(&b, token, "n", Some(n)).await?);
        }
    }
    let stats = b_store
        .near_cache_stats()
        .ok_or("near-cache off on a cluster")?;
    assert!(
        stats.hits >= windows.len() as u64,
        "B's second read of each round is a hit: {stats:?}"
    );
    windows.sort();
    println!(
        "cluster invalidation window over {} writes: median {:?}, max {:?}; B's cache: {stats:?}",
        windows.len(),
        windows[windows.len() / 2],
        windows[windows.len() - 1]
    );
    Ok(())
}

#[tokio::test]
async fn on_a_cluster_logout_and_regenerate_on_one_server_are_never_served_by_the_other(
) -> TestResult {
    let (_, a, b) = two_servers_with(&cluster_settings(common::cluster().addrs())).await;
    for round in 0..4 {
        // Logout on A: B stops serving the session.
        let token = create(&a, round).await?;
        assert_eq!(get(&b, &token, "n").await?, Some(round));
        let s = Session::new(a.clone(), Expiry::default(), Some(token.clone()));
        s.invalidate().await?;
        s.commit().await?;
        until(&b, &token, "n", None).await?;
        assert_eq!(
            get(&b, &token, "n").await?,
            None,
            "a destroyed session came back"
        );

        // Login (regenerate) on A: the old id stops working on B, the new one works.
        let old = create(&a, round + 10).await?;
        assert_eq!(get(&b, &old, "n").await?, Some(round + 10));
        let s = Session::new(a.clone(), Expiry::default(), Some(old.clone()));
        s.regenerate().await?;
        let TokenUpdate::Send(new) = s.commit().await? else {
            return Err("regenerate sent no token".into());
        };
        until(&b, &old, "n", None).await?;
        assert_eq!(get(&b, &new, "n").await?, Some(round + 10));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_lost_connections_empty_the_cache_and_new_ones_are_tracked() -> TestResult {
    // A cluster of its own: every client connection of it is killed.
    let cluster = RedisCluster::start(3)?;
    let (b_store, a, b) = two_servers_with(&cluster_settings(cluster.addrs())).await;
    let mut tokens = Vec::new();
    for _ in 0..SESSIONS {
        tokens.push(create(&a, 1).await?);
    }
    for token in &tokens {
        assert_eq!(get(&b, token, "n").await?, Some(1));
        assert_eq!(get(&b, token, "n").await?, Some(1));
    }
    let cached = b_store.near_cache_stats().ok_or("near-cache off")?;
    assert_eq!(cached.entries, tokens.len(), "B holds every session");

    // Every node drops every client (A's and B's connections alike); the cluster
    // client makes them again. Invalidations sent meanwhile would be lost, so B
    // must forget what it holds.
    for node in cluster.nodes() {
        node.cli(&["client", "kill", "type", "normal"])?;
    }
    let start = Instant::now();
    while b_store.near_cache_stats().is_some_and(|s| s.entries > 0) {
        if start.elapsed() > PATIENCE {
            return Err("the cache was not emptied when the connections dropped".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // On the new connections, B caches again and A's writes still reach it.
    for n in 2..=3 {
        for token in &tokens {
            until(&b, token, "n", Some(n - 1)).await?;
            assert_eq!(get(&b, token, "n").await?, Some(n - 1));
            let start = Instant::now();
            while let Err(e) = set(&a, token, n).await {
                if !e.is_unavailable() || start.elapsed() > PATIENCE {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            until(&b, token, "n", Some(n)).await?;
        }
    }
    let after = b_store.near_cache_stats().ok_or("near-cache off")?;
    assert!(
        after.hits >= cached.hits + tokens.len() as u64,
        "B serves from its cache again on the new connections: {cached:?} then {after:?}"
    );
    Ok(())
}

#[tokio::test]
async fn on_a_cluster_a_store_connected_on_another_runtime_serves_and_gets_invalidations(
) -> TestResult {
    let settings = cluster_settings(common::cluster().addrs());
    let a: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let b_store = connected_on_a_runtime_that_ends(&settings)?;
    let b: Arc<dyn SessionStore> = Arc::new(b_store.clone());
    for n in 1..=4 {
        let token = create(&a, n).await?;
        assert_eq!(get(&b, &token, "n").await?, Some(n));
        assert_eq!(get(&b, &token, "n").await?, Some(n));
        set(&a, &token, n + 10).await?;
        until(&b, &token, "n", Some(n + 10)).await?;
        set(&b, &token, n + 20).await?;
        until(&a, &token, "n", Some(n + 20)).await?;
    }
    assert!(b_store.near_cache_stats().is_some_and(|s| s.hits >= 4));
    Ok(())
}

/// App server A, whose connection goes through a proxy that can make it silent,
/// and app server B, on the same Redis; A's heartbeat every 200 ms, 300 ms
/// timeouts: a staleness bound of 500 ms.
async fn a_behind_a_proxy_and_b(
    redis: &RedisServer,
) -> Result<(HalfOpenProxy, RedisStore, Arc<dyn SessionStore>), Box<dyn std::error::Error>> {
    let proxy = HalfOpenProxy::start(redis.port()).await?;
    let mut settings = common::settings_for(redis);
    settings.connect_timeout_ms = 300;
    settings.response_timeout_ms = 300;
    settings.near_cache_heartbeat_ms = 200;
    let b: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    settings.port = proxy.port;
    let a = common::connect(&settings).await;
    Ok((proxy, a, b))
}

/// The bound these tests hold A to: heartbeat + response timeout, and 300 ms for
/// the scheduling of a loaded test machine.
const SILENT_BOUND: Duration = Duration::from_millis(200 + 300 + 300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_silent_connection_a_session_signed_out_elsewhere_is_not_served_past_the_bound(
) -> TestResult {
    let redis = RedisServer::start()?;
    let (proxy, a_store, b) = a_behind_a_proxy_and_b(&redis).await?;
    let a: Arc<dyn SessionStore> = Arc::new(a_store.clone());
    let token = create(&b, 1).await?;
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert!(a_store.near_cache_stats().ok_or("near-cache off")?.hits >= 1);

    proxy.silence_open_connections();
    // Through B: a change, then sign-out.
    set(&b, &token, 2).await?;
    let s = Session::new(b.clone(), Expiry::default(), Some(token.clone()));
    s.invalidate().await?;
    s.commit().await?;
    let signed_out = Instant::now();

    let mut last_stale = None;
    let mut answers = (0, 0, 0);
    while signed_out.elapsed() < SILENT_BOUND + Duration::from_secs(2) {
        match get(&a, &token, "n").await {
            Ok(Some(_)) => {
                answers.0 += 1;
                last_stale = Some(signed_out.elapsed());
            }
            Ok(None) => answers.1 += 1,
            Err(e) if e.is_unavailable() => answers.2 += 1,
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "after sign-out through B, A answered stale {}, signed out {}, 503 {} times; last stale at {last_stale:?}",
        answers.0, answers.1, answers.2
    );
    if let Some(at) = last_stale {
        assert!(
            at <= SILENT_BOUND,
            "A served the signed-out session {at:?} after sign-out, past the bound of {SILENT_BOUND:?}"
        );
    }
    assert!(answers.1 > 0, "A never answered that the session is gone");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_connection_goes_silent_the_first_write_past_the_bound_succeeds() -> TestResult {
    let redis = RedisServer::start()?;
    let (proxy, a_store, b) = a_behind_a_proxy_and_b(&redis).await?;
    let a: Arc<dyn SessionStore> = Arc::new(a_store);
    let token = create(&a, 1).await?;
    assert_eq!(get(&a, &token, "n").await?, Some(1));

    proxy.silence_open_connections();
    let connections = proxy.connections();
    // No request through A meanwhile: its heartbeat alone finds the dead connection.
    tokio::time::sleep(SILENT_BOUND).await;
    set(&a, &token, 2).await?;
    assert_eq!(get(&b, &token, "n").await?, Some(2));
    assert!(
        proxy.connections() > connections,
        "no new connection was made"
    );
    Ok(())
}

/// A store made from a client the application already has (here on database 3)
/// keeps sessions there, and its near-cache hears of another server's writes.
#[tokio::test]
async fn a_store_from_the_applications_client_keeps_sessions_and_hears_of_writes() -> TestResult {
    let redis = RedisServer::start()?;
    let mut settings = common::settings_for(&redis);
    settings.options.db = 3;
    let client = redis::Client::open(format!("{}/3", redis.url()))?;
    let own = RedisStore::from_client(&client, &settings)?;
    let a: Arc<dyn SessionStore> = Arc::new(own.clone());
    let b: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = create(&a, 1).await?;
    assert_eq!(get(&b, &token, "n").await?, Some(1), "not on database 3");
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert!(own.near_cache_stats().ok_or("near-cache off")?.hits >= 1);
    set(&b, &token, 2).await?;
    until(&a, &token, "n", Some(2)).await?;
    Ok(())
}
