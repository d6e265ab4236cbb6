//! The whole conformance kit on the cookie store with a Redis registry: sign-out and
//! revocation stick for cookie sessions, and a user's sessions are listed.
mod common;

use std::sync::Arc;

use session_cookie::{CookieStore, Key, Keyring};
use session_redis::RedisRegistry;

async fn store() -> CookieStore {
    let settings = common::settings_for(common::node()).with_near_cache(false);
    let registry = RedisRegistry::new(common::connect(&settings).await);
    match Key::generate() {
        Ok(key) => CookieStore::new(Keyring::new(key, [])).with_registry(Arc::new(registry)),
        Err(e) => panic!("no key: {e}"),
    }
}

session_testkit::conformance_tests!(client_side: || async { store().await });
