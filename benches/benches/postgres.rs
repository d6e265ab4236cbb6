//! The PostgreSQL driver's request cycle (load one key, change one key, save) for
//! 10-key sessions by size, interleaved with the bare limit on the same pool: a
//! `SELECT` of a JSONB row by primary key and an `UPDATE` writing it back whole.
//!
//! PostgreSQL: `POSTGRES_URL`, or postgres://postgres@127.0.0.1:5432/test. When it
//! cannot connect, the group says so and is skipped.

use std::hint::black_box;
use std::sync::Arc;

use common::{boxed, interleave};
use criterion::{criterion_group, criterion_main, Criterion};
use session_benches::{driver_cycle, seed_session, session_cycle, session_of, SIZES};
use session_core::SessionStore;
use session_sql::{PostgresSettings, PostgresStore};
use sqlx::Row;

mod common;

const CONTENDERS: [&str; 3] = ["session", "driver", "bare"];
const TABLE: &str = "bench_sessions";
const BARE: &str = "bench_bare";

/// The bare limit: the row by key, then the whole JSONB value written back.
async fn bare_cycle(pool: sqlx::PgPool, id: String) {
    let row = sqlx::query(&format!("SELECT data::text FROM {BARE} WHERE id = $1"))
        .bind(&id)
        .fetch_optional(&pool)
        .await;
    let Ok(Some(row)) = row else {
        return;
    };
    let data: String = row.try_get(0).unwrap_or_default();
    let mut value: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
    black_box(value.get("key3"));
    value["key0"] = serde_json::json!("changed");
    let updated = sqlx::query(&format!("UPDATE {BARE} SET data = $2::jsonb WHERE id = $1"))
        .bind(&id)
        .bind(value.to_string())
        .execute(&pool)
        .await;
    black_box(updated.ok());
}

fn postgres_cycle(c: &mut Criterion) {
    let url = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rt = session_benches::runtime(true);
    let mut settings = PostgresSettings::default();
    settings.url = url.clone();
    settings.table = TABLE.into();
    let store: Arc<dyn SessionStore> = match rt.block_on(PostgresStore::connect(&settings)) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("SKIPPED postgres benches: {e}");
            return;
        }
    };
    let pool = match rt.block_on(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .connect(&url),
    ) {
        Ok(pool) => pool,
        Err(e) => panic!("bare pool: {e}"),
    };
    let ddl =
        format!("CREATE TABLE IF NOT EXISTS {BARE} (id TEXT PRIMARY KEY, data JSONB NOT NULL)");
    if let Err(e) = rt.block_on(sqlx::query(&ddl).execute(&pool)) {
        panic!("bare table: {e}");
    }

    let mut group = c.benchmark_group("interleaved");
    for (label, size) in SIZES {
        let token = rt.block_on(seed_session(&store, size));
        let id = format!("bare-{label}");
        let data: serde_json::Map<String, serde_json::Value> = session_of(size)
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let insert = format!(
            "INSERT INTO {BARE} (id, data) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data"
        );
        if let Err(e) = rt.block_on(
            sqlx::query(&insert)
                .bind(&id)
                .bind(serde_json::Value::Object(data).to_string())
                .execute(&pool),
        ) {
            panic!("bare row: {e}");
        }
        let session = || boxed(session_cycle(store.clone(), token.clone()));
        let driver = || boxed(driver_cycle(store.clone(), token.clone()));
        let bare = || boxed(bare_cycle(pool.clone(), id.clone()));
        interleave(
            &mut group,
            &rt,
            &format!("postgres_cycle_{label}"),
            &CONTENDERS,
            &[&session, &driver, &bare],
        );
    }
    group.finish();
}

criterion_group!(benches, postgres_cycle);
criterion_main!(benches);
