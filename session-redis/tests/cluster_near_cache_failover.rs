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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_read_again_from_a_promoted_replica_is_never_served_stale() -> TestResult {
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
    while !common::replica_caught_up(&master.cli(&["info", "replication"])?) {
        if Instant::now() > deadline {
            return Err("the replica never caught up with its master".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.nodes_mut()[victim].kill()?;

    // A reads it again, from the promoted replica, until it answers; and again (the
    // second read may be served from A's cache).
    let start = Instant::now();
    loop {
        match get(&a, &token, "n").await {
            Ok(Some(1)) => break,
            Ok(other) => return Err(format!("A read {other:?} after the failover").into()),
            Err(e) if e.is_unavailable() && start.elapsed() < Duration::from_secs(40) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let before = a_store.near_cache_stats().ok_or("near-cache off")?;
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    assert_eq!(get(&a, &token, "n").await?, Some(1));
    let after = a_store.near_cache_stats().ok_or("near-cache off")?;
    assert!(
        after.hits > before.hits,
        "A caches the session again on the promoted node: {before:?} then {after:?}"
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
