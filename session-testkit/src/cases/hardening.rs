//! Production guarantees: the size cap, atomic counters, lossless
//! `regenerate`, complete removal, and the current expiry policy.

use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, TokenUpdate};

use crate::Kit;

/// A save that would make the session larger than the store's cap is refused with
/// `TooLarge` and stores nothing of the request; the session stays as it was.
pub async fn oversized_session_is_refused_and_nothing_of_it_stored(kit: Kit) -> Result<(), Error> {
    let limit = kit.max_session_bytes();
    let mut c = kit.client();
    c.request(|s| async move { s.set("small", "kept").await })
        .await?;
    let before = c.token().map(str::to_owned);
    let huge = "x".repeat(limit + 1);
    let session = c.begin();
    session.set("note", "also refused").await?;
    session.set("huge", &huge).await?;
    match c.finish(&session).await {
        Err(Error::TooLarge { size, limit: l }) => assert!(size > l && l <= limit),
        other => panic!("a session over {limit} bytes was not refused: {other:?}"),
    }
    assert_eq!(
        c.token().map(str::to_owned),
        before,
        "the refused save changed the token"
    );
    let (small, note, huge) = c
        .request(|s| async move {
            Ok((
                s.get::<String>("small").await?,
                s.get::<String>("note").await?,
                s.has("huge").await?,
            ))
        })
        .await?;
    assert_eq!(small.as_deref(), Some("kept"));
    assert_eq!(
        (note, huge),
        (None, false),
        "part of a refused request was stored"
    );
    Ok(())
}

/// Concurrent increments of one counter are never lost in a store that merges:
/// rounds of 20 concurrent requests end at exactly 20 more each. A store that does
/// not share state between requests counts sequential increments exactly.
pub async fn concurrent_increments_are_never_lost(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("user", "ada").await })
        .await?;
    if !kit.merges() {
        for _ in 0..20 {
            c.request(|s| async move { s.increment("n", 1).await })
                .await?;
        }
        let n = c
            .request(|s| async move { s.get::<i64>("n").await })
            .await?;
        assert_eq!(n, Some(20));
        return Ok(());
    }
    for round in 1..=5i64 {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let mut client = c.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .request(|s| async move { s.increment("n", 1).await })
                    .await
            }));
        }
        for task in tasks {
            task.await
                .map_err(|e| Error::config("test", e.to_string()))??;
        }
        let n = c
            .request(|s| async move { s.get::<i64>("n").await })
            .await?;
        assert_eq!(n, Some(20 * round), "increments were lost in round {round}");
    }
    let user = c
        .request(|s| async move { s.get::<String>("user").await })
        .await?;
    assert_eq!(user.as_deref(), Some("ada"));
    Ok(())
}

