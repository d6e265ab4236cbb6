//! Bad cookies: every kind of bad cookie opens as "no session", never
//! an error or a panic. Plus key rotation and a property test of the round trip.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use session_cookie::{CookieStore, Key, Keyring};
use session_core::{
    now_ms, Error, Expiry, Record, Session, SessionStore, StoredValue, TokenUpdate,
};

fn key(byte: u8) -> Key {
    Key::from_bytes([byte; 32])
}

fn store_with(current: u8, previous: &[u8]) -> CookieStore {
    CookieStore::new(Keyring::new(key(current), previous.iter().map(|&b| key(b))))
}

fn record() -> Record {
    let now = now_ms();
    let mut r = Record::new(now, now + 3_600_000);
    r.insert("user", StoredValue::persistent("\"ada\""));
    r.insert("flash", StoredValue::flash("[1,2,3]"));
    r
}

async fn seal(store: &CookieStore, record: &Record) -> Result<String, Error> {
    store.create(record).await
}

async fn opens(store: &CookieStore, token: &str) -> Result<bool, Error> {
    Ok(store.load(token, &Expiry::default()).await?.is_some())
}

#[tokio::test]
async fn a_good_cookie_opens() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let r = record();
    let token = seal(&store, &r).await?;
    assert_eq!(store.load(&token, &Expiry::default()).await?, Some(r));
    Ok(())
}

