//! Bad, forged and unknown tokens.

use session_core::{Error, SessionId};

use crate::Kit;

/// Tokens of every wrong shape give a fresh, empty session: no error, no panic.
pub async fn malformed_tokens_give_a_fresh_session(kit: Kit) -> Result<(), Error> {
    let long = "A".repeat(10_000);
    let plus = format!("{}+", "a".repeat(42));
    let bad = [
        "",
        "x",
        "..",
        "%00",
        "\u{0}",
        "é".repeat(50).as_str(),
        long.as_str(),
        plus.as_str(),
        "session=abc; other=1",
    ]
    .map(str::to_owned);
    for token in bad {
        let mut c = kit.client();
        c.set_token(Some(token.clone()));
        let v = c
            .request(|s| async move { Ok((s.get::<String>("user").await?, s.keys().await?)) })
            .await?;
        assert_eq!(v, (None, vec![]), "token {token:?}");
        super::sign_in(&mut c).await?;
        assert_ne!(c.token(), Some(token.as_str()));
        let v = super::user_of(&mut c).await?;
        assert_eq!(
            v.as_deref(),
            Some("ada"),
            "a fresh session works after token {token:?}"
        );
    }
    Ok(())
}

/// A well-formed token the store never issued opens nothing, and is never adopted
/// as the new session's token (no session fixation).
pub async fn unknown_token_gives_a_fresh_session_under_a_new_token(kit: Kit) -> Result<(), Error> {
    let forged = SessionId::generate()?.to_string();
    let mut c = kit.client();
    c.set_token(Some(forged.clone()));
    let v = super::user_of(&mut c).await?;
    assert_eq!(v, None);
    super::sign_in(&mut c).await?;
    assert!(c.token().is_some());
    assert_ne!(
        c.token(),
        Some(forged.as_str()),
        "a client-chosen token was adopted"
    );
    Ok(())
}

/// A token from another session's store entry cannot be altered into a third one: one
/// changed character makes it unknown.
pub async fn altered_token_opens_nothing(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let token = c.token().map(str::to_owned).unwrap_or_default();
    let mut bytes = token.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8_lossy(&bytes).into_owned();
    let mut thief = kit.client();
    thief.set_token(Some(altered));
    let v = super::user_of(&mut thief).await?;
    assert_eq!(v, None);
    Ok(())
}
