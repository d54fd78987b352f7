//! One connection to one broker: handshake, then many requests in flight matched by correlation id.
//!
//! [`Connection::connect`] opens the TCP socket (and TLS, and SASL, when configured), negotiates
//! API versions, and then splits the stream between two tasks: a writer that sends queued frames
//! in order, and a reader that routes each response frame to the request waiting for its
//! correlation id. Callers never touch the socket, so dropping a request future never leaves a
//! half-written frame behind.
//!
//! Order: requests are written in the order their futures queued them, and Kafka answers them in
//! that order. A request that times out closes the connection (as the Java client does), failing
//! every other request in flight with [`Error::ConnectionClosed`]; callers retry on a new one.
//!
//! This module does not retry, reconnect or pick brokers: that is the cluster's job.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use laminar_kafka_protocol::frame::{
    self, FrameDecoder, api_key_name, decode_response, encode_request,
};
use laminar_kafka_protocol::messages::messages::{
    ApiKey, ApiVersionsRequest, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use laminar_kafka_protocol::messages::protocol::Request;
use laminar_kafka_protocol::versions::{
    self, NegotiatedVersions, api_versions_request, api_versions_retry_version,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::sasl::SaslChannel;
pub use crate::security::Transport;
use crate::stats::{BrokerCounters, InFlight, Throttled};

/// Settings of a single connection.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// `client.id`, sent in every request header.
    pub client_id: String,
    /// Software name and version sent in ApiVersions (KIP-511).
    pub software_name: String,
    /// Software version sent in ApiVersions.
    pub software_version: String,
    /// Time allowed for TCP connect plus handshake (`socket.connection.setup.timeout.ms`).
    pub connect_timeout: Duration,
    /// Time a request may wait for its response (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// Largest response frame accepted (`receive.message.max.bytes`).
    pub max_frame_size: usize,
    /// Security: TLS and SASL layered over the socket.
    pub security: crate::security::Security,
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("client_id", &self.client_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_frame_size", &self.max_frame_size)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl ConnectionConfig {
    /// The connection settings implied by a client configuration (TLS material is loaded here,
    /// so a bad CA file is reported before any connection is tried).
    pub fn from_client_config(config: &crate::config::ClientConfig) -> Result<Self> {
        Ok(Self {
            client_id: config.common.client_id.clone(),
            connect_timeout: config.common.connect_timeout,
            request_timeout: config.common.request_timeout,
            max_frame_size: config.common.receive_message_max_bytes,
            security: crate::security::Security::from_config(config)?,
            ..Self::default()
        })
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            client_id: "laminar-kafka".to_owned(),
            software_name: "laminar-kafka".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            security: crate::security::Security::default(),
        }
    }
}

type Pending = Mutex<HashMap<i32, oneshot::Sender<Bytes>>>;

struct Shared {
    broker: String,
    /// The statistics of the broker's address, shared with the connections before and after.
    stats: Arc<BrokerCounters>,
    pending: Pending,
    closed: AtomicBool,
    close_reason: Mutex<Option<String>>,
}

/// The reason of a close the application asked for (logged at debug, not info).
const CLOSED_BY_CLIENT: &str = "closed by the client";

impl Shared {
    fn close(&self, reason: String) {
        let mut r = self.close_reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            if reason == CLOSED_BY_CLIENT {
                tracing::debug!(
                    target: log_targets::CONNECTION,
                    broker = self.broker.as_str(),
                    reason = reason.as_str(),
                    "disconnected"
                );
            } else {
                tracing::info!(
                    target: log_targets::CONNECTION,
                    broker = self.broker.as_str(),
                    reason = reason.as_str(),
                    "disconnected"
                );
            }
            *r = Some(reason);
            self.stats.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        drop(r);
        self.closed.store(true, Ordering::Release);
        // Dropping the senders wakes every waiter with a closed error.
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn closed_error(&self) -> Error {
        Error::ConnectionClosed {
            broker: self.broker.clone(),
            reason: self
                .close_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

struct Tasks {
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// An authenticated connection to one broker, shared by cloning.
///
/// ```no_run
/// # async fn example() -> laminar_kafka_client::Result<()> {
/// use laminar_kafka_client::connection::{Connection, ConnectionConfig};
/// use laminar_kafka_client::protocol::messages::messages::MetadataRequest;
///
/// let conn = Connection::connect("127.0.0.1:9092", &ConnectionConfig::default()).await?;
/// let metadata = conn.send(&MetadataRequest::default()).await?;
/// println!("{} brokers", metadata.brokers.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Bytes>,
    versions: Arc<NegotiatedVersions>,
    next_correlation_id: Arc<AtomicI32>,
    client_id: Arc<str>,
    request_timeout: Duration,
    /// Held shared while a request is queued, exclusively while re-authenticating (KIP-368:
    /// nothing else may be sent until the new session is established).
    gate: Arc<tokio::sync::RwLock<()>>,
    reauthentications: Arc<AtomicU64>,
    _tasks: Arc<Tasks>,
}

/// A connection handle that does not keep the connection alive (for its own timers).
struct WeakConnection {
    shared: std::sync::Weak<Shared>,
    outbox: mpsc::WeakSender<Bytes>,
    versions: Arc<NegotiatedVersions>,
    next_correlation_id: Arc<AtomicI32>,
    client_id: Arc<str>,
    request_timeout: Duration,
    gate: Arc<tokio::sync::RwLock<()>>,
    reauthentications: Arc<AtomicU64>,
    tasks: std::sync::Weak<Tasks>,
}

impl WeakConnection {
    fn upgrade(&self) -> Option<Connection> {
        Some(Connection {
            shared: self.shared.upgrade()?,
            outbox: self.outbox.upgrade()?,
            versions: self.versions.clone(),
            next_correlation_id: self.next_correlation_id.clone(),
            client_id: self.client_id.clone(),
            request_timeout: self.request_timeout,
            gate: self.gate.clone(),
            reauthentications: self.reauthentications.clone(),
            _tasks: self.tasks.upgrade()?,
        })
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.shared.broker)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `broker` (`host:port`), performs TLS and SASL as configured, and negotiates
    /// API versions. The whole setup is bounded by `config.common.connect_timeout`.
    pub async fn connect(broker: &str, config: &ConnectionConfig) -> Result<Connection> {
        Self::connect_counted(broker, config, Arc::default()).await
    }

    /// Like [`connect`](Self::connect), counting into `stats` (the statistics of the address,
    /// kept across reconnects).
    pub(crate) async fn connect_counted(
        broker: &str,
        config: &ConnectionConfig,
        stats: Arc<BrokerCounters>,
    ) -> Result<Connection> {
        let setup = async {
            let tcp = TcpStream::connect(broker)
                .await
                .map_err(|source| Error::Connect {
                    broker: broker.to_owned(),
                    source,
                })?;
            // Small requests (heartbeats, metadata) must not wait for Nagle.
            tcp.set_nodelay(true).map_err(|source| Error::Connect {
                broker: broker.to_owned(),
                source,
            })?;
            let mut stream = config.security.wrap(broker, tcp).await?;
            let versions = negotiate(&mut *stream, broker, config).await?;
            let mut channel = HandshakeChannel {
                stream: &mut *stream,
                broker,
                config,
                next_correlation_id: 1,
            };
            let authenticated = config
                .security
                .authenticate(broker, &versions, &mut channel)
                .await?;
            let next_cid = channel.next_correlation_id;
            Ok::<_, Error>((stream, versions, next_cid, authenticated))
        };
        let setup = tokio::time::timeout(config.connect_timeout, setup)
            .await
            .map_err(|_| Error::ConnectTimeout {
                broker: broker.to_owned(),
                timeout: config.connect_timeout,
            })
            .and_then(|setup| setup);
        let (stream, versions, next_cid, authenticated) = match setup {
            Ok(setup) => setup,
            Err(e) => {
                tracing::info!(
                    target: log_targets::CONNECTION,
                    broker,
                    security = config.security.protocol_name(),
                    error = %e,
                    "connection failed"
                );
                return Err(e);
            }
        };
        tracing::debug!(
            target: log_targets::CONNECTION,
            broker,
            security = config.security.protocol_name(),
            mechanism = config.security.mechanism_name(),
            session_lifetime_ms = authenticated.session_lifetime.map(|l| l.as_millis() as u64),
            "connected"
        );
        stats.connects.fetch_add(1, Ordering::Relaxed);
        let conn = Self::start(broker, stream, versions, next_cid, config, stats);
        if let Some(lifetime) = authenticated.session_lifetime {
            tokio::spawn(reauthenticate_before_expiry(
                conn.downgrade(),
                config.clone(),
                lifetime,
            ));
        }
        Ok(conn)
    }

    fn downgrade(&self) -> WeakConnection {
        WeakConnection {
            shared: Arc::downgrade(&self.shared),
            outbox: self.outbox.downgrade(),
            versions: self.versions.clone(),
            next_correlation_id: self.next_correlation_id.clone(),
            client_id: self.client_id.clone(),
            request_timeout: self.request_timeout,
            gate: self.gate.clone(),
            reauthentications: self.reauthentications.clone(),
            tasks: Arc::downgrade(&self._tasks),
        }
    }

    /// How many times this connection re-authenticated (KIP-368) so far.
    pub fn reauthentications(&self) -> u64 {
        self.reauthentications.load(Ordering::Relaxed)
    }

    fn start(
        broker: &str,
        stream: Box<dyn Transport>,
        versions: NegotiatedVersions,
        next_cid: i32,
        config: &ConnectionConfig,
        stats: Arc<BrokerCounters>,
    ) -> Connection {
        let shared = Arc::new(Shared {
            broker: broker.to_owned(),
            stats,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
        });
        let (read_half, write_half) = tokio::io::split(stream);
        // A bounded queue: when the socket is slower than the callers, they wait here.
        let (outbox, inbox) = mpsc::channel::<Bytes>(256);
        let reader = tokio::spawn(read_loop(
            read_half,
            shared.clone(),
            FrameDecoder::new(config.max_frame_size),
        ));
        let writer = tokio::spawn(write_loop(write_half, inbox, shared.clone()));
        Connection {
            shared,
            outbox,
            versions: Arc::new(versions),
            next_correlation_id: Arc::new(AtomicI32::new(next_cid)),
            client_id: config.client_id.as_str().into(),
            request_timeout: config.request_timeout,
            gate: Arc::new(tokio::sync::RwLock::new(())),
            reauthentications: Arc::new(AtomicU64::new(0)),
            _tasks: Arc::new(Tasks { reader, writer }),
        }
    }

    /// The broker address this connection was made to.
    pub fn broker(&self) -> &str {
        &self.shared.broker
    }

    /// Records the `throttle_time_ms` of a Produce or Fetch response in the broker's statistics.
    pub fn record_throttle(&self, api: Throttled, throttle_time_ms: i32) {
        self.shared.stats.throttle(api, throttle_time_ms);
    }

    /// The API versions negotiated with this broker.
    pub fn versions(&self) -> &NegotiatedVersions {
        &self.versions
    }

    /// Whether the connection has closed (it will never carry another request).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn next_correlation_id(&self) -> i32 {
        // Wraps from i32::MAX to 0; never negative.
        self.next_correlation_id
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(if c == i32::MAX { 0 } else { c + 1 })
            })
            .unwrap_or(0)
    }

    fn protocol_error(&self, source: laminar_kafka_protocol::Error) -> Error {
        Error::Protocol {
            broker: self.shared.broker.clone(),
            source,
        }
    }

    /// Sends `request` at the highest version both sides speak and waits for its response.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response> {
        let version = self
            .versions
            .version_for::<R>()
            .map_err(|e| self.protocol_error(e))?;
        self.send_at(request, version).await
    }

    /// Sends `request` at `version` and waits for its response, at most the request timeout.
    pub async fn send_at<R: Request>(&self, request: &R, version: i16) -> Result<R::Response> {
        let frame = self.send_raw_at(request, version).await?;
        decode_response::<R>(frame, version)
            .map(|(_, body)| body)
            .map_err(|e| self.protocol_error(e))
    }

    /// Sends `request` at `version` and returns the raw response frame (header included), for
    /// callers that decode it themselves, such as fetchers that want to keep record bytes.
    pub async fn send_raw_at<R: Request>(&self, request: &R, version: i16) -> Result<Bytes> {
        self.send_raw_inner(request, version, true).await
    }

    /// Like [`send_at`](Self::send_at), but past the re-authentication gate: only the
    /// re-authentication exchange itself uses it.
    pub(crate) async fn send_ungated_at<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        let frame = self.send_raw_inner(request, version, false).await?;
        decode_response::<R>(frame, version)
            .map(|(_, body)| body)
            .map_err(|e| self.protocol_error(e))
    }

    async fn send_raw_inner<R: Request>(
        &self,
        request: &R,
        version: i16,
        gated: bool,
    ) -> Result<Bytes> {
        let api = ApiKey::try_from(R::KEY)
            .map(api_key_name)
            .unwrap_or("unknown API");
        let correlation_id = self.next_correlation_id();
        let mut buf = BytesMut::new();
        encode_request(
            &mut buf,
            correlation_id,
            Some(&self.client_id),
            version,
            request,
        )
        .map_err(|e| self.protocol_error(e))?;
        tracing::trace!(
            target: log_targets::CONNECTION,
            broker = self.shared.broker.as_str(),
            api,
            version,
            correlation_id,
            bytes = buf.len(),
            "request"
        );
        // Pass the re-authentication gate before the request enters `pending`: the
        // re-authentication holds the gate while it waits for `pending` to drain, so a request
        // registered first and then stopped at the gate would stall both until the timeout.
        let gate = if gated {
            Some(self.gate.read().await)
        } else {
            None
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if self.is_closed() {
                return Err(self.shared.closed_error());
            }
            pending.insert(correlation_id, tx);
        }
        // Dropped before the request is queued (the caller gave up), the guard takes the entry
        // out again: no response will come for it, and a re-authentication waiting for
        // `pending` to drain must not wait for it. Once queued, the entry stays until the
        // response arrives and is then discarded: the byte stream stays in step either way.
        let unqueued = UnqueuedEntry {
            shared: &self.shared,
            correlation_id,
        };
        let stats = &self.shared.stats;
        let bytes = buf.len() as u64;
        let sent_at = std::time::Instant::now();
        let queued = self.outbox.send(buf.freeze()).await;
        std::mem::forget(unqueued);
        drop(gate);
        if queued.is_err() {
            return Err(self.shared.closed_error());
        }
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        let in_flight = InFlight::start(stats);
        let answered = tokio::time::timeout(self.request_timeout, rx).await;
        drop(in_flight);
        match answered {
            Ok(Ok(frame)) => {
                stats
                    .latency_us
                    .record(sent_at.elapsed().as_micros().min(u64::MAX as u128) as u64);
                tracing::trace!(
                    target: log_targets::CONNECTION,
                    broker = self.shared.broker.as_str(),
                    api,
                    version,
                    correlation_id,
                    bytes = frame.len(),
                    "response"
                );
                Ok(frame)
            }
            Ok(Err(_)) => Err(self.shared.closed_error()),
            Err(_) => {
                tracing::info!(
                    target: log_targets::CONNECTION,
                    broker = self.shared.broker.as_str(),
                    api,
                    correlation_id,
                    timeout_ms = self.request_timeout.as_millis() as u64,
                    "request timed out; closing the connection"
                );
                self.shared.close(format!(
                    "{api} request (correlation id {correlation_id}) timed out after {:?}",
                    self.request_timeout
                ));
                Err(Error::RequestTimeout {
                    broker: self.shared.broker.clone(),
                    api,
                    timeout: self.request_timeout,
                })
            }
        }
    }

    /// Sends a request that gets no response (Produce with `acks=0`). Returns once it is queued
    /// for writing.
    pub async fn send_no_response<R: Request>(&self, request: &R, version: i16) -> Result<()> {
        if self.is_closed() {
            return Err(self.shared.closed_error());
        }
        let mut buf = BytesMut::new();
        let correlation_id = self.next_correlation_id();
        encode_request(
            &mut buf,
            correlation_id,
            Some(&self.client_id),
            version,
            request,
        )
        .map_err(|e| self.protocol_error(e))?;
        tracing::trace!(
            target: log_targets::CONNECTION,
            broker = self.shared.broker.as_str(),
            api = ApiKey::try_from(R::KEY).map(api_key_name).unwrap_or("unknown API"),
            version,
            correlation_id,
            bytes = buf.len(),
            "request without response"
        );
        let _gate = self.gate.read().await;
        let bytes = buf.len() as u64;
        self.outbox
            .send(buf.freeze())
            .await
            .map_err(|_| self.shared.closed_error())?;
        let stats = &self.shared.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Closes the connection; requests in flight fail with [`Error::ConnectionClosed`].
    pub fn close(&self) {
        self.shared.close(CLOSED_BY_CLIENT.to_owned());
        self._tasks.writer.abort();
        self._tasks.reader.abort();
    }
}

/// Removes a request's `pending` entry if the request never reached the outbox.
struct UnqueuedEntry<'a> {
    shared: &'a Shared,
    correlation_id: i32,
}

