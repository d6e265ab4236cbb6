//! The stored form of a session: one string value per Redis key, a snapshot followed
//! by the changes appended since.
//!
//! | bytes | what |
//! |---|---|
//! | 0 | format version, `03` |
//! | 1..5 | revision: 4 bytes, new at every whole write of the session |
//! | 5..13 | creation time, unix milliseconds, big-endian `u64` |
//! | 13.. | the snapshot: a MessagePack map from each session key to its value, a string of one kind byte (`p` persistent, `f` flash) followed by the value's JSON |
//! | then, per save since | a change: an optional `c3` (MessagePack `true`: the session was flushed, drop every value before), then a MessagePack map from key to value (as above), `nil` (`c0`: the key was removed), or an increment: a string of `i` (persistent) or `j` (flash) followed by a signed decimal amount, added to the counter as it stands at that point (0 when absent) |
//!
//! Test vector: a session at revision 9, created at 1 ms, holding flash `a` = `1` is
//! `03 00 00 00 09 00 00 00 00 00 00 00 01 81 a1 61 a2 66 31`; a save that then
//! removes `b` and sets `c` to flash `3` appends `82 a1 62 c0 a1 63 a2 66 33`.
//!
//! A load reads the snapshot and applies the changes in order. A save of a request that
//! loaded the session appends its change (concurrent requests' changes land one after
//! the other, so each keeps its writes, and the last writer of a key wins), in one
//! atomic step with the size check, and never to a key that is gone (destroyed,
//! expired), so a destroyed session is never brought back. When the changes have
//! grown past a share of the snapshot, a save writes the session whole again (a new
//! snapshot and revision) followed by any changes other requests appended since its
//! load (the bytes past the length it loaded) and its own change once more, so the
//! last writer still wins; if another save wrote the session whole since (the
//! revision moved on), it appends instead.
//!
//! The decoder accepts every string encoding MessagePack allows; a value of any other
//! format version loads as no session.

use session_core::{Change, Edit, Record, RecordBuilder, StoredValue};

/// The format version this crate writes and reads.
pub const VERSION: u8 = 3;

/// The length of the header: version, revision, creation time.
pub(crate) const HEADER: usize = 13;

/// MessagePack `true`: the change that follows starts from an empty session.
const FLUSHED: u8 = 0xc3;
/// MessagePack `nil`: the key was removed.
const REMOVED: u8 = 0xc0;

/// True when `bytes` start with the header of a session of this format (what the
/// scripts check with `created_of`; the rest is read by [`decode`]).
pub(crate) fn is_session(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER && bytes[0] == VERSION
}

/// The length of [`head`].
pub(crate) const HEAD: usize = 5;

/// The first 5 bytes of a stored value: version and revision.
pub(crate) fn head(revision: u32) -> [u8; HEAD] {
    let mut head = [VERSION; HEAD];
    head[1..].copy_from_slice(&revision.to_be_bytes());
    head
}

/// The mark ([`Loaded::mark`]) of a stored value whose first [`HEAD`] bytes are
/// `head` and whose length is `len`; `None` when it is not a session of this format.
pub(crate) fn mark_of(head: &[u8], len: i64) -> Option<u64> {
    let revision: [u8; 4] = head.get(1..HEAD)?.try_into().ok()?;
    let revision = u32::from_be_bytes(revision);
    let len = u32::try_from(len).ok()?;
    (head == self::head(revision)).then(|| Loaded { revision, len }.mark())
}

/// What a request loaded, kept as the mark of its load ([`session_core::Seen::mark`]): the
/// stored revision and the stored length, so a save can tell what was appended since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// The revision in the header.
    pub(crate) revision: u32,
    /// The length of the whole stored value.
    pub(crate) len: u32,
}

impl Loaded {
    pub(crate) fn mark(self) -> u64 {
        (u64::from(self.revision) << 32) | u64::from(self.len)
    }

