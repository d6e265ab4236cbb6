//! The HTTP bench's load generator, run as a process of its own so that it shares
//! neither a runtime nor an allocator with the servers it measures.
//!
//! `load BASE WORKLOAD USERS WARMUP_MS RUN_MS`: USERS virtual users, each with its
//! own cookie jar and session (ten values of about 1 KiB together), send requests
//! to the server at BASE for WARMUP_MS, then RUN_MS measured, and every answer is
//! checked. BASE may list several servers, comma-separated (app servers behind a
//! round-robin balancer, no sticky sessions): each user's requests take turns.
//! WORKLOAD is `read` (GET of one key), `write` (PUT of a counter, which the server
//! increments and answers) or `mixed` (9 reads to 1 write). Prints one JSON object:
//! `{"ok": n, "errors": n, "latencies_us": [...]}`. With `BENCH_SIGN_IN=1`, each user
//! signs in (`POST /api/login`) after writing its session.
//!
//! Each user keeps one HTTP/1.1 keep-alive connection per server (hyper's client
//! connection, requests built once) and a cookie jar of its own that does what a
//! browser does for one host: it keeps each cookie a response sets, drops one set
//! with `Max-Age=0` or an empty value, and sends them all back. The generator is
//! kept lean so that the machine's time goes to the servers under test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use session_benches::session_of;

#[derive(Clone, Copy)]
enum Workload {
    Read,
    Write,
    Mixed,
}

impl Workload {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "read" => Some(Workload::Read),
            "write" => Some(Workload::Write),
            "mixed" => Some(Workload::Mixed),
            _ => None,
        }
    }

    /// Whether request number `i` of a user is a write.
    fn is_write(self, i: u64) -> bool {
        match self {
            Workload::Read => false,
            Workload::Write => true,
            Workload::Mixed => i % 10 == 9,
        }
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

/// A user's cookies for the one host every server shares (cookies do not depend on
/// the port), and the `Cookie` header they make.
#[derive(Default)]
struct Jar {
    cookies: Vec<(String, String)>,
    header: Option<HeaderValue>,
}

impl Jar {
    /// Takes in the `Set-Cookie` headers of a response.
    fn store(&mut self, headers: &HeaderMap) {
        let mut changed = false;
        for set in headers.get_all(SET_COOKIE) {
            let Ok(set) = set.to_str() else { continue };
            let mut parts = set.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let removed = value.is_empty()
                || parts.any(|attr| {
                    attr.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("max-age")
                            && v.trim().parse::<i64>().is_ok_and(|age| age <= 0)
                    })
                });
            self.cookies.retain(|(n, _)| n != name);
            if !removed {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
            changed = true;
        }
        if changed {
            let text = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            self.header = HeaderValue::from_str(&text)
                .ok()
                .filter(|_| !text.is_empty());
        }
    }
}

/// One keep-alive connection to one server.
struct Connection {
    authority: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(base: &str) -> Option<Self> {
        let authority = base.strip_prefix("http://")?;
        Some(Connection {
            authority: HeaderValue::from_str(authority).ok()?,
            sender: None,
        })
    }

    /// Sends `method path` with `body` (JSON when given) and the jar's cookies; the
    /// status and body of the answer, its cookies taken into the jar. A connection
    /// that failed is made again on the next request.
    async fn send(
        &mut self,
        jar: &mut Jar,
        method: &Method,
        path: &Uri,
        body: Option<&Bytes>,
    ) -> Option<(StatusCode, Bytes)> {
        if self.sender.is_none() {
            let addr = self.authority.to_str().ok()?;
            let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .ok()?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut()?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path.clone())
            .header(HOST, self.authority.clone());
        if let Some(cookies) = &jar.header {
            request = request.header(COOKIE, cookies.clone());
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(body.cloned().unwrap_or_default()))
            .ok()?;
        let answered = async {
            sender.ready().await.ok()?;
            let response = sender.send_request(request).await.ok()?;
            jar.store(response.headers());
            let status = response.status();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        }
        .await;
        if answered.is_none() {
            self.sender = None;
        }
        answered
    }
}

/// Whether `body` is the JSON of `expected`: the same bytes as serde_json writes
/// them, or (another server's spelling) the same value.
fn is_json_of(body: &[u8], expected: &Value, expected_bytes: &[u8]) -> bool {
    body == expected_bytes || serde_json::from_slice::<Value>(body).is_ok_and(|v| v == *expected)
}

