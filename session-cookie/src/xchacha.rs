//! XChaCha20-Poly1305, computed as its definition says: an HChaCha20 subkey from the
//! key and the nonce's first 16 bytes, then ChaCha20-Poly1305 (RFC 8439) under that
//! subkey with the nonce `00 00 00 00 || nonce[16..24]`. The ChaCha20-Poly1305 is
//! `ring`'s assembly; HChaCha20 (one ChaCha block function) is the `chacha20` crate's.

use chacha20::cipher::consts::U10;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

/// Nonce bytes.
pub(crate) const NONCE: usize = 24;
/// Tag bytes.
pub(crate) const TAG: usize = 16;

/// One key's cipher.
#[derive(Clone)]
pub(crate) struct Cipher {
    key: [u8; 32],
}

/// The ciphertext or tag did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forged;

impl Cipher {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Cipher { key }
    }

    /// The RFC 8439 key and nonce for `nonce`.
    fn inner(&self, nonce: &[u8; NONCE]) -> Result<(LessSafeKey, Nonce), Forged> {
        let (head, tail) = nonce.split_at(16);
        let subkey = chacha20::hchacha::<U10>(&self.key.into(), head.into());
        let key = UnboundKey::new(&CHACHA20_POLY1305, subkey.as_slice()).map_err(|_| Forged)?;
        let mut short = [0u8; 12];
        short[4..].copy_from_slice(tail);
        Ok((LessSafeKey::new(key), Nonce::assume_unique_for_key(short)))
    }

    /// Encrypts `body` in place; returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: &[u8; NONCE],
        aad: &[u8],
        body: &mut [u8],
    ) -> Result<[u8; TAG], Forged> {
        let (key, nonce) = self.inner(nonce)?;
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), body)
            .map_err(|_| Forged)?;
        let mut out = [0u8; TAG];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `body` in place when `tag` verifies.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE],
        aad: &[u8],
        body: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Forged> {
        let (key, nonce) = self.inner(nonce)?;
        let tag: [u8; TAG] = tag.try_into().map_err(|_| Forged)?;
        key.open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(tag), body, 0..)
            .map(|_| ())
            .map_err(|_| Forged)
    }
}

/// A fresh random nonce, straight from the operating system's CSPRNG.
///
/// Not from a generator kept in the process: a server that forks (a prefork server)
/// would carry that generator's state into every child, and parent and children
/// would then draw the same nonces. The kernel's generator is fork-safe, and one
/// `getrandom` call per sealed cookie costs well under a microsecond.
pub(crate) fn random_nonce() -> Result<[u8; NONCE], getrandom::Error> {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce)?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn it_is_xchacha20_poly1305(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 24]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            plain in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut ours = plain.clone();
            let tag = Cipher::new(key).seal(&nonce, &aad, &mut ours);
            let mut theirs = plain.clone();
            let reference = XChaCha20Poly1305::new(&key.into())
                .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut theirs)
                .map_err(|_| TestCaseError::fail("reference seal"))?;
            prop_assert_eq!(&ours, &theirs);
            prop_assert_eq!(tag.ok(), Some(reference.into()));
            let mut back = ours.clone();
            prop_assert_eq!(Cipher::new(key).open(&nonce, &aad, &mut back, &reference), Ok(()));
            prop_assert_eq!(back, plain);
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_does_not_open() {
        let cipher = Cipher::new([7; 32]);
        let nonce = [9; NONCE];
        let mut body = b"the session".to_vec();
        let tag = cipher.seal(&nonce, b"aad", &mut body).unwrap_or([0; TAG]);
        let mut bad_body = body.clone();
        bad_body[0] ^= 1;
        assert_eq!(
            cipher.open(&nonce, b"aad", &mut bad_body, &tag),
            Err(Forged)
        );
        let mut bad_tag = tag;
        bad_tag[15] ^= 1;
        assert_eq!(
            cipher.open(&nonce, b"aad", &mut body.clone(), &bad_tag),
            Err(Forged)
        );
        assert_eq!(
            cipher.open(&nonce, b"aaD", &mut body.clone(), &tag),
            Err(Forged)
        );
        let mut other_nonce = nonce;
        other_nonce[20] ^= 1;
        assert_eq!(
            cipher.open(&other_nonce, b"aad", &mut body, &tag),
            Err(Forged)
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(random_nonce(), random_nonce());
    }
}
