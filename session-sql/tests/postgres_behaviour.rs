//! The PostgreSQL store against a real server: concurrent writes merged by the
//! database, atomic counters, expired rows deleted by the background task, no tokens
//! at rest, startup errors that name the cause.
mod common;

use std::sync::Arc;
use std::time::Duration;

use session_core::{Expiry, Session, SessionId, SessionStore};
use session_sql::{PostgresSettings, PostgresStore};
use sqlx::Row;

use common::scenarios::{self, new_session, TestResult};

async fn rows(settings: &PostgresSettings) -> Result<i64, sqlx::Error> {
    let pool = sqlx::PgPool::connect(&settings.url).await?;
    let row = sqlx::query(&format!("SELECT count(*) FROM {}", settings.table))
        .fetch_one(&pool)
        .await?;
    row.try_get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_rounds_of_concurrent_different_key_writes_lose_nothing() -> TestResult {
    let store: Arc<dyn SessionStore> = Arc::new(common::store(common::settings()).await);
    scenarios::fifty_rounds_of_concurrent_different_key_writes(store).await
}

#[tokio::test]
async fn expired_rows_are_deleted_by_the_background_task() -> TestResult {
    let settings = common::settings()
        .with_cleanup_interval(Duration::from_millis(100))
        .with_cleanup_batch(7);
    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    scenarios::expired_rows_are_deleted_by_the_background_task(store, || rows(&settings)).await
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
/// session whose idle deadline has passed, even while its row still stands.
#[tokio::test]
async fn a_write_only_request_after_the_idle_deadline_starts_a_fresh_session() -> TestResult {
    let settings = common::settings();
    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    scenarios::a_write_only_request_after_the_idle_deadline_starts_a_fresh_session(
        store,
        || async {
            let pool = sqlx::PgPool::connect(&settings.url).await?;
            Ok::<_, sqlx::Error>(
                sqlx::query(&scenarios::age_sql(&settings.table))
                    .execute(&pool)
                    .await?
                    .rows_affected(),
            )
        },
    )
    .await
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

/// A table made by an earlier version (values in a JSONB column, no `version`) is
/// converted by the migration: its sessions still open, keep their values and take
/// writes.
#[tokio::test]
async fn a_table_of_the_jsonb_layout_is_converted_and_its_sessions_kept() -> TestResult {
    // Makes this process's schema.
    drop(common::store(common::settings()).await);
    let settings = common::settings();
    let pool = sqlx::PgPool::connect(&settings.url).await?;
    let id = SessionId::generate()?;
    let now = session_core::now_ms() as i64;
    sqlx::raw_sql(&format!(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, created_ms BIGINT NOT NULL, \
             touched_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, data JSONB NOT NULL); \
         CREATE TABLE {table}_users (id TEXT PRIMARY KEY REFERENCES {table} (id) ON DELETE CASCADE, \
             user_id TEXT NOT NULL, device TEXT NOT NULL)",
        table = settings.table
    ))
    .execute(&pool)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO {} VALUES ($1, $2, $2, $3, $4::jsonb)",
        settings.table
    ))
    .bind(id.storage_key())
    .bind(now)
    .bind(now + 3_600_000)
    .bind(r#"{"user": ["\"ada\"", false], "n": ["41", false]}"#)
    .execute(&pool)
    .await?;

    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    let token = id.to_string();
    let session = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    assert_eq!(session.increment("n", 1).await?, 42);
    session.commit().await?;
    let session = Session::new(store, Expiry::default(), Some(token));
    assert_eq!(session.get::<i64>("n").await?, Some(42));
    let kind: String = sqlx::query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attname = 'data'",
    )
    .bind(&settings.table)
    .fetch_one(&pool)
    .await?
    .try_get(0)?;
    assert_eq!(kind, "bytea");
    Ok(())
}

/// The store's pool pings a connection that has been idle for a second before
/// handing it out: after the server ends every connection of the pool (a restart,
/// a failover, an idle timeout of a proxy), the next request past that second gets
/// a fresh connection and succeeds.
#[tokio::test]
async fn connections_ended_by_the_server_while_idle_are_replaced() -> TestResult {
    let name = format!("session_test_ping_{}", std::process::id());
    let mut settings = common::settings();
    let separator = if settings.url.contains('?') { '&' } else { '?' };
    settings.url = format!("{}{separator}application_name={name}", settings.url);
    let store: Arc<dyn SessionStore> = Arc::new(common::store(settings.clone()).await);
    let token = new_session(&store, Expiry::default()).await?;
    let admin = sqlx::PgPool::connect(&common::url()).await?;
    let ended: i64 = sqlx::query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_one(&admin)
    .await?
    .try_get(0)?;
    assert!(ended >= 1, "no connection of the store's pool was found");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let session = Session::new(store.clone(), Expiry::default(), Some(token));
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    Ok(())
}
