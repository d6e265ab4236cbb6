//! The near-cache's rules, one test each.

use super::*;
use session_core::StoredValue;

/// A cache of `budget` bytes whose channel is proven alive for good.
fn alive(budget: usize) -> Arc<NearCache> {
    let cache = NearCache::new(budget);
    cache.proven(u64::MAX);
    cache
}

fn record(v: &str) -> Record {
    let mut r = Record::new(1, 2);
    r.insert("k", StoredValue::persistent(v));
    r
}

#[test]
fn a_fill_is_served_until_invalidated() {
    let cache = alive(1 << 20);
    let t = cache.ticket();
    cache.fill(b"a", t, &record("1"), 7, 100);
    assert_eq!(cache.get(b"a", 150, 1000), Some((record("1"), 7)));
    cache.invalidate(b"a");
    assert_eq!(cache.get(b"a", 150, 1000), None);
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().misses, 1);
}

#[test]
fn a_read_that_raced_an_invalidation_is_not_kept() {
    let cache = alive(1 << 20);
    let t = cache.ticket();
    cache.invalidate(b"a"); // a write landed while the read was in flight
    cache.fill(b"a", t, &record("old"), 1, 100);
    assert_eq!(cache.get(b"a", 100, 1000), None);
    // A refused fill also drops what another read put there meanwhile.
    cache.fill(b"a", cache.ticket(), &record("new"), 3, 100);
    cache.fill(b"a", t, &record("old"), 1, 100);
    assert_eq!(cache.get(b"a", 100, 1000), None);
    // Other keys' invalidations do not stop a fill.
    let t = cache.ticket();
    cache.invalidate(b"b");
    cache.fill(b"a", t, &record("new"), 2, 100);
    assert_eq!(cache.get(b"a", 100, 1000).map(|(_, m)| m), Some(2));
}

#[test]
fn a_write_takes_the_entry_and_puts_its_result_back() {
    let cache = alive(1 << 20);
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 40);
    assert_eq!(cache.take(b"a"), Some(40));
    let t = cache.ticket();
    cache.fill(b"a", t, &record("2"), 2, 40);
    assert_eq!(cache.get(b"a", 50, 1000), Some((record("2"), 2)));
}

#[test]
fn a_flush_empties_and_refuses_reads_in_flight() {
    let cache = alive(1 << 20);
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 100);
    let t = cache.ticket();
    cache.flush();
    cache.fill(b"b", t, &record("1"), 1, 100);
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn an_entry_due_for_a_refresh_is_a_miss() {
    let cache = alive(1 << 20);
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 100);
    assert!(cache.get(b"a", 100 + 999, 1000).is_some());
    assert!(cache.get(b"a", 100 + 1000, 1000).is_none());
}

#[test]
fn the_entries_weigh_at_most_the_budget_and_a_huge_one_is_not_kept() {
    let budget = 256 << 10;
    let cache = alive(budget);
    let value = format!("\"{}\"", "v".repeat(2000));
    for i in 0..1000u32 {
        cache.fill(&i.to_be_bytes(), cache.ticket(), &record(&value), 1, 100);
        let stats = cache.stats();
        assert!(stats.bytes <= budget, "{} bytes held", stats.bytes);
    }
    let stats = cache.stats();
    assert!(
        stats.entries > 50,
        "the budget holds {} entries",
        stats.entries
    );
    assert!(
        cache.get(&999u32.to_be_bytes(), 100, 1000).is_some(),
        "the newest stays"
    );
    // A session heavier than a 64th of the budget is not kept.
    let huge = format!("\"{}\"", "h".repeat(budget / 64));
    cache.fill(b"huge", cache.ticket(), &record(&huge), 1, 100);
    assert!(cache.get(b"huge", 100, 1000).is_none());
    // Many tiny values weigh their bookkeeping, not only their text.
    let mut tiny = Record::new(1, 2);
    for k in 0..400 {
        tiny.insert(&format!("k{k}"), StoredValue::persistent("1"));
    }
    assert!(tiny.memory_bytes() > 400 * 40, "{}", tiny.memory_bytes());
}

#[test]
fn nothing_is_served_unless_the_channel_is_proven_alive() {
    let cache = NearCache::new(1 << 20);
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 100);
    assert!(cache.get(b"a", 100, 1000).is_none(), "not proven yet");
    cache.proven(1_000);
    assert!(cache.get(b"a", 999, 1000).is_some());
    assert!(cache.get(b"a", 1_000, 1000).is_none(), "past the proof");
    cache.proven(5_000);
    assert!(cache.get(b"a", 1_000, 2000).is_some());
    // A flush ends the proof: a new connection has to be proven.
    cache.flush();
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 1_000);
    assert!(cache.get(b"a", 1_001, 1000).is_none());
}

