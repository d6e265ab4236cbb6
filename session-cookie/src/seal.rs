//! Sealing a record into cookie text and opening it again.
//!
#![doc = include_str!("format.md")]

use base64_simd::URL_SAFE_NO_PAD;
use session_core::Record;

use crate::codec;
use crate::key::Keyring;
use crate::xchacha::{random_nonce, Cipher, NONCE, TAG};

/// The format version this crate writes.
pub const VERSION: u8 = 2;
const HEADER: usize = 1 + 4;

/// Why a cookie did not open (for debug logs; all mean "no session").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    NotBase64,
    TooShort,
    UnknownVersion,
    UnknownKey,
    Forged,
    Undecodable,
}

/// Seals `record`, saved at `touched_ms`, for the cookie `name` with the keyring's
/// current key.
pub(crate) fn seal(
    keyring: &Keyring,
    name: &str,
    record: &Record,
    touched_ms: u64,
) -> Result<String, session_core::Error> {
    let (key, cipher) = keyring.current();
    let nonce = random_nonce().map_err(|e| session_core::Error::Unavailable {
        store: "the operating system's random number generator",
        source: e.to_string().into(),
    })?;
    seal_with_nonce(cipher, key.id(), name, record, touched_ms, &nonce)
}

/// Seals with a given nonce. Only [`seal`] (random nonces) and the test vector call it.
pub(crate) fn seal_with_nonce(
    cipher: &Cipher,
    key_id: [u8; 4],
    name: &str,
    record: &Record,
    touched_ms: u64,
    nonce: &[u8; NONCE],
) -> Result<String, session_core::Error> {
    // The binary form, in this thread's scratch buffer; then its base64 text.
    with_scratch(|buf| {
        // Room for the whole sealed cookie up front.
        buf.reserve(HEADER + NONCE + codec::max_encoded_len(record) + TAG);
        buf.push(VERSION);
        buf.extend_from_slice(&key_id);
        buf.extend_from_slice(nonce);
        codec::encode_into(record, touched_ms, buf);
        let (head, body) = buf.split_at_mut(HEADER + NONCE);
        let aad = AssociatedData::new(&head[..HEADER], name);
        let tag =
            cipher
                .seal(nonce, aad.as_bytes(), body)
                .map_err(|_| session_core::Error::Encode {
                    key: String::new(),
                    reason: "the session record is too large to encrypt".into(),
                })?;
        buf.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode_to_string(&buf[..]))
    })
}

/// Runs `f` on this thread's scratch buffer, empty (on a new one if it is in use).
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with(|scratch| {
        let Ok(mut buf) = scratch.try_borrow_mut() else {
            return f(&mut Vec::new());
        };
        buf.clear();
        let out = f(&mut buf);
        // A rare large session does not keep its room for good.
        if buf.capacity() > SCRATCH_KEPT {
            *buf = Vec::new();
        }
        out
    })
}

/// The most bytes of room the scratch buffer keeps between seals.
const SCRATCH_KEPT: usize = 8 << 10;

thread_local! {
    /// The binary form of the cookie being sealed, before its base64 text: one
    /// buffer per thread, used again by every seal on it.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What a cookie opened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The record as sealed.
    pub(crate) record: Record,
    /// When it was sealed (the last save), unix ms.
    pub(crate) touched_ms: u64,
    /// It was sealed with a previous key, so it is to be sealed again.
    pub(crate) old_key: bool,
}

/// Opens cookie text sealed for the cookie `name`.
pub(crate) fn open(keyring: &Keyring, name: &str, token: &str) -> Result<Opened, Rejected> {
    let mut buf = URL_SAFE_NO_PAD
        .decode_to_vec(token)
        .map_err(|_| Rejected::NotBase64)?;
    if buf.len() < HEADER + NONCE + TAG {
        return Err(Rejected::TooShort);
    }
    if buf[0] != VERSION {
        return Err(Rejected::UnknownVersion);
    }
    let cipher = keyring.find(&buf[1..HEADER]).ok_or(Rejected::UnknownKey)?;
    let old_key = keyring.current().0.id()[..] != buf[1..HEADER];
    let tag_at = buf.len() - TAG;
    let (rest, tag) = buf.split_at_mut(tag_at);
    let (head, body) = rest.split_at_mut(HEADER + NONCE);
    let aad = AssociatedData::new(&head[..HEADER], name);
    let nonce: &[u8; NONCE] = head[HEADER..].try_into().map_err(|_| Rejected::TooShort)?;
    cipher
        .open(nonce, aad.as_bytes(), body, tag)
        .map_err(|_| Rejected::Forged)?;
    let (record, touched_ms) = codec::decode(body).ok_or(Rejected::Undecodable)?;
    Ok(Opened {
        record,
        touched_ms,
        old_key,
    })
}

/// The associated data: the header and the cookie name. Kept on the stack for the
/// usual short names, so a seal or an open allocates nothing for it.
struct AssociatedData {
    inline: [u8; 64],
    len: usize,
    spilled: Vec<u8>,
}

