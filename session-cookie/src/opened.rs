//! [`OpenedCookies`]: cookies this store has already opened, kept so that the same
//! cookie sent again (every read-only request of a session sends the one it was last
//! given) is not decoded and decrypted again.
//!
//! Only a cookie that authenticated, or that the store has just sealed (the client
//! sends it back next), is kept, under its whole text; a cookie that matches one kept
//! byte for byte would open to exactly what is kept, since opening depends on nothing
//! but the text, the keyring and the cookie name, all fixed for the store that owns
//! the cache. The expiry policy is applied on every load, kept or
//! not. Memory is bounded: the cookies are spread over a few shards (so that
//! requests on different threads seldom wait for one another), each with two
//! generations of at most half its share of the budget; the younger fills, then
//! replaces the older, and a cookie found in the older moves to the younger.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::seal::Opened;

/// The default budget: 8 MiB, about 3,000 sessions of 1 KiB.
pub(crate) const DEFAULT_BYTES: usize = 8 << 20;

/// Bytes counted for one kept cookie besides its text and its record
/// ([`Record::memory_bytes`](session_core::Record::memory_bytes), which counts each
/// value's own overhead): the shared entry, its slot in a map, the text's
/// allocation, and the opened session's bookkeeping.
const OVERHEAD: usize =
    std::mem::size_of::<Kept>() + std::mem::size_of::<(u64, Arc<Kept>)>() + 3 * 32;

/// How many bytes of a cookie's end its digest reads. A sealed cookie ends with its
/// authentication tag, random to anyone without the key, so these tell cookies
/// apart; a digest that matches is always confirmed by comparing the whole text.
const DIGEST_TAIL: usize = 16;

/// How many shards the cookies are spread over (a power of two).
const SHARDS: usize = 8;

/// Cookies already opened, by the digest of their text.
pub(crate) struct OpenedCookies {
    /// Most bytes every generation of every shard may hold together; 0 keeps nothing.
    budget: usize,
    /// Most bytes one generation of one shard may hold.
    half: usize,
    /// Mixed into every digest, so that which shard and slot a cookie takes cannot
    /// be chosen from outside.
    seed: u64,
    shards: [Mutex<Generations>; SHARDS],
}

#[derive(Default)]
struct Generations {
    young: Map,
    young_bytes: usize,
    old: Map,
}

type Map = HashMap<u64, Arc<Kept>, BuildHasherDefault<DigestHasher>>;

/// One opened cookie: its text, what it opened to, and the bytes counted for it.
struct Kept {
    token: Box<str>,
    opened: Opened,
    bytes: usize,
}

impl OpenedCookies {
    /// A cache holding at most about `budget` bytes (cookie text and session values).
    pub(crate) fn new(budget: usize) -> Self {
        OpenedCookies {
            budget,
            half: budget / SHARDS / 2,
            seed: RandomState::new().hash_one(0x5e55_10f5_u64),
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }

    /// The most bytes it holds.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// What `token` opened to, when it was kept.
    pub(crate) fn get(&self, token: &str) -> Option<Opened> {
        if self.budget == 0 {
            return None;
        }
        let digest = self.digest_of(token);
        let mut evicted = None;
        let found = {
            let mut g = self.shard(digest).lock().ok()?;
            match g.young.get(&digest) {
                Some(kept) if *kept.token == *token => Some(kept.opened.clone()),
                Some(_) => None,
                None => take(&mut g.old, digest, token).map(|kept| {
                    let opened = kept.opened.clone();
                    evicted = g.insert(digest, kept, self.half);
                    opened
                }),
            }
        };
        // A retired generation is freed outside the lock.
        drop(evicted);
        found
    }

    fn shard(&self, digest: u64) -> &Mutex<Generations> {
        // The digest's low bits pick the map's slot; its high bits, the shard.
        &self.shards[(digest >> 58) as usize & (SHARDS - 1)]
    }

    /// Keeps what `token` opens to. Call only with a cookie that authenticated, or
    /// that was just sealed from `opened`.
    pub(crate) fn put(&self, token: &str, opened: Opened) {
        let bytes = token.len() + opened.record.memory_bytes() + OVERHEAD;
        if self.budget == 0 || bytes > self.half {
            return;
        }
        let digest = self.digest_of(token);
        let kept = Arc::new(Kept {
            token: token.into(),
            opened,
            bytes,
        });
        let evicted = match self.shard(digest).lock() {
            Ok(mut g) => g.insert(digest, kept, self.half),
            Err(_) => None,
        };
        drop(evicted);
    }

    /// Forgets `token` (its session was saved under a new cookie, which replaces it).
    pub(crate) fn remove(&self, token: &str) {
        if self.budget == 0 {
            return;
        }
        let digest = self.digest_of(token);
        let removed = match self.shard(digest).lock() {
            Ok(mut g) => g.remove(digest, token),
            Err(_) => None,
        };
        drop(removed);
    }

    /// The bytes counted for what is kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|shard| shard.lock().ok())
            .map(|g| g.young_bytes + g.old.values().map(|k| k.bytes).sum::<usize>())
            .sum()
    }

