//! Seven kinds of Redis fault under load: 36 virtual users keep counting in their
//! own sessions (a load and a save each request, the near-cache on) while Redis is
//! paused (`CLIENT PAUSE`), busy (`DEBUG SLEEP`), killed with `-9` and restarted
//! from its append-only file, or the network to it turns into a blackhole, resets,
//! severs, or resets into a blackhole.
//!
//! For each fault: no acknowledged write is lost (every user's stored count is at
//! least the increments it was told were saved), no request fails with anything but
//! "unavailable" (the HTTP layer's 503; never a 500), no request waits past the
//! store's bounds, and every user's writes succeed again once the fault is gone.
//! The figures (slowest request, recovery) are printed for the notes; the bounds
//! asserted are the documented ones with room for a busy machine.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::faults::FaultProxy;
use session_core::{Error, Expiry, Session, SessionStore, TokenUpdate};
use session_redis::RedisSettings;
use session_testkit::servers::RedisServer;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const USERS: usize = 36;
/// How long a fault lasts.
const FAULT: Duration = Duration::from_millis(1500);

/// What one virtual user saw.
#[derive(Default)]
struct Seen {
    token: Option<String>,
    acknowledged: i64,
    unavailable: u64,
    other_errors: Vec<String>,
    slowest: Duration,
    /// When its first success after the fault ended came.
    first_success_after: Option<Instant>,
}

/// One request: loads the session, adds one, saves. The count it answered when saved.
async fn count(
    store: &Arc<dyn SessionStore>,
    token: Option<String>,
) -> Result<(i64, Option<String>), Error> {
    let session = Session::new(store.clone(), Expiry::default(), token.clone());
    let n = session.increment("n", 1).await?;
    let token = match session.commit().await? {
        TokenUpdate::Send(token) => Some(token),
        TokenUpdate::Keep => token,
        TokenUpdate::Remove => None,
    };
    Ok((n, token))
}

