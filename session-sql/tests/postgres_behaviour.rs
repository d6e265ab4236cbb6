//! The PostgreSQL store against a real server: concurrent writes merged by the
//! database, atomic counters, expired rows deleted by the background task, no tokens
//! at rest, startup errors that name the cause.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Expiry, Session, SessionId, SessionStore, TokenUpdate};
use session_sql::{PostgresSettings, PostgresStore};
use sqlx::Row;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn new_session(
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

async fn rows(
    settings: &PostgresSettings,
) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    let pool = sqlx::PgPool::connect(&settings.url).await?;
    let row = sqlx::query(&format!("SELECT count(*) FROM {}", settings.table))
        .fetch_one(&pool)
        .await?;
    Ok(row.try_get(0)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_rounds_of_concurrent_different_key_writes_lose_nothing() -> TestResult {
    let store: Arc<dyn SessionStore> = Arc::new(common::store(common::settings()).await);
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

#[tokio::test]
async fn expired_rows_are_deleted_by_the_background_task() -> TestResult {
    let mut settings = common::settings();
    settings.cleanup_interval_ms = 100;
    settings.cleanup_batch = 7;
    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    let short = Expiry::new(Duration::from_millis(300));
    for _ in 0..20 {
        new_session(&store, short).await?;
    }
    let kept = new_session(&store, Expiry::default()).await?;
    assert_eq!(rows(&settings).await?, 21);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows(&settings).await? > 1 {
        if Instant::now() > deadline {
            return Err(format!(
                "{} rows left 10 s after they expired",
                rows(&settings).await?
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The live session is untouched.
    let session = Session::new(store.clone(), Expiry::default(), Some(kept));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    Ok(())
}

#[tokio::test]
async fn rows_are_keyed_by_the_digest_never_the_token() -> TestResult {
    let settings = common::settings();
    let postgres = common::store(settings.clone()).await;
    let store: Arc<dyn SessionStore> = Arc::new(postgres.clone());
    let token = new_session(&store, Expiry::default()).await?;
    let pool = sqlx::PgPool::connect(&settings.url).await?;
    let ids: Vec<String> = sqlx::query(&format!("SELECT id, data::text FROM {}", settings.table))
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let id = SessionId::parse(&token).ok_or("bad token")?;
    assert_eq!(ids, vec![postgres.key_of(&id)]);
    assert!(!ids[0].contains(&token) && !token.contains(&ids[0]));
    Ok(())
}

#[tokio::test]
async fn a_database_that_is_not_there_is_named_at_startup() -> TestResult {
    let mut settings = common::settings();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    settings.url = format!("postgres://app:s3cret@127.0.0.1:{port}/test");
    settings.acquire_timeout_ms = 500;
    let error = PostgresStore::connect(&settings)
        .await
        .err()
        .ok_or("connected to nothing")?;
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        !text.contains("s3cret"),
        "the password leaked into the message: {text}"
    );
    Ok(())
}

/// A request that only writes (merged in SQL, without a load) never writes into a
/// session whose idle deadline has passed, even while its row still stands (the
/// cleanup finds rows by a deadline rounded up, so a row can outlive its session by
/// a little): the write goes to a fresh session, and the old data stays gone.
#[tokio::test]
async fn a_write_only_request_after_the_idle_deadline_starts_a_fresh_session() -> TestResult {
    let settings = common::settings();
    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    let expiry = Expiry::new(Duration::from_secs(600));
    let token = new_session(&store, expiry).await?;
    // Its last request was 601 s ago, and the cleanup has not come by.
    let pool = sqlx::PgPool::connect(&settings.url).await?;
    sqlx::query(&format!(
        "UPDATE {} SET created_ms = created_ms - 601000, touched_ms = touched_ms - 601000",
        settings.table
    ))
    .execute(&pool)
    .await?;
    assert_eq!(rows(&settings).await?, 1);

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

/// A password in the URL (in its user info, or as a `?password=` query parameter,
/// which sqlx accepts) reaches neither the settings' nor the store's `Debug` (the
/// target every log line names) nor the error of a failed connection.
#[tokio::test]
async fn passwords_in_the_url_reach_no_debug_output_log_target_or_error() -> TestResult {
    const SECRET: &str = "s3cr3t-of-the-test";
    let mut settings = common::settings();
    // Trust authentication accepts, and ignores, any password.
    let separator = if settings.url.contains('?') { '&' } else { '?' };
    settings.url = format!("{}{separator}password={SECRET}", settings.url);
    let store = common::store(settings.clone()).await;
    for shown in [format!("{settings:?}"), format!("{store:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("password=***"), "{shown}");
    }
    let mut refused = PostgresSettings::default();
    refused.url = format!("postgres://app:{SECRET}@127.0.0.1:1/app?sslpassword={SECRET}");
    refused.acquire_timeout_ms = 300;
    let error = PostgresStore::connect(&refused)
        .await
        .err()
        .ok_or("a connection to port 1 succeeded")?;
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{refused:?}"),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    Ok(())
}

/// A store over a pool the application already has: it migrates its table and keeps
/// sessions like one that made its own pool.
#[tokio::test]
async fn a_store_over_the_applications_own_pool_keeps_sessions() -> TestResult {
    // Makes this process's schema.
    drop(common::store(common::settings()).await);
    let settings = common::settings();
    let pool = sqlx::PgPool::connect(&common::url()).await?;
    let store: Arc<dyn SessionStore> = Arc::new(PostgresStore::from_pool(pool, &settings).await?);
    let token = new_session(&store, Expiry::default()).await?;
    let session = Session::new(store.clone(), Expiry::default(), Some(token));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    assert_eq!(rows(&settings).await?, 1);
    Ok(())
}
