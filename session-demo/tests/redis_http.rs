//! The demo over real HTTP on the Redis driver, against a redis-server of its own.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use session_redis::RedisStore;
use session_testkit::servers::RedisServer;
use session_tower::SessionConfig;
use session_tower::SessionLayer;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// A demo server built from configuration, the way an app switches drivers.
async fn server(redis: &RedisServer) -> Result<String, Boxed> {
    Ok(serve(layer(redis).await?).await?)
}

/// The demo's session layer on `redis`, built from configuration.
async fn layer(redis: &RedisServer) -> Result<SessionLayer, Boxed> {
    let mut config = SessionConfig::default();
    config.apply_env(|name| match name {
        "SESSION_DRIVER" => Some("redis".into()),
        "SESSION_REDIS_PORT" => Some(redis.port().to_string()),
        _ => None,
    })?;
    assert_eq!(config.default, "redis");
    config.redis.connect_timeout_ms = 300;
    config.redis.response_timeout_ms = 300;
    Ok(session_demo::session_layer(config).await?.0)
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
    let mut settings = session_redis::RedisSettings::default();
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

/// A PUT of `body` to `/api/session/{key}`, with `cookie` if given.
async fn put(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    cookie: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut r = c.put(format!("{base}/api/session/{key}")).body(body);
    if let Some(cookie) = cookie {
        r = r.header(COOKIE, cookie);
    }
    r.send().await
}

/// The size cap over HTTP: a PUT past the cap is 413 with no cookie, nothing is stored,
/// and a cookieless one creates no session.
#[tokio::test]
async fn a_session_past_the_cap_is_413_and_nothing_is_stored() -> TestResult {
    let redis = RedisServer::start()?;
    let base = server(&redis).await?;
    let c = bare()?;
    let huge = format!("\"{}\"", "x".repeat(300 * 1024));
    let r = put(&c, &base, "huge", None, huge.clone()).await?;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(set_cookies(&r).is_empty());
    assert_eq!(
        redis.cli(&["DBSIZE"])?.trim(),
        "0",
        "a refused request created a session"
    );
    let cookie = cookie_header(&put(&c, &base, "user", None, "\"ada\"").await?);
    let r = put(&c, &base, "huge", Some(&cookie), huge).await?;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(set_cookies(&r).is_empty(), "the 413 touched the cookie");
    let r = c
        .get(format!("{base}/api/session"))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?, json!({"user": "ada"}));
    Ok(())
}

/// Complete removal over HTTP: a write-only DELETE of the last key removes the session from
/// Redis and sends a removal cookie.
#[tokio::test]
async fn a_write_only_delete_of_the_last_key_sends_a_removal_and_empties_redis() -> TestResult {
    let redis = RedisServer::start()?;
    let base = server(&redis).await?;
    let c = bare()?;
    let cookie = cookie_header(&put(&c, &base, "only", None, "1").await?);
    assert_eq!(redis.cli(&["DBSIZE"])?.trim(), "1");
    let r = c
        .delete(format!("{base}/api/session/only"))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("session=;") && c.contains("Max-Age=0")),
        "no removal cookie: {:?}",
        set_cookies(&r)
    );
    assert_eq!(
        redis.cli(&["DBSIZE"])?.trim(),
        "0",
        "the emptied session stayed in redis"
    );
    Ok(())
}

/// No head-of-line blocking: while an attacker reads a session at the cap in loops, other users'
/// requests keep answering 2xx (none 503). Their latency is printed for the notes;
/// it is not asserted.
#[tokio::test]
async fn an_attacker_reading_a_max_size_session_does_not_deny_other_users() -> TestResult {
    let redis = RedisServer::start()?;
    let base = server(&redis).await?;
    let c = bare()?;
    // Grow the attacker's session to just under the 256 KiB cap.
    let piece = format!("\"{}\"", "a".repeat(60 * 1024));
    let r = put(&c, &base, "p0", None, piece.clone()).await?;
    let attacker = cookie_header(&r);
    for i in 1..4 {
        let r = put(&c, &base, &format!("p{i}"), Some(&attacker), piece.clone()).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let r = put(&c, &base, "p4", Some(&attacker), piece.clone()).await?;
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "the session grew past the cap"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (c, base, attacker) = (c.clone(), base.clone(), attacker.clone());
        loops.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while std::time::Instant::now() < until {
                if let Ok(r) = c
                    .get(format!("{base}/api/session"))
                    .header(COOKIE, &attacker)
                    .send()
                    .await
                {
                    let _ = r.bytes().await;
                    reads += 1;
                }
            }
            reads
        }));
    }
    let mut users = Vec::new();
    for u in 0..4 {
        let (base, c) = (base.clone(), browser()?);
        users.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut times = Vec::new();
            let mut i = 0;
            while std::time::Instant::now() < until {
                let started = std::time::Instant::now();
                let r = if i % 2 == 0 {
                    c.put(format!("{base}/api/session/u{u}"))
                        .body(i.to_string())
                        .send()
                        .await
                } else {
                    c.get(format!("{base}/api/session/u{u}")).send().await
                };
                times.push(started.elapsed());
                statuses.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
                i += 1;
            }
            (statuses, times)
        }));
    }
    let mut statuses = Vec::new();
    let mut times = Vec::new();
    for user in users {
        let (s, t) = user.await?;
        statuses.extend(s);
        times.extend(t);
    }
    let mut reads = 0;
    for l in loops {
        reads += l.await?;
    }
    let failed: Vec<&u16> = statuses
        .iter()
        .filter(|s| !(200..300).contains(*s))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests of other users failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    times.sort();
    let p = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "other users: {} requests, p50 {:?}, p99 {:?}, max {:?}; attacker: {reads} reads of a {} KiB session",
        times.len(),
        p(0.5),
        p(0.99),
        p(1.0),
        4 * 60
    );
    Ok(())
}

/// On Redis, sign-out destroys the session, so a copy of the cookie taken before it
/// opens nothing, as the page says.
#[tokio::test]
async fn sign_out_destroys_the_session_so_a_copied_cookie_opens_nothing() -> TestResult {
    let redis = RedisServer::start()?;
    let base = serve_as(
        layer(&redis).await?,
        session_demo::About::new("redis", false),
    )
    .await?;
    let (replayed, note) = replay_after_sign_out(&base).await?;
    assert!(replayed.contains("Not signed in"), "{replayed}");
    assert!(note.contains("destroys it in the store"), "{note}");
    Ok(())
}
