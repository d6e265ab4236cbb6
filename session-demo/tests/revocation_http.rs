//! Revocation across app servers: two demo servers on one Redis (the Redis driver
//! with its near-cache, and the cookie driver with a Redis registry), each with its
//! own store as two processes would have. A session revoked through one is signed
//! out on the other within the staleness bound (1 s by default); the users API and
//! every other scenario pass on the cookie driver with a registry.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use session_testkit::servers::RedisServer;
use session_tower::SessionConfig;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// A fixed cookie key, shared by the app servers of one site.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A demo server on `redis` with `driver` (`redis`, or `cookie` with a Redis
/// registry), configured as `session.toml` would.
async fn server(redis: &RedisServer, driver: &str) -> Result<String, Boxed> {
    let config = SessionConfig::from_toml_str(&format!(
        "default = \"{driver}\"\n\
         [cookie]\nkey = \"{KEY}\"\nregistry = \"redis\"\n\
         [redis]\nport = {}\nnamespace = \"revocation\"\n",
        redis.port()
    ))?;
    let (layer, about) = session_demo::session_layer(config).await?;
    assert!(about.revocable);
    Ok(serve_as(layer, about).await?)
}

http_scenarios!(async {
    let redis = RedisServer::start()?;
    let base = server(&redis, "cookie").await?;
    Ok::<_, Boxed>((redis, base))
});

/// Through server A the laptop revokes the phone, which keeps using server B: B
/// signs the phone out within 1 s (the near-cache's bound on the Redis driver, the
/// registry's 500 ms answers on the cookie driver).
async fn revoked_through_one_server_is_out_on_the_other(driver: &str) -> TestResult {
    let redis = RedisServer::start()?;
    let (a, b) = (server(&redis, driver).await?, server(&redis, driver).await?);
    let user = unique("ada");
    let mut laptop = Device::new(&a)?;
    laptop.login(&user).await?;
    let mut phone = Device::new(&a)?;
    phone.login(&user).await?;
    let phone_id = phone.own_id().await?;
    // The phone now uses server B, which has read (and may keep) its session.
    let mut phone_on_b = Device::new(&b)?;
    phone_on_b.cookie = phone.cookie.clone();
    for _ in 0..3 {
        assert_eq!(phone_on_b.me().await?.0, StatusCode::OK);
    }
    let (status, _) = laptop
        .send(
            reqwest::Method::DELETE,
            &format!("/api/me/sessions/{phone_id}"),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let revoked = Instant::now();
    loop {
        let (status, _) = phone_on_b.me().await?;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "{driver}: server B still served the revoked session {:?} after the revoke",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(laptop.me().await?.0, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_revoke_through_one_redis_app_server_holds_on_the_other() -> TestResult {
    revoked_through_one_server_is_out_on_the_other("redis").await
}

#[tokio::test]
async fn a_revoke_through_one_cookie_app_server_holds_on_the_other() -> TestResult {
    revoked_through_one_server_is_out_on_the_other("cookie").await
}

/// The page says a cookie session signed out with a registry stays signed out, and
/// a replayed copy of the cookie opens nothing.
#[tokio::test]
async fn the_page_replays_a_signed_out_cookie_as_signed_out() -> TestResult {
    let redis = RedisServer::start()?;
    let base = server(&redis, "cookie").await?;
    let (replayed, note) = replay_after_sign_out(&base).await?;
    assert!(replayed.contains("Not signed in"), "{replayed}");
    assert!(
        note.contains("no copy of the cookie opens it again"),
        "{note}"
    );
    Ok(())
}