    pub(crate) fn of(mark: u64) -> Self {
        Loaded {
            revision: (mark >> 32) as u32,
            len: mark as u32,
        }
    }
}

/// True when the changes appended since the snapshot have grown enough that a save
/// should write the session whole: `loaded_len` stored bytes for a session whose
/// whole encoding takes `whole_len`. Past a quarter of the snapshot (at least 64
/// bytes, at most 1 KiB): the script that compacts costs Redis as much as 20 to 30
/// `APPEND`s, mostly for taking the whole session in as a Lua string, while every
/// load until then reads each appended change (an increment of a counter, about six
/// bytes, costs a load about a hundred instructions), so a session read several
/// times per write is cheapest compacted after a few dozen small changes.
pub(crate) fn worth_compacting(loaded_len: usize, whole_len: usize) -> bool {
    loaded_len.saturating_sub(whole_len) > (whole_len / 4).clamp(64, 1024)
}

mod decode;
mod encode;

pub(crate) use decode::decode;
pub(crate) use encode::{encode, encode_change, encoded_len};

#[cfg(test)]
mod tests {
    use super::decode::parse_i64;
    use super::encode::{decimal_len, encode_change_len};
    use super::*;

    fn record(n: usize, value_len: usize) -> Record {
        let mut r = Record::new(1_795_000_000_123, 7);
        for i in 0..n {
            let v = format!("\"{}\"", "é".repeat(value_len));
            let value = if i % 2 == 0 {
                StoredValue::persistent(v)
            } else {
                StoredValue::flash(v)
            };
            r.insert(&format!("key{i}"), value);
        }
        r
    }

