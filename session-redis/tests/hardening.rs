//! The production guarantees of a server store against real `redis-server` processes: connections that heal, startup
//! checks that name the cause, and (below) the size cap, bounded growth, complete
//! removal, lossless regenerate and atomic counters.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::HalfOpenProxy;
use common::read;
use session_core::{Error, Expiry, Session, SessionStore, TokenUpdate};
use session_redis::RedisSettings;
use session_redis::RedisStore;
use session_testkit::servers::{free_port, RedisServer};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Saves a new session holding `key` = `value`; its token.
async fn save_new(store: &Arc<dyn SessionStore>, key: &str, value: &str) -> Result<String, Error> {
    common::save_new(store, Expiry::default(), &[(key, value)]).await
}

fn short_timeouts(mut settings: RedisSettings) -> RedisSettings {
    settings.connect_timeout_ms = 300;
    settings.response_timeout_ms = 300;
    settings
}

/// Item 2: a connection that silently swallows traffic is replaced; the store is
/// back within connect + response timeout + 1 s, without a restart.
#[tokio::test]
async fn a_half_open_connection_is_replaced_within_the_timeouts_plus_a_second() -> TestResult {
    let server = RedisServer::start()?;
    let proxy = HalfOpenProxy::start(server.port()).await?;
    let mut settings = short_timeouts(common::settings_for(&server));
    settings.port = proxy.port;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = save_new(&store, "user", "ada").await?;
    assert_eq!(read(&store, &token, "user").await?.as_deref(), Some("ada"));

    proxy.silence_open_connections();
    let silenced = Instant::now();
    let bound = Duration::from_millis(300 + 300 + 1000);
    let mut healed = None;
    while silenced.elapsed() < Duration::from_secs(10) {
        let started = Instant::now();
        let result = read(&store, &token, "user").await;
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "a call waited {:?}",
            started.elapsed()
        );
        if let Ok(Some(user)) = result {
            assert_eq!(user, "ada");
            healed = Some(silenced.elapsed());
            break;
        }
    }
    let healed = healed.ok_or("the store never recovered from a half-open connection")?;
    assert!(
        healed <= bound,
        "recovered after {healed:?}, more than {bound:?}"
    );
    assert!(proxy.connections() >= 2, "no new connection was made");
    // And it stays healed.
    for _ in 0..20 {
        assert_eq!(read(&store, &token, "user").await?.as_deref(), Some("ada"));
    }
    Ok(())
}