/// This process writes `key`: the write is followed, and its result kept.
fn write(cache: &NearCache, key: &[u8]) -> u64 {
    cache.writing(key).1
}

#[test]
fn an_own_write_is_served_at_once_and_checked_once_announced() {
    let cache = alive(1 << 20);
    let t = write(&cache, b"a");
    cache.written(b"a", t, &record("2"), 9, 100);
    assert!(cache.get(b"a", 100, 1000).is_some(), "served at once");
    cache.announced(b"a");
    assert!(
        cache.get(b"a", 100, 1000).is_some(),
        "and while its check is out"
    );
    let (checks, ticket) = cache.checks_to_send();
    assert_eq!(checks, vec![(b"a".to_vec().into_boxed_slice(), 9)]);
    cache.checked(b"a", ticket, Some(9));
    assert_eq!(cache.get(b"a", 100, 1000), Some((record("2"), 9)));
    // Served from now on, until an announcement.
    cache.announced(b"a");
    assert!(cache.get(b"a", 100, 1000).is_none());
}

#[test]
fn an_announcement_before_the_answer_counts_as_the_own_one() {
    let cache = alive(1 << 20);
    let t = write(&cache, b"a");
    cache.announced(b"a"); // processed before the write's answer was handled
    cache.written(b"a", t, &record("2"), 9, 100);
    let (checks, ticket) = cache.checks_to_send();
    assert_eq!(checks.len(), 1);
    cache.checked(b"a", ticket, Some(9));
    assert!(cache.get(b"a", 100, 1000).is_some());
    // Two announcements during the write: another server wrote too; not kept.
    let t = write(&cache, b"b");
    cache.announced(b"b");
    cache.announced(b"b");
    cache.written(b"b", t, &record("2"), 9, 100);
    assert!(cache.checks_to_send().0.is_empty());
    assert!(cache.get(b"b", 100, 1000).is_none());
}

#[test]
fn a_check_that_finds_another_mark_or_races_an_announcement_drops_the_entry() {
    let cache = alive(1 << 20);
    let t = write(&cache, b"a");
    cache.written(b"a", t, &record("2"), 9, 100);
    cache.announced(b"a");
    let (_, ticket) = cache.checks_to_send();
    cache.checked(b"a", ticket, Some(10)); // someone appended meanwhile
    assert!(cache.get(b"a", 100, 1000).is_none());
    assert_eq!(cache.stats().entries, 0);

    let t = write(&cache, b"b");
    cache.written(b"b", t, &record("2"), 9, 100);
    cache.announced(b"b");
    let (_, ticket) = cache.checks_to_send();
    cache.announced(b"b"); // a change announced while the check was out
    cache.checked(b"b", ticket, Some(9));
    assert!(cache.get(b"b", 100, 1000).is_none());

    // A flush while the write is out: nothing is kept.
    let t = write(&cache, b"c");
    cache.flush();
    cache.proven(u64::MAX);
    cache.written(b"c", t, &record("2"), 9, 100);
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn followed_writes_and_waiting_checks_are_bounded() {
    let cache = alive(64 << 20);
    for i in 0..(2 * MAX_FOLLOWED as u32) {
        let key = i.to_be_bytes();
        let t = write(&cache, &key);
        cache.announced(&key);
        cache.written(&key, t, &record("1"), 1, 100);
    }
    assert!(cache.inner().writing.len() <= MAX_FOLLOWED);
    assert!(cache.inner().to_check.len() <= MAX_FOLLOWED);
}

#[test]
fn one_heartbeat_runs_and_a_stopped_one_is_started_again() {
    let cache = NearCache::new(1 << 20);
    assert!(
        cache.heartbeat_due(10_000, 3_000),
        "the first is due at once"
    );
    assert!(!cache.heartbeat_due(10_000, 3_000));
    cache.beat(12_000);
    assert!(!cache.heartbeat_due(14_999, 3_000));
    assert!(
        cache.heartbeat_due(15_000, 3_000),
        "no beat for 3 s: start another"
    );
}

#[test]
fn pushes_invalidate_keys_or_flush() {
    let cache = alive(1 << 20);
    for key in [b"a", b"b", b"c"] {
        cache.fill(key, cache.ticket(), &record("1"), 1, 100);
    }
    let push = |kind, data| Invalidations(cache.clone()).send(PushInfo { kind, data });
    let _ = push(
        PushKind::Invalidate,
        vec![Value::Array(vec![Value::BulkString(b"a".to_vec())])],
    );
    assert_eq!(cache.stats().entries, 2);
    let _ = push(PushKind::Disconnection, vec![]);
    assert_eq!(cache.stats().entries, 0);
    cache.fill(b"a", cache.ticket(), &record("1"), 1, 100);
    let _ = push(PushKind::Invalidate, vec![Value::Nil]);
    assert_eq!(cache.stats().entries, 0);
}
