//! The whole conformance kit on one Redis node with the near-cache off: every load
//! is a `GETEX` (with the `PTTL` before it), as for a user who sets
//! `near_cache = false`.
mod common;

session_testkit::conformance_tests!(|| async {
    let mut settings = common::settings_for(common::node());
    settings.near_cache = false;
    common::connect(&settings).await
});
