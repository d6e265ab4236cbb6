//! Every method of the `Session` API.

use std::collections::BTreeMap;

use session_core::Error;

use crate::Kit;

/// `set` then `get` in one request sees the value.
pub async fn set_then_get_in_the_same_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let v = c
        .request(|s| async move {
            s.set("name", "Ada").await?;
            s.get::<String>("name").await
        })
        .await?;
    assert_eq!(v.as_deref(), Some("Ada"));
    Ok(())
}

/// A value set in one request is there in later ones.
pub async fn set_value_is_visible_in_later_requests(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("n", &41u32).await })
        .await?;
    for _ in 0..3 {
        let v = c
            .request(|s| async move { s.get::<u32>("n").await })
            .await?;
        assert_eq!(v, Some(41));
    }
    Ok(())
}

/// `get` of a key never set is `Ok(None)`; `has` is false.
pub async fn get_of_a_missing_key_is_none(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("a", &1).await }).await?;
    let (v, h) = c
        .request(|s| async move { Ok((s.get::<i32>("b").await?, s.has("b").await?)) })
        .await?;
    assert_eq!(v, None);
    assert!(!h);
    Ok(())
}

/// `get` as the wrong type is an error naming the key, and the value stays stored.
pub async fn get_of_the_wrong_type_names_the_key_and_keeps_the_value(
    kit: Kit,
) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("count", "three").await })
        .await?;
    let err = c
        .request(|s| async move { Ok(s.get::<u64>("count").await) })
        .await?;
    match err {
        Err(Error::Decode { key, type_name, .. }) => {
            assert_eq!(key, "count");
            assert_eq!(type_name, "u64");
        }
        other => panic!("expected Error::Decode for `count`, got {other:?}"),
    }
    let v = c
        .request(|s| async move { s.get::<String>("count").await })
        .await?;
    assert_eq!(v.as_deref(), Some("three"));
    Ok(())
}

/// `has` is true exactly when `get` returns `Some`, through set, flash and delete.
pub async fn has_agrees_with_get(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("p", &1).await?;
        s.flash("f", &2).await?;
        s.set("gone", &3).await?;
        s.delete("gone").await
    })
    .await?;
    c.request(|s| async move {
        for key in ["p", "f", "gone", "never"] {
            let has = s.has(key).await?;
            let got = s.get::<serde_json::Value>(key).await?;
            assert_eq!(has, got.is_some(), "has/get disagree on `{key}`");
        }
        assert!(s.has("p").await? && s.has("f").await? && !s.has("gone").await?);
        Ok(())
    })
    .await
}

/// `delete` removes a key now and in every later request.
pub async fn delete_removes_now_and_later(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("a", &1).await?;
        s.set("b", &2).await
    })
    .await?;
    let now = c
        .request(|s| async move {
            s.delete("a").await?;
            s.has("a").await
        })
        .await?;
    assert!(!now);
    let later = c
        .request(|s| async move { Ok((s.has("a").await?, s.has("b").await?)) })
        .await?;
    assert_eq!(later, (false, true));
    Ok(())
}

/// `flush` removes everything, flash data included.
pub async fn flush_removes_everything_flash_included(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("a", &1).await?;
        s.flash("f", &2).await
    })
    .await?;
    c.request(|s| async move { s.flush().await }).await?;
    let keys = c.request(|s| async move { s.keys().await }).await?;
    assert!(keys.is_empty(), "after flush: {keys:?}");
    Ok(())
}

/// `pull` returns the value and removes it.
pub async fn pull_returns_the_value_then_removes_it(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("token", "t1").await })
        .await?;
    let (first, again) = c
        .request(|s| async move {
            Ok((
                s.pull::<String>("token").await?,
                s.pull::<String>("token").await?,
            ))
        })
        .await?;
    assert_eq!(first.as_deref(), Some("t1"));
    assert_eq!(again, None);
    let later = c.request(|s| async move { s.has("token").await }).await?;
    assert!(!later);
    Ok(())
}

/// `increment` / `decrement` start a missing key at 0 and persist.
pub async fn increment_and_decrement_count_from_zero(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    assert_eq!(
        c.request(|s| async move { s.increment("n", 1).await })
            .await?,
        1
    );
    assert_eq!(
        c.request(|s| async move { s.increment("n", 5).await })
            .await?,
        6
    );
    assert_eq!(
        c.request(|s| async move { s.decrement("n", 10).await })
            .await?,
        -4
    );
    assert_eq!(
        c.request(|s| async move { s.decrement("m", 2).await })
            .await?,
        -2
    );
    let n = c
        .request(|s| async move { s.get::<i64>("n").await })
        .await?;
    assert_eq!(n, Some(-4));
    Ok(())
}

/// Counting on a non-integer, or past `i64`, is an error and changes nothing.
pub async fn increment_of_a_non_integer_or_past_i64_is_an_error(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("word", "x").await?;
        s.set("big", &i64::MAX).await
    })
    .await?;
    let (word, big) = c
        .request(|s| async move { Ok((s.increment("word", 1).await, s.increment("big", 1).await)) })
        .await?;
    assert!(
        matches!(word, Err(Error::Decode { ref key, .. }) if key == "word"),
        "{word:?}"
    );
    assert!(
        matches!(big, Err(Error::CounterOverflow { ref key }) if key == "big"),
        "{big:?}"
    );
    let big = c
        .request(|s| async move { s.get::<i64>("big").await })
        .await?;
    assert_eq!(big, Some(i64::MAX));
    Ok(())
}

/// `all` and `keys` show exactly what `get` sees.
pub async fn all_and_keys_show_what_get_sees(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("b", &2).await?;
        s.set("a", "one").await?;
        s.flash("f", &true).await
    })
    .await?;
    let (all, keys) = c
        .request(|s| async move {
            s.flash_now("now", &0).await?;
            s.delete("b").await?;
            Ok((s.all().await?, s.keys().await?))
        })
        .await?;
    let expected: BTreeMap<String, serde_json::Value> = [
        ("a".to_owned(), serde_json::json!("one")),
        ("f".to_owned(), serde_json::json!(true)),
        ("now".to_owned(), serde_json::json!(0)),
    ]
    .into_iter()
    .collect();
    assert_eq!(all, expected);
    assert_eq!(keys, ["a", "f", "now"]);
    Ok(())
}

/// A value that cannot be serialised is refused by `set` and nothing is stored.
pub async fn unserialisable_value_is_refused_and_nothing_stored(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let results = c
        .request(|s| async move {
            let nan = s.set("nan", &f64::NAN).await;
            let mut odd = std::collections::HashMap::new();
            odd.insert((1, 2), "tuple key");
            let map = s.set("map", &odd).await;
            Ok((nan, map, s.has("nan").await?, s.has("map").await?))
        })
        .await?;
    assert!(matches!(results.0, Err(Error::Encode { ref key, .. }) if key == "nan"));
    assert!(matches!(results.1, Err(Error::Encode { ref key, .. }) if key == "map"));
    assert!(!results.2 && !results.3);
    assert_eq!(c.token(), None, "nothing was stored, so no token is sent");
    Ok(())
}

/// Clones of one request's handle are the same session.
pub async fn clones_of_the_handle_share_one_session(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let v = c
        .request(|s| async move {
            let other = s.clone();
            other.set("k", &7).await?;
            s.get::<i32>("k").await
        })
        .await?;
    assert_eq!(v, Some(7));
    Ok(())
}
