//! `regenerate` and `invalidate`.

use session_core::{Error, TokenUpdate};

use crate::Kit;

/// `regenerate` sends a new token that carries the same data.
pub async fn regenerate_changes_the_token_and_keeps_the_data(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move {
        s.set("user", "ada").await?;
        s.flash("msg", "hi").await
    })
    .await?;
    let old = c.token().map(str::to_owned);
    c.request(|s| async move { s.regenerate().await }).await?;
    assert!(c.token().is_some());
    assert_ne!(
        c.token().map(str::to_owned),
        old,
        "regenerate must change the token"
    );
    let v = c
        .request(|s| async move {
            Ok((
                s.get::<String>("user").await?,
                s.get::<String>("msg").await?,
            ))
        })
        .await?;
    assert_eq!(v, (Some("ada".into()), Some("hi".into())));
    Ok(())
}

/// After `regenerate` the old token opens nothing in a store that revokes tokens; a
/// client-side store declares it cannot, and the old token still opens its old data.
pub async fn regenerate_destroys_the_old_token(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let old = c.token().map(str::to_owned);
    c.request(|s| async move { s.regenerate().await }).await?;
    assert_old_token_state(&kit, old, "regenerate").await?;
    Ok(())
}

/// `invalidate` empties the session, destroys it and tells the client to drop the
/// cookie.
pub async fn invalidate_empties_and_destroys_the_session(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let old = c.token().map(str::to_owned);
    let s = c.begin();
    s.invalidate().await?;
    assert_eq!(s.keys().await?, Vec::<String>::new());
    assert_eq!(c.finish(&s).await?, TokenUpdate::Remove);
    assert_eq!(c.token(), None);
    assert_old_token_state(&kit, old, "invalidate").await?;
    Ok(())
}

/// Writes after `invalidate` in the same request go to a new session.
pub async fn writes_after_invalidate_go_to_a_new_session(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let old = c.token().map(str::to_owned);
    c.request(|s| async move {
        s.invalidate().await?;
        s.flash("msg", "signed out").await
    })
    .await?;
    assert!(c.token().is_some());
    assert_ne!(c.token().map(str::to_owned), old);
    let v = c
        .request(|s| async move {
            Ok((
                s.get::<String>("user").await?,
                s.get::<String>("msg").await?,
            ))
        })
        .await?;
    assert_eq!(v, (None, Some("signed out".into())));
    Ok(())
}

/// The old token, replayed by someone who kept it, opens nothing in a store that
/// revokes tokens; in a client-side store it still opens its old data (`user` = ada).
async fn assert_old_token_state(kit: &Kit, old: Option<String>, after: &str) -> Result<(), Error> {
    let mut thief = kit.client();
    thief.set_token(old);
    let v = super::user_of(&mut thief).await?;
    if !kit.is_client_side() {
        assert_eq!(v, None, "the old token must be dead after {after}");
    } else {
        assert_eq!(
            v.as_deref(),
            Some("ada"),
            "client-side stores cannot revoke tokens"
        );
    }
    Ok(())
}
