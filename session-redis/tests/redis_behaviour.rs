//! The Redis driver against real servers: isolation, TTLs, no tokens at rest,
//! concurrency, garbage, outages, and the round-trip budget.
mod common;

use common::{read, save_new};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Error, Expiry, Session, SessionStore, TokenUpdate};
use session_redis::RedisStore;
use session_testkit::servers::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[tokio::test]
async fn namespaces_and_databases_are_isolated() -> TestResult {
    let server = common::node();
    let a: Arc<dyn SessionStore> = Arc::new(common::connect(&common::settings_for(server)).await);
    let b: Arc<dyn SessionStore> = Arc::new(common::connect(&common::settings_for(server)).await);
    let token = save_new(&a, Expiry::default(), &[("user", "ada")]).await?;
    assert_eq!(read(&a, &token, "user").await?.as_deref(), Some("ada"));
    assert_eq!(
        read(&b, &token, "user").await?,
        None,
        "namespace b saw namespace a's session"
    );

    let mut db0 = common::settings_for(server);
    let mut db1 = db0.clone();
    db0.options.db = 0;
    db1.options.db = 1;
    let db0: Arc<dyn SessionStore> = Arc::new(common::connect(&db0).await);
    let db1: Arc<dyn SessionStore> = Arc::new(common::connect(&db1).await);
    let token = save_new(&db1, Expiry::default(), &[("user", "bob")]).await?;
    assert_eq!(read(&db1, &token, "user").await?.as_deref(), Some("bob"));
    assert_eq!(
        read(&db0, &token, "user").await?,
        None,
        "db 0 saw db 1's session"
    );
    Ok(())
}

fn pttl(server: &RedisServer, key: &str) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    Ok(server.cli(&["pttl", key])?.trim().parse()?)
}

