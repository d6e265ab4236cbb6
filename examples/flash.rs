//! A flash message after POST-redirect-GET: the POST flashes and redirects, the GET
//! that follows shows the message once, and a reload shows it no more.
//!
//! `cargo run -p session-examples --example flash`, then open http://127.0.0.1:3000.

use axum::http::{header::LOCATION, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use session_tower::{CookieStore, Session, SessionLayer};

async fn show(session: Session) -> Result<Html<String>, session_tower::Error> {
    let notice = session
        .get::<String>("notice")
        .await?
        .map(|n| format!("<p><strong>{}</strong></p>", n.replace('<', "&lt;")))
        .unwrap_or_default();
    Ok(Html(format!(
        r#"{notice}<form method="post" action="/"><label>Message <input name="message" required></label> <button>Save</button></form>"#
    )))
}

#[derive(Deserialize)]
struct Message {
    message: String,
}

async fn save(
    session: Session,
    Form(form): Form<Message>,
) -> Result<Response, session_tower::Error> {
    // Readable during the next request that reads flash data, then gone.
    session
        .flash("notice", &format!("Saved: {}", form.message))
        .await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = CookieStore::new(session_examples::keyring()?);
    let app = Router::new()
        .route("/", get(show).post(save))
        .layer(SessionLayer::new(store));
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
