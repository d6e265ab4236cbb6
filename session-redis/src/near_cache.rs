//! The near-cache: hot sessions kept decoded in this process, so a read of one costs
//! no round trip. Redis tells every app server when a session changes
//! (server-assisted client-side caching: RESP3 `CLIENT TRACKING` in broadcast mode
//! for the namespace's prefix), so an entry is dropped as soon as another server
//! writes, destroys or regenerates that session.
//!
//! Correctness rests on three rules:
//!
//! - **Tickets.** A read takes a ticket (the invalidation count) before it asks
//!   Redis, and its answer is kept only if no invalidation of that key (and no flush)
//!   came after the ticket: an answer that raced a write is never cached.
//! - **Local writes** invalidate before they are sent (Redis does not echo this
//!   connection's own writes back: `NOLOOP`) and, when answered, either put the
//!   session as written back (an append onto exactly the session as loaded, under a
//!   ticket taken after that invalidation) or invalidate again.
//! - **Flushes.** A lost connection, a replaced one, or a `FLUSHALL` empties the
//!   cache: invalidations may have been missed.
//! - **A channel proven alive.** An entry is served only while the connection that
//!   carries the invalidations is proven alive: a heartbeat (`PING`) goes over it
//!   every interval, and each answer proves that every invalidation Redis sent before
//!   the ping was sent has arrived. An answer to a ping sent at `t` lets entries be
//!   served until `t + interval + response timeout`; a ping that fails or goes
//!   unanswered empties the cache (and the store replaces the connection). So a
//!   change made through another app server is never served from here later than
//!   *interval + response timeout* after it, even while this connection is
//!   half-open (silent, with no error to notice).
//!
//! - **This process's own writes, verified.** Redis 7.0 announces a script's writes
//!   to the very connection that ran it (`NOLOOP` does not apply to scripts), and the
//!   common save is a script. Such an announcement may also stand for another app
//!   server's write of the same key in the same moment (Redis announces a key once
//!   per event-loop turn). So the session as this process wrote it is kept and
//!   served, and when that announcement arrives, a small check (the stored revision
//!   and length) goes out on the same connection: the entry stays only if the check
//!   finds exactly what was written and no other announcement of the key came while
//!   it was out. The check runs after the write's turn of the event loop, so it sees
//!   any write that shared the announcement; any later write is announced after the
//!   check's answer, as usual. Any later announcement of the key drops the entry
//!   at once. A write by another server that shared this process's announcement is
//!   thus served for at most the 5 ms the checks gather (one pipeline checks the
//!   writes of many requests) and one round trip (within the response timeout, or
//!   the check's failure drops the entry), well inside the staleness bound.
//!
//! Memory is bounded in bytes: each entry weighs its key, its record
//! ([`Record::memory_bytes`]) and its own bookkeeping; a full cache drops entries
//! until the new one fits, and a session heavier than a 64th of the budget is not
//! kept at all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use redis::aio::{AsyncPushSender, SendError};
use redis::{PushInfo, PushKind, Value};
use session_core::Record;

/// Slots of the invalidation record (keys hash into them; a collision only costs
/// a skipped fill).
const SLOTS: usize = 4096;

/// A cached session: the record as loaded, its stored mark, when its idle deadline
/// was last refreshed in Redis, the bytes it is counted for, and whether it is served.
struct Entry {
    record: Record,
    mark: u64,
    refreshed_ms: u64,
    weight: usize,
    standing: Standing,
}

/// What an entry waits for (see the module docs on this process's own writes).
/// Every entry is served; one of this process's writes is dropped by a check that
/// does not confirm it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Dropped by the next announcement of its key.
    Served,
    /// Written by this process; Redis' announcement of that write is still to come
    /// (it starts the check).
    AwaitingAnnouncement,
    /// The announcement came; a check is queued or out, sent at the given ticket.
    Checking(Option<u64>),
}

/// A check to send: the key, and the mark it must find stored.
pub(crate) type Check = (Box<[u8]>, u64);

/// At most this many of this process's writes are followed at once, and at most
/// this many checks wait: past it, a written session is simply not kept.
const MAX_FOLLOWED: usize = 1024;

/// Bytes counted for an entry besides its key and its record: its slot in the map
/// and the key's allocation.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<(Box<[u8]>, Entry)>() + 32;

