//! The commit planner: what one request's save does, decided from what the request
//! did, with no store in sight.

/// The session as the request found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Not loaded: the request did not touch the session, or only wrote to a store
    /// that merges.
    Unread,
    /// Loaded, and the token (if any) named no live session.
    Nothing,
    /// Loaded a live session.
    Live,
}

/// What the planner looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) found: Found,
    /// The request carried a token.
    pub(crate) token: bool,
    /// The request wrote, removed, flushed, kept or aged something.
    pub(crate) changed: bool,
    /// Something is left to store: with [`Found::Unread`], something this request
    /// wrote; otherwise anything that survives the flash rules.
    pub(crate) survives: bool,
    /// `flush` (or `invalidate`) was called.
    pub(crate) flushed: bool,
    /// `regenerate` or `invalidate` was called.
    pub(crate) renew: bool,
    /// The store asked for the loaded record to be saved again.
    pub(crate) outdated: bool,
    /// The idle deadline has moved far enough to be worth a save.
    pub(crate) refresh_due: bool,
}

/// What the commit does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing: the client's cookie stays as it is.
    Keep,
    /// No store call; the client's cookie is removed.
    Forget,
    /// Destroy the session in the store and remove the cookie.
    Destroy,
    /// Store a new session and send its token.
    Create,
    /// A new session in place of the client's, which is destroyed.
    Renew,
    /// Save into the client's session (if it is gone, start a fresh one with this
    /// request's writes).
    Update,
}

/// The plan for `facts`.
pub(crate) fn plan(facts: Facts) -> Plan {
    let Facts {
        found,
        token,
        changed,
        survives,
        flushed,
        renew,
        outdated,
        refresh_due,
    } = facts;
    match found {
        Found::Unread if !changed && !renew => Plan::Keep,
        Found::Unread if !token => {
            if survives {
                Plan::Create
            } else {
                Plan::Keep
            }
        }
        Found::Unread if !survives && (renew || flushed) => Plan::Destroy,
        Found::Unread if renew => Plan::Renew,
        Found::Unread => Plan::Update,
        Found::Nothing if survives => Plan::Create,
        Found::Nothing if token => Plan::Forget,
        Found::Nothing => Plan::Keep,
        Found::Live if !survives => Plan::Destroy,
        Found::Live if renew => Plan::Renew,
        Found::Live if changed || outdated || refresh_due => Plan::Update,
        Found::Live => Plan::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(found: Found) -> Facts {
        Facts {
            found,
            token: true,
            changed: false,
            survives: true,
            flushed: false,
            renew: false,
            outdated: false,
            refresh_due: false,
        }
    }

    #[test]
    fn an_untouched_session_is_kept() {
        assert_eq!(plan(facts(Found::Unread)), Plan::Keep);
        let no_token = Facts {
            token: false,
            survives: false,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(no_token), Plan::Keep);
    }

    #[test]
    fn a_first_write_creates_and_a_write_only_request_updates() {
        let first = Facts {
            token: false,
            changed: true,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(first), Plan::Create);
        let write_only = Facts {
            changed: true,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(write_only), Plan::Update);
        // Only removals: the store removes the session if they empty it.
        let removes = Facts {
            changed: true,
            survives: false,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(removes), Plan::Update);
    }

    #[test]
    fn a_write_that_leaves_nothing_without_a_token_stores_nothing() {
        let flash_now = Facts {
            token: false,
            changed: true,
            survives: false,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(flash_now), Plan::Keep);
    }

    #[test]
    fn an_unread_flush_or_invalidate_destroys_unless_something_is_written_after() {
        let flush = Facts {
            changed: true,
            flushed: true,
            survives: false,
            ..facts(Found::Unread)
        };
        assert_eq!(plan(flush), Plan::Destroy);
        let logout = Facts {
            renew: true,
            ..flush
        };
        assert_eq!(plan(logout), Plan::Destroy);
        let logout_then_flash = Facts {
            survives: true,
            ..logout
        };
        assert_eq!(plan(logout_then_flash), Plan::Renew);
    }

    #[test]
    fn a_bad_token_is_forgotten_or_replaced() {
        let bad = Facts {
            survives: false,
            ..facts(Found::Nothing)
        };
        assert_eq!(plan(bad), Plan::Forget);
        assert_eq!(
            plan(Facts {
                token: false,
                ..bad
            }),
            Plan::Keep
        );
        let written = Facts {
            changed: true,
            ..facts(Found::Nothing)
        };
        assert_eq!(plan(written), Plan::Create);
    }

    #[test]
    fn a_live_session_left_empty_is_destroyed() {
        let emptied = Facts {
            changed: true,
            survives: false,
            ..facts(Found::Live)
        };
        assert_eq!(plan(emptied), Plan::Destroy);
        assert_eq!(
            plan(Facts {
                renew: true,
                ..emptied
            }),
            Plan::Destroy
        );
    }

    #[test]
    fn a_live_session_is_saved_when_changed_outdated_or_due_for_a_refresh() {
        assert_eq!(plan(facts(Found::Live)), Plan::Keep);
        for f in [
            Facts {
                changed: true,
                ..facts(Found::Live)
            },
            Facts {
                outdated: true,
                ..facts(Found::Live)
            },
            Facts {
                refresh_due: true,
                ..facts(Found::Live)
            },
        ] {
            assert_eq!(plan(f), Plan::Update, "{f:?}");
        }
    }

    #[test]
    fn regenerate_renews_a_live_session() {
        assert_eq!(
            plan(Facts {
                renew: true,
                ..facts(Found::Live)
            }),
            Plan::Renew
        );
    }
}
