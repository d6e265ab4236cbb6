//! The demo on actix-web over real HTTP on MySQL/MariaDB (127.0.0.1:3306, database
//! `test`, or `SESSION_TEST_MYSQL_URL`) and SQLite, configured through
//! `session.toml`: the same scenarios every driver passes. A file of their own, so
//! that fewer servers share the machine at once than with the other drivers'.

mod common;

use common::actix::{serve_actix, Boxed};
use common::*;
use session_actix::{SessionConfig, SessionMiddleware};

mod mysql {
    use super::*;

    fn server() -> Result<String, Boxed> {
        let url = std::env::var("SESSION_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        let mut config = SessionConfig::from_toml_str(
            "default = \"mysql\"\n[mysql]\ntable = \"demo_http_sessions\"\npool_size = 4\n",
        )?;
        config.apply_env(|name| (name == "SESSION_MYSQL_URL").then(|| url.clone()))?;
        serve_actix(move || async move {
            SessionMiddleware::from_config(&config).await.map_err(|e| {
                format!("{e}\nthe MySQL tests need MariaDB or MySQL on 127.0.0.1:3306 with a database `test` (run `bash scripts/test`), or SESSION_TEST_MYSQL_URL").into()
            })
        })
    }

    http_scenarios!(async { server().map(|base| ((), base)) });
}

mod sqlite {
    use super::*;

    /// The server and the directory its database file lives in.
    fn server() -> Result<(tempfile::TempDir, String), Boxed> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sessions.db");
        let config = SessionConfig::from_toml_str(&format!(
            "default = \"sqlite\"\n[sqlite]\npath = {:?}\n",
            path.to_string_lossy()
        ))?;
        let base = serve_actix(move || async move {
            SessionMiddleware::from_config(&config)
                .await
                .map_err(|e| e.to_string().into())
        })?;
        Ok((dir, base))
    }

    http_scenarios!(async { server() });
}
