//! Redis through `session.toml`: the app names no driver; the file (or
//! `SESSION_DRIVER`) does. Needs the `redis-store` feature of `session-tower`.
//!
//! ```toml
//! # session.toml
//! default = "redis"
//! timeout = 3600
//!
//! [redis]
//! host = "127.0.0.1"
//! port = 6379
//! namespace = "myapp"
//! ```
//!
//! `cargo run -p session-examples --example redis_config -- session.toml` (without a
//! path it reads `./session.toml` when there is one; with no file at all it uses the
//! cookie driver, which needs `APP_KEY`).

use axum::{routing::get, Router};
use session_tower::{Session, SessionConfig, SessionLayer};

async fn index(session: Session) -> Result<String, session_tower::Error> {
    let visits = session.increment("visits", 1).await?;
    Ok(format!("visit {visits}\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map(std::path::PathBuf::from);
    let config = SessionConfig::load(path.as_deref())?;
    println!("session driver: {}", config.default);
    let app = Router::new()
        .route("/", get(index))
        .layer(SessionLayer::from_config(&config).await?);
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