#[tokio::test]
async fn flipping_any_single_byte_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    let raw = URL_SAFE_NO_PAD
        .decode(&token)
        .map_err(|e| Error::config("test", e.to_string()))?;
    for i in 0..raw.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = raw.clone();
            bad[i] ^= flip;
            let bad = URL_SAFE_NO_PAD.encode(&bad);
            assert!(
                !opens(&store, &bad).await?,
                "byte {i} flipped with {flip:#x} still opened"
            );
        }
    }
    // And every character of the text form.
    for i in 0..token.len() {
        let mut bad = token.clone().into_bytes();
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8_lossy(&bad).into_owned();
        if bad != token {
            assert!(
                !opens(&store, &bad).await?,
                "character {i} changed still opened"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn truncation_at_every_length_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    for len in 0..token.len() {
        assert!(
            !opens(&store, &token[..len]).await?,
            "truncated to {len} still opened"
        );
    }
    Ok(())
}

#[tokio::test]
async fn bad_base64_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    for bad in [
        format!("{token}="),
        format!("+{}", &token[1..]),
        token.replace('A', "*"),
        "%%%%".to_owned(),
        "é".repeat(40),
        " ".to_owned(),
    ] {
        if bad != token {
            assert!(!opens(&store, &bad).await?, "{bad:?} opened");
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_unknown_key_gives_no_session() -> Result<(), Error> {
    let token = seal(&store_with(1, &[]), &record()).await?;
    assert!(!opens(&store_with(2, &[3]), &token).await?);
    Ok(())
}

#[tokio::test]
async fn an_unknown_version_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    let mut raw = URL_SAFE_NO_PAD
        .decode(&token)
        .map_err(|e| Error::config("test", e.to_string()))?;
    for version in [0u8, 1, 3, 255] {
        raw[0] = version;
        assert!(
            !opens(&store, &URL_SAFE_NO_PAD.encode(&raw)).await?,
            "version {version}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_cookie_moved_to_another_name_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    let other = store_with(1, &[]).with_name("other");
    assert!(!opens(&other, &token).await?);
    assert!(opens(&store, &token).await?);
    Ok(())
}

#[tokio::test]
async fn an_idle_expired_cookie_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let mut r = record();
    r.expires_ms = now_ms() - 1;
    let token = seal(&store, &r).await?;
    assert!(!opens(&store, &token).await?);
    Ok(())
}

#[tokio::test]
async fn an_absolute_expired_cookie_gives_no_session() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let mut r = record();
    r.created_ms = now_ms() - 10_000;
    let token = seal(&store, &r).await?;
    let expiry = Expiry::default().with_lifetime(Duration::from_secs(5));
    assert_eq!(store.load(&token, &expiry).await?, None);
    assert!(
        opens(&store, &token).await?,
        "without a lifetime it is still live"
    );
    Ok(())
}

#[tokio::test]
async fn a_session_over_bad_cookies_is_fresh_and_usable() -> Result<(), Error> {
    let store: Arc<dyn SessionStore> = Arc::new(store_with(1, &[]));
    let s = Session::new(store.clone(), Expiry::default(), Some("garbage!".into()));
    assert_eq!(s.keys().await?, Vec::<String>::new());
    s.set("k", &1).await?;
    assert!(matches!(s.commit().await?, TokenUpdate::Send(_)));
    Ok(())
}

#[tokio::test]
async fn key_rotation_reseals_under_the_new_key() -> Result<(), Error> {
    let a_only = store_with(0xA, &[]);
    let token_a = seal(&a_only, &record()).await?;

    // Keyring [B, A] opens it...
    let rotated: Arc<dyn SessionStore> = Arc::new(store_with(0xB, &[0xA]));
    let s = Session::new(rotated.clone(), Expiry::default(), Some(token_a.clone()));
    assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
    // ...and the response re-seals it under B, which B alone opens.
    let TokenUpdate::Send(token_b) = s.commit().await? else {
        panic!("a session opened with an old key must be re-sealed");
    };
    let b_only = store_with(0xB, &[]);
    assert!(opens(&b_only, &token_b).await?);
    // Keyring [B] alone rejects the old cookie.
    assert!(!opens(&b_only, &token_a).await?);
    Ok(())
}

/// Key rotation: the re-seal happens on the very response, even one that only reads
/// persistent values (nothing else would make it save).
#[tokio::test]
async fn a_read_only_request_reseals_an_old_key_cookie() -> Result<(), Error> {
    let mut r = record();
    r.remove("flash");
    let token_a = seal(&store_with(0xA, &[]), &r).await?;
    let rotated: Arc<dyn SessionStore> = Arc::new(store_with(0xB, &[0xA]));
    let s = Session::new(rotated.clone(), Expiry::default(), Some(token_a.clone()));
    assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
    let TokenUpdate::Send(token_b) = s.commit().await? else {
        panic!("a read-only request kept a cookie sealed with a retired key");
    };
    assert!(opens(&store_with(0xB, &[]), &token_b).await?);
    // Under the current key, the same read-only request sends nothing.
    let s = Session::new(rotated, Expiry::default(), Some(token_b));
    assert_eq!(s.get::<String>("user").await?.as_deref(), Some("ada"));
    assert_eq!(s.commit().await?, TokenUpdate::Keep);
    Ok(())
}

/// Expiry: the server's current idle timeout applies to cookies issued under a longer
/// one (the sealed deadline is not trusted past it).
#[tokio::test]
async fn a_lowered_timeout_shortens_cookies_already_issued() -> Result<(), Error> {
    let store = store_with(1, &[]);
    let token = seal(&store, &record()).await?;
    assert!(
        opens(&store, &token).await?,
        "live under the hour it was issued with"
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    let lowered = Expiry::new(Duration::from_millis(20));
    assert_eq!(store.load(&token, &lowered).await?, None);
    let still = Expiry::new(Duration::from_secs(60));
    assert!(store.load(&token, &still).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn oversized_sessions_are_refused_with_size_and_limit() -> Result<(), Error> {
    let store = store_with(1, &[]).with_max_chunks(2);
    let mut r = record();
    r.insert(
        "big",
        StoredValue::persistent(format!("\"{}\"", "x".repeat(9000))),
    );
    match seal(&store, &r).await {
        Err(Error::TooLarge { size, limit }) => {
            assert_eq!(limit, store.limit());
            assert!(size > limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Just under the limit fits.
    r.insert(
        "big",
        StoredValue::persistent(format!("\"{}\"", "x".repeat(5000))),
    );
    assert!(seal(&store, &r).await?.len() <= store.limit());
    Ok(())
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        0u64..u64::MAX / 2,
        0u64..u64::MAX / 2,
        proptest::collection::btree_map(".{0,12}", (".{0,40}", any::<bool>()), 0..12),
    )
        .prop_map(|(created, expires, entries)| {
            let mut r = Record::new(created, expires);
            for (k, (v, flash)) in entries {
                let json = quoted(&v);
                r.insert(&k, StoredValue::new(json, flash));
            }
            r
        })
}

/// Any text: the store treats values as opaque.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

proptest! {
    #[test]
    fn random_records_round_trip(record in arb_record()) {
        let store = store_with(7, &[]);
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let runtime = match runtime { Ok(r) => r, Err(e) => panic!("{e}") };
        let back = runtime.block_on(async {
            let token = seal(&store, &record).await?;
            // Open directly with an endless idle timeout so any deadlines round-trip.
            let expiry = Expiry::new(Duration::MAX);
            let opened = store.load(&token, &expiry).await?;
            Ok::<_, Error>((token, opened))
        });
        let (token, opened) = match back { Ok(v) => v, Err(e) => panic!("{e}") };
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let live = record.expires_ms > now_ms();
        if live {
            prop_assert_eq!(opened, Some(record));
        } else {
            prop_assert_eq!(opened, None);
        }
    }
}