/// One virtual user: its own cookie jar, its own session.
async fn user(
    bases: Arc<Vec<String>>,
    workload: Workload,
    warmup: Duration,
    run: Duration,
) -> Tally {
    let mut t = Tally::default();
    let mut connections: Vec<Connection> =
        bases.iter().filter_map(|b| Connection::new(b)).collect();
    if connections.is_empty() {
        t.errors += 1;
        return t;
    }
    let mut jar = Jar::default();
    let values = session_of(1024);
    for (k, v) in &values {
        let Ok(path) = format!("/api/session/{k}").parse::<Uri>() else {
            t.errors += 1;
            continue;
        };
        let body = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
        let sent = connections[0]
            .send(&mut jar, &Method::PUT, &path, Some(&body))
            .await;
        if sent.is_none_or(|(status, _)| status != StatusCode::NO_CONTENT) {
            t.errors += 1;
        }
    }
    if std::env::var("BENCH_SIGN_IN").is_ok_and(|v| v == "1") {
        // Signed in, as a user after the login form: the session keeps its values.
        static USERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = USERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = Bytes::from(format!(r#"{{"user": "bench-{}-{n}"}}"#, std::process::id()));
        let login = Uri::from_static("/api/login");
        let sent = connections[0]
            .send(&mut jar, &Method::POST, &login, Some(&body))
            .await;
        if sent.is_none_or(|(status, _)| status != StatusCode::NO_CONTENT) {
            t.errors += 1;
        }
    }
    let expected: Value = json!(values[3].1);
    let expected_bytes = serde_json::to_vec(&expected).unwrap_or_default();
    let read_path = Uri::from_static("/api/session/key3");
    let write_path = Uri::from_static("/api/counter/n");
    let one = Bytes::from_static(b"1");
    let mut counter: i64 = 0;
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < warmup + run {
        let measuring = started.elapsed() > warmup;
        let sent = Instant::now();
        let n = connections.len();
        let connection = &mut connections[i as usize % n];
        let good = if workload.is_write(i) {
            match connection
                .send(&mut jar, &Method::PUT, &write_path, Some(&one))
                .await
            {
                Some((StatusCode::OK, body)) => {
                    counter += 1;
                    match std::str::from_utf8(&body)
                        .ok()
                        .and_then(|b| b.trim().parse::<i64>().ok())
                    {
                        Some(n) if n == counter => true,
                        // A wrong count is one error; the next answer is checked
                        // against what the server said this time.
                        Some(n) => {
                            counter = n;
                            false
                        }
                        None => false,
                    }
                }
                _ => false,
            }
        } else {
            match connection
                .send(&mut jar, &Method::GET, &read_path, None)
                .await
            {
                Some((StatusCode::OK, body)) => is_json_of(&body, &expected, &expected_bytes),
                _ => false,
            }
        };
        if measuring {
            if good {
                t.ok += 1;
                t.latencies_us
                    .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            } else {
                t.errors += 1;
            }
        }
        i += 1;
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [base, workload, users, warmup, run] => Workload::parse(workload).and_then(|w| {
            Some((
                base.clone(),
                w,
                users.parse::<usize>().ok()?,
                Duration::from_millis(warmup.parse().ok()?),
                Duration::from_millis(run.parse().ok()?),
            ))
        }),
        _ => None,
    };
    let Some((base, workload, users, warmup, run)) = parsed else {
        eprintln!("usage: load BASE read|write|mixed USERS WARMUP_MS RUN_MS");
        std::process::exit(2);
    };
    let threads = std::env::var("BENCH_LOAD_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let bases = Arc::new(base.split(',').map(str::to_owned).collect::<Vec<_>>());
    let all = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..users {
            set.spawn(user(bases.clone(), workload, warmup, run));
        }
        let mut all = Tally::default();
        while let Some(t) = set.join_next().await {
            match t {
                Ok(t) => {
                    all.ok += t.ok;
                    all.errors += t.errors;
                    all.latencies_us.extend(t.latencies_us);
                }
                Err(_) => all.errors += 1,
            }
        }
        all
    });
    println!(
        "{}",
        json!({ "ok": all.ok, "errors": all.errors, "latencies_us": all.latencies_us })
    );
}
