//! When the store is called.

use session_core::{Error, TokenUpdate};

use crate::Kit;

/// A request that never touches its session costs zero store calls, with or without
/// a token.
pub async fn untouched_session_makes_no_store_call(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|_s| async move { Ok(()) }).await?;
    assert_eq!(kit.calls().total(), 0);
    c.request(|s| async move { s.set("a", &1).await }).await?;
    let before = kit.calls();
    c.request(|_s| async move { Ok(()) }).await?;
    assert_eq!(kit.calls(), before);
    Ok(())
}

/// A session that is read but never written is never stored and sends no token.
pub async fn never_written_session_is_not_stored(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    let v = c
        .request(|s| async move {
            let v = s.get::<String>("user").await?;
            s.has("x").await?;
            Ok(v)
        })
        .await?;
    assert_eq!(v, None);
    assert_eq!(c.token(), None);
    assert_eq!(kit.calls().saves, 0);
    Ok(())
}

/// A loaded, unchanged session is not saved, except to refresh the idle deadline in a
/// store that cannot refresh it on load, and there only once the deadline would move
/// by more than 1% of the idle timeout.
pub async fn unchanged_session_writes_only_the_idle_refresh(kit: Kit) -> Result<(), Error> {
    let kit = kit.with_expiry(session_core::Expiry::new(std::time::Duration::from_secs(
        60,
    )));
    let mut c = kit.client();
    c.request(|s| async move { s.set("a", &1).await }).await?;
    let before = kit.calls();
    c.request(|s| async move { s.get::<i32>("a").await })
        .await?;
    let after = kit.calls();
    assert_eq!(after.loads, before.loads + 1, "one load");
    assert_eq!(
        after.saves, before.saves,
        "an immediate re-read needs no save"
    );
    assert_eq!(after.destroys, before.destroys);
    // 1% of 60 s is 600 ms: past that, a store that cannot refresh on load saves.
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    c.request(|s| async move { s.get::<i32>("a").await })
        .await?;
    let later = kit.calls();
    let refresh = usize::from(!kit.load_refreshes());
    assert_eq!(
        later.saves,
        after.saves + refresh,
        "saves to refresh the idle deadline"
    );
    Ok(())
}

/// A changed session is loaded at most once and saved once, however many writes.
pub async fn changed_session_is_saved_once(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("a", &1).await }).await?;
    let before = kit.calls();
    c.request(|s| async move {
        for i in 0..10 {
            s.set(&format!("k{i}"), &i).await?;
            s.get::<i32>("a").await?;
        }
        s.increment("a", 1).await?;
        s.flash("f", &1).await
    })
    .await?;
    let after = kit.calls();
    assert_eq!(after.loads - before.loads, 1);
    assert_eq!(after.saves - before.saves, 1);
    Ok(())
}

/// A request that only writes does not load when the store merges writes per key
/// (one store call in total); a store that cannot merge loads first.
pub async fn write_only_request_skips_the_load_when_the_store_merges(
    kit: Kit,
) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("a", &1).await }).await?;
    let before = kit.calls();
    c.request(|s| async move {
        s.set("b", &2).await?;
        s.delete("a").await
    })
    .await?;
    let after = kit.calls();
    let expected_loads = usize::from(!kit.merges());
    assert_eq!(after.loads - before.loads, expected_loads);
    assert_eq!(after.saves - before.saves, 1);
    let v = c
        .request(|s| async move { Ok((s.has("a").await?, s.get::<i32>("b").await?)) })
        .await?;
    assert_eq!(v, (false, Some(2)));
    Ok(())
}

/// A session emptied by its last `delete` tells the client to drop its cookie.
pub async fn emptied_session_removes_the_token(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("a", &1).await }).await?;
    assert!(c.token().is_some());
    let session = c.begin();
    session.get::<i32>("a").await?;
    session.delete("a").await?;
    assert_eq!(c.finish(&session).await?, TokenUpdate::Remove);
    assert_eq!(c.token(), None);
    Ok(())
}

/// `commit` twice does nothing the second time.
pub async fn second_commit_does_nothing(kit: Kit) -> Result<(), Error> {
    let c = kit.client();
    let s = c.begin();
    s.set("a", &1).await?;
    assert!(matches!(s.commit().await?, TokenUpdate::Send(_)));
    let saves = kit.calls().saves;
    assert_eq!(s.commit().await?, TokenUpdate::Keep);
    assert_eq!(kit.calls().saves, saves);
    Ok(())
}
