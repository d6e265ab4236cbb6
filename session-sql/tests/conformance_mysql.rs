//! The whole conformance kit against a real MariaDB or MySQL (127.0.0.1:3306,
//! database `test`, or `SESSION_TEST_MYSQL_URL`), each test in a table of its own.
mod common;

session_testkit::conformance_tests!(|| async {
    common::mysql::store(common::mysql::settings()).await
});
