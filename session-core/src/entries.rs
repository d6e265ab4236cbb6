//! [`Entries`]: a session's values by key, kept in key order in one vector.
//!
//! Sessions are small maps (a handful to a few hundred keys) that are built once per
//! request from stored bytes, read a few times, changed in one or two places and
//! encoded again. A sorted vector suits that life better than a tree: a decoder that
//! reads keys in order (every store here writes them in order) fills it with one
//! comparison per key and one allocation, lookups are a binary search over contiguous
//! memory, and iteration and dropping walk one slice. Inserting a key in the middle
//! moves the keys after it, which costs little at session sizes.
//!
//! The vector is shared by clones and copied on the first change of one of them: a
//! store that keeps sessions in memory (a near-cache, the cookie store's opened
//! cookies) hands out copies that most requests only read.

use std::cmp::Ordering;
use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::StoredValue;

/// A session's values by key, in key order, each key once.
///
/// The map API of [`std::collections::BTreeMap`] that sessions use, with the same
/// meaning: [`insert`](Self::insert) replaces and returns the old value, iteration is
/// in key order, and collecting pairs with a repeated key keeps the last one.
#[derive(Clone, Default)]
pub struct Entries {
    /// Sorted by key, no key twice; shared by clones until one changes. `None`
    /// when empty, so an empty map allocates nothing.
    items: Option<Arc<Vec<(CompactString, StoredValue)>>>,
}

impl Entries {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        Entries { items: None }
    }

    /// An empty map with room for `capacity` values.
    pub fn with_capacity(capacity: usize) -> Self {
        Entries {
            items: Some(Arc::new(Vec::with_capacity(capacity))),
        }
    }

    /// The pairs, in key order.
    #[inline]
    fn items(&self) -> &[(CompactString, StoredValue)] {
        self.items.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The vector, to change: copied first when a clone shares it.
    fn items_mut(&mut self) -> &mut Vec<(CompactString, StoredValue)> {
        Arc::make_mut(self.items.get_or_insert_with(Arc::default))
    }

    /// The vector, taken out (copied when a clone shares it); `self` is left empty.
    fn take_items(&mut self) -> Vec<(CompactString, StoredValue)> {
        self.items
            .take()
            .map(Arc::unwrap_or_clone)
            .unwrap_or_default()
    }

    fn from_sorted(items: Vec<(CompactString, StoredValue)>) -> Self {
        Entries {
            items: (!items.is_empty()).then(|| Arc::new(items)),
        }
    }

    /// How many values there is room for without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.items.as_deref().map_or(0, Vec::capacity)
    }

    /// How many values there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.items().len()
    }

    /// True when there are no values.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items().is_empty()
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    fn position(&self, key: &str) -> Result<usize, usize> {
        position_in(self.items(), key)
    }

    /// The value under `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&StoredValue> {
        self.get_key_value(key).map(|(_, value)| value)
    }

    /// The key and value under `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&CompactString, &StoredValue)> {
        let at = self.position(key).ok()?;
        self.items().get(at).map(|(k, v)| (k, v))
    }

    /// The value under `key`, to change in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut StoredValue> {
        let at = self.position(key).ok()?;
        self.items_mut().get_mut(at).map(|(_, v)| v)
    }

    /// True when there is a value under `key`.
    #[inline]
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Puts `value` under `key`; returns the value it replaces.
    pub fn insert(&mut self, key: CompactString, value: StoredValue) -> Option<StoredValue> {
        // Keys that arrive in order (a decoder, a merge) go on the end without a search.
        if self
            .items()
            .last()
            .is_none_or(|(last, _)| compare(last.as_bytes(), key.as_bytes()) == Ordering::Less)
        {
            self.items_mut().push((key, value));
            return None;
        }
        match self.position(&key) {
            Ok(at) => self
                .items_mut()
                .get_mut(at)
                .map(|(_, slot)| std::mem::replace(slot, value)),
            Err(at) => {
                self.items_mut().insert(at, (key, value));
                None
            }
        }
    }

    /// Removes the value under `key` and returns it.
    pub fn remove(&mut self, key: &str) -> Option<StoredValue> {
        let at = self.position(key).ok()?;
        Some(self.items_mut().remove(at).1)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.items = None;
    }

    /// Keeps the values for which `keep` returns true (it may change them).
    pub fn retain(&mut self, mut keep: impl FnMut(&CompactString, &mut StoredValue) -> bool) {
        self.items_mut().retain_mut(|(key, value)| keep(key, value));
    }

    /// Moves every value of `other` into `self`, where `other`'s value wins a key both
    /// hold; `other` is left empty. One pass over both.
    pub fn append(&mut self, other: &mut Entries) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            std::mem::swap(self, other);
            return;
        }
        let ours = self.take_items();
        let theirs = other.take_items();
        let mut merged = Vec::with_capacity(ours.len() + theirs.len());
        let mut ours = ours.into_iter().peekable();
        let mut theirs = theirs.into_iter().peekable();
        loop {
            let take_ours = match (ours.peek(), theirs.peek()) {
                (Some((a, _)), Some((b, _))) => match compare(a.as_bytes(), b.as_bytes()) {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    // Theirs wins: ours is dropped.
                    Ordering::Equal => {
                        ours.next();
                        continue;
                    }
                },
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_ours {
                ours.next()
            } else {
                theirs.next()
            };
            merged.extend(next);
        }
        *self = Entries::from_sorted(merged);
    }

    /// The keys and values, in key order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.items().iter())
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &CompactString> + ExactSizeIterator {
        self.items().iter().map(|(key, _)| key)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &StoredValue> + ExactSizeIterator {
        self.items().iter().map(|(_, value)| value)
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Self) -> bool {
        self.items() == other.items()
    }
}

