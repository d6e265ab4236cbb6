//! The connection pool every SQL store makes for itself.
//!
//! sqlx pings a pooled connection each time it hands one out (`test_before_acquire`),
//! which doubles the round trips of a request: one ping, then the statement. The
//! stores' own pools ping only a connection that has been idle for
//! [`TRUSTED_IDLE`] or longer (as HikariCP's validation bypass does): a connection
//! used within the last second is handed out as it is, and a broken one among those
//! fails its statement (the request answers 503) and leaves the pool.

use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::Connection as _;

/// How long a pooled connection may have been idle and still be handed out without
/// a ping.
pub(crate) const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// A pool of at most `size` connections, waiting at most `acquire_timeout` for one,
/// pinging only connections idle for [`TRUSTED_IDLE`] or longer.
pub(crate) fn options<DB: sqlx::Database>(size: u32, acquire_timeout: Duration) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(size)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= TRUSTED_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}
