//! Redis Sentinel against real processes: a master, its replica and three sentinels
//! on free loopback ports. The store finds the master through the sentinels, follows
//! a forced failover, and rides out a killed master (503s while no master is known,
//! then recovery), keeping every acknowledged write.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionStore, TokenUpdate};
use session_redis::{RedisSettings, RedisStore, SentinelSettings};
use session_testkit::servers::RedisServer;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Boxed = Box<dyn std::error::Error + Send + Sync>;

const NAME: &str = "sessions";

/// A master, one replica, three sentinels (quorum 2).
struct Topology {
    master: RedisServer,
    replica: RedisServer,
    sentinels: Vec<RedisServer>,
}

async fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Result<(), Boxed> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{what} did not happen within {limit:?}").into())
}

async fn topology() -> Result<Topology, Boxed> {
    let master = RedisServer::start()?;
    let port = master.port().to_string();
    let replica = RedisServer::start_with_args(&["--replicaof", "127.0.0.1", &port])?;
    until("replication", Duration::from_secs(10), || {
        replica
            .cli(&["info", "replication"])
            .is_ok_and(|i| i.contains("master_link_status:up"))
    })
    .await?;
    let mut sentinels = Vec::new();
    for _ in 0..3 {
        sentinels.push(RedisServer::start_sentinel(NAME, master.port(), 2)?);
    }
    let replica_port = replica.port().to_string();
    until(
        "the sentinels knowing the replica and each other",
        Duration::from_secs(15),
        || {
            sentinels.iter().all(|s| {
                s.cli(&["sentinel", "replicas", NAME])
                    .is_ok_and(|r| r.contains(&replica_port))
                    && s.cli(&["sentinel", "sentinels", NAME])
                        .is_ok_and(|r| r.matches("runid").count() == 2)
            })
        },
    )
    .await?;
    Ok(Topology {
        master,
        replica,
        sentinels,
    })
}

impl Topology {
    fn settings(&self) -> RedisSettings {
        let mut settings = RedisSettings::default();
        // host and port point nowhere: the sentinels name the master.
        settings.port = 1;
        settings.sentinel = Some(SentinelSettings::new(
            NAME,
            self.sentinels.iter().map(RedisServer::addr),
        ));
        settings.namespace = common::fresh_namespace();
        settings.connect_timeout_ms = 500;
        settings.response_timeout_ms = 500;
        settings
    }

    /// The master's port as the sentinels name it.
    fn named_master(&self) -> Option<u16> {
        let out = self.sentinels[0]
            .cli(&["sentinel", "get-master-addr-by-name", NAME])
            .ok()?;
        out.lines().nth(1)?.trim().parse().ok()
    }

    /// Waits until the replica has every write of the master.
    fn replicated(&self) -> Result<(), Boxed> {
        let acked = self.master.cli(&["wait", "1", "2000"])?;
        if acked.trim() != "1" {
            return Err(format!("the replica did not acknowledge the writes: {acked}").into());
        }
        Ok(())
    }
}

/// One request that increments `counter`: `Ok(value)` when acknowledged.
async fn increment(store: &Arc<dyn SessionStore>, token: &str) -> Result<i64, session_core::Error> {
    let session = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let value = session.increment("counter", 1).await?;
    session.commit().await?;
    Ok(value)
}

async fn new_session(store: &Arc<dyn SessionStore>) -> Result<String, Boxed> {
    let session = Session::new(store.clone(), Expiry::default(), None);
    session.set("user", "ada").await?;
    match session.commit().await? {
        TokenUpdate::Send(token) => Ok(token),
        other => Err(format!("a new session gave {other:?}").into()),
    }
}