/// An entry heavier than this share of the budget is not kept: one huge session
/// would push out many ordinary ones.
const LARGEST_SHARE: usize = 64;

struct Inner {
    entries: HashMap<Box<[u8]>, Entry>,
    /// This process's writes in flight, by key: how many announcements of the key
    /// arrived since the write was sent (at most [`MAX_FOLLOWED`] keys).
    writing: HashMap<Box<[u8]>, u32>,
    /// Keys whose check is to be sent (at most [`MAX_FOLLOWED`]).
    to_check: Vec<Box<[u8]>>,
    /// The weights of `entries`, summed.
    bytes: usize,
    /// Invalidations so far (the ticket counter).
    seq: u64,
    /// The `seq` of the last invalidation per slot.
    stamps: Box<[u64]>,
    /// The `seq` of the last flush.
    flushed: u64,
    /// The `flushed` for which tracking was turned on (a flush means a new
    /// connection, which is not tracked yet).
    tracking_on: Option<u64>,
}

/// Hot sessions, by Redis key.
pub(crate) struct NearCache {
    inner: Mutex<Inner>,
    /// The most bytes the entries weigh together.
    budget: usize,
    /// Entries are served while the clock is before this (unix ms): the invalidation
    /// channel was last proven alive by a heartbeat or by turning tracking on.
    alive_until_ms: AtomicU64,
    /// When the heartbeat last ran (unix ms), to start another if it stopped.
    beat_ms: AtomicU64,
    /// Wakes the heartbeat's task when checks are waiting.
    checks_wanted: tokio::sync::Notify,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How much of the cache is used: hits and misses so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NearCacheStats {
    /// Loads served from the cache.
    pub hits: u64,
    /// Loads that went to Redis.
    pub misses: u64,
    /// Sessions held now.
    pub entries: usize,
    /// Bytes the sessions held now are counted for (at most the budget).
    pub bytes: usize,
}

fn slot(key: &[u8]) -> usize {
    // FNV-1a: cheap, and keys are digests already.
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash as usize) % SLOTS
}

