//! [`EntriesBuilder`]: how a store's decoder turns stored bytes into [`Entries`] with
//! one allocation for all the values' text.

use std::sync::Arc;

use compact_str::CompactString;

use crate::entries::Entries;
use crate::text::{JsonText, INLINE};
use crate::StoredValue;

/// Collects the values a decoder reads, then hands them out as [`Entries`] whose
/// texts longer than 24 bytes are slices of one shared buffer (see [`JsonText`]).
///
/// Push in any order; [`finish`](Self::finish) sorts what is out of order and keeps
/// the last value of a key pushed twice, as [`Entries::from`] does. A decoder that
/// pushes keys in order pays one comparison per key.
#[derive(Debug, Default)]
pub struct EntriesBuilder {
    items: Vec<(CompactString, StoredValue)>,
    /// The long values' text, back to back.
    text: String,
    /// The room to make for `text` when the first long value arrives (a session of
    /// short values allocates none).
    text_bytes: usize,
}

impl EntriesBuilder {
    /// A builder with room for `values` values and `text_bytes` bytes of their text
    /// (an upper bound, such as the stored form's length, does; the room for text is
    /// made when the first value longer than 24 bytes is pushed).
    pub fn with_capacity(values: usize, text_bytes: usize) -> Self {
        EntriesBuilder {
            items: Vec::with_capacity(values),
            text: String::new(),
            text_bytes,
        }
    }

    /// Adds the value `json` under `key`, flash data when `flash`.
    #[inline]
    pub fn push(&mut self, key: CompactString, json: &str, flash: bool) {
        let json = if json.len() <= INLINE {
            JsonText::from(json)
        } else {
            self.share(json)
        };
        self.items.push((key, StoredValue { json, flash }));
    }

    /// `json`, longer than 24 bytes, as a range of the shared text.
    fn share(&mut self, json: &str) -> JsonText {
        let start = self.text.len();
        match (u32::try_from(start), u32::try_from(json.len())) {
            (Ok(at), Ok(len)) if at.checked_add(len).is_some() => {
                if self.text.capacity() == 0 {
                    self.text.reserve(self.text_bytes.max(json.len()));
                }
                self.text.push_str(json);
                JsonText::pending(at, len)
            }
            _ => JsonText::from(json),
        }
    }

    /// The values pushed, by key.
    pub fn finish(self) -> Entries {
        let EntriesBuilder {
            mut items, text, ..
        } = self;
        if !text.is_empty() {
            let buffer = Arc::new(text);
            for (_, value) in &mut items {
                value.json.resolve(&buffer);
            }
        }
        Entries::from(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_values_read_back_as_pushed() {
        let long: Vec<String> = (0..5)
            .map(|i| format!("\"{}\"", "é".repeat(20 + i)))
            .collect();
        let mut builder = EntriesBuilder::with_capacity(0, 0);
        for (i, text) in long.iter().enumerate() {
            builder.push(format!("long{i}").into(), text, i % 2 == 0);
            builder.push(format!("short{i}").into(), &i.to_string(), false);
        }
        builder.push("empty".into(), "", true);
        let entries = builder.finish();
        assert_eq!(entries.len(), 11);
        for (i, text) in long.iter().enumerate() {
            let value = entries.get(format!("long{i}").as_str());
            assert_eq!(value.map(|v| v.json.as_str()), Some(text.as_str()));
            assert_eq!(value.map(|v| v.flash), Some(i % 2 == 0));
            let short = entries.get(format!("short{i}").as_str());
            assert_eq!(short.map(|v| v.json.to_string()), Some(i.to_string()));
        }
        assert_eq!(entries.get("empty"), Some(&StoredValue::flash("")));
    }

    #[test]
    fn out_of_order_and_repeated_keys_come_out_sorted_last_wins() {
        let mut builder = EntriesBuilder::default();
        let value = |n: usize| format!("\"{}\"", n.to_string().repeat(30));
        builder.push("b".into(), &value(1), false);
        builder.push("a".into(), &value(2), false);
        builder.push("b".into(), &value(3), false);
        let entries = builder.finish();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.json.as_str()))
            .collect();
        assert_eq!(got, [("a", value(2).as_str()), ("b", value(3).as_str())]);
    }

    #[test]
    fn short_values_make_no_room_for_text() {
        let mut builder = EntriesBuilder::with_capacity(2, 4096);
        builder.push("a".into(), "\"short\"", false);
        builder.push("b".into(), "42", false);
        assert_eq!(builder.text.capacity(), 0);
        builder.push("c".into(), &"z".repeat(30), false);
        assert!(builder.text.capacity() >= 4096);
    }

    #[test]
    fn the_long_values_share_one_buffer() {
        let mut builder = EntriesBuilder::default();
        let text = "y".repeat(40);
        builder.push("a".into(), &text, false);
        builder.push("b".into(), &text, false);
        let entries = builder.finish();
        let a = entries.get("a").map(|v| v.json.as_ptr());
        let b = entries.get("b").map(|v| v.json.as_ptr());
        // Back to back in one buffer: the second starts where the first ends.
        assert_eq!(a.map(|p| p.wrapping_add(40)), b);
    }
}
