//! The cluster as one client sees it: bootstrap, one connection per broker, and metadata.
//!
//! [`Cluster`] is shared (cheap to clone) by the producer, consumer and admin client of one
//! configuration. It connects lazily, one connection per broker address, and reconnects with
//! exponential backoff and jitter (`reconnect.backoff.ms` … `reconnect.backoff.max.ms`): a broker
//! that is down costs each caller at most one connection attempt after its backoff has passed,
//! then a clear error. Metadata is refreshed on demand ([`Cluster::refresh_metadata`]), when a
//! caller sees a retriable error that asks for it, and when it is older than
//! `metadata.max.age.ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use laminar_kafka_protocol::messages::messages::metadata_request::MetadataRequestTopic;
use laminar_kafka_protocol::messages::messages::{
    FindCoordinatorRequest, MetadataRequest, TopicName,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;

use crate::backoff::{Backoff, SplitMix};
use crate::config::ClientConfig;
use crate::connection::{Connection, ConnectionConfig};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::metadata::{MetadataCache, TopicInfo, TopicState};
use crate::stats::{BrokerCounters, BrokerStatistics};

/// Which coordinator to look up (FindCoordinator's key type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorType {
    /// A consumer group's coordinator.
    Group = 0,
    /// A transactional id's coordinator.
    Transaction = 1,
}

#[derive(Debug)]
struct Slot {
    conn: Option<Connection>,
    backoff: Backoff<SplitMix>,
    retry_at: Option<Instant>,
}

struct Inner {
    config: ClientConfig,
    conn_config: ConnectionConfig,
    /// The current snapshot. Readers clone the `Arc` (see [`Cluster::metadata`]); a writer
    /// changes it with `Arc::make_mut`, which copies the cache only while some reader still
    /// holds the old snapshot.
    metadata: RwLock<Arc<MetadataCache>>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    /// Statistics per broker address, kept across reconnects.
    stats: Mutex<HashMap<String, Arc<BrokerCounters>>>,
    refresh: tokio::sync::Mutex<()>,
}