impl Drop for UnqueuedEntry<'_> {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.correlation_id);
    }
}

/// Re-authenticates at a random 85–95 % of each session lifetime the broker grants (KIP-368),
/// holding new requests back meanwhile; responses to requests already in flight keep arriving.
/// A failure closes the connection (its requests fail and the cluster reconnects).
async fn reauthenticate_before_expiry(
    weak: WeakConnection,
    config: ConnectionConfig,
    mut lifetime: Duration,
) {
    let mut jitter = crate::backoff::SplitMix::from_entropy();
    // Kafka brokers refuse a re-authentication that starts less than a second after the
    // previous one (the SaslHandshake then fails with ILLEGAL_SASL_STATE).
    const MIN_INTERVAL: Duration = Duration::from_millis(1050);
    let mut last_start = tokio::time::Instant::now();
    loop {
        let fraction = 0.85 + 0.10 * crate::backoff::Jitter::next_unit(&mut jitter);
        tokio::time::sleep(lifetime.mul_f64(fraction)).await;
        let Some(conn) = weak.upgrade() else { return };
        if conn.is_closed() {
            return;
        }
        let gate = conn.gate.clone();
        let _exclusive = gate.write().await;
        // Let the requests already sent finish first, as the Java client does: the broker
        // answers a non-SASL request that arrives during its re-authentication with
        // ILLEGAL_SASL_STATE, and a request still queued for writing would be one.
        let drained = tokio::time::timeout(conn.request_timeout, async {
            while !conn
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        if drained.is_err() {
            conn.shared
                .close("requests did not finish before re-authentication".to_owned());
            return;
        }
        // With sessions barely over a second, wait out the broker's minimum interval while
        // holding new requests back (so none is sent on an expired session).
        tokio::time::sleep_until(last_start + MIN_INTERVAL).await;
        last_start = tokio::time::Instant::now();
        tracing::debug!(
            target: log_targets::SASL,
            broker = conn.broker(),
            session_lifetime_ms = lifetime.as_millis() as u64,
            "re-authenticating (KIP-368)"
        );
        // The same exchange as the first authentication, on this connection and past its gate.
        let reauthenticated = config
            .security
            .authenticate(conn.broker(), conn.versions(), &mut ReauthChannel(&conn))
            .await;
        match reauthenticated {
            Ok(auth) => {
                let count = conn.reauthentications.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::debug!(
                    target: log_targets::SASL,
                    broker = conn.broker(),
                    reauthentications = count,
                    session_lifetime_ms = auth.session_lifetime.map(|l| l.as_millis() as u64),
                    "re-authenticated"
                );
                match auth.session_lifetime {
                    Some(next) => lifetime = next,
                    None => return,
                }
            }
            Err(e) => {
                tracing::info!(
                    target: log_targets::SASL,
                    broker = conn.broker(),
                    error = %e,
                    "re-authentication failed"
                );
                conn.shared.close(format!("re-authentication failed: {e}"));
                return;
            }
        }
    }
}

/// The SASL exchange's channel during re-authentication: the multiplexed connection, past the
/// re-authentication gate that the exchange's caller holds.
struct ReauthChannel<'a>(&'a Connection);

impl SaslChannel for ReauthChannel<'_> {
    async fn handshake(
        &mut self,
        request: &SaslHandshakeRequest,
        version: i16,
    ) -> Result<SaslHandshakeResponse> {
        self.0.send_ungated_at(request, version).await
    }

    async fn authenticate(
        &mut self,
        request: &SaslAuthenticateRequest,
        version: i16,
    ) -> Result<SaslAuthenticateResponse> {
        self.0.send_ungated_at(request, version).await
    }
}

