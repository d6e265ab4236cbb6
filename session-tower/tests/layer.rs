//! The layer's documented choices, over a real server and client: no save on 5xx by
//! default (and the switch to save anyway), no cookie for routes that never touch the
//! session (the kit counts their store calls: zero), and a clear 500 when the layer is
//! missing.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use session_core::MemoryStore;
use session_tower::{Session, SessionLayer};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn serve(app: Router) -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

async fn fails_after_writing(session: Session) -> Result<StatusCode, session_tower::Error> {
    session.set("half", "done").await?;
    Ok(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn writes(session: Session) -> Result<&'static str, session_tower::Error> {
    session.set("k", &1).await?;
    Ok("ok")
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/fail", get(fails_after_writing))
        .route("/write", get(writes))
        .route("/static", get(|| async { "no session here" }))
        .layer(layer)
}

#[tokio::test]
async fn a_5xx_answer_is_not_saved_by_default() -> TestResult {
    let store = Arc::new(MemoryStore::new());
    let base = serve(app(SessionLayer::from_arc(store.clone()))).await?;
    let r = reqwest::get(format!("{base}/fail")).await?;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "a failed request set a cookie"
    );
    assert!(store.is_empty(), "a failed request saved its session");
    Ok(())
}

#[tokio::test]
async fn save_on_server_error_saves_5xx_answers() -> TestResult {
    let store = Arc::new(MemoryStore::new());
    let base = serve(app(
        SessionLayer::from_arc(store.clone()).save_on_server_error(true)
    ))
    .await?;
    let r = reqwest::get(format!("{base}/fail")).await?;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.headers().get("set-cookie").is_some());
    assert_eq!(store.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_route_that_never_touches_the_session_sends_no_cookie() -> TestResult {
    let store = Arc::new(MemoryStore::new());
    let base = serve(app(SessionLayer::from_arc(store.clone()))).await?;
    let r = reqwest::get(format!("{base}/write")).await?;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .ok_or("no session cookie")?;
    assert_eq!(store.len(), 1);
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/static"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("set-cookie").is_none());
    Ok(())
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500() -> TestResult {
    let base = serve(Router::new().route("/write", get(writes))).await?;
    let r = reqwest::get(format!("{base}/write")).await?;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    Ok(())
}

async fn remember_me(session: Session) -> Result<&'static str, session_tower::Error> {
    session.set("user", "ada").await?;
    session.remember(true).await?;
    Ok("remembered")
}

async fn forget_me(session: Session) -> Result<&'static str, session_tower::Error> {
    session.remember(false).await?;
    Ok("forgotten")
}

async fn reads(session: Session) -> Result<String, session_tower::Error> {
    Ok(session.get::<String>("user").await?.unwrap_or_default())
}

fn remember_app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/remember", get(remember_me))
        .route("/forget", get(forget_me))
        .route("/read", get(reads))
        .route("/write", get(writes))
        .layer(layer)
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session="))
        .map(str::to_owned)
}

