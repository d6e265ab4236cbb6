//! The background task that deletes expired rows, for every SQL driver: one bounded
//! statement a round, so a backlog never holds the database.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Runs `delete(batch)` (one statement deleting at most `batch` expired rows; how
/// many it deleted) once, or with `all` until a statement deletes fewer than
/// `batch`; how many in all.
pub(crate) async fn delete_expired<F, Fut>(
    batch: u32,
    all: bool,
    mut delete: F,
) -> Result<u64, sqlx::Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<u64, sqlx::Error>>,
{
    let mut deleted = 0;
    loop {
        let n = delete(batch).await?;
        deleted += n;
        if !all || n < u64::from(batch) {
            return Ok(deleted);
        }
    }
}

/// The cleanup task: every `every`, one `delete(batch)`, until `stop` ends (the
/// store's last clone is dropped).
pub(crate) async fn task<F, Fut>(
    every: Duration,
    batch: u32,
    table: String,
    mut stop: watch::Receiver<()>,
    mut delete: F,
) where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<u64, sqlx::Error>>,
{
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match delete(batch).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, %table, "deleted expired sessions"),
            Err(error) => tracing::warn!(%error, %table, "could not delete expired sessions"),
        }
    }
}
