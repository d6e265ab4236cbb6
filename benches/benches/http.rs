//! The HTTP benchmark: a load generator with U virtual users, each with its own
//! cookie jar, against our demo (cookie, Redis and PostgreSQL drivers; on axum, and
//! on actix-web with `session-actix` for the cookie and Redis drivers), small rival
//! servers with the same routes (axum + tower-sessions with its Redis and PostgreSQL
//! stores, actix-web + actix-session with its cookie and Redis stores) and an axum
//! server with no session library (the limit: a counter in a plain cookie; also with a
//! cookie as long as ours to carry), for three workloads. One more server reads only:
//! our cookie layer in front of a read route that never touches the session, for
//! what the layer alone costs a request.
//!
//! - `read`: GET of one key from a 10-key (about 1 KiB) session;
//! - `write`: PUT of a counter (the server increments it and answers the new value);
//! - `mixed`: 9 reads to 1 write.
//!
//! The servers run side by side in this process; the load generator is a process of
//! its own (`src/bin/load.rs`), started for each slice. Every answer is checked
//! (status and value); errors are counted. The servers take turns: a workload runs in
//! rounds, each giving every server one slice (after half a second of warm-up), in a
//! rotating order. Results are printed and written to `target/bench-http.json` for
//! `BENCHMARKS.md`.
//!
//! The whole schedule runs once per count of the generator's threads: on one thread,
//! the users make a closed loop that leaves the machine partly idle (each answer's
//! latency counts); on two, the two cores are saturated (each request's CPU counts).
//!
//! Settings: `BENCH_USERS` (32), `BENCH_SECONDS` measured per server and workload (6),
//! `BENCH_ROUNDS` (3), `BENCH_WORKLOADS` (some of `read,write,mixed`; all when unset),
//! `BENCH_LOAD_THREADS` (the generator's thread counts, `1,2`), `REDIS_URL`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use session_benches::{redis_answers, redis_host_port, redis_url, session_of};

/// One server under test.
struct Target {
    name: &'static str,
    base: String,
    /// Our Redis stores behind it, for their near-cache counts.
    stores: Vec<session_redis::RedisStore>,
    /// Serves the read workload only (its routes answer reads, not writes).
    reads_only: bool,
    /// Its users sign in (`POST /api/login`) after writing their session.
    signs_in: bool,
    /// The registry of signed-in cookie sessions behind it, for its answer counts.
    registry: Option<std::sync::Arc<session_redis::RedisRegistry>>,
}

impl Target {
    /// The server at `base`, for every workload.
    fn new(name: &'static str, base: String) -> Target {
        Target {
            name,
            base,
            stores: Vec::new(),
            reads_only: false,
            signs_in: false,
            registry: None,
        }
    }

    /// Registry answers from memory and from Redis so far.
    fn registry(&self) -> (u64, u64) {
        self.registry.as_ref().map_or((0, 0), |r| r.answer_stats())
    }

    /// True when it takes part in `workload`.
    fn serves(&self, workload: Workload) -> bool {
        !self.reads_only || matches!(workload, Workload::Read)
    }

    /// Near-cache hits and misses so far, over its stores.
    fn near_cache(&self) -> (u64, u64) {
        self.stores
            .iter()
            .filter_map(session_redis::RedisStore::near_cache_stats)
            .fold((0, 0), |(h, m), s| (h + s.hits, m + s.misses))
    }
}

fn listener() -> TcpListener {
    match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("cannot bind a loopback port: {e}"),
    }
}

fn base_of(l: &TcpListener) -> String {
    match l.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => panic!("{e}"),
    }
}

/// Serves an axum router on its own 2-thread runtime, on its own OS thread.
fn serve_axum(l: TcpListener, router: axum::Router) {
    serve_built(l, move || async move { Some(router) });
}

