//! The demo over real HTTP on the PostgreSQL driver (127.0.0.1:5432, database `test`,
//! or `SESSION_TEST_POSTGRES_URL`), configured as `session.toml` would: the same
//! scenarios every driver passes.

mod common;

use common::*;
use session_tower::SessionConfig;

async fn server() -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut config = SessionConfig::from_toml_str(
        r#"
        default = "postgres"
        [postgres]
        table = "demo_http_sessions"
        pool_size = 4
        "#,
    )?;
    config.apply_env(|name| match name {
        "SESSION_POSTGRES_URL" => Some(url.clone()),
        _ => None,
    })?;
    let (layer, _) = session_demo::session_layer(config).await.map_err(|e| {
        format!("{e}\nthe PostgreSQL tests need 127.0.0.1:5432 with a database `test` (run `bash scripts/test`), or SESSION_TEST_POSTGRES_URL")
    })?;
    Ok(serve(layer).await?)
}

http_scenarios!(async { server().await.map(|base| ((), base)) });
