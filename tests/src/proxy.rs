//! The fault-injecting TCP proxy of the fault tests, in front of one broker listener.
//!
//! Every accepted connection gets its own upstream connection; bytes are forwarded in both
//! directions until a fault is switched on:
//! - [`Proxy::stall`]: nothing is forwarded any more (either way) while the sockets stay open —
//!   a broker that stopped answering;
//! - [`Proxy::close_on_next_request`]: the next bytes a client sends are dropped and both sides
//!   of that connection are closed — a connection lost in the middle of a request;
//! - [`Proxy::truncate_next_response`]: the next bytes the broker sends are cut after
//!   `n` bytes and the connection is closed — a response that ends mid-frame;
//! - [`Proxy::cut_all`]: every connection is dropped at once, in the middle of whatever it
//!   carries.
//!
//! The broker advertises its own address in metadata, so only a single `Connection` made to a
//! proxy of [`Proxy::start`] is guaranteed to go through it. The harness' PROXIED listener
//! advertises another address; a proxy of [`Proxy::listen`] there carries every connection the
//! client makes after bootstrap.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    cuts: AtomicUsize,
}

/// A running proxy; stops accepting and drops its connections when dropped.
pub struct Proxy {
    address: SocketAddr,
    faults: Arc<Faults>,
    /// The relay task of every connection accepted since the last [`Proxy::cut_all`].
    relays: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        for relay in self
            .relays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            relay.abort();
        }
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`) on an ephemeral loopback port.
    pub async fn start(upstream: &str) -> Proxy {
        Self::listen("127.0.0.1:0", upstream).await
    }

    /// Starts a proxy to `upstream` listening on `listen` (`host:port`), e.g. the address the
    /// PROXIED listener advertises.
    pub async fn listen(listen: &str, upstream: &str) -> Proxy {
        let listener = TcpListener::bind(listen)
            .await
            .unwrap_or_else(|e| panic!("the proxy cannot listen on {listen}: {e}"));
        let address = listener.local_addr().expect("proxy address");
        let faults = Arc::new(Faults::default());
        let relays: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let upstream = upstream.to_owned();
        let acceptor = {
            let faults = faults.clone();
            let relays = relays.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    faults.connections.fetch_add(1, Ordering::AcqRel);
                    let faults = faults.clone();
                    let upstream = upstream.clone();
                    let relay = tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&upstream).await {
                            relay(client, server, faults).await;
                        }
                    });
                    relays.lock().unwrap_or_else(|e| e.into_inner()).push(relay);
                }
            })
        };
        Proxy {
            address,
            faults,
            relays,
            acceptor,
        }
    }

    /// The `host:port` clients connect to.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// How many connections the proxy accepted.
    pub fn connections(&self) -> usize {
        self.faults.connections.load(Ordering::Acquire)
    }

    /// Stops (or resumes) forwarding in both directions; connections stay open.
    pub fn stall(&self, on: bool) {
        self.faults.stall.store(on, Ordering::Release);
    }

    /// The next bytes a client sends are dropped and that connection is closed on both sides.
    pub fn close_on_next_request(&self) {
        self.faults.close_on_request.store(true, Ordering::Release);
    }

    /// The next response bytes from the broker are cut after `n` bytes (n ≥ 1), then the
    /// connection is closed.
    pub fn truncate_next_response(&self, n: usize) {
        self.faults
            .truncate_response_at
            .store(n.max(1), Ordering::Release);
    }

    /// Drops every connection accepted since the last cut, in the middle of whatever it
    /// carries; returns how many that were (closed ones included).
    pub fn cut_all(&self) -> usize {
        let mut relays = self.relays.lock().unwrap_or_else(|e| e.into_inner());
        let n = relays.len();
        for relay in relays.drain(..) {
            relay.abort();
        }
        self.faults.cuts.fetch_add(1, Ordering::AcqRel);
        n
    }

    /// How many times [`Proxy::cut_all`] ran.
    pub fn cuts(&self) -> usize {
        self.faults.cuts.load(Ordering::Acquire)
    }
}

async fn relay(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    // No TCP_NODELAY, and (in `pump`) the 8 KiB buffer of `tokio::io::copy`: a request larger
    // than that leaves in two writes, and Nagle holds the second for the peer's delayed ACK.
    // The idempotence fault test counts on that latency: without it its produce is over before
    // the cuts it asserts.
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
    let mut buf = vec![0u8; 8 * 1024];
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
