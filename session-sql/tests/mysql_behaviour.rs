//! The MySQL/MariaDB store against a real server: concurrent writes merged by
//! compare-and-set, atomic counters, expired rows deleted by the background task, no
//! tokens at rest, startup errors that name the cause without the password.
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::mysql;
use common::scenarios::{self, new_session, TestResult};
use session_core::{Expiry, Session, SessionId, SessionStore};
use session_sql::{MysqlSettings, MysqlStore};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_rounds_of_concurrent_different_key_writes_lose_nothing() -> TestResult {
    let store: Arc<dyn SessionStore> = Arc::new(mysql::store(mysql::settings()).await);
    scenarios::fifty_rounds_of_concurrent_different_key_writes(store).await
}

#[tokio::test]
async fn expired_rows_are_deleted_by_the_background_task() -> TestResult {
    let settings = mysql::settings()
        .with_cleanup_interval(Duration::from_millis(100))
        .with_cleanup_batch(7);
    let store: Arc<dyn SessionStore> = Arc::new(mysql::store(settings.clone()).await);
    scenarios::expired_rows_are_deleted_by_the_background_task(store, || mysql::rows(&settings))
        .await
}

#[tokio::test]
async fn a_write_only_request_after_the_idle_deadline_starts_a_fresh_session() -> TestResult {
    let settings = mysql::settings();
    let store: Arc<dyn SessionStore> = Arc::new(mysql::store(settings.clone()).await);
    let age = scenarios::age_sql(&settings.table);
    scenarios::a_write_only_request_after_the_idle_deadline_starts_a_fresh_session(store, || {
        mysql::execute(&age)
    })
    .await
}

#[tokio::test]
async fn rows_are_keyed_by_the_digest_never_the_token() -> TestResult {
    let settings = mysql::settings();
    let store: Arc<dyn SessionStore> = Arc::new(mysql::store(settings.clone()).await);
    let token = new_session(&store, Expiry::default()).await?;
    let pool = sqlx::MySqlPool::connect(&mysql::url()).await?;
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

/// A database that does not answer is named in the error, without the password;
/// the settings' and the store's `Debug` show no password either.
#[tokio::test]
async fn a_database_that_is_not_there_is_named_without_its_password() -> TestResult {
    const SECRET: &str = "s3cr3t-of-the-test";
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let settings = MysqlSettings::default()
        .with_url(format!("mysql://app:{SECRET}@127.0.0.1:{port}/test"))
        .with_acquire_timeout(Duration::from_millis(500));
    let error = MysqlStore::connect(&settings)
        .await
        .err()
        .ok_or("connected to nothing")?;
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    for shown in [text, format!("{error:?}"), format!("{settings:?}")] {
        assert!(!shown.contains(SECRET), "the password leaked: {shown}");
    }
    let store = mysql::store(mysql::settings()).await;
    assert!(!format!("{store:?}").contains("password"));
    Ok(())
}

/// A store over a pool the application already has migrates its table and keeps
/// sessions like one that made its own pool.
#[tokio::test]
async fn a_store_over_the_applications_own_pool_keeps_sessions() -> TestResult {
    drop(mysql::store(mysql::settings()).await);
    let settings = mysql::settings();
    let pool = sqlx::MySqlPool::connect(&mysql::url()).await?;
    let store: Arc<dyn SessionStore> = Arc::new(MysqlStore::from_pool(pool, &settings).await?);
    let token = new_session(&store, Expiry::default()).await?;
    let session = Session::new(store.clone(), Expiry::default(), Some(token));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    assert_eq!(mysql::rows(&settings).await?, 1);
    Ok(())
}

#[tokio::test]
async fn index_rows_go_with_their_sessions() -> TestResult {
    let settings = mysql::settings();
    let store = mysql::store(settings.clone()).await;
    let count = format!("SELECT count(*) FROM {}_users", settings.table);
    let index_rows = || async {
        let pool = sqlx::MySqlPool::connect(&mysql::url()).await?;
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
