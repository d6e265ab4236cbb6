//! The HTTP bench's load generator, run as a process of its own so that it shares
//! neither a runtime nor an allocator with the servers it measures.
//!
//! `load BASE WORKLOAD USERS WARMUP_MS RUN_MS`: USERS virtual users, each with its
//! own cookie jar and session (ten values of about 1 KiB together), send requests
//! to the server at BASE for WARMUP_MS, then RUN_MS measured, and every answer is
//! checked. BASE may list several servers, comma-separated (app servers behind a
//! round-robin balancer, no sticky sessions): each user's requests take turns. WORKLOAD is `read` (GET of one key), `write` (PUT of a counter, which the
//! server increments and answers) or `mixed` (9 reads to 1 write). Prints one JSON
//! object: `{"ok": n, "errors": n, "latencies_us": [...]}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
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

/// One virtual user: its own cookie jar, its own session.
async fn user(
    bases: Arc<Vec<String>>,
    workload: Workload,
    warmup: Duration,
    run: Duration,
) -> Tally {
    let mut t = Tally::default();
    let Ok(client) = reqwest::Client::builder().cookie_store(true).build() else {
        t.errors += 1;
        return t;
    };
    let values = session_of(1024);
    let base = bases.first().cloned().unwrap_or_default();
    for (k, v) in &values {
        let sent = client
            .put(format!("{base}/api/session/{k}"))
            .json(v)
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status() == StatusCode::NO_CONTENT) {
            t.errors += 1;
        }
    }
    let expected: Value = json!(values[3].1);
    let urls: Vec<(String, String)> = bases
        .iter()
        .map(|base| {
            (
                format!("{base}/api/session/key3"),
                format!("{base}/api/counter/n"),
            )
        })
        .collect();
    let mut counter: i64 = 0;
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < warmup + run {
        let measuring = started.elapsed() > warmup;
        let sent = Instant::now();
        let Some((read_url, write_url)) = urls.get(i as usize % urls.len().max(1)) else {
            break;
        };
        let good = if workload.is_write(i) {
            match client.put(write_url).json(&1).send().await {
                Ok(r) if r.status() == StatusCode::OK => {
                    counter += 1;
                    match r.json::<i64>().await {
                        Ok(n) if n == counter => true,
                        // A wrong count is one error; the next answer is checked
                        // against what the server said this time.
                        Ok(n) => {
                            counter = n;
                            false
                        }
                        Err(_) => false,
                    }
                }
                _ => false,
            }
        } else {
            match client.get(read_url).send().await {
                Ok(r) if r.status() == StatusCode::OK => {
                    r.json::<Value>().await.is_ok_and(|v| v == expected)
                }
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
