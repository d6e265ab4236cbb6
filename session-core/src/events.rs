//! Lifecycle events a session goes through, for an application's audit log.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use session_core::{Expiry, MemoryStore, Session, SessionEvent};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
//! session.on_event(Arc::new(move |event: &SessionEvent| log.lock().unwrap().push(event.clone())));
//! session.login("ada").await?;
//! session.commit().await?;
//! assert!(matches!(&seen.lock().unwrap()[0], SessionEvent::SignedIn { user, .. } if user == "ada"));
//! # Ok(()) }
//! ```

use std::sync::Arc;

/// What happened to a session, told once its request's commit (or the revoke call)
/// has succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A new session was stored (its first save).
    Created,
    /// The session was signed in as `user` on `device` (a new device id).
    SignedIn {
        /// The user id.
        user: String,
        /// The session's device id, as listings show it.
        device: String,
    },
    /// The session got a new token (`regenerate`), its data and device kept.
    Regenerated,
    /// The signed-in session ended in its own request (sign-out, `invalidate`, or
    /// emptied).
    SignedOut {
        /// The user id.
        user: String,
        /// The session's device id.
        device: String,
    },
    /// A session of `user` was ended from elsewhere (another of the user's sessions,
    /// or [`Users`](crate::Users)).
    Revoked {
        /// The user id.
        user: String,
        /// The revoked session's device id; `None` when all of the user's sessions
        /// but one (or all) were revoked at once.
        device: Option<String>,
        /// How many sessions ended.
        count: u64,
    },
}

/// Where events go: called on the request's task, so keep it quick (hand the event
/// to a channel for slow work).
pub type EventSink = Arc<dyn Fn(&SessionEvent) + Send + Sync>;
