//! The whole conformance kit on a password-protected Redis node.
mod common;

session_testkit::conformance_tests!(|| async {
    let mut settings = common::settings_for(common::protected_node());
    settings.password = Some(common::PASSWORD.to_owned());
    common::connect(&settings).await
});
