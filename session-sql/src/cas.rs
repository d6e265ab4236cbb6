//! The write of the MySQL/MariaDB and SQLite stores: compare-and-set on a version.
//!
//! Each row carries a `version` that every write adds one to. A load remembers the
//! version it read; the request's save writes the session as the request leaves
//! it, whole, on the condition that the version is still the one it read. That one
//! `UPDATE` is the common case, and costs what an overwrite costs.
//!
//! When another request wrote in between, the condition fails and nothing is
//! written. The store then reads the row as it is now, applies this request's
//! change to it (its sets, removals and counter additions, key by key, as
//! [`Change::apply_to`] says), and writes that on the new version; again until a
//! write lands. Every failed attempt means another request's write landed, so
//! concurrent requests that change different keys all keep their writes and
//! counters all count: the database's atomic `UPDATE ... WHERE version = ?`
//! decides the order, and nothing is lost. The size cap is checked on exactly what
//! is written, so concurrent writers never store more than the cap together.
//!
//! The database specifics (SQL, placeholders, the transaction of a renewal) are the
//! drivers' [`Rows`]; the decisions are here, once.

use async_trait::async_trait;
use session_core::{now_ms, Change, Error, Expiry, Record, Seen, SessionId};

use crate::row::{decode, encode, indexed_deadline, unsigned};

/// `SessionStore` and `MergeStore` for a driver's store type, each method the
/// function of this module of the same name over the store's [`Rows`].
macro_rules! cas_stores {
    ($ty:ty) => {
        cas_user_index!($ty);

        #[::async_trait::async_trait]
        impl ::session_core::SessionStore for $ty {
            async fn load(
                &self,
                token: &str,
                expiry: &::session_core::Expiry,
            ) -> Result<Option<::session_core::Record>, ::session_core::Error> {
                Ok($crate::cas::load(self, token, expiry)
                    .await?
                    .map(|(record, _)| record))
            }

            async fn create(
                &self,
                record: &::session_core::Record,
            ) -> Result<String, ::session_core::Error> {
                $crate::cas::create(self, record).await
            }

            async fn save(
                &self,
                token: &str,
                record: &::session_core::Record,
            ) -> Result<Option<String>, ::session_core::Error> {
                $crate::cas::save(self, token, record).await
            }

            async fn destroy(&self, token: &str) -> Result<(), ::session_core::Error> {
                $crate::cas::destroy(self, token).await
            }

            fn max_session_bytes(&self) -> usize {
                self.inner.max_session_bytes
            }

            fn merging(&self) -> Option<&dyn ::session_core::MergeStore> {
                Some(self)
            }

            fn users(&self) -> Result<&dyn ::session_core::UserIndex, ::session_core::Error> {
                Ok(self)
            }
        }

        #[::async_trait::async_trait]
        impl ::session_core::MergeStore for $ty {
            async fn load_marked(
                &self,
                token: &str,
                expiry: &::session_core::Expiry,
            ) -> Result<Option<(::session_core::Record, u64)>, ::session_core::Error> {
                $crate::cas::load(self, token, expiry).await
            }

            async fn merge(
                &self,
                token: &str,
                change: &::session_core::Change<'_>,
                seen: Option<::session_core::Seen<'_>>,
                expiry: &::session_core::Expiry,
            ) -> Result<bool, ::session_core::Error> {
                $crate::cas::merge(self, token, change, seen, expiry).await
            }

            async fn renew(
                &self,
                old: &str,
                change: &::session_core::Change<'_>,
                record: &::session_core::Record,
                expiry: &::session_core::Expiry,
            ) -> Result<String, ::session_core::Error> {
                $crate::cas::renew(self, old, change, record, expiry).await
            }
        }
    };
}

/// The most attempts of one write under contention. Each failed attempt is
/// another request's landed write, so this bounds only how long one request can be
/// overtaken: past it the request is answered 503 and writes nothing.
pub(crate) const MAX_ATTEMPTS: usize = 256;

/// A session row as read.
pub(crate) struct Row {
    pub(crate) created_ms: u64,
    pub(crate) touched_ms: u64,
    pub(crate) version: i64,
    pub(crate) data: Vec<u8>,
}

