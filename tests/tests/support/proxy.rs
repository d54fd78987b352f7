//! A fault-injecting TCP proxy on 127.0.0.1 in front of one broker listener.
//!
//! Every accepted connection gets its own upstream connection; bytes are forwarded in both
//! directions until a fault is switched on:
//! - [`Proxy::stall`]: nothing is forwarded any more (either way) while the sockets stay open —
//!   a broker that stopped answering;
//! - [`Proxy::close_on_next_request`]: the next bytes a client sends are dropped and both sides
//!   of that connection are closed — a connection lost in the middle of a request;
//! - [`Proxy::truncate_next_response`]: the next bytes the broker sends are cut after
//!   `n` bytes and the connection is closed — a response that ends mid-frame.
//!
//! The broker advertises its own address in metadata, so only a single `Connection` made to the
//! proxy's address is guaranteed to go through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Faults {
    stall: AtomicBool,
    close_on_request: AtomicBool,
    /// 0 = off; otherwise forward this many bytes of the next response, then close.
    truncate_response_at: AtomicUsize,
    connections: AtomicUsize,
}

/// A running proxy; stops accepting when dropped.
pub(crate) struct Proxy {
    address: SocketAddr,
    faults: Arc<Faults>,
    acceptor: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`) on an ephemeral loopback port.
    pub(crate) async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let faults = Arc::new(Faults::default());
        let upstream = upstream.to_owned();
        let acceptor = {
            let faults = faults.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    faults.connections.fetch_add(1, Ordering::AcqRel);
                    let faults = faults.clone();
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&upstream).await {
                            relay(client, server, faults).await;
                        }
                    });
                }
            })
        };
        Proxy {
            address,
            faults,
            acceptor,
        }
    }

    /// The `host:port` clients connect to.
    pub(crate) fn address(&self) -> String {
        self.address.to_string()
    }

    /// How many connections the proxy accepted.
    pub(crate) fn connections(&self) -> usize {
        self.faults.connections.load(Ordering::Acquire)
    }

    /// Stops (or resumes) forwarding in both directions; connections stay open.
    pub(crate) fn stall(&self, on: bool) {
        self.faults.stall.store(on, Ordering::Release);
    }

    /// The next bytes a client sends are dropped and that connection is closed on both sides.
    pub(crate) fn close_on_next_request(&self) {
        self.faults.close_on_request.store(true, Ordering::Release);
    }

    /// The next response bytes from the broker are cut after `n` bytes (n ≥ 1), then the
    /// connection is closed.
    pub(crate) fn truncate_next_response(&self, n: usize) {
        self.faults
            .truncate_response_at
            .store(n.max(1), Ordering::Release);
    }
}

async fn relay(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // When either direction ends (EOF, error or an injected fault), both sockets are dropped,
    // which closes the connection on both sides.
    tokio::select! {
        _ = pump(client_read, server_write, faults.clone(), Direction::Request) => {}
        _ = pump(server_read, client_write, faults, Direction::Response) => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    faults: Arc<Faults>,
    direction: Direction,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while faults.stall.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match direction {
            Direction::Request => {
                if faults.close_on_request.swap(false, Ordering::AcqRel) {
                    return;
                }
            }
            Direction::Response => {
                let cut = faults.truncate_response_at.swap(0, Ordering::AcqRel);
                if cut > 0 {
                    let _ = to.write_all(&buf[..cut.min(n)]).await;
                    let _ = to.flush().await;
                    return;
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
