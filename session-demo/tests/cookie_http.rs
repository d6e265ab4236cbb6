//! The demo over real HTTP on the cookie driver.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use session_cookie::{CookieStore, Key, Keyring};
use session_tower::SessionLayer;

async fn server() -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let store = CookieStore::new(Keyring::new(Key::generate()?, []));
    Ok(serve(SessionLayer::new(store)).await?)
}

http_scenarios!(async { server().await.map(|base| ((), base)) });

#[tokio::test]
async fn a_large_session_is_split_over_numbered_cookies() -> TestResult {
    let base = server().await?;
    let c = browser()?;
    let value = format!("\"{}\"", "x".repeat(6000));
    let r = call(
        &c,
        Method::PUT,
        format!("{base}/api/session/big"),
        Some(&value),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let names: Vec<String> = set_cookies(&r)
        .iter()
        .filter_map(|c| c.split('=').next().map(str::to_owned))
        .collect();
    assert_eq!(names, ["session", "session.1"]);
    for cookie in set_cookies(&r) {
        let pair = cookie.split(';').next().unwrap_or("");
        assert!(pair.len() <= 4096, "a cookie of {} bytes", pair.len());
    }
    let r = call(&c, Method::GET, format!("{base}/api/session/big"), None).await?;
    assert_eq!(r.json::<Value>().await?.as_str().map(str::len), Some(6000));
    // Shrinking removes the stale chunk.
    let r = call(&c, Method::DELETE, format!("{base}/api/session/big"), None).await?;
    let r2 = call(
        &c,
        Method::PUT,
        format!("{base}/api/session/small"),
        Some("1"),
    )
    .await?;
    let all: Vec<String> = set_cookies(&r)
        .into_iter()
        .chain(set_cookies(&r2))
        .collect();
    assert!(
        all.iter()
            .any(|c| c.starts_with("session.1=;") && c.contains("Max-Age=0")),
        "{all:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_oversized_session_is_a_413_and_the_old_cookie_survives() -> TestResult {
    let base = server().await?;
    let c = browser()?;
    call(
        &c,
        Method::PUT,
        format!("{base}/api/session/keep"),
        Some("\"me\""),
    )
    .await?;
    let value = format!("\"{}\"", "y".repeat(40_000));
    let r = call(
        &c,
        Method::PUT,
        format!("{base}/api/session/huge"),
        Some(&value),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        set_cookies(&r).is_empty(),
        "no cookie may be sent with the failure"
    );
    let r = call(&c, Method::GET, format!("{base}/api/session"), None).await?;
    assert_eq!(r.json::<Value>().await?, serde_json::json!({"keep": "me"}));
    Ok(())
}

/// What the page says sign-out does on the cookie driver is what it does: a copy of
/// the cookie taken before sign-out still opens the session, and the page says so
/// rather than claiming the session is destroyed.
#[tokio::test]
async fn the_page_says_truly_that_a_copied_cookie_outlives_sign_out() -> TestResult {
    let store = CookieStore::new(Keyring::new(Key::generate()?, []));
    let base = serve_as(
        SessionLayer::new(store),
        session_demo::About::new("cookie", false),
    )
    .await?;
    let (replayed, note) = replay_after_sign_out(&base).await?;
    assert!(
        replayed.contains("Signed in as <strong>ada</strong>"),
        "the cookie store revoked a copied cookie: then the page may say so"
    );
    assert!(note.contains("still opens the session"), "{note}");
    assert!(!note.contains("destroys"), "{note}");
    Ok(())
}
