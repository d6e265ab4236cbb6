//! The near-cache on a Redis Cluster across a failover: app server A reads a
//! session again from the promoted replica (over a connection the cluster client
//! made by itself), then app server B changes it and signs it out. A never serves
//! the old session past the staleness bound: no read is cached from a connection
//! on which tracking is not on yet.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::near::*;
use session_core::{Expiry, Session, SessionStore};
use session_redis::RedisSettings;
use session_testkit::servers::RedisCluster;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The tests of this file start clusters of their own and kill nodes: one at a
/// time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reads `n` through `store` while the cluster settles after a failover (a 503
/// while the client learns the new master counts as not yet).
async fn read_settled(
    store: &Arc<dyn SessionStore>,
    token: &str,
) -> Result<Option<i64>, Box<dyn std::error::Error>> {
    let start = Instant::now();
    loop {
        match get(store, token, "n").await {
            Ok(n) => return Ok(n),
            Err(e) if e.is_unavailable() && start.elapsed() < Duration::from_secs(40) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_read_again_from_a_promoted_replica_is_never_served_stale() -> TestResult {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut cluster = RedisCluster::start_with_replicas(3, 1)?;
    let mut settings = RedisSettings::default();
    settings.cluster = cluster.addrs();
    settings.namespace = common::fresh_namespace();
    settings.connect_timeout_ms = 500;
    settings.response_timeout_ms = 500;
    let a_store = common::connect(&settings).await;
    let a: Arc<dyn SessionStore> = Arc::new(a_store.clone());
    let b: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = create(&a, 1).await?;
    // A caches it.
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert_eq!(get(&a, &token, "n").await?, Some(1));

    // The master holding it dies once its replica has the session.
    let id = session_core::SessionId::parse(&token).ok_or("bad token")?;
    let key = a_store.key_of(&id);
    let victim = cluster
        .nodes()
        .iter()
        .position(|n| {
            n.cli(&["role"]).is_ok_and(|r| r.starts_with("master"))
                && n.cli(&["exists", &key]).is_ok_and(|e| e.trim() == "1")
        })
        .ok_or("no master holds the session")?;
    let master = &cluster.nodes()[victim];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !master.replica_caught_up()? {
        if Instant::now() > deadline {
            return Err("the replica never caught up with its master".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.nodes_mut()[victim].kill()?;

    // A reads it again, from the promoted replica, until it answers; and again (the
    // later reads may be served from A's cache).
    assert_eq!(read_settled(&a, &token).await?, Some(1));
    assert_eq!(read_settled(&a, &token).await?, Some(1));
    // Once the cluster has settled, A serves it from its cache again.
    let before = a_store.near_cache_stats().ok_or("near-cache off")?;
    let mut cached_again = false;
    for _ in 0..100 {
        assert_eq!(read_settled(&a, &token).await?, Some(1));
        let now = a_store.near_cache_stats().ok_or("near-cache off")?;
        if now.hits > before.hits {
            cached_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        cached_again,
        "A never cached the session again on the promoted node"
    );

    // B changes it: A sees the change within the bound.
    let start = Instant::now();
    while let Err(e) = set(&b, &token, 2).await {
        if !e.is_unavailable() || start.elapsed() > PATIENCE {
            return Err(e.into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = until(&a, &token, "n", Some(2)).await?;
    // B signs it out: A no longer serves it.
    let session = Session::new(b.clone(), Expiry::default(), Some(token.clone()));
    session.invalidate().await?;
    session.commit().await?;
    let gone = until(&a, &token, "n", None).await?;
    eprintln!("after the failover, A saw B's write after {seen:?} and the sign-out after {gone:?}");
    Ok(())
}

/// The reads a node has served (`GET`, `GETEX`, `PTTL`, `GETRANGE`), from its
/// `INFO commandstats`.
fn reads_served(
    node: &session_testkit::servers::RedisServer,
) -> Result<u64, Box<dyn std::error::Error>> {
    let stats = node.cli(&["info", "commandstats"])?;
    Ok(stats
        .lines()
        .filter(|line| {
            [
                "cmdstat_get:",
                "cmdstat_getex:",
                "cmdstat_pttl:",
                "cmdstat_getrange:",
            ]
            .iter()
            .any(|name| line.starts_with(name))
        })
        .filter_map(|line| {
            line.split(',')
                .next()?
                .split("calls=")
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .sum())
}

/// With the tracking command in a fill's pipeline, a cached read on a cluster still
/// makes no round trip: 200 reads of cached sessions cost the cluster no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_cluster_read_makes_no_round_trip() -> TestResult {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = RedisCluster::start(3)?;
    let mut settings = RedisSettings::default();
    settings.cluster = cluster.addrs();
    settings.namespace = common::fresh_namespace();
    let store_a = common::connect(&settings).await;
    let a: Arc<dyn SessionStore> = Arc::new(store_a.clone());
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let token = create(&a, 7).await?;
        assert_eq!(get(&a, &token, "n").await?, Some(7));
        tokens.push(token);
    }
    let served = |cluster: &RedisCluster| -> Result<u64, Box<dyn std::error::Error>> {
        cluster.nodes().iter().map(reads_served).sum()
    };
    // The checks of this process's own writes (a moment after each) are done; a
    // read of each session again is a hit.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for token in &tokens {
        assert_eq!(get(&a, token, "n").await?, Some(7));
    }
    let before = served(&cluster)?;
    let hits = store_a.near_cache_stats().ok_or("near-cache off")?.hits;
    for round in 0..20 {
        for token in &tokens {
            assert_eq!(get(&a, token, "n").await?, Some(7), "round {round}");
        }
    }
    assert_eq!(
        served(&cluster)? - before,
        0,
        "cached reads reached the cluster"
    );
    let after = store_a.near_cache_stats().ok_or("near-cache off")?.hits;
    assert_eq!(after - hits, 200);
    Ok(())
}
