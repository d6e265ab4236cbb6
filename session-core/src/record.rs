//! The stored form of a session: what a store loads and saves.
//!
//! A [`Record`] is a map from key to [`StoredValue`] (a value's JSON text and whether
//! it is flash data) plus two timestamps: when the session was created and when it
//! dies if left idle. Stores persist records; the [`Session`](crate::Session) handle
//! turns them into what handlers see.

use serde::{Deserialize, Serialize};

use crate::{Entries, JsonText};

/// One stored value.
///
/// `json` is the value in JSON, the self-describing encoding that lets every type
/// that round-trips through `serde_json` round-trip through the session. `flash`
/// marks data that lives for one more reading request (SPEC section 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    /// The value as JSON text: inline up to 24 bytes, like the keys; longer values
    /// decoded together share one buffer (see [`JsonText`]).
    pub json: JsonText,
    /// True for flash data.
    pub flash: bool,
}

impl StoredValue {
    /// A persistent value.
    pub fn persistent(json: impl Into<JsonText>) -> Self {
        StoredValue {
            json: json.into(),
            flash: false,
        }
    }

    /// A flash value.
    pub fn flash(json: impl Into<JsonText>) -> Self {
        StoredValue {
            json: json.into(),
            flash: true,
        }
    }
}

/// A session as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time (ms) the session was created; the absolute lifetime counts from here.
    pub created_ms: u64,
    /// Unix time (ms) the session dies if no request loads it before then.
    pub expires_ms: u64,
    /// The values, by key, in key order. Keys are [`CompactString`](crate::CompactString)s: a key of up to
    /// 24 bytes is stored inline, without an allocation; it converts from and derefs
    /// to `str`.
    pub entries: Entries,
    /// The stored revision this record was loaded at, for a store that keeps one
    /// (see [`SaveRequest::base`](crate::SaveRequest::base)); `None` otherwise. Not
    /// part of the record's stored form.
    #[serde(skip)]
    pub revision: Option<u64>,
    /// Set by a store's `load` when the record must be saved again even if the
    /// request changes nothing (the cookie store: sealed with a retired key). Not part
    /// of the record's stored form.
    #[serde(skip)]
    pub rewrite: bool,
}

impl Record {
    /// An empty record.
    pub fn new(created_ms: u64, expires_ms: u64) -> Self {
        Record {
            created_ms,
            expires_ms,
            entries: Entries::new(),
            revision: None,
            rewrite: false,
        }
    }

    /// The size that [`Capabilities::max_session_bytes`](crate::Capabilities::max_session_bytes)
    /// bounds: every key's and every JSON value's length, plus one byte per value.
    pub fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|(key, value)| key.len() + value.json.len() + 1)
            .sum()
    }

    /// True when the record holds no values.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
