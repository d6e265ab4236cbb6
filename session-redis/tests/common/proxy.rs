//! A TCP proxy in front of Redis that can turn the connections it already carries
//! half-open: from then on it swallows their bytes in both directions (no FIN, no
//! RST), while connections made afterwards are forwarded as usual. That is what a
//! NAT or firewall that dropped its state does to a long-lived connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The proxy's switch. Dropping it does not stop the proxy (it ends with the test's
/// runtime).
#[derive(Clone)]
pub struct HalfOpenProxy {
    pub port: u16,
    /// Connections accepted so far get a number; those numbered below this one swallow.
    swallow_below: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl HalfOpenProxy {
    /// A proxy on a free loopback port in front of `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let proxy = HalfOpenProxy {
            port: listener.local_addr()?.port(),
            swallow_below: Arc::new(AtomicU64::new(0)),
            accepted: Arc::new(AtomicU64::new(0)),
        };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = shared.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let (client_rx, client_tx) = client.into_split();
                let (server_rx, server_tx) = server.into_split();
                tokio::spawn(pump(
                    client_rx,
                    server_tx,
                    number,
                    shared.swallow_below.clone(),
                ));
                tokio::spawn(pump(
                    server_rx,
                    client_tx,
                    number,
                    shared.swallow_below.clone(),
                ));
            }
        });
        Ok(proxy)
    }

    /// Every connection open now goes silent for good; new ones work.
    pub fn silence_open_connections(&self) {
        self.swallow_below
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// How many connections the proxy has accepted.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    number: u64,
    swallow_below: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if number < swallow_below.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // Keep the write half open: a half-open peer never closes.
    std::future::pending::<()>().await;
}
