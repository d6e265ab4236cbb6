//! The stored form of a session: what a store loads and saves.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::builder::EntriesBuilder;
use crate::entries::Entries;
use crate::text::JsonText;

/// One stored value: its JSON text, and whether it is flash data.
///
/// JSON is the self-describing encoding that lets every type that round-trips through
/// `serde_json` round-trip through the session. Flash data lives for one more request
/// that reads flash data.
///
/// ```
/// use session_core::StoredValue;
///
/// let notice = StoredValue::flash(r#""Saved!""#);
/// assert_eq!(notice.json(), r#""Saved!""#);
/// assert!(notice.is_flash());
/// assert!(!StoredValue::persistent("42").is_flash());
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    pub(crate) json: JsonText,
    pub(crate) flash: bool,
}

impl StoredValue {
    /// A value from its JSON text: flash data when `flash`, else persistent.
    pub fn new(json: impl Into<String>, flash: bool) -> Self {
        StoredValue {
            json: JsonText::from(json.into()),
            flash,
        }
    }

    /// A persistent value, from its JSON text.
    pub fn persistent(json: impl Into<String>) -> Self {
        StoredValue::new(json, false)
    }

    /// A flash value, from its JSON text.
    pub fn flash(json: impl Into<String>) -> Self {
        StoredValue::new(json, true)
    }

    /// The value as JSON text.
    #[inline]
    pub fn json(&self) -> &str {
        self.json.as_str()
    }

    /// True for flash data.
    #[inline]
    pub fn is_flash(&self) -> bool {
        self.flash
    }
}

impl fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.flash { "flash" } else { "persistent" };
        write!(f, "{kind}({})", self.json.as_str())
    }
}

/// A session as a store keeps it: values by key, when it was created, and when it
/// dies if left idle.
///
/// A store may keep it any way it likes; it is `Serialize` and `Deserialize`, so
/// storing it as JSON (or any serde format) is one line. Keys iterate in order.
///
/// ```
/// use session_core::{Record, StoredValue};
///
/// let mut record = Record::new(1_700_000_000_000, 1_700_003_600_000);
/// record.insert("user", StoredValue::persistent(r#""ada""#));
/// record.insert("notice", StoredValue::flash(r#""Welcome""#));
/// assert_eq!(record.get("user").map(StoredValue::json), Some(r#""ada""#));
/// assert_eq!(record.iter().map(|(key, _)| key).collect::<Vec<_>>(), ["notice", "user"]);
///
/// let json = serde_json::to_string(&record).unwrap();
/// let back: Record = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, record);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time (ms) the session was created; the absolute lifetime counts from here.
    pub created_ms: u64,
    /// Unix time (ms) the session dies if no request loads it before then.
    pub expires_ms: u64,
    pub(crate) entries: Entries,
    /// Set by a store's `load`: save again even if nothing changes.
    #[serde(skip)]
    pub(crate) outdated: bool,
    /// Set by a store's `load` that moved the idle deadline: where it was before.
    #[serde(skip)]
    pub(crate) moved_from: Option<u64>,
}

impl Record {
    /// An empty record.
    pub fn new(created_ms: u64, expires_ms: u64) -> Self {
        Record {
            created_ms,
            expires_ms,
            entries: Entries::new(),
            outdated: false,
            moved_from: None,
        }
    }

