//! The whole conformance kit on the cookie store with a PostgreSQL registry:
//! sign-out and revocation stick for cookie sessions, and a user's sessions are
//! listed.
mod common;

use std::sync::Arc;

use session_cookie::{CookieStore, Key, Keyring};
use session_sql::PostgresRegistry;

async fn store() -> CookieStore {
    let settings = common::settings();
    // The session table is not used; the schema is made as for the stores.
    drop(common::store(settings.clone()).await);
    let registry = match PostgresRegistry::connect(&settings).await {
        Ok(registry) => registry,
        Err(e) => panic!("cannot reach the test PostgreSQL: {e}"),
    };
    match Key::generate() {
        Ok(key) => CookieStore::new(Keyring::new(key, [])).with_registry(Arc::new(registry)),
        Err(e) => panic!("no key: {e}"),
    }
}

session_testkit::conformance_tests!(client_side: || async { store().await });
