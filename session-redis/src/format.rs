//! The stored form of a session: one string value per Redis key.
//!
//! A 17-byte header, then MessagePack:
//!
//! | bytes | what |
//! |---|---|
//! | 0 | format version, `02` |
//! | 1..9 | revision: 8 bytes that change with every save |
//! | 9..17 | creation time, unix milliseconds, big-endian `u64` |
//! | 17.. | a MessagePack map from each session key to its value: a string of one kind byte (`p` persistent, `f` flash) followed by the value's JSON |
//!
//! The revision lets a save that loaded the session write it whole when nobody else
//! wrote since (a cheap compare of bytes 0..9 in the save script) and merge key by key
//! only when somebody did. MessagePack because Redis's Lua has it built in
//! (`cmsgpack`), so the save script can merge a request's changes into the stored
//! session without a round trip, and a load is a single native `GETEX`.
//!
//! The decoder accepts every string encoding MessagePack allows and an empty array in
//! place of an empty map (which is how `cmsgpack` packs an empty Lua table). Values of
//! format 1 (this crate before revisions) are not read: they load as no session.

use session_core::{CompactString, Record, StoredValue};

/// The format version this crate writes and reads.
pub const VERSION: u8 = 2;

/// The length of the header: version, revision, creation time.
pub(crate) const HEADER: usize = 17;

/// The first 9 bytes of a stored value: version and revision. The save script
/// compares them with what the request loaded.
pub(crate) fn head(revision: u64) -> [u8; 9] {
    let mut head = [VERSION; 9];
    head[1..].copy_from_slice(&revision.to_be_bytes());
    head
}

/// Encodes `record` (its entries and creation time; the deadline is the key's TTL)
/// at `revision`.
pub(crate) fn encode(record: &Record, revision: u64) -> Vec<u8> {
    let size: usize = record
        .entries
        .iter()
        .map(|(k, v)| k.len() + v.json.len() + 11)
        .sum();
    let mut out = Vec::with_capacity(size + HEADER + 5);
    out.extend_from_slice(&head(revision));
    out.extend_from_slice(&record.created_ms.to_be_bytes());
    let n = record.entries.len();
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
    for (key, value) in &record.entries {
        str_header(&mut out, key.len());
        out.extend_from_slice(key.as_bytes());
        str_header(&mut out, value.json.len() + 1);
        out.push(if value.flash { b'f' } else { b'p' });
        out.extend_from_slice(value.json.as_bytes());
    }
    out
}

/// One stored value as the save script receives it: kind byte + JSON.
pub(crate) fn value_arg(value: &StoredValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.json.len() + 1);
    out.push(if value.flash { b'f' } else { b'p' });
    out.extend_from_slice(value.json.as_bytes());
    out
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

/// Decodes a stored session; `expires_ms` is the deadline the caller knows (the TTL
/// it just set). The record carries the stored revision. `Err` says why the bytes are
/// not a session of this format.
pub(crate) fn decode(bytes: &[u8], expires_ms: u64) -> Result<Record, &'static str> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != VERSION {
        return Err("unknown format version");
    }
    let revision = r.u64()?;
    let created = r.u64()?;
    let n = match r.byte()? {
        b @ 0x80..=0x8f => usize::from(b & 0x0f),
        0xde => usize::from(r.u16()?),
        0xdf => r.u32()? as usize,
        0x90 => 0,
        _ => return Err("values are not a map"),
    };
    // Every entry takes at least 3 bytes, which bounds the allocation.
    let mut entries = Vec::with_capacity(n.min(bytes.len() / 3));
    for _ in 0..n {
        let key = std::str::from_utf8(r.str()?)
            .map(CompactString::from)
            .map_err(|_| "key is not UTF-8")?;
        let value = r.str()?;
        let flash = match value.first() {
            Some(b'p') => false,
            Some(b'f') => true,
            _ => return Err("value without a kind"),
        };
        let json = std::str::from_utf8(&value[1..])
            .map(CompactString::from)
            .map_err(|_| "value is not UTF-8")?;
        entries.push((key, StoredValue { json, flash }));
    }
    if r.at != bytes.len() {
        return Err("trailing bytes");
    }
    let mut record = Record::new(created, expires_ms);
    record.revision = Some(revision);
    // Built in one pass (sorted first; our encoder writes keys in order), where
    // inserting one by one compares each key with all before it.
    record.entries = entries.into_iter().collect();
    Ok(record)
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
        r.revision = Some(0x0102_0304_0506_0708);
        for i in 0..n {
            let v = format!("\"{}\"", "é".repeat(value_len));
            let value = if i % 2 == 0 {
                StoredValue::persistent(v)
            } else {
                StoredValue::flash(v)
            };
            r.entries.insert(format!("key{i}").into(), value);
        }
        r
    }

    #[test]
    fn records_of_every_size_round_trip() -> Result<(), &'static str> {
        for (n, len) in [(0, 0), (1, 0), (10, 5), (15, 20), (16, 200), (40, 40_000)] {
            let r = record(n, len);
            let bytes = encode(&r, 0x0102_0304_0506_0708);
            assert_eq!(decode(&bytes, 7)?, r, "{n} entries of {len}");
        }
        Ok(())
    }

    #[test]
    fn a_known_encoding() {
        let mut r = Record::new(1, 0);
        r.entries.insert("a".into(), StoredValue::flash("1"));
        assert_eq!(
            encode(&r, 9),
            [
                2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0x81, 0xa1, b'a', 0xa2, b'f',
                b'1'
            ]
        );
    }

    #[test]
    fn what_lua_cmsgpack_writes_is_read() -> Result<(), &'static str> {
        // An empty Lua table packs as an empty array.
        let mut bytes = head(3).to_vec();
        bytes.extend_from_slice(&5u64.to_be_bytes());
        bytes.push(0x90);
        let r = decode(&bytes, 0)?;
        assert_eq!((r.created_ms, r.revision, r.entries.len()), (5, Some(3), 0));
        Ok(())
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let good = encode(&record(3, 10), 1);
        for len in 0..good.len() {
            assert!(decode(&good[..len], 0).is_err(), "truncated to {len}");
        }
        let mut old_format = vec![0x93, 1, 0xcf];
        old_format.extend_from_slice(&[0; 8]);
        old_format.push(0x80);
        for bad in [
            &b"garbage"[..],
            &old_format,
            &[
                2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa1, b'k', 0xa1, b'x',
            ],
        ] {
            assert!(decode(bad, 0).is_err(), "{bad:?}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing, 0).is_err());
    }
}
