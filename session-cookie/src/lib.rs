//! The cookie session store: all session data sealed in the client's cookie, so an
//! app needs no server at all. This is the default driver.
//!
//! Sealing is XChaCha20-Poly1305 with random 192-bit nonces; the version byte and key
//! id are in the clear, the cookie name is bound as associated data, and the idle and
//! absolute deadlines live inside the ciphertext. A [`Keyring`] rotates keys: the
//! first key seals, every key opens, and a cookie opened with an old key is re-sealed
//! with the current one on that response. See [`CookieStore`] for what it guarantees
//! and, importantly, what it does not (without a registry of signed-in sessions, a
//! copied cookie cannot be revoked before it expires).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Expiry, Session, TokenUpdate};
//! use session_cookie::{CookieStore, Key, Keyring};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Make a key once and keep it in session.toml (`[cookie] key = "..."`) or APP_KEY:
//! let key = Key::generate()?;
//! println!("APP_KEY={}", key.to_base64());
//!
//! let store = Arc::new(CookieStore::new(Keyring::new(key, [])));
//! let session = Session::new(store.clone(), Expiry::default(), None);
//! session.set("user", "ada").await?;
//! let TokenUpdate::Send(cookie_value) = session.commit().await? else { unreachable!() };
//!
//! let next = Session::new(store, Expiry::default(), Some(cookie_value));
//! assert_eq!(next.get::<String>("user").await?.as_deref(), Some("ada"));
//! # Ok(()) }
//! ```
//!
//! # Stored format
//!
//! See the [`format`](mod@format) module: a byte table and a test vector.
//!
//! # Cookies and settings
//!
//! This crate is the store only. How a token travels in cookies (name, `__Host-`
//! prefix, attributes, chunks), the request's session life and the `[cookie]` table
//! of `session.toml` are `session-http`'s, which every HTTP integration shares.
//!
//! # Performance
//!
//! XChaCha20-Poly1305 is computed as HChaCha20 followed by `ring`'s assembly
//! ChaCha20-Poly1305 (with the same output as any other implementation: the format's
//! test vector holds), and each nonce comes straight from the operating system's
//! CSPRNG (one `getrandom` call per seal), so a server that forks never repeats one.
//!
//! An unchanged session is sealed again only when its idle deadline would move by more
//! than 1% of the idle timeout, so most read-only requests send no `Set-Cookie`; and
//! the store keeps the cookies it opened lately, so those requests, which send the
//! same cookie again, are not decrypted again
//! ([`CookieStore::with_opened_cache_bytes`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod error;
mod key;
mod opened;
mod seal;
mod store;
mod xchacha;

/// The stored format: a byte table and a test vector.
pub mod format {
    #![doc = include_str!("format.md")]
    pub use crate::seal::VERSION;
}

pub use error::Error;
pub use key::{Key, Keyring, KEY_BYTES};
pub use store::CookieStore;