/// Item 2 under load: 8 writers keep writing while the connection goes half-open;
/// no write answered as saved is lost, no call hangs past its budget, and writes
/// succeed again within the bound.
#[tokio::test]
async fn writers_under_load_lose_nothing_acknowledged_across_a_half_open_connection() -> TestResult
{
    let server = RedisServer::start()?;
    let proxy = HalfOpenProxy::start(server.port()).await?;
    let mut settings = short_timeouts(common::settings_for(&server));
    settings.port = proxy.port;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = save_new(&store, "user", "ada").await?;
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let token = token.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut slowest = Duration::ZERO;
            let until = Instant::now() + Duration::from_secs(3);
            let mut i = 0;
            while Instant::now() < until {
                let key = format!("w{w}-{i}");
                let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
                let started = Instant::now();
                let ok = s.set(&key, &i).await.is_ok()
                    && matches!(
                        s.commit().await,
                        Ok(TokenUpdate::Keep | TokenUpdate::Send(_))
                    );
                slowest = slowest.max(started.elapsed());
                if ok {
                    acknowledged.push(key);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (acknowledged, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.silence_open_connections();
    let mut acknowledged = Vec::new();
    for writer in writers {
        let (keys, slowest) = writer.await?;
        assert!(
            slowest < Duration::from_millis(1500),
            "a save waited {slowest:?}"
        );
        acknowledged.extend(keys);
    }
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    let all = s.all().await?;
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|k| !all.contains_key(*k))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    assert!(
        acknowledged.len() > 100,
        "only {} writes succeeded",
        acknowledged.len()
    );
    Ok(())
}

/// Item 7: a misconfigured Redis is reported at startup, with the cause named.
#[tokio::test]
async fn startup_names_the_cause_of_an_unusable_redis() -> TestResult {
    // Nothing listening.
    let mut settings = short_timeouts(RedisSettings::default());
    settings.port = free_port()?;
    let err = RedisStore::connect(&settings)
        .await
        .err()
        .ok_or("connected to nothing")?;
    let text = err.to_string();
    assert!(
        text.contains("nothing listens") && text.contains("running"),
        "{text}"
    );

    // A wrong password.
    let protected = common::protected_node();
    let mut settings = short_timeouts(common::settings_for(protected));
    settings.password = Some("wrong".into());
    let err = RedisStore::connect(&settings)
        .await
        .err()
        .ok_or("a wrong password connected")?;
    let text = err.to_string();
    assert!(text.contains("password"), "{text}");
    assert!(
        !text.contains("running"),
        "a wrong password is not a missing server: {text}"
    );

    // No password where one is required.
    settings.password = None;
    let err = RedisStore::connect(&settings)
        .await
        .err()
        .ok_or("no password connected")?;
    assert!(err.to_string().contains("password"), "{err}");

    // An unknown host.
    let mut settings = short_timeouts(RedisSettings::default());
    settings.host = "no-such-host.invalid".into();
    let err = RedisStore::connect(&settings)
        .await
        .err()
        .ok_or("an unknown host connected")?;
    assert!(err.to_string().contains("does not resolve"), "{err}");

    // The app may still choose to start.
    let mut settings = short_timeouts(RedisSettings::default());
    settings.port = free_port()?;
    assert!(RedisStore::connect_lazy(&settings).await.is_ok());
    Ok(())
}

/// The stored length of a session's value.
fn stored_len(
    server: &RedisServer,
    store: &RedisStore,
    token: &str,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let id = session_core::SessionId::parse(token).ok_or("not a session id")?;
    Ok(server
        .cli(&["STRLEN", &store.key_of(&id)])?
        .trim()
        .parse()?)
}

/// Item 1: a save past `max_session_bytes` is refused with `TooLarge`, stores
/// nothing, and creates no session for a client without one.
#[tokio::test]
async fn a_save_past_the_cap_is_too_large_and_stores_nothing() -> TestResult {
    let server = RedisServer::start()?;
    let mut settings = common::settings_for(&server);
    settings.max_session_bytes = 64 * 1024;
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let big = "x".repeat(70 * 1024);
    // No cookie yet: nothing is created.
    let s = Session::new(store.clone(), Expiry::default(), None);
    s.set("big", &big).await?;
    assert!(matches!(
        s.commit().await,
        Err(Error::TooLarge { limit: 65536, .. })
    ));
    assert_eq!(server.cli(&["DBSIZE"])?.trim(), "0");
    // An existing session grown past the cap a piece at a time, write-only.
    let token = save_new(&store, "user", "ada").await?;
    let piece = "y".repeat(20 * 1024);
    let mut refused = false;
    for i in 0..5 {
        let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        s.set(&format!("p{i}"), &piece).await?;
        match s.commit().await {
            Ok(_) => {}
            Err(Error::TooLarge { size, limit }) => {
                assert!(size > limit && limit == 65536, "{size} {limit}");
                refused = true;
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    assert!(refused, "a session grew past the cap");
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    let keys = s.keys().await?;
    assert_eq!(
        keys,
        ["p0", "p1", "p2", "user"],
        "the refused write was stored"
    );
    assert!(stored_len(&server, &common::connect(&settings).await, &token)? <= 65536);
    Ok(())
}

/// Item 4: write-only saves no longer grow a value without bound: after 5,000
/// write-only saves of one small key the stored value is under 16 KiB.
#[tokio::test]
async fn five_thousand_write_only_saves_of_one_key_stay_under_16_kib() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let redis = common::connect(&settings).await;
    let store: Arc<dyn SessionStore> = Arc::new(redis.clone());
    let token = save_new(&store, "user", "ada").await?;
    let mut largest = 0;
    for i in 0..5000 {
        let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        s.set("counter", &i).await?;
        assert!(matches!(s.commit().await?, TokenUpdate::Send(t) if t == token));
        if i % 250 == 0 {
            largest = largest.max(stored_len(&server, &redis, &token)?);
        }
    }
    let len = stored_len(&server, &redis, &token)?;
    assert!(
        len < 16 * 1024 && largest < 16 * 1024,
        "stored {len} bytes (largest seen {largest})"
    );
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    assert_eq!(s.get::<i32>("counter").await?, Some(4999));
    assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
    Ok(())
}

/// Item 5: a write-only delete of the last key removes the session from Redis and
/// tells the client to drop its cookie.
#[tokio::test]
async fn a_write_only_delete_of_the_last_key_removes_the_key() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = save_new(&store, "only", "one").await?;
    assert_eq!(server.cli(&["DBSIZE"])?.trim(), "1");
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    s.delete("only").await?;
    assert_eq!(s.commit().await?, TokenUpdate::Remove);
    assert_eq!(
        server.cli(&["DBSIZE"])?.trim(),
        "0",
        "the empty session stayed in redis"
    );
    // A delete that leaves something behind keeps the session.
    let token = save_new(&store, "a", "1").await?;
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    s.set("b", "2").await?;
    s.commit().await?;
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    s.delete("a").await?;
    assert_eq!(s.commit().await?, TokenUpdate::Send(token.clone()));
    assert_eq!(read(&store, &token, "b").await?.as_deref(), Some("2"));
    Ok(())
}

/// Item 3: 10 writers racing a `regenerate`, 20 rounds: every write answered without
/// a new token is in the regenerated session.
#[tokio::test]
async fn regenerate_racing_ten_writers_loses_no_acknowledged_write() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let mut token = save_new(&store, "user", "ada").await?;
    let mut total = 0;
    for round in 0..20 {
        let mut writers = Vec::new();
        for w in 0..10 {
            let (store, old) = (store.clone(), token.clone());
            writers.push(tokio::spawn(async move {
                let mut kept = Vec::new();
                for i in 0..6 {
                    let key = format!("r{round}w{w}i{i}");
                    let s = Session::new(store.clone(), Expiry::default(), Some(old.clone()));
                    s.set(&key, &i).await?;
                    if s.commit().await? == TokenUpdate::Send(old.clone()) {
                        kept.push(key);
                    }
                }
                Ok::<_, Error>(kept)
            }));
        }
        tokio::task::yield_now().await;
        let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        s.get::<String>("user").await?;
        s.regenerate().await?;
        let TokenUpdate::Send(new) = s.commit().await? else {
            return Err("regenerate sent no token".into());
        };
        let mut acknowledged = Vec::new();
        for writer in writers {
            acknowledged.extend(writer.await??);
        }
        total += acknowledged.len();
        let s = Session::new(store.clone(), Expiry::default(), Some(new.clone()));
        let keys = s.keys().await?;
        let lost: Vec<&String> = acknowledged.iter().filter(|k| !keys.contains(k)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged writes lost: {lost:?}",
            lost.len()
        );
        token = new;
    }
    assert!(total > 0, "no write raced the regenerates");
    Ok(())
}

/// Item 6: 20 rounds of 20 concurrent increments end at exactly 400.
#[tokio::test]
async fn twenty_rounds_of_twenty_concurrent_increments_end_at_400() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let store: Arc<dyn SessionStore> = Arc::new(common::connect(&settings).await);
    let token = save_new(&store, "user", "ada").await?;
    for _ in 0..20 {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (store, token) = (store.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let s = Session::new(store, Expiry::default(), Some(token));
                s.increment("hits", 1).await?;
                s.commit().await
            }));
        }
        for task in tasks {
            task.await??;
        }
    }
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    assert_eq!(s.get::<i64>("hits").await?, Some(400));
    Ok(())
}

