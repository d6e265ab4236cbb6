//! Session ids: 256 bits from the operating system's CSPRNG, as URL-safe text.
//!
//! An id is what a server store hands the client. It is parsed strictly (exactly 43
//! characters of unpadded, canonical base64url), so malformed input is rejected before
//! any backend is called, and stores keep only its [`digest`](SessionId::storage_key),
//! never the id itself, so a dump of the store holds no usable token.
//!
//! ```
//! use session_core::SessionId;
//!
//! let id = SessionId::generate()?;
//! let text = id.to_string();
//! assert_eq!(text.len(), 43);
//! assert_eq!(SessionId::parse(&text), Some(id.clone()));
//! assert_eq!(SessionId::parse("not-an-id"), None);
//! // The storage key is a digest: it does not contain the token.
//! assert!(!id.storage_key().contains(&text));
//! # Ok::<(), session_core::Error>(())
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::Error;

/// Number of random bytes in an id.
const ID_BYTES: usize = 32;
/// Length of an id's text form (unpadded base64url of 32 bytes).
pub(crate) const ID_TEXT_LEN: usize = 43;

/// A 256-bit random session id.
///
/// `Display` gives the token to send to the client; `Debug` does not print it, so ids
/// do not leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A fresh id from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(SessionId(bytes))
    }

    /// Parses a client's token. Anything but 43 characters of canonical, unpadded
    /// base64url gives `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ID_TEXT_LEN {
            return None;
        }
        let mut bytes = [0u8; ID_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
            Ok(ID_BYTES) => Some(SessionId(bytes)),
            _ => None,
        }
    }

    /// The key a server store files this session under: the lowercase hex SHA-256
    /// digest of the id (64 digits). A dump of the store holds no usable token.
    ///
    /// ```
    /// # use session_core::SessionId;
    /// let id = SessionId::generate()?;
    /// let key = id.storage_key();
    /// assert_eq!(key.len(), 64);
    /// assert!(!key.contains(&id.to_string()));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn storage_key(&self) -> String {
        hex_digest(&self.0)
    }
}

/// The lowercase hex SHA-256 digest of `bytes` (64 digits), in one string.
pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(2 * Sha256::output_size());
    for byte in Sha256::digest(bytes) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Encoded on the stack: `to_string` makes the one string it returns.
        let mut text = [0u8; ID_TEXT_LEN];
        match URL_SAFE_NO_PAD.encode_slice(self.0, &mut text) {
            Ok(len) => f.write_str(std::str::from_utf8(&text[..len]).map_err(|_| fmt::Error)?),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_and_parse_back() -> Result<(), Error> {
        let a = SessionId::generate()?;
        let b = SessionId::generate()?;
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(&a.to_string()), Some(a));
        Ok(())
    }

    #[test]
    fn wrong_length_or_alphabet_is_rejected() -> Result<(), Error> {
        let text = SessionId::generate()?.to_string();
        assert_eq!(SessionId::parse(&text[1..]), None);
        assert_eq!(SessionId::parse(&format!("{text}A")), None);
        let mut bad = text.clone().into_bytes();
        bad[5] = b'+';
        assert_eq!(SessionId::parse(&String::from_utf8_lossy(&bad)), None);
        assert_eq!(SessionId::parse(""), None);
        assert_eq!(SessionId::parse(&"é".repeat(21)), None);
        Ok(())
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() -> Result<(), Error> {
        // The last character of a 43-char token carries 2 bits of padding; a token
        // that sets them decodes to the same bytes and must not be accepted.
        let text = SessionId::generate()?.to_string();
        let last = text.as_bytes()[42];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.iter().position(|&c| c == last).unwrap_or(0);
        let tweaked = alphabet[(pos & !0b11) | 0b01];
        let mut bytes = text.into_bytes();
        bytes[42] = tweaked;
        assert_eq!(SessionId::parse(&String::from_utf8_lossy(&bytes)), None);
        Ok(())
    }

    #[test]
    fn debug_does_not_print_the_token() -> Result<(), Error> {
        let id = SessionId::generate()?;
        assert!(!format!("{id:?}").contains(&id.to_string()));
        Ok(())
    }

    #[test]
    fn storage_key_is_a_stable_hex_digest() {
        let id = SessionId([7u8; 32]);
        let key = id.storage_key();
        assert_eq!(key.len(), 64);
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| HEX.contains(&b)));
        // A known answer: stored sessions stay findable across releases.
        assert_eq!(
            key.as_str(),
            "4bb06f8e4e3a7715d201d573d0aa423762e55dabd61a2c02278fa56cc6d294e0"
        );
        assert_ne!(key, SessionId([8u8; 32]).storage_key());
    }
}