/// Serves the router `build` makes on its own 2-thread runtime, on its own OS thread:
/// for servers whose pools must live on the runtime that serves them. When `build`
/// gives nothing, the server never starts (and is reported skipped).
fn serve_built<F, Fut>(l: TcpListener, build: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<axum::Router>>,
{
    std::thread::spawn(move || {
        let rt = session_benches::runtime(true);
        rt.block_on(async move {
            let Some(router) = build().await else {
                return;
            };
            let _ = l.set_nonblocking(true);
            let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                return;
            };
            let _ = axum::serve(l, router).await;
        });
    });
}

/// What the demo named `name` tells visitors about itself: its driver.
fn about(name: &str) -> session_demo::About {
    let driver = if name.contains("redis") {
        "redis"
    } else {
        "cookie"
    };
    session_demo::About::new(driver, false)
}

fn ours(name: &'static str, layer: session_tower::SessionLayer) -> Target {
    let l = listener();
    let base = base_of(&l);
    serve_axum(l, session_demo::router(layer, about(name)));
    Target::new(name, base)
}

/// Our demo on actix-web with `session-actix`, on its own actix system thread with
/// 2 workers: the same session library as `ours`, on actix-session's framework.
fn ours_actix(name: &'static str, sessions: session_actix::SessionMiddleware) -> Target {
    let l = listener();
    let base = base_of(&l);
    let about = actix_web::web::Data::new(about(name));
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(about.clone())
                    .wrap(sessions.clone())
                    .configure(session_demo::actix::routes)
            })
            .workers(2)
            .disable_signals()
            .listen(l);
            if let Ok(server) = server {
                let _ = server.run().await;
            }
        });
    });
    Target::new(name, base)
}

