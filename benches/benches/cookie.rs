//! The cookie driver's full request cycle (open, decode, change one key, encode, seal)
//! by session size, beside the bare limit in the same run: XChaCha20-Poly1305 seal +
//! open of the same number of bytes with the fastest parts at hand (HChaCha20, then
//! `ring`'s assembly ChaCha20-Poly1305; a fresh nonce from the thread's CSPRNG, which
//! travels with the ciphertext, as any secure seal needs) plus base64url encode +
//! decode.

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{boxed, interleave};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::RngCore as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use session_benches::{session_of, SIZES};
use session_cookie::{CookieStore, Key, Keyring};
use session_core::{Expiry, Session, SessionStore, StoredValue, TokenUpdate};

mod common;

/// A 10-key session of about `bytes` bytes; returns its token and its sealed size.
fn seeded(rt: &tokio::runtime::Runtime, store: &Arc<dyn SessionStore>, bytes: usize) -> String {
    let result = rt.block_on(async {
        let s = Session::new(store.clone(), Expiry::default(), None);
        for (key, value) in session_of(bytes) {
            s.set(&key, &value).await?;
        }
        s.commit().await
    });
    match result {
        Ok(TokenUpdate::Send(token)) => token,
        other => panic!("seeding failed: {other:?}"),
    }
}

/// The XChaCha20-Poly1305 key and nonce of RFC 8439 for a 24-byte nonce.
fn subkey(key: &[u8; 32], nonce: &[u8]) -> Option<(LessSafeKey, Nonce)> {
    let (head, tail) = nonce.split_at_checked(16)?;
    let derived = chacha20::hchacha::<chacha20::cipher::consts::U10>(&(*key).into(), head.into());
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &derived).ok()?;
    let mut twelve = [0u8; 12];
    twelve.get_mut(4..)?.copy_from_slice(tail);
    Some((
        LessSafeKey::new(unbound),
        Nonce::assume_unique_for_key(twelve),
    ))
}

fn bare_seal_open(key: &[u8; 32], plaintext: &[u8]) -> usize {
    // Sealed text is nonce, ciphertext and tag: the random nonce has to travel with
    // the ciphertext for the other side to open it.
    let mut buf = vec![0u8; 24];
    rand::rng().fill_bytes(&mut buf);
    buf.extend_from_slice(plaintext);
    let Some((sealer, nonce)) = subkey(key, &buf[..24]) else {
        return 0;
    };
    let Ok(tag) = sealer.seal_in_place_separate_tag(nonce, Aad::from(b"session"), &mut buf[24..])
    else {
        return 0;
    };
    buf.extend_from_slice(tag.as_ref());
    let text = URL_SAFE_NO_PAD.encode(&buf);
    let Ok(mut raw) = URL_SAFE_NO_PAD.decode(&text) else {
        return 0;
    };
    let Some((opener, nonce)) = subkey(key, raw.get(..24).unwrap_or_default()) else {
        return 0;
    };
    match opener.open_in_place(nonce, Aad::from(b"session"), &mut raw[24..]) {
        Ok(body) => 1 + body.len(),
        Err(_) => 0,
    }
}