    /// The value under `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&StoredValue> {
        self.entries.get(key)
    }

    /// Puts `value` under `key`; returns the value it replaces.
    pub fn insert(&mut self, key: &str, value: StoredValue) -> Option<StoredValue> {
        match self.entries.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => self.entries.insert(key.into(), value),
        }
    }

    /// Removes the value under `key` and returns it.
    pub fn remove(&mut self, key: &str) -> Option<StoredValue> {
        self.entries.remove(key)
    }

    /// The values, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &StoredValue)> + Clone + '_ {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// How many values there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the record holds no values.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The size that [`SessionStore::max_session_bytes`](crate::SessionStore::max_session_bytes)
    /// bounds: every key's and every JSON value's length, plus one byte per value. A store
    /// that builds the stored record itself (a merge, a `renew`) checks it against its cap.
    pub fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|(key, value)| key.len() + value.json.len() + 1)
            .sum()
    }

    /// About how many bytes of memory the record holds: the record itself, the
    /// map's slots (those it has room for), each key that does not fit inline, and
    /// each value's text. Smaller than this it never is; a cache bounded in bytes counts it, so a
    /// session of many tiny values weighs what it costs, not only its text.
    ///
    /// ```
    /// use session_core::{Record, StoredValue};
    ///
    /// let mut record = Record::new(0, 1);
    /// let empty = record.memory_bytes();
    /// record.insert("k", StoredValue::persistent("1"));
    /// assert!(record.memory_bytes() > empty + record.size());
    /// ```
    pub fn memory_bytes(&self) -> usize {
        /// One value's slot in the map: its key and its stored value.
        const SLOT: usize = std::mem::size_of::<(compact_str::CompactString, StoredValue)>();
        /// What one allocation costs besides its bytes (the allocator's header, a
        /// reference count).
        const ALLOCATION: usize = 32;
        /// Keys up to this length are kept inline.
        const INLINE: usize = std::mem::size_of::<compact_str::CompactString>();
        let texts: usize = self
            .entries
            .iter()
            .map(|(key, value)| {
                let key_heap = if key.len() > INLINE {
                    key.len() + ALLOCATION
                } else {
                    0
                };
                key_heap + value.json.len()
            })
            .sum();
        // Slots the map has room for count, used or not.
        std::mem::size_of::<Record>() + 2 * ALLOCATION + SLOT * self.entries.capacity() + texts
    }

    /// Asks for this loaded record to be saved again on this request even if the
    /// request changes nothing (a store's `load` calls it, for example when the stored
    /// form is sealed with a retired key).
    pub fn mark_outdated(&mut self) {
        self.outdated = true;
    }

    /// True when [`mark_outdated`](Self::mark_outdated) was called on it.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let mut record = Record::new(0, 1);
    /// assert!(!record.is_outdated());
    /// record.mark_outdated();
    /// assert!(record.is_outdated());
    /// ```
    pub fn is_outdated(&self) -> bool {
        self.outdated
    }

    /// Tells the session, from a store's `load` that refreshes the idle deadline,
    /// where the deadline stood before this load moved it (unix ms). The session
    /// sends a persistent cookie again (its `Max-Age` follows the deadline) only when
    /// the deadline moved by a meaningful share; a store that refreshes in `load`
    /// without saying so leaves the client's cookie to expire before the session.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let mut record = Record::new(0, 1_000);
    /// assert_eq!(record.moved_from(), None);
    /// record.set_moved_from(400);
    /// assert_eq!(record.moved_from(), Some(400));
    /// ```
    pub fn set_moved_from(&mut self, previous_expires_ms: u64) {
        self.moved_from = Some(previous_expires_ms);
    }

    /// Where the idle deadline stood before the load that gave this record moved
    /// it, when the store said so ([`set_moved_from`](Self::set_moved_from)).
    pub fn moved_from(&self) -> Option<u64> {
        self.moved_from
    }
}

/// Builds a [`Record`] from a decoder's output, the fast way: the values' text shares
/// one allocation. Push keys in order (as they were encoded) and each costs one
/// comparison; out of order works too, and a key pushed twice keeps its last value.
///
/// ```
/// use session_core::{RecordBuilder, StoredValue};
///
/// let mut builder = RecordBuilder::with_capacity(2, 64);
/// builder.push("cart", r#"["apple","pear"]"#, false);
/// builder.push("notice", r#""Added""#, true);
/// let record = builder.finish(1_700_000_000_000, 1_700_003_600_000);
/// assert_eq!(record.get("notice"), Some(&StoredValue::flash(r#""Added""#)));
/// ```
#[derive(Debug, Default)]
pub struct RecordBuilder(EntriesBuilder);

impl RecordBuilder {
    /// A builder with room for `values` values and `text_bytes` bytes of their text
    /// (an upper bound, such as the stored form's length, does).
    pub fn with_capacity(values: usize, text_bytes: usize) -> Self {
        RecordBuilder(EntriesBuilder::with_capacity(values, text_bytes))
    }

    /// Adds the value `json` under `key`, flash data when `flash`.
    #[inline]
    pub fn push(&mut self, key: &str, json: &str, flash: bool) {
        self.0.push(key.into(), json, flash);
    }

    /// The record of the values pushed.
    pub fn finish(self, created_ms: u64, expires_ms: u64) -> Record {
        Record {
            entries: self.0.finish(),
            ..Record::new(created_ms, expires_ms)
        }
    }
}