impl NearCache {
    /// A cache whose entries weigh at most `budget` bytes together.
    pub(crate) fn new(budget: usize) -> Arc<Self> {
        Arc::new(NearCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                writing: HashMap::new(),
                to_check: Vec::new(),
                bytes: 0,
                seq: 0,
                stamps: vec![0; SLOTS].into_boxed_slice(),
                flushed: 0,
                tracking_on: None,
            }),
            budget,
            alive_until_ms: AtomicU64::new(0),
            beat_ms: AtomicU64::new(0),
            checks_wanted: tokio::sync::Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached session under `key` and its mark, unless its idle deadline is due
    /// for a refresh (`refresh_every` ms after the last one): that read goes to Redis.
    /// Nothing is served while the invalidation channel is not proven alive.
    pub(crate) fn get(&self, key: &[u8], now_ms: u64, refresh_every: u64) -> Option<(Record, u64)> {
        let alive = now_ms < self.alive_until_ms.load(Ordering::Acquire);
        let found = alive
            .then(|| {
                self.inner()
                    .entries
                    .get(key)
                    .filter(|e| now_ms.saturating_sub(e.refreshed_ms) < refresh_every)
                    .map(|e| (e.record.clone(), e.mark))
            })
            .flatten();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// `Some(epoch)` when the connection's tracking is to be turned on first (a new
    /// connection since the last time); then [`tracking_on`](Self::tracking_on).
    pub(crate) fn needs_tracking(&self) -> Option<u64> {
        let inner = self.inner();
        (inner.tracking_on != Some(inner.flushed)).then_some(inner.flushed)
    }

    /// Tracking is on for the connection of `epoch`.
    pub(crate) fn tracking_on(&self, epoch: u64) {
        self.inner().tracking_on = Some(epoch);
    }

    /// The invalidation channel answered a ping (or a command) sent at `sent_ms`:
    /// everything Redis sent on it before then has arrived, and entries may be
    /// served until `until_ms` (the next heartbeat is due before then).
    pub(crate) fn proven(&self, until_ms: u64) {
        self.alive_until_ms.fetch_max(until_ms, Ordering::AcqRel);
    }

    /// True for one caller when no heartbeat has run for `stale_ms` (none was
    /// started yet, or the runtime that ran it ended): that caller starts one.
    pub(crate) fn heartbeat_due(&self, now_ms: u64, stale_ms: u64) -> bool {
        claim(&self.beat_ms, now_ms, stale_ms)
    }

    /// The heartbeat ran at `now_ms`.
    pub(crate) fn beat(&self, now_ms: u64) {
        self.beat_ms.store(now_ms, Ordering::Relaxed);
    }

    /// A ticket for a read about to go to Redis.
    pub(crate) fn ticket(&self) -> u64 {
        self.inner().seq
    }

    /// Keeps what a read with `ticket` got, unless `key` was invalidated (or the
    /// cache flushed) since. `refreshed_ms`: when its idle deadline was last set.
    pub(crate) fn fill(
        &self,
        key: &[u8],
        ticket: u64,
        record: &Record,
        mark: u64,
        refreshed_ms: u64,
    ) {
        let mut inner = self.inner();
        let refused = inner.flushed > ticket || inner.stamps[slot(key)] > ticket;
        inner.remove(key);
        if !refused {
            let entry = (record, mark, refreshed_ms, Standing::Served);
            self.insert(&mut inner, key, entry);
        }
    }

    /// Puts an entry in, making room for it (entries are dropped, whichever the map
    /// holds first, until it fits); one heavier than a share of the budget is not kept.
    fn insert(
        &self,
        inner: &mut Inner,
        key: &[u8],
        (record, mark, refreshed_ms, standing): (&Record, u64, u64, Standing),
    ) -> bool {
        let weight = key.len() + record.memory_bytes() + ENTRY_OVERHEAD;
        if weight > self.budget / LARGEST_SHARE {
            return false;
        }
        while inner.bytes + weight > self.budget {
            let Some(victim) = inner.entries.keys().next().cloned() else {
                break;
            };
            inner.remove(&victim);
        }
        let entry = Entry {
            record: record.clone(),
            mark,
            refreshed_ms,
            weight,
            standing,
        };
        inner.bytes += weight;
        inner.entries.insert(key.into(), entry);
        true
    }

    /// This process is about to send a write of `key` whose result it may keep
    /// ([`written`](Self::written)), in one step: drops the entry (as
    /// [`take`](Self::take), whose answer it returns), takes the ticket the result
    /// is kept under, and counts announcements of the key from now.
    pub(crate) fn writing(&self, key: &[u8]) -> (Option<u64>, u64) {
        let mut inner = self.inner();
        let refreshed = inner.take(key);
        if inner.writing.len() < MAX_FOLLOWED {
            inner.writing.insert(key.into(), 0);
        }
        (refreshed, inner.seq)
    }

    /// Keeps the session as this process's write under `ticket` left it (`mark`),
    /// served at once and checked once Redis' announcement of the write has come: a
    /// check that does not find it stored as written drops it. Not kept when the
    /// write was not followed ([`writing`](Self::writing)), the cache was flushed
    /// since, or two announcements came already.
    pub(crate) fn written(
        &self,
        key: &[u8],
        ticket: u64,
        record: &Record,
        mark: u64,
        refreshed_ms: u64,
    ) {
        let mut inner = self.inner();
        inner.remove(key);
        let announced = inner.writing.remove(key);
        let standing = match announced {
            _ if inner.flushed > ticket => return,
            Some(0) => Standing::AwaitingAnnouncement,
            Some(1) if inner.to_check.len() < MAX_FOLLOWED => Standing::Checking(None),
            _ => return,
        };
        let entry = (record, mark, refreshed_ms, standing);
        if self.insert(&mut inner, key, entry) && standing != Standing::AwaitingAnnouncement {
            inner.to_check.push(key.into());
            drop(inner);
            self.checks_wanted.notify_one();
        }
    }

    /// An announcement from Redis that `key` changed: another app server's write,
    /// or this process's own (see the module docs). Drops the entry, except one
    /// awaiting the announcement of its own write, which is checked now.
    pub(crate) fn announced(&self, key: &[u8]) {
        let mut inner = self.inner();
        inner.seq += 1;
        let seq = inner.seq;
        inner.stamps[slot(key)] = seq;
        if let Some(count) = inner.writing.get_mut(key) {
            *count += 1;
        }
        let room = inner.to_check.len() < MAX_FOLLOWED;
        match inner.entries.get_mut(key).map(|e| &mut e.standing) {
            Some(standing @ Standing::AwaitingAnnouncement) if room => {
                *standing = Standing::Checking(None);
                inner.to_check.push(key.into());
                drop(inner);
                self.checks_wanted.notify_one();
            }
            // Any other announcement, a checked entry's included: its own
            // announcement came already, so this is another write.
            _ => {
                inner.remove(key);
            }
        }
    }

    /// Waits until checks are wanted.
    pub(crate) async fn checks_wanted(&self) {
        self.checks_wanted.notified().await;
    }

    /// The keys whose checks are to be sent now, each with the mark it must find,
    /// and the ticket they are sent under.
    pub(crate) fn checks_to_send(&self) -> (Vec<Check>, u64) {
        let mut inner = self.inner();
        let ticket = inner.seq;
        let keys = std::mem::take(&mut inner.to_check);
        let mut checks = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(entry) = inner.entries.get_mut(&key) {
                if entry.standing == Standing::Checking(None) {
                    entry.standing = Standing::Checking(Some(ticket));
                    checks.push((key, entry.mark));
                }
            }
        }
        (checks, ticket)
    }

