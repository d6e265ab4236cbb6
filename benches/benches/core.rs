//! The core hot path: load a 10-key record, get, set, flash, save (MemoryStore, so the
//! figure is the cost of `session-core` itself).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use session_benches::{ten_keys, text_of};
use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};

fn core_hot_path(c: &mut Criterion) {
    let rt = session_benches::runtime(false);
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let token = rt.block_on(async {
        let s = Session::new(store.clone(), Expiry::default(), None);
        for key in ten_keys() {
            s.set(&key, &text_of(20)).await?;
        }
        s.commit().await
    });
    let Ok(TokenUpdate::Send(token)) = token else {
        panic!("seeding the session failed: {token:?}");
    };
    let mut group = c.benchmark_group("core");
    group.bench_function("load_get_set_flash_save_10_keys", |b| {
        b.to_async(&rt).iter(|| async {
            let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
            let v: Option<String> = s.get("key3").await.ok().flatten();
            black_box(v);
            let _ = s.set("key4", "changed value").await;
            let _ = s.flash("notice", "saved").await;
            black_box(s.commit().await.ok());
        })
    });
    group.bench_function("untouched_request", |b| {
        b.to_async(&rt).iter(|| async {
            let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
            black_box(s.commit().await.ok());
        })
    });
    group.finish();
}

criterion_group!(benches, core_hot_path);
criterion_main!(benches);
