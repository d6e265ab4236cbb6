//! A real demo server on an ephemeral port, a real HTTP client, and the scenarios
//! every driver must pass over HTTP.
#![allow(dead_code)]

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use session_tower::SessionLayer;

/// The scenarios every driver passes, as one `#[tokio::test]` each. `$setup` is an
/// async block giving `(guard, base_url)`; the guard (a server process, or `()`) lives
/// as long as the test.
#[macro_export]
macro_rules! http_scenarios {
    ($setup:expr) => {
        $crate::http_scenarios!(@one $setup; every_route, every_route_answers_as_specified);
        $crate::http_scenarios!(@one $setup; flash_life_cycle, flash_lives_exactly_one_reading_request);
        $crate::http_scenarios!(@one $setup; malformed_bodies, malformed_bodies_get_400_with_a_json_error);
        $crate::http_scenarios!(@one $setup; bad_cookies, bad_cookies_give_a_fresh_session);
        $crate::http_scenarios!(@one $setup; html_page, the_page_counts_flashes_and_signs_in);
    };
    (@one $setup:expr; $name:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $name() -> TestResult {
            let (_guard, base) = $setup.await?;
            $scenario(&base).await
        }
    };
}

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Serves the demo router behind `layer` on 127.0.0.1 with an ephemeral port;
/// returns its base URL. The server task ends with the test's runtime.
pub async fn serve(layer: SessionLayer) -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, session_demo::router(layer)).await {
            panic!("demo server failed: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

/// A browser-like client with its own cookie jar.
pub fn browser() -> Result<Client, reqwest::Error> {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A client without a jar, for hand-made Cookie headers.
pub fn bare() -> Result<Client, reqwest::Error> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

pub async fn call(
    c: &Client,
    method: Method,
    url: String,
    body: Option<&str>,
) -> Result<Response, reqwest::Error> {
    let mut r = c.request(method, url);
    if let Some(body) = body {
        r = r.body(body.to_owned());
    }
    r.send().await
}

pub fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// The `name=value` pairs a response sets (removals excluded), as a Cookie header.
pub fn cookie_header(r: &Response) -> String {
    set_cookies(r)
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every SPEC 9 route, its status codes and bodies.
pub async fn every_route_answers_as_specified(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    let r = call(&c, Method::GET, u("/api/session"), None).await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await?, json!({}));

    let r = call(
        &c,
        Method::PUT,
        u("/api/session/user"),
        Some(r#"{"name":"ada","id":7}"#),
    )
    .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cookie = set_cookies(&r).join("\n");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "Set-Cookie lacks {attr}: {cookie}");
    }

    let r = call(&c, Method::GET, u("/api/session/user"), None).await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await?, json!({"name":"ada","id":7}));
    assert_eq!(
        call(&c, Method::HEAD, u("/api/session/user"), None)
            .await?
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        call(&c, Method::HEAD, u("/api/session/nope"), None)
            .await?
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = call(&c, Method::GET, u("/api/session/nope"), None).await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.json::<Value>().await?["error"].is_string());

    assert_eq!(
        call(&c, Method::PUT, u("/api/session/tmp"), Some("1"))
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&c, Method::DELETE, u("/api/session/tmp"), None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&c, Method::GET, u("/api/session/tmp"), None)
            .await?
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        call(&c, Method::PUT, u("/api/session/once"), Some("\"x\""))
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = call(&c, Method::POST, u("/api/session/once/pull"), None).await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await?, json!("x"));
    assert_eq!(
        call(&c, Method::POST, u("/api/session/once/pull"), None)
            .await?
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        call(&c, Method::POST, u("/api/flash/note"), Some("\"hi\""))
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = call(&c, Method::GET, u("/api/session"), None).await?;
    assert_eq!(
        r.json::<Value>().await?,
        json!({"note":"hi","user":{"name":"ada","id":7}})
    );

    // regenerate: new token, same data.
    let before = cookie_header(&call(&c, Method::PUT, u("/api/session/k"), Some("1")).await?);
    let r = call(&c, Method::POST, u("/api/session/regenerate"), None).await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let after = cookie_header(&r);
    assert!(
        !after.is_empty() && after != before,
        "regenerate must send a new cookie"
    );
    let r = call(&c, Method::GET, u("/api/session/user"), None).await?;
    assert_eq!(r.json::<Value>().await?, json!({"name":"ada","id":7}));

    // flush: everything gone.
    assert_eq!(
        call(&c, Method::DELETE, u("/api/session"), None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = call(&c, Method::GET, u("/api/session"), None).await?;
    assert_eq!(r.json::<Value>().await?, json!({}));

    // invalidate: removal cookie, data gone.
    call(&c, Method::PUT, u("/api/session/user"), Some("\"bob\"")).await?;
    let r = call(&c, Method::POST, u("/api/session/invalidate"), None).await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("session=;") && c.contains("Max-Age=0")));
    let r = call(&c, Method::GET, u("/api/session"), None).await?;
    assert_eq!(r.json::<Value>().await?, json!({}));
    Ok(())
}

/// Flash: the next request sees it, the one after does not, and a route that never
/// touches the session neither sends a cookie nor ages the flash.
pub async fn flash_lives_exactly_one_reading_request(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    assert_eq!(
        call(&c, Method::POST, u("/api/flash/msg"), Some("\"saved\""))
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    for _ in 0..3 {
        let r = call(&c, Method::GET, u("/health"), None).await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            set_cookies(&r).is_empty(),
            "an untouched route sent a cookie"
        );
    }
    let r = call(&c, Method::GET, u("/api/session/msg"), None).await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await?, json!("saved"));
    let r = call(&c, Method::GET, u("/api/session/msg"), None).await?;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "flash must be gone two requests later"
    );
    Ok(())
}

