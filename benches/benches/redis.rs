//! The Redis driver's request cycle (load one key, change one key, save) for 10-key
//! sessions by size, sequential and 50 concurrent, beside the bare limit in the same
//! run (`GETEX` + `SET EX` of a value of the same size on one multiplexed connection)
//! and the rivals doing the same work on the same Redis: tower-sessions 0.14 with
//! tower-sessions-redis-store, actix-session 0.11 with its `RedisSessionStore`.
//!
//! Redis: `REDIS_URL`, or redis://127.0.0.1:6379. When nothing answers there, the
//! group says so and is skipped.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use common::{boxed, interleave};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use session_benches::{
    driver_cycle, redis_answers, redis_host_port, redis_url, seed_session, session_cycle,
    session_of, SIZES,
};
use session_core::SessionStore;
use session_redis::{RedisSettings, RedisStore};

mod common;

const CONCURRENT: usize = 50;

/// The contenders of every interleaved Redis bench, in column order.
const CONTENDERS: [&str; 3] = ["session", "driver", "bare"];

/// Our cycle through the `Session` handle, or the driver alone.
#[derive(Clone, Copy)]
enum Cycle {
    Session,
    Store,
}

impl Cycle {
    async fn run(self, store: Arc<dyn SessionStore>, token: String) {
        match self {
            Cycle::Session => session_cycle(store, token).await,
            Cycle::Store => driver_cycle(store, token).await,
        }
    }
}

async fn bare_cycle(mut conn: redis::aio::ConnectionManager, key: String, value: Vec<u8>) {
    let got: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GETEX")
        .arg(&key)
        .arg("EX")
        .arg(3600)
        .query_async(&mut conn)
        .await;
    black_box(got.ok());
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg(&key)
        .arg(value)
        .arg("EX")
        .arg(3600)
        .query_async(&mut conn)
        .await;
    black_box(set.ok());
}

struct TowerSessions {
    store: tower_sessions_redis_store::RedisStore<tower_sessions_redis_store::fred::prelude::Pool>,
}

impl TowerSessions {
    async fn connect(url: &str) -> Option<Self> {
        use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
        let config = Config::from_url(url).ok()?;
        let pool = Pool::new(config, None, None, None, 1).ok()?;
        let _connection = pool.connect();
        pool.wait_for_connect().await.ok()?;
        Some(TowerSessions {
            store: tower_sessions_redis_store::RedisStore::new(pool),
        })
    }

    async fn seed(&self, bytes: usize) -> tower_sessions::session::Id {
        use tower_sessions::session::{Id, Record};
        use tower_sessions::SessionStore as _;
        let mut record = Record {
            id: Id::default(),
            data: session_of(bytes)
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        if let Err(e) = self.store.create(&mut record).await {
            panic!("seeding tower-sessions failed: {e}");
        }
        record.id
    }

    async fn cycle(&self, id: tower_sessions::session::Id) {
        use tower_sessions::SessionStore as _;
        let Ok(Some(mut record)) = self.store.load(&id).await else {
            return;
        };
        black_box(record.data.get("key3"));
        record
            .data
            .insert("key0".into(), serde_json::Value::String("changed".into()));
        record.expiry_date = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        black_box(self.store.save(&record).await.ok());
    }
}

struct ActixRedis {
    store: actix_session::storage::RedisSessionStore,
}

impl ActixRedis {
    async fn connect(url: &str) -> Option<Self> {
        let store = actix_session::storage::RedisSessionStore::new(url)
            .await
            .ok()?;
        Some(ActixRedis { store })
    }

    async fn seed(&self, bytes: usize) -> String {
        use actix_session::storage::SessionStore as _;
        let state: HashMap<String, String> = session_of(bytes)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_string(&v).unwrap_or_default()))
            .collect();
        let ttl = actix_web::cookie::time::Duration::hours(1);
        match self.store.save(state, &ttl).await {
            Ok(key) => String::from(key),
            Err(e) => panic!("seeding actix-session failed: {e}"),
        }
    }

    async fn cycle(&self, key: &str) {
        use actix_session::storage::{SessionKey, SessionStore as _};
        let Ok(session_key) = SessionKey::try_from(key.to_owned()) else {
            return;
        };
        let Ok(Some(mut state)) = self.store.load(&session_key).await else {
            return;
        };
        black_box(state.get("key3"));
        state.insert(
            "key0".into(),
            serde_json::to_string("changed").unwrap_or_default(),
        );
        let ttl = actix_web::cookie::time::Duration::hours(1);
        black_box(self.store.update(session_key, state, &ttl).await.ok());
    }
}