async fn counter(store: &Arc<dyn SessionStore>, token: &str) -> Result<Option<i64>, Boxed> {
    let session = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    Ok(session.get::<i64>("counter").await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_finds_the_master_and_follows_a_forced_failover() -> TestResult {
    let topology = topology().await?;
    let settings = topology.settings();
    let redis = RedisStore::connect(&settings).await?;
    let store: Arc<dyn SessionStore> = Arc::new(redis.clone());
    let token = new_session(&store).await?;
    for n in 1..=20 {
        assert_eq!(increment(&store, &token).await?, n);
    }
    let id = session_core::SessionId::parse(&token).ok_or("bad token")?;
    let key = redis.key_of(&id);
    assert_eq!(
        topology.master.cli(&["exists", &key])?.trim(),
        "1",
        "the session is on the master"
    );
    topology.replicated()?;

    topology.sentinels[0].cli(&["sentinel", "failover", NAME])?;
    let new_master = topology.replica.port();
    until(
        "the sentinels naming the replica as master",
        Duration::from_secs(15),
        || topology.named_master() == Some(new_master),
    )
    .await?;
    // The store hears the sentinels' announcement (well under this pause).
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Nothing acknowledged before the failover is lost, and writes go on, to the
    // new master.
    assert_eq!(counter(&store, &token).await?, Some(20));
    let mut failures = 0;
    let mut value = 20;
    let deadline = Instant::now() + Duration::from_secs(15);
    while value < 30 {
        match increment(&store, &token).await {
            Ok(v) => {
                assert_eq!(v, value + 1, "an acknowledged increment was lost");
                value = v;
            }
            Err(e) if e.is_unavailable() && Instant::now() < deadline => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    assert!(
        topology.replica.cli(&["role"])?.starts_with("master"),
        "the replica was promoted"
    );
    assert_eq!(
        topology.replica.cli(&["exists", &key])?.trim(),
        "1",
        "the writes are on the new master"
    );
    // A store started now finds the new master straight away.
    let fresh: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&settings).await?);
    assert_eq!(counter(&fresh, &token).await?, Some(30));
    eprintln!("forced failover: {failures} requests answered 503");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_gives_503s_then_the_promoted_replica_serves_every_acknowledged_write(
) -> TestResult {
    let mut topology = topology().await?;
    let mut settings = topology.settings();
    settings.near_cache = false;
    let store: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&settings).await?);
    let token = new_session(&store).await?;
    for n in 1..=10 {
        assert_eq!(increment(&store, &token).await?, n);
    }
    topology.replicated()?;

    topology.master.kill()?;
    let killed = Instant::now();
    let (mut unavailable, mut value) = (0, 10);
    // Requests go on through the outage: each answers within the time limits (503
    // while there is no master) until the sentinels have promoted the replica.
    while value < 15 {
        let started = Instant::now();
        match increment(&store, &token).await {
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
        if killed.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "no recovery 30 s after the master was killed ({unavailable} 503s)"
            )
            .into());
        }
        if value < 15 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        unavailable > 0,
        "the outage should have been answered with 503s"
    );
    assert_eq!(topology.named_master(), Some(topology.replica.port()));
    assert_eq!(counter(&store, &token).await?, Some(15));
    eprintln!(
        "killed master: {unavailable} requests answered 503; recovered after {:?}",
        killed.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn sentinel_settings_are_checked() -> TestResult {
    let mut settings = RedisSettings::default();
    settings.sentinel = Some(SentinelSettings::default());
    let error = RedisStore::connect_lazy(&settings)
        .await
        .err()
        .ok_or("an empty sentinel table was accepted")?;
    assert!(
        error.to_string().contains("redis.sentinel.master"),
        "{error}"
    );
    settings.sentinel = Some(SentinelSettings::new(NAME, Vec::<String>::new()));
    let error = RedisStore::connect_lazy(&settings)
        .await
        .err()
        .ok_or("no sentinels was accepted")?;
    assert!(
        error.to_string().contains("redis.sentinel.nodes"),
        "{error}"
    );
    // Nothing answers on the sentinels' port: the startup check says so.
    let port = session_testkit::servers::free_port()?;
    settings.sentinel = Some(SentinelSettings::new(NAME, [format!("127.0.0.1:{port}")]));
    settings.connect_timeout_ms = 300;
    let error = RedisStore::connect(&settings)
        .await
        .err()
        .ok_or("connected with no sentinel up")?;
    assert!(error.to_string().contains("sentinel"), "{error}");
    Ok(())
}

/// The near-cache across a Sentinel failover: app server A reads a session again
/// from the promoted replica (over a new connection), then app server B changes it
/// and signs it out. A never serves the old session past the staleness bound: the
/// new connection is tracked before A caches anything read over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_another_servers_change_is_never_served_stale() -> TestResult {
    let mut topology = topology().await?;
    let settings = topology.settings();
    let a_store = RedisStore::connect(&settings).await?;
    let a: Arc<dyn SessionStore> = Arc::new(a_store.clone());
    let b: Arc<dyn SessionStore> = Arc::new(RedisStore::connect(&settings).await?);
    let token = new_session(&b).await?;
    assert_eq!(increment(&b, &token).await?, 1);
    assert_eq!(counter(&a, &token).await?, Some(1));
    assert_eq!(counter(&a, &token).await?, Some(1));
    topology.replicated()?;
    topology.master.kill()?;

    // A reads it again from the promoted replica, until it answers.
    let killed = Instant::now();
    loop {
        match counter(&a, &token).await {
            Ok(Some(1)) => break,
            Ok(other) => return Err(format!("A read {other:?} after the failover").into()),
            Err(_) if killed.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
    // Once the store has settled on the new master, A serves it from its cache
    // again (a failure while it settles counts as not yet).
    let before = a_store.near_cache_stats().ok_or("near-cache off")?;
    let mut cached_again = false;
    for _ in 0..100 {
        match counter(&a, &token).await {
            Ok(Some(1)) => {}
            Ok(other) => return Err(format!("A read {other:?} after the failover").into()),
            Err(_) => {}
        }
        if a_store
            .near_cache_stats()
            .is_some_and(|now| now.hits > before.hits)
        {
            cached_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        cached_again,
        "A never cached the session again on the promoted master"
    );

    // B changes it, then signs it out: A sees both within the patience.
    let start = Instant::now();
    loop {
        match increment(&b, &token).await {
            Ok(2) => break,
            Ok(other) => return Err(format!("B counted {other}").into()),
            Err(e) if e.is_unavailable() && start.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let wrote = Instant::now();
    while counter(&a, &token).await? != Some(2) {
        if wrote.elapsed() > Duration::from_secs(5) {
            return Err("A served the old value 5 s after B's write".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let seen = wrote.elapsed();
    let session = Session::new(b.clone(), Expiry::default(), Some(token.clone()));
    session.invalidate().await?;
    session.commit().await?;
    let signed_out = Instant::now();
    while counter(&a, &token).await?.is_some() {
        if signed_out.elapsed() > Duration::from_secs(5) {
            return Err("A served the signed-out session 5 s after B signed it out".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    eprintln!(
        "after the failover, A saw B's write after {seen:?} and the sign-out after {:?}",
        signed_out.elapsed()
    );
    Ok(())
}
