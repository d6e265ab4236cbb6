//! Revocation across app servers: two demo servers on one Redis (the Redis driver
//! with its near-cache, and the cookie driver with a Redis registry), each with its
//! own store as two processes would have. A session revoked through one is signed
//! out on the other within the staleness bound (1 s by default); the users API and
//! every other scenario pass on the cookie driver with a registry.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use session_testkit::servers::{RedisCluster, RedisServer};
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

/// A demo server on a Redis Cluster (the Redis driver and its near-cache).
async fn cluster_server(cluster: &RedisCluster) -> Result<String, Boxed> {
    let nodes: Vec<String> = cluster.addrs().iter().map(|a| format!("{a:?}")).collect();
    let config = SessionConfig::from_toml_str(&format!(
        "default = \"redis\"\n\
         [redis]\ncluster = [{}]\nnamespace = \"revocation\"\n\
         connect_timeout_ms = 500\nresponse_timeout_ms = 500\n",
        nodes.join(", ")
    ))?;
    let (layer, about) = session_demo::session_layer(config).await?;
    Ok(serve_as(layer, about).await?)
}

/// The session token a device's `Cookie` header carries.
fn token_of(device: &Device) -> Option<String> {
    device
        .cookie
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| name.trim_start_matches("__Host-") == "session")
        .map(|(_, value)| value.to_owned())
}

/// On a Redis Cluster, across a failover: server B reads the phone's session again
/// from the promoted replica (and may cache it), then the laptop revokes the phone
/// through server A. B signs the phone out within the staleness bound, never
/// serving it from a connection that was not tracked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_revocation_after_a_failover_is_out_on_the_other_server() -> TestResult {
    let mut cluster = RedisCluster::start_with_replicas(3, 1)?;
    let (a, b) = (
        cluster_server(&cluster).await?,
        cluster_server(&cluster).await?,
    );
    let user = unique("ada");
    let mut laptop = Device::new(&a)?;
    laptop.login(&user).await?;
    let mut phone = Device::new(&a)?;
    phone.login(&user).await?;
    let phone_id = phone.own_id().await?;
    let mut phone_on_b = Device::new(&b)?;
    phone_on_b.cookie = phone.cookie.clone();
    for _ in 0..3 {
        assert_eq!(phone_on_b.me().await?.0, StatusCode::OK);
    }
    // The master holding the phone's session dies once its replica has it.
    let token = token_of(&phone).ok_or("the phone has no session cookie")?;
    let digest = session_core::SessionId::parse(&token)
        .ok_or("not a session token")?
        .storage_key();
    let victim = cluster
        .nodes()
        .iter()
        .position(|n| {
            n.cli(&["role"]).is_ok_and(|r| r.starts_with("master"))
                && n.cli(&["keys", "revocation*"])
                    .is_ok_and(|k| k.contains(&digest))
        })
        .ok_or("no master holds the phone's session")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cluster.nodes()[victim].replica_caught_up()? {
        if Instant::now() > deadline {
            return Err("the replica never caught up".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.nodes_mut()[victim].kill()?;

    // B serves the phone again, from the promoted replica.
    let killed = Instant::now();
    // Twice (the second may come from B's cache); a 503 while the cluster client
    // learns the new master counts as not yet.
    for _ in 0..2 {
        while phone_on_b.me().await?.0 != StatusCode::OK {
            if killed.elapsed() > Duration::from_secs(40) {
                return Err("server B never served the phone again after the failover".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // The laptop revokes the phone through A (503 while A's connection heals).
    loop {
        let (status, _) = laptop
            .send(
                reqwest::Method::DELETE,
                &format!("/api/me/sessions/{phone_id}"),
                None,
            )
            .await?;
        match status {
            StatusCode::NO_CONTENT => break,
            StatusCode::SERVICE_UNAVAILABLE if killed.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return Err(format!("the revoke answered {other}").into()),
        }
    }
    let revoked = Instant::now();
    while phone_on_b.me().await?.0 != StatusCode::UNAUTHORIZED {
        if revoked.elapsed() > Duration::from_secs(5) {
            return Err("server B still served the revoked phone 5 s after the revoke".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "cluster failover: B signed the phone out {:?} after the revoke",
        revoked.elapsed()
    );
    Ok(())
}
