//! Users and devices: sign in with `login`, see every session of your user (each
//! browser is one), end one of them or all the others, and sign out with `logout`.
//!
//! Sessions live in a `MemoryStore` here, which keeps its own index of users'
//! sessions; Redis and PostgreSQL keep one too, and the cookie store gets one from
//! `[cookie] registry = "redis"` (or `"postgres"`). Open the page in two browsers (or
//! a private window), sign in as the same name in both, and sign one out from the
//! other.
//!
//! `cargo run -p session-examples --example devices`, then open http://127.0.0.1:3000.

use axum::extract::Path;
use axum::http::{header::LOCATION, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use session_tower::{MemoryStore, Session, SessionLayer};

async fn index(session: Session) -> Result<Html<String>, session_tower::Error> {
    let token = session.csrf_token().await?;
    let hidden = format!(r#"<input type="hidden" name="_token" value="{token}">"#);
    let Some(user) = session.user().await? else {
        return Ok(Html(format!(
            r#"<p>Not signed in</p>
<form method="post" action="/login">{hidden}<label>Name <input name="username" required></label> <button>Sign in</button></form>"#
        )));
    };
    let mut page = format!(
        r#"<p>Signed in as {}</p>
<form method="post" action="/logout">{hidden}<button>Sign out</button></form>
<h2>Your devices</h2><ul>"#,
        escape(&user)
    );
    for device in session.devices().await? {
        let id = escape(&device.id);
        if device.current {
            page.push_str(&format!(r#"<li class="device">{id} (this browser)</li>"#));
        } else {
            page.push_str(&format!(
                r#"<li class="device">{id} <form method="post" action="/devices/{id}/revoke">{hidden}<button>Sign it out</button></form></li>"#
            ));
        }
    }
    page.push_str(&format!(
        r#"</ul><form method="post" action="/devices/revoke-others">{hidden}<button>Sign out other devices</button></form>"#
    ));
    Ok(Html(page))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    #[serde(rename = "_token")]
    token: String,
}

#[derive(Deserialize)]
struct Token {
    #[serde(rename = "_token")]
    token: String,
}

fn home() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response()
}

fn forged() -> Response {
    (StatusCode::FORBIDDEN, "reload the page and try again").into_response()
}

async fn login(
    session: Session,
    Form(form): Form<Login>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    // A new id and form token, and a device id the user's other sessions list.
    session.login(form.username.trim()).await?;
    Ok(home())
}

async fn logout(
    session: Session,
    Form(form): Form<Token>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    session.logout().await?;
    Ok(home())
}

async fn revoke(
    session: Session,
    Path(device): Path<String>,
    Form(form): Form<Token>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    // Only the signed-in user's own sessions can be named; another id ends nothing.
    session.revoke_device(&device).await?;
    Ok(home())
}

async fn revoke_others(
    session: Session,
    Form(form): Form<Token>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok(forged());
    }
    session.revoke_other_devices().await?;
    Ok(home())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/devices/{device}/revoke", post(revoke))
        .route("/devices/revoke-others", post(revoke_others))
        .layer(SessionLayer::new(MemoryStore::new()));
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
