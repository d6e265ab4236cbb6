//! Expiry: the idle `timeout` and the absolute `lifetime`, both enforced by the
//! server on every load under its current policy.
//!
//! A session dies at the earlier of two deadlines: `timeout` after the last request
//! that loaded it (refreshed by every load), and `lifetime` after it was created
//! (never extended). Deadlines are unix times in milliseconds, so they can be sealed
//! into a cookie or handed to Redis as `PEXPIREAT`.
//!
//! ```
//! use std::time::Duration;
//! use session_core::Expiry;
//!
//! let expiry = Expiry::new(Duration::from_secs(60)).with_lifetime(Duration::from_secs(90));
//! let created = 1_000_000;
//! // Idle deadline first...
//! assert_eq!(expiry.deadline(created, created), created + 60_000);
//! // ...but never past the absolute cap.
//! assert_eq!(expiry.deadline(created, created + 50_000), created + 90_000);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default idle timeout: one hour (Masonite's default).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The default absolute lifetime: 14 days, so that even a session used now and then
/// (a stolen cookie, say) ends.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// When sessions expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    idle: Duration,
    lifetime: Option<Duration>,
}

/// One hour idle, 14 days at most.
impl Default for Expiry {
    fn default() -> Self {
        Expiry::new(DEFAULT_TIMEOUT).with_lifetime(DEFAULT_LIFETIME)
    }
}

impl Expiry {
    /// Sessions die `idle` after the last request that loaded them, with no absolute
    /// cap (add one with [`with_lifetime`](Self::with_lifetime)).
    pub const fn new(idle: Duration) -> Self {
        Expiry {
            idle,
            lifetime: None,
        }
    }

    /// Adds an absolute cap: sessions die `lifetime` after creation, however active.
    pub const fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The idle timeout.
    pub const fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime, if any.
    pub const fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The idle timeout in whole milliseconds (at least 1).
    pub fn idle_ms(&self) -> u64 {
        duration_ms(self.idle).max(1)
    }

    /// The absolute lifetime in milliseconds, if any.
    pub fn lifetime_ms(&self) -> Option<u64> {
        self.lifetime.map(duration_ms)
    }

    /// The deadline (unix ms) of a session created at `created_ms` and loaded at
    /// `now_ms`: the earlier of the idle deadline and the absolute cap.
    pub fn deadline(&self, created_ms: u64, now_ms: u64) -> u64 {
        let idle = now_ms.saturating_add(self.idle_ms());
        match self.lifetime_ms() {
            Some(life) => idle.min(created_ms.saturating_add(life)),
            None => idle,
        }
    }

    /// True when a session created at `created_ms` whose idle deadline is
    /// `expires_ms` is still alive at `now_ms`.
    pub fn is_live(&self, created_ms: u64, expires_ms: u64, now_ms: u64) -> bool {
        let within_lifetime = match self.lifetime_ms() {
            Some(life) => now_ms < created_ms.saturating_add(life),
            None => true,
        };
        now_ms < expires_ms && within_lifetime
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The current unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(duration_ms)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_deadline_moves_with_each_load() {
        let e = Expiry::new(Duration::from_secs(10));
        assert_eq!(e.deadline(0, 5_000), 15_000);
        assert_eq!(e.deadline(0, 9_000), 19_000);
    }

    #[test]
    fn lifetime_caps_the_deadline() {
        let e = Expiry::new(Duration::from_secs(10)).with_lifetime(Duration::from_secs(12));
        assert_eq!(e.deadline(0, 5_000), 12_000);
        assert!(!e.is_live(0, 20_000, 12_000));
        assert!(e.is_live(0, 20_000, 11_999));
    }

    #[test]
    fn a_session_is_dead_at_its_idle_deadline() {
        let e = Expiry::default();
        assert!(e.is_live(0, 100, 99));
        assert!(!e.is_live(0, 100, 100));
    }

    #[test]
    fn huge_durations_saturate() {
        let e = Expiry::new(Duration::MAX).with_lifetime(Duration::MAX);
        assert_eq!(e.deadline(5, 10), u64::MAX);
    }
}
