//! Behaviour every SQL store shows against its real database, written once: each
//! driver's test file runs these on its own store.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionStore, TokenUpdate};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A new session holding `user = "ada"`; its token.
pub async fn new_session(
    store: &Arc<dyn SessionStore>,
    expiry: Expiry,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let session = Session::new(store.clone(), expiry, None);
    session.set("user", "ada").await?;
    match session.commit().await? {
        TokenUpdate::Send(token) => Ok(token),
        other => Err(format!("a new session gave {other:?}").into()),
    }
}

/// 50 rounds of 8 concurrent requests on one session, each setting its own key and
/// incrementing a shared counter (half of them reading first): every key and every
/// increment is there afterwards.
pub async fn fifty_rounds_of_concurrent_different_key_writes(
    store: Arc<dyn SessionStore>,
) -> TestResult {
    const WRITERS: usize = 8;
    for round in 0..50 {
        let token = new_session(&store, Expiry::default()).await?;
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let (store, token) = (store.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let session = Session::new(store, Expiry::default(), Some(token));
                // Half the requests read first (and save what they read), half only write.
                if writer % 2 == 0 {
                    let _: Option<String> = session.get("user").await?;
                }
                session.set(&format!("k{writer}"), &writer).await?;
                session.increment("count", 1).await?;
                session.commit().await
            }));
        }
        for task in tasks {
            task.await??;
        }
        let session = Session::new(store.clone(), Expiry::default(), Some(token));
        for writer in 0..WRITERS {
            let value: Option<usize> = session.get(&format!("k{writer}")).await?;
            assert_eq!(
                value,
                Some(writer),
                "round {round}: writer {writer}'s key was lost"
            );
        }
        assert_eq!(
            session.get::<i64>("count").await?,
            Some(WRITERS as i64),
            "round {round}"
        );
        assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    }
    Ok(())
}

/// With a store whose cleanup runs every 100 ms, 7 rows a statement: 20 sessions
/// that expire after 300 ms are deleted, the live one is kept. `rows` counts the
/// table's rows.
pub async fn expired_rows_are_deleted_by_the_background_task<F, Fut, E>(
    store: Arc<dyn SessionStore>,
    rows: F,
) -> TestResult
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<i64, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let short = Expiry::new(Duration::from_millis(300));
    for _ in 0..20 {
        new_session(&store, short).await?;
    }
    let kept = new_session(&store, Expiry::default()).await?;
    assert_eq!(rows().await?, 21);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows().await? > 1 {
        if Instant::now() > deadline {
            return Err(format!("{} rows left 10 s after they expired", rows().await?).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The live session is untouched.
    let session = Session::new(store.clone(), Expiry::default(), Some(kept));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    Ok(())
}

/// A request that only writes (without a load) never writes into a session whose
/// idle deadline has passed while its row still stands (the cleanup finds rows by a
/// deadline rounded up): the write goes to a fresh session, the old data stays
/// gone. `age` moves every row's times 601 s into the past.
pub async fn a_write_only_request_after_the_idle_deadline_starts_a_fresh_session<Fut, E>(
    store: Arc<dyn SessionStore>,
    age: impl FnOnce() -> Fut,
) -> TestResult
where
    Fut: Future<Output = Result<u64, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let expiry = Expiry::new(Duration::from_secs(600));
    let token = new_session(&store, expiry).await?;
    assert_eq!(age().await?, 1);
    let session = Session::new(store.clone(), expiry, Some(token.clone()));
    session.set("theme", "dark").await?;
    let fresh = match session.commit().await? {
        TokenUpdate::Send(fresh) if fresh != token => fresh,
        other => return Err(format!("the write went to the expired session: {other:?}").into()),
    };
    let session = Session::new(store.clone(), expiry, Some(fresh));
    assert_eq!(
        session.get::<String>("theme").await?.as_deref(),
        Some("dark")
    );
    assert_eq!(session.get::<String>("user").await?, None);
    let old = Session::new(store.clone(), expiry, Some(token));
    assert_eq!(old.get::<String>("theme").await?, None);
    Ok(())
}

/// The SQL that moves every row of `table` 601 s into the past.
pub fn age_sql(table: &str) -> String {
    format!("UPDATE {table} SET created_ms = created_ms - 601000, touched_ms = touched_ms - 601000")
}

/// The index of users' sessions keeps a row per signed-in session and loses it with
/// the session: on sign-out, and on an expired session's cleanup. `index_rows`
/// counts the index table's rows; `store` deletes expired rows through `cleanup`.
pub async fn index_rows_go_with_their_sessions<F, Fut, E, C, CFut>(
    store: Arc<dyn SessionStore>,
    index_rows: F,
    cleanup: C,
) -> TestResult
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<i64, E>>,
    E: std::error::Error + Send + Sync + 'static,
    C: Fn() -> CFut,
    CFut: Future<Output = Result<u64, E>>,
{
    let sign_in = |expiry: Expiry| {
        let store = store.clone();
        async move {
            let session = Session::new(store, expiry, None);
            session.login("ada").await?;
            match session.commit().await? {
                TokenUpdate::Send(token) => Ok::<_, session_core::Error>(token),
                other => panic!("a sign-in gave {other:?}"),
            }
        }
    };
    let token = sign_in(Expiry::default()).await?;
    assert_eq!(index_rows().await?, 1, "a sign-in writes one index row");
    let session = Session::new(store.clone(), Expiry::default(), Some(token));
    session.logout().await?;
    session.commit().await?;
    assert_eq!(index_rows().await?, 0, "a sign-out takes the index row");
    sign_in(Expiry::new(Duration::from_millis(200))).await?;
    assert_eq!(index_rows().await?, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cleanup().await?, 1, "the expired session is deleted");
    assert_eq!(index_rows().await?, 0, "its index row goes with it");
    Ok(())
}
