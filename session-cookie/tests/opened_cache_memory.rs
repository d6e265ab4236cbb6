//! The opened-cookie cache holds no more memory than its byte budget, counted from
//! the process's heap (dhat), also for sessions of many tiny values, whose
//! bookkeeping outweighs their text.
//!
//! One test in this file: it counts the process's heap, which works for one test at
//! a time.

use session_cookie::{CookieStore, Key, Keyring};
use session_core::{now_ms, Record, SessionStore, StoredValue};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A session of 300 one-digit values: about 2 KB of text, several times that in
/// memory.
fn many_tiny_values(i: usize) -> Record {
    let now = now_ms();
    let mut record = Record::new(now, now + 3_600_000);
    for k in 0..300 {
        record.insert(&format!("k{k:03}"), StoredValue::persistent("1"));
    }
    record.insert("n", StoredValue::persistent(i.to_string()));
    record
}

#[test]
fn sessions_of_many_tiny_values_stay_within_the_budget() -> Result<(), session_core::Error> {
    const BUDGET: usize = 1 << 20;
    let store = CookieStore::new(Keyring::new(Key::from_bytes([3; 32]), []))
        .with_opened_cache_bytes(BUDGET);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| session_core::Error::Unavailable {
            store: "tokio runtime",
            source: Box::new(e),
        })?;
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    // Every sealed cookie is kept (with the only copy of its record), until the
    // budget makes room.
    for i in 0..600 {
        runtime.block_on(store.create(&many_tiny_values(i)))?;
    }
    let held = dhat::HeapStats::get().curr_bytes.saturating_sub(before);
    // The budget, and a little for what the store keeps besides the cache (its
    // scratch buffer, the runtime's bookkeeping).
    let bound = BUDGET + BUDGET / 4;
    assert!(
        held <= bound,
        "the opened-cookie cache of {BUDGET} bytes holds {held} bytes of heap"
    );
    Ok(())
}
