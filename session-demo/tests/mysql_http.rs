//! The demo over real HTTP on the MySQL/MariaDB driver (127.0.0.1:3306, database
//! `test`, or `SESSION_TEST_MYSQL_URL`), configured as `session.toml` would: the same
//! scenarios every driver passes.

mod common;

use common::*;
use session_tower::SessionConfig;

async fn server() -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::var("SESSION_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let mut config = SessionConfig::from_toml_str(
        r#"
        default = "mysql"
        [mysql]
        table = "demo_http_sessions"
        pool_size = 4
        "#,
    )?;
    config.apply_env(|name| (name == "SESSION_MYSQL_URL").then(|| url.clone()))?;
    let (layer, _) = session_demo::session_layer(config).await.map_err(|e| {
        format!("{e}\nthe MySQL tests need MariaDB or MySQL on 127.0.0.1:3306 with a database `test` (run `bash scripts/test`), or SESSION_TEST_MYSQL_URL")
    })?;
    Ok(serve(layer).await?)
}

http_scenarios!(async { server().await.map(|base| ((), base)) });