/// The users' loop until `until`; `healed` is when the fault ends.
async fn user(store: Arc<dyn SessionStore>, until: Instant, healed: Instant) -> Seen {
    let mut seen = Seen::default();
    while Instant::now() < until {
        let started = Instant::now();
        let result = count(&store, seen.token.clone()).await;
        seen.slowest = seen.slowest.max(started.elapsed());
        match result {
            Ok((_, token)) => {
                seen.acknowledged += 1;
                seen.token = token;
                if started >= healed && seen.first_success_after.is_none() {
                    seen.first_success_after = Some(Instant::now());
                }
            }
            Err(e) if e.is_unavailable() => seen.unavailable += 1,
            Err(e) => seen.other_errors.push(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// Runs the users for 1 s, `fault` for [`FAULT`], then `heal` and 2.5 s more;
/// checks what the module docs promise.
async fn under_fault<F, H>(
    name: &str,
    store: Arc<dyn SessionStore>,
    fault: F,
    heal: H,
) -> TestResult
where
    F: FnOnce() -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
    H: FnOnce() -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
{
    let start = Instant::now();
    let fault_at = start + Duration::from_secs(1);
    let healed = fault_at + FAULT;
    let until = healed + Duration::from_millis(2500);
    let users: Vec<_> = (0..USERS)
        .map(|_| tokio::spawn(user(store.clone(), until, healed)))
        .collect();
    tokio::time::sleep_until(fault_at.into()).await;
    fault()?;
    tokio::time::sleep_until(healed.into()).await;
    heal()?;
    let mut seen = Vec::new();
    for user in users {
        seen.push(user.await?);
    }
    // Every acknowledged increment is in Redis.
    let mut lost = 0;
    for user in &seen {
        let Some(token) = user.token.clone() else {
            continue;
        };
        let session = Session::new(store.clone(), Expiry::default(), Some(token));
        let stored = session.get::<i64>("n").await?.unwrap_or(0);
        if stored < user.acknowledged {
            lost += user.acknowledged - stored;
        }
    }
    let errors: Vec<&String> = seen.iter().flat_map(|u| &u.other_errors).collect();
    let slowest = seen.iter().map(|u| u.slowest).max().unwrap_or_default();
    let recovered = seen
        .iter()
        .map(|u| {
            u.first_success_after
                .map(|t| t.saturating_duration_since(healed))
        })
        .collect::<Option<Vec<_>>>();
    let unavailable: u64 = seen.iter().map(|u| u.unavailable).sum();
    let acknowledged: i64 = seen.iter().map(|u| u.acknowledged).sum();
    let recovery = recovered.as_ref().and_then(|r| r.iter().max().copied());
    eprintln!(
        "{name}: {acknowledged} acknowledged, {lost} lost, {unavailable} x 503, {} x 500, \
         slowest {slowest:?}, every user writing again {recovery:?} after the fault ended",
        errors.len()
    );
    assert_eq!(lost, 0, "{name}: acknowledged writes lost");
    assert!(
        errors.is_empty(),
        "{name}: errors other than unavailable: {errors:?}"
    );
    // A request is a load and a save, each within connect + response timeout
    // (1 s + 500 ms while a connection is made): 3 s, with room for the machine.
    assert!(
        slowest < Duration::from_millis(3500),
        "{name}: a request took {slowest:?}"
    );
    let recovery = recovery.ok_or_else(|| format!("{name}: a user never wrote again"))?;
    assert!(
        recovery < Duration::from_secs(2),
        "{name}: recovered after {recovery:?}"
    );
    Ok(())
}

/// A store as an app would configure it (default timeouts, the near-cache on),
/// reaching Redis on `port`.
async fn store(port: u16) -> Arc<dyn SessionStore> {
    let settings = RedisSettings::default()
        .with_port(port)
        .with_namespace(common::fresh_namespace());
    Arc::new(common::connect(&settings).await)
}

fn cli(
    server: &RedisServer,
    args: &[&str],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    server.cli(args)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause() -> TestResult {
    let server = RedisServer::start()?;
    let store = store(server.port()).await;
    let ms = FAULT.as_millis().to_string();
    under_fault(
        "CLIENT PAUSE",
        store,
        || cli(&server, &["CLIENT", "PAUSE", &ms, "ALL"]),
        || Ok(()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_sleep() -> TestResult {
    // Redis 7 refuses DEBUG unless it is enabled.
    let server = RedisServer::start_with_args(&["--enable-debug-command", "yes"])?;
    let store = store(server.port()).await;
    let port = server.port().to_string();
    let secs = FAULT.as_secs_f64().to_string();
    let (done, answered) = std::sync::mpsc::channel();
    under_fault(
        "DEBUG SLEEP",
        store,
        // redis-cli waits for the sleep: run it beside the test.
        move || {
            std::thread::spawn(move || {
                let out = std::process::Command::new("redis-cli")
                    .args(["-p", &port, "DEBUG", "SLEEP", &secs])
                    .output();
                let _ = done.send(out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()));
            });
            Ok(())
        },
        || Ok(()),
    )
    .await?;
    let answer = answered.recv()??;
    assert_eq!(answer.trim(), "OK", "the fault did not happen: {answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_aof() -> TestResult {
    let server = Arc::new(std::sync::Mutex::new(RedisServer::start_with_args(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ])?));
    // The AOF is really on: what is acknowledged survives the kill.
    let aof = server
        .lock()
        .map_err(|e| e.to_string())?
        .cli(&["CONFIG", "GET", "appendonly"])?;
    assert!(aof.contains("yes"), "{aof}");
    let port = server.lock().map_err(|e| e.to_string())?.port();
    let store = store(port).await;
    let (killing, restarting) = (server.clone(), server.clone());
    under_fault(
        "kill -9, restart from the AOF",
        store,
        move || Ok(killing.lock().map_err(|e| e.to_string())?.kill()?),
        move || Ok(restarting.lock().map_err(|e| e.to_string())?.restart()?),
    )
    .await
}

/// The network faults, through the proxy.
async fn through_proxy(
    name: &str,
    fault: impl FnOnce(&FaultProxy) + Send + 'static,
    heal: impl FnOnce(&FaultProxy) + Send + 'static,
) -> TestResult {
    let server = RedisServer::start()?;
    let proxy = FaultProxy::start(server.port()).await?;
    let store = store(proxy.port).await;
    let (a, b) = (proxy.clone(), proxy.clone());
    under_fault(
        name,
        store,
        move || {
            fault(&a);
            Ok(())
        },
        move || {
            heal(&b);
            Ok(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole() -> TestResult {
    through_proxy("blackhole", |p| p.blackhole(true), |p| p.blackhole(false)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset() -> TestResult {
    through_proxy("reset", FaultProxy::reset, |_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sever() -> TestResult {
    through_proxy("sever", FaultProxy::sever, |_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_into_blackhole() -> TestResult {
    through_proxy(
        "reset into a blackhole",
        |p| {
            p.reset();
            p.blackhole(true);
        },
        |p| p.blackhole(false),
    )
    .await
}