mod tower_rival {
    //! axum + tower-sessions 0.14 with tower-sessions-redis-store.
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, put};
    use axum::{Json, Router};
    use serde_json::Value;
    use tower_sessions::{Session, SessionManagerLayer};

    async fn get_key(session: Session, Path(key): Path<String>) -> Response {
        match session.get::<Value>(&key).await {
            Ok(Some(v)) => Json(v).into_response(),
            Ok(None) => StatusCode::NOT_FOUND.into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }

    async fn set_key(
        session: Session,
        Path(key): Path<String>,
        Json(v): Json<Value>,
    ) -> StatusCode {
        match session.insert(&key, v).await {
            Ok(()) => StatusCode::NO_CONTENT,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    async fn counter(session: Session, Path(key): Path<String>, Json(by): Json<i64>) -> Response {
        let n = session.get::<i64>(&key).await.ok().flatten().unwrap_or(0) + by;
        match session.insert(&key, n).await {
            Ok(()) => Json(n).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }

    fn routes<S: tower_sessions::SessionStore + Clone>(store: S) -> Router {
        Router::new()
            .route("/api/session/{key}", get(get_key).put(set_key))
            .route("/api/counter/{key}", put(counter))
            .layer(SessionManagerLayer::new(store).with_secure(false))
    }

    pub async fn router(url: &str) -> Option<Router> {
        use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
        let pool = Pool::new(Config::from_url(url).ok()?, None, None, None, 2).ok()?;
        let _connection = pool.connect();
        pool.wait_for_connect().await.ok()?;
        Some(routes(tower_sessions_redis_store::RedisStore::new(pool)))
    }

    /// The same routes on tower-sessions-sqlx-store's PostgreSQL store (its own table,
    /// migrated here), with a pool as large as ours.
    pub async fn postgres_router(url: &str) -> Option<Router> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .ok()?;
        let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
        store.migrate().await.ok()?;
        Some(routes(store))
    }

    /// The same routes on tower-sessions-sqlx-store's MySQL store.
    pub async fn mysql_router(url: &str) -> Option<Router> {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .ok()?;
        let store = tower_sessions_sqlx_store::MySqlStore::new(pool);
        store.migrate().await.ok()?;
        Some(routes(store))
    }

    /// The same routes on tower-sessions-sqlx-store's SQLite store, on a file.
    pub async fn sqlite_router(path: &str) -> Option<Router> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .ok()?;
        let store = tower_sessions_sqlx_store::SqliteStore::new(pool);
        store.migrate().await.ok()?;
        Some(routes(store))
    }
}

mod actix_rival {
    //! actix-web 4 + actix-session 0.11, cookie or Redis store.
    use actix_session::storage::{CookieSessionStore, RedisSessionStore};
    use actix_session::{Session, SessionMiddleware};
    use actix_web::cookie::Key;
    use actix_web::{web, App, HttpResponse, HttpServer};
    use serde_json::Value;

    async fn get_key(session: Session, key: web::Path<String>) -> HttpResponse {
        match session.get::<Value>(&key) {
            Ok(Some(v)) => HttpResponse::Ok().json(v),
            Ok(None) => HttpResponse::NotFound().finish(),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }

    async fn set_key(
        session: Session,
        key: web::Path<String>,
        v: web::Json<Value>,
    ) -> HttpResponse {
        match session.insert(key.into_inner(), v.into_inner()) {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }

    async fn counter(session: Session, key: web::Path<String>, by: web::Json<i64>) -> HttpResponse {
        let n = session.get::<i64>(&key).ok().flatten().unwrap_or(0) + by.into_inner();
        match session.insert(key.into_inner(), n) {
            Ok(()) => HttpResponse::Ok().json(n),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }

    async fn run<S, F>(l: std::net::TcpListener, store: F)
    where
        S: actix_session::storage::SessionStore + 'static,
        F: Fn() -> S + Clone + Send + 'static,
    {
        let key = Key::generate();
        let server = HttpServer::new(move || {
            App::new()
                .route("/api/session/{key}", web::get().to(get_key))
                .route("/api/session/{key}", web::put().to(set_key))
                .route("/api/counter/{key}", web::put().to(counter))
                .wrap(
                    SessionMiddleware::builder(store(), key.clone())
                        .cookie_secure(false)
                        .build(),
                )
        })
        .workers(2)
        .disable_signals()
        .listen(l);
        if let Ok(server) = server {
            let _ = server.run().await;
        }
    }

    /// Runs the server on its own actix system thread, 2 workers: the Redis store
    /// when `redis` names one, else the cookie store.
    pub fn serve(l: std::net::TcpListener, redis: Option<String>) {
        std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match redis {
                    Some(url) => match RedisSessionStore::new(url).await {
                        Ok(store) => run(l, move || store.clone()).await,
                        Err(e) => eprintln!("SKIPPED actix_session_redis: {e}"),
                    },
                    None => run(l, CookieSessionStore::default).await,
                }
            });
        });
    }
}

#[derive(Clone, Copy, Debug)]
enum Workload {
    Read,
    Write,
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Write => "write",
            Workload::Mixed => "mixed",
        }
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

