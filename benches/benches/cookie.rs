//! The cookie driver's full request cycle (open, decode, change one key, encode, seal)
//! by session size, beside the bare limit in the same run: XChaCha20-Poly1305 seal +
//! open of the same number of bytes (with a fresh random nonce, as any secure seal
//! needs) plus base64url encode + decode.

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use session_benches::text_of;
use session_cookie::{CookieStore, Key, Keyring};
use session_core::{Expiry, Session, SessionStore, TokenUpdate};

const SIZES: [(&str, usize); 3] = [("250B", 250), ("1KiB", 1024), ("3KiB", 3072)];

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a tokio runtime: {e}"),
    }
}

/// A 10-key session of about `bytes` bytes; returns its token and its sealed size.
fn seeded(rt: &tokio::runtime::Runtime, store: &Arc<dyn SessionStore>, bytes: usize) -> String {
    let per_key = bytes.saturating_sub(10 * 12) / 10;
    let result = rt.block_on(async {
        let s = Session::new(store.clone(), Expiry::default(), None);
        for i in 0..10 {
            s.set(&format!("key{i}"), &text_of(per_key)).await?;
        }
        s.commit().await
    });
    match result {
        Ok(TokenUpdate::Send(token)) => token,
        other => panic!("seeding failed: {other:?}"),
    }
}

fn bare_seal_open(cipher: &XChaCha20Poly1305, plaintext: &[u8]) -> usize {
    let mut nonce = [0u8; 24];
    let _ = getrandom::fill(&mut nonce);
    let mut buf = plaintext.to_vec();
    let Ok(tag) =
        cipher.encrypt_in_place_detached(XNonce::from_slice(&nonce), b"session", &mut buf)
    else {
        return 0;
    };
    buf.extend_from_slice(&tag);
    let text = URL_SAFE_NO_PAD.encode(&buf);
    let Ok(mut raw) = URL_SAFE_NO_PAD.decode(&text) else {
        return 0;
    };
    let at = raw.len() - 16;
    let (body, tag) = raw.split_at_mut(at);
    let ok = cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            b"session",
            body,
            chacha20poly1305::Tag::from_slice(tag),
        )
        .is_ok();
    usize::from(ok) + body.len()
}

fn cookie_cycle(c: &mut Criterion) {
    let rt = runtime();
    let key = match Key::generate() {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    let store: Arc<dyn SessionStore> = Arc::new(CookieStore::new(Keyring::new(key.clone(), [])));
    let cipher = XChaCha20Poly1305::new(&[7u8; 32].into());
    let mut group = c.benchmark_group("cookie");
    for (label, size) in SIZES {
        let token = seeded(&rt, &store, size);
        // The plaintext the bare run seals: as many bytes as our sealed record holds.
        let plain_len = URL_SAFE_NO_PAD
            .decode(&token)
            .map(|r| r.len() - 45)
            .unwrap_or(size);
        let plaintext = vec![b'x'; plain_len];
        group.throughput(Throughput::Bytes(plain_len as u64));
        group.bench_with_input(BenchmarkId::new("cycle", label), &token, |b, token| {
            b.to_async(&rt).iter(|| async {
                let s = Session::new(store.clone(), Expiry::default(), Some(token.clone()));
                let _ = s.set("key0", "changed").await;
                black_box(s.commit().await.ok());
            })
        });
        group.bench_with_input(
            BenchmarkId::new("bare_aead_base64", label),
            &plaintext,
            |b, p| b.iter(|| black_box(bare_seal_open(&cipher, p))),
        );
    }
    group.finish();
}

criterion_group!(benches, cookie_cycle);
criterion_main!(benches);
