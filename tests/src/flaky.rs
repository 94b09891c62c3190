//! A TCP proxy on loopback that breaks connections on purpose, the way a
//! phone's network does: before the request arrives, in the middle of its
//! body, or after the server has answered but before the answer gets back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
pub struct Stats {
    pub passed: AtomicUsize,
    pub cut_before_request: AtomicUsize,
    pub cut_mid_request: AtomicUsize,
    pub cut_after_reply: AtomicUsize,
}

pub struct FlakyProxy {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A small deterministic generator (xorshift64*), so a failing run can be replayed.
struct Rng(AtomicU64);

impl Rng {
    fn next(&self) -> u64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl FlakyProxy {
    /// Forward to `upstream`, breaking `fail_percent` of the connections
    /// (drawn at random), the three ways in turn.
    pub async fn start(
        upstream: SocketAddr,
        fail_percent: u64,
        seed: u64,
    ) -> std::io::Result<FlakyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let rng = Arc::new(Rng(AtomicU64::new(seed.max(1))));
        let s = stats.clone();
        let task = tokio::spawn(async move {
            let mut failures = 0u64;
            while let Ok((client, _)) = listener.accept().await {
                let draw = rng.next() % 100;
                let which = failures % 3;
                if draw < fail_percent {
                    failures += 1;
                }
                let stats = s.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, draw, which, fail_percent, &stats).await;
                });
            }
        });
        Ok(FlakyProxy { addr, stats, task })
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    draw: u64,
    which: u64,
    fail_percent: u64,
    stats: &Stats,
) -> std::io::Result<()> {
    if draw >= fail_percent {
        stats.passed.fetch_add(1, Ordering::Relaxed);
        let mut server = TcpStream::connect(upstream).await?;
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    }
    match which {
        0 => {
            stats.cut_before_request.fetch_add(1, Ordering::Relaxed);
            drop(client);
        }
        1 => {
            // Forward part of what the phone sent, then drop both ends.
            stats.cut_mid_request.fetch_add(1, Ordering::Relaxed);
            let mut server = TcpStream::connect(upstream).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let n = client.read(&mut buf).await?;
            server.write_all(&buf[..n / 2]).await?;
            server.flush().await?;
        }
        _ => {
            // The whole request reaches the server, which answers; the
            // answer never reaches the phone.
            stats.cut_after_reply.fetch_add(1, Ordering::Relaxed);
            let server = TcpStream::connect(upstream).await?;
            let (mut cr, _cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            let mut first = [0u8; 1];
            let _ = sr.read(&mut first).await;
            up.abort();
        }
    }
    Ok(())
}

/// A TCP forwarder that can be shut like a door: while shut, connections
/// are refused and those open are cut, as when a service goes down.
pub struct Gate {
    pub addr: SocketAddr,
    open: Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gate {
    /// Forward to `upstream`, open.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Gate> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (open, _) = tokio::sync::watch::channel(true);
        let open = Arc::new(open);
        let state = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut watch = state.subscribe();
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Ok(Gate { addr, open, task })
    }

    pub fn shut(&self) {
        self.open.send_replace(false);
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
