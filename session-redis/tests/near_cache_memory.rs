//! The near-cache is bounded in bytes: 2,000 sessions of 240 KB, each read once
//! through one store with the default settings, grow the process's resident memory
//! by far less than they weigh together (480 MB), as the default 64 MiB budget says.
//!
//! One test in this file: it reads the process's resident size, which other tests
//! running beside it would change.

use std::sync::Arc;

use session_core::{Expiry, Session, SessionId, SessionStore, TokenUpdate};
use session_testkit::servers::RedisServer;

mod common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The process's resident memory now, in bytes.
fn resident() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc/self/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("VmRSS without a number")?
        .parse()?;
    Ok(kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_sessions_of_240_kb_grow_memory_by_less_than_160_mib() -> TestResult {
    const SESSIONS: usize = 2_000;
    let redis = RedisServer::start()?;
    let settings = common::settings_for(&redis);
    let store = common::connect(&settings).await;
    let shared: Arc<dyn SessionStore> = Arc::new(store.clone());

    // One session of 240 KB, copied inside Redis under 2,000 ids.
    let first = Session::new(shared.clone(), Expiry::default(), None);
    first.set("blob", &"x".repeat(240_000)).await?;
    let TokenUpdate::Send(token) = first.commit().await? else {
        return Err("no token".into());
    };
    let source = store.key_of(&SessionId::parse(&token).ok_or("not a session id")?);
    let client = redis::Client::open(redis.url())?;
    let mut raw = client.get_multiplexed_async_connection().await?;
    let mut tokens = Vec::with_capacity(SESSIONS);
    let mut copies = redis::pipe();
    for _ in 0..SESSIONS {
        let id = SessionId::generate()?;
        copies
            .cmd("COPY")
            .arg(&source)
            .arg(store.key_of(&id))
            .ignore();
        tokens.push(id.to_string());
    }
    copies.query_async::<()>(&mut raw).await?;

    let before = resident()?;
    for token in &tokens {
        let session = Session::new(shared.clone(), Expiry::default(), Some(token.clone()));
        assert!(session.has("blob").await?, "a copied session did not load");
        session.commit().await?;
    }
    let grown = resident()?.saturating_sub(before);
    let stats = store.near_cache_stats().ok_or("near-cache off")?;
    println!(
        "{SESSIONS} sessions of 240 KB read once: resident memory +{} MiB; cache {stats:?}",
        grown >> 20
    );
    assert!(
        stats.bytes <= 64 << 20,
        "the cache holds {} bytes",
        stats.bytes
    );
    assert!(
        stats.entries > 100,
        "the cache holds only {} sessions",
        stats.entries
    );
    assert!(
        grown < 160 << 20,
        "reading {SESSIONS} sessions of 240 KB grew resident memory by {} MiB",
        grown >> 20
    );
    Ok(())
}