fn redis_cycle(c: &mut Criterion) {
    let url = redis_url();
    if !redis_answers(&url) {
        eprintln!(
            "SKIPPED redis benches: nothing answers at {url}; start redis-server or set REDIS_URL"
        );
        return;
    }
    let Some((host, port)) = redis_host_port(&url) else {
        eprintln!("SKIPPED redis benches: cannot read host and port from REDIS_URL={url}");
        return;
    };
    // Two worker threads, as a server runs; the same runtime for every contender.
    let rt = session_benches::runtime(true);
    let mut settings = RedisSettings::default();
    settings.host = host;
    settings.port = port;
    settings.namespace = "bench".into();
    // The round trips themselves, beside the bare commands: without the near-cache
    // (whose effect the HTTP bench shows), every load goes to Redis.
    settings.near_cache = false;
    let store: Arc<dyn SessionStore> = match rt.block_on(RedisStore::connect(&settings)) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("{e}"),
    };
    let bare = match rt.block_on(async {
        let client = redis::Client::open(url.as_str())?;
        redis::aio::ConnectionManager::new(client).await
    }) {
        Ok(c) => c,
        Err(e) => panic!("bare connection: {e}"),
    };
    let tower = rt.block_on(TowerSessions::connect(&url));
    let actix = rt.block_on(ActixRedis::connect(&url));
    if tower.is_none() {
        eprintln!("SKIPPED tower-sessions rows: its Redis store could not connect to {url}");
    }
    if actix.is_none() {
        eprintln!("SKIPPED actix-session rows: its Redis store could not connect to {url}");
    }

    let mut group = c.benchmark_group("redis");
    for (label, size) in SIZES {
        let token = rt.block_on(seed_session(&store, size));
        let value = vec![b'x'; bare_len(size)];
        let bare_key = format!("bench:bare:{label}");
        group.bench_with_input(BenchmarkId::new("cycle", label), &token, |b, token| {
            b.to_async(&rt)
                .iter(|| session_cycle(store.clone(), token.clone()))
        });
        group.bench_with_input(
            BenchmarkId::new("bare_getex_setex", label),
            &value,
            |b, value| {
                b.to_async(&rt)
                    .iter(|| bare_cycle(bare.clone(), bare_key.clone(), value.clone()))
            },
        );
        if let Some(tower) = &tower {
            let id = rt.block_on(tower.seed(size));
            group.bench_with_input(
                BenchmarkId::new("tower_sessions_redis", label),
                &id,
                |b, id| b.to_async(&rt).iter(|| tower.cycle(*id)),
            );
        }
        if let Some(actix) = &actix {
            let key = rt.block_on(actix.seed(size));
            group.bench_with_input(
                BenchmarkId::new("actix_session_redis", label),
                &key,
                |b, key| b.to_async(&rt).iter(|| actix.cycle(key)),
            );
        }
    }

    // 50 concurrent cycles on 50 sessions of 1 KiB: the time for all 50.
    let tokens: Vec<String> = (0..CONCURRENT)
        .map(|_| rt.block_on(seed_session(&store, 1024)))
        .collect();
    let value = vec![b'x'; 1200];
    for (name, cycle) in [
        ("cycle_x50_concurrent", Cycle::Session),
        ("store_cycle_x50_concurrent", Cycle::Store),
    ] {
        group.bench_function(BenchmarkId::new(name, "1KiB"), |b| {
            b.to_async(&rt).iter(|| ours_x50(&store, &tokens, cycle))
        });
    }
    group.bench_function(
        BenchmarkId::new("bare_getex_setex_x50_concurrent", "1KiB"),
        |b| b.to_async(&rt).iter(|| bare_x50(&bare, &value)),
    );
    group.finish();

    // The target's ratios, interleaved (see `session_benches::interleaved`): ours
    // through `Session`, the driver alone and the bare commands, in turn.
    let mut group = c.benchmark_group("interleaved");
    for (label, size) in SIZES {
        let token = rt.block_on(seed_session(&store, size));
        let value = vec![b'x'; bare_len(size)];
        let key = format!("bench:bare:i{label}");
        let session = || boxed(Cycle::Session.run(store.clone(), token.clone()));
        let driver = || boxed(Cycle::Store.run(store.clone(), token.clone()));
        let bare_one = || boxed(bare_cycle(bare.clone(), key.clone(), value.clone()));
        interleave(
            &mut group,
            &rt,
            &format!("redis_cycle_{label}"),
            &CONTENDERS,
            &[&session, &driver, &bare_one],
        );
    }
    let session = || boxed(ours_x50(&store, &tokens, Cycle::Session));
    let driver = || boxed(ours_x50(&store, &tokens, Cycle::Store));
    let bare_all = || boxed(bare_x50(&bare, &value));
    interleave(
        &mut group,
        &rt,
        "redis_cycle_x50_concurrent_1KiB",
        &CONTENDERS,
        &[&session, &driver, &bare_all],
    );
    group.finish();
}

/// The bare value's size for a session of about `size` bytes: its values as JSON.
fn bare_len(size: usize) -> usize {
    serde_json::to_vec(&session_of(size))
        .map(|v| v.len())
        .unwrap_or(size)
}

/// 50 of our cycles at once, one per session in `tokens`.
async fn ours_x50(store: &Arc<dyn SessionStore>, tokens: &[String], cycle: Cycle) {
    let mut set = tokio::task::JoinSet::new();
    for token in tokens {
        set.spawn(cycle.run(store.clone(), token.clone()));
    }
    while set.join_next().await.is_some() {}
}

/// 50 bare cycles at once, each on its own key.
async fn bare_x50(conn: &redis::aio::ConnectionManager, value: &[u8]) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT {
        set.spawn(bare_cycle(
            conn.clone(),
            format!("bench:bare:c{i}"),
            value.to_vec(),
        ));
    }
    while set.join_next().await.is_some() {}
}

criterion_group!(benches, redis_cycle);
criterion_main!(benches);