/// Why a plaintext connection failed when the broker's reply starts like a TLS record.
const TLS_LISTENER: &str = "the broker answered with TLS: this listener expects TLS, \
     set security.protocol=SSL (or SASL_SSL) and ssl.ca.location";

async fn read_loop<R: AsyncRead + Unpin>(mut read: R, shared: Arc<Shared>, decoder: FrameDecoder) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let reason = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => {
                // The frame and its 4-byte size prefix.
                shared
                    .stats
                    .bytes_in
                    .fetch_add(frame.len() as u64 + 4, Ordering::Relaxed);
                let Ok(cid) = frame::response_correlation_id(&frame) else {
                    break "a response frame too short for its header".to_owned();
                };
                let waiter = shared
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&cid);
                match waiter {
                    // The waiter may have gone away (its future was dropped): discard.
                    Some(tx) => drop(tx.send(frame)),
                    None => {
                        break format!("a response with unknown correlation id {cid}");
                    }
                }
                continue;
            }
            Ok(None) => {}
            Err(_) if frame::looks_like_tls_record(&buf) => break TLS_LISTENER.to_owned(),
            Err(e) => break e.to_string(),
        }
        if buf.capacity() - buf.len() < 8 * 1024 {
            buf.reserve(64 * 1024);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) => {
                break if buf.is_empty() {
                    "the broker closed the connection".to_owned()
                } else {
                    format!(
                        "the broker closed the connection in the middle of a frame ({} bytes buffered)",
                        buf.len()
                    )
                };
            }
            Ok(_) => {}
            Err(e) => break format!("read failed: {e}"),
        }
    };
    shared.close(reason);
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut write: W,
    mut inbox: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
) {
    while let Some(frame) = inbox.recv().await {
        if let Err(e) = write.write_all(&frame).await {
            shared.close(format!("write failed: {e}"));
            return;
        }
        // Write everything that is already queued before flushing (TLS buffers records).
        while let Ok(frame) = inbox.try_recv() {
            if let Err(e) = write.write_all(&frame).await {
                shared.close(format!("write failed: {e}"));
                return;
            }
        }
        if let Err(e) = write.flush().await {
            shared.close(format!("flush failed: {e}"));
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// The SASL exchange's channel during the connection's setup: the raw stream, before it is
/// split, with the correlation ids that follow ApiVersions'.
struct HandshakeChannel<'a> {
    stream: &'a mut dyn Transport,
    broker: &'a str,
    config: &'a ConnectionConfig,
    /// The id of the next request; the multiplexed connection continues from it.
    next_correlation_id: i32,
}

impl HandshakeChannel<'_> {
    async fn roundtrip<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        let correlation_id = self.next_correlation_id;
        let response = roundtrip(
            &mut *self.stream,
            self.broker,
            self.config,
            correlation_id,
            version,
            request,
        )
        .await?;
        self.next_correlation_id += 1;
        Ok(response)
    }
}

