//! What the examples share: where they listen, and the cookie key.
//!
//! Run one with `cargo run -p session-examples --example minimal` (see `README.md`
//! beside this crate for the list).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use session_tower::{Key, Keyring};

/// Binds `ADDR` (default `127.0.0.1:3000`) and prints where it listens.
pub async fn listen() -> std::io::Result<tokio::net::TcpListener> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// The cookie key from `APP_KEY` (base64 of 32 bytes), or a random one: sessions then
/// end when the example stops.
pub fn keyring() -> Result<Keyring, session_tower::Error> {
    let key = match std::env::var("APP_KEY") {
        Ok(text) => Key::from_base64("APP_KEY", &text),
        Err(_) => {
            println!("APP_KEY is not set: using a random key");
            Key::generate()
        }
    }
    .map_err(session_tower::store::Error::from)?;
    Ok(Keyring::new(key, []))
}
