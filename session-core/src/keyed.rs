//! [`KeyMap`] and [`KeySet`]: a request's bookkeeping about session keys.
//!
//! A [`Session`](crate::Session) notes which keys its request changed, removed or
//! counted, and the life of the flash data it wrote: a handful of keys at most, and
//! none at all in most requests. A sorted vector holds that with no allocation while
//! empty and nothing to walk when dropped.

use compact_str::CompactString;

use crate::entries::position_in;

/// Session keys mapped to `V`, in key order, each key once.
#[derive(Debug, Clone)]
pub(crate) struct KeyMap<V> {
    /// Sorted by key, no key twice.
    items: Vec<(CompactString, V)>,
}

/// Session keys, in order, each once.
pub(crate) type KeySet = KeyMap<()>;

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap { items: Vec::new() }
    }
}

impl<V> KeyMap<V> {
    /// Where `key` is (`Ok`) or would go (`Err`): the search [`Entries`] uses.
    ///
    /// [`Entries`]: crate::Entries
    fn position(&self, key: &str) -> Result<usize, usize> {
        position_in(&self.items, key)
    }

    /// True when nothing is noted.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many keys are noted.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// True when `key` is noted.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// What is noted for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let at = self.position(key).ok()?;
        self.items.get(at).map(|(_, v)| v)
    }

    /// Notes `value` for `key`, replacing what was noted (a key is allocated only
    /// when it is new).
    pub(crate) fn insert(&mut self, key: &str, value: V) {
        match self.position(key) {
            Ok(at) => {
                if let Some(slot) = self.items.get_mut(at) {
                    slot.1 = value;
                }
            }
            Err(at) => self.items.insert(at, (CompactString::from(key), value)),
        }
    }

    /// Forgets `key`.
    pub(crate) fn remove(&mut self, key: &str) {
        if let Ok(at) = self.position(key) {
            self.items.remove(at);
        }
    }

    /// Forgets every key.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &CompactString> {
        self.items.iter().map(|(k, _)| k)
    }
}

impl KeySet {
    /// Notes `key`.
    pub(crate) fn mark(&mut self, key: &str) {
        self.insert(key, ());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_order_once_each_and_insert_replaces() {
        let mut map = KeyMap::default();
        for (key, value) in [("b", 1), ("a", 2), ("c", 3), ("b", 4)] {
            map.insert(key, value);
        }
        let pairs: Vec<(&str, i32)> = map
            .keys()
            .map(|k| (k.as_str(), map.get(k).copied().unwrap_or_default()))
            .collect();
        assert_eq!(pairs, [("a", 2), ("b", 4), ("c", 3)]);
        assert_eq!(map.get("b"), Some(&4));
        assert_eq!(map.get("z"), None);
        map.remove("a");
        map.remove("z");
        assert_eq!(map.len(), 2);
        assert!(!map.contains("a") && map.contains("c"));
        map.clear();
        assert!(map.is_empty());
    }

    #[test]
    fn a_set_marks_each_key_once_in_the_order_of_a_btree_set() {
        let keys = ["user", "_csrf", "Z", "cart", "user", "ä", "a"];
        let mut set = KeySet::default();
        for key in keys {
            set.mark(key);
        }
        let ours: Vec<&str> = set.keys().map(CompactString::as_str).collect();
        let theirs: Vec<&str> = keys
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(ours, theirs);
    }
}
