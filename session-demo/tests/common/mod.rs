//! A real demo server on an ephemeral port, a real HTTP client, and the scenarios
//! every driver must pass over HTTP.
#![allow(dead_code)]

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use session_demo::About;
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
        $crate::http_scenarios!(@one $setup; cache_headers, session_responses_are_kept_out_of_shared_caches);
        $crate::http_scenarios!(@one $setup; duplicate_cookies, a_planted_duplicate_cookie_never_logs_a_user_out);
        $crate::http_scenarios!(@one $setup; control_characters, control_characters_in_keys_and_values_are_stored_exactly);
        $crate::http_scenarios!(@one $setup; other_scheme_origin, an_origin_of_another_scheme_is_refused);
        $crate::http_scenarios!(@one $setup; many_planted_cookies, fifteen_planted_cookies_before_the_real_one_never_log_a_user_out);
        $crate::http_scenarios!(@one $setup; cross_site_forms, cross_site_posts_are_refused_and_touch_no_session);
        $crate::http_scenarios!(@one $setup; utf8_cookie_beside, a_session_beside_a_cookie_of_utf8_text_is_found);
        $crate::http_scenarios!(@one $setup; users_and_devices, users_and_devices_answer_as_specified);
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

pub mod actix;
mod users;
#[allow(unused_imports)]
pub use users::*;

/// Serves the demo router behind `layer` on 127.0.0.1 with an ephemeral port;
/// returns its base URL. The server task ends with the test's runtime.
pub async fn serve(layer: SessionLayer) -> Result<String, std::io::Error> {
    serve_as(layer, About::new("test", false)).await
}

