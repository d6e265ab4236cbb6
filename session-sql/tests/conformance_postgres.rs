//! The whole conformance kit against a real PostgreSQL (127.0.0.1:5432, database
//! `test`, or `SESSION_TEST_POSTGRES_URL`), each test in a table of its own.
mod common;

session_testkit::conformance_tests!(|| async { common::store(common::settings()).await });