impl Eq for Entries {}

/// Up to this many values, a lookup scans instead of searching.
const SCAN_MAX: usize = 16;

/// Where `key` is (`Ok`) or would go (`Err`) in `items`, sorted by key.
pub(crate) fn position_in<V>(items: &[(CompactString, V)], key: &str) -> Result<usize, usize> {
    if items.len() <= SCAN_MAX {
        // A short map is scanned: most keys differ from `key` in length, or in
        // their first bytes, and the scan has none of a binary search's
        // unpredictable branches.
        for (at, (k, _)) in items.iter().enumerate() {
            match compare(k.as_bytes(), key.as_bytes()) {
                Ordering::Less => {}
                Ordering::Equal => return Ok(at),
                Ordering::Greater => return Err(at),
            }
        }
        return Err(items.len());
    }
    items.binary_search_by(|(k, _)| compare(k.as_bytes(), key.as_bytes()))
}

/// The order of `str` (bytewise), without the call to `memcmp` that `str`'s `Ord`
/// makes: session keys are short, and differ early.
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Pairs in any order; a key given twice keeps its last value. Pairs already in key
/// order (what every store's decoder yields) are taken as they are, after one
/// comparison each.
impl From<Vec<(CompactString, StoredValue)>> for Entries {
    fn from(mut items: Vec<(CompactString, StoredValue)>) -> Self {
        if items
            .windows(2)
            .all(|w| compare(w[0].0.as_bytes(), w[1].0.as_bytes()) == Ordering::Less)
        {
            return Entries::from_sorted(items);
        }
        // Stable: pairs with one key keep their order, so the last one is the last given.
        items.sort_by(|a, b| compare(a.0.as_bytes(), b.0.as_bytes()));
        let mut kept: Vec<(CompactString, StoredValue)> = Vec::with_capacity(items.len());
        for pair in items {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Entries::from_sorted(kept)
    }
}

impl FromIterator<(CompactString, StoredValue)> for Entries {
    fn from_iter<I: IntoIterator<Item = (CompactString, StoredValue)>>(pairs: I) -> Self {
        Entries::from(pairs.into_iter().collect::<Vec<_>>())
    }
}

impl Extend<(CompactString, StoredValue)> for Entries {
    fn extend<I: IntoIterator<Item = (CompactString, StoredValue)>>(&mut self, pairs: I) {
        for (key, value) in pairs {
            self.insert(key, value);
        }
    }
}

impl IntoIterator for Entries {
    type Item = (CompactString, StoredValue);
    type IntoIter = std::vec::IntoIter<(CompactString, StoredValue)>;

