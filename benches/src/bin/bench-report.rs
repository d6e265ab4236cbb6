//! Writes `BENCHMARKS.md` from the last `cargo bench` run: criterion's estimates in
//! `target/criterion` and the HTTP load results in `target/bench-http.json`.
//! Run by `bash benches/run.sh`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use session_benches::interleaved::{self, Summary};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Criterion's median (ns) for `group/function/param`, if that bench ran.
fn median_ns(id: &str) -> Option<f64> {
    let path = root()
        .join("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn time(ns: Option<f64>) -> String {
    match ns {
        None => "not run".into(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{ns:.0} ns"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".into(),
    }
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {}, {}, Redis {} on loopback, run on {}",
        command("rustc", &["--version"]),
        command("uname", &["-sr"]),
        command("redis-server", &["--version"])
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .unwrap_or("?"),
        command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    )
}

const SIZES: [&str; 3] = ["250B", "1KiB", "3KiB"];

/// One table of an interleaved group (see `session_benches::interleaved`): per
/// workload (file name, label), each contender's median and each ratio (`a` over
/// `b`, with the range over tenths of the run).
fn interleaved_table(
    md: &mut String,
    workloads: &[(String, String)],
    contenders: &[(&str, &str)],
    ratios: &[(&str, &str, &str)],
) {
    let dir = interleaved::results_dir();
    let mut head = String::from("| workload | iterations |");
    let mut rule = String::from("|---|---|");
    for (_, label) in contenders {
        let _ = write!(head, " {label} (median) |");
        rule.push_str("---|");
    }
    for (_, _, label) in ratios {
        let _ = write!(head, " {label} | range |");
        rule.push_str("---|---|");
    }
    let _ = writeln!(md, "{head}\n{rule}");
    for (name, label) in workloads {
        let Some(summary) = Summary::read(&dir, name) else {
            let _ = writeln!(md, "| {label} | not run |");
            continue;
        };
        let mut row = format!("| {label} | {} |", summary.iterations());
        for (name, _) in contenders {
            let _ = write!(row, " {} |", time(summary.median_ns(name)));
        }
        for (a, b, _) in ratios {
            match summary.ratio(a, b) {
                Some(r) => {
                    let _ = write!(
                        row,
                        " **{:.2}x** | {:.2}-{:.2}x |",
                        r.overall, r.low, r.high
                    );
                }
                None => row.push_str(" – | – |"),
            }
        }
        let _ = writeln!(md, "{row}");
    }
}

/// The workloads of an interleaved group: each size one at a time, as `{prefix}_{size}`.
fn by_size(prefix: &str) -> Vec<(String, String)> {
    SIZES
        .iter()
        .map(|size| (format!("{prefix}_{size}"), format!("{size}, one at a time")))
        .collect()
}

const INTERLEAVED: &str = "Each iteration runs every contender once, one after the other (the order rotates), so all meet the same machine; a ratio is of total times over every iteration, its range that ratio in each tenth of the run. Separate benches run seconds apart, and their ratios moved by 15-30% between runs here with no code change: read targets from these.";

/// The HTTP table of the runs with the load generator on `threads` threads: every
/// server's row, with ours against each rival on the same storage and the limit.
fn http_table(md: &mut String, threads: u64, rows: &[Value]) {
    let regime = if threads == 1 {
        "one thread: a closed loop, latency counts".to_owned()
    } else {
        format!("{threads} threads: the cores saturated, CPU counts")
    };
    let _ = writeln!(
        md,
        "\n### The load generator on {regime}\n\n| workload | server | req/s | median | p99 | errors | ours / each rival with the same storage, and / the limit |\n|---|---|---|---|---|---|---|"
    );
    let row_of = |server: &str, workload: &str| {
        rows.iter()
            .find(|r| r["server"] == server && r["workload"] == workload)
    };
    let rps_of =
        |server: &str, workload: &str| row_of(server, workload).and_then(|r| r["rps"].as_f64());
    // The median, lowest and highest per-round ratio of `a`'s req/s to `b`'s.
    let round_range = |a: &str, b: &str, workload: &str| {
        let rounds = |server: &str| -> Vec<f64> {
            row_of(server, workload)
                .and_then(|r| r["rounds_rps"].as_array())
                .map(|v| v.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        let mut ratios: Vec<f64> = rounds(a)
            .iter()
            .zip(rounds(b))
            .filter(|(_, b)| *b > 0.0)
            .map(|(a, b)| a / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios.get(ratios.len() / 2).copied()?;
        Some((median, ratios.first().copied()?, ratios.last().copied()?))
    };
    for workload in ["read", "write", "mixed"] {
        for r in rows.iter().filter(|r| r["workload"] == workload) {
            let server = r["server"].as_str().unwrap_or("?");
            let rivals: &[&str] = match server {
                "ours_cookie" => &["actix_session_cookie", "no_session", "no_session_cookie"],
                "ours_cookie_unread" => &["no_session", "no_session_cookie"],
                // A registry costs a visitor nothing; a signed-in user one registry
                // read per 500 ms of a session.
                "ours_cookie_registry" => &["ours_cookie", "actix_session_cookie"],
                "ours_cookie_registry_signed_in" => {
                    &["ours_cookie_signed_in", "actix_session_cookie"]
                }
                "ours_cookie_signed_in" => &["ours_cookie", "actix_session_cookie"],
                "ours_redis" | "ours_redis_no_cache" | "ours_redis_2_servers" => {
                    &["tower_sessions_redis", "actix_session_redis", "no_session"]
                }
                "ours_postgres" => &["tower_sessions_postgres", "no_session"],
                "ours_mysql" => &["tower_sessions_mysql"],
                // The cost of a cluster against one node, the same app.
                "ours_redis_cluster" => &["ours_redis", "tower_sessions_redis"],
                "ours_sqlite" => &["tower_sessions_sqlite"],
                "ours_actix_cookie" => &["actix_session_cookie"],
                "ours_actix_redis" | "ours_actix_redis_no_cache" => &["actix_session_redis"],
                _ => &[],
            };
            let versus = rivals
                .iter()
                .filter(|rival| rps_of(rival, workload).is_some())
                .map(|rival| match round_range(server, rival, workload) {
                    Some((median, low, high)) => {
                        format!("**{median:.2}x** ({low:.2}-{high:.2}x) vs {rival}")
                    }
                    None => format!(
                        "{} vs {rival}",
                        ratio(rps_of(server, workload), rps_of(rival, workload))
                    ),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let versus = match r["near_cache_hit_rate"].as_f64() {
                Some(rate) => format!("{versus}; near-cache hits {:.1}%", rate * 100.0),
                None => versus,
            };
            let versus = match r["registry_hit_rate"].as_f64() {
                Some(rate) => format!(
                    "{versus}; registry answered from memory {:.1}%",
                    rate * 100.0
                ),
                None => versus,
            };
            let server = match server {
                "ours_redis" => "ours_redis (near-cache on)",
                "ours_redis_2_servers" => "ours_redis, 2 app servers round-robin",
                "ours_actix_redis" => "ours_actix_redis (near-cache on)",
                other => other,
            };
            let _ = writeln!(
                md,
                "| {workload} | {server} | {:.0} | {:.2} ms | {:.2} ms | {} | {versus} |",
                r["rps"].as_f64().unwrap_or(0.0),
                r["median_us"].as_f64().unwrap_or(0.0) / 1000.0,
                r["p99_us"].as_f64().unwrap_or(0.0) / 1000.0,
                r["errors"]
            );
        }
    }
}

fn main() {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Benchmarks\n\nRegenerate everything (criterion groups, the HTTP load test, this file) with one command:\n\n```sh\nbash benches/run.sh          # Redis from REDIS_URL or 127.0.0.1:6379; without one the Redis rows say 'not run'\n```\n\nMachine: {}.\nAll numbers are medians of one run; every row of a table ran in the same run.\nTimes are per request cycle; lower is better. Ratios above 1.00x mean we are slower.\n",
        machine()
    );

    let _ = writeln!(
        md,
        "## Core hot path (MemoryStore, no I/O)\n\n| bench | median |\n|---|---|"
    );
    for (name, id) in [
        (
            "load 10-key record, get, set, flash, save",
            "core/load_get_set_flash_save_10_keys",
        ),
        (
            "untouched request (no store call)",
            "core/untouched_request",
        ),
    ] {
        let _ = writeln!(md, "| {name} | {} |", time(median_ns(id)));
    }

    let _ = writeln!(
        md,
        "\n## Cookie driver: full cycle (open, decode, change one key, encode, seal)\n\nOurs through `Session` is a request's whole cycle in `session-core` (lazy load, the flash rules, one save); the driver alone is `CookieStore::load` + one changed key + `CookieStore::save`; the store's cache of opened cookies is off, so every cycle opens the cookie (over HTTP, a cookie sent again is found in the cache instead). Bare limit: XChaCha20-Poly1305 seal + open of the same bytes with the fastest parts at hand (HChaCha20, then ring's ChaCha20-Poly1305; the same as the driver) and a random nonce, plus base64url encode + decode. Rival: actix-session 0.11's cookie pipeline (private AES-256-GCM jar + `CookieSessionStore`).\n\n| size | ours, through `Session` | ours, the driver alone | bare limit | actix-session cookie | `Session` / bare | driver / bare | `Session` / actix |\n|---|---|---|---|---|---|---|---|"
    );
    for size in SIZES {
        let ours = median_ns(&format!("cookie/cycle/{size}"));
        let driver = median_ns(&format!("cookie/store_cycle/{size}"));
        let bare = median_ns(&format!("cookie/bare_aead_base64/{size}"));
        let actix = median_ns(&format!("cookie/actix_session_cookie/{size}"));
        let _ = writeln!(
            md,
            "| {size} | {} | {} | {} | {} | {} | {} | {} |",
            time(ours),
            time(driver),
            time(bare),
            time(actix),
            ratio(ours, bare),
            ratio(driver, bare),
            ratio(ours, actix)
        );
    }

    let _ = writeln!(
        md,
        "\n### Cookie, interleaved: ours, the bare limit and actix-session in turn\n\n{INTERLEAVED}\n"
    );
    interleaved_table(
        &mut md,
        &by_size("cookie_cycle"),
        &[
            ("session", "`Session`"),
            ("driver", "driver"),
            ("bare", "bare"),
            ("actix", "actix-session"),
        ],
        &[
            ("session", "bare", "`Session` / bare"),
            ("driver", "bare", "driver / bare"),
            ("session", "actix", "`Session` / actix"),
        ],
    );

    let _ = writeln!(
        md,
        "\n## Redis driver: load + change one key + save (10-key session)\n\nOurs without the near-cache (every load goes to Redis; the HTTP table shows the cache). Bare limit: `GETEX` + `SET EX` of a value of the same size on one multiplexed connection. Rivals on the same Redis: tower-sessions 0.14 + tower-sessions-redis-store 0.16, actix-session 0.11 `RedisSessionStore`.\n\n| size | ours | bare limit | tower-sessions | actix-session | ours / bare | ours / tower-sessions | ours / actix-session |\n|---|---|---|---|---|---|---|---|"
    );
    for size in SIZES {
        let ours = median_ns(&format!("redis/cycle/{size}"));
        let bare = median_ns(&format!("redis/bare_getex_setex/{size}"));
        let tower = median_ns(&format!("redis/tower_sessions_redis/{size}"));
        let actix = median_ns(&format!("redis/actix_session_redis/{size}"));
        let _ = writeln!(
            md,
            "| {size} | {} | {} | {} | {} | {} | {} | {} |",
            time(ours),
            time(bare),
            time(tower),
            time(actix),
            ratio(ours, bare),
            ratio(ours, tower),
            ratio(ours, actix)
        );
    }
    let ours = median_ns("redis/cycle_x50_concurrent/1KiB");
    let driver = median_ns("redis/store_cycle_x50_concurrent/1KiB");
    let bare = median_ns("redis/bare_getex_setex_x50_concurrent/1KiB");
    let _ = writeln!(
        md,
        "| 50 concurrent, 1KiB (time for all 50) | {} | {} | | | {} | | |",
        time(ours),
        time(bare),
        ratio(ours, bare)
    );
    let _ = writeln!(
        md,
        "| 50 concurrent, 1KiB, the driver alone (no `Session`) | {} | {} | | | {} | | |",
        time(driver),
        time(bare),
        ratio(driver, bare)
    );

    let _ = writeln!(
        md,
        "\n### Redis, interleaved: ours and the bare commands in turn\n\n{INTERLEAVED}\n"
    );
    let mut workloads = by_size("redis_cycle");
    workloads.push((
        "redis_cycle_x50_concurrent_1KiB".into(),
        "1KiB, 50 concurrent (time for all 50)".into(),
    ));
    interleaved_table(
        &mut md,
        &workloads,
        &[
            ("session", "`Session`"),
            ("driver", "driver"),
            ("bare", "bare"),
        ],
        &[
            ("session", "bare", "`Session` / bare"),
            ("driver", "bare", "driver / bare"),
        ],
    );

    let _ = writeln!(
        md,
        "\n### PostgreSQL, interleaved: ours and a bare `SELECT` + `UPDATE` on the same pool in turn\n\n{INTERLEAVED}\n"
    );
    interleaved_table(
        &mut md,
        &by_size("postgres_cycle"),
        &[
            ("session", "`Session`"),
            ("driver", "driver"),
            ("bare", "bare"),
        ],
        &[
            ("session", "bare", "`Session` / bare"),
            ("driver", "bare", "driver / bare"),
        ],
    );

    let http = std::fs::read_to_string(root().join("target/bench-http.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let _ = writeln!(
        md,
        "\n## HTTP: requests per second through a real server and client\n"
    );
    match http {
        None => {
            let _ = writeln!(md, "Not run (`cargo bench --bench http`).");
        }
        Some(http) => {
            let _ = writeln!(
                md,
                "{} virtual users, each with its own cookie jar, {} s per server and workload in {} rounds; every server gets a slice of every round, in a rotating order. The load generator is a process of its own; every answer is checked. A ratio is the median over rounds of ours / the other's requests per second in the same round, with its range. `no_session` is an axum server without sessions (the limit), `no_session_cookie` the same carrying a cookie as long as ours; `ours_*` is our demo on axum (`session-tower`), `ours_actix_*` on actix-web (`session-actix`). The schedule runs once per thread count of the load generator: on one thread latency counts, on two the cores are saturated and CPU per request counts.",
                http["users"], http["seconds"], http["rounds"]
            );
            let all_rows = http["results"].as_array().cloned().unwrap_or_default();
            // Rows written before the generator's thread count was recorded ran on one.
            let threads_of = |r: &Value| r["load_threads"].as_u64().unwrap_or(1);
            let mut counts: Vec<u64> = all_rows.iter().map(threads_of).collect();
            counts.sort_unstable();
            counts.dedup();
            for threads in counts {
                let rows: Vec<Value> = all_rows
                    .iter()
                    .filter(|r| threads_of(r) == threads)
                    .cloned()
                    .collect();
                http_table(&mut md, threads, &rows);
            }
            let _ = writeln!(md, "\nIn the HTTP tables the ratio is requests per second, so above 1.00x means we are faster.");
        }
    }
    let notes = root().join("benches/NOTES.md");
    if let Ok(text) = std::fs::read_to_string(&notes) {
        let _ = writeln!(md, "\n{}", text.trim_end());
    }
    let out = root().join("BENCHMARKS.md");
    match std::fs::write(&out, md) {
        Ok(()) => println!("wrote {}", out.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out.display()),
    }
}
