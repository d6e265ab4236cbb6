//! Reading a stored session: the snapshot, then every change appended since, in one
//! pass.

use super::*;

/// Why stored bytes are not a session of this format (the store logs it and starts
/// a fresh session).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Undecodable {
    /// Unknown format version.
    #[error("unknown format version")]
    Version,
    /// The snapshot holds a non-value.
    #[error("the snapshot holds a non-value")]
    SnapshotNonValue,
    /// Too many changes.
    #[error("too many changes")]
    TooManyChanges,
    /// Key is not UTF-8.
    #[error("key is not UTF-8")]
    KeyNotUtf8,
    /// Value without a kind.
    #[error("value without a kind")]
    ValueWithoutKind,
    /// Value is not UTF-8.
    #[error("value is not UTF-8")]
    ValueNotUtf8,
    /// Length overflow.
    #[error("length overflow")]
    LengthOverflow,
    /// Truncated.
    #[error("truncated")]
    Truncated,
    /// Values are not a map.
    #[error("values are not a map")]
    NotAMap,
    /// Not a string.
    #[error("not a string")]
    NotAString,
}

/// Decodes a stored session: the snapshot, then every change appended since.
/// `expires_ms` is the deadline the caller knows (the TTL it just set). With the
/// record comes what was loaded ([`Loaded`]). `Err` says why the bytes are not a
/// session of this format.
pub(crate) fn decode(bytes: &[u8], expires_ms: u64) -> Result<(Record, Loaded), Undecodable> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != VERSION {
        return Err(Undecodable::Version);
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
        let value = r.str().map_err(|_| Undecodable::SnapshotNonValue)?;
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
                        let to = u32::try_from(amounts.len() + 1)
                            .map_err(|_| Undecodable::TooManyChanges)?;
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
            let order = u32::try_from(changes.len()).map_err(|_| Undecodable::TooManyChanges)?;
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
pub(super) enum Changed<'c> {
    /// Set it to this stored value.
    Set(&'c [u8]),
    /// Removed it.
    Removed,
    /// Added each of `amounts[from..to]` in turn to its counter (flash when the
    /// newest increment is).
    Added { flash: bool, from: u32, to: u32 },
}

/// A change of one key that [`decode`] applies once the record is built.
pub(super) enum Later<'c> {
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
pub(super) fn counter_of(json: &str) -> i64 {
    json.parse().unwrap_or(0)
}

/// An increment's kind (true for flash) and amount, when `value` is one.
pub(super) fn increment_of(value: &[u8]) -> Option<(bool, i64)> {
    let flash = match value.first()? {
        b'i' => false,
        b'j' => true,
        _ => return None,
    };
    Some((flash, parse_i64(&value[1..])?))
}

/// `text` as a decimal `i64`, as `str::parse` reads it (an optional sign, then at
/// least one digit; `None` past the range), without checking UTF-8 first.
pub(super) fn parse_i64(text: &[u8]) -> Option<i64> {
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

pub(super) fn utf8_key(bytes: &[u8]) -> Result<&str, Undecodable> {
    std::str::from_utf8(bytes).map_err(|_| Undecodable::KeyNotUtf8)
}

/// A stored value's JSON and kind from its string: kind byte, then JSON.
pub(super) fn value_parts(value: &[u8]) -> Result<(&str, bool), Undecodable> {
    let flash = match value.first() {
        Some(b'p') => false,
        Some(b'f') => true,
        _ => return Err(Undecodable::ValueWithoutKind),
    };
    let json = std::str::from_utf8(&value[1..]).map_err(|_| Undecodable::ValueNotUtf8)?;
    Ok((json, flash))
}

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Undecodable> {
        let end = self.at.checked_add(n).ok_or(Undecodable::LengthOverflow)?;
        let slice = self.bytes.get(self.at..end).ok_or(Undecodable::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, Undecodable> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Undecodable> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Undecodable> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Undecodable> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn map_len(&mut self) -> Result<usize, Undecodable> {
        Ok(match self.byte()? {
            b @ 0x80..=0x8f => usize::from(b & 0x0f),
            0xde => usize::from(self.u16()?),
            0xdf => self.u32()? as usize,
            _ => return Err(Undecodable::NotAMap),
        })
    }

    /// A string or binary, in any MessagePack encoding.
    fn str(&mut self) -> Result<&'a [u8], Undecodable> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 | 0xc4 => usize::from(self.byte()?),
            0xda | 0xc5 => usize::from(self.u16()?),
            0xdb | 0xc6 => self.u32()? as usize,
            _ => return Err(Undecodable::NotAString),
        };
        self.take(len)
    }
}