/// Shared connections and metadata for one client configuration.
///
/// ```no_run
/// # async fn example() -> laminar_kafka_client::Result<()> {
/// use laminar_kafka_client::cluster::Cluster;
/// use laminar_kafka_client::config::ClientConfig;
///
/// let cluster = Cluster::new(ClientConfig::new("127.0.0.1:9092")?)?;
/// let topic = cluster.topic("events").await?;
/// println!("{} partitions", topic.partitions.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.config.common.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster handle for `config`; it validates the configuration and does no I/O yet.
    pub fn new(config: ClientConfig) -> Result<Self> {
        config.validate()?;
        let conn_config = ConnectionConfig::from_client_config(&config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                conn_config,
                metadata: RwLock::new(Arc::new(MetadataCache::new())),
                slots: Mutex::new(HashMap::new()),
                stats: Mutex::new(HashMap::new()),
                refresh: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The configuration this cluster was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A snapshot of the metadata cache: a shared pointer, not a copy. It does not change
    /// under the caller; a later refresh publishes a new snapshot for later calls.
    pub fn metadata(&self) -> Arc<MetadataCache> {
        Arc::clone(&self.snapshot())
    }

    /// The current snapshot, behind the read lock (held only for the caller's statement).
    fn snapshot(&self) -> std::sync::RwLockReadGuard<'_, Arc<MetadataCache>> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the cache: in place when no reader holds the current snapshot, on a copy
    /// (published under the write lock) when one does.
    fn update_metadata(&self, change: impl FnOnce(&mut MetadataCache)) {
        let mut current = self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|e| e.into_inner());
        change(Arc::make_mut(&mut current));
    }

    fn slot(&self, address: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(address.to_owned())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    conn: None,
                    backoff: Backoff::new(
                        self.inner.config.common.reconnect_backoff,
                        self.inner.config.common.reconnect_backoff_max,
                        SplitMix::from_entropy(),
                    ),
                    retry_at: None,
                }))
            })
            .clone()
    }

    /// The connection to `address`, made (or remade) if needed. A recent failure to connect
    /// makes this wait out the backoff first, then try once.
    pub async fn connect_to(&self, address: &str) -> Result<Connection> {
        let slot = self.slot(address);
        let mut slot = slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        if let Some(at) = slot.retry_at {
            tokio::time::sleep_until(at.into()).await;
        }
        // The broker's node id (-1 for a bootstrap address) on every event of the connect.
        let span = tracing::debug_span!(
            target: log_targets::CONNECTION,
            "broker",
            id = self
                .snapshot()
                .brokers()
                .find(|b| b.address == address)
                .map_or(-1, |b| b.id)
        );
        let connected = tracing::Instrument::instrument(
            Connection::connect_counted(
                address,
                &self.inner.conn_config,
                self.broker_counters(address),
            ),
            span,
        )
        .await;
        match connected {
            Ok(conn) => {
                slot.backoff.reset();
                slot.retry_at = None;
                slot.conn = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                slot.conn = None;
                let delay = slot.backoff.next_delay();
                slot.retry_at = Some(Instant::now() + delay);
                tracing::debug!(
                    target: log_targets::CONNECTION,
                    broker = address,
                    retry_in_ms = delay.as_millis() as u64,
                    "next connection attempt after the backoff"
                );
                Err(e)
            }
        }
    }

    pub(crate) fn broker_counters(&self, address: &str) -> Arc<BrokerCounters> {
        self.inner
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(address.to_owned())
            .or_default()
            .clone()
    }

    /// Statistics of every broker address this cluster handle has connected to (or tried to),
    /// ordered by address; the node id comes from metadata (-1 for a bootstrap address that is
    /// no known broker).
    ///
    /// ```
    /// use laminar_kafka_client::cluster::Cluster;
    /// use laminar_kafka_client::config::ClientConfig;
    ///
    /// let cluster = Cluster::new(ClientConfig::new("127.0.0.1:9092")?)?;
    /// assert!(cluster.broker_statistics().is_empty(), "no connection yet");
    /// # Ok::<(), laminar_kafka_client::Error>(())
    /// ```
    pub fn broker_statistics(&self) -> Vec<BrokerStatistics> {
        let counters: Vec<(String, Arc<BrokerCounters>)> = self
            .inner
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(a, c)| (a.clone(), c.clone()))
            .collect();
        let metadata = self.metadata();
        let mut out: Vec<BrokerStatistics> = counters
            .iter()
            .map(|(address, c)| {
                let node_id = metadata
                    .brokers()
                    .find(|b| &b.address == address)
                    .map_or(-1, |b| b.id);
                c.snapshot(node_id, address)
            })
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address));
        out
    }

    /// The connection to broker `node_id`, looked up in metadata.
    pub async fn connect_to_node(&self, node_id: i32) -> Result<Connection> {
        let address = self.snapshot().broker(node_id).map(|b| b.address.clone());
        let address = match address {
            Some(a) => a,
            None => {
                self.refresh_metadata(&[]).await?;
                self.snapshot()
                    .broker(node_id)
                    .map(|b| b.address.clone())
                    .ok_or(Error::UnknownBroker { node_id })?
            }
        };
        self.connect_to(&address).await
    }

    /// Any working connection: a known broker first, then the bootstrap list. The error, when
    /// none works, names every address that was tried.
    pub async fn any_connection(&self) -> Result<Connection> {
        let mut candidates: Vec<String> = self
            .snapshot()
            .brokers()
            .map(|b| b.address.clone())
            .collect();
        for b in &self.inner.config.common.bootstrap_servers {
            if !candidates.contains(b) {
                candidates.push(b.clone());
            }
        }
        // Reuse an open connection if there is one.
        for address in &candidates {
            let slot = self.slot(address);
            let guard = slot.lock().await;
            if let Some(conn) = guard.conn.as_ref().filter(|c| !c.is_closed()) {
                return Ok(conn.clone());
            }
        }
        let mut last = None;
        for address in &candidates {
            match self.connect_to(address).await {
                Ok(conn) => return Ok(conn),
                Err(e) if e.is_retriable() => last = Some(e),
                Err(e) => return Err(e), // authentication, TLS, protocol: not a reason to go on
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }

    /// Fetches metadata for `topics` (all topics when empty) and merges it into the cache.
    pub async fn refresh_metadata(&self, topics: &[&str]) -> Result<()> {
        let _single = self.inner.refresh.lock().await;
        let conn = self.any_connection().await?;
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(if topics.is_empty() {
                None
            } else {
                Some(
                    topics
                        .iter()
                        .map(|t| {
                            MetadataRequestTopic::default()
                                .with_name(Some(TopicName(StrBytes::from_string((*t).to_owned()))))
                        })
                        .collect(),
                )
            });
        let response = match conn.send(&request).await {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(
                    target: log_targets::METADATA,
                    broker = conn.broker(),
                    topics = ?topics,
                    error = %e,
                    "metadata refresh failed"
                );
                return Err(e);
            }
        };
        tracing::debug!(
            target: log_targets::METADATA,
            broker = conn.broker(),
            topics = ?topics,
            brokers = response.brokers.len(),
            topics_in_response = response.topics.len(),
            "metadata refreshed"
        );
        self.update_metadata(|cache| {
            if topics.is_empty() {
                cache.replace_all(&response);
            } else {
                cache.update(&response);
            }
        });
        Ok(())
    }

    /// The cached metadata of a topic that exists, without any I/O or staleness check (the
    /// producer's hot path; see [`refresh_if_stale`](Self::refresh_if_stale)).
    pub fn cached_topic(&self, topic: &str) -> Option<Arc<TopicInfo>> {
        self.snapshot().known_topic(topic)
    }

    /// Whether the cache is younger than `metadata.max.age.ms`.
    pub fn metadata_is_fresh(&self) -> bool {
        !self.is_stale()
    }

    /// Refreshes `topics` when the cache is older than `metadata.max.age.ms`.
    pub async fn refresh_if_stale(&self, topics: &[&str]) -> Result<()> {
        if self.is_stale() {
            self.refresh_metadata(topics).await?;
        }
        Ok(())
    }

    fn is_stale(&self) -> bool {
        self.snapshot()
            .updated_at()
            .is_none_or(|t| t.elapsed() >= self.inner.config.common.metadata_max_age)
    }

    /// The metadata of `topic`, refreshed when unknown or older than `metadata.max.age.ms`.
    /// A topic that does not exist is an error with the broker's code
    /// (UNKNOWN_TOPIC_OR_PARTITION).
    pub async fn topic(&self, topic: &str) -> Result<Arc<TopicInfo>> {
        let cached = self.snapshot().known_topic(topic);
        if let Some(t) = cached.filter(|_| !self.is_stale()) {
            return Ok(t);
        }
        self.refresh_metadata(&[topic]).await?;
        let md = self.metadata();
        match md.topic(topic) {
            Some(TopicState::Known(t)) => Ok(t.clone()),
            Some(TopicState::Error(code)) => Err(Error::Broker {
                api: "Metadata",
                code: *code,
                context: Some(format!("topic `{topic}`")),
                message: None,
            }),
            None => Err(Error::Broker {
                api: "Metadata",
                code: KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
                context: Some(format!("topic `{topic}` (absent from the response)")),
                message: None,
            }),
        }
    }

    /// The connection to the coordinator of a group (`CoordinatorType::Group`) or a
    /// transactional id (`CoordinatorType::Transaction`). Retries COORDINATOR_NOT_AVAILABLE
    /// and COORDINATOR_LOAD_IN_PROGRESS within the request timeout.
    pub async fn coordinator(&self, kind: CoordinatorType, key: &str) -> Result<Connection> {
        let deadline = Instant::now() + self.inner.config.common.request_timeout;
        let mut backoff = self.retry_backoff();
        loop {
            let conn = self.any_connection().await?;
            let version = conn
                .versions()
                .version_for::<FindCoordinatorRequest>()
                .map_err(|source| Error::Protocol {
                    broker: conn.broker().to_owned(),
                    source,
                })?;
            let key_bytes = StrBytes::from_string(key.to_owned());
            let request = if version >= 4 {
                FindCoordinatorRequest::default()
                    .with_key_type(kind as i8)
                    .with_coordinator_keys(vec![key_bytes])
            } else {
                FindCoordinatorRequest::default()
                    .with_key_type(kind as i8)
                    .with_key(key_bytes)
            };
            let response = conn.send_at(&request, version).await?;
            let (code, message, host, port) = if version >= 4 {
                match response.coordinators.first() {
                    Some(c) => (
                        c.error_code,
                        c.error_message.clone(),
                        c.host.clone(),
                        c.port,
                    ),
                    None => (
                        KafkaCode::COORDINATOR_NOT_AVAILABLE.code(),
                        None,
                        StrBytes::default(),
                        -1,
                    ),
                }
            } else {
                (
                    response.error_code,
                    response.error_message.clone(),
                    response.host.clone(),
                    response.port,
                )
            };
            match KafkaCode::check(code) {
                Ok(()) => {
                    let address = if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    };
                    return self.connect_to(&address).await;
                }
                Err(code) if code.is_retriable() && Instant::now() < deadline => {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(code) => {
                    return Err(Error::Broker {
                        api: "FindCoordinator",
                        code,
                        context: Some(format!("{kind:?} `{key}`")),
                        message: message.map(|m| m.to_string()),
                    });
                }
            }
        }
    }

    /// A fresh backoff on `retry.backoff.ms` … `retry.backoff.max.ms`, for callers' retry loops.
    pub fn retry_backoff(&self) -> Backoff<SplitMix> {
        Backoff::new(
            self.inner.config.common.retry_backoff,
            self.inner.config.common.retry_backoff_max,
            SplitMix::from_entropy(),
        )
    }

    /// Forgets what the cache knows of `topics` (after deleting them), so that the next use
    /// asks the broker again.
    pub fn forget_topics(&self, topics: &[&str]) {
        self.update_metadata(|cache| {
            for t in topics {
                cache.forget(t);
            }
        });
    }

    /// Closes every connection.
    pub async fn close(&self) {
        let slots: Vec<_> = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for slot in slots {
            if let Some(conn) = slot.lock().await.conn.take() {
                conn.close();
            }
        }
    }

    /// How long a retry loop may go on for one operation by default (`request.timeout.ms`).
    pub fn request_timeout(&self) -> Duration {
        self.inner.config.common.request_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laminar_kafka_protocol::messages::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use laminar_kafka_protocol::messages::messages::{BrokerId, MetadataResponse};

    fn response(topic: &str) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(9092),
            ])
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))))
                    .with_partitions(vec![
                        MetadataResponsePartition::default().with_leader_id(BrokerId(1)),
                    ]),
            ])
    }

    #[test]
    fn a_snapshot_does_not_change_under_its_reader() {
        let cluster = Cluster::new(ClientConfig::new("127.0.0.1:9").unwrap()).unwrap();
        cluster.update_metadata(|c| c.update(&response("t")));
        let before = cluster.metadata();
        assert!(
            Arc::ptr_eq(&before, &cluster.metadata()),
            "a read copies nothing"
        );

        cluster.forget_topics(&["t"]);
        assert_eq!(
            before.leader("t", 0),
            Some((1, -1)),
            "the held snapshot is unchanged"
        );
        assert!(cluster.metadata().topic("t").is_none());
        assert!(!Arc::ptr_eq(&before, &cluster.metadata()));
        assert_eq!(cluster.metadata().broker(1), before.broker(1));
    }

    #[test]
    fn an_update_without_readers_changes_the_cache_in_place() {
        let cluster = Cluster::new(ClientConfig::new("127.0.0.1:9").unwrap()).unwrap();
        let address = Arc::as_ptr(&cluster.metadata());
        cluster.update_metadata(|c| c.update(&response("t")));
        assert_eq!(Arc::as_ptr(&cluster.metadata()), address);
        assert!(cluster.metadata().updated_at().is_some());
        assert!(cluster.cached_topic("t").is_some());
    }
}
