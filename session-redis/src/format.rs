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
//! loaded the session appends its change with one native `APPEND` (concurrent
//! requests' changes land one after the other, so each keeps its writes, and the last
//! writer of a key wins). When the changes have grown past a share of the snapshot, a
//! save writes the session whole again (a new snapshot and revision) followed by any
//! changes other requests appended since its load (the bytes past the length it
//! loaded) and its own change once more, so the last writer still wins; if another
//! save wrote the session whole since (the revision moved on), it appends instead.
//! `APPEND` to a key that is gone (destroyed, expired) makes a value without a header,
//! which is never read as a session; the store deletes it at once, so a destroyed
//! session is never brought back.
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

/// The length of [`encode`]'s output for `record`.
pub(crate) fn encoded_len(record: &Record) -> usize {
    let n = record.len();
    let map = match n {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    };
    HEADER
        + map
        + record
            .iter()
            .map(|(k, v)| {
                let json = v.json().len();
                str_header_len(k.len()) + k.len() + str_header_len(json + 1) + 1 + json
            })
            .sum::<usize>()
}

/// The length of a MessagePack string header for `len` bytes (see [`str_header`]).
fn str_header_len(len: usize) -> usize {
    match len {
        0..=31 => 1,
        32..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Encodes `record` (its entries and creation time; the deadline is the key's TTL)
/// as a snapshot at `revision`.
pub(crate) fn encode(record: &Record, revision: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(record));
    out.extend_from_slice(&head(revision));
    out.extend_from_slice(&record.created_ms.to_be_bytes());
    map_header(&mut out, record.len());
    for (key, value) in record.iter() {
        entry(&mut out, key, value);
    }
    out
}

/// The length of [`encode_change`]'s output for `change`.
pub(crate) fn encode_change_len(change: &Change<'_>) -> usize {
    let map = match change.edits.len() {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    };
    let edits: usize = change
        .edits
        .iter()
        .map(|(key, edit)| {
            let text = match edit {
                Edit::Set(v) => v.json().len(),
                Edit::Remove => return str_header_len(key.len()) + key.len() + 1,
                Edit::Add { by, .. } => decimal_len(*by),
            };
            str_header_len(key.len()) + key.len() + str_header_len(text + 1) + 1 + text
        })
        .sum();
    usize::from(change.flush) + map + edits
}

/// The length of `n` in decimal, sign included.
fn decimal_len(n: i64) -> usize {
    let digits = n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(n < 0)
}

/// Encodes a change: `c3` when it flushes, then a map of its edits.
pub(crate) fn encode_change(change: &Change<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encode_change_len(change));
    if change.flush {
        out.push(FLUSHED);
    }
    map_header(&mut out, change.edits.len());
    for &(key, edit) in &change.edits {
        match edit {
            Edit::Set(value) => entry(&mut out, key, value),
            Edit::Remove => {
                str_header(&mut out, key.len());
                out.extend_from_slice(key.as_bytes());
                out.push(REMOVED);
            }
            Edit::Add { by, flash } => {
                let kind = if flash { b'j' } else { b'i' };
                kind_entry(&mut out, key, kind, &by.to_string());
            }
        }
    }
    out
}

fn entry(out: &mut Vec<u8>, key: &str, value: &StoredValue) {
    let kind = if value.is_flash() { b'f' } else { b'p' };
    kind_entry(out, key, kind, value.json());
}

/// A key and its string: a kind byte, then `text`.
fn kind_entry(out: &mut Vec<u8>, key: &str, kind: u8, text: &str) {
    str_header(out, key.len());
    out.extend_from_slice(key.as_bytes());
    str_header(out, text.len() + 1);
    out.push(kind);
    out.extend_from_slice(text.as_bytes());
}

fn map_header(out: &mut Vec<u8>, n: usize) {
    match n {
        0..=15 => out.push(0x80 | n as u8),
        16..=0xffff => {
            out.push(0xde);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdf);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn str_header(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=31 => out.push(0xa0 | len as u8),
        32..=0xff => {
            out.push(0xd9);
            out.push(len as u8);
        }
        0x100..=0xffff => {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// Decodes a stored session: the snapshot, then every change appended since.
/// `expires_ms` is the deadline the caller knows (the TTL it just set). With the
/// record comes what was loaded ([`Loaded`]). `Err` says why the bytes are not a
/// session of this format.
pub(crate) fn decode(bytes: &[u8], expires_ms: u64) -> Result<(Record, Loaded), &'static str> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != VERSION {
        return Err("unknown format version");
    }
    let revision = r.u32()?;
    let created = r.u64()?;
    let n = r.map_len()?;
    // The snapshot is read into the record once the changes after it are counted.
    let snapshot = r.at;
    // The values' text, at most: room made once, no larger than needed.
    let mut text_bytes = 0usize;
    for _ in 0..n {
        r.str()?;
        let value = r.str().map_err(|_| "the snapshot holds a non-value")?;
        text_bytes += value.len().saturating_sub(1);
    }
    // The changes, borrowed: only the last change of each key is turned into a value
    // (a key changed in every save is decoded once, not once per save). Increments
    // of one key in a row are one change, their amounts kept in order in `amounts`.
    let mut changes: Vec<(&[u8], u32, Changed<'_>)> =
        Vec::with_capacity(if r.at < bytes.len() { 16 } else { 0 });
    let mut amounts: Vec<i64> = Vec::new();
    let mut flushed = false;
    while r.at < bytes.len() {
        if r.bytes[r.at] == FLUSHED {
            r.at += 1;
            flushed = true;
            changes.clear();
            amounts.clear();
        }
        for _ in 0..r.map_len()? {
            let key = r.str()?;
            let changed = if r.bytes.get(r.at) == Some(&REMOVED) {
                r.at += 1;
                Changed::Removed
            } else {
                let value = r.str()?;
                match increment_of(value) {
                    Some((flash, by)) => {
                        if amounts.is_empty() {
                            // Sized once: an increment of a short key takes about 6 bytes.
                            amounts.reserve((bytes.len() - r.at) / 6 + 1);
                        }
                        let to =
                            u32::try_from(amounts.len() + 1).map_err(|_| "too many changes")?;
                        amounts.push(by);
                        if let Some((
                            last,
                            _,
                            Changed::Added {
                                flash: newest,
                                to: end,
                                ..
                            },
                        )) = changes.last_mut()
                        {
                            if *last == key {
                                *newest = flash;
                                *end = to;
                                continue;
                            }
                        }
                        Changed::Added {
                            flash,
                            from: to - 1,
                            to,
                        }
                    }
                    None => {
                        text_bytes += value.len().saturating_sub(1);
                        Changed::Set(value)
                    }
                }
            };
            let order = u32::try_from(changes.len()).map_err(|_| "too many changes")?;
            changes.push((key, order, changed));
        }
    }
    let loaded = Loaded {
        revision,
        len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
    };
    // Every entry takes at least 3 bytes, which bounds the allocation.
    let values = if flushed { 0 } else { n } + changes.len();
    let mut entries = RecordBuilder::with_capacity(values.min(bytes.len() / 3), text_bytes);
    if !flushed {
        let mut r = Reader {
            bytes,
            at: snapshot,
        };
        for _ in 0..n {
            let key = utf8_key(r.str()?)?;
            let (json, flash) = value_parts(r.str()?)?;
            entries.push(key, json, flash);
        }
    }
    // By key, and among changes of one key in the order of the saves.
    changes.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    // A key's last value joins the snapshot's in the builder (the later push wins,
    // and its text shares the one buffer); removals, and increments, which add to
    // the value before them, are applied to the record once it is built.
    let mut later: Vec<(&str, Later<'_>)> = Vec::new();
    for same_key in changes.chunk_by(|a, b| a.0 == b.0) {
        let Some(&(key, _, _)) = same_key.last() else {
            continue;
        };
        let key = utf8_key(key)?;
        // The last value or removal decides, then the increments after it add up.
        let last_set = same_key
            .iter()
            .rposition(|(_, _, changed)| !matches!(changed, Changed::Added { .. }));
        let increments = &same_key[last_set.map_or(0, |i| i + 1)..];
        let base = last_set.map(|i| same_key[i].2);
        match (base, increments.is_empty()) {
            (Some(Changed::Set(value)), true) => {
                let (json, flash) = value_parts(value)?;
                entries.push(key, json, flash);
            }
            (Some(_), true) => later.push((key, Later::Remove)),
            (None, true) => {}
            (base, false) => {
                let start = match base {
                    Some(Changed::Set(value)) => Some(counter_of(value_parts(value)?.0)),
                    Some(_) => Some(0),
                    // The snapshot's value, looked up once the record is built.
                    None => None,
                };
                later.push((key, Later::Add { start, increments }));
            }
        }
    }
    // Our encoder writes keys in order: one comparison each.
    let mut record = entries.finish(created, expires_ms);
    for (key, change) in later {
        match change {
            Later::Remove => {
                record.remove(key);
            }
            Later::Add { start, increments } => {
                let mut total =
                    start.unwrap_or_else(|| record.get(key).map_or(0, |v| counter_of(v.json())));
                // The newest increment says whether the counter is flash.
                let mut flash = false;
                for (_, _, changed) in increments {
                    if let Changed::Added {
                        flash: is_flash,
                        from,
                        to,
                    } = *changed
                    {
                        let added = amounts.get(from as usize..to as usize).unwrap_or(&[]);
                        total = added.iter().fold(total, |t, &by| t.saturating_add(by));
                        flash = is_flash;
                    }
                }
                record.insert(key, StoredValue::new(total.to_string(), flash));
            }
        }
    }
    Ok((record, loaded))
}

/// What one appended change did to one key.
#[derive(Clone, Copy)]
enum Changed<'c> {
    /// Set it to this stored value.
    Set(&'c [u8]),
    /// Removed it.
    Removed,
    /// Added each of `amounts[from..to]` in turn to its counter (flash when the
    /// newest increment is).
    Added { flash: bool, from: u32, to: u32 },
}

/// A change of one key that [`decode`] applies once the record is built.
enum Later<'c> {
    /// The key was removed last.
    Remove,
    /// The key's counter: `start` (the key's value in the snapshot when `None`)
    /// plus each of `increments`, oldest first.
    Add {
        start: Option<i64>,
        increments: &'c [(&'c [u8], u32, Changed<'c>)],
    },
}

/// The counter an increment adds to, from the JSON of the value before it: 0 when
/// that is not an integer.
fn counter_of(json: &str) -> i64 {
    json.parse().unwrap_or(0)
}

/// An increment's kind (true for flash) and amount, when `value` is one.
fn increment_of(value: &[u8]) -> Option<(bool, i64)> {
    let flash = match value.first()? {
        b'i' => false,
        b'j' => true,
        _ => return None,
    };
    Some((flash, parse_i64(&value[1..])?))
}

/// `text` as a decimal `i64`, as `str::parse` reads it (an optional sign, then at
/// least one digit; `None` past the range), without checking UTF-8 first.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |n, &d| {
        let d = i64::from(d.wrapping_sub(b'0'));
        if !(0..=9).contains(&d) {
            return None;
        }
        let n = n.checked_mul(10)?;
        if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
    })
}

fn utf8_key(bytes: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(bytes).map_err(|_| "key is not UTF-8")
}

/// A stored value's JSON and kind from its string: kind byte, then JSON.
fn value_parts(value: &[u8]) -> Result<(&str, bool), &'static str> {
    let flash = match value.first() {
        Some(b'p') => false,
        Some(b'f') => true,
        _ => return Err("value without a kind"),
    };
    let json = std::str::from_utf8(&value[1..]).map_err(|_| "value is not UTF-8")?;
    Ok((json, flash))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let slice = self.bytes.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn map_len(&mut self) -> Result<usize, &'static str> {
        Ok(match self.byte()? {
            b @ 0x80..=0x8f => usize::from(b & 0x0f),
            0xde => usize::from(self.u16()?),
            0xdf => self.u32()? as usize,
            _ => return Err("values are not a map"),
        })
    }

    /// A string or binary, in any MessagePack encoding.
    fn str(&mut self) -> Result<&'a [u8], &'static str> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 | 0xc4 => usize::from(self.byte()?),
            0xda | 0xc5 => usize::from(self.u16()?),
            0xdb | 0xc6 => self.u32()? as usize,
            _ => return Err("not a string"),
        };
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
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
    fn records_of_every_size_round_trip() -> Result<(), &'static str> {
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
    fn changes_apply_in_order_over_the_snapshot() -> Result<(), &'static str> {
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
    fn the_last_change_of_each_key_wins() -> Result<(), &'static str> {
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
    fn increments_add_up_over_the_last_value_in_order() -> Result<(), &'static str> {
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
    fn a_run_of_increments_of_one_key_adds_up_in_order() -> Result<(), &'static str> {
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
    fn increments_after_a_removal_or_a_flush_count_from_zero() -> Result<(), &'static str> {
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
