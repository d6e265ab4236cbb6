//! Values: sizes, unicode, and the serde round trips (any type that round-trips
//! through `serde_json` round-trips through the session).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use session_core::Error;

use crate::Kit;

/// Stores `value` in one request and reads it back in the next.
async fn round_trip<T>(kit: &Kit, key: &'static str, value: T) -> Result<(), Error>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug + Send + Sync + Clone + 'static,
{
    let mut c = kit.client();
    let stored = value.clone();
    c.request(|s| async move { s.set(key, &stored).await })
        .await?;
    let back = c.request(|s| async move { s.get::<T>(key).await }).await?;
    assert_eq!(back.as_ref(), Some(&value), "`{key}` did not round-trip");
    Ok(())
}

/// Unicode keys and values (and empty ones) round-trip.
pub async fn unicode_keys_and_values_round_trip(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let pairs = [
        ("ключ", "значение"),
        ("键", "值 🦀"),
        ("emoji 🎉", "👩‍👩‍👧‍👦"),
        ("", "empty key"),
        ("quotes \"'`", "back\\slash\n\tnew line \u{0}"),
        ("rtl", "مرحبا"),
    ];
    c.request(|s| async move {
        for (k, v) in pairs {
            s.set(k, v).await?;
        }
        Ok(())
    })
    .await?;
    let back = c.request(|s| async move { s.all().await }).await?;
    for (k, v) in pairs {
        assert_eq!(back.get(k), Some(&serde_json::json!(v)), "key {k:?}");
    }
    Ok(())
}

/// A value of a few kilobytes round-trips.
pub async fn large_value_round_trips(kit: Kit) -> Result<(), Error> {
    let text: String = (0..2000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    round_trip(&kit, "big", text).await
}

/// A hundred keys round-trip.
pub async fn many_keys_round_trip(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        for i in 0..100 {
            s.set(&format!("key{i}"), &i).await?;
        }
        Ok(())
    })
    .await?;
    let keys = c.request(|s| async move { s.keys().await }).await?;
    assert_eq!(keys.len(), 100);
    let v = c
        .request(|s| async move { s.get::<i32>("key57").await })
        .await?;
    assert_eq!(v, Some(57));
    Ok(())
}

/// A session too large for the store is either stored whole or refused with
/// `Error::TooLarge`; it is never dropped or truncated silently.
pub async fn oversized_session_is_stored_whole_or_refused(kit: Kit) -> Result<(), Error> {
    let big: String = (0..300_000)
        .map(|i| char::from(b'a' + (i % 23) as u8))
        .collect();
    let mut c = kit.client();
    let stored = big.clone();
    let result = c
        .request(|s| async move { s.set("blob", &stored).await })
        .await;
    match result {
        Ok(()) => {
            let back = c
                .request(|s| async move { s.get::<String>("blob").await })
                .await?;
            assert_eq!(back.map(|b| b.len()), Some(big.len()));
        }
        Err(Error::TooLarge { size, limit }) => {
            assert!(size > limit, "TooLarge with size {size} <= limit {limit}");
            assert_eq!(c.token(), None, "a refused session sends no token");
        }
        Err(other) => return Err(other),
    }
    Ok(())
}

/// `serde_json::Value` of every shape round-trips.
pub async fn json_values_round_trip(kit: Kit) -> Result<(), Error> {
    let value = serde_json::json!({
        "null": null, "bool": true, "int": -3, "float": 2.5,
        "big": u64::MAX, "text": "x", "list": [1, "two", [3]], "nested": {"a": {"b": []}}
    });
    round_trip(&kit, "json", value).await
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Number(i64),
    Text(String),
    Pair { a: u8, b: Option<bool> },
}

/// Untagged enums round-trip (they need a self-describing encoding).
pub async fn untagged_enums_round_trip(kit: Kit) -> Result<(), Error> {
    let values = vec![
        Untagged::Number(-7),
        Untagged::Text("seven".into()),
        Untagged::Pair { a: 7, b: None },
    ];
    round_trip(&kit, "untagged", values).await
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    extra: BTreeMap<String, serde_json::Value>,
}

/// `#[serde(flatten)]` round-trips.
pub async fn flattened_structs_round_trip(kit: Kit) -> Result<(), Error> {
    let mut extra = BTreeMap::new();
    extra.insert("colour".to_owned(), serde_json::json!("blue"));
    extra.insert("size".to_owned(), serde_json::json!(3));
    round_trip(&kit, "flat", Flattened { id: 9, extra }).await
}

/// Integer extremes, `u64::MAX` included, round-trip exactly.
pub async fn integer_extremes_round_trip(kit: Kit) -> Result<(), Error> {
    round_trip(&kit, "u64", u64::MAX).await?;
    round_trip(&kit, "i64", i64::MIN).await?;
    round_trip(&kit, "u128", u128::from(u64::MAX)).await?;
    round_trip(&kit, "floats", vec![0.1f64, -1e300, f64::MIN_POSITIVE]).await
}

/// `Option` round-trips, `None` and nested `Some(None)` distinctions included where
/// JSON can carry them.
pub async fn options_round_trip(kit: Kit) -> Result<(), Error> {
    round_trip(&kit, "some", Some(5u8)).await?;
    round_trip(&kit, "none", None::<u8>).await?;
    round_trip(&kit, "vec", vec![Some(1), None, Some(3)]).await
}

/// Maps with string and integer keys round-trip.
pub async fn maps_round_trip(kit: Kit) -> Result<(), Error> {
    let mut by_name = HashMap::new();
    by_name.insert("a".to_owned(), vec![1u8, 2]);
    by_name.insert("ü".to_owned(), vec![]);
    round_trip(&kit, "names", by_name).await?;
    let mut by_id = BTreeMap::new();
    by_id.insert(1u32, "one".to_owned());
    by_id.insert(u32::MAX, "max".to_owned());
    round_trip(&kit, "ids", by_id).await
}
