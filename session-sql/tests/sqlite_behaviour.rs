//! The SQLite store on real database files: concurrent writes merged by
//! compare-and-set, atomic counters, expired rows deleted by the background task, no
//! tokens at rest, an in-memory database, a file that cannot be opened named.
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::scenarios::{self, new_session, TestResult};
use common::sqlite;
use session_core::{Expiry, Session, SessionId, SessionStore};
use session_sql::{SqliteSettings, SqliteStore};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_rounds_of_concurrent_different_key_writes_lose_nothing() -> TestResult {
    let store: Arc<dyn SessionStore> = Arc::new(sqlite::store(sqlite::settings()).await);
    scenarios::fifty_rounds_of_concurrent_different_key_writes(store).await
}

#[tokio::test]
async fn expired_rows_are_deleted_by_the_background_task() -> TestResult {
    let settings = sqlite::settings()
        .with_cleanup_interval(Duration::from_millis(100))
        .with_cleanup_batch(7);
    let store: Arc<dyn SessionStore> = Arc::new(sqlite::store(settings.clone()).await);
    scenarios::expired_rows_are_deleted_by_the_background_task(store, || sqlite::rows(&settings))
        .await
}

#[tokio::test]
async fn a_write_only_request_after_the_idle_deadline_starts_a_fresh_session() -> TestResult {
    let settings = sqlite::settings();
    let store: Arc<dyn SessionStore> = Arc::new(sqlite::store(settings.clone()).await);
    let age = scenarios::age_sql(&settings.table);
    scenarios::a_write_only_request_after_the_idle_deadline_starts_a_fresh_session(store, || {
        sqlite::execute(&settings, &age)
    })
    .await
}

#[tokio::test]
async fn rows_are_keyed_by_the_digest_never_the_token() -> TestResult {
    let settings = sqlite::settings();
    let store: Arc<dyn SessionStore> = Arc::new(sqlite::store(settings.clone()).await);
    let token = new_session(&store, Expiry::default()).await?;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", settings.path)).await?;
    let ids: Vec<String> = sqlx::query(&format!("SELECT id FROM {}", settings.table))
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let id = SessionId::parse(&token).ok_or("bad token")?;
    assert_eq!(ids, vec![id.storage_key()]);
    assert!(!ids[0].contains(&token) && !token.contains(&ids[0]));
    Ok(())
}

/// `:memory:` keeps sessions for as long as the store lives, across requests.
#[tokio::test]
async fn an_in_memory_database_keeps_sessions_across_requests() -> TestResult {
    let settings = SqliteSettings::default().with_path(":memory:");
    let store: Arc<dyn SessionStore> = Arc::new(SqliteStore::connect(&settings).await?);
    let token = new_session(&store, Expiry::default()).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let session = Session::new(store.clone(), Expiry::default(), Some(token));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    Ok(())
}

/// A file in a directory that does not exist is named in the error, with a hint.
#[tokio::test]
async fn a_file_that_cannot_be_opened_is_named() -> TestResult {
    let settings = SqliteSettings::default().with_path("/nonexistent-dir/sessions.db");
    let error = SqliteStore::connect(&settings)
        .await
        .err()
        .ok_or("opened a file in a directory that does not exist")?;
    let text = error.to_string();
    assert!(text.contains("/nonexistent-dir/sessions.db"), "{text}");
    assert!(text.contains("sqlite.path"), "{text}");
    Ok(())
}

#[tokio::test]
async fn index_rows_go_with_their_sessions() -> TestResult {
    let settings = sqlite::settings();
    let store = sqlite::store(settings.clone()).await;
    let count = format!("SELECT count(*) FROM {}_users", settings.table);
    let index_rows = || async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", settings.path)).await?;
        let n: i64 = sqlx::query(&count).fetch_one(&pool).await?.try_get(0)?;
        pool.close().await;
        Ok::<_, sqlx::Error>(n)
    };
    let cleanup = || async {
        store
            .delete_expired()
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))
    };
    scenarios::index_rows_go_with_their_sessions(Arc::new(store.clone()), index_rows, cleanup).await
}