#[tokio::test]
async fn ttl_is_the_timeout_after_a_write_and_after_a_read() -> TestResult {
    let server = common::node();
    let settings = common::settings_for(server);
    let store = common::connect(&settings).await;
    let key_of = |token: &str| session_core::SessionId::parse(token).map(|id| store.key_of(&id));
    let shared: Arc<dyn SessionStore> = Arc::new(store.clone());
    let expiry = Expiry::new(Duration::from_secs(100));
    let token = save_new(&shared, expiry, &[("a", "1")]).await?;
    let key = key_of(&token).ok_or("bad token")?;
    let after_write = pttl(server, &key)?;
    assert!(
        (97_000..=100_000).contains(&after_write),
        "PTTL after write: {after_write}"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(pttl(server, &key)? < 97_000, "the TTL runs down while idle");
    let s = Session::new(shared.clone(), expiry, Some(token.clone()));
    s.get::<String>("a").await?;
    assert_eq!(
        s.commit().await?,
        TokenUpdate::Keep,
        "a read needs no save on redis"
    );
    let after_read = pttl(server, &key)?;
    assert!(
        (97_000..=100_000).contains(&after_read),
        "PTTL after read: {after_read}"
    );
    Ok(())
}

#[tokio::test]
async fn no_raw_token_is_stored_in_any_key_or_value() -> TestResult {
    let server = common::node();
    let settings = common::settings_for(server);
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let mut tokens = Vec::new();
    for i in 0..5 {
        let token = save_new(
            &store,
            Expiry::default(),
            &[("user", "ada"), ("n", &i.to_string())],
        )
        .await?;
        tokens.push(token);
    }
    let keys = server.cli(&["--scan", "--pattern", &format!("{}:*", settings.namespace)])?;
    let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    assert_eq!(keys.len(), 5);
    let mut dump = keys.join("\n");
    for key in &keys {
        dump.push_str(&server.cli(&["get", key])?);
    }
    for token in &tokens {
        assert!(
            !dump.contains(token.as_str()),
            "a raw token is stored in redis"
        );
    }
    Ok(())
}

#[tokio::test]
async fn fifty_rounds_of_concurrent_saves_to_different_keys_lose_nothing() -> TestResult {
    let store: Arc<dyn SessionStore> =
        Arc::new(common::connect(&common::settings_for(common::node())).await);
    let token = save_new(&store, Expiry::default(), &[("base", "0")]).await?;
    for round in 0..50 {
        let a = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        let b = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        let (ra, rb) = tokio::join!(
            async {
                a.get::<String>("base").await?;
                a.set(&format!("a{round}"), &round).await?;
                a.commit().await
            },
            async {
                b.get::<String>("base").await?;
                b.set(&format!("b{round}"), &round).await?;
                b.commit().await
            }
        );
        ra?;
        rb?;
    }
    let s = Session::new(store.clone(), Expiry::default(), Some(token));
    let all: BTreeMap<String, serde_json::Value> = s.all().await?;
    for round in 0..50 {
        assert_eq!(
            all.get(&format!("a{round}")),
            Some(&serde_json::json!(round)),
            "lost a{round}"
        );
        assert_eq!(
            all.get(&format!("b{round}")),
            Some(&serde_json::json!(round)),
            "lost b{round}"
        );
    }
    Ok(())
}

/// How many times Redis ran `command`, scripts' calls included (`INFO commandstats`).
fn calls(
    server: &RedisServer,
    command: &str,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let stats = server.cli(&["info", "commandstats"])?;
    let prefix = format!("cmdstat_{command}:calls=");
    Ok(stats
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// Loads the script of the common save (once per store, as any script): a session of
/// its own, loaded and changed.
async fn warm_up_the_common_save(
    store: &Arc<dyn SessionStore>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let token = save_new(store, Expiry::default(), &[("warm", "up")]).await?;
    let s = Session::new(store.clone(), Expiry::default(), Some(token));
    s.get::<String>("warm").await?;
    s.set("more", &1).await?;
    s.commit().await?;
    Ok(())
}

#[tokio::test]
async fn a_save_appends_and_writes_whole_only_to_compact() -> TestResult {
    let server = RedisServer::start()?;
    let store = common::connect(&common::settings_for(&server)).await;
    let shared: Arc<dyn SessionStore> = Arc::new(store.clone());
    let token = save_new(
        &shared,
        Expiry::default(),
        &[("user", "ada"), ("theme", "dark")],
    )
    .await?;
    let key = session_core::SessionId::parse(&token)
        .map(|id| store.key_of(&id))
        .ok_or("bad id")?;
    let session = || Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
    let strlen = |server: &RedisServer| -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(server.cli(&["strlen", &key])?.trim().parse()?)
    };

    warm_up_the_common_save(&shared).await?;
    // Alone: one call that appends this request's change (the append script: the
    // size check and the APPEND in one atomic step), nothing written whole.
    server.cli(&["config", "resetstat"])?;
    let before = strlen(&server)?;
    let alone = session();
    assert_eq!(alone.get::<String>("user").await?.as_deref(), Some("ada"));
    alone.set("theme", "light").await?;
    alone.commit().await?;
    assert_eq!(calls(&server, "append")?, 1);
    assert_eq!(
        calls(&server, "evalsha")?,
        1,
        "an uncontended save is one call"
    );
    assert_eq!(
        calls(&server, "set")?,
        0,
        "an uncontended save wrote the session whole"
    );
    assert!(strlen(&server)? > before, "the change was not appended");

    // Interleaved: both load, b saves first; a's change lands after b's, and both
    // requests keep their writes and deletes.
    let (a, b) = (session(), session());
    assert!(a.has("user").await? && b.has("user").await?);
    b.set("cart", "apple").await?;
    b.delete("theme").await?;
    b.commit().await?;
    a.set("lang", "en").await?;
    a.commit().await?;
    let expected: BTreeMap<String, serde_json::Value> =
        [("cart", "apple"), ("lang", "en"), ("user", "ada")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
            .collect();
    assert_eq!(
        session().all().await?,
        expected,
        "b's delete or write, or a's write, was lost"
    );

    // Many saves: the changes are compacted into a new snapshot now and then, so the
    // stored value stays near the session's size, and nothing is lost on the way.
    server.cli(&["config", "resetstat"])?;
    for i in 0..40 {
        let s = session();
        assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
        s.set("counter", &i).await?;
        s.commit().await?;
    }
    // A compaction writes the session whole (a `SET` inside the save script).
    let compactions = calls(&server, "set")?;
    assert!(compactions >= 1, "40 saves never compacted");
    assert!(compactions <= 20, "compacted at {compactions} of 40 saves");
    assert!(strlen(&server)? < 400, "the stored value keeps growing");
    let all = session().all().await?;
    assert_eq!(all.get("counter"), Some(&serde_json::json!(39)));
    assert_eq!(all.get("lang"), Some(&serde_json::json!("en")));
    assert_eq!(all.len(), 4);

    // A compaction keeps what others appended since its load, and its own change
    // wins the keys both changed: a loads a session with a large value appended and
    // removes it (so a's save compacts), but b appends after a's load.
    let big = session();
    big.set("blob", &"x".repeat(1000)).await?;
    big.commit().await?;
    let (a, b) = (session(), session());
    assert!(a.has("blob").await? && b.has("blob").await?);
    b.set("late", "b").await?;
    b.set("counter", &-1).await?;
    b.commit().await?;
    server.cli(&["config", "resetstat"])?;
    a.delete("blob").await?;
    a.set("counter", &100).await?;
    a.commit().await?;
    assert_eq!(calls(&server, "set")?, 1, "a's save did not compact");
    assert_eq!(calls(&server, "append")?, 0);
    assert!(strlen(&server)? < 400, "the blob is still stored");
    let all = session().all().await?;
    assert_eq!(
        all.get("late"),
        Some(&serde_json::json!("b")),
        "b's write was lost"
    );
    assert_eq!(
        all.get("counter"),
        Some(&serde_json::json!(100)),
        "the last writer did not win"
    );
    assert!(!all.contains_key("blob"), "a's delete was lost");

    // Two compactions from one load: the first wins, the second finds a new revision
    // and appends its change instead of overwriting.
    let big = session();
    big.set("blob", &"y".repeat(1000)).await?;
    big.commit().await?;
    let (a, b) = (session(), session());
    assert!(a.has("blob").await? && b.has("blob").await?);
    b.delete("blob").await?;
    b.set("from_b", &1).await?;
    b.commit().await?;
    server.cli(&["config", "resetstat"])?;
    a.delete("blob").await?;
    a.set("from_a", &2).await?;
    a.commit().await?;
    assert_eq!(
        calls(&server, "evalsha")?,
        1,
        "a's save was not a compaction"
    );
    assert_eq!(calls(&server, "set")?, 0, "a's compaction overwrote b's");
    assert_eq!(calls(&server, "append")?, 1);
    let all = session().all().await?;
    assert_eq!(
        all.get("from_b"),
        Some(&serde_json::json!(1)),
        "b's write was lost"
    );
    assert_eq!(
        all.get("from_a"),
        Some(&serde_json::json!(2)),
        "a's write was lost"
    );
    assert!(!all.contains_key("blob"));
    assert_eq!(all.get("late"), Some(&serde_json::json!("b")));
    Ok(())
}

/// A request that loaded `user` = `ada` from a new session on `server` and is still
/// running; with the store, the token, and the session's Redis key.
struct SlowRequest {
    store: Arc<dyn SessionStore>,
    token: String,
    key: String,
    session: Session,
}

impl SlowRequest {
    async fn start(server: &RedisServer) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let redis = common::connect(&common::settings_for(server)).await;
        let store: Arc<dyn SessionStore> = Arc::new(redis.clone());
        let token = save_new(&store, Expiry::default(), &[("user", "ada")]).await?;
        let key = session_core::SessionId::parse(&token)
            .map(|id| redis.key_of(&id))
            .ok_or("bad id")?;
        let session = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        assert!(session.has("user").await?);
        Ok(SlowRequest {
            store,
            token,
            key,
            session,
        })
    }

    /// Writes `cart` and saves: the save must start a fresh session holding `cart`
    /// alone. Returns its token.
    async fn finish(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        self.session.set("cart", "apple").await?;
        let TokenUpdate::Send(new_token) = self.session.commit().await? else {
            return Err("the slow request's write should start a fresh session".into());
        };
        assert_ne!(new_token, self.token);
        assert_eq!(
            read(&self.store, &new_token, "user").await?,
            None,
            "the old session's data came back"
        );
        assert_eq!(
            read(&self.store, &new_token, "cart").await?.as_deref(),
            Some("apple")
        );
        Ok(new_token)
    }
}

#[tokio::test]
async fn a_session_destroyed_mid_request_is_not_brought_back() -> TestResult {
    let server = common::node();
    let slow = SlowRequest::start(server).await?;
    // Another request destroys it (logout in another tab).
    slow.store.destroy(&slow.token).await?;
    slow.finish().await?;
    // Nothing is left under the destroyed session's key, not even a fragment.
    assert_eq!(server.cli(&["exists", &slow.key])?.trim(), "0");
    assert_eq!(read(&slow.store, &slow.token, "user").await?, None);
    Ok(())
}

#[tokio::test]
async fn a_session_replaced_by_another_type_mid_request_is_left_alone() -> TestResult {
    let server = common::node();
    let slow = SlowRequest::start(server).await?;
    server.cli(&["del", &slow.key])?;
    server.cli(&["rpush", &slow.key, "not", "a", "session"])?;
    slow.finish().await?;
    assert_eq!(
        server.cli(&["llen", &slow.key])?.trim(),
        "3",
        "the list was touched"
    );
    Ok(())
}

#[tokio::test]
async fn garbage_under_a_session_key_gives_a_fresh_session() -> TestResult {
    let server = common::node();
    let store = common::connect(&common::settings_for(server)).await;
    let shared: Arc<dyn SessionStore> = Arc::new(store.clone());
    let writers: [&[&str]; 4] = [
        &["set", "KEY", "garbage"],
        &["hset", "KEY", "=k", "p1"],
        &["hset", "KEY", "#c", "1", "=k", "xnot-a-kind"],
        &["rpush", "KEY", "a", "b"],
    ];
    for writer in writers {
        let token = session_core::SessionId::generate()?.to_string();
        let key = session_core::SessionId::parse(&token)
            .map(|id| store.key_of(&id))
            .ok_or("bad id")?;
        let args: Vec<&str> = writer
            .iter()
            .map(|a| if *a == "KEY" { key.as_str() } else { a })
            .collect();
        server.cli(&args)?;
        let s = Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
        assert_eq!(s.keys().await?, Vec::<String>::new(), "{writer:?}");
        s.set("k", &1).await?;
        let TokenUpdate::Send(fresh) = s.commit().await? else {
            return Err("expected a fresh session".into());
        };
        assert_ne!(
            fresh, token,
            "garbage was adopted as a session ({writer:?})"
        );
    }
    Ok(())
}

/// A store with short timeouts against a server of its own.
async fn short_timeout_store(server: &RedisServer) -> RedisStore {
    let mut settings = common::settings_for(server);
    settings.connect_timeout_ms = 300;
    settings.response_timeout_ms = 300;
    common::connect(&settings).await
}

/// The error a read of `user` in the session of `token` ends with; `Err(why)` when it
/// succeeded.
async fn failed_read(
    store: &Arc<dyn SessionStore>,
    token: &str,
    why: &'static str,
) -> Result<Error, &'static str> {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    s.get::<String>("user").await.err().ok_or(why)
}

#[tokio::test]
async fn redis_killed_mid_run_fails_fast_then_recovers_without_a_new_store() -> TestResult {
    let mut server = RedisServer::start()?;
    let store: Arc<dyn SessionStore> = Arc::new(short_timeout_store(&server).await);
    let token = save_new(&store, Expiry::default(), &[("user", "ada")]).await?;
    server.kill()?;
    for _ in 0..3 {
        let started = Instant::now();
        let err = failed_read(&store, &token, "a read from a dead redis succeeded").await?;
        assert!(err.is_unavailable(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "waited {:?}",
            started.elapsed()
        );
    }
    server.restart()?;
    let mut recovered = false;
    for _ in 0..40 {
        let s = Session::new(store.clone(), Expiry::default(), None);
        if s.set("again", &1).await.is_ok() && matches!(s.commit().await, Ok(TokenUpdate::Send(_)))
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store did not recover after redis came back");
    Ok(())
}

#[tokio::test]
async fn client_pause_longer_than_the_response_timeout_is_a_timeout_not_a_hang() -> TestResult {
    let server = RedisServer::start()?;
    let store: Arc<dyn SessionStore> = Arc::new(short_timeout_store(&server).await);
    let token = save_new(&store, Expiry::default(), &[("user", "ada")]).await?;
    server.cli(&["client", "pause", "3000", "all"])?;
    // The connection stays up, so each call waits the response timeout, no more.
    let started = Instant::now();
    for _ in 0..3 {
        let err = failed_read(&store, &token, "a paused redis answered").await?;
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "waited {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A TCP proxy in front of Redis that counts round trips: a turn is client bytes
/// followed by server bytes. Pipelined commands sent together are one turn, as they
/// are one round trip.
async fn round_trip_counter(upstream: u16) -> Result<(u16, Arc<AtomicUsize>), std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let turns = Arc::new(AtomicUsize::new(0));
    let counted = turns.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            let awaiting = Arc::new(AtomicBool::new(false));
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            let sent = awaiting.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = client_rx.read(&mut buf).await {
                    if n == 0 || server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent.store(true, Ordering::SeqCst);
                }
            });
            let turns = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = server_rx.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if awaiting.swap(false, Ordering::SeqCst) {
                        turns.fetch_add(1, Ordering::SeqCst);
                    }
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok((port, turns))
}

#[tokio::test]
async fn a_cached_read_makes_no_round_trip_and_a_write_one() -> TestResult {
    let server = RedisServer::start()?;
    let (port, turns) = round_trip_counter(server.port()).await?;
    let mut settings = common::settings_for(&server);
    settings.port = port;
    // The heartbeat's pings are round trips of their own, not of requests: one at
    // the first read, then none for a minute.
    settings.near_cache_heartbeat_ms = 60_000;
    let store = common::connect(&settings).await;
    let shared: Arc<dyn SessionStore> = Arc::new(store.clone());
    let token = save_new(&shared, Expiry::default(), &[("a", "1")]).await?;
    warm_up_the_common_save(&shared).await?;
    read(&shared, &token, "a").await?; // fills the cache
    tokio::time::sleep(Duration::from_millis(50)).await; // the first heartbeat's answer
    let before = turns.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(read(&shared, &token, "a").await?.as_deref(), Some("1"));
    }
    assert_eq!(turns.load(Ordering::SeqCst) - before, 0, "cached reads");
    let before = turns.load(Ordering::SeqCst);
    let s = Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
    s.get::<String>("a").await?;
    s.set("b", &2).await?;
    s.commit().await?;
    assert_eq!(
        turns.load(Ordering::SeqCst) - before,
        1,
        "a cached load, then one save"
    );
    // The write was appended onto the session as loaded, and the cache keeps the
    // session as written: once Redis' announcement of the write has come and a check
    // in the background finds it stored as written, the next read needs no round
    // trip, and sees the write.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = turns.load(Ordering::SeqCst);
    let s = Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
    assert_eq!(s.get::<i32>("b").await?, Some(2));
    assert_eq!(s.get::<String>("a").await?.as_deref(), Some("1"));
    s.commit().await?;
    assert_eq!(
        turns.load(Ordering::SeqCst) - before,
        0,
        "a read after a write"
    );
    // A write by another app server is read from Redis.
    let other: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let s = Session::new(other, Expiry::default(), Some(token.clone()));
    s.set("b", &3).await?;
    s.commit().await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let s = Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
        let b = s.get::<i32>("b").await?;
        s.commit().await?;
        if b == Some(3) {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err("the other server's write never arrived".into());
        }
    }
    let stats = store
        .near_cache_stats()
        .ok_or("the near-cache is on by default")?;
    assert!(stats.hits >= 7 && stats.misses >= 2, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn round_trips_load_1_save_1_untouched_0() -> TestResult {
    let server = RedisServer::start()?;
    let (port, turns) = round_trip_counter(server.port()).await?;
    let mut settings = common::settings_for(&server);
    settings.port = port;
    // Round trips without the near-cache (with it, see
    // `a_cached_read_makes_no_round_trip_and_a_write_one`).
    settings.near_cache = false;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    // Warm up: connection handshake and script loading happen once per store.
    let token = save_new(&store, Expiry::default(), &[("a", "1")]).await?;
    read(&store, &token, "a").await?;
    let expiry_with_lifetime = Expiry::default().with_lifetime(Duration::from_secs(7200));
    let s = Session::new(store.clone(), expiry_with_lifetime, Some(token.clone()));
    s.get::<String>("a").await?;
    s.commit().await?;
    warm_up_the_common_save(&store).await?;

    for (expiry, what) in [
        (Expiry::default(), "idle only"),
        (expiry_with_lifetime, "with a lifetime"),
    ] {
        let before = turns.load(Ordering::SeqCst);
        let s = Session::new(store.clone(), expiry, Some(token.clone()));
        s.get::<String>("a").await?;
        s.commit().await?;
        assert_eq!(
            turns.load(Ordering::SeqCst) - before,
            1,
            "a load with its TTL refresh ({what})"
        );
    }

    let before = turns.load(Ordering::SeqCst);
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    s.set("b", &2).await?;
    s.delete("a").await?;
    s.commit().await?;
    assert_eq!(
        turns.load(Ordering::SeqCst) - before,
        1,
        "a write-only request: one save, no load"
    );

    let before = turns.load(Ordering::SeqCst);
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    s.get::<i32>("b").await?;
    s.set("c", &3).await?;
    s.commit().await?;
    assert_eq!(turns.load(Ordering::SeqCst) - before, 2, "load + save");

    let before = turns.load(Ordering::SeqCst);
    let s = Session::new(store.clone(), Expiry::default(), Some(token));
    s.commit().await?;
    assert_eq!(
        turns.load(Ordering::SeqCst),
        before,
        "an untouched session calls redis"
    );

    // A malformed id is rejected before any backend call.
    for bad in ["short".to_owned(), "!".repeat(43), "A".repeat(44)] {
        let s = Session::new(store.clone(), Expiry::default(), Some(bad));
        assert_eq!(s.keys().await?, Vec::<String>::new());
        s.commit().await?;
    }
    assert_eq!(
        turns.load(Ordering::SeqCst),
        before,
        "a malformed id reached redis"
    );
    Ok(())
}