/// `regenerate` racing writers: every write answered without a new token is in the
/// regenerated session (regenerate carries over everything stored under the old id
/// up to the moment it destroys it). Only stores that share state can race.
pub async fn regenerate_racing_writes_loses_none_of_them(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("user", "ada").await })
        .await?;
    if !kit.merges() {
        c.request(|s| async move { s.regenerate().await }).await?;
        let user = super::user_of(&mut c).await?;
        assert_eq!(user.as_deref(), Some("ada"));
        return Ok(());
    }
    for round in 0..5 {
        let old = c.token().map(str::to_owned);
        let mut writers = Vec::new();
        for w in 0..6 {
            let client = c.clone();
            writers.push(tokio::spawn(async move {
                let mut kept = Vec::new();
                for i in 0..8 {
                    let mut client = client.clone();
                    let sent = client.token().map(str::to_owned);
                    let key = format!("r{round}w{w}i{i}");
                    let session = client.begin();
                    session.set(&key, &i).await?;
                    // Acknowledged under the token the writer sent (not moved to a
                    // fresh session because the old one was gone).
                    let acknowledged = match client.finish(&session).await? {
                        TokenUpdate::Keep => true,
                        TokenUpdate::Send(token) => Some(token) == sent,
                        TokenUpdate::Remove => false,
                    };
                    if acknowledged {
                        kept.push(key);
                    }
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(kept)
            }));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        c.request(|s| async move {
            s.get::<String>("user").await?;
            s.regenerate().await
        })
        .await?;
        assert_ne!(
            c.token().map(str::to_owned),
            old,
            "regenerate kept the token"
        );
        let mut acknowledged = Vec::new();
        for writer in writers {
            let kept = writer
                .await
                .map_err(|e| Error::config("test", e.to_string()))??;
            acknowledged.extend(kept);
        }
        let keys = c.request(|s| async move { s.keys().await }).await?;
        let old_keys = {
            let mut thief = kit.client();
            thief.set_token(old.clone());
            thief.request(|s| async move { s.keys().await }).await?
        };
        assert!(
            old_keys.is_empty(),
            "the old id still opens a session: {old_keys:?}"
        );
        let lost: Vec<&String> = acknowledged.iter().filter(|k| !keys.contains(k)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged writes lost: {lost:?}"
        );
    }
    Ok(())
}

/// A request that leaves a stored session empty removes it, even when it only
/// deletes (without reading) its last key: the token is removed and opens nothing.
pub async fn write_only_delete_of_the_last_key_removes_the_session(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    c.request(|s| async move { s.set("only", &1).await })
        .await?;
    let token = c.token().map(str::to_owned);
    let session = c.begin();
    session.delete("only").await?;
    let update = c.finish(&session).await?;
    assert_eq!(
        update,
        TokenUpdate::Remove,
        "an emptied session kept its cookie"
    );
    if !kit.is_client_side() {
        let mut thief = kit.client();
        thief.set_token(token.clone());
        let keys = thief.request(|s| async move { s.keys().await }).await?;
        assert!(keys.is_empty(), "the old token still opens {keys:?}");
        // Nothing is left under the old token in the store.
        let token = token.ok_or_else(|| Error::config("test", "no token was issued"))?;
        let stored = kit
            .store()
            .load(&token, &session_core::Expiry::default())
            .await?;
        assert_eq!(stored, None, "the emptied session is still stored");
    }
    Ok(())
}

/// The server applies its current lifetime to sessions already issued: lowering it
/// ends sessions older than the new lifetime at their next request, whatever the
/// store (a cookie included). A store that seals its deadline in the token (the
/// cookie store) applies a lowered idle timeout too.
pub async fn a_lowered_policy_shortens_sessions_already_issued(kit: Kit) -> Result<(), Error> {
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    let token = c.token().map(str::to_owned);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let stricter = kit
        .clone()
        .with_expiry(session_core::Expiry::default().with_lifetime(Duration::from_millis(40)));
    let mut old = stricter.client();
    old.set_token(token.clone());
    assert_eq!(
        super::user_of(&mut old).await?,
        None,
        "a lowered lifetime was not applied"
    );
    if kit.is_client_side() {
        let mut c = kit.client();
        super::sign_in(&mut c).await?;
        tokio::time::sleep(Duration::from_millis(60)).await;
        let idle = kit
            .clone()
            .with_expiry(session_core::Expiry::new(Duration::from_millis(40)));
        let mut old = idle.client();
        old.set_token(c.token().map(str::to_owned));
        assert_eq!(
            super::user_of(&mut old).await?,
            None,
            "a lowered timeout was not applied"
        );
    }
    Ok(())
}

/// Many concurrent writers, each under the cap but together well over it, never
/// leave a session larger than the cap: the check and the write are one atomic step
/// in the store. The writers that would pass it get `TooLarge`; every write that
/// was acknowledged is kept (in a store that merges) and nothing else is.
pub async fn concurrent_writers_never_pass_the_size_cap_together(kit: Kit) -> Result<(), Error> {
    const WRITERS: usize = 12;
    let limit = kit.max_session_bytes();
    let each = limit / 4;
    let mut c = kit.client();
    c.request(|s| async move { s.set("user", "ada").await })
        .await?;
    // Every writer loads first (a handler that reads, then writes), then all save
    // at once.
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let mut client = c.clone();
        let start = start.clone();
        writers.spawn(async move {
            let session = client.begin();
            session.get::<String>("user").await?;
            session.set(&format!("w{i:02}"), &"x".repeat(each)).await?;
            start.wait().await;
            let saved = client.finish(&session).await;
            Ok::<_, Error>((i, saved, client.token().map(str::to_owned)))
        });
    }
    let mut accepted = Vec::new();
    let mut tokens = vec![c.token().map(str::to_owned)];
    while let Some(joined) = writers.join_next().await {
        let (i, saved, token) = joined.map_err(|e| Error::Contract {
            rule: if e.is_panic() {
                "a writer panicked"
            } else {
                "a writer was cancelled"
            },
        })??;
        match saved {
            Ok(_) => {
                accepted.push(i);
                tokens.push(token);
            }
            Err(Error::TooLarge { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    // Every session a client can now reach is within the cap.
    for token in tokens {
        let mut reader = kit.client();
        reader.set_token(token);
        let all = reader.request(|s| async move { s.all().await }).await?;
        let size: usize = all
            .iter()
            .map(|(k, v)| k.len() + v.to_string().len() + 1)
            .sum();
        assert!(
            size <= limit,
            "{} writers of {each} bytes left a session of {size} bytes (cap {limit})",
            accepted.len()
        );
        if kit.merges() {
            let kept: Vec<usize> = (0..WRITERS)
                .filter(|i| all.contains_key(&format!("w{i:02}")))
                .collect();
            accepted.sort_unstable();
            assert_eq!(kept, accepted, "acknowledged writes and stored ones differ");
        }
    }
    Ok(())
}

/// Keys and values with control characters (NUL included), which some backends
/// cannot hold as they are, are stored and read back exactly.
pub async fn control_characters_in_keys_and_values_round_trip(kit: Kit) -> Result<(), Error> {
    let pairs = [
        ("a\u{0}b", "nul \u{0} inside"),
        ("\u{0}", "\u{0}"),
        ("\u{1}\u{1f}\u{7f}", "bell \u{7} escape \u{1b}"),
        ("\u{1}0", "\u{1}\u{1}"),
        ("line\nbreak\ttab\r", "\u{0}\u{0}\u{1}"),
        ("é\u{0}🦀", "\u{ffff}\u{fffe}"),
    ];
    let mut c = kit.client();
    c.request(|s| async move {
        for (k, v) in pairs {
            s.set(k, v).await?;
        }
        s.flash("flash\u{0}key", "flash\u{0}value").await
    })
    .await?;
    // A write-only request (a merge, where the store merges) and a read of it.
    c.request(|s| async move { s.set("later\u{0}", "\u{0}later").await })
        .await?;
    c.request(|s| async move {
        for (k, v) in pairs {
            assert_eq!(s.get::<String>(k).await?.as_deref(), Some(v), "key {k:?}");
        }
        assert_eq!(
            s.get::<String>("flash\u{0}key").await?.as_deref(),
            Some("flash\u{0}value")
        );
        assert_eq!(
            s.get::<String>("later\u{0}").await?.as_deref(),
            Some("\u{0}later")
        );
        let mut keys = s.keys().await?;
        keys.sort();
        assert!(keys.iter().any(|k| k == "a\u{0}b"), "{keys:?}");
        Ok(())
    })
    .await?;
    // Removing such a key removes exactly it.
    c.request(|s| async move { s.delete("a\u{0}b").await })
        .await?;
    let (gone, kept) = c
        .request(|s| async move { Ok((s.has("a\u{0}b").await?, s.has("\u{0}").await?)) })
        .await?;
    assert_eq!((gone, kept), (false, true));
    Ok(())
}