fn max_age(cookie: &str) -> Option<u64> {
    cookie
        .split(';')
        .find_map(|attr| attr.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
}

/// Persistent cookies: by default the cookie lasts for the browser session; `remember(true)`
/// makes it persistent (Max-Age: the remaining idle timeout), kept so on later
/// requests (a read a moment later need not send it again: its Max-Age holds);
/// `remember(false)` makes it a session cookie again.
#[tokio::test]
async fn remember_sends_a_persistent_cookie_until_forgotten() -> TestResult {
    let base = serve(remember_app(SessionLayer::new(MemoryStore::new()))).await?;
    let c = reqwest::Client::new();
    let r = c.get(format!("{base}/write")).send().await?;
    let plain = session_cookie(&r).ok_or("no cookie")?;
    assert_eq!(
        max_age(&plain),
        None,
        "a default cookie must end with the browser: {plain}"
    );
    let pair = plain.split(';').next().unwrap_or_default().to_owned();
    let r = c
        .get(format!("{base}/remember"))
        .header("cookie", &pair)
        .send()
        .await?;
    let remembered = session_cookie(&r).ok_or("remember sent no cookie")?;
    let age = max_age(&remembered).ok_or("remember sent no Max-Age")?;
    assert!((3590..=3600).contains(&age), "{remembered}");
    let pair = remembered.split(';').next().unwrap_or_default().to_owned();
    let r = c
        .get(format!("{base}/read"))
        .header("cookie", &pair)
        .send()
        .await?;
    assert_eq!(
        session_cookie(&r),
        None,
        "a read a moment after remember re-sent a cookie whose Max-Age holds"
    );
    assert_eq!(r.text().await?, "ada");
    let r = c
        .get(format!("{base}/forget"))
        .header("cookie", &pair)
        .send()
        .await?;
    let forgotten = session_cookie(&r).ok_or("forget sent no cookie")?;
    assert_eq!(max_age(&forgotten), None, "{forgotten}");
    Ok(())
}

async fn counts(session: Session) -> Result<String, session_tower::Error> {
    Ok(session.increment("n", 1).await?.to_string())
}

/// A server store's session changed in place keeps its token: the client's cookie
/// already holds it, so the answer sets no cookie (and needs no `no-store`), while
/// the change is kept; a remembered session's cookie too, until its expiry moves by
/// a meaningful share (see the next test).
#[tokio::test]
async fn a_changed_server_session_is_not_sent_its_own_cookie_again() -> TestResult {
    let app = Router::new()
        .route("/count", get(counts))
        .route("/remember", get(remember_me))
        .layer(SessionLayer::new(MemoryStore::new()));
    let base = serve(app).await?;
    let c = reqwest::Client::new();
    let r = c.get(format!("{base}/count")).send().await?;
    let first = session_cookie(&r).ok_or("a new session sent no cookie")?;
    let pair = first.split(';').next().unwrap_or_default().to_owned();
    for n in 2..=3 {
        let r = c
            .get(format!("{base}/count"))
            .header("cookie", &pair)
            .send()
            .await?;
        assert_eq!(session_cookie(&r), None, "the same token was sent again");
        assert_eq!(r.headers().get("cache-control"), None);
        assert_eq!(
            r.headers().get("vary").and_then(|v| v.to_str().ok()),
            Some("Cookie")
        );
        assert_eq!(r.text().await?, n.to_string(), "the change was kept");
    }
    c.get(format!("{base}/remember"))
        .header("cookie", &pair)
        .send()
        .await?;
    let r = c
        .get(format!("{base}/count"))
        .header("cookie", &pair)
        .send()
        .await?;
    assert_eq!(
        session_cookie(&r),
        None,
        "a change a moment after remember re-sent the cookie"
    );
    assert_eq!(r.text().await?, "4", "the change was kept");
    Ok(())
}

/// A persistent cookie is sent again when its expiry moves by a meaningful share
/// (over a hundredth of the idle timeout, the store's own refresh rule), not on
/// every request: with a 30 s idle timeout, a read at once sends nothing, a read
/// 0.5 s later (past 0.3 s) sends the cookie with its Max-Age moved, and the read
/// right after that sends nothing again. On a server store and the cookie store.
#[tokio::test]
async fn a_persistent_cookie_is_sent_again_only_when_its_expiry_moves() -> TestResult {
    let key = session_tower::Key::from_bytes([3; 32]);
    let cookie_store = session_tower::CookieStore::new(session_tower::Keyring::new(key, []));
    for layer in [
        SessionLayer::new(MemoryStore::new()),
        SessionLayer::new(cookie_store),
    ] {
        let layer = layer.with_inactivity_expiry(std::time::Duration::from_secs(30));
        let base = serve(remember_app(layer)).await?;
        let c = reqwest::Client::new();
        let r = c.get(format!("{base}/remember")).send().await?;
        let first = session_cookie(&r).ok_or("no cookie")?;
        assert_eq!(max_age(&first), Some(30), "{first}");
        let mut pair = first.split(';').next().unwrap_or_default().to_owned();
        let read = |pair: String| {
            let c = c.clone();
            let base = base.clone();
            async move {
                c.get(format!("{base}/read"))
                    .header("cookie", pair)
                    .send()
                    .await
            }
        };
        let r = read(pair.clone()).await?;
        assert_eq!(session_cookie(&r), None, "sent again at once");
        assert_eq!(r.text().await?, "ada");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let r = read(pair.clone()).await?;
        let moved = session_cookie(&r).ok_or("not sent again once the expiry moved")?;
        assert!(
            max_age(&moved).is_some_and(|a| (29..=30).contains(&a)),
            "{moved}"
        );
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("private, no-store")
        );
        assert_eq!(r.text().await?, "ada");
        pair = moved.split(';').next().unwrap_or_default().to_owned();
        let r = read(pair).await?;
        assert_eq!(session_cookie(&r), None, "sent again right after the move");
    }
    Ok(())
}

/// `[cookie] persistent = true`: every session cookie is persistent.
#[tokio::test]
async fn persistent_by_configuration_sends_max_age_on_every_cookie() -> TestResult {
    let layer = SessionLayer::new(MemoryStore::new())
        .with_cookie(session_tower::CookieOptions::default().with_persistent(true));
    let base = serve(remember_app(layer)).await?;
    let r = reqwest::get(format!("{base}/write")).await?;
    let cookie = session_cookie(&r).ok_or("no cookie")?;
    assert!(max_age(&cookie).is_some_and(|a| a > 3000), "{cookie}");
    Ok(())
}

