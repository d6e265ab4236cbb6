//! The demo on actix-web (`session_demo::actix` with `session-actix`) over real HTTP:
//! the same scenarios the axum demo passes, on the cookie driver and on PostgreSQL,
//! MySQL/MariaDB and SQLite through `session.toml`.

mod common;

use common::*;
use session_actix::{SessionConfig, SessionMiddleware};
use session_cookie::{CookieStore, Key, Keyring};
use session_demo::About;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Serves the actix demo on its own thread (actix runs its own runtime) with the
/// middleware `make` builds there; the base URL.
fn serve_actix<F, Fut>(make: F) -> Result<String, Boxed>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<SessionMiddleware, Boxed>>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let sessions = match make().await {
                Ok(sessions) => sessions,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            if let Err(e) =
                session_demo::actix::serve(listener, sessions, About::new("test", false)).await
            {
                panic!("actix demo failed: {e}");
            }
        });
    });
    started.recv()??;
    Ok(base)
}

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
