//! `CookieStore` passes the whole conformance kit.

use session_cookie::{CookieStore, Key, Keyring};

fn store() -> CookieStore {
    match Key::generate() {
        Ok(key) => CookieStore::new(Keyring::new(key, [])),
        Err(e) => panic!("no key: {e}"),
    }
}

session_testkit::conformance_tests!(client_side: || async { store() });
