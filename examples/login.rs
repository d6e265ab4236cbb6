//! Sign in and sign out: a new session id at sign-in (against session fixation), the
//! session ended at sign-out, and forms that carry the session's cross-site request
//! token (the layer also refuses cross-site posts by itself).
//!
//! This example keeps sessions in the cookie store, which keeps nothing on the
//! server: sign-out clears this browser's cookie, but a copy of the cookie taken
//! before sign-out still opens the session until it expires. A server store (Redis,
//! PostgreSQL) destroys the session at sign-out.
//!
//! `cargo run -p session-examples --example login`, then open http://127.0.0.1:3000.

use axum::http::{header::LOCATION, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use session_tower::{CookieStore, Session, SessionLayer};

async fn index(session: Session) -> Result<Html<String>, session_tower::Error> {
    let token = session.csrf_token().await?;
    let body = match session.get::<String>("user").await? {
        Some(user) => format!(
            r#"<p>Signed in as {user}</p>
<form method="post" action="/logout"><input type="hidden" name="_token" value="{token}">
<button>Sign out</button></form>"#,
            user = escape(&user)
        ),
        None => format!(
            r#"<p>Not signed in</p>
<form method="post" action="/login"><input type="hidden" name="_token" value="{token}">
<label>Name <input name="username" required></label> <button>Sign in</button></form>"#
        ),
    };
    Ok(Html(body))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    #[serde(rename = "_token")]
    token: String,
}

#[derive(Deserialize)]
struct Logout {
    #[serde(rename = "_token")]
    token: String,
}

fn home() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response()
}

async fn login(
    session: Session,
    Form(form): Form<Login>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok((StatusCode::FORBIDDEN, "reload the page and try again").into_response());
    }
    // A new id for the signed-in session: an id planted before sign-in is worthless.
    session.regenerate().await?;
    session.set("user", form.username.trim()).await?;
    Ok(home())
}

async fn logout(
    session: Session,
    Form(form): Form<Logout>,
) -> Result<Response, session_tower::Error> {
    if !session.verify_csrf_token(&form.token).await? {
        return Ok((StatusCode::FORBIDDEN, "reload the page and try again").into_response());
    }
    // Ends the session and starts an empty one: clears this browser's cookie (a
    // server store would also destroy the stored session; a copied cookie of the
    // cookie store stays valid until it expires).
    session.invalidate().await?;
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
    let store = CookieStore::new(session_examples::keyring()?);
    let app = Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(store));
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
