//! The smallest actix-web app: a visit counter in a cookie session, with
//! `session-actix` (configured by `session.toml` / the environment, cookie driver by
//! default; `APP_KEY` keeps sessions across restarts).
//!
//! `cargo run -p session-examples --example actix_minimal`, then open
//! http://127.0.0.1:3000.

use actix_web::{web, App, HttpServer};
use session_actix::{Session, SessionConfig, SessionMiddleware};

async fn index(session: Session) -> Result<String, session_actix::Error> {
    let visits = session.increment("visits", 1).await?;
    Ok(format!("You have been here {visits} times.\n"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = SessionConfig::load(None)?;
    if config.cookie.key.is_none() {
        config.cookie.key = Some(session_examples::keyring_key()?);
    }
    let sessions = SessionMiddleware::from_config(&config).await?;
    let listener = session_examples::listen_std()?;
    HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(index))
    })
    .workers(1)
    .listen(listener)?
    .run()
    .await?;
    Ok(())
}
