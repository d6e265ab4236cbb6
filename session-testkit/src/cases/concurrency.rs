//! Concurrent requests on one session.

use session_core::Error;

use crate::Kit;

/// Two concurrent requests that change different keys both keep their writes in a
/// store that shares state; a store that declares it does not (the cookie store, a
/// whole-record store) keeps the last save whole.
pub async fn concurrent_requests_changing_different_keys_keep_both(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("base", &0).await })
        .await?;
    let mut a = c.clone();
    let mut b = c.clone();
    let sa = a.begin();
    let sb = b.begin();
    sa.get::<i32>("base").await?;
    sb.get::<i32>("base").await?;
    sa.set("from_a", &1).await?;
    sb.set("from_b", &2).await?;
    let (ra, rb) = tokio::join!(a.finish(&sa), b.finish(&sb));
    ra?;
    rb?;
    let read = |mut client: crate::Client| async move {
        client
            .request(|s| async move {
                Ok((
                    s.get::<i32>("base").await?,
                    s.get::<i32>("from_a").await?,
                    s.get::<i32>("from_b").await?,
                ))
            })
            .await
    };
    if kit.merges() {
        assert_eq!(read(b.clone()).await?, (Some(0), Some(1), Some(2)));
        assert_eq!(read(a.clone()).await?, (Some(0), Some(1), Some(2)));
    } else {
        assert_eq!(read(b).await?, (Some(0), None, Some(2)));
    }
    Ok(())
}

/// Two concurrent requests that change the same key: the last to save wins.
pub async fn concurrent_writes_to_one_key_last_writer_wins(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("k", &0).await }).await?;
    let mut a = c.clone();
    let mut b = c.clone();
    let sa = a.begin();
    let sb = b.begin();
    sa.get::<i32>("k").await?;
    sb.get::<i32>("k").await?;
    sa.set("k", &1).await?;
    sb.set("k", &2).await?;
    a.finish(&sa).await?;
    b.finish(&sb).await?;
    let v = b
        .request(|s| async move { s.get::<i32>("k").await })
        .await?;
    assert_eq!(v, Some(2));
    Ok(())
}

/// A request that saves after another request destroyed the session (logout in
/// another tab) does not bring the destroyed data back.
pub async fn save_never_brings_back_a_destroyed_session(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let old = c.token().map(str::to_owned);
    let mut slow = c.clone();
    let slow_session = slow.begin();
    assert_eq!(
        slow_session.get::<String>("user").await?.as_deref(),
        Some("ada")
    );
    // Another tab logs out.
    c.request(|s| async move { s.invalidate().await }).await?;
    slow_session.set("cart", &vec!["apple"]).await?;
    slow.finish(&slow_session).await?;
    let v = slow
        .request(|s| async move {
            Ok((
                s.get::<String>("user").await?,
                s.get::<Vec<String>>("cart").await?,
            ))
        })
        .await?;
    if !kit.is_client_side() {
        assert_eq!(v.0, None, "the destroyed session's data came back");
        assert_ne!(
            slow.token().map(str::to_owned),
            old,
            "the destroyed token was revived"
        );
        let mut thief = kit.client();
        thief.set_token(old);
        let user = super::user_of(&mut thief).await?;
        assert_eq!(user, None);
    } else {
        // A client-side store cannot know another request destroyed the session: the
        // slow request's cookie still carries what it loaded.
        assert_eq!(v.0.as_deref(), Some("ada"));
    }
    assert_eq!(v.1, Some(vec!["apple".to_owned()]));
    Ok(())
}
