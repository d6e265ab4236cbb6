//! Writing a session: the snapshot, and a request's change to append.

use super::*;

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
pub(super) fn str_header_len(len: usize) -> usize {
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
pub(super) fn decimal_len(n: i64) -> usize {
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

pub(super) fn entry(out: &mut Vec<u8>, key: &str, value: &StoredValue) {
    let kind = if value.is_flash() { b'f' } else { b'p' };
    kind_entry(out, key, kind, value.json());
}

/// A key and its string: a kind byte, then `text`.
pub(super) fn kind_entry(out: &mut Vec<u8>, key: &str, kind: u8, text: &str) {
    str_header(out, key.len());
    out.extend_from_slice(key.as_bytes());
    str_header(out, text.len() + 1);
    out.push(kind);
    out.extend_from_slice(text.as_bytes());
}

pub(super) fn map_header(out: &mut Vec<u8>, n: usize) {
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

pub(super) fn str_header(out: &mut Vec<u8>, len: usize) {
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