/// Malformed JSON bodies get 400 with a JSON error.
pub async fn malformed_bodies_get_400_with_a_json_error(base: &str) -> TestResult {
    let c = browser()?;
    for (method, path, body) in [
        (Method::PUT, "/api/session/k", "{bad"),
        (Method::PUT, "/api/session/k", ""),
        (Method::POST, "/api/flash/k", "[1,"),
        (Method::PUT, "/api/counter/k", "\"one\""),
    ] {
        let r = call(&c, method.clone(), format!("{base}{path}"), Some(body)).await?;
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "{method} {path} {body:?}"
        );
        let v: Value = r.json().await?;
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    Ok(())
}

/// Cookies that are garbage, tampered or forged give a fresh session, never a 500.
pub async fn bad_cookies_give_a_fresh_session(base: &str) -> TestResult {
    let c = bare()?;
    let long = format!("session={}", "A".repeat(3000));
    for cookie in [
        "session=garbage",
        "session=",
        "session=%%%",
        long.as_str(),
        "session.1=x",
        "session=a; session=b",
    ] {
        let r = c
            .get(format!("{base}/api/session"))
            .header(COOKIE, cookie)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "cookie {cookie:?}");
        assert_eq!(r.json::<Value>().await?, json!({}));
        let r = c
            .put(format!("{base}/api/session/k"))
            .header(COOKIE, cookie)
            .body("1")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let fresh = cookie_header(&r);
        assert!(!fresh.is_empty());
        let r = c
            .get(format!("{base}/api/session/k"))
            .header(COOKIE, fresh)
            .send()
            .await?;
        assert_eq!(r.json::<Value>().await?, json!(1));
    }
    Ok(())
}

/// The HTML page: counter, flash after redirect, sign in and out.
pub async fn the_page_counts_flashes_and_signs_in(base: &str) -> TestResult {
    let c = browser()?;
    let page = |c: Client| async move { c.get(format!("{base}/")).send().await?.text().await };
    assert!(page(c.clone())
        .await?
        .contains(r#"<span id="visits">1</span>"#));
    assert!(page(c.clone())
        .await?
        .contains(r#"<span id="visits">2</span>"#));
    let r = c
        .post(format!("{base}/flash"))
        .form(&[("message", "<b>hi</b>")])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = page(c.clone()).await?;
    assert!(
        html.contains("&lt;b&gt;hi&lt;/b&gt;"),
        "flash shown, escaped: {html}"
    );
    assert!(!page(c.clone()).await?.contains("id=\"flash\""));
    c.post(format!("{base}/login"))
        .form(&[("username", "ada")])
        .send()
        .await?;
    let html = page(c.clone()).await?;
    assert!(html.contains("Signed in as <strong>ada</strong>"));
    c.post(format!("{base}/logout")).send().await?;
    let html = page(c.clone()).await?;
    assert!(html.contains("Not signed in") && html.contains("Signed out"));
    assert!(
        html.contains(r#"<span id="visits">1</span>"#),
        "logout starts a new session"
    );
    Ok(())
}
