//! `MemoryStore` passes the whole kit.

use session_core::MemoryStore;

session_testkit::conformance_tests!(|| async { MemoryStore::new() });
