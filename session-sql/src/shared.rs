//! What every SQL store holds, whatever its database: the pool, the table, where
//! it connects (redacted, for messages), the size cap, and the switch that ends its
//! cleanup task with the store; and how the client's failures become errors.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{cleanup, Error};

/// A store's state, shared by its clones.
pub(crate) struct Shared<DB: sqlx::Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) table: String,
    /// Where the store connects, without secrets.
    pub(crate) target: String,
    pub(crate) max_session_bytes: usize,
    acquire_timeout: Duration,
    /// The driver's name (`postgres`, `mysql`, `sqlite`).
    store: &'static str,
    /// Dropped with the last clone of the store, which ends the cleanup task.
    _stop: watch::Sender<()>,
}

/// One statement deleting up to `batch` expired rows of `table`; how many.
pub(crate) type DeleteBatch<DB, Fut> = fn(sqlx::Pool<DB>, String, u32) -> Fut;

impl<DB: sqlx::Database> Shared<DB> {
    /// The state of a store of `store` over `pool`; the receiver ends when the last
    /// clone of it is dropped.
    pub(crate) fn new(
        store: &'static str,
        pool: sqlx::Pool<DB>,
        table: &str,
        target: String,
        max_session_bytes: usize,
    ) -> (Arc<Self>, watch::Receiver<()>) {
        let acquire_timeout = pool.options().get_acquire_timeout();
        let (stop, stopped) = watch::channel(());
        let shared = Shared {
            pool,
            table: table.to_owned(),
            target,
            max_session_bytes,
            acquire_timeout,
            store,
            _stop: stop,
        };
        (Arc::new(shared), stopped)
    }

    /// Starts the task that runs `delete` every `every` until `stopped` ends.
    pub(crate) fn clean_up<Fut>(
        &self,
        every: Duration,
        batch: u32,
        stopped: watch::Receiver<()>,
        delete: DeleteBatch<DB, Fut>,
    ) where
        Fut: Future<Output = Result<u64, sqlx::Error>> + Send + 'static,
    {
        let (pool, table) = (self.pool.clone(), self.table.clone());
        tokio::spawn(cleanup::task(
            every,
            batch,
            table.clone(),
            stopped,
            move |batch| delete(pool.clone(), table.clone(), batch),
        ));
    }

    /// Deletes every expired row now, 1000 a statement; how many.
    pub(crate) async fn delete_expired<Fut>(
        &self,
        delete: DeleteBatch<DB, Fut>,
    ) -> Result<u64, Error>
    where
        Fut: Future<Output = Result<u64, sqlx::Error>>,
    {
        cleanup::delete_expired(1000, true, |batch| {
            delete(self.pool.clone(), self.table.clone(), batch)
        })
        .await
        .map_err(|e| self.failed(e))
    }

    /// The error of a failed call, logged (without secrets: the target is redacted).
    pub(crate) fn failed(&self, source: sqlx::Error) -> Error {
        match source {
            sqlx::Error::PoolTimedOut => Error::Timeout {
                store: self.store,
                target: self.target.clone(),
                after: self.acquire_timeout,
            },
            source => {
                tracing::warn!(target = %self.target, error = %source, "session database failed");
                Error::Database {
                    store: self.store,
                    target: self.target.clone(),
                    source,
                }
            }
        }
    }

    /// [`failed`](Self::failed), as the store contract's error.
    pub(crate) fn core(&self, source: sqlx::Error) -> session_core::Error {
        self.failed(source).into()
    }

    /// `Debug` of the store named `name`: where it connects and its table.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("target", &self.target)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
