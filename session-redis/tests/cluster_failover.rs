//! Redis Cluster with replicas: a master killed under the store, while requests go
//! on. The slot's requests answer 503 (none hangs) until the replica has taken over,
//! then they succeed again, and every write acknowledged before the kill is there.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionStore, TokenUpdate};
use session_redis::{RedisSettings, RedisStore};
use session_testkit::servers::RedisCluster;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn increment(store: &Arc<dyn SessionStore>, token: &str) -> Result<i64, session_core::Error> {
    let session = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let value = session.increment("counter", 1).await?;
    session.commit().await?;
    Ok(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_gives_503s_then_its_replica_serves_every_acknowledged_write() -> TestResult
{
    let mut cluster = RedisCluster::start_with_replicas(3, 1)?;
    let mut settings = RedisSettings::default();
    settings.cluster = cluster.addrs();
    settings.namespace = common::fresh_namespace();
    settings.connect_timeout_ms = 500;
    settings.response_timeout_ms = 500;
    let redis = RedisStore::connect(&settings).await?;
    let store: Arc<dyn SessionStore> = Arc::new(redis.clone());

    // Sessions on every master, each incremented 5 times.
    let mut tokens = Vec::new();
    for _ in 0..12 {
        let session = Session::new(store.clone(), Expiry::default(), None);
        session.set("user", "ada").await?;
        let TokenUpdate::Send(token) = session.commit().await? else {
            return Err("a new session sent no cookie".into());
        };
        for n in 1..=5 {
            assert_eq!(increment(&store, &token).await?, n);
        }
        tokens.push(token);
    }
    // Every master's writes reached its replica: its replica has acknowledged the
    // master's whole replication stream (a replica still in its first sync has not).
    for node in cluster.nodes() {
        if node.cli(&["role"])?.starts_with("master") {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !node.replica_caught_up()? {
                if Instant::now() > deadline {
                    return Err("a replica never caught up with its master's writes".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The master holding the first session.
    let id = session_core::SessionId::parse(&tokens[0]).ok_or("bad token")?;
    let key = redis.key_of(&id);
    let victim = cluster
        .nodes()
        .iter()
        .position(|n| {
            n.cli(&["role"]).is_ok_and(|r| r.starts_with("master"))
                && n.cli(&["exists", &key]).is_ok_and(|e| e.trim() == "1")
        })
        .ok_or("no master holds the session")?;
    cluster.nodes_mut()[victim].kill()?;
    let killed = Instant::now();

    let (mut unavailable, mut value) = (0, 5);
    while value < 10 {
        let started = Instant::now();
        match increment(&store, &tokens[0]).await {
            Ok(v) => {
                assert_eq!(v, value + 1, "an acknowledged increment was lost");
                value = v;
            }
            Err(e) if e.is_unavailable() => unavailable += 1,
            Err(e) => return Err(e.into()),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a request hung for {:?}",
            started.elapsed()
        );
        if killed.elapsed() > Duration::from_secs(40) {
            return Err(format!(
                "no recovery 40 s after the master was killed ({unavailable} 503s)"
            )
            .into());
        }
        if value < 10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        unavailable > 0,
        "the failover should have been answered with 503s"
    );
    let recovered = killed.elapsed();
    // Every session, on every master, has all its acknowledged increments.
    for token in &tokens[1..] {
        assert_eq!(increment(&store, token).await?, 6, "session {token}");
    }
    eprintln!(
        "killed cluster master: {unavailable} requests answered 503; recovered after {recovered:?}"
    );
    Ok(())
}
