//! Shared servers for the Redis tests: one plain node, one with a password, one
//! 3-master cluster, each started once per test binary (stopped when it exits).
#![allow(dead_code)]

pub mod faults;
pub mod near;
pub mod proxy;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use std::sync::Arc;

use session_core::{Error, Expiry, Session, SessionStore, TokenUpdate};
use session_redis::RedisSettings;
use session_redis::RedisStore;
use session_testkit::servers::{RedisCluster, RedisServer};

pub const PASSWORD: &str = "s3cret pass";

fn started<T>(what: &str, r: Result<T, session_testkit::servers::ServerError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("cannot start {what}: {e}"),
    }
}

pub fn node() -> &'static RedisServer {
    static NODE: OnceLock<RedisServer> = OnceLock::new();
    NODE.get_or_init(|| started("a redis-server", RedisServer::start()))
}

pub fn protected_node() -> &'static RedisServer {
    static NODE: OnceLock<RedisServer> = OnceLock::new();
    NODE.get_or_init(|| {
        started(
            "a password-protected redis-server",
            RedisServer::start_with_password(PASSWORD),
        )
    })
}

pub fn cluster() -> &'static RedisCluster {
    static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| started("a 3-master Redis Cluster", RedisCluster::start(3)))
}

/// A namespace no other test uses.
pub fn fresh_namespace() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn settings_for(server: &RedisServer) -> RedisSettings {
    let mut s = RedisSettings::default();
    s.port = server.port();
    s.namespace = fresh_namespace();
    s
}

pub async fn connect(settings: &RedisSettings) -> RedisStore {
    match RedisStore::connect(settings).await {
        Ok(store) => store,
        Err(e) => panic!("cannot connect to the test redis: {e}"),
    }
}

/// Saves a new session holding `pairs`; its token.
pub async fn save_new(
    store: &Arc<dyn SessionStore>,
    expiry: Expiry,
    pairs: &[(&str, &str)],
) -> Result<String, Error> {
    let s = Session::new(store.clone(), expiry, None);
    for (k, v) in pairs {
        s.set(k, v).await?;
    }
    match s.commit().await? {
        TokenUpdate::Send(token) => Ok(token),
        other => Err(Error::config(
            "test",
            format!("expected a token, got {other:?}"),
        )),
    }
}

/// The string under `key` in the session of `token`, read in one request.
pub async fn read(
    store: &Arc<dyn SessionStore>,
    token: &str,
    key: &str,
) -> Result<Option<String>, Error> {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let v = s.get::<String>(key).await?;
    s.commit().await?;
    Ok(v)
}
