//! [`JsonText`]: a stored value's JSON text, which may share one buffer with the
//! other values decoded with it.
//!
//! A session of ten 100-byte values, decoded into a string each, costs ten
//! allocations on every request, and ten frees. Decoded through an
//! [`EntriesBuilder`](crate::EntriesBuilder), its values are slices of one buffer:
//! one allocation for all of them, and a clone is a reference count. A text of up to
//! 24 bytes is kept inline, as [`CompactString`] keeps it, and never shares; a longer
//! text made on its own (a value the application sets) is a buffer of its own behind a
//! reference count, so copies of a session (the one a store keeps in memory, the one a
//! request changes) share it too.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value's JSON text ([`StoredValue::json`](crate::StoredValue::json)).
///
/// It reads as a `str` (it derefs to one) and converts from `&str`, `String` and
/// [`CompactString`]. Equality, order, hashing and serde go by the text alone, never
/// by where it is kept.
#[derive(Clone)]
pub struct JsonText(Repr);

#[derive(Clone)]
enum Repr {
    /// A text of its own: inline up to 24 bytes, else on the heap.
    Own(CompactString),
    /// `len` bytes from `start` of a buffer other texts share. The builder only
    /// makes one from a range it wrote, so the range is in bounds and on char
    /// boundaries.
    Shared {
        buffer: Arc<String>,
        start: u32,
        len: u32,
    },
    /// A range of a buffer not built yet; only ever inside an
    /// [`EntriesBuilder`](crate::EntriesBuilder), which resolves it before handing
    /// its entries out.
    Pending { start: u32, len: u32 },
}

impl JsonText {
    /// The empty text.
    pub const fn new() -> Self {
        JsonText(Repr::Own(CompactString::const_new("")))
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Own(text) => text,
            Repr::Shared { buffer, start, len } => {
                let start = *start as usize;
                buffer.get(start..start + *len as usize).unwrap_or_default()
            }
            Repr::Pending { .. } => "",
        }
    }

    /// The text's length in bytes, read without touching a shared buffer (the
    /// same as `as_str().len()`).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Own(text) => text.len(),
            Repr::Shared { len, .. } => *len as usize,
            Repr::Pending { .. } => 0,
        }
    }

    /// A range of the buffer an [`EntriesBuilder`](crate::EntriesBuilder) is
    /// writing; [`resolve`](Self::resolve) points it at the buffer once it is built.
    pub(crate) fn pending(start: u32, len: u32) -> Self {
        JsonText(Repr::Pending { start, len })
    }

    /// Points a pending text at `buffer`; any other text is left as it is.
    pub(crate) fn resolve(&mut self, buffer: &Arc<String>) {
        if let Repr::Pending { start, len } = self.0 {
            self.0 = Repr::Shared {
                buffer: Arc::clone(buffer),
                start,
                len,
            };
        }
    }
}

impl Default for JsonText {
    fn default() -> Self {
        JsonText::new()
    }
}

impl Deref for JsonText {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for JsonText {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for JsonText {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// The longest text kept inline.
pub(crate) const INLINE: usize = std::mem::size_of::<CompactString>();

impl From<&str> for JsonText {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE {
            return JsonText(Repr::Own(CompactString::from(text)));
        }
        JsonText::from(text.to_owned())
    }
}

impl From<String> for JsonText {
    fn from(text: String) -> Self {
        match u32::try_from(text.len()) {
            Ok(len) if text.len() > INLINE => JsonText(Repr::Shared {
                buffer: Arc::new(text),
                start: 0,
                len,
            }),
            _ => JsonText(Repr::Own(CompactString::from(text))),
        }
    }
}

impl From<&String> for JsonText {
    fn from(text: &String) -> Self {
        JsonText::from(text.as_str())
    }
}

impl From<CompactString> for JsonText {
    fn from(text: CompactString) -> Self {
        if text.is_heap_allocated() {
            return JsonText::from(text.into_string());
        }
        JsonText(Repr::Own(text))
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JsonText {}

impl PartialEq<str> for JsonText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for JsonText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for JsonText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for JsonText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CompactString::deserialize(deserializer).map(JsonText::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(buffer: &str, start: u32, len: u32) -> JsonText {
        let mut text = JsonText::pending(start, len);
        text.resolve(&Arc::new(buffer.to_owned()));
        text
    }

    #[test]
    fn a_shared_text_is_its_range_of_the_buffer() {
        let text = shared("abc\"hello\"xyz", 3, 7);
        assert_eq!(text.as_str(), "\"hello\"");
        assert_eq!(text, JsonText::from("\"hello\""));
        assert_eq!(text.clone().as_str(), "\"hello\"");
    }

    #[test]
    fn len_is_the_texts_length_for_every_kind() {
        for text in [
            JsonText::from(""),
            JsonText::from("[1]"),
            JsonText::from("x".repeat(40)),
            shared("ab\"é\"cd", 2, 4),
            shared("abc", 1, 1),
        ] {
            assert_eq!(text.len(), text.as_str().len(), "{text:?}");
        }
    }

    #[test]
    fn equality_order_hash_and_serde_go_by_the_text() {
        use std::collections::hash_map::DefaultHasher;
        let own = JsonText::from("[1,2]");
        let from_shared = shared("..[1,2]..", 2, 5);
        assert_eq!(own, from_shared);
        assert_eq!(own.cmp(&from_shared), std::cmp::Ordering::Equal);
        let hash = |t: &JsonText| {
            let mut h = DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&own), hash(&from_shared));
        let one = JsonText::from("1");
        assert!(one < shared("x2", 1, 1));
        assert_eq!(
            serde_json::to_string(&from_shared).ok().as_deref(),
            Some(r#""[1,2]""#)
        );
        let back: JsonText = serde_json::from_str(r#""[1,2]""#).unwrap_or_default();
        assert_eq!(back, own);
        assert_eq!(format!("{from_shared:?}"), format!("{:?}", "[1,2]"));
    }

    #[test]
    fn a_long_text_is_shared_by_its_clones_and_a_short_one_is_inline() {
        let long = JsonText::from("x".repeat(40));
        let copy = long.clone();
        assert_eq!(copy, long);
        assert_eq!(copy.as_str().as_ptr(), long.as_str().as_ptr());
        for text in [
            JsonText::from("x".repeat(40).as_str()),
            JsonText::from(CompactString::from("y".repeat(30))),
        ] {
            assert_eq!(text.clone().as_str().as_ptr(), text.as_str().as_ptr());
        }
        let short = JsonText::from("[1,2]");
        assert!(matches!(short.0, Repr::Own(ref t) if !t.is_heap_allocated()));
    }

    #[test]
    fn a_text_takes_no_more_room_than_a_compact_string() {
        assert_eq!(
            std::mem::size_of::<JsonText>(),
            std::mem::size_of::<CompactString>()
        );
    }

    #[test]
    fn a_range_outside_the_buffer_reads_as_empty_not_a_panic() {
        assert_eq!(shared("abc", 2, 5).as_str(), "");
        // Not on a char boundary.
        assert_eq!(shared("é", 1, 1).as_str(), "");
        assert_eq!(JsonText::pending(0, 3).as_str(), "");
    }
}
