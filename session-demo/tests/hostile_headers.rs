//! The demo binary, as users run it, against the largest `Cookie` header its server
//! accepts: thousands of `session` cookies and a chunk far longer than any cookie.
//! The memory it costs is read from the process's own peak resident size
//! (`VmHWM` in `/proc/PID/status`), on the cookie and the Redis driver.

mod common;

use common::{wait_for, Running};
use std::process::{Command, Stdio};

use reqwest::header::COOKIE;
use reqwest::StatusCode;
use session_testkit::servers::{free_port, RedisServer};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// The demo's own page and JSON API, served by the binary on actix-web
/// (`--framework actix`) as on axum.
#[tokio::test]
async fn the_binary_serves_the_same_demo_on_actix_web() -> TestResult {
    let port = free_port()?;
    let (_demo, _dir) = start_demo(port, &[("SESSION_DEMO_FRAMEWORK", "actix".into())])?;
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/health")).await?;
    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/")).send().await?.text().await?;
    assert!(page.contains("Session demo"), "{page}");
    let r = client
        .put(format!("{base}/api/session/k"))
        .body("41")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cookie = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    let r = client
        .put(format!("{base}/api/counter/k"))
        .header(COOKIE, &cookie)
        .body("1")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await?, "42");
    Ok(())
}

/// The demo binary on `port`, with `env` on top of an environment without session
/// settings.
fn start_demo(port: u16, env: &[(&str, String)]) -> Result<(Running, tempfile::TempDir), Boxed> {
    let dir = tempfile::Builder::new()
        .prefix("hostile-headers")
        .tempdir()?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_session-demo"));
    command
        .current_dir(dir.path())
        .env("SESSION_DEMO_ADDR", format!("127.0.0.1:{port}"))
        .env_remove("APP_KEY")
        .env_remove("SESSION_DRIVER")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    Ok((Running(command.spawn()?), dir))
}

/// The process's peak resident memory so far, in bytes.
fn peak_resident(pid: u32) -> Result<u64, Boxed> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/PID/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("VmHWM without a number")?
        .parse()?;
    Ok(kib * 1024)
}

/// `cookies` distinct `session` cookies and a `session.1` of `chunk` bytes.
fn hostile_cookie_header(cookies: u32, chunk: usize) -> String {
    let mut header = String::with_capacity(cookies as usize * 12 + chunk + 16);
    for i in 0..cookies {
        header.push_str(&format!("session={i:x}; "));
    }
    header.push_str("session.1=");
    header.push_str(&"c".repeat(chunk));
    header
}

/// About 375 KB: 15,000 distinct `session` cookies and a 180 KB `session.1`, under
/// the 408 KiB request head hyper's server (axum's) accepts.
const AXUM_LARGEST: (u32, usize) = (15_000, 180_000);

/// About 30 KB, under the 32 KiB request head actix-web accepts.
const ACTIX_LARGEST: (u32, usize) = (1_500, 12_000);

/// Four requests at once to each of a route that never reads the session, one that
/// reads it and one that writes it, each with the hostile header: the peak resident
/// memory grows by less than 64 MiB, and every request gets a proper answer.
async fn hostile_headers_cost_bounded_memory(
    env: &[(&str, String)],
    (cookies, chunk): (u32, usize),
) -> TestResult {
    let port = free_port()?;
    let (demo, _dir) = start_demo(port, env)?;
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/health")).await?;
    let client = reqwest::Client::new();
    // Warm up: the first session request sets up the store.
    let r = client
        .put(format!("{base}/api/session/warm"))
        .body("1")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let before = peak_resident(demo.0.id())?;

    let header = hostile_cookie_header(cookies, chunk);
    for (method, path, expected) in [
        (reqwest::Method::GET, "/health", StatusCode::OK),
        (reqwest::Method::GET, "/api/session", StatusCode::OK),
        (
            reqwest::Method::PUT,
            "/api/session/k",
            StatusCode::NO_CONTENT,
        ),
    ] {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let request = client
                .request(method.clone(), format!("{base}{path}"))
                .header(COOKIE, &header)
                .body("1")
                .send();
            requests.spawn(request);
        }
        while let Some(answer) = requests.join_next().await {
            let answer = answer??;
            assert_eq!(answer.status(), expected, "{method} {path}");
        }
    }

    let grown = peak_resident(demo.0.id())?.saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "twelve requests with a {} byte Cookie header grew the demo's peak memory by {} MiB",
        header.len(),
        grown >> 20
    );
    Ok(())
}

#[tokio::test]
async fn on_the_cookie_driver_a_400_kb_cookie_header_costs_bounded_memory() -> TestResult {
    hostile_headers_cost_bounded_memory(&[], AXUM_LARGEST).await
}

#[tokio::test]
async fn on_the_redis_driver_a_400_kb_cookie_header_costs_bounded_memory() -> TestResult {
    let redis = RedisServer::start()?;
    hostile_headers_cost_bounded_memory(
        &[
            ("SESSION_DRIVER", "redis".into()),
            ("SESSION_REDIS_HOST", "127.0.0.1".into()),
            ("SESSION_REDIS_PORT", redis.port().to_string()),
        ],
        AXUM_LARGEST,
    )
    .await
}

#[tokio::test]
async fn on_actix_web_the_largest_cookie_header_it_accepts_costs_bounded_memory() -> TestResult {
    hostile_headers_cost_bounded_memory(
        &[("SESSION_DEMO_FRAMEWORK", "actix".into())],
        ACTIX_LARGEST,
    )
    .await
}
