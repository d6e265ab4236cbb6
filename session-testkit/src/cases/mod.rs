//! The cases, one async function per behaviour, named after the rule it checks.
//!
//! Each takes a [`Kit`](crate::Kit) around a fresh store. The
//! [`conformance_tests!`](crate::conformance_tests) macro turns every one into a
//! `#[test]`; a driver author can also call them one by one.

mod api;
mod concurrency;
mod expiry;
mod flash;
mod lifecycle;
mod renew;
mod tokens;
mod values;

pub use api::*;
pub use concurrency::*;
pub use expiry::*;
pub use flash::*;
pub use lifecycle::*;
pub use renew::*;
pub use tokens::*;
pub use values::*;
