//! The test database, a schema per test process and a table per test. Schemas of
//! test processes that are gone are dropped when the next one starts.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use session_sql::{PostgresSettings, PostgresStore};
use sqlx::Row;
use tokio::sync::OnceCell;

/// The test database: `SESSION_TEST_POSTGRES_URL`, else 127.0.0.1:5432/test.
pub fn url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn schema() -> String {
    format!("session_test_{}", std::process::id())
}

/// Settings with a table no other test uses.
pub fn settings() -> PostgresSettings {
    static N: AtomicUsize = AtomicUsize::new(0);
    let mut settings = PostgresSettings::default();
    settings.url = url();
    settings.table = format!("{}.sessions_{}", schema(), N.fetch_add(1, Ordering::SeqCst));
    settings.pool_size = 4;
    settings
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "cannot reach the test PostgreSQL at {url}: {e}\n\
         start it (pg_ctlcluster $(ls /etc/postgresql) main start, or run `bash scripts/test`), \
         or set SESSION_TEST_POSTGRES_URL"
    )
}

/// This process's schema, made once; leftovers of dead test processes dropped.
async fn prepare() {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let url = url();
            let pool = match sqlx::PgPool::connect(&url).await {
                Ok(pool) => pool,
                Err(e) => unreachable(&url, e),
            };
            let schemas =
                sqlx::query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'session_test_%'")
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_default();
            for row in schemas {
                let Ok(name) = row.try_get::<String, _>(0) else {
                    continue;
                };
                let pid = name.trim_start_matches("session_test_");
                if !std::path::Path::new("/proc").join(pid).exists() {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&pool)
                        .await;
                }
            }
            if let Err(e) = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {}", schema()))
                .execute(&pool)
                .await
            {
                unreachable(&url, e);
            }
            pool.close().await;
        })
        .await;
}

pub async fn store(settings: PostgresSettings) -> PostgresStore {
    prepare().await;
    match PostgresStore::connect(&settings).await {
        Ok(store) => store,
        Err(e) => unreachable(&settings.url, e),
    }
}

pub mod mysql;
pub mod scenarios;
pub mod sqlite;
