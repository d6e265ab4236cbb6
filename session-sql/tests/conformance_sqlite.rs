//! The whole conformance kit against SQLite, each test in a database file of its own.
mod common;

session_testkit::conformance_tests!(|| async {
    common::sqlite::store(common::sqlite::settings()).await
});
