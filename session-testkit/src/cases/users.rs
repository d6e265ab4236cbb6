//! Users and devices: sign-in binds a session to a user, the user's sessions are
//! listed and revoked, and a signed-out session stays signed out.
//!
//! A store without an index of users' sessions is checked to say so
//! (`Error::NoUserIndex`) and, when its token carries the session, to document that
//! a copied cookie outlives sign-out.

use std::time::Duration;

use session_core::Error;
use tokio::time::sleep;

use crate::{Client, Kit};

/// Signs `c` in as `user`; gives the session's device id.
async fn login(c: &mut Client, user: &'static str) -> Result<String, Error> {
    c.request(|s| async move {
        s.login(user).await?;
        Ok(s.device().await?.unwrap_or_default())
    })
    .await
}

/// The user `c`'s next request is signed in as.
async fn user(c: &mut Client) -> Result<Option<String>, Error> {
    c.request(|s| async move { s.user().await }).await
}

/// The device ids `c`'s user has, each with whether it is `c`'s own.
async fn devices(c: &mut Client) -> Result<Vec<(String, bool)>, Error> {
    let listed = c.request(|s| async move { s.devices().await }).await?;
    Ok(listed.into_iter().map(|d| (d.id, d.current)).collect())
}

/// For a store without an index: listing answers `NoUserIndex`. True when the
/// store has none (the case has nothing more to check).
async fn without_index(kit: &Kit) -> Result<bool, Error> {
    if kit.has_user_index() {
        return Ok(false);
    }
    let mut c = kit.client();
    login(&mut c, "ada").await?;
    let listed = c.request(|s| async move { s.devices().await }).await;
    assert!(
        matches!(listed, Err(Error::NoUserIndex { .. })),
        "a store without an index must say so: {listed:?}"
    );
    Ok(true)
}

/// Each user sees their own live sessions, this one marked current.
pub async fn a_users_sessions_are_listed_with_the_current_one_marked(
    kit: Kit,
) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let (mut laptop, mut phone, mut other) = (kit.client(), kit.client(), kit.client());
    let on_laptop = login(&mut laptop, "ada").await?;
    let on_phone = login(&mut phone, "ada").await?;
    login(&mut other, "bob").await?;
    assert_ne!(on_laptop, on_phone);
    let mut seen = devices(&mut laptop).await?;
    seen.sort();
    let mut expected = vec![(on_laptop.clone(), true), (on_phone.clone(), false)];
    expected.sort();
    assert_eq!(seen, expected, "ada's sessions, from her laptop");
    assert_eq!(devices(&mut other).await?.len(), 1, "bob sees only his own");
    // A device id is never the token.
    for id in [&on_laptop, &on_phone] {
        assert_ne!(laptop.token(), Some(id.as_str()));
        assert_ne!(phone.token(), Some(id.as_str()));
    }
    // From outside a request too.
    let listed = kit.users().sessions("ada").await?;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|d| !d.current && d.created_ms > 0));
    assert!(listed.iter().all(|d| d.last_seen_ms >= d.created_ms));
    Ok(())
}

/// A revoked session is signed out on its next request; the others stay.
pub async fn a_revoked_session_is_gone_on_its_next_request(kit: Kit) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let (mut laptop, mut phone) = (kit.client(), kit.client());
    login(&mut laptop, "ada").await?;
    let on_phone = login(&mut phone, "ada").await?;
    let revoked = laptop
        .request(|s| async move { s.revoke_device(&on_phone).await })
        .await?;
    assert!(revoked);
    assert_eq!(
        user(&mut phone).await?,
        None,
        "the revoked phone is still signed in"
    );
    assert_eq!(user(&mut laptop).await?.as_deref(), Some("ada"));
    assert_eq!(devices(&mut laptop).await?.len(), 1);
    // Not one of the user's: nothing happens.
    let mut other = kit.client();
    let on_other = login(&mut other, "bob").await?;
    let taken = laptop
        .request(|s| async move { s.revoke_device(&on_other).await })
        .await?;
    assert!(!taken, "ada revoked a session of bob");
    assert_eq!(user(&mut other).await?.as_deref(), Some("bob"));
    Ok(())
}

