//! The demo over real HTTP on the Redis driver, against a redis-server of its own.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use session_core::{Driver, SessionConfig};
use session_redis::RedisStore;
use session_testkit::servers::RedisServer;
use session_tower::SessionLayer;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// A demo server built from configuration, the way an app switches drivers.
async fn server(redis: &RedisServer) -> Result<String, Boxed> {
    let mut config = SessionConfig::default();
    config.apply_env(|name| match name {
        "SESSION_DRIVER" => Some("redis".into()),
        "SESSION_REDIS_PORT" => Some(redis.port().to_string()),
        _ => None,
    })?;
    assert_eq!(config.default, Driver::Redis);
    config.redis.connect_timeout_ms = 300;
    config.redis.response_timeout_ms = 300;
    Ok(serve(session_demo::session_layer(config).await?).await?)
}

http_scenarios!(async {
    let redis = RedisServer::start()?;
    let base = server(&redis).await?;
    Ok::<_, Boxed>((redis, base))
});

#[tokio::test]
async fn regenerate_and_invalidate_kill_the_old_token() -> TestResult {
    let redis = RedisServer::start()?;
    let base = server(&redis).await?;
    let c = bare()?;
    let r = c
        .put(format!("{base}/api/session/user"))
        .body("\"ada\"")
        .send()
        .await?;
    let first = cookie_header(&r);
    let r = c
        .post(format!("{base}/api/session/regenerate"))
        .header(COOKIE, &first)
        .send()
        .await?;
    let second = cookie_header(&r);
    assert!(!second.is_empty() && second != first);
    let old = c
        .get(format!("{base}/api/session/user"))
        .header(COOKIE, &first)
        .send()
        .await?;
    assert_eq!(
        old.status(),
        StatusCode::NOT_FOUND,
        "the pre-regenerate token still works"
    );
    let new = c
        .get(format!("{base}/api/session/user"))
        .header(COOKIE, &second)
        .send()
        .await?;
    assert_eq!(new.json::<Value>().await?, json!("ada"));
    let r = c
        .post(format!("{base}/api/session/invalidate"))
        .header(COOKIE, &second)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let dead = c
        .get(format!("{base}/api/session/user"))
        .header(COOKIE, &second)
        .send()
        .await?;
    assert_eq!(
        dead.status(),
        StatusCode::NOT_FOUND,
        "the invalidated token still works"
    );
    Ok(())
}

#[tokio::test]
async fn redis_down_is_503_without_set_cookie_then_recovers() -> TestResult {
    let mut redis = RedisServer::start()?;
    let base = server(&redis).await?;
    let c = bare()?;
    let r = c
        .put(format!("{base}/api/session/user"))
        .body("\"ada\"")
        .send()
        .await?;
    let cookie = cookie_header(&r);
    redis.kill()?;
    for (method, path, body) in [
        (Method::GET, "/api/session/user", None),
        (Method::PUT, "/api/session/user", Some("\"bob\"")),
        (Method::GET, "/", None),
    ] {
        let mut req = c
            .request(method.clone(), format!("{base}{path}"))
            .header(COOKIE, &cookie);
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = req.send().await?;
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        assert!(
            set_cookies(&r).is_empty(),
            "{method} {path} touched the cookie while redis was down"
        );
    }
    // A route that never touches the session still works.
    assert_eq!(
        c.get(format!("{base}/health")).send().await?.status(),
        StatusCode::OK
    );
    redis.restart()?;
    let mut ok = false;
    for _ in 0..40 {
        let r = c
            .put(format!("{base}/api/session/again"))
            .body("1")
            .send()
            .await?;
        if r.status() == StatusCode::NO_CONTENT {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the demo did not recover after redis came back");
    Ok(())
}

#[tokio::test]
async fn a_layer_over_a_shared_store_serves_two_apps() -> TestResult {
    // Two app servers over one Redis: a session made on one is read on the other.
    let redis = RedisServer::start()?;
    let mut settings = session_core::RedisSettings::default();
    settings.port = redis.port();
    let store = Arc::new(RedisStore::connect(&settings).await?);
    let one = serve(SessionLayer::from_arc(store.clone())).await?;
    let two = serve(SessionLayer::from_arc(store)).await?;
    let c = bare()?;
    let r = c
        .put(format!("{one}/api/session/cart"))
        .body("[1,2]")
        .send()
        .await?;
    let cookie = cookie_header(&r);
    let r = c
        .get(format!("{two}/api/session/cart"))
        .header(COOKIE, cookie)
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?, json!([1, 2]));
    Ok(())
}
