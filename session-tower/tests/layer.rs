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