impl AssociatedData {
    fn new(header: &[u8], name: &str) -> Self {
        let len = header.len() + name.len();
        let mut aad = AssociatedData {
            inline: [0; 64],
            len,
            spilled: Vec::new(),
        };
        match aad.inline.get_mut(..len) {
            Some(inline) => {
                let (head, tail) = inline.split_at_mut(header.len());
                head.copy_from_slice(header);
                tail.copy_from_slice(name.as_bytes());
            }
            None => {
                aad.spilled.extend_from_slice(header);
                aad.spilled.extend_from_slice(name.as_bytes());
            }
        }
        aad
    }

    fn as_bytes(&self) -> &[u8] {
        self.inline.get(..self.len).unwrap_or(&self.spilled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use session_core::StoredValue;

    fn record() -> Record {
        let mut r = Record::new(1_700_000_000_000, 1_700_003_600_000);
        r.insert("user", StoredValue::persistent("\"ada\""));
        r.insert("msg", StoredValue::flash("\"hi\""));
        r
    }

    const TOUCHED: u64 = 1_700_000_000_000;

    fn opened(old_key: bool) -> Opened {
        Opened {
            record: record(),
            touched_ms: TOUCHED,
            old_key,
        }
    }

    #[test]
    fn seals_one_after_another_on_a_thread_each_open_to_their_own_record(
    ) -> Result<(), session_core::Error> {
        let keyring = Keyring::new(Key::from_bytes([7; 32]), []);
        let mut large = record();
        large.insert(
            "big",
            StoredValue::persistent(format!("\"{}\"", "x".repeat(20_000))),
        );
        // Large (past the room the thread keeps), small, large, small.
        for r in [&large, &record(), &large, &record()] {
            let sealed = seal(&keyring, "session", r, TOUCHED)?;
            let opened = open(&keyring, "session", &sealed);
            assert_eq!(opened.map(|o| o.record).as_ref(), Ok(r));
        }
        Ok(())
    }

    /// The test vector: a fixed key, nonce and record give these exact bytes. If this
    /// test fails, the stored format changed: bump `VERSION`.
    #[test]
    fn test_vector_v2() -> Result<(), session_core::Error> {
        let key = Key::from_bytes([0x42; 32]);
        let sealed = seal_with_nonce(
            &key.cipher(),
            key.id(),
            "session",
            &record(),
            TOUCHED,
            &[7u8; NONCE],
        )?;
        assert_eq!(sealed, TEST_VECTOR);
        let ring = Keyring::new(key, []);
        assert_eq!(open(&ring, "session", TEST_VECTOR), Ok(opened(false)));
        Ok(())
    }

    const TEST_VECTOR: &str =
        "Ak-TTEQHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwd33BCX33AeDrgkQHrFHZXTJOp9JQceANNU30IS4h_KZ6tZ3gdOsa98A_aFmBz8YFttXIUUFzcnj5s";

    proptest::proptest! {
        #[test]
        fn cookie_text_is_base64url_without_padding(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            use base64::Engine as _;
            let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            proptest::prop_assert_eq!(URL_SAFE_NO_PAD.encode_to_string(&bytes), text.clone());
            proptest::prop_assert_eq!(URL_SAFE_NO_PAD.decode_to_vec(&text).ok(), Some(bytes));
        }
    }

    #[test]
    fn padded_or_foreign_text_is_not_base64() {
        let ring = Keyring::new(Key::from_bytes([1; 32]), []);
        for text in [
            format!("{TEST_VECTOR}="),
            TEST_VECTOR.replacen('-', "+", 1),
            TEST_VECTOR.replacen('_', "/", 1),
            format!("{TEST_VECTOR} "),
            format!("{}.", &TEST_VECTOR[1..]),
        ] {
            assert_eq!(
                open(&ring, "session", &text),
                Err(Rejected::NotBase64),
                "{text}"
            );
        }
    }

    #[test]
    fn the_plaintext_is_not_visible() -> Result<(), session_core::Error> {
        let ring = Keyring::new(Key::from_bytes([1; 32]), []);
        let sealed = seal(&ring, "session", &record(), TOUCHED)?;
        let raw = URL_SAFE_NO_PAD.decode_to_vec(&sealed).unwrap_or_default();
        assert!(!raw.windows(3).any(|w| w == b"ada"));
        Ok(())
    }

    #[test]
    fn long_cookie_names_are_bound_too() -> Result<(), session_core::Error> {
        let ring = Keyring::new(Key::from_bytes([1; 32]), []);
        let long = "n".repeat(200);
        let sealed = seal(&ring, &long, &record(), TOUCHED)?;
        assert_eq!(open(&ring, &long, &sealed), Ok(opened(false)));
        let other = format!("{long}x");
        assert_eq!(open(&ring, &other, &sealed), Err(Rejected::Forged));
        Ok(())
    }

    #[test]
    fn two_seals_of_one_record_differ() -> Result<(), session_core::Error> {
        let ring = Keyring::new(Key::from_bytes([1; 32]), []);
        assert_ne!(
            seal(&ring, "s", &record(), TOUCHED)?,
            seal(&ring, "s", &record(), TOUCHED)?
        );
        Ok(())
    }
}
