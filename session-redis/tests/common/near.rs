//! Two stores standing for two app servers on one Redis (or cluster), and the
//! requests the near-cache tests make through them.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionStore, TokenUpdate};
use session_redis::{RedisSettings, RedisStore};

/// How long a change may take to reach the other server before the test fails (a
/// liveness bound, far above the measured window).
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn two_servers_with(
    settings: &RedisSettings,
) -> (RedisStore, Arc<dyn SessionStore>, Arc<dyn SessionStore>) {
    let a = super::connect(settings).await;
    let b = super::connect(settings).await;
    (b.clone(), Arc::new(a), Arc::new(b))
}

pub async fn get(
    store: &Arc<dyn SessionStore>,
    token: &str,
    key: &str,
) -> Result<Option<i64>, session_core::Error> {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let v = s.get::<i64>(key).await?;
    s.commit().await?;
    Ok(v)
}

pub async fn set(
    store: &Arc<dyn SessionStore>,
    token: &str,
    n: i64,
) -> Result<(), session_core::Error> {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    s.set("n", &n).await?;
    s.commit().await.map(drop)
}

/// Reads `key` through `store` until it is `want` (a 503 while a connection is
/// made again counts as not yet); the time that took.
pub async fn until(
    store: &Arc<dyn SessionStore>,
    token: &str,
    key: &str,
    want: Option<i64>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let start = Instant::now();
    loop {
        match get(store, token, key).await {
            Ok(got) if got == want => return Ok(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.is_unavailable() => {}
            Err(e) => return Err(e.into()),
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("`{key}` never became {want:?} on the other server").into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

pub async fn create(
    store: &Arc<dyn SessionStore>,
    n: i64,
) -> Result<String, Box<dyn std::error::Error>> {
    let s = Session::new(store.clone(), Expiry::default(), None);
    s.set("n", &n).await?;
    match s.commit().await? {
        TokenUpdate::Send(token) => Ok(token),
        other => Err(format!("expected a token, got {other:?}").into()),
    }
}
