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
