//! Shared helpers for the criterion benches in `benches/` (run with `cargo bench`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod interleaved;

/// The session sizes every driver bench runs: about 250 B, 1 KiB and 3 KiB of values.
pub const SIZES: [(&str, usize); 3] = [("250B", 250), ("1KiB", 1024), ("3KiB", 3072)];

/// A value of about `bytes` bytes of JSON text, for sized sessions.
pub fn text_of(bytes: usize) -> String {
    (0..bytes)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// The keys of a 10-key session: `key0` .. `key9`.
pub fn ten_keys() -> impl Iterator<Item = String> {
    (0..10).map(|i| format!("key{i}"))
}

/// The 10 values of a session of about `bytes` bytes, as `(key, value)`.
pub fn session_of(bytes: usize) -> Vec<(String, String)> {
    let per_key = bytes.saturating_sub(10 * 12) / 10;
    ten_keys().map(|k| (k, text_of(per_key))).collect()
}

/// A tokio runtime for a bench: two worker threads when `multi_thread`, else one.
pub fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a tokio runtime: {e}"),
    }
}

/// The Redis the benches use: `REDIS_URL`, or `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `host` and `port` of a `redis://host:port[/db]` URL.
pub fn redis_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split("://").nth(1)?;
    let rest = rest.rsplit('@').next()?;
    let hostport = rest.split('/').next()?;
    let (host, port) = hostport.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// True when something answers PING at `url` within a second.
pub fn redis_answers(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some((host, port)) = redis_host_port(url) else {
        return false;
    };
    let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) else {
        return false;
    };
    for addr in addrs {
        if let Ok(mut s) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
        {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
            let mut buf = [0u8; 64];
            if s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0) {
                return true;
            }
        }
    }
    false
}

/// A new session of about `bytes` in ten keys (see [`session_of`]) in `store`; its
/// token.
pub async fn seed_session(
    store: &std::sync::Arc<dyn session_core::SessionStore>,
    bytes: usize,
) -> String {
    use session_core::{Expiry, Session, TokenUpdate};
    let s = Session::new(store.clone(), Expiry::default(), None);
    for (k, v) in session_of(bytes) {
        let _ = s.set(&k, &v).await;
    }
    match s.commit().await {
        Ok(TokenUpdate::Send(token)) => token,
        other => panic!("seeding a session failed: {other:?}"),
    }
}

/// One request cycle through the `Session` handle: load, read one key, change one
/// key, save.
pub async fn session_cycle(store: std::sync::Arc<dyn session_core::SessionStore>, token: String) {
    use session_core::{Expiry, Session};
    let s = Session::new(store, Expiry::default(), Some(token));
    std::hint::black_box(s.get::<String>("key3").await.ok());
    let _ = s.set("key0", "changed").await;
    std::hint::black_box(s.commit().await.ok());
}

/// The same cycle on the driver alone (no `Session` handle): load, read one key,
/// merge the change the handle would send.
pub async fn driver_cycle(store: std::sync::Arc<dyn session_core::SessionStore>, token: String) {
    use session_core::{Change, Edit, Expiry, Seen, StoredValue};
    let expiry = Expiry::default();
    let Some(merging) = store.merging() else {
        return;
    };
    let Ok(Some((mut record, mark))) = merging.load_marked(&token, &expiry).await else {
        return;
    };
    std::hint::black_box(record.get("key3"));
    let value = StoredValue::persistent("\"changed\"");
    record.insert("key0", value.clone());
    let change = Change {
        flush: false,
        edits: vec![("key0", Edit::Set(&value))],
    };
    let seen = Seen {
        mark,
        record: &record,
    };
    std::hint::black_box(
        merging
            .merge(&token, &change, Some(seen), &expiry)
            .await
            .ok(),
    );
}