/// "Sign out other devices" ends every other session of the user and keeps this one.
pub async fn revoking_the_others_keeps_the_current_session(kit: Kit) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let mut clients = vec![kit.client(), kit.client(), kit.client()];
    for c in &mut clients {
        login(c, "ada").await?;
    }
    let mut bob = kit.client();
    login(&mut bob, "bob").await?;
    let ended = clients[0]
        .request(|s| async move { s.revoke_other_devices().await })
        .await?;
    assert_eq!(ended, 2);
    assert_eq!(user(&mut clients[0]).await?.as_deref(), Some("ada"));
    for c in &mut clients[1..] {
        assert_eq!(user(c).await?, None, "another device is still signed in");
    }
    assert_eq!(devices(&mut clients[0]).await?.len(), 1);
    assert_eq!(user(&mut bob).await?.as_deref(), Some("bob"));
    Ok(())
}

/// A session past its idle timeout is never listed.
pub async fn expired_sessions_are_never_listed(kit: Kit) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let kit = kit.with_expiry(session_core::Expiry::new(Duration::from_millis(600)));
    let (mut old, mut new) = (kit.client(), kit.client());
    login(&mut old, "ada").await?;
    sleep(Duration::from_millis(1_000)).await;
    let current = login(&mut new, "ada").await?;
    assert_eq!(devices(&mut new).await?, vec![(current, true)]);
    Ok(())
}

/// The listing follows `regenerate` (same device, new token) and sign-out (gone),
/// and the token from before `regenerate` opens nothing.
pub async fn the_index_follows_regenerate_and_sign_out(kit: Kit) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let (mut laptop, mut phone) = (kit.client(), kit.client());
    let on_laptop = login(&mut laptop, "ada").await?;
    login(&mut phone, "ada").await?;
    let before = laptop.token().map(str::to_owned);
    laptop
        .request(|s| async move { s.regenerate().await })
        .await?;
    assert_ne!(laptop.token().map(str::to_owned), before);
    let seen = devices(&mut laptop).await?;
    assert!(
        seen.contains(&(on_laptop.clone(), true)),
        "regenerate lost the device: {seen:?}"
    );
    assert_eq!(seen.len(), 2);
    laptop.request(|s| async move { s.logout().await }).await?;
    assert_eq!(laptop.token(), None);
    let seen = devices(&mut phone).await?;
    assert_eq!(
        seen.len(),
        1,
        "a signed-out session is still listed: {seen:?}"
    );
    assert!(!seen.iter().any(|(id, _)| *id == on_laptop));
    Ok(())
}

/// A copy of the cookie taken before sign-out never opens the session again, on a
/// store that keeps an index (a cookie store with a registry included). A cookie
/// store without one documents the opposite: the copy opens until it expires.
pub async fn a_cookie_copied_before_sign_out_never_opens_it_again(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    login(&mut c, "ada").await?;
    let copy = c.token().map(str::to_owned);
    c.request(|s| async move { s.logout().await }).await?;
    let mut thief = kit.client();
    thief.set_token(copy);
    let opened = user(&mut thief).await?;
    if kit.has_user_index() || !kit.is_client_side() {
        assert_eq!(
            opened, None,
            "a copy from before sign-out opened the session"
        );
    } else {
        assert_eq!(
            opened.as_deref(),
            Some("ada"),
            "a cookie store without a registry keeps no state, so the copy still opens"
        );
    }
    Ok(())
}

/// A user's sessions are bounded: past the most an index keeps, signing in once
/// more ends the oldest, and the newest stay listed.
pub async fn a_users_sessions_are_bounded_and_the_oldest_end_first(kit: Kit) -> Result<(), Error> {
    if without_index(&kit).await? {
        return Ok(());
    }
    let bound = session_core::users::MAX_SESSIONS_PER_USER;
    let mut first = kit.client();
    login(&mut first, "ada").await?;
    // Older by more than a clock tick than every later one (creation times order
    // them; ties within a millisecond are broken by device id).
    sleep(Duration::from_millis(10)).await;
    let mut newest = None;
    for _ in 0..bound + 3 {
        let mut c = kit.client();
        login(&mut c, "ada").await?;
        newest = Some(c);
    }
    let listed = kit.users().sessions("ada").await?;
    assert_eq!(listed.len(), bound, "past the bound");
    assert_eq!(
        user(&mut first).await?,
        None,
        "the oldest session was not ended"
    );
    if let Some(mut c) = newest {
        assert_eq!(user(&mut c).await?.as_deref(), Some("ada"));
    }
    Ok(())
}
