//! The smallest app: a visit counter in a cookie session.
//!
//! `cargo run -p session-examples --example minimal`, then open http://127.0.0.1:3000.

use axum::{routing::get, Router};
use session_tower::{CookieStore, Session, SessionLayer};

async fn index(session: Session) -> Result<String, session_tower::Error> {
    let visits = session.increment("visits", 1).await?;
    Ok(format!("You have been here {visits} times.\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = CookieStore::new(session_examples::keyring()?);
    let app = Router::new()
        .route("/", get(index))
        .layer(SessionLayer::new(store));
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
