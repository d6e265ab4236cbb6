//! A TCP proxy in front of Redis that breaks the network the ways operators meet:
//! a blackhole (every byte swallowed, on open and new connections alike, with no
//! FIN or RST), a reset (RST on every open connection), a sever (FIN on every open
//! connection), and back to passing everything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

/// What happens to the connections open when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    None,
    Reset,
    Sever,
}

/// The proxy's switches. It ends with the test's runtime.
#[derive(Clone)]
pub struct FaultProxy {
    pub port: u16,
    blackhole: Arc<AtomicBool>,
    cut: Arc<watch::Sender<(u64, Cut)>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (cut, _) = watch::channel((0, Cut::None));
        let proxy = FaultProxy {
            port: listener.local_addr()?.port(),
            blackhole: Arc::new(AtomicBool::new(false)),
            cut: Arc::new(cut),
        };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let (client_rx, client_tx) = client.into_split();
                let (server_rx, server_tx) = server.into_split();
                for (from, to) in [(client_rx, server_tx), (server_rx, client_tx)] {
                    let mut cuts = shared.cut.subscribe();
                    cuts.mark_unchanged();
                    tokio::spawn(pump(from, to, shared.blackhole.clone(), cuts));
                }
            }
        });
        Ok(proxy)
    }

    /// Swallows every byte from now on, on every connection (new ones are accepted
    /// and then hear nothing), or passes them again.
    pub fn blackhole(&self, on: bool) {
        self.blackhole.store(on, Ordering::SeqCst);
    }

    /// Resets (RST) every connection open now.
    pub fn reset(&self) {
        self.send(Cut::Reset);
    }

    /// Closes (FIN) every connection open now.
    pub fn sever(&self) {
        self.send(Cut::Sever);
    }

    fn send(&self, cut: Cut) {
        self.cut.send_modify(|(n, c)| {
            *n += 1;
            *c = cut;
        });
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    blackhole: Arc<AtomicBool>,
    mut cuts: watch::Receiver<(u64, Cut)>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            read = from.read(&mut buf) => {
                let Ok(n) = read else { return };
                if n == 0 {
                    let _ = to.shutdown().await;
                    return;
                }
                if blackhole.load(Ordering::SeqCst) {
                    continue;
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            changed = cuts.changed() => {
                if changed.is_err() {
                    return;
                }
                let cut = cuts.borrow_and_update().1;
                match cut {
                    Cut::Reset => {
                        // Closed with a zero linger: the peer gets an RST.
                        let _ = from.as_ref().set_zero_linger();
                        return;
                    }
                    Cut::Sever => {
                        let _ = to.shutdown().await;
                        return;
                    }
                    Cut::None => {}
                }
            }
        }
    }
}