/// Expiry after inactivity in one call: the cookie is persistent with the idle
/// timeout as its `Max-Age`, and the store's session ends after it too.
#[tokio::test]
async fn inactivity_expiry_sets_the_idle_timeout_and_a_persistent_cookie_together() -> TestResult {
    let layer = SessionLayer::new(MemoryStore::new())
        .with_inactivity_expiry(std::time::Duration::from_secs(1));
    let base = serve(remember_app(layer)).await?;
    let c = reqwest::Client::new();
    let r = c.get(format!("{base}/write")).send().await?;
    let cookie = session_cookie(&r).ok_or("no cookie")?;
    assert_eq!(max_age(&cookie), Some(1), "{cookie}");
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = c
        .get(format!("{base}/read"))
        .header("cookie", &pair)
        .send()
        .await?;
    assert_ne!(
        r.text().await?,
        "ada",
        "the session outlived its idle timeout"
    );
    Ok(())
}

async fn writes_a_big_value(session: Session) -> Result<&'static str, session_tower::Error> {
    session.set("big", &"x".repeat(20_000)).await?;
    Ok("ok")
}

/// The cookie store's name and chunk cap are the cookies' on the wire: a layer over
/// a store named `sid` that may use 8 chunks sends `sid` cookies, and a 20 KB
/// session (more than the default 4 chunks carry) is stored, not refused.
#[tokio::test]
async fn the_cookie_stores_name_and_chunk_cap_are_the_cookies_on_the_wire() -> TestResult {
    let key = session_tower::Key::from_bytes([9; 32]);
    let store = session_tower::CookieStore::new(session_tower::Keyring::new(key, []))
        .with_name("sid")
        .with_max_chunks(8);
    let layer = SessionLayer::new(store);
    let app = Router::new()
        .route("/big", get(writes_a_big_value))
        .layer(layer);
    let base = serve(app).await?;
    let r = reqwest::get(format!("{base}/big")).await?;
    assert_eq!(r.status(), StatusCode::OK);
    let names: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split('=').next().map(str::to_owned))
        .collect();
    assert!(names.len() > 4, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("sid")), "{names:?}");
    Ok(())
}

async fn signs_in(session: Session) -> Result<&'static str, session_tower::Error> {
    session.login("ada").await?;
    Ok("in")
}

async fn signs_out(session: Session) -> Result<&'static str, session_tower::Error> {
    session.logout().await?;
    Ok("out")
}

async fn whoami(session: Session) -> Result<String, session_tower::Error> {
    Ok(session.user().await?.unwrap_or_default())
}

/// Lifecycle events reach the layer's sink, in order, once each request's commit
/// succeeded; and the layer's `users()` lists and revokes from outside a request.
#[tokio::test]
async fn events_reach_the_sink_and_users_revoke_from_outside() -> TestResult {
    use session_tower::SessionEvent;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let log = seen.clone();
    let layer =
        SessionLayer::new(MemoryStore::new()).with_events(Arc::new(move |e: &SessionEvent| {
            log.lock()
                .map(|mut l| l.push(e.clone()))
                .unwrap_or_default()
        }));
    let users = layer.users();
    let app = Router::new()
        .route("/write", get(writes))
        .route("/in", get(signs_in))
        .route("/out", get(signs_out))
        .route("/me", get(whoami))
        .layer(layer);
    let base = serve(app).await?;
    let c = reqwest::Client::new();
    let mut jar = String::new();
    let get = |path: &'static str, cookie: String| {
        let c = c.clone();
        let url = format!("{base}{path}");
        async move {
            let r = c.get(url).header("cookie", cookie).send().await?;
            let set =
                session_cookie(&r).map(|v| v.split(';').next().unwrap_or_default().to_owned());
            Ok::<_, reqwest::Error>((set, r.text().await?))
        }
    };
    for path in ["/write", "/in"] {
        if let (Some(set), _) = get(path, jar.clone()).await? {
            jar = set;
        }
    }
    assert_eq!(get("/me", jar.clone()).await?.1, "ada");
    let listed = users.sessions("ada").await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(users.revoke_all("ada").await?, 1);
    assert_eq!(get("/me", jar.clone()).await?.1, "", "revoked from outside");
    for path in ["/in", "/out"] {
        if let (Some(set), _) = get(path, jar.clone()).await? {
            jar = set;
        }
    }
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            SessionEvent::Created => "created",
            SessionEvent::SignedIn { user, .. } if user == "ada" => "signed in",
            SessionEvent::Regenerated => "regenerated",
            SessionEvent::SignedOut { user, .. } if user == "ada" => "signed out",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["created", "signed in", "other", "signed in", "signed out"],
        "{seen:?}"
    );
    assert!(
        matches!(&seen[2], SessionEvent::Revoked { user, device: None, count: 1 } if user == "ada"),
        "the revocation from outside is told too: {seen:?}"
    );
    Ok(())
}