    /// The answer to the check of `key` sent under `ticket`: the entry is served
    /// when the stored mark is the one it holds and nothing announced a change of
    /// its slot (and nothing flushed the cache) since the check was sent; else it
    /// is dropped.
    pub(crate) fn checked(&self, key: &[u8], ticket: u64, found: Option<u64>) {
        let mut inner = self.inner();
        let quiet = inner.flushed <= ticket && inner.stamps[slot(key)] <= ticket;
        match inner.entries.get_mut(key) {
            Some(entry)
                if quiet
                    && entry.standing == Standing::Checking(Some(ticket))
                    && found == Some(entry.mark) =>
            {
                entry.standing = Standing::Served;
            }
            Some(entry) if entry.standing == Standing::Checking(Some(ticket)) => {
                inner.remove(key);
            }
            _ => {}
        }
    }

    /// Drops `key`: it changed (here or on another server).
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.take(key);
    }

    /// Drops `key` before this process writes it; returns when the dropped entry's
    /// idle deadline was set, for the write to put the result back
    /// ([`fill`](Self::fill), with a ticket taken after this).
    pub(crate) fn take(&self, key: &[u8]) -> Option<u64> {
        self.inner().take(key)
    }

    /// Drops everything: invalidations may have been lost. Nothing is served again
    /// until the channel is proven alive anew.
    pub(crate) fn flush(&self) {
        let mut inner = self.inner();
        inner.seq += 1;
        inner.flushed = inner.seq;
        inner.entries.clear();
        inner.writing.clear();
        inner.to_check.clear();
        inner.bytes = 0;
        self.alive_until_ms.store(0, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> NearCacheStats {
        let inner = self.inner();
        NearCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: inner.entries.len(),
            bytes: inner.bytes,
        }
    }
}

impl Inner {
    /// [`NearCache::take`], under the lock.
    fn take(&mut self, key: &[u8]) -> Option<u64> {
        self.seq += 1;
        let seq = self.seq;
        self.stamps[slot(key)] = seq;
        self.writing.remove(key);
        self.remove(key).map(|e| e.refreshed_ms)
    }

    /// Removes `key`'s entry and its weight.
    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes = self.bytes.saturating_sub(entry.weight);
        Some(entry)
    }
}

/// True for the one caller that moves `stamp` to `now_ms`, once `every` ms have
/// passed since it was last moved.
fn claim(stamp: &AtomicU64, now_ms: u64, every: u64) -> bool {
    let last = stamp.load(Ordering::Relaxed);
    now_ms.saturating_sub(last) >= every
        && stamp
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Receives the connection's push messages: invalidations, and the client's own
/// notice that the connection was lost. Runs on the connection's reader, before any
/// reply that follows the push is handed out.
pub(crate) struct Invalidations(pub(crate) Arc<NearCache>);

impl AsyncPushSender for Invalidations {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match info.kind {
            PushKind::Invalidate => match info.data.first() {
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Value::BulkString(key) = key {
                            self.0.announced(key);
                        }
                    }
                }
                // FLUSHALL / FLUSHDB: a null instead of keys.
                _ => self.0.flush(),
            },
            PushKind::Disconnection => self.0.flush(),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