impl SaslChannel for HandshakeChannel<'_> {
    async fn handshake(
        &mut self,
        request: &SaslHandshakeRequest,
        version: i16,
    ) -> Result<SaslHandshakeResponse> {
        self.roundtrip(request, version).await
    }

    async fn authenticate(
        &mut self,
        request: &SaslAuthenticateRequest,
        version: i16,
    ) -> Result<SaslAuthenticateResponse> {
        self.roundtrip(request, version).await
    }
}

/// Sends one request and reads its response directly on a stream that no task owns yet (used
/// during the handshake, before the connection is split).
async fn roundtrip<R: Request>(
    stream: &mut dyn Transport,
    broker: &str,
    config: &ConnectionConfig,
    correlation_id: i32,
    version: i16,
    request: &R,
) -> Result<R::Response> {
    let protocol = |source| Error::Protocol {
        broker: broker.to_owned(),
        source,
    };
    let io = |source| Error::Io {
        broker: broker.to_owned(),
        source,
    };
    let mut buf = BytesMut::new();
    encode_request(
        &mut buf,
        correlation_id,
        Some(&config.client_id),
        version,
        request,
    )
    .map_err(protocol)?;
    tracing::trace!(
        target: log_targets::CONNECTION,
        broker,
        api = ApiKey::try_from(R::KEY).map(api_key_name).unwrap_or("unknown API"),
        version,
        correlation_id,
        bytes = buf.len(),
        "handshake request"
    );
    stream.write_all(&buf).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let decoder = FrameDecoder::new(config.max_frame_size);
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::ConnectionClosed {
                broker: broker.to_owned(),
                reason: Some(format!(
                    "the broker closed the connection during the handshake ({} request)",
                    ApiKey::try_from(R::KEY)
                        .map(api_key_name)
                        .unwrap_or("unknown")
                )),
            }
        } else {
            io(e)
        }
    })?;
    if frame::looks_like_tls_record(&prefix) {
        return Err(Error::ConnectionClosed {
            broker: broker.to_owned(),
            reason: Some(TLS_LISTENER.to_owned()),
        });
    }
    let size = decoder
        .peek_size(&prefix)
        .map_err(protocol)?
        .unwrap_or_default();
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).await.map_err(io)?;
    let (cid, response) = decode_response::<R>(Bytes::from(body), version).map_err(protocol)?;
    if cid != correlation_id {
        return Err(protocol(
            laminar_kafka_protocol::Error::CorrelationMismatch {
                expected: correlation_id,
                got: cid,
            },
        ));
    }
    Ok(response)
}

