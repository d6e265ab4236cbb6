//! SPEC 4a against real `redis-server` processes: connections that heal, startup
//! checks that name the cause, and (below) the size cap, bounded growth, complete
//! removal, lossless regenerate and atomic counters.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::HalfOpenProxy;
use session_core::{Error, Expiry, RedisSettings, Session, SessionStore, TokenUpdate};
use session_redis::RedisStore;
use session_testkit::servers::{free_port, RedisServer};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn save_new(store: &Arc<dyn SessionStore>, key: &str, value: &str) -> Result<String, Error> {
    let s = Session::new(store.clone(), Expiry::default(), None);
    s.set(key, value).await?;
    match s.commit().await? {
        TokenUpdate::Send(token) => Ok(token),
        other => Err(Error::config(
            "test",
            format!("expected a token, got {other:?}"),
        )),
    }
}

async fn read(
    store: &Arc<dyn SessionStore>,
    token: &str,
    key: &str,
) -> Result<Option<String>, Error> {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let v = s.get::<String>(key).await?;
    s.commit().await?;
    Ok(v)
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
