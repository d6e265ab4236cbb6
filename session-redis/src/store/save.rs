//! The save protocol: a request's change appended under the size cap in one atomic
//! step, a session written whole to compact it, a new session, a replaced one.

use super::*;

impl RedisStore {
    /// Appends `change` to the session under `key` if the result fits the cap, in one
    /// atomic step ([`scripts::append`]).
    pub(super) async fn append(
        &self,
        key: RedisKey<'_>,
        change: &[u8],
    ) -> Result<Appended, session_core::Error> {
        let mut cmd = evalsha(&self.append, &[key], 2, change.len() + 16);
        cmd.arg(change).arg(self.max_session_bytes);
        match self.run_script(&self.append, &cmd).await? {
            Value::Int(len) if len > 0 => {
                Ok(usize::try_from(len).map_or(Appended::Full, Appended::Len))
            }
            Value::Int(-1) => Ok(Appended::Full),
            Value::Int(-2) => {
                warn_not_a_session(key);
                Ok(Appended::Gone)
            }
            _ => Ok(Appended::Gone),
        }
    }

    pub(super) async fn del(&self, key: RedisKey<'_>) -> Result<(), session_core::Error> {
        let mut cmd = Cmd::with_capacity(2, key.len() + 3);
        cmd.arg("DEL").arg(key);
        self.query(&cmd).await.map(drop)
    }
}

/// An `EVALSHA` of `script` on `keys`, with room for `args` more arguments of about
/// `bytes` bytes in all; the caller adds the arguments. One buffer for the whole
/// command, where a `ScriptInvocation` copies every argument twice.
pub(super) fn evalsha(script: &Script, keys: &[RedisKey<'_>], args: usize, bytes: usize) -> Cmd {
    let size = 64 + bytes + keys.iter().map(|k| k.len()).sum::<usize>();
    let mut cmd = Cmd::with_capacity(3 + keys.len() + args, size);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

/// The keys of a save script: the session's, then the one it replaces, if any (in
/// the same call); the script gets the first `n`.
pub(super) fn save_keys<'a>(
    key: RedisKey<'a>,
    replaces: Option<RedisKey<'a>>,
) -> ([RedisKey<'a>; 2], usize) {
    (
        [key, replaces.unwrap_or(key)],
        1 + usize::from(replaces.is_some()),
    )
}

/// A revision for the next save: a per-process random start plus a counter, so every
/// save writes a revision no other save wrote (it marks a change, it is no secret).
pub(super) fn next_revision() -> u32 {
    static START: OnceLock<u32> = OnceLock::new();
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
    start.wrapping_add(COUNT.fetch_add(1, Ordering::Relaxed))
}

impl RedisStore {
    /// [`MergeStore::merge`] into the session under `key`; with what is stored now
    /// when the change was appended natively onto exactly the session as loaded.
    pub(super) async fn merge_at(
        &self,
        key: RedisKey<'_>,
        change: &Change<'_>,
        seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<(bool, Option<format::Loaded>), session_core::Error> {
        let encoded = format::encode_change(change);
        let loaded = seen.map(|s| (format::Loaded::of(s.mark), s.record));
        if let Some((l, whole)) = loaded {
            let whole_len = format::encoded_len(whole);
            self.within_cap(whole_len)?;
            let fits = l.len as usize + encoded.len() <= self.max_session_bytes;
            // The common save: the request loaded the session, so it is live and its
            // deadline fresh; its change is appended, natively.
            if fits && !format::worth_compacting(l.len as usize, whole_len) {
                match self.append(key, &encoded).await? {
                    Appended::Len(len) => {
                        // Exactly this change's length more than loaded: nobody else wrote.
                        let unchanged = (len == l.len as usize + encoded.len())
                            .then(|| u32::try_from(len).ok())
                            .flatten()
                            .map(|len| format::Loaded { len, ..l });
                        return Ok((true, unchanged));
                    }
                    Appended::Gone => return Ok((false, None)),
                    // Others wrote meanwhile and the change no longer fits on top:
                    // the script below compacts first, or refuses.
                    Appended::Full => {}
                }
            }
        }
        let now = now_ms();
        // Otherwise one script: write the session whole (compacting the appended
        // changes) unless another save did since the load, else append the change.
        let whole = loaded.and_then(|(l, whole)| {
            let deadline = expiry.deadline(whole.created_ms, now);
            (deadline > now).then(|| {
                let value = format::encode(&snapshot_of(whole, change), next_revision());
                (l, value, deadline)
            })
        });
        // A change that only removes keys may leave the session empty: look.
        let removes_only =
            !change.edits.is_empty() && change.edits.iter().all(|(_, edit)| *edit == Edit::Remove);
        let update = Update {
            key,
            loaded: whole.as_ref().map(|(l, _, _)| *l),
            whole: whole.as_ref().map(|(_, v, _)| &v[..]),
            deadline: whole.as_ref().map_or(0, |(_, _, d)| *d),
            change: &encoded,
            flags: if removes_only { "v" } else { "" },
        };
        for _ in 0..3 {
            let outcome = match self.update(&update, expiry).await? {
                Updated::Saved => Saved::Kept,
                Updated::Gone => Saved::Gone,
                Updated::HeadMoved => continue,
                Updated::Appended(value) => self.compact(key, value, None, expiry).await?,
                Updated::Full(value) => {
                    match self.compact(key, value, Some(&encoded), expiry).await? {
                        Saved::Moved => continue,
                        other => other,
                    }
                }
            };
            // Emptied or gone: the caller sends a removal (or starts afresh).
            return Ok((!matches!(outcome, Saved::Gone), None));
        }
        Err(session_core::Error::Unavailable {
            store: "redis",
            source: "the session kept changing under three attempts to save it".into(),
        })
    }
}

/// What [`RedisStore::append`] did.
pub(super) enum Appended {
    /// Appended; the stored length now.
    Len(usize),
    /// No session there (destroyed or expired since the load): nothing written.
    Gone,
    /// It would pass the cap: nothing written.
    Full,
}

/// One `update` call of the save script (see [`scripts::save`]).
pub(super) struct Update<'a> {
    pub(super) key: RedisKey<'a>,
    /// The stored revision and length to compact over, with `whole`.
    pub(super) loaded: Option<format::Loaded>,
    pub(super) whole: Option<&'a [u8]>,
    pub(super) deadline: u64,
    pub(super) change: &'a [u8],
    pub(super) flags: &'static str,
}

/// What an `update` call did.
pub(super) enum Updated {
    Saved,
    Gone,
    /// Strict only: the session was written whole by another request since.
    HeadMoved,
    /// The change was appended; here is the stored value, to look at.
    Appended(Vec<u8>),
    /// Appending would pass the cap; nothing was written; here is the stored value.
    Full(Vec<u8>),
}

/// How a save ended.
pub(super) enum Saved {
    /// The session holds the request's change.
    Kept,
    /// The session is gone, or this save left it empty and removed it.
    Gone,
    /// A compaction found the session written whole by another request meanwhile.
    Moved,
}

/// The whole session to compact under this request's change: the record it leaves,
/// except that each counter it incremented holds the value it loaded, since the change
/// that follows the snapshot (and the changes of others in between) adds the amounts.
pub(super) fn snapshot_of<'a>(
    record: &'a Record,
    change: &Change<'_>,
) -> std::borrow::Cow<'a, Record> {
    let mut adds = change.edits.iter().filter_map(|&(key, edit)| match edit {
        Edit::Add { by, .. } => Some((key, by)),
        _ => None,
    });
    let Some(first) = adds.next() else {
        return std::borrow::Cow::Borrowed(record);
    };
    let mut snapshot = record.clone();
    for (key, by) in std::iter::once(first).chain(adds) {
        let rolled_back = snapshot.get(key).map(|value| {
            value.json().parse::<i64>().ok().map(|seen| {
                let json = seen.saturating_sub(by).to_string();
                session_core::StoredValue::new(json, value.is_flash())
            })
        });
        match rolled_back {
            Some(Some(value)) => {
                snapshot.insert(key, value);
            }
            Some(None) => {
                snapshot.remove(key);
            }
            None => {}
        }
    }
    std::borrow::Cow::Owned(snapshot)
}

