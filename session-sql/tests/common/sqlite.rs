//! A database file per test, in the system's temporary directory. Files of test
//! processes that are gone are removed when the next one starts.

use std::sync::atomic::{AtomicUsize, Ordering};

use session_sql::{SqliteSettings, SqliteStore};
use sqlx::Row;

const PREFIX: &str = "session-sql-test-";

/// Settings with a database file no other test uses.
pub fn settings() -> SqliteSettings {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            if !std::path::Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let file = dir.join(format!(
        "{PREFIX}{}-{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    SqliteSettings::default().with_path(file.to_string_lossy())
}

pub async fn store(settings: SqliteSettings) -> SqliteStore {
    match SqliteStore::connect(&settings).await {
        Ok(store) => store,
        Err(e) => panic!(
            "cannot open the test SQLite database {}: {e}",
            settings.path
        ),
    }
}

/// Runs `sql` on `settings`' database.
pub async fn execute(settings: &SqliteSettings, sql: &str) -> Result<u64, sqlx::Error> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", settings.path)).await?;
    let done = sqlx::query(sql).execute(&pool).await?.rows_affected();
    pool.close().await;
    Ok(done)
}

/// The rows of `settings`' table.
pub async fn rows(settings: &SqliteSettings) -> Result<i64, sqlx::Error> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", settings.path)).await?;
    let row = sqlx::query(&format!("SELECT count(*) FROM {}", settings.table))
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    row.try_get(0)
}
