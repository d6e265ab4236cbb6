//! The cookies a store keeps once opened: a cookie sent again gives exactly what
//! opening it gives, under every rule that applies to opening.

use std::sync::Arc;
use std::time::Duration;

use session_cookie::{CookieStore, Key, Keyring};
use session_core::{
    now_ms, Error, Expiry, Record, Session, SessionStore, StoredValue, TokenUpdate,
};

fn store_with(current: u8, previous: &[u8]) -> CookieStore {
    CookieStore::new(Keyring::new(
        Key::from_bytes([current; 32]),
        previous.iter().map(|&b| Key::from_bytes([b; 32])),
    ))
}

fn record() -> Record {
    let now = now_ms();
    let mut r = Record::new(now, now + 3_600_000);
    r.insert("user", StoredValue::persistent("\"ada\""));
    r.insert("note", StoredValue::flash("\"saved\""));
    r
}

#[tokio::test]
async fn a_cookie_sent_again_opens_to_the_same_session_with_or_without_the_cache(
) -> Result<(), Error> {
    for store in [
        store_with(1, &[]),
        store_with(1, &[]).with_opened_cache_bytes(0),
    ] {
        let r = record();
        let token = store.create(&r).await?;
        for _ in 0..3 {
            assert_eq!(
                store.load(&token, &Expiry::default()).await?,
                Some(r.clone())
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_cookie_opened_by_a_store_does_not_open_in_a_renamed_clone_of_it() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = store.create(&record()).await?;
    assert!(store.load(&token, &Expiry::default()).await?.is_some());
    let renamed = store.clone().with_name("other");
    assert_eq!(renamed.load(&token, &Expiry::default()).await?, None);
    // The clone under the same name shares what was opened, and opens it.
    assert!(store
        .clone()
        .load(&token, &Expiry::default())
        .await?
        .is_some());
    Ok(())
}

#[tokio::test]
async fn a_kept_cookie_still_expires_by_the_current_policy() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = store.create(&record()).await?;
    assert!(store.load(&token, &Expiry::default()).await?.is_some());
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        store
            .load(&token, &Expiry::new(Duration::from_millis(20)))
            .await?,
        None
    );
    let short_life = Expiry::default().with_lifetime(Duration::from_millis(20));
    assert_eq!(store.load(&token, &short_life).await?, None);
    assert!(store.load(&token, &Expiry::default()).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn a_kept_cookie_of_a_previous_key_is_resealed_every_time_it_is_sent() -> Result<(), Error> {
    let mut r = record();
    r.remove("note");
    let old = store_with(0xA, &[]).create(&r).await?;
    let rotated: Arc<dyn SessionStore> = Arc::new(store_with(0xB, &[0xA]));
    for _ in 0..3 {
        let s = Session::new(rotated.clone(), Expiry::default(), Some(old.clone()));
        assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
        assert!(
            matches!(s.commit().await?, TokenUpdate::Send(_)),
            "a cookie of a retired key, sent again, was not re-sealed"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_flash_read_from_a_kept_cookie_is_gone_from_the_next_cookie() -> Result<(), Error> {
    let store: Arc<dyn SessionStore> = Arc::new(store_with(1, &[]));
    let token = store.create(&record()).await?;
    // Two requests send the same cookie (say, two tabs): each sees the flash once.
    for _ in 0..2 {
        let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
        assert_eq!(s.get::<String>("note").await?.as_deref(), Some("saved"));
        let TokenUpdate::Send(next) = s.commit().await? else {
            panic!("reading a flash must send a cookie without it");
        };
        let s = Session::new(store.clone(), Expiry::default(), Some(next));
        assert_eq!(s.get::<String>("note").await?, None);
        assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
    }
    Ok(())
}

proptest::proptest! {
    /// A cookie the store has just sealed (and kept) loads exactly as opening it does.
    #[test]
    fn a_cookie_just_sealed_loads_as_it_opens(
        entries in proptest::collection::btree_map(".{0,12}", (".{0,40}", proptest::bool::ANY), 0..12),
        idle_secs in 1u64..100_000,
        age_ms in 0u64..1_000_000,
    ) {
        let now = now_ms();
        let mut record = Record::new(now - age_ms, now + idle_secs * 1000);
        for (k, (v, flash)) in entries {
            record.insert(&k, StoredValue::new(format!("{v:?}"), flash));
        }
        let store = store_with(3, &[]);
        let uncached = store.clone().with_opened_cache_bytes(0);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
        let runtime = match runtime { Ok(r) => r, Err(e) => panic!("{e}") };
        let (kept, opened) = runtime.block_on(async {
            let token = store.create(&record).await?;
            let expiry = Expiry::new(Duration::from_secs(idle_secs));
            let kept = store.load(&token, &expiry).await?;
            let opened = uncached.load(&token, &expiry).await?;
            Ok::<_, Error>((kept, opened))
        }).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert!(opened.is_some());
        proptest::prop_assert_eq!(kept, opened);
    }
}

#[tokio::test]
async fn a_record_marked_outdated_is_sealed_but_opens_unmarked() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let mut r = record();
    r.mark_outdated();
    let token = store.create(&r).await?;
    let loaded = store
        .load(&token, &Expiry::default())
        .await?
        .ok_or("no session")
        .map_err(|e| Error::config("test", e))?;
    assert!(!loaded.is_outdated());
    Ok(())
}

#[tokio::test]
async fn a_cookie_replaced_by_a_save_still_opens_for_a_tab_that_sends_it() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let r = record();
    let old = store.create(&r).await?;
    assert_eq!(store.load(&old, &Expiry::default()).await?, Some(r.clone()));
    let mut changed = r.clone();
    changed.insert("n", StoredValue::persistent("1"));
    let new = store
        .save(&old, &changed)
        .await?
        .ok_or("a cookie save gives a token")
        .map_err(|e| Error::config("test", e))?;
    assert_eq!(store.load(&new, &Expiry::default()).await?, Some(changed));
    assert_eq!(store.load(&old, &Expiry::default()).await?, Some(r));
    Ok(())
}