/// The startup check leaves no connection bound to the runtime that made it: a store
/// connected on one runtime (a setup runtime, dropped after) answers its first call
/// on another.
#[test]
fn a_store_checked_on_one_runtime_serves_its_first_request_on_another() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store: Arc<dyn SessionStore> = Arc::new(setup.block_on(RedisStore::connect(&settings))?);
    drop(setup);
    let serving = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    serving.block_on(async {
        let token = save_new(&store, "user", "ada").await?;
        assert_eq!(read(&store, &token, "user").await?.as_deref(), Some("ada"));
        Ok(())
    })
}

/// Item 4 for counters: a session that only counts (each request loads, increments
/// and saves) is compacted like any other, with no increment counted twice.
#[tokio::test]
async fn two_thousand_increments_stay_small_and_count_exactly() -> TestResult {
    let server = RedisServer::start()?;
    let settings = common::settings_for(&server);
    let redis = common::connect(&settings).await;
    let store: Arc<dyn SessionStore> = Arc::new(redis.clone());
    let token = save_new(&store, "user", "ada").await?;
    let mut largest = 0;
    for i in 1..=2000 {
        let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        assert_eq!(s.increment("n", 1).await?, i);
        s.commit().await?;
        if i % 50 == 0 {
            largest = largest.max(stored_len(&server, &redis, &token)?);
        }
    }
    assert!(largest < 4096, "a counting session grew to {largest} bytes");
    let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    assert_eq!(s.get::<i64>("n").await?, Some(2000));
    Ok(())
}