impl RedisStore {
    /// `TooLarge` when a session of `size` stored bytes passes the cap.
    pub(super) fn within_cap(&self, size: usize) -> Result<(), session_core::Error> {
        if size > self.max_session_bytes {
            return Err(session_core::Error::TooLarge {
                size,
                limit: self.max_session_bytes,
            });
        }
        Ok(())
    }

    /// A new session (and, with `replaces`, the end of the old one).
    /// `carried` is the change to apply over what `replaces` holds (`regenerate`);
    /// without it, nothing of the replaced session comes along (`invalidate`).
    pub(super) async fn create_session(
        &self,
        record: &Record,
        replaces: Option<&str>,
        carried: Option<Vec<u8>>,
    ) -> Result<String, session_core::Error> {
        let value = format::encode(record, next_revision());
        self.within_cap(value.len())?;
        let deadline = record.expires_ms.max(1);
        let replaced_id = replaces.and_then(SessionId::parse);
        let mut replaced = replaced_id.as_ref().map(|id| self.redis_key(id));
        let mut value = value;
        // Cluster: the old key lives in another slot, so it cannot be in the script.
        // It is taken and deleted at once (GETDEL): writes after that find no session
        // and start afresh; writes before it come along.
        if self.is_cluster() {
            if let Some(old) = replaced.take() {
                let mut cmd = Cmd::with_capacity(2, old.len() + 8);
                cmd.arg("GETDEL").arg(old);
                if let (Value::BulkString(mut raw), Some(change)) =
                    (self.query(&cmd).await?, &carried)
                {
                    if format::is_session(&raw)
                        && raw.len() + change.len() <= self.max_session_bytes
                    {
                        raw.extend_from_slice(change);
                        value = raw;
                    }
                }
            }
        }
        let carry = if replaced.is_some() {
            carried.as_deref().unwrap_or_default()
        } else {
            &[]
        };
        // A fresh id collides with a live session with probability 2^-256; the
        // script refuses to overwrite, and we draw again.
        for _ in 0..3 {
            let id = SessionId::generate()?;
            let (keys, n) = save_keys(self.redis_key(&id), replaced);
            let mut cmd = evalsha(&self.save, &keys[..n], 5, value.len() + carry.len() + 40);
            cmd.arg("new")
                .arg(&value)
                .arg(deadline)
                .arg(carry)
                .arg(self.max_session_bytes);
            if self.run_script(&self.save, &cmd).await? == Value::Int(1) {
                return Ok(id.to_string());
            }
        }
        Err(session_core::Error::Unavailable {
            store: "redis",
            source: "three fresh session ids were all taken".into(),
        })
    }