fn cookie_cycle(c: &mut Criterion) {
    let rt = session_benches::runtime(false);
    let key = match Key::generate() {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    // Every cycle opens the same cookie: the store's cache of opened cookies would
    // answer it without the crypto measured here (the HTTP table shows the cache).
    let store: Arc<dyn SessionStore> =
        Arc::new(CookieStore::new(Keyring::new(key.clone(), [])).with_opened_cache_bytes(0));
    let cipher = [7u8; 32];
    let mut group = c.benchmark_group("cookie");
    for (label, size) in SIZES {
        let token = seeded(&rt, &store, size);
        let plain_len = plain_len(&token, size);
        let plaintext = vec![b'x'; plain_len];
        group.throughput(Throughput::Bytes(plain_len as u64));
        group.bench_with_input(BenchmarkId::new("cycle", label), &token, |b, token| {
            b.to_async(&rt).iter(|| session_cycle(&store, token))
        });
        group.bench_with_input(
            BenchmarkId::new("store_cycle", label),
            &token,
            |b, token| b.to_async(&rt).iter(|| driver_cycle(&store, token)),
        );
        group.bench_with_input(
            BenchmarkId::new("bare_aead_base64", label),
            &plaintext,
            |b, p| b.iter(|| black_box(bare_seal_open(&cipher, p))),
        );
        let rival = ActixCookie::new(size);
        group.bench_with_input(
            BenchmarkId::new("actix_session_cookie", label),
            &rival,
            |b, r| b.to_async(&rt).iter(|| r.cycle()),
        );
    }
    group.finish();

    // The same cycles interleaved (see `session_benches::interleaved`), for ratios
    // that a busy moment of the machine cannot tilt.
    let mut group = c.benchmark_group("interleaved");
    for (label, size) in SIZES {
        let token = seeded(&rt, &store, size);
        let plaintext = vec![b'x'; plain_len(&token, size)];
        let rival = ActixCookie::new(size);
        let session = || boxed(session_cycle(&store, &token));
        let driver = || boxed(driver_cycle(&store, &token));
        let bare = || {
            boxed(async {
                black_box(bare_seal_open(&cipher, &plaintext));
            })
        };
        let actix = || boxed(rival.cycle());
        interleave(
            &mut group,
            &rt,
            &format!("cookie_cycle_{label}"),
            &["session", "driver", "bare", "actix"],
            &[&session, &driver, &bare, &actix],
        );
    }
    group.finish();
}

/// Our cycle through `Session`: load, change one key, save.
async fn session_cycle(store: &Arc<dyn SessionStore>, token: &str) {
    let s = Session::new(store.clone(), Expiry::default(), Some(token.to_owned()));
    let _ = s.set("key0", "changed").await;
    black_box(s.commit().await.ok());
}

/// The driver alone, as the issue words the cycle: open + decode (load), change one
/// key, encode + seal (save); no `Session` handle around it.
async fn driver_cycle(store: &Arc<dyn SessionStore>, token: &str) {
    let Ok(Some(mut record)) = store.load(token, &Expiry::default()).await else {
        return;
    };
    record.insert("key0", StoredValue::persistent("\"changed\""));
    let saved = store.save(token, &record).await;
    black_box(saved.ok());
}

/// The plaintext length the bare run seals: as many bytes as the sealed record
/// `token` holds.
fn plain_len(token: &str, size: usize) -> usize {
    URL_SAFE_NO_PAD
        .decode(token)
        .map(|r| r.len() - 45)
        .unwrap_or(size)
}

/// actix-session 0.11's cookie pipeline, as its middleware runs it: the private
/// (AES-256-GCM) cookie jar opens the cookie, `CookieSessionStore` loads the state,
/// one key changes, the store updates, the jar seals the new cookie.
struct ActixCookie {
    key: actix_web::cookie::Key,
    store: actix_session::storage::CookieSessionStore,
    sealed: String,
}

impl ActixCookie {
    fn new(bytes: usize) -> Self {
        use actix_web::cookie::{Cookie, CookieJar, Key};
        let key = Key::generate();
        let state: std::collections::HashMap<String, String> = session_of(bytes)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_string(&v).unwrap_or_default()))
            .collect();
        let mut jar = CookieJar::new();
        jar.private_mut(&key).add(Cookie::new(
            "id",
            serde_json::to_string(&state).unwrap_or_default(),
        ));
        let sealed = jar
            .get("id")
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        ActixCookie {
            key,
            store: actix_session::storage::CookieSessionStore::default(),
            sealed,
        }
    }

    async fn cycle(&self) {
        use actix_session::storage::{SessionKey, SessionStore};
        use actix_web::cookie::{Cookie, CookieJar};
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new("id", self.sealed.clone()));
        let Some(plain) = jar.private(&self.key).get("id") else {
            return;
        };
        let Ok(session_key) = SessionKey::try_from(plain.value().to_owned()) else {
            return;
        };
        let Ok(Some(mut state)) = self.store.load(&session_key).await else {
            return;
        };
        state.insert(
            "key0".into(),
            serde_json::to_string("changed").unwrap_or_default(),
        );
        let ttl = actix_web::cookie::time::Duration::hours(1);
        let Ok(new_key) = self.store.update(session_key, state, &ttl).await else {
            return;
        };
        jar.private_mut(&self.key)
            .add(Cookie::new("id", String::from(new_key)));
        black_box(jar.delta().next().map(|c| c.value().len()));
    }
}

criterion_group!(benches, cookie_cycle);
criterion_main!(benches);
