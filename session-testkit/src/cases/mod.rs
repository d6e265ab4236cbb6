//! The cases, one async function per behaviour, named after the rule it checks.
//!
//! Each takes a [`Kit`](crate::Kit) around a fresh store. The
//! [`conformance_tests!`](crate::conformance_tests) macro turns every one into a
//! `#[test]`; a driver author can also call them one by one.

mod api;
mod concurrency;
mod expiry;
mod flash;
mod hardening;
mod lifecycle;
mod renew;
mod tokens;
mod users;
mod values;

pub use api::*;
pub use concurrency::*;
pub use expiry::*;
pub use flash::*;
pub use hardening::*;
pub use lifecycle::*;
pub use renew::*;
pub use tokens::*;
pub use users::*;
pub use values::*;

use session_core::Error;

use crate::Client;

/// One request that stores `user` = `ada`.
pub(crate) async fn sign_in(c: &mut Client) -> Result<(), Error> {
    c.request(|s| async move { s.set("user", "ada").await })
        .await
}

/// One request that reads `user`.
pub(crate) async fn user_of(c: &mut Client) -> Result<Option<String>, Error> {
    c.request(|s| async move { s.get::<String>("user").await })
        .await
}
