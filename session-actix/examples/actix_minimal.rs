//! The smallest actix-web app: a visit counter in a cookie session, with
//! `session-actix` (configured by `session.toml` / the environment, cookie driver by
//! default; `APP_KEY` keeps sessions across restarts).
//!
//! `cargo run -p session-actix --example actix_minimal`, then open http://127.0.0.1:3000
//! (`ADDR` to listen elsewhere).

use actix_web::{web, App, HttpServer};
use session_actix::{Session, SessionConfig, SessionMiddleware};

async fn index(session: Session) -> Result<String, session_actix::Error> {
    let visits = session.increment("visits", 1).await?;
    Ok(format!("You have been here {visits} times.\n"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = SessionConfig::load(None)?;
    if config.default == "cookie" && config.cookie.key.is_none() {
        println!("APP_KEY is not set: using a random key");
        config.cookie.key = Some(session_actix::Key::generate()?.to_base64());
    }
    let sessions = SessionMiddleware::from_config(&config).await?;
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
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