/// ApiVersions at the highest version we speak, falling back to what the broker offers.
async fn negotiate(
    stream: &mut dyn Transport,
    broker: &str,
    config: &ConnectionConfig,
) -> Result<NegotiatedVersions> {
    let request: ApiVersionsRequest =
        api_versions_request(&config.software_name, &config.software_version);
    let mut version = ApiKey::ApiVersions.valid_versions().max;
    for attempt in 0..2 {
        let response = roundtrip(stream, broker, config, attempt, version, &request).await?;
        if let Some(retry) = api_versions_retry_version(&response) {
            if attempt == 0 && retry < version {
                version = retry;
                continue;
            }
        }
        KafkaCode::check(response.error_code).map_err(|code| Error::Broker {
            api: "ApiVersions",
            code,
            context: Some(broker.to_owned()),
            message: None,
        })?;
        return Ok(NegotiatedVersions::from_response(&response));
    }
    Err(Error::Protocol {
        broker: broker.to_owned(),
        source: laminar_kafka_protocol::Error::NoCommonVersion {
            api: "ApiVersions",
            broker_min: 0,
            broker_max: version,
            client_min: versions::client_min_version(ApiKey::ApiVersions),
            client_max: ApiKey::ApiVersions.valid_versions().max,
        },
    })
}