    fn change<'a>(flush: bool, edits: &[(&'a str, Edit<'a>)]) -> Vec<u8> {
        let change = Change {
            flush,
            edits: edits.to_vec(),
        };
        let bytes = encode_change(&change);
        assert_eq!(bytes.len(), encode_change_len(&change), "{change:?}");
        bytes
    }

    #[test]
    fn decimal_lengths_count_digits_and_sign() {
        for n in [0, 7, 9, 10, -1, -10, 99, 100, i64::MAX, i64::MIN] {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
        }
    }

    #[test]
    fn records_of_every_size_round_trip() -> Result<(), decode::Undecodable> {
        for (n, len) in [(0, 0), (1, 0), (10, 5), (15, 20), (16, 200), (40, 40_000)] {
            let r = record(n, len);
            let bytes = encode(&r, 0x0102_0304);
            assert_eq!(bytes.len(), encoded_len(&r), "{n} entries of {len}");
            let loaded = Loaded {
                revision: 0x0102_0304,
                len: bytes.len() as u32,
            };
            assert_eq!(decode(&bytes, 7)?, (r, loaded), "{n} entries of {len}");
        }
        Ok(())
    }

    #[test]
    fn a_known_encoding() {
        let mut r = Record::new(1, 0);
        r.insert("a", StoredValue::flash("1"));
        assert_eq!(
            encode(&r, 9),
            [3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0x81, 0xa1, b'a', 0xa2, b'f', b'1']
        );
    }

    #[test]
    fn changes_apply_in_order_over_the_snapshot() -> Result<(), decode::Undecodable> {
        let mut r = Record::new(5, 0);
        r.insert("a", StoredValue::persistent("1"));
        r.insert("b", StoredValue::persistent("2"));
        let mut bytes = encode(&r, 1);
        let three = StoredValue::flash("3");
        let four = StoredValue::persistent("4");
        // Remove b, write c; then write b again; then flush and write c.
        bytes.extend(change(
            false,
            &[("b", Edit::Remove), ("c", Edit::Set(&three))],
        ));
        assert_eq!(
            &bytes[bytes.len() - 9..],
            [0x82, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xa2, b'f', b'3']
        );
        bytes.extend(change(false, &[("b", Edit::Set(&four))]));
        let (mid, loaded) = decode(&bytes, 0)?;
        let keys: Vec<&str> = mid.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(mid.get("b"), Some(&four));
        assert_eq!(mid.get("c"), Some(&three));
        assert_eq!(
            loaded,
            Loaded {
                revision: 1,
                len: bytes.len() as u32
            }
        );
        bytes.extend(change(true, &[("c", Edit::Set(&four))]));
        let (end, _) = decode(&bytes, 0)?;
        assert_eq!(end.len(), 1);
        assert_eq!(end.get("c"), Some(&four));
        assert_eq!(end.created_ms, 5);
        Ok(())
    }

    #[test]
    fn the_last_change_of_each_key_wins() -> Result<(), decode::Undecodable> {
        let mut r = Record::new(5, 0);
        r.insert("n", StoredValue::persistent("0"));
        r.insert("gone", StoredValue::persistent("1"));
        let mut bytes = encode(&r, 1);
        for i in 1..=20 {
            let v = StoredValue::persistent(i.to_string());
            bytes.extend(change(false, &[("n", Edit::Set(&v))]));
            if i == 10 {
                bytes.extend(change(false, &[("gone", Edit::Remove)]));
            }
            if i == 15 {
                let w = StoredValue::flash("true");
                bytes.extend(change(
                    false,
                    &[("gone", Edit::Set(&w)), ("late", Edit::Set(&w))],
                ));
            }
            if i == 18 {
                bytes.extend(change(false, &[("late", Edit::Remove)]));
            }
        }
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(got.get("n"), Some(&StoredValue::persistent("20")));
        assert_eq!(got.get("gone"), Some(&StoredValue::flash("true")));
        assert_eq!(got.get("late"), None);
        assert_eq!(got.len(), 2);
        Ok(())
    }

    #[test]
    fn increments_add_up_over_the_last_value_in_order() -> Result<(), decode::Undecodable> {
        let mut r = Record::new(5, 0);
        r.insert("n", StoredValue::persistent("10"));
        let mut bytes = encode(&r, 1);
        for by in [1, 2, -4] {
            let add = Edit::Add { by, flash: false };
            bytes.extend(change(false, &[("m", add), ("n", add)]));
        }
        assert_eq!(
            &bytes[bytes.len() - 6..],
            [0xa1, b'n', 0xa3, b'i', b'-', b'4'],
            "an increment is its kind then the amount"
        );
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(got.get("n"), Some(&StoredValue::persistent("9")));
        assert_eq!(got.get("m"), Some(&StoredValue::persistent("-1")));
        // A value written after increments replaces them; increments after it add.
        let five = StoredValue::flash("5");
        bytes.extend(change(false, &[("n", Edit::Set(&five))]));
        bytes.extend(change(
            false,
            &[(
                "n",
                Edit::Add {
                    by: i64::MAX,
                    flash: true,
                },
            )],
        ));
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(
            got.get("n"),
            Some(&StoredValue::flash(i64::MAX.to_string())),
            "a flash counter stays flash, and sums saturate"
        );
        // Saturation follows the order of the saves; the newest increment's kind wins.
        let mut r = Record::new(5, 0);
        r.insert("n", StoredValue::persistent((i64::MAX - 1).to_string()));
        let mut bytes = encode(&r, 1);
        for (by, flash) in [(5, true), (-5, false)] {
            bytes.extend(change(false, &[("n", Edit::Add { by, flash })]));
        }
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(
            got.get("n"),
            Some(&StoredValue::persistent((i64::MAX - 5).to_string()))
        );
        Ok(())
    }

    #[test]
    fn amounts_read_as_str_parse_reads_them() {
        let max = i64::MAX.to_string();
        let min = i64::MIN.to_string();
        let over = "9223372036854775808";
        let under = "-9223372036854775809";
        for text in [
            "0",
            "7",
            "-7",
            "+7",
            "007",
            "-0",
            &max,
            &min,
            over,
            under,
            "",
            "-",
            "+",
            "+-1",
            "--1",
            " 1",
            "1 ",
            "1a",
            "١",
            "12345678901234567890",
        ] {
            assert_eq!(
                parse_i64(text.as_bytes()),
                text.parse::<i64>().ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_run_of_increments_of_one_key_adds_up_in_order() -> Result<(), decode::Undecodable> {
        let mut r = Record::new(5, 0);
        r.insert("n", StoredValue::persistent((i64::MAX - 3).to_string()));
        let mut bytes = encode(&r, 1);
        // Saturates at the third save, then comes back down: in order, not summed first.
        for by in [1, 1, 5, -2, -2] {
            bytes.extend(change(false, &[("n", Edit::Add { by, flash: false })]));
        }
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(
            got.get("n"),
            Some(&StoredValue::persistent((i64::MAX - 4).to_string()))
        );
        // A removal ends the run; the next run counts from zero, flash as its newest.
        bytes.extend(change(false, &[("n", Edit::Remove)]));
        for (by, flash) in [(3, false), (4, true), (5, true)] {
            bytes.extend(change(false, &[("n", Edit::Add { by, flash })]));
        }
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(got.get("n"), Some(&StoredValue::flash("12")));
        Ok(())
    }

    #[test]
    fn increments_after_a_removal_or_a_flush_count_from_zero() -> Result<(), decode::Undecodable> {
        let mut r = Record::new(5, 0);
        r.insert("n", StoredValue::persistent("10"));
        r.insert("m", StoredValue::persistent("7"));
        let add = Edit::Add {
            by: 2,
            flash: false,
        };
        let mut bytes = encode(&r, 1);
        bytes.extend(change(false, &[("n", Edit::Remove)]));
        bytes.extend(change(false, &[("n", add)]));
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(got.get("n"), Some(&StoredValue::persistent("2")));
        assert_eq!(got.get("m"), Some(&StoredValue::persistent("7")));
        bytes.extend(change(true, &[("m", add)]));
        let (got, _) = decode(&bytes, 0)?;
        assert_eq!(got.get("m"), Some(&StoredValue::persistent("2")));
        assert_eq!(got.len(), 1, "the flush dropped n");
        Ok(())
    }

    #[test]
    fn loaded_is_its_mark() {
        let l = Loaded {
            revision: 0xdead_beef,
            len: 0x0102_0304,
        };
        assert_eq!(Loaded::of(l.mark()), l);
    }

    #[test]
    fn compaction_waits_for_a_share_of_the_snapshot() {
        // A quarter of the snapshot, at least 64 bytes, at most 1 KiB.
        assert!(!worth_compacting(1000, 1000));
        assert!(!worth_compacting(1250, 1000));
        assert!(worth_compacting(1251, 1000));
        assert!(worth_compacting(165, 100));
        assert!(!worth_compacting(164, 100));
        assert!(!worth_compacting(21_024, 20_000));
        assert!(worth_compacting(21_025, 20_000));
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let mut good = encode(&record(3, 10), 1);
        let snapshot = good.len();
        let v = StoredValue::persistent("1");
        good.extend(change(
            true,
            &[("key1", Edit::Remove), ("key1", Edit::Set(&v))],
        ));
        for len in 0..good.len() {
            if len == snapshot {
                continue; // exactly the snapshot, without the change: a session
            }
            assert!(decode(&good[..len], 0).is_err(), "truncated to {len}");
        }
        let mut old_format = vec![2u8; 9];
        old_format.extend_from_slice(&[0; 8]);
        old_format.push(0x80);
        for bad in [
            &b"garbage"[..],
            &old_format,
            // A change without a snapshot: what APPEND leaves under a gone key.
            &[0x81, 0xa1, b'k', 0xa2, b'p', b'1'],
            // A value without its kind byte.
            &[
                3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa1, b'k', 0xa1, b'x',
            ],
            // A removal in the snapshot.
            &[
                3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa1, b'k', 0xc0,
            ],
            // Something other than a change after the snapshot.
            &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x90],
        ] {
            assert!(decode(bad, 0).is_err(), "{bad:?}");
        }
    }
}