/// [`serve`], with the page describing the driver as `about` says.
pub async fn serve_as(layer: SessionLayer, about: About) -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, session_demo::router(layer, about)).await {
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

/// Every route of the JSON API, its status codes and bodies.
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

/// The cross-site request token in a page's forms.
pub fn form_token(html: &str) -> String {
    let marker = r#"name="_token" value=""#;
    html.split_once(marker)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The HTML page: counter, flash after redirect, sign in and out.
pub async fn the_page_counts_flashes_and_signs_in(base: &str) -> TestResult {
    let c = browser()?;
    let page = |c: Client| async move { c.get(format!("{base}/")).send().await?.text().await };
    assert!(page(c.clone())
        .await?
        .contains(r#"<span id="visits">1</span>"#));
    let html = page(c.clone()).await?;
    assert!(html.contains(r#"<span id="visits">2</span>"#));
    let token = form_token(&html);
    assert_eq!(
        token.len(),
        43,
        "the forms carry the session's token: {html}"
    );
    let r = c
        .post(format!("{base}/flash"))
        .form(&[("message", "<b>hi</b>"), ("_token", &token)])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = page(c.clone()).await?;
    assert!(
        html.contains("&lt;b&gt;hi&lt;/b&gt;"),
        "flash shown, escaped: {html}"
    );
    assert!(!page(c.clone()).await?.contains("id=\"flash\""));
    let r = c
        .post(format!("{base}/login"))
        .form(&[("username", "ada"), ("_token", &token)])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = page(c.clone()).await?;
    assert!(html.contains("Signed in as <strong>ada</strong>"));
    let rotated = form_token(&html);
    assert!(
        rotated.len() == 43 && rotated != token,
        "login rotates the form token"
    );
    let r = c
        .post(format!("{base}/logout"))
        .form(&[("_token", &token)])
        .send()
        .await?;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the token of before the login is void"
    );
    c.post(format!("{base}/logout"))
        .form(&[("_token", &rotated)])
        .send()
        .await?;
    let html = page(c.clone()).await?;
    assert!(html.contains("Not signed in") && html.contains("Signed out"));
    assert!(
        html.contains(r#"<span id="visits">1</span>"#),
        "logout starts a new session"
    );
    Ok(())
}

fn header_values(r: &Response, name: &str) -> String {
    r.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Caches: a response that sets or removes the session cookie says `private,
/// no-store`; a response of a request that read the session varies by `Cookie`.
pub async fn session_responses_are_kept_out_of_shared_caches(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    let r = call(&c, Method::PUT, u("/api/session/k"), Some("1")).await?;
    assert!(!set_cookies(&r).is_empty());
    let cache = header_values(&r, "cache-control");
    assert!(
        cache.contains("no-store") && cache.contains("private"),
        "{cache:?}"
    );
    let r = call(&c, Method::GET, u("/api/session/k"), None).await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        header_values(&r, "vary")
            .to_ascii_lowercase()
            .contains("cookie"),
        "a read must vary by cookie"
    );
    let r = call(&c, Method::GET, u("/"), None).await?;
    assert!(header_values(&r, "vary")
        .to_ascii_lowercase()
        .contains("cookie"));
    let r = call(&c, Method::POST, u("/api/session/invalidate"), None).await?;
    assert!(set_cookies(&r).iter().any(|c| c.contains("Max-Age=0")));
    assert!(header_values(&r, "cache-control").contains("no-store"));
    let r = call(&c, Method::GET, u("/health"), None).await?;
    assert!(set_cookies(&r).is_empty() && header_values(&r, "cache-control").is_empty());
    assert!(
        header_values(&r, "vary").is_empty(),
        "an untouched route does not vary by cookie"
    );
    Ok(())
}

/// Duplicate cookies: a garbage duplicate `session` cookie (before or after the real one) or a
/// forged chunk never logs the user out, for reads and for writes.
/// The Cookie header for the request after `r`: what `r` set, or `before` when it set
/// nothing (a server store's session changed in place keeps its cookie).
pub fn cookie_after(r: &Response, before: &str) -> String {
    let sent = cookie_header(r);
    if sent.is_empty() {
        before.to_owned()
    } else {
        sent
    }
}

pub async fn a_planted_duplicate_cookie_never_logs_a_user_out(base: &str) -> TestResult {
    let c = bare()?;
    let u = |p: &str| format!("{base}{p}");
    let r = c.put(u("/api/session/user")).body("\"ada\"").send().await?;
    let real = cookie_header(&r);
    assert!(real.starts_with("session="), "{real}");
    let planted = [
        format!("{real}; session=garbage"),
        format!("session=garbage; {real}"),
        format!("{real}; session.1=forged"),
        format!("session={}; {real}", "A".repeat(43)),
    ];
    for (i, cookie) in planted.iter().enumerate() {
        let r = c
            .get(u("/api/session/user"))
            .header(COOKIE, cookie)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{cookie}");
        assert!(
            !set_cookies(&r).iter().any(|c| c.starts_with("session=;")),
            "a duplicate made the real cookie be removed: {:?}",
            set_cookies(&r)
        );
        assert_eq!(r.json::<Value>().await?, json!("ada"));
        let r = c
            .put(u(&format!("/api/session/w{i}")))
            .header(COOKIE, cookie)
            .body("1")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let next = cookie_after(&r, &real);
        let r = c
            .get(u("/api/session"))
            .header(COOKIE, &next)
            .send()
            .await?;
        let all = r.json::<Value>().await?;
        assert_eq!(
            all["user"],
            json!("ada"),
            "a write beside a duplicate left the session: {all}"
        );
        assert_eq!(all[format!("w{i}")], json!(1), "{all}");
    }
    Ok(())
}

/// A key with a NUL in it (`a%00b` in the path) and a value holding `\u0000` are
/// user input like any other: stored and read back exactly, on every driver, never a
/// 5xx.
pub async fn control_characters_in_keys_and_values_are_stored_exactly(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    for (path, body, value) in [
        (
            "/api/session/a%00b",
            r#""nul \u0000 in a value""#,
            json!("nul \u{0} in a value"),
        ),
        (
            "/api/session/%01%1F",
            r#"{"k\u0000":"\u0007"}"#,
            json!({"k\u{0}": "\u{7}"}),
        ),
    ] {
        let r = call(&c, Method::PUT, u(path), Some(body)).await?;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "PUT {path} {body}");
        let r = call(&c, Method::GET, u(path), None).await?;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        assert_eq!(r.json::<Value>().await?, value, "GET {path}");
    }
    let all = call(&c, Method::GET, u("/api/session"), None).await?;
    assert_eq!(
        all.json::<Value>().await?["a\u{0}b"],
        json!("nul \u{0} in a value")
    );
    Ok(())
}

/// An `Origin` with the server's host and port but another scheme is another site:
/// an `https` origin posting to this `http` server is refused, and its own `http`
/// origin passes.
pub async fn an_origin_of_another_scheme_is_refused(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    let authority = base.trim_start_matches("http://");
    let r = c
        .put(u("/api/session/k"))
        .header("origin", format!("https://{authority}"))
        .body("1")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        set_cookies(&r).is_empty(),
        "a refused request touched the session"
    );
    let r = c
        .put(u("/api/session/k"))
        .header("origin", base)
        .body("1")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    Ok(())
}

/// A sibling domain plants many `session` cookies in front of the real one: five
/// garbage values, then fifteen token-shaped ones. The real session is still found,
/// and its cookie is never answered with a removal.
pub async fn fifteen_planted_cookies_before_the_real_one_never_log_a_user_out(
    base: &str,
) -> TestResult {
    let c = bare()?;
    let u = |p: &str| format!("{base}{p}");
    let r = c.put(u("/api/session/user")).body("\"ada\"").send().await?;
    let real = cookie_header(&r);
    let garbage: Vec<String> = (1..=5).map(|i| format!("session=g{i}")).collect();
    let shaped: Vec<String> = (0..15)
        .map(|i| {
            format!(
                "session={}",
                format!("{i:x}").repeat(43).get(..43).unwrap_or_default()
            )
        })
        .collect();
    for planted in [&garbage[..], &shaped[..]] {
        let cookie = format!("{}; {real}", planted.join("; "));
        let r = c
            .get(u("/api/session/user"))
            .header(COOKIE, &cookie)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{cookie}");
        assert!(
            !set_cookies(&r).iter().any(|c| c.contains("Max-Age=0")),
            "planted cookies made the real cookie be removed: {:?}",
            set_cookies(&r)
        );
        assert_eq!(r.json::<Value>().await?, json!("ada"), "{cookie}");
    }
    Ok(())
}

/// A cookie another part of the site set with text that is not ASCII (a script's
/// `document.cookie = "city=Zürich"`, which browsers send as UTF-8) travels in the
/// same `Cookie` header as the session's: the session is still found, read and
/// written.
pub async fn a_session_beside_a_cookie_of_utf8_text_is_found(base: &str) -> TestResult {
    let c = bare()?;
    let u = |p: &str| format!("{base}{p}");
    let r = c.put(u("/api/session/user")).body("\"ada\"").send().await?;
    let real = cookie_header(&r);
    assert!(real.starts_with("session="), "{real}");
    let header = reqwest::header::HeaderValue::from_bytes(
        format!("city=Zürich; {real}; note=née").as_bytes(),
    )?;
    let r = c
        .get(u("/api/session/user"))
        .header(COOKIE, header.clone())
        .send()
        .await?;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the session was lost beside a UTF-8 cookie"
    );
    assert_eq!(r.json::<Value>().await?, json!("ada"));
    let r = c
        .put(u("/api/counter/n"))
        .header(COOKIE, header)
        .body("1")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let next = cookie_after(&r, &real);
    let r = c
        .get(u("/api/session"))
        .header(COOKIE, &next)
        .send()
        .await?;
    let all = r.json::<Value>().await?;
    assert_eq!(
        (&all["user"], &all["n"]),
        (&json!("ada"), &json!(1)),
        "{all}"
    );
    Ok(())
}

/// Cross-site protection: an unsafe request a browser marks cross-site is refused with 403 and
/// touches no session; one without those headers passes; the page's forms carry a
/// token the handlers check.
pub async fn cross_site_posts_are_refused_and_touch_no_session(base: &str) -> TestResult {
    let c = browser()?;
    let u = |p: &str| format!("{base}{p}");
    let html = c.get(u("/")).send().await?.text().await?;
    let token = form_token(&html);
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://evil.example"),
    ] {
        let r = c
            .post(u("/login"))
            .header(name, value)
            .form(&[("username", "mallory"), ("_token", &token)])
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            set_cookies(&r).is_empty(),
            "a refused request touched the session"
        );
        let r = c
            .post(u("/api/session/invalidate"))
            .header(name, value)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = c
            .put(u("/api/session/user"))
            .header(name, value)
            .body("\"mallory\"")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let html = c.get(u("/")).send().await?.text().await?;
    assert!(
        html.contains("Not signed in"),
        "a cross-site form signed the user in"
    );
    // A form without the session's token (an old browser sends no Origin) is refused.
    let r = c
        .post(u("/login"))
        .form(&[("username", "mallory")])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The site's own form, and a same-origin fetch, pass.
    let own = base.trim_start_matches("http://").to_owned();
    let r = c
        .post(u("/login"))
        .header("origin", format!("http://{own}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "ada"), ("_token", &token)])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = c.get(u("/")).send().await?.text().await?;
    assert!(html.contains("Signed in as <strong>ada</strong>"));
    Ok(())
}

/// Signs in as ada through the page's forms, copies the signed-in cookie, signs out,
/// then sends the copy again: the page after the replay, and the page's note on
/// sign-out.
pub async fn replay_after_sign_out(
    base: &str,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let c = bare()?;
    let page = |cookie: String| {
        let c = c.clone();
        let url = format!("{base}/");
        async move {
            let r = c.get(url).header(COOKIE, cookie).send().await?;
            let next = cookie_header(&r);
            Ok::<_, reqwest::Error>((next, r.text().await?))
        }
    };
    let (first, html) = page(String::new()).await?;
    let r = c
        .post(format!("{base}/login"))
        .header(COOKIE, &first)
        .form(&[("username", "ada"), ("_token", &form_token(&html))])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let signed_in = cookie_after(&r, &first);
    let (next, html) = page(signed_in.clone()).await?;
    assert!(html.contains("Signed in as <strong>ada</strong>"), "{html}");
    // The page may have changed the session (its visit counter, its form token).
    let signed_in = if next.is_empty() { signed_in } else { next };
    let r = c
        .post(format!("{base}/logout"))
        .header(COOKIE, &signed_in)
        .form(&[("_token", &form_token(&html))])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, replayed) = page(signed_in).await?;
    let note = replayed
        .split("id=\"sign-out-note\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default()
        .to_owned();
    Ok((replayed, note))
}

/// A child process (the demo binary, a driver) stopped when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `url` answers with a success, for at most 30 s.
pub async fn wait_for(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("nothing answered at {url} within 30 s").into())
}
