//! The flash rules, in one place: flash data lives for the rest of its request and
//! the next request that reads flash data.
//!
//! Every value a request sees has a [`Life`]. Values arrive from the store as
//! [`Life::Persistent`] or [`Life::Arrived`] (flash data from an earlier request);
//! the request's own writes make [`Life::Persistent`], [`Life::Flashed`] or
//! [`Life::Now`]. [`settle`] decides, at save, what each becomes in the store. No
//! other code in the workspace decides flash lifetimes.

/// How long a value the request can see will live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// Stored until deleted.
    Persistent,
    /// Flash data that arrived from an earlier request.
    Arrived,
    /// Flash data written (or kept, or reflashed) by this request: it survives this
    /// request's save and lives through the next reading request.
    Flashed,
    /// `flash_now` data: this request only, never stored.
    Now,
}

impl Life {
    /// The life of a value loaded from the store.
    pub(crate) fn arriving(stored_as_flash: bool) -> Life {
        if stored_as_flash {
            Life::Arrived
        } else {
            Life::Persistent
        }
    }

    /// `keep` / `reflash`: flash data gets one more reading request. Other values are
    /// unchanged. Returns whether anything changed.
    pub(crate) fn keep(&mut self) -> bool {
        if *self == Life::Arrived {
            *self = Life::Flashed;
            true
        } else {
            false
        }
    }

    /// True for flash data the request could keep (arrived or flashed).
    pub(crate) fn is_flash(self) -> bool {
        matches!(self, Life::Arrived | Life::Flashed)
    }
}

/// What a value becomes when the request saves: `Some(flash)` to store it (with its
/// flash flag), `None` to drop it.
///
/// `read` says whether the request read flash data. Only requests that did age
/// flash data (rule 3): flash data that arrived is dropped by a reading request unless
/// kept or flashed again, and left alone by one that never read.
pub(crate) fn settle(life: Life, read: bool) -> Option<bool> {
    match life {
        Life::Persistent => Some(false),
        Life::Flashed => Some(true),
        Life::Arrived if read => None,
        Life::Arrived => Some(true),
        Life::Now => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrived_flash_dies_only_in_a_reading_request() {
        assert_eq!(settle(Life::Arrived, true), None);
        assert_eq!(settle(Life::Arrived, false), Some(true));
    }

    #[test]
    fn kept_flash_survives_a_reading_request() {
        let mut life = Life::arriving(true);
        assert!(life.keep());
        assert_eq!(settle(life, true), Some(true));
    }

    #[test]
    fn flash_now_is_never_stored_and_persistent_always_is() {
        assert_eq!(settle(Life::Now, false), None);
        assert_eq!(settle(Life::Persistent, true), Some(false));
        let mut p = Life::arriving(false);
        assert!(!p.keep());
        assert_eq!(p, Life::Persistent);
    }
}