    fn digest_of(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let tail = bytes
            .get(bytes.len().saturating_sub(DIGEST_TAIL)..)
            .unwrap_or(bytes);
        let mut last = [0u8; DIGEST_TAIL];
        if let Some(slot) = last.get_mut(..tail.len()) {
            slot.copy_from_slice(tail);
        }
        let [a, b] = [&last[..8], &last[8..]]
            .map(|half| u64::from_le_bytes(half.try_into().unwrap_or_default()));
        // A multiply-xorshift mix of the tail, its length and the seed.
        let mut x = a ^ b.rotate_left(29) ^ (bytes.len() as u64) ^ self.seed;
        x = (x ^ (x >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
        x = (x ^ (x >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
        x ^ (x >> 32)
    }
}

impl Generations {
    /// Takes `token` out of either generation.
    fn remove(&mut self, digest: u64, token: &str) -> Option<Arc<Kept>> {
        if let Some(kept) = take(&mut self.young, digest, token) {
            self.young_bytes = self.young_bytes.saturating_sub(kept.bytes);
            return Some(kept);
        }
        take(&mut self.old, digest, token)
    }

    /// Adds `kept` (at most `half` bytes) to the young generation. When it would
    /// pass `half`, the young generation becomes the old one first, and the retired
    /// old generation is returned, to be freed by the caller: neither generation
    /// ever holds more than `half`.
    fn insert(&mut self, digest: u64, kept: Arc<Kept>, half: usize) -> Option<Map> {
        if let Some(replaced) = self.young.remove(&digest) {
            self.young_bytes = self.young_bytes.saturating_sub(replaced.bytes);
        }
        let mut retired = None;
        if self.young_bytes + kept.bytes > half {
            self.young_bytes = 0;
            let young = std::mem::take(&mut self.young);
            retired = Some(std::mem::replace(&mut self.old, young));
        }
        self.young_bytes += kept.bytes;
        self.young.insert(digest, kept);
        retired
    }
}

/// Takes the entry under `digest` out of `map` when it is `token` itself (another
/// cookie with the same digest stays).
fn take(map: &mut Map, digest: u64, token: &str) -> Option<Arc<Kept>> {
    if map.get(&digest).is_some_and(|kept| *kept.token == *token) {
        map.remove(&digest)
    } else {
        None
    }
}

impl std::fmt::Debug for OpenedCookies {
    // Never the sessions themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedCookies")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The map's keys are already keyed digests: hashing them again would add nothing.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{Record, StoredValue};

    fn opened(value: &str) -> Opened {
        let mut record = Record::new(1, 2);
        record.insert("k", StoredValue::persistent(value));
        Opened {
            record,
            touched_ms: 1,
            old_key: false,
        }
    }

    #[test]
    fn a_kept_cookie_comes_back_and_an_unknown_one_does_not() {
        let cache = OpenedCookies::new(1 << 20);
        cache.put("AAAA", opened("1"));
        assert_eq!(cache.get("AAAA"), Some(opened("1")));
        assert_eq!(cache.get("AAAB"), None);
        assert_eq!(cache.get("AAA"), None);
    }

    #[test]
    fn cookies_that_share_their_digested_bytes_are_told_apart_by_the_whole_text() {
        let cache = OpenedCookies::new(1 << 20);
        let tail = "t".repeat(DIGEST_TAIL);
        let a = format!("{}{tail}", "a".repeat(40));
        let b = format!("{}{tail}", "b".repeat(40));
        assert_eq!(cache.digest_of(&a), cache.digest_of(&b));
        cache.put(&a, opened("1"));
        assert_eq!(cache.get(&b), None, "same digest, another cookie");
        cache.put(&b, opened("2"));
        assert_eq!(cache.get(&b), Some(opened("2")));
        assert_eq!(cache.get(&a), None, "the newer one took the slot");
    }

    #[test]
    fn memory_stays_within_the_budget_and_recent_cookies_stay() {
        let budget = 64 * 1024;
        let cache = OpenedCookies::new(budget);
        let value = format!("\"{}\"", "v".repeat(500));
        for i in 0..2_000 {
            let token = format!("{i:0>600}");
            cache.put(&token, opened(&value));
            assert!(cache.bytes() <= budget, "{} bytes kept", cache.bytes());
            // Read after every new one, the first cookie is kept throughout.
            assert!(cache.get(&format!("{:0>600}", 0)).is_some(), "lost at {i}");
        }
        assert!(cache.get(&format!("{:0>600}", 1999)).is_some());
        assert!(
            cache.get(&format!("{:0>600}", 3)).is_none(),
            "evicted long ago"
        );
    }

    #[test]
    fn a_removed_cookie_is_gone_and_its_bytes_with_it() {
        let cache = OpenedCookies::new(1 << 20);
        cache.put("AAAA", opened("1"));
        cache.put("BBBB", opened("2"));
        let both = cache.bytes();
        cache.remove("AAAB");
        assert_eq!(cache.bytes(), both, "another cookie removes nothing");
        cache.remove("AAAA");
        assert_eq!(cache.get("AAAA"), None);
        assert_eq!(cache.get("BBBB"), Some(opened("2")));
        assert!(cache.bytes() < both);
    }

    #[test]
    fn digests_spread_over_every_shard() {
        let cache = OpenedCookies::new(1 << 20);
        let mut per_shard = [0usize; SHARDS];
        let mut digests = std::collections::HashSet::new();
        for i in 0..800 {
            let token = format!("{}{i:0>16x}", "x".repeat(100));
            let digest = cache.digest_of(&token);
            digests.insert(digest);
            per_shard[(digest >> 58) as usize & (SHARDS - 1)] += 1;
        }
        assert_eq!(digests.len(), 800);
        assert!(per_shard.iter().all(|&n| n > 50), "{per_shard:?}");
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = OpenedCookies::new(0);
        cache.put("AAAA", opened("1"));
        assert_eq!(cache.get("AAAA"), None);
    }
}
