//! The test MySQL/MariaDB database and a table per test. Tables of test processes
//! that are gone are dropped when the next one starts.

use std::sync::atomic::{AtomicUsize, Ordering};

use session_sql::{MysqlSettings, MysqlStore};
use sqlx::Row;
use tokio::sync::OnceCell;

/// The test database: `SESSION_TEST_MYSQL_URL`, else root@127.0.0.1:3306/test.
pub fn url() -> String {
    std::env::var("SESSION_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn prefix() -> String {
    format!("session_test_{}_", std::process::id())
}

/// Settings with a table no other test uses.
pub fn settings() -> MysqlSettings {
    static N: AtomicUsize = AtomicUsize::new(0);
    MysqlSettings::default()
        .with_url(url())
        .with_table(format!("{}{}", prefix(), N.fetch_add(1, Ordering::SeqCst)))
        .with_pool_size(4)
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "cannot reach the test MariaDB/MySQL at {url}: {e}\n\
         start it (service mariadb start, or run `bash scripts/test`), \
         or set SESSION_TEST_MYSQL_URL"
    )
}

/// Leftover tables of dead test processes dropped, once a process.
async fn prepare() {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let url = url();
            let pool = match sqlx::MySqlPool::connect(&url).await {
                Ok(pool) => pool,
                Err(e) => unreachable(&url, e),
            };
            let tables = sqlx::query(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name LIKE 'session\\_test\\_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for row in tables {
                let Ok(name) = row.try_get::<String, _>(0) else {
                    continue;
                };
                let pid = name.split('_').nth(2).unwrap_or("");
                if !std::path::Path::new("/proc").join(pid).exists() {
                    let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {name}"))
                        .execute(&pool)
                        .await;
                }
            }
            pool.close().await;
        })
        .await;
}

pub async fn store(settings: MysqlSettings) -> MysqlStore {
    prepare().await;
    match MysqlStore::connect(&settings).await {
        Ok(store) => store,
        Err(e) => unreachable(&settings.url, e),
    }
}

/// Runs `sql` on the test database.
pub async fn execute(sql: &str) -> Result<u64, sqlx::Error> {
    let pool = sqlx::MySqlPool::connect(&url()).await?;
    let done = sqlx::query(sql).execute(&pool).await?.rows_affected();
    pool.close().await;
    Ok(done)
}

/// The rows of `settings`' table.
pub async fn rows(settings: &MysqlSettings) -> Result<i64, sqlx::Error> {
    let pool = sqlx::MySqlPool::connect(&url()).await?;
    let row = sqlx::query(&format!("SELECT count(*) FROM {}", settings.table))
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    row.try_get(0)
}
