//! The demo on actix-web (`session_demo::actix` with `session-actix`) over real HTTP:
//! the same scenarios the axum demo passes, on the cookie driver and on PostgreSQL
//! through `session.toml` (MySQL/MariaDB and SQLite: `actix_sql_http.rs`).

mod common;

use common::actix::{serve_actix, Boxed};
use common::*;
use session_actix::{SessionConfig, SessionMiddleware};
use session_cookie::{CookieStore, Key, Keyring};

fn cookie_server() -> Result<String, Boxed> {
    serve_actix(|| async {
        Ok(SessionMiddleware::new(CookieStore::new(Keyring::new(
            Key::generate()?,
            [],
        ))))
    })
}

http_scenarios!(async { cookie_server().map(|base| ((), base)) });

mod postgres {
    use super::*;

    fn server() -> Result<String, Boxed> {
        let url = std::env::var("SESSION_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut config = SessionConfig::from_toml_str(
            "default = \"postgres\"\n[postgres]\ntable = \"demo_http_sessions\"\npool_size = 4\n",
        )?;
        config.apply_env(|name| (name == "SESSION_POSTGRES_URL").then(|| url.clone()))?;
        // The store is made on the server's own runtime, where its pool lives.
        serve_actix(move || async move {
            SessionMiddleware::from_config(&config).await.map_err(|e| {
                format!("{e}\nthe PostgreSQL tests need 127.0.0.1:5432 with a database `test` (run `bash scripts/test`), or SESSION_TEST_POSTGRES_URL").into()
            })
        })
    }

    http_scenarios!(async { server().map(|base| ((), base)) });
}
