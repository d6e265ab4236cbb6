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

#[doc(hidden)]
#[macro_export]
macro_rules! __all_cases {
    ($kit:path, $factory:expr) => {
        $crate::__tests!(
            $kit, $factory;
            // API
            set_then_get_in_the_same_request,
            set_value_is_visible_in_later_requests,
            get_of_a_missing_key_is_none,
            get_of_the_wrong_type_names_the_key_and_keeps_the_value,
            has_agrees_with_get,
            delete_removes_now_and_later,
            flush_removes_everything_flash_included,
            pull_returns_the_value_then_removes_it,
            increment_and_decrement_count_from_zero,
            increment_of_a_non_integer_or_past_i64_is_an_error,
            all_and_keys_show_what_get_sees,
            unserialisable_value_is_refused_and_nothing_stored,
            clones_of_the_handle_share_one_session,
            // Flash
            flash_is_visible_in_the_same_request,
            flash_is_visible_throughout_the_next_request,
            flash_is_gone_two_requests_later,
            pull_consumes_flash_data,
            untouched_request_does_not_age_flash,
            write_only_request_does_not_age_flash,
            reading_only_persistent_keys_does_not_age_flash,
            reflash_keeps_all_flash_for_one_more_request,
            keep_keeps_named_flash_for_one_more_request,
            flashing_again_gives_one_more_request,
            set_after_flash_makes_the_key_persistent,
            flash_after_set_makes_the_key_flash,
            flash_now_is_visible_in_this_request_only,
            delete_removes_flash_data_at_once,
            // Life cycle
            untouched_session_makes_no_store_call,
            never_written_session_is_not_stored,
            unchanged_session_writes_only_the_idle_refresh,
            changed_session_is_saved_once,
            write_only_request_skips_the_load_when_the_store_merges,
            emptied_session_removes_the_token,
            second_commit_does_nothing,
            // Expiry
            idle_timeout_expires_the_session,
            each_load_refreshes_the_idle_timeout,
            lifetime_caps_an_active_session,
            // Regenerate / invalidate
            regenerate_changes_the_token_and_keeps_the_data,
            regenerate_destroys_the_old_token,
            invalidate_empties_and_destroys_the_session,
            writes_after_invalidate_go_to_a_new_session,
            // Concurrency
            concurrent_requests_changing_different_keys_keep_both,
            concurrent_writes_to_one_key_last_writer_wins,
            save_never_brings_back_a_destroyed_session,
            // Production guarantees
            oversized_session_is_refused_and_nothing_of_it_stored,
            concurrent_increments_are_never_lost,
            regenerate_racing_writes_loses_none_of_them,
            write_only_delete_of_the_last_key_removes_the_session,
            a_lowered_policy_shortens_sessions_already_issued,
            concurrent_writers_never_pass_the_size_cap_together,
            control_characters_in_keys_and_values_round_trip,
            // Tokens
            malformed_tokens_give_a_fresh_session,
            unknown_token_gives_a_fresh_session_under_a_new_token,
            altered_token_opens_nothing,
            // Values
            unicode_keys_and_values_round_trip,
            large_value_round_trips,
            many_keys_round_trip,
            oversized_session_is_stored_whole_or_refused,
            json_values_round_trip,
            untagged_enums_round_trip,
            flattened_structs_round_trip,
            integer_extremes_round_trip,
            options_round_trip,
            maps_round_trip,
        );
    };
}

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