/// `users` virtual users against `target` for `warmup`, then `run` measured, from
/// the load generator in a process of its own, on `threads` threads.
fn run_load(
    target: &Target,
    workload: Workload,
    (users, threads): (usize, usize),
    warmup: Duration,
    run: Duration,
) -> Tally {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_load"))
        .env("BENCH_LOAD_THREADS", threads.to_string())
        .env("BENCH_SIGN_IN", if target.signs_in { "1" } else { "0" })
        .arg(&target.base)
        .arg(workload.name())
        .arg(users.to_string())
        .arg(warmup.as_millis().to_string())
        .arg(run.as_millis().to_string())
        .output();
    let parsed = output.ok().and_then(|o| {
        // What the generator had to say (a usage error, a failed connection).
        if !o.stderr.is_empty() {
            eprint!("{}", String::from_utf8_lossy(&o.stderr));
        }
        serde_json::from_slice::<Value>(&o.stdout).ok()
    });
    let Some(v) = parsed else {
        eprintln!("the load generator failed against {}", target.name);
        return Tally {
            errors: 1,
            ..Tally::default()
        };
    };
    Tally {
        ok: v["ok"].as_u64().unwrap_or(0),
        errors: v["errors"].as_u64().unwrap_or(1),
        latencies_us: v["latencies_us"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

mod no_session {
    //! The limit: the same routes with no session library. Reads answer the value the
    //! generator expects; the counter lives in a plain cookie. With a pad, a write to
    //! the session also sets a cookie of that value, which the client then sends on
    //! every request and the server never reads.
    use std::sync::Arc;

    use axum::extract::Path;
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, put, MethodRouter};
    use axum::{Json, Router};
    use serde_json::Value;

    pub fn router(value: Value, pad: Option<String>) -> Router {
        let set_pad: Option<Arc<str>> = pad.map(|pad| format!("pad={pad}; Path=/").into());
        Router::new()
            .route(
                "/api/session/{key}",
                read(value).put(move || {
                    let set_pad = set_pad.clone();
                    async move {
                        match set_pad {
                            Some(c) => (
                                [(header::SET_COOKIE, c.to_string())],
                                StatusCode::NO_CONTENT,
                            )
                                .into_response(),
                            None => StatusCode::NO_CONTENT.into_response(),
                        }
                    }
                }),
            )
            .route("/api/counter/{key}", put(counter))
    }

    /// The read route: the value the generator expects, whatever the key.
    pub fn read(value: Value) -> MethodRouter {
        get(move |Path(_key): Path<String>| {
            let value = value.clone();
            async move { Json(value) }
        })
    }

    /// A cookie value as long as the one our cookie store gives the generator's
    /// session (sealed with `key`), of the same alphabet.
    pub fn cookie_as_long_as_ours(key: &session_cookie::Key) -> Result<String, String> {
        let store = session_cookie::CookieStore::new(session_cookie::Keyring::new(key.clone(), []));
        let session =
            session_core::Session::new(Arc::new(store), session_core::Expiry::default(), None);
        let rt = session_benches::runtime(false);
        let token = rt
            .block_on(async {
                for (k, v) in session_benches::session_of(1024) {
                    session.set(&k, &v).await?;
                }
                session.commit().await
            })
            .map_err(|e| e.to_string())?;
        match token {
            session_core::TokenUpdate::Send(token) => {
                Ok("Ab0-_".chars().cycle().take(token.len()).collect())
            }
            other => Err(format!("sealing the session gave {other:?}")),
        }
    }

    async fn counter(headers: HeaderMap, Json(by): Json<i64>) -> Response {
        let current: i64 = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("n="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let next = current + by;
        (
            [(header::SET_COOKIE, format!("n={next}; Path=/; HttpOnly"))],
            Json(next),
        )
            .into_response()
    }
}

mod unread {
    //! Our session layer in front of a read route that answers the value the generator
    //! expects without reading the session (the route the no-session server has); the
    //! generator's setup writes the session through the same layer, so every read
    //! carries a real session cookie.
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::{Json, Router};
    use serde_json::Value;
    use session_tower::{Session, SessionLayer};

    pub fn router(layer: SessionLayer, value: Value) -> Router {
        Router::new()
            .route(
                "/api/session/{key}",
                super::no_session::read(value).put(set),
            )
            .layer(layer)
    }

    async fn set(
        session: Session,
        Path(key): Path<String>,
        Json(value): Json<Value>,
    ) -> StatusCode {
        match session.set(&key, &value).await {
            Ok(()) => StatusCode::NO_CONTENT,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What one server did in one workload over every round: its requests per second
/// overall and in each round.
fn summary(
    target: &Target,
    workload: Workload,
    users: usize,
    slice: Duration,
    rounds: &[Tally],
) -> Value {
    let ok: u64 = rounds.iter().map(|t| t.ok).sum();
    let errors: u64 = rounds.iter().map(|t| t.errors).sum();
    let mut lat: Vec<u32> = rounds
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    let seconds = slice.as_secs_f64() * rounds.len() as f64;
    let rps = ok as f64 / seconds;
    let rounds_rps: Vec<f64> = rounds
        .iter()
        .map(|t| t.ok as f64 / slice.as_secs_f64())
        .collect();
    println!(
        "http/{:<22} {:<5}  {:>8.0} req/s  median {:>6} us  p99 {:>6} us  errors {}",
        target.name,
        workload.name(),
        rps,
        pick(0.5),
        pick(0.99),
        errors
    );
    json!({
        "server": target.name, "workload": workload.name(), "users": users,
        "seconds": seconds, "rps": rps, "median_us": pick(0.5), "p99_us": pick(0.99),
        "ok": ok, "errors": errors, "rounds_rps": rounds_rps,
    })
}

fn wait_until_up(bases: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    bases.split(',').all(|base| {
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(base.trim_start_matches("http://")).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    })
}

fn main() {
    // `cargo bench` passes flags like `--bench`; a name filter as the first free
    // argument selects servers (e.g. `cargo bench --bench http -- redis`, or
    // several, comma-separated: `-- no_cache,actix_session_redis`).
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let users: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    // `BENCH_WORKLOADS`: some of `read,write,mixed` (all three when unset).
    let only: Option<String> = std::env::var("BENCH_WORKLOADS").ok();
    let workloads: Vec<Workload> = [Workload::Read, Workload::Write, Workload::Mixed]
        .into_iter()
        .filter(|w| {
            only.as_deref()
                .is_none_or(|only| only.split(',').any(|o| o.trim() == w.name()))
        })
        .collect();
    // `BENCH_LOAD_THREADS`: the generator's thread counts, each a run of its own.
    let generator_threads: Vec<usize> = std::env::var("BENCH_LOAD_THREADS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|t| t.trim().parse().ok())
                .filter(|&t| t > 0)
                .collect::<Vec<usize>>()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| vec![1, 2]);
    let url = redis_url();
    let redis_up = redis_answers(&url);
    if !redis_up {
        eprintln!("SKIPPED http Redis servers: nothing answers at {url}; start redis-server or set REDIS_URL");
    }

    let mut targets: Vec<Target> = Vec::new();
    let key = match session_cookie::Key::generate() {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    let cookie_key = key.clone();
    let cookie = session_cookie::CookieStore::new(session_cookie::Keyring::new(key, []));
    targets.push(ours(
        "ours_cookie",
        session_tower::SessionLayer::new(cookie),
    ));
    let cookie =
        session_cookie::CookieStore::new(session_cookie::Keyring::new(cookie_key.clone(), []));
    targets.push(ours_actix(
        "ours_actix_cookie",
        session_actix::SessionMiddleware::new(cookie),
    ));
    let l = listener();
    let base = base_of(&l);
    actix_rival::serve(l, None);
    targets.push(Target::new("actix_session_cookie", base));
    let l = listener();
    let base = base_of(&l);
    // The value the generator reads, for the servers that answer it without a session.
    let read_value = json!(session_of(1024)[3].1);
    serve_axum(l, no_session::router(read_value.clone(), None));
    targets.push(Target::new("no_session", base));
    // The same limit, with a cookie as long as ours to carry: what the cookie alone
    // costs the client, the kernel and the server's HTTP parser.
    let pad = match no_session::cookie_as_long_as_ours(&cookie_key) {
        Ok(pad) => pad,
        Err(e) => panic!("{e}"),
    };
    let l = listener();
    let base = base_of(&l);
    serve_axum(l, no_session::router(read_value.clone(), Some(pad)));
    targets.push(Target::new("no_session_cookie", base));
    // Our cookie layer in front of a read that never touches the session: what the
    // layer alone costs a request that carries a session cookie.
    let cookie =
        session_cookie::CookieStore::new(session_cookie::Keyring::new(cookie_key.clone(), []));
    let l = listener();
    let base = base_of(&l);
    serve_axum(
        l,
        unread::router(session_tower::SessionLayer::new(cookie), read_value),
    );
    let mut unread = Target::new("ours_cookie_unread", base);
    unread.reads_only = true;
    targets.push(unread);

    // The Redis Clusters of cluster contenders, stopped when the bench ends.
    let mut clusters = Vec::new();
    if redis_up {
        let rt = session_benches::runtime(false);
        if let Some((host, port)) = redis_host_port(&url) {
            let mut settings = session_redis::RedisSettings::default();
            settings.host = host;
            settings.port = port;
            settings.namespace = "bench-http".into();
            // Servers that share a namespace are one app: the servers without the
            // near-cache get a namespace of their own, or the others would be told
            // of every one of their reads (a `GETEX` changes the key's TTL).
            let connect = |near_cache: bool| {
                let mut settings = settings.clone();
                settings.near_cache = near_cache;
                if !near_cache {
                    settings.namespace = "bench-http-no-cache".into();
                }
                rt.block_on(session_redis::RedisStore::connect(&settings))
            };
            // Two app servers with the cache, one without; the same on actix-web.
            let stores = || -> Result<_, session_redis::Error> {
                Ok((
                    connect(true)?,
                    connect(false)?,
                    connect(true)?,
                    connect(true)?,
                    connect(false)?,
                ))
            };
            match stores() {
                Ok((cached, uncached, second, actix_cached, actix_uncached)) => {
                    let mut first = ours(
                        "ours_redis",
                        session_tower::SessionLayer::new(cached.clone()),
                    );
                    let other = ours(
                        "ours_redis",
                        session_tower::SessionLayer::new(second.clone()),
                    );
                    // Two app servers behind a round-robin balancer, no stickiness:
                    // each user's requests alternate between them.
                    let mut both = Target::new(
                        "ours_redis_2_servers",
                        format!("{},{}", first.base, other.base),
                    );
                    both.stores = vec![cached.clone(), second];
                    targets.push(both);
                    first.stores.push(cached);
                    targets.push(first);
                    targets.push(ours(
                        "ours_redis_no_cache",
                        session_tower::SessionLayer::new(uncached),
                    ));
                    let mut actix_first = ours_actix(
                        "ours_actix_redis",
                        session_actix::SessionMiddleware::new(actix_cached.clone()),
                    );
                    actix_first.stores.push(actix_cached);
                    targets.push(actix_first);
                    targets.push(ours_actix(
                        "ours_actix_redis_no_cache",
                        session_actix::SessionMiddleware::new(actix_uncached),
                    ));
                }
                Err(e) => eprintln!("SKIPPED ours_redis: {e}"),
            }
            // The same app on a 3-master Redis Cluster with the near-cache: the hit
            // rate on a cluster, beside one node's (`ours_redis`).
            match session_testkit::servers::RedisCluster::start(3) {
                Ok(cluster) => {
                    let mut on_cluster = session_redis::RedisSettings::default();
                    on_cluster.cluster = cluster.addrs();
                    on_cluster.namespace = "bench-http-cluster".into();
                    match rt.block_on(session_redis::RedisStore::connect(&on_cluster)) {
                        Ok(store) => {
                            let mut target = ours(
                                "ours_redis_cluster",
                                session_tower::SessionLayer::new(store.clone()),
                            );
                            target.stores.push(store);
                            targets.push(target);
                            clusters.push(cluster);
                        }
                        Err(e) => eprintln!("SKIPPED ours_redis_cluster: {e}"),
                    }
                }
                Err(e) => eprintln!("SKIPPED ours_redis_cluster: {e}"),
            }
            // Cookie sessions with a Redis registry: visitors (no user, so the
            // registry is never asked), and signed-in users (a registry read per
            // session at most every 500 ms), beside signed-in users without one.
            let mut registry_settings = settings.clone();
            registry_settings.near_cache = false;
            registry_settings.namespace = "bench-http-registry".into();
            match rt.block_on(session_redis::RedisStore::connect(&registry_settings)) {
                Ok(redis) => {
                    let registry = std::sync::Arc::new(session_redis::RedisRegistry::new(redis));
                    let cookie = session_cookie::CookieStore::new(session_cookie::Keyring::new(
                        cookie_key.clone(),
                        [],
                    ))
                    .with_registry(registry.clone());
                    let mut visitors = ours(
                        "ours_cookie_registry",
                        session_tower::SessionLayer::new(cookie.clone()),
                    );
                    visitors.registry = Some(registry.clone());
                    targets.push(visitors);
                    let mut signed_in = ours(
                        "ours_cookie_registry_signed_in",
                        session_tower::SessionLayer::new(cookie),
                    );
                    signed_in.signs_in = true;
                    signed_in.registry = Some(registry);
                    targets.push(signed_in);
                    let plain = session_cookie::CookieStore::new(session_cookie::Keyring::new(
                        cookie_key.clone(),
                        [],
                    ));
                    let mut signed_in = ours(
                        "ours_cookie_signed_in",
                        session_tower::SessionLayer::new(plain),
                    );
                    signed_in.signs_in = true;
                    targets.push(signed_in);
                }
                Err(e) => eprintln!("SKIPPED ours_cookie_registry: {e}"),
            }
        }
        // The rival's pool must live on the runtime that serves it.
        let l = listener();
        let base = base_of(&l);
        let tower_url = url.clone();
        serve_built(l, move || async move {
            let router = tower_rival::router(&tower_url).await;
            if router.is_none() {
                eprintln!("SKIPPED tower_sessions_redis: its store could not connect");
            }
            router
        });
        targets.push(Target::new("tower_sessions_redis", base));
        let l = listener();
        let base = base_of(&l);
        actix_rival::serve(l, Some(url.clone()));
        targets.push(Target::new("actix_session_redis", base));
    }

    // PostgreSQL: ours and tower-sessions' sqlx store, each pool made on the runtime
    // that serves it.
    let postgres_url = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let l = listener();
    let base = base_of(&l);
    let ours_url = postgres_url.clone();
    serve_built(l, move || async move {
        let mut settings = session_sql::PostgresSettings::default();
        settings.url = ours_url;
        settings.table = "bench_http_sessions".into();
        match session_sql::PostgresStore::connect(&settings).await {
            Ok(store) => {
                let about = session_demo::About::new("postgres", false);
                Some(session_demo::router(
                    session_tower::SessionLayer::new(store),
                    about,
                ))
            }
            Err(e) => {
                eprintln!("SKIPPED ours_postgres: {e}");
                None
            }
        }
    });
    targets.push(Target::new("ours_postgres", base));
    let l = listener();
    let base = base_of(&l);
    serve_built(l, move || async move {
        let router = tower_rival::postgres_router(&postgres_url).await;
        if router.is_none() {
            eprintln!("SKIPPED tower_sessions_postgres: its store could not connect");
        }
        router
    });
    targets.push(Target::new("tower_sessions_postgres", base));

    // MySQL/MariaDB and SQLite: ours and tower-sessions' sqlx stores for them.
    let mysql_url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let sqlite_dir = std::env::temp_dir().join(format!("session-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&sqlite_dir);
    let l = listener();
    let base = base_of(&l);
    let ours_url = mysql_url.clone();
    serve_built(l, move || async move {
        let settings = session_sql::MysqlSettings::default()
            .with_url(ours_url)
            .with_table("bench_http_sessions");
        match session_sql::MysqlStore::connect(&settings).await {
            Ok(store) => Some(session_demo::router(
                session_tower::SessionLayer::new(store),
                session_demo::About::new("mysql", false),
            )),
            Err(e) => {
                eprintln!("SKIPPED ours_mysql: {e}");
                None
            }
        }
    });
    targets.push(Target::new("ours_mysql", base));
    let l = listener();
    let base = base_of(&l);
    serve_built(l, move || async move {
        let router = tower_rival::mysql_router(&mysql_url).await;
        if router.is_none() {
            eprintln!("SKIPPED tower_sessions_mysql: its store could not connect");
        }
        router
    });
    targets.push(Target::new("tower_sessions_mysql", base));
    let l = listener();
    let base = base_of(&l);
    let ours_path = sqlite_dir.join("ours.db").to_string_lossy().into_owned();
    serve_built(l, move || async move {
        let settings = session_sql::SqliteSettings::default().with_path(ours_path);
        match session_sql::SqliteStore::connect(&settings).await {
            Ok(store) => Some(session_demo::router(
                session_tower::SessionLayer::new(store),
                session_demo::About::new("sqlite", false),
            )),
            Err(e) => {
                eprintln!("SKIPPED ours_sqlite: {e}");
                None
            }
        }
    });
    targets.push(Target::new("ours_sqlite", base));
    let l = listener();
    let base = base_of(&l);
    let rival_path = sqlite_dir.join("tower.db").to_string_lossy().into_owned();
    serve_built(l, move || async move {
        let router = tower_rival::sqlite_router(&rival_path).await;
        if router.is_none() {
            eprintln!("SKIPPED tower_sessions_sqlite: its store could not connect");
        }
        router
    });
    targets.push(Target::new("tower_sessions_sqlite", base));

    targets.retain(|target| {
        if filter
            .as_deref()
            .is_some_and(|f| !f.split(',').any(|f| target.name.contains(f)))
        {
            return false;
        }
        let up = wait_until_up(&target.base);
        if !up {
            eprintln!("SKIPPED {}: the server did not start", target.name);
        }
        up
    });
    // The servers take turns: each round gives every server one slice of the run, in
    // a rotating order, so a busy stretch of the machine falls on all of them alike.
    let slice = Duration::from_secs_f64(seconds as f64 / rounds as f64);
    let warmup = Duration::from_millis(500);
    let mut results = Vec::new();
    for &threads in &generator_threads {
        println!("http: the load generator on {threads} thread(s)");
        for &workload in &workloads {
            let running: Vec<&Target> = targets.iter().filter(|t| t.serves(workload)).collect();
            let mut tallies: Vec<Vec<Tally>> = running.iter().map(|_| Vec::new()).collect();
            let mut cache: Vec<(u64, u64)> = running.iter().map(|_| (0, 0)).collect();
            let mut answers: Vec<(u64, u64)> = running.iter().map(|_| (0, 0)).collect();
            for round in 0..rounds {
                for k in 0..running.len() {
                    let at = (round + k) % running.len();
                    let before = (running[at].near_cache(), running[at].registry());
                    let tally = run_load(running[at], workload, (users, threads), warmup, slice);
                    let after = (running[at].near_cache(), running[at].registry());
                    cache[at].0 += after.0 .0 - before.0 .0;
                    cache[at].1 += after.0 .1 - before.0 .1;
                    answers[at].0 += after.1 .0 - before.1 .0;
                    answers[at].1 += after.1 .1 - before.1 .1;
                    tallies[at].push(tally);
                }
            }
            for (((target, rounds), (hits, misses)), (known, asked)) in
                running.iter().zip(&tallies).zip(&cache).zip(&answers)
            {
                let mut row = summary(target, workload, users, slice, rounds);
                row["load_threads"] = json!(threads);
                if known + asked > 0 {
                    let rate = *known as f64 / (known + asked) as f64;
                    println!(
                        "http/{:<22} {:<5}  registry answers from memory {:.1}%",
                        target.name,
                        workload.name(),
                        rate * 100.0
                    );
                    row["registry_hit_rate"] = json!(rate);
                }
                if hits + misses > 0 {
                    let rate = *hits as f64 / (hits + misses) as f64;
                    println!(
                        "http/{:<22} {:<5}  near-cache hit rate {:.1}%",
                        target.name,
                        workload.name(),
                        rate * 100.0
                    );
                    row["near_cache_hit_rate"] = json!(rate);
                }
                results.push(row);
            }
        }
    }
    let out = json!({
        "users": users, "seconds": seconds, "rounds": rounds,
        "load_threads": generator_threads, "results": results,
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-http.json");
    if let Err(e) = std::fs::write(&path, out.to_string()) {
        eprintln!("cannot write {}: {e}", path.display());
    }
}
