//! Keys and the keyring.
//!
//! A [`Key`] is 32 random bytes, written as base64. A [`Keyring`] holds the current
//! key (which seals) and previous keys (which still open), so keys can be rotated
//! without logging everyone out: a cookie opened with an old key is re-sealed with the
//! current one on that response.

use std::fmt;

use crate::xchacha::Cipher;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use sha2::{Digest, Sha256};

use crate::Error;

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;

const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A 256-bit sealing key.
///
/// ```
/// use session_cookie::Key;
///
/// // The one-liner to make a key for session.toml or APP_KEY:
/// let text = Key::generate()?.to_base64();
/// let key = Key::from_base64("APP_KEY", &text)?;
/// assert_eq!(key.to_base64(), text);
/// assert!(Key::from_base64("APP_KEY", "too-short").is_err());
/// # Ok::<(), session_cookie::Error>(())
/// ```
#[derive(Clone)]
pub struct Key {
    bytes: [u8; KEY_BYTES],
    id: [u8; 4],
}

impl Key {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Result<Key, Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Key::from_bytes(bytes))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Key {
        let digest = Sha256::new()
            .chain_update(b"session-cookie key id v1")
            .chain_update(bytes)
            .finalize();
        let id = [digest[0], digest[1], digest[2], digest[3]];
        Key { bytes, id }
    }

    /// Parses base64 (standard or URL-safe, padded or not, with an optional `base64:`
    /// prefix as Masonite writes `APP_KEY`) of exactly 32 bytes. `setting` names where
    /// the text came from, for the error.
    pub fn from_base64(setting: &str, text: &str) -> Result<Key, Error> {
        let text = text.trim();
        let text = text.strip_prefix("base64:").unwrap_or(text);
        let decoded = LENIENT_STANDARD
            .decode(text)
            .or_else(|_| LENIENT_URL.decode(text))
            .map_err(|e| Error::InvalidKey {
                setting: setting.to_owned(),
                reason: format!("not base64 ({e})"),
            })?;
        let bytes: [u8; KEY_BYTES] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| Error::InvalidKey {
                    setting: setting.to_owned(),
                    reason: format!("{} bytes, expected {KEY_BYTES}", decoded.len()),
                })?;
        Ok(Key::from_bytes(bytes))
    }

    /// The key as standard, padded base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// The 4-byte key id written in the clear in every cookie: the first bytes of a
    /// SHA-256 digest of the key, so it names the key without revealing it.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    pub(crate) fn cipher(&self) -> Cipher {
        Cipher::new(self.bytes)
    }

    /// URL-safe base64, for tests that want a key in another alphabet.
    #[doc(hidden)]
    pub fn to_base64_url(&self) -> String {
        URL_SAFE.encode(self.bytes)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(id {:02x?})", self.id)
    }
}

/// The current key and the previous ones.
#[derive(Clone)]
pub struct Keyring {
    current: (Key, Cipher),
    previous: Vec<(Key, Cipher)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.0)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// A keyring that seals with `current` and opens with it or any of `previous`.
    pub fn new(current: Key, previous: impl IntoIterator<Item = Key>) -> Keyring {
        let cipher = current.cipher();
        Keyring {
            current: (current, cipher),
            previous: previous
                .into_iter()
                .map(|k| {
                    let c = k.cipher();
                    (k, c)
                })
                .collect(),
        }
    }

    /// The sealing key and its cipher.
    pub(crate) fn current(&self) -> (&Key, &Cipher) {
        (&self.current.0, &self.current.1)
    }

    /// The cipher of the key with this id, if the ring holds it.
    pub(crate) fn find(&self, id: &[u8]) -> Option<&Cipher> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|(k, _)| k.id[..] == *id)
            .map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_every_base64_spelling() -> Result<(), Error> {
        let key = Key::from_bytes([9; 32]);
        for text in [
            key.to_base64(),
            key.to_base64().trim_end_matches('=').to_owned(),
            key.to_base64_url(),
            format!("base64:{}", key.to_base64()),
        ] {
            assert_eq!(Key::from_base64("k", &text)?.id(), key.id(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn short_and_non_base64_keys_name_the_setting() {
        for bad in [
            "",
            "abc",
            "!!!!",
            &STANDARD.encode([1u8; 31]),
            &STANDARD.encode([1u8; 33]),
        ] {
            match Key::from_base64("APP_KEY", bad) {
                Err(Error::InvalidKey { setting, .. }) => assert_eq!(setting, "APP_KEY"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn key_ids_differ_and_debug_hides_the_key() {
        let a = Key::from_bytes([1; 32]);
        let b = Key::from_bytes([2; 32]);
        assert_ne!(a.id(), b.id());
        assert!(!format!("{a:?}").contains(&a.to_base64()));
    }
}
