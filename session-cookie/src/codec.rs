//! The record's plaintext encoding inside the seal: postcard's wire format, written and
//! read by hand.
//!
//! `created_ms`, `expires_ms` and `touched_ms` (varint u64; `touched_ms` is when the
//! session was last saved, from which the server's current idle timeout is counted),
//! the number of entries (varint), then per entry the key and the value's JSON (each a
//! varint length and UTF-8 bytes) and the flash flag (one byte, 0 or 1). These are the
//! bytes `postcard` writes for `(created_ms, expires_ms, touched_ms, entries)` (a test
//! checks that on random records), without serde's per-field calls between them: one
//! exact-size buffer on the way out, one pass on the way back.

use session_core::{Record, RecordBuilder};

/// The most bytes a varint u64 takes.
const VARINT_MAX: usize = 10;

/// At least as many bytes as [`encode_into`] appends for `record` (each length is
/// counted at its largest, which is cheaper than counting it exactly).
pub(crate) fn max_encoded_len(record: &Record) -> usize {
    4 * VARINT_MAX
        + record
            .iter()
            .map(|(key, value)| key.len() + value.json().len() + 2 * VARINT_MAX + 1)
            .sum::<usize>()
}

/// Appends the encoding of `record`, sealed at `touched_ms`, to `out` (reserve
/// [`max_encoded_len`] first to write it without growing `out`).
pub(crate) fn encode_into(record: &Record, touched_ms: u64, out: &mut Vec<u8>) {
    put_varint(out, record.created_ms);
    put_varint(out, record.expires_ms);
    put_varint(out, touched_ms);
    put_varint(out, record.len() as u64);
    for (key, value) in record.iter() {
        put_str(out, key);
        put_str(out, value.json());
        out.push(u8::from(value.is_flash()));
    }
}

/// Decodes a record and the time it was sealed; `None` when `bytes` are not exactly
/// one encoded record.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Record, u64)> {
    let mut r = Reader { rest: bytes };
    let created_ms = r.varint()?;
    let expires_ms = r.varint()?;
    let touched_ms = r.varint()?;
    let n = usize::try_from(r.varint()?).ok()?;
    // UTF-8 is checked once over all the entries. That passes whenever every string
    // is valid and every length is below 128 (lengths and flags are then ASCII), and
    // each string is then a slice of it at char boundaries; otherwise each string is
    // checked on its own.
    let run = std::str::from_utf8(r.rest).ok();
    let start = r.rest.len();
    // Every entry takes at least 3 bytes, which bounds the allocation.
    // The values' text (shared by the long ones) is shorter than the bytes left.
    let mut entries = RecordBuilder::with_capacity(n.min(r.rest.len() / 3), r.rest.len());
    for _ in 0..n {
        let key = r.str(run, start)?;
        let json = r.str(run, start)?;
        let flash = match r.byte()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        entries.push(key, json, flash);
    }
    if !r.rest.is_empty() {
        return None;
    }
    // Our encoder writes keys in order: one comparison each.
    Some((entries.finish(created_ms, expires_ms), touched_ms))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    /// A LEB128 u64 of at most 10 bytes whose bits fit in 64.
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..VARINT_MAX {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if i == VARINT_MAX - 1 && bits > 1 {
                return None;
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A string. `run` is the rest of the input from byte `start` (counted from the
    /// end) when all of it is valid UTF-8.
    fn str<'r>(&mut self, run: Option<&'r str>, start: usize) -> Option<&'r str>
    where
        'a: 'r,
    {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.rest.len() {
            return None;
        }
        let (bytes, rest) = self.rest.split_at(len);
        let at = start - self.rest.len();
        self.rest = rest;
        match run {
            Some(run) => run.get(at..at + len),
            None => std::str::from_utf8(bytes).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use session_core::StoredValue;

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::btree_map(".{0,140}", (".{0,300}", any::<bool>()), 0..20),
        )
            .prop_map(|(created, expires, entries)| {
                let mut r = Record::new(created, expires);
                for (k, (json, flash)) in entries {
                    r.insert(&k, StoredValue::new(json, flash));
                }
                r
            })
    }

    proptest! {
        #[test]
        fn the_bytes_are_postcards_and_round_trip(record in arb_record(), touched in any::<u64>()) {
            let mut ours = Vec::new();
            encode_into(&record, touched, &mut ours);
            prop_assert!(ours.len() <= max_encoded_len(&record));
            let entries: std::collections::BTreeMap<&str, &StoredValue> = record.iter().collect();
            let fields = (record.created_ms, record.expires_ms, touched, &entries);
            let postcard = postcard::to_allocvec(&fields).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&ours, &postcard);
            prop_assert_eq!(decode(&ours), Some((record, touched)));
        }
    }

    #[test]
    fn malformed_encodings_are_refused() {
        let mut good = Vec::new();
        let mut r = Record::new(300, 70_000);
        r.insert("k", StoredValue::flash("1"));
        encode_into(&r, 400, &mut good);
        for len in 0..good.len() {
            assert_eq!(decode(&good[..len]), None, "truncated to {len}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), None);
        let mut bad_flag = good.clone();
        if let Some(last) = bad_flag.last_mut() {
            *last = 2;
        }
        assert_eq!(decode(&bad_flag), None);
        // An 11-byte varint, and a 10-byte one whose bits overflow u64.
        assert_eq!(decode(&[0xff; 11]), None);
        let mut overflow = vec![0xff; 9];
        overflow.push(0x02);
        assert_eq!(decode(&overflow), None);
        // Invalid UTF-8 in a key.
        assert_eq!(decode(&[1, 1, 1, 1, 1, 0xff, 1, b'1', 0]), None);
    }
}
