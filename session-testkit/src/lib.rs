//! The conformance kit: the behaviour every session store must have, as named tests.
//!
//! A driver author writes one line and gets one `#[test]` per rule of the contract
//! (every `Session` method, each flash rule request by request, the store-call
//! budget, expiry with short timeouts, `regenerate` / `invalidate`, concurrent
//! requests, bad tokens, big and unicode values, serde round trips). A failing test
//! reads like the rule it breaks: `flash_is_gone_two_requests_later`.
//!
//! # Example
//!
//! In `tests/conformance.rs` of a driver crate:
//!
//! ```
//! use session_core::MemoryStore;
//!
//! session_testkit::conformance_tests!(|| async { MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! The factory runs once per test, so each test gets a fresh store; for a server
//! store, give each one its own namespace or database.
//!
//! # Writing your own store against the kit
//!
//! A store implements [`session_core::SessionStore`] (the plain level: whole records;
//! its module docs hold a complete `HashMap` store), and optionally
//! [`session_core::MergeStore`] (per-key merges). The kit does not skip tests: each
//! asserts what the level the store implements guarantees. A store without the merge
//! level is checked to keep concurrent whole-record saves consistent (one wins whole)
//! instead of keeping both; a client-side store (`client_side:`) is checked for what
//! it documents instead of revocation (the old token still opens).
//! `tests/third_party_store.rs` of this crate is a store written only against public
//! APIs, the way a third party would.
//!
//! # Simulating requests yourself
//!
//! [`Kit`] and [`Client`] drive request after request for your own tests:
//!
//! ```
//! use session_core::MemoryStore;
//! use session_testkit::Kit;
//!
//! # fn main() -> Result<(), session_core::Error> {
//! session_testkit::run(|| async { MemoryStore::new() }, |kit: Kit| async move {
//!     let mut browser = kit.client();
//!     browser.request(|s| async move { s.flash("msg", "saved").await }).await?;
//!     let msg = browser.request(|s| async move { s.get::<String>("msg").await }).await?;
//!     assert_eq!(msg.as_deref(), Some("saved"));
//!     // The flash was saved; the second request aged it out, which left the
//!     // session empty, so it was destroyed.
//!     assert_eq!((kit.calls().saves, kit.calls().destroys), (1, 1));
//!     Ok(())
//! })
//! # }
//! ```

//!
//! # Throwaway servers
//!
//! [`servers`] starts `redis-server` processes on free loopback ports (a plain node, one
//! with `requirepass`, one to kill and restart, a 3-master Redis Cluster) and stops
//! them when the test process exits, for driver tests that need servers of their own.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cases;
mod kit;
pub mod servers;

pub use kit::{run, Calls, Client, Kit};

#[doc(hidden)]
pub use session_core as __core;

/// Expands into one `#[test]` per conformance case, each on a fresh store from the
/// factory (`|| async { store }`). For a store whose token carries the session (a
/// cookie store), write `conformance_tests!(client_side: || async { store })`.
#[macro_export]
macro_rules! conformance_tests {
    (client_side: $factory:expr $(,)?) => {
        $crate::__all_cases!($crate::Kit::client_side, $factory);
    };
    ($factory:expr $(,)?) => {
        $crate::__all_cases!(::std::convert::identity, $factory);
    };
}

// `__all_cases!` and `CASE_NAMES`, written by `build.rs` from the `pub async fn`s of
// `src/cases/`: the case list exists once, as the functions themselves.
include!(concat!(env!("OUT_DIR"), "/all_cases.rs"));

#[doc(hidden)]
#[macro_export]
macro_rules! __tests {
    ($kit:path, $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() -> ::std::result::Result<(), $crate::__core::Error> {
                $crate::run($factory, |kit: $crate::Kit| $crate::cases::$name($kit(kit)))
            }
        )*
    };
}
