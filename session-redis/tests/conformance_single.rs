//! The whole conformance kit on one Redis node.
mod common;

session_testkit::conformance_tests!(|| async {
    common::connect(&common::settings_for(common::node())).await
});