/// A row to write: the session's values and times (the version is the database's).
pub(crate) struct NewRow {
    pub(crate) created_ms: u64,
    pub(crate) touched_ms: u64,
    /// The deadline rounded up for the cleanup index
    /// ([`indexed_deadline`](crate::row::indexed_deadline)).
    pub(crate) expires_ms: u64,
    pub(crate) data: Vec<u8>,
}

impl NewRow {
    /// `record`, written at `now`, alive until `deadline`.
    pub(crate) fn of(record: &Record, now: u64, deadline: u64) -> NewRow {
        NewRow {
            created_ms: record.created_ms,
            touched_ms: now,
            expires_ms: indexed_deadline(deadline, now),
            data: encode(record).into_bytes(),
        }
    }
}

/// The statements a driver runs; `key` is a session's row key (its id's digest).
#[async_trait]
pub(crate) trait Rows: Send + Sync {
    /// The row of `key` whose `expires_ms` is after `now`.
    async fn select(&self, key: &str, now: u64) -> Result<Option<Row>, Error>;
    /// Writes `row` over `key`'s row, adding one to its version, when its version is
    /// `version` (any, for `None`) and its `expires_ms` is after `row.touched_ms`;
    /// whether it did.
    async fn update(&self, key: &str, version: Option<i64>, row: &NewRow) -> Result<bool, Error>;
    /// Deletes `key`'s row when its version is `version` (any, for `None`); whether
    /// it did.
    async fn delete(&self, key: &str, version: Option<i64>) -> Result<bool, Error>;
    /// Inserts `row` as `key`, version 0.
    async fn insert(&self, key: &str, row: &NewRow) -> Result<(), Error>;
    /// In one transaction: takes `old`'s row out (when `old` is given), and inserts
    /// what `renewed` makes of it under the key it gives.
    async fn replace(&self, old: Option<&str>, renewed: Renewal<'_>) -> Result<(), Error>;
    /// The size cap.
    fn cap(&self) -> usize;
    /// The driver's name, for errors (`mysql`, `sqlite`).
    fn name(&self) -> &'static str;
}

/// What a renewal inserts, made from the old row (if it was there).
pub(crate) type Renewal<'a> =
    &'a (dyn Fn(Option<Row>) -> Result<(String, NewRow), Error> + Send + Sync);

/// Refuses `record` when it is past the cap.
fn within(rows: &dyn Rows, record: &Record) -> Result<(), Error> {
    let (size, limit) = (record.size(), rows.cap());
    if size > limit {
        return Err(Error::TooLarge { size, limit });
    }
    Ok(())
}

/// The live session of `row` under `expiry` at `now`; `None` when it has expired
/// or is not a row this store wrote.
fn live(row: &Row, expiry: &Expiry, now: u64) -> Option<Record> {
    let expires = expiry.deadline(row.created_ms, row.touched_ms);
    if !expiry.is_live(row.created_ms, expires, now) {
        return None;
    }
    decode(&row.data, row.created_ms, expires)
}

/// [`MergeStore::load_marked`](session_core::MergeStore::load_marked): the session
/// and the version it was read at. An expired row is deleted.
pub(crate) async fn load(
    rows: &dyn Rows,
    token: &str,
    expiry: &Expiry,
) -> Result<Option<(Record, u64)>, Error> {
    let Some(id) = SessionId::parse(token) else {
        return Ok(None);
    };
    let key = id.storage_key();
    let now = now_ms();
    let Some(row) = rows.select(&key, now).await? else {
        return Ok(None);
    };
    match live(&row, expiry, now) {
        Some(record) => Ok(Some((record, unsigned(row.version)))),
        None => {
            rows.delete(&key, Some(row.version)).await?;
            Ok(None)
        }
    }
}

/// [`SessionStore::create`](session_core::SessionStore::create).
pub(crate) async fn create(rows: &dyn Rows, record: &Record) -> Result<String, Error> {
    within(rows, record)?;
    let id = SessionId::generate()?;
    let now = now_ms();
    let row = NewRow::of(record, now, record.expires_ms);
    rows.insert(&id.storage_key(), &row).await?;
    Ok(id.to_string())
}

/// [`SessionStore::save`](session_core::SessionStore::save): `record` over the
/// live session, whole.
pub(crate) async fn save(
    rows: &dyn Rows,
    token: &str,
    record: &Record,
) -> Result<Option<String>, Error> {
    let Some(id) = SessionId::parse(token) else {
        return Ok(None);
    };
    within(rows, record)?;
    let now = now_ms();
    let row = NewRow::of(record, now, record.expires_ms);
    let written = rows.update(&id.storage_key(), None, &row).await?;
    Ok(written.then(|| token.to_owned()))
}

/// [`SessionStore::destroy`](session_core::SessionStore::destroy).
pub(crate) async fn destroy(rows: &dyn Rows, token: &str) -> Result<(), Error> {
    if let Some(id) = SessionId::parse(token) {
        rows.delete(&id.storage_key(), None).await?;
    }
    Ok(())
}

/// [`MergeStore::merge`](session_core::MergeStore::merge): the request's session
/// written whole when the row is still at the version it read, else `change`
/// applied to the row as it is now, until a write lands.
pub(crate) async fn merge(
    rows: &dyn Rows,
    token: &str,
    change: &Change<'_>,
    seen: Option<Seen<'_>>,
    expiry: &Expiry,
) -> Result<bool, Error> {
    let Some(id) = SessionId::parse(token) else {
        return Ok(false);
    };
    let key = id.storage_key();
    let now = now_ms();
    // The common case: nobody wrote since this request's load.
    if let Some(seen) = seen.filter(|seen| seen.record.size() <= rows.cap()) {
        let version = i64::try_from(seen.mark).unwrap_or(i64::MAX);
        if seen.record.is_empty() {
            if rows.delete(&key, Some(version)).await? {
                return Ok(false);
            }
        } else if rows
            .update(
                &key,
                Some(version),
                &NewRow::of(
                    seen.record,
                    now,
                    expiry.deadline(seen.record.created_ms, now),
                ),
            )
            .await?
        {
            return Ok(true);
        }
    }
    for _ in 0..MAX_ATTEMPTS {
        let Some(row) = rows.select(&key, now).await? else {
            return Ok(false);
        };
        let Some(mut record) = live(&row, expiry, now) else {
            rows.delete(&key, Some(row.version)).await?;
            return Ok(false);
        };
        change.apply_to(&mut record);
        let landed = if record.is_empty() {
            rows.delete(&key, Some(row.version)).await?
        } else {
            within(rows, &record)?;
            rows.update(
                &key,
                Some(row.version),
                &NewRow::of(&record, now, expiry.deadline(record.created_ms, now)),
            )
            .await?
        };
        if landed {
            return Ok(!record.is_empty());
        }
        tokio::task::yield_now().await;
    }
    tracing::warn!(
        attempts = MAX_ATTEMPTS,
        "a session write was overtaken on every attempt"
    );
    Err(Error::Unavailable {
        store: rows.name(),
        source: "the session was written by other requests on every attempt".into(),
    })
}

/// [`MergeStore::renew`](session_core::MergeStore::renew): a new session holding
/// what `old` holds now with `change` applied (or `record` when `old` is gone),
/// `old` deleted in the same transaction.
pub(crate) async fn renew(
    rows: &dyn Rows,
    old: &str,
    change: &Change<'_>,
    record: &Record,
    expiry: &Expiry,
) -> Result<String, Error> {
    let now = now_ms();
    let old_key = SessionId::parse(old).map(|id| id.storage_key());
    let id = SessionId::generate()?;
    let renewed = |taken: Option<Row>| {
        let mut renewed = taken
            .and_then(|row| live(&row, expiry, now))
            .map(|mut stored| {
                change.apply_to(&mut stored);
                stored
            })
            .unwrap_or_else(|| record.clone());
        renewed.created_ms = record.created_ms;
        within(rows, &renewed)?;
        Ok((
            id.storage_key(),
            NewRow::of(&renewed, now, expiry.deadline(renewed.created_ms, now)),
        ))
    };
    rows.replace(old_key.as_deref(), &renewed).await?;
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_row_is_the_record_with_its_deadline_rounded_up() {
        let mut record = Record::new(1_000, 0);
        record.insert("user", session_core::StoredValue::persistent("\"ada\""));
        let row = NewRow::of(&record, 2_000, 3_602_000);
        assert_eq!((row.created_ms, row.touched_ms), (1_000, 2_000));
        assert_eq!(row.expires_ms, indexed_deadline(3_602_000, 2_000));
        assert_eq!(decode(&row.data, 1_000, 5), {
            let mut r = record.clone();
            r.expires_ms = 5;
            Some(r)
        });
    }
}