    /// The pairs, in key order.
    fn into_iter(mut self) -> Self::IntoIter {
        self.take_items().into_iter()
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = (&'a CompactString, &'a StoredValue);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The keys and values of an [`Entries`], in key order ([`Entries::iter`]).
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (CompactString, StoredValue)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a CompactString, &'a StoredValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(key, value)| (key, value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A map, as `BTreeMap` serializes: the same bytes in every format.
impl Serialize for Entries {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of session keys to stored values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                // Each pair takes at least a byte or two, so the hint cannot be
                // trusted for more than a modest allocation.
                let mut items = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some(pair) = map.next_entry()? {
                    items.push(pair);
                }
                Ok(Entries::from(items))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn value(n: u8) -> StoredValue {
        StoredValue {
            json: n.to_string().into(),
            flash: n % 2 == 1,
        }
    }

    #[test]
    fn a_change_to_a_clone_leaves_the_original_as_it_was() {
        let original: Entries = (0..5).map(|n| (n.to_string().into(), value(n))).collect();
        let before = original.clone();
        type Change = fn(&mut Entries);
        let changes: [Change; 6] = [
            |e| {
                e.insert("9".into(), value(9));
            },
            |e| {
                e.insert("2".into(), value(7));
            },
            |e| {
                e.remove("3");
            },
            |e| e.retain(|k, _| k != "1"),
            |e| {
                if let Some(v) = e.get_mut("4") {
                    v.flash = !v.flash;
                }
            },
            |e| e.append(&mut [("0".into(), value(8))].into_iter().collect()),
        ];
        for change in changes {
            let mut copy = original.clone();
            change(&mut copy);
            assert_ne!(copy, original);
            assert_eq!(original, before);
        }
        let mut copy = original.clone();
        copy.clear();
        assert!(copy.is_empty());
        assert_eq!(original, before);
        // Emptied one way or another, a map equals a new one.
        let mut emptied = original.clone();
        emptied.retain(|_, _| false);
        assert_eq!(emptied, Entries::new());
        assert_eq!(copy, Entries::new());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, u8),
        Remove(String),
        Retain(u8),
        Append(Vec<(String, u8)>),
    }

    /// Up to 73 distinct keys: maps both shorter and longer than `SCAN_MAX`.
    fn key() -> impl Strategy<Value = String> {
        "[a-h]{0,2}"
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (key(), any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            key().prop_map(Op::Remove),
            any::<u8>().prop_map(Op::Retain),
            proptest::collection::vec((key(), any::<u8>()), 0..6).prop_map(Op::Append),
        ]
    }

    fn same(ours: &Entries, model: &BTreeMap<CompactString, StoredValue>) -> bool {
        ours.len() == model.len() && ours.iter().eq(model.iter())
    }

    proptest! {
        /// Every operation leaves the same map a `BTreeMap` would.
        #[test]
        fn behaves_as_a_btree_map(
            start in proptest::collection::vec((key(), any::<u8>()), 0..48),
            ops in proptest::collection::vec(op(), 0..24),
        ) {
            let pairs = || start.iter().map(|(k, v)| (CompactString::from(k.as_str()), value(*v)));
            let mut ours: Entries = pairs().collect();
            let mut model: BTreeMap<CompactString, StoredValue> = pairs().collect();
            prop_assert!(same(&ours, &model));
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(ours.insert(k.as_str().into(), value(v)), model.insert(k.as_str().into(), value(v)));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(ours.remove(&k), model.remove(k.as_str()));
                    }
                    Op::Retain(n) => {
                        ours.retain(|_, v| v.json.len() as u8 % 2 == n % 2);
                        model.retain(|_, v| v.json.len() as u8 % 2 == n % 2);
                    }
                    Op::Append(more) => {
                        let more = || more.iter().map(|(k, v)| (CompactString::from(k.as_str()), value(*v)));
                        let mut theirs: Entries = more().collect();
                        let mut model_theirs: BTreeMap<_, _> = more().collect();
                        ours.append(&mut theirs);
                        model.append(&mut model_theirs);
                        prop_assert!(theirs.is_empty());
                    }
                }
                prop_assert!(same(&ours, &model), "{:?} vs {:?}", ours, model);
                for k in ["", "a", "ab", "e", "ee", "hh", "z"] {
                    prop_assert_eq!(ours.get(k), model.get(k));
                    prop_assert_eq!(ours.contains_key(k), model.contains_key(k));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn keys_order_as_str_does(a in "[a-c\\x00\\xff]{0,20}", b in "[a-c\\x00\\xff]{0,20}") {
            prop_assert_eq!(compare(a.as_bytes(), b.as_bytes()), a.cmp(&b));
            prop_assert_eq!(compare(a.as_bytes(), a.as_bytes()), std::cmp::Ordering::Equal);
        }
    }

    #[test]
    fn serializes_as_a_btree_map_does() -> Result<(), serde_json::Error> {
        let pairs = [("b", value(2)), ("a", value(1)), ("b", value(3))];
        let ours: Entries = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect();
        let model: BTreeMap<CompactString, StoredValue> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect();
        let text = serde_json::to_string(&ours)?;
        assert_eq!(text, serde_json::to_string(&model)?);
        // A repeated key in the input keeps its last value, as in a BTreeMap.
        let back: Entries = serde_json::from_str(
            r#"{"b":{"json":"2","flash":false},"a":{"json":"1","flash":true},"b":{"json":"3","flash":true}}"#,
        )?;
        assert_eq!(back, ours);
        assert_eq!(format!("{ours:?}"), format!("{model:?}"));
        Ok(())
    }
}
