//! Shared helpers for the criterion benches in `benches/` (run with `cargo bench`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