    /// One `update` call of the save script.
    pub(super) async fn update(
        &self,
        u: &Update<'_>,
        expiry: &Expiry,
    ) -> Result<Updated, session_core::Error> {
        let bytes = u.whole.map_or(0, <[u8]>::len) + u.change.len();
        let mut cmd = evalsha(&self.save, &[u.key], 11, bytes);
        cmd.arg("update");
        match (u.loaded, u.whole) {
            (Some(loaded), Some(whole)) => cmd
                .arg(&format::head(loaded.revision)[..])
                .arg(loaded.len)
                .arg(whole)
                .arg(u.deadline),
            _ => cmd.arg("").arg(0).arg("").arg(0),
        };
        cmd.arg(now_ms())
            .arg(expiry.idle_ms())
            .arg(lifetime_arg(expiry))
            .arg(u.change)
            .arg(self.max_session_bytes)
            .arg(u.flags);
        match self.run_script(&self.save, &cmd).await? {
            Value::Int(1) => Ok(Updated::Saved),
            Value::Int(4) => Ok(Updated::HeadMoved),
            Value::Int(n) if n < 0 => Err(session_core::Error::TooLarge {
                size: usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
                limit: self.max_session_bytes,
            }),
            Value::Array(mut reply) if reply.len() == 2 => {
                let value = match reply.pop() {
                    Some(Value::BulkString(value)) => value,
                    _ => Vec::new(),
                };
                match reply.first() {
                    Some(Value::Int(3)) => Ok(Updated::Full(value)),
                    _ => Ok(Updated::Appended(value)),
                }
            }
            _ => Ok(Updated::Gone),
        }
    }

    /// Writes the session stored as `raw` whole again, compacted, keeping what other
    /// requests append meanwhile; with `pending`, a change that was not appended yet
    /// (it did not fit) is applied first. A session left empty is removed.
    pub(super) async fn compact(
        &self,
        key: RedisKey<'_>,
        raw: Vec<u8>,
        pending: Option<&[u8]>,
        expiry: &Expiry,
    ) -> Result<Saved, session_core::Error> {
        let loaded_len = raw.len();
        let mut bytes = raw;
        if let Some(change) = pending {
            bytes.extend_from_slice(change);
        }
        let Ok((record, decoded)) = format::decode(&bytes, 0) else {
            warn_not_a_session(key);
            return Ok(Saved::Gone);
        };
        // What was read (without the pending change), to write over only if unchanged.
        let loaded = format::Loaded {
            revision: decoded.revision,
            len: u32::try_from(loaded_len).unwrap_or(u32::MAX),
        };
        if record.is_empty() {
            // Remove it, unless another request wrote meanwhile.
            let mut cmd = evalsha(&self.drop, &[key], 2, 16);
            cmd.arg(&format::head(loaded.revision)[..]).arg(loaded_len);
            return match self.run_script(&self.drop, &cmd).await? {
                Value::Int(1) => Ok(Saved::Gone),
                _ if pending.is_some() => Ok(Saved::Moved),
                _ => Ok(Saved::Kept),
            };
        }
        // A value handed back only to see whether it was left empty needs no
        // compaction while it is small (growth hands it back from that size on).
        if pending.is_none() && loaded_len < scripts::COMPACT_FROM {
            return Ok(Saved::Kept);
        }
        let whole = format::encode(&record, next_revision());
        if pending.is_some() {
            self.within_cap(whole.len())?;
        } else if whole.len() > self.max_session_bytes {
            return Ok(Saved::Kept);
        }
        let now = now_ms();
        let update = Update {
            key,
            loaded: Some(loaded),
            whole: Some(&whole),
            deadline: expiry.deadline(record.created_ms, now),
            change: &[],
            flags: "s",
        };
        match self.update(&update, expiry).await {
            Ok(Updated::Saved) => Ok(Saved::Kept),
            Ok(Updated::Gone) => Ok(Saved::Gone),
            // Another request compacted first: what was appended is in it.
            Ok(_) if pending.is_none() => Ok(Saved::Kept),
            Ok(_) => Ok(Saved::Moved),
            // The change was appended and answered already; compaction can wait.
            Err(session_core::Error::TooLarge { .. }) if pending.is_none() => Ok(Saved::Kept),
            Err(e) => Err(e),
        }
    }
}
