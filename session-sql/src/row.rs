//! A session as an SQL row holds it: the values as one JSON text, and the times as
//! `BIGINT` milliseconds.
//!
//! `data` is `{"key": ["<value as JSON text>", is_flash]}`, keys escaped as
//! [`keys`](crate::keys) says. The same text for every driver, so a row reads the
//! same in `psql`, `mysql` and `sqlite3`.

use std::collections::BTreeMap;

use session_core::{Record, RecordBuilder};

use crate::keys;

/// What `expires_ms` holds for a session written at `now_ms` whose deadline is
/// `deadline_ms`: the deadline rounded up to a grain of 1% of the time left. The
/// writes of one session a grain apart or less mostly give the same value.
pub(crate) fn indexed_deadline(deadline_ms: u64, now_ms: u64) -> u64 {
    let grain = (deadline_ms.saturating_sub(now_ms) / 100).max(1);
    deadline_ms.div_ceil(grain).saturating_mul(grain)
}

pub(crate) fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The JSONB text of `record`: `{"key": ["<value JSON>", flash]}`.
pub(crate) fn encode(record: &Record) -> String {
    let object: serde_json::Map<String, serde_json::Value> = record
        .iter()
        .map(|(key, value)| {
            (
                keys::stored(key).into_owned(),
                serde_json::json!([value.json(), value.is_flash()]),
            )
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// The record of a row; `None` for data this store did not write.
pub(crate) fn decode(data: &[u8], created_ms: u64, expires_ms: u64) -> Option<Record> {
    let values: BTreeMap<String, (String, bool)> = serde_json::from_slice(data).ok()?;
    let mut builder = RecordBuilder::with_capacity(values.len(), data.len());
    for (key, (json, flash)) in &values {
        builder.push(&keys::from_stored(key), json, *flash);
    }
    Some(builder.finish(created_ms, expires_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexed_deadline_is_the_deadline_rounded_up_to_a_hundredth_of_the_time_left() {
        let idle = 3_600_000;
        let grain = 36_000;
        // A deadline one past a grain boundary.
        let boundary = grain * 50_000_000;
        let first = boundary - idle + 1;
        assert_eq!(indexed_deadline(first + idle, first), boundary + grain);
        // Writes within the grain keep the value; the next grain moves it.
        let later = first + grain - 1;
        assert_eq!(indexed_deadline(later + idle, later), boundary + grain);
        let next = first + grain;
        assert_eq!(indexed_deadline(next + idle, next), boundary + 2 * grain);
        // Never before the deadline, never a grain past it.
        for now in (first..first + 3 * grain).step_by(977) {
            let deadline = now + idle;
            let indexed = indexed_deadline(deadline, now);
            assert!(indexed >= deadline && indexed < deadline + grain);
        }
        // A deadline already passed, or at hand, is kept as it is.
        assert_eq!(indexed_deadline(5, 10), 5);
        assert_eq!(indexed_deadline(10, 10), 10);
    }

    #[test]
    fn rows_round_trip_exactly() {
        let mut builder = RecordBuilder::with_capacity(2, 32);
        builder.push("n", "1.50", false);
        builder.push("notice", r#""h\u00e9""#, true);
        let record = builder.finish(1, 2);
        assert_eq!(decode(encode(&record).as_bytes(), 1, 2), Some(record));
        assert_eq!(decode(b"[1]", 1, 2), None);
    }
}
