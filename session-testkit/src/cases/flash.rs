//! The flash rules, request by request.

use session_core::Error;

use crate::{Client, Kit};

async fn flash_hello(c: &mut Client) -> Result<(), Error> {
    c.request(|s| async move {
        s.set("user", "ada").await?;
        s.flash("msg", "hello").await
    })
    .await
}

async fn msg(c: &mut Client) -> Result<Option<String>, Error> {
    c.request(|s| async move { s.get::<String>("msg").await })
        .await
}

/// Rule 1: flash data is visible for the rest of the request that flashed it.
pub async fn flash_is_visible_in_the_same_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let v = c
        .request(|s| async move {
            s.flash("msg", "hi").await?;
            Ok((s.get::<String>("msg").await?, s.has("msg").await?))
        })
        .await?;
    assert_eq!(v, (Some("hi".to_owned()), true));
    Ok(())
}

/// Rule 1: flash data is visible throughout the next request, and reading it twice
/// does not consume it.
pub async fn flash_is_visible_throughout_the_next_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    let (a, b, all) = c
        .request(|s| async move {
            Ok((
                s.get::<String>("msg").await?,
                s.get::<String>("msg").await?,
                s.all().await?,
            ))
        })
        .await?;
    assert_eq!(a.as_deref(), Some("hello"));
    assert_eq!(b.as_deref(), Some("hello"));
    assert!(all.contains_key("msg"));
    Ok(())
}

/// Rule 2: flash data is gone in the request after the next.
pub async fn flash_is_gone_two_requests_later(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    assert_eq!(msg(&mut c).await?.as_deref(), Some("hello"));
    assert_eq!(msg(&mut c).await?, None);
    let user = super::user_of(&mut c).await?;
    assert_eq!(
        user.as_deref(),
        Some("ada"),
        "persistent data outlives flash data"
    );
    Ok(())
}

/// Rule 1: only `pull` consumes flash data within a request.
pub async fn pull_consumes_flash_data(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    let (pulled, after) = c
        .request(|s| async move { Ok((s.pull::<String>("msg").await?, s.has("msg").await?)) })
        .await?;
    assert_eq!(pulled.as_deref(), Some("hello"));
    assert!(!after);
    Ok(())
}

/// Rule 3: a request that never touches the session ages nothing.
pub async fn untouched_request_does_not_age_flash(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    for _ in 0..3 {
        c.request(|_s| async move { Ok(()) }).await?;
    }
    assert_eq!(msg(&mut c).await?.as_deref(), Some("hello"));
    assert_eq!(msg(&mut c).await?, None);
    Ok(())
}

/// Rule 3: a request that only writes ages nothing.
pub async fn write_only_request_does_not_age_flash(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    c.request(|s| async move { s.set("other", &1).await })
        .await?;
    c.request(|s| async move { s.delete("nothing").await })
        .await?;
    assert_eq!(msg(&mut c).await?.as_deref(), Some("hello"));
    assert_eq!(msg(&mut c).await?, None);
    let other = c
        .request(|s| async move { s.get::<i32>("other").await })
        .await?;
    assert_eq!(other, Some(1));
    Ok(())
}

/// Rule 3: a request that reads only persistent keys (an AJAX call for `user` while
/// the redirected page is still loading) ages nothing; the next request that reads
/// the flash data sees it.
pub async fn reading_only_persistent_keys_does_not_age_flash(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    for _ in 0..3 {
        let user = c
            .request(|s| async move {
                let user = s.get::<String>("user").await?;
                s.has("absent").await?;
                Ok(user)
            })
            .await?;
        assert_eq!(user.as_deref(), Some("ada"));
    }
    assert_eq!(
        msg(&mut c).await?.as_deref(),
        Some("hello"),
        "a request that read only `user` ate the flash message"
    );
    assert_eq!(msg(&mut c).await?, None, "the request that read it aged it");
    Ok(())
}

/// Rule 2: `reflash` gives every flash value exactly one more reading request.
pub async fn reflash_keeps_all_flash_for_one_more_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.flash("a", &1).await?;
        s.flash("b", &2).await
    })
    .await?;
    let seen = c
        .request(|s| async move {
            let seen = s.has("a").await? && s.has("b").await?;
            s.reflash().await?;
            Ok(seen)
        })
        .await?;
    assert!(seen);
    let again = c
        .request(|s| async move { Ok((s.has("a").await?, s.has("b").await?)) })
        .await?;
    assert_eq!(again, (true, true));
    let gone = c
        .request(|s| async move { Ok((s.has("a").await?, s.has("b").await?)) })
        .await?;
    assert_eq!(gone, (false, false));
    Ok(())
}

/// Rule 2: `keep` gives only the named flash values one more reading request.
pub async fn keep_keeps_named_flash_for_one_more_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.flash("a", &1).await?;
        s.flash("b", &2).await
    })
    .await?;
    c.request(|s| async move {
        s.has("a").await?;
        s.keep(["a", "not-there"]).await
    })
    .await?;
    let v = c
        .request(|s| async move { Ok((s.has("a").await?, s.has("b").await?)) })
        .await?;
    assert_eq!(v, (true, false));
    let v = c.request(|s| async move { s.has("a").await }).await?;
    assert!(!v);
    Ok(())
}

/// Rule 2: flashing a key again in the next request gives it one more request.
pub async fn flashing_again_gives_one_more_request(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    c.request(|s| async move {
        let m = s.get::<String>("msg").await?.unwrap_or_default();
        s.flash("msg", &format!("{m}!")).await
    })
    .await?;
    assert_eq!(msg(&mut c).await?.as_deref(), Some("hello!"));
    assert_eq!(msg(&mut c).await?, None);
    Ok(())
}

/// Rule 4: `set` after `flash` makes the key persistent.
pub async fn set_after_flash_makes_the_key_persistent(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.flash("k", &1).await?;
        s.set("k", &2).await
    })
    .await?;
    for _ in 0..3 {
        let v = c
            .request(|s| async move { s.get::<i32>("k").await })
            .await?;
        assert_eq!(v, Some(2));
    }
    Ok(())
}

/// Rule 4: `flash` after `set` makes the key flash data.
pub async fn flash_after_set_makes_the_key_flash(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("k", &1).await }).await?;
    c.request(|s| async move { s.flash("k", &2).await }).await?;
    let v = c
        .request(|s| async move { s.get::<i32>("k").await })
        .await?;
    assert_eq!(v, Some(2));
    let v = c
        .request(|s| async move { s.get::<i32>("k").await })
        .await?;
    assert_eq!(v, None);
    Ok(())
}

/// Rule 5: `flash_now` is visible in this request only and never stored.
pub async fn flash_now_is_visible_in_this_request_only(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let now = c
        .request(|s| async move {
            s.set("keep", &1).await?;
            s.flash_now("now", "only here").await?;
            s.get::<String>("now").await
        })
        .await?;
    assert_eq!(now.as_deref(), Some("only here"));
    let later = c.request(|s| async move { s.has("now").await }).await?;
    assert!(!later);
    let mut fresh = kit.client();
    fresh
        .request(|s| async move { s.flash_now("now", &1).await })
        .await?;
    assert_eq!(fresh.token(), None, "flash_now alone stores nothing");
    Ok(())
}

/// Rule 6: `delete` removes flash data from the store at once.
pub async fn delete_removes_flash_data_at_once(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    flash_hello(&mut c).await?;
    c.request(|s| async move { s.delete("msg").await }).await?;
    assert_eq!(msg(&mut c).await?, None);
    Ok(())
}
