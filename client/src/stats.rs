//! Client statistics: a snapshot from the producer, the consumer and the admin client, and a
//! periodic callback (`statistics.interval.ms`), like librdkafka's statistics and the Java
//! client's metrics.
//!
//! Counters are relaxed atomics updated once per request, response, batch or poll (never per
//! record); a snapshot ([`Statistics`]) does the aggregation. It serialises to JSON with the Java
//! client's metric names as keys where one exists:
//!
//! | JSON key | Java metric (group) | meaning |
//! |---|---|---|
//! | `request-total` | `request-total` (node) | requests sent to the broker |
//! | `requests-in-flight` | `requests-in-flight` (producer) | requests awaiting their response |
//! | `request-latency-avg`, `request-latency-max` | same (node) | round trip, milliseconds |
//! | `produce-throttle-time-avg`, `-max` | same (producer) | broker throttle, milliseconds |
//! | `fetch-throttle-time-avg`, `-max` | same (consumer fetch manager) | broker throttle, ms |
//! | `connection-creation-total` | same | connections made |
//! | `connection-close-total` | same | connections closed |
//! | `outgoing-byte-total`, `incoming-byte-total` | same | bytes of request and response frames |
//! | `record-send-total` | same | records in Produce requests (a retry counts again) |
//! | `record-ack-total` | (none) | records the broker acknowledged |
//! | `record-error-total` | same | records whose delivery failed |
//! | `record-retry-total` | same | records of batches queued again for a retry |
//! | `batch-size-avg` | same | bytes per batch sent |
//! | `records-per-request-avg` | same | records per Produce request |
//! | `records-per-batch-avg` | (none) | records per batch sent, per partition |
//! | `record-queue-records`, `record-queue-bytes` | (none) | records and bytes waiting to be sent |
//! | `position`, `high-watermark` | (none) | consumer's next offset, the last fetch's high watermark |
//! | `records-lag`, `records-lag-max` | same | records between position and end |
//! | `records-consumed-total`, `bytes-consumed-total` | same | records returned by `poll`, record bytes fetched |
//! | `rebalance-total` | same (consumer coordinator) | rebalances completed |
//!
//! No statistic carries configuration, credentials or record contents.
//!
//! ```
//! use laminar_kafka_client::stats::Statistics;
//!
//! let s = Statistics::default();
//! let json = serde_json::to_string(&s).unwrap();
//! assert!(json.contains("\"record-send-total\":0"));
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

/// The function the client calls with a snapshot every `statistics.interval.ms`.
///
/// ```
/// use std::sync::Arc;
/// use laminar_kafka_client::config::ClientConfig;
///
/// let config = ClientConfig::new("127.0.0.1:9092")?
///     .with_statistics_callback(Arc::new(|s: &laminar_kafka_client::stats::Statistics| {
///         eprintln!("{}", serde_json::to_string(s).unwrap_or_default());
///     }));
/// assert!(config.common.statistics_callback.is_some());
/// # Ok::<(), laminar_kafka_client::Error>(())
/// ```
pub type StatisticsCallback = Arc<dyn Fn(&Statistics) + Send + Sync>;

/// Which client a snapshot is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// A [`Producer`](crate::producer::Producer).
    #[default]
    Producer,
    /// A [`Consumer`](crate::consumer::Consumer) or a group consumer.
    Consumer,
    /// An [`Admin`](crate::admin::Admin) client.
    Admin,
}

/// One snapshot of a client's statistics.
///
/// ```
/// use laminar_kafka_client::stats::{Statistics, Totals};
///
/// let s = Statistics { totals: Totals { record_send_total: 3, ..Totals::default() }, ..Statistics::default() };
/// let back: Statistics = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
/// assert_eq!(back.totals.record_send_total, 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// `client.id`.
    #[serde(rename = "client-id")]
    pub client_id: String,
    /// Which client.
    #[serde(rename = "type")]
    pub kind: ClientKind,
    /// Wall-clock time of the snapshot, milliseconds since the Unix epoch.
    #[serde(rename = "time-ms")]
    pub time_ms: i64,
    /// Every broker address the client has talked to.
    pub brokers: Vec<BrokerStatistics>,
    /// Partitions the client produces to (with queued or sent batches) or is assigned.
    pub partitions: Vec<PartitionStatistics>,
    /// Totals over all partitions.
    pub totals: Totals,
}

/// Statistics of one broker connection slot (one address; reconnects add up).
///
/// ```
/// use laminar_kafka_client::stats::BrokerStatistics;
///
/// let b = BrokerStatistics { node_id: 1, ..BrokerStatistics::default() };
/// assert!(serde_json::to_string(&b).unwrap().contains("\"node-id\":1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerStatistics {
    /// The broker's node id, -1 for a bootstrap address that is no known broker.
    #[serde(rename = "node-id")]
    pub node_id: i32,
    /// `host:port`.
    pub address: String,
    /// Requests sent and not yet answered.
    #[serde(rename = "requests-in-flight")]
    pub requests_in_flight: i64,
    /// Requests sent.
    #[serde(rename = "request-total")]
    pub request_total: u64,
    /// Average round trip of answered requests, milliseconds.
    #[serde(rename = "request-latency-avg")]
    pub request_latency_avg: f64,
    /// Longest round trip, milliseconds.
    #[serde(rename = "request-latency-max")]
    pub request_latency_max: f64,
    /// Average throttle time of Produce responses, milliseconds.
    #[serde(rename = "produce-throttle-time-avg")]
    pub produce_throttle_time_avg: f64,
    /// Longest throttle time of a Produce response, milliseconds.
    #[serde(rename = "produce-throttle-time-max")]
    pub produce_throttle_time_max: f64,
    /// Average throttle time of Fetch responses, milliseconds.
    #[serde(rename = "fetch-throttle-time-avg")]
    pub fetch_throttle_time_avg: f64,
    /// Longest throttle time of a Fetch response, milliseconds.
    #[serde(rename = "fetch-throttle-time-max")]
    pub fetch_throttle_time_max: f64,
    /// Connections made.
    #[serde(rename = "connection-creation-total")]
    pub connection_creation_total: u64,
    /// Connections closed (by either side).
    #[serde(rename = "connection-close-total")]
    pub connection_close_total: u64,
    /// Bytes written: request frames.
    #[serde(rename = "outgoing-byte-total")]
    pub outgoing_byte_total: u64,
    /// Bytes read: response frames.
    #[serde(rename = "incoming-byte-total")]
    pub incoming_byte_total: u64,
}

/// Statistics of one partition: the producer's queue and batches, or the consumer's position.
///
/// ```
/// use laminar_kafka_client::stats::PartitionStatistics;
///
/// let p = PartitionStatistics { topic: "t".into(), records_lag: Some(0), ..PartitionStatistics::default() };
/// let json = serde_json::to_string(&p).unwrap();
/// assert!(json.contains("\"records-lag\":0") && !json.contains("batch-size-avg"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionStatistics {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Producer: records waiting to be sent (queued batches, the open one included).
    #[serde(
        rename = "record-queue-records",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(default)]
    pub queued_records: Option<u64>,
    /// Producer: bytes of the records waiting to be sent.
    #[serde(rename = "record-queue-bytes", skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub queued_bytes: Option<u64>,
    /// Producer: average bytes per batch sent.
    #[serde(rename = "batch-size-avg", skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub batch_size_avg: Option<f64>,
    /// Producer: average records per batch sent.
    #[serde(
        rename = "records-per-batch-avg",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(default)]
    pub records_per_batch_avg: Option<f64>,
    /// Consumer: the offset of the next record `poll` returns.
    #[serde(rename = "position", skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub position: Option<i64>,
    /// Consumer: the high watermark of the last fetch response.
    #[serde(rename = "high-watermark", skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub high_watermark: Option<i64>,
    /// Consumer: records between the position and the end (the last stable offset under
    /// `read_committed`).
    #[serde(rename = "records-lag", skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub records_lag: Option<i64>,
}

/// Totals over the client's partitions.
///
/// ```
/// use laminar_kafka_client::stats::Totals;
///
/// assert!(serde_json::to_string(&Totals::default()).unwrap().contains("\"rebalance-total\":0"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Producer: records in Produce requests (a retried record counts once per attempt).
    #[serde(rename = "record-send-total")]
    pub record_send_total: u64,
    /// Producer: records the broker acknowledged.
    #[serde(rename = "record-ack-total")]
    pub record_ack_total: u64,
    /// Producer: records whose delivery failed.
    #[serde(rename = "record-error-total")]
    pub record_error_total: u64,
    /// Producer: records of batches queued again for a retry.
    #[serde(rename = "record-retry-total")]
    pub record_retry_total: u64,
    /// Producer: average bytes per batch sent.
    #[serde(rename = "batch-size-avg")]
    pub batch_size_avg: f64,
    /// Producer: average records per Produce request.
    #[serde(rename = "records-per-request-avg")]
    pub records_per_request_avg: f64,
    /// Consumer: records returned by `poll`.
    #[serde(rename = "records-consumed-total")]
    pub records_consumed_total: u64,
    /// Consumer: bytes of record batches fetched.
    #[serde(rename = "bytes-consumed-total")]
    pub bytes_consumed_total: u64,
    /// Consumer: the largest lag of an assigned partition.
    #[serde(rename = "records-lag-max")]
    pub records_lag_max: i64,
    /// Consumer: rebalances completed (assignments received from the group).
    #[serde(rename = "rebalance-total")]
    pub rebalance_total: u64,
}

fn avg(sum: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        sum as f64 / count as f64
    }
}

/// A sum, a count and a maximum, updated without locks.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    sum: AtomicU64,
    count: AtomicU64,
    max: AtomicU64,
}

impl Summary {
    pub(crate) fn record(&self, value: u64) {
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    fn avg(&self) -> f64 {
        avg(
            self.sum.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
        )
    }

    fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
}

/// The counters of one broker address, shared by its successive connections.
#[derive(Debug, Default)]
pub struct BrokerCounters {
    pub(crate) in_flight: AtomicI64,
    pub(crate) requests: AtomicU64,
    /// Round trips in microseconds.
    pub(crate) latency_us: Summary,
    pub(crate) produce_throttle_ms: Summary,
    pub(crate) fetch_throttle_ms: Summary,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
}

/// Which throttle time a response reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// A Produce response's `throttle_time_ms`.
    Produce,
    /// A Fetch response's `throttle_time_ms`.
    Fetch,
}

impl BrokerCounters {
    pub(crate) fn throttle(&self, api: Throttled, ms: i32) {
        let ms = ms.max(0) as u64;
        match api {
            Throttled::Produce => self.produce_throttle_ms.record(ms),
            Throttled::Fetch => self.fetch_throttle_ms.record(ms),
        }
    }

    pub(crate) fn snapshot(&self, node_id: i32, address: &str) -> BrokerStatistics {
        let r = Ordering::Relaxed;
        BrokerStatistics {
            node_id,
            address: address.to_owned(),
            requests_in_flight: self.in_flight.load(r).max(0),
            request_total: self.requests.load(r),
            request_latency_avg: self.latency_us.avg() / 1000.0,
            request_latency_max: self.latency_us.max() as f64 / 1000.0,
            produce_throttle_time_avg: self.produce_throttle_ms.avg(),
            produce_throttle_time_max: self.produce_throttle_ms.max() as f64,
            fetch_throttle_time_avg: self.fetch_throttle_ms.avg(),
            fetch_throttle_time_max: self.fetch_throttle_ms.max() as f64,
            connection_creation_total: self.connects.load(r),
            connection_close_total: self.disconnects.load(r),
            outgoing_byte_total: self.bytes_out.load(r),
            incoming_byte_total: self.bytes_in.load(r),
        }
    }
}

/// Counts a request in flight until dropped (answered, failed or given up).
pub(crate) struct InFlight<'a>(&'a BrokerCounters);

impl<'a> InFlight<'a> {
    pub(crate) fn start(counters: &'a BrokerCounters) -> Self {
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct BatchTotals {
    batches: u64,
    records: u64,
    bytes: u64,
}

/// The producer's counters.
#[derive(Debug, Default)]
pub(crate) struct ProducerCounters {
    sent: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    requests: AtomicU64,
    batches: AtomicU64,
    batch_bytes: AtomicU64,
    /// Per partition: batches sent, their records and bytes (one lock per request).
    partitions: Mutex<HashMap<(Arc<str>, i32), BatchTotals>>,
}

impl ProducerCounters {
    /// One Produce request with these batches: `(topic, partition, records, bytes)`.
    pub(crate) fn request<'a>(
        &self,
        batches: impl Iterator<Item = (&'a Arc<str>, i32, i32, usize)>,
    ) {
        let (mut records, mut count, mut bytes) = (0u64, 0u64, 0u64);
        let mut partitions = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition, n, size) in batches {
            let n = n.max(0) as u64;
            let t = partitions.entry((topic.clone(), partition)).or_default();
            t.batches += 1;
            t.records += n;
            t.bytes += size as u64;
            records += n;
            count += 1;
            bytes += size as u64;
        }
        drop(partitions);
        self.sent.fetch_add(records, Ordering::Relaxed);
        self.batches.fetch_add(count, Ordering::Relaxed);
        self.batch_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A batch of `records` the broker acknowledged.
    pub(crate) fn acked(&self, records: i32) {
        self.acked
            .fetch_add(records.max(0) as u64, Ordering::Relaxed);
    }

    /// A batch of `records` whose delivery failed.
    pub(crate) fn failed(&self, records: i32) {
        self.failed
            .fetch_add(records.max(0) as u64, Ordering::Relaxed);
    }

    /// A batch of `records` queued again for a retry.
    pub(crate) fn retried(&self, records: i32) {
        self.retried
            .fetch_add(records.max(0) as u64, Ordering::Relaxed);
    }

    /// Totals and per-partition statistics, the queue depths (`(tp, records, bytes)`) merged in.
    pub(crate) fn snapshot(
        &self,
        queued: Vec<((Arc<str>, i32), u64, u64)>,
    ) -> (Totals, Vec<PartitionStatistics>) {
        let r = Ordering::Relaxed;
        let batches = self.batches.load(r);
        let totals = Totals {
            record_send_total: self.sent.load(r),
            record_ack_total: self.acked.load(r),
            record_error_total: self.failed.load(r),
            record_retry_total: self.retried.load(r),
            batch_size_avg: avg(self.batch_bytes.load(r), batches),
            records_per_request_avg: avg(self.sent.load(r), self.requests.load(r)),
            ..Totals::default()
        };
        let mut by_tp: std::collections::BTreeMap<(Arc<str>, i32), PartitionStatistics> =
            std::collections::BTreeMap::new();
        let entry = |m: &mut std::collections::BTreeMap<_, PartitionStatistics>,
                     tp: &(Arc<str>, i32)| {
            m.entry(tp.clone())
                .or_insert_with(|| PartitionStatistics {
                    topic: tp.0.to_string(),
                    partition: tp.1,
                    queued_records: Some(0),
                    queued_bytes: Some(0),
                    batch_size_avg: Some(0.0),
                    records_per_batch_avg: Some(0.0),
                    ..PartitionStatistics::default()
                })
                .clone()
        };
        for (tp, t) in self
            .partitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let mut p = entry(&mut by_tp, tp);
            p.batch_size_avg = Some(avg(t.bytes, t.batches));
            p.records_per_batch_avg = Some(avg(t.records, t.batches));
            by_tp.insert(tp.clone(), p);
        }
        for (tp, records, bytes) in queued {
            let mut p = entry(&mut by_tp, &tp);
            p.queued_records = Some(p.queued_records.unwrap_or(0) + records);
            p.queued_bytes = Some(p.queued_bytes.unwrap_or(0) + bytes);
            by_tp.insert(tp, p);
        }
        (totals, by_tp.into_values().collect())
    }
}

/// The consumer's counters.
#[derive(Debug, Default)]
pub(crate) struct ConsumerCounters {
    pub(crate) records_consumed: AtomicU64,
    pub(crate) bytes_consumed: AtomicU64,
    pub(crate) rebalances: AtomicU64,
}

impl ConsumerCounters {
    /// Totals, `records-lag-max` from the partitions' lags.
    pub(crate) fn totals(&self, partitions: &[PartitionStatistics]) -> Totals {
        let r = Ordering::Relaxed;
        Totals {
            records_consumed_total: self.records_consumed.load(r),
            bytes_consumed_total: self.bytes_consumed.load(r),
            rebalance_total: self.rebalances.load(r),
            records_lag_max: partitions
                .iter()
                .filter_map(|p| p.records_lag)
                .max()
                .unwrap_or(0),
            ..Totals::default()
        }
    }
}

/// A live client whose statistics [`all`] reports.
pub(crate) trait Snapshot: Send + Sync {
    fn statistics(&self) -> Statistics;
}

/// Every live client of the process, held weakly (they register when they are made).
static REGISTRY: Mutex<Vec<Weak<dyn Snapshot>>> = Mutex::new(Vec::new());

/// Registers a client for [`all`]; entries of dropped clients are cleaned up here.
pub(crate) fn register(client: Weak<dyn Snapshot>) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|c| c.strong_count() > 0);
    registry.push(client);
}

/// A snapshot of every producer, consumer and admin client alive in this process, in the
/// order they were made: for exporters (a metrics endpoint) that do not own the clients, as
/// the Java client's metrics reach JMX.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> laminar_kafka_client::Result<()> {
/// use laminar_kafka_client::config::ClientConfig;
/// use laminar_kafka_client::producer::Producer;
/// use laminar_kafka_client::stats::{self, ClientKind};
///
/// let producer = Producer::new(ClientConfig::new("127.0.0.1:9")?)?;
/// assert!(stats::all().iter().any(|s| s.kind == ClientKind::Producer));
/// drop(producer);
/// # Ok(()) }
/// ```
pub fn all() -> Vec<Statistics> {
    let live: Vec<Arc<dyn Snapshot>> = REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    live.iter().map(|c| c.statistics()).collect()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The task that calls the statistics callback; it stops when dropped (with its client) or
/// [`stop`](Self::stop)ped (when the client closes), and by itself once the client is gone.
#[derive(Debug)]
pub(crate) struct Reporter(JoinHandle<()>);

impl Reporter {
    /// Starts the task when `config` has an interval and a callback.
    pub(crate) fn start<T: Send + Sync + 'static>(
        config: &crate::config::CommonConfig,
        client: Weak<T>,
        snapshot: fn(&T) -> Statistics,
    ) -> Option<Self> {
        let interval = config.statistics_interval;
        let callback = config.statistics_callback.clone()?;
        if interval.is_zero() {
            return None;
        }
        Some(Self(tokio::spawn(report(
            interval, client, snapshot, callback,
        ))))
    }

    /// Stops the task.
    pub(crate) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn report<T>(
    interval: Duration,
    client: Weak<T>,
    snapshot: fn(&T) -> Statistics,
    callback: StatisticsCallback,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(client) = client.upgrade() else {
            return;
        };
        let stats = snapshot(&client);
        drop(client);
        callback(&stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_totals_and_partitions_aggregate_batches_and_queues() {
        let c = ProducerCounters::default();
        let t: Arc<str> = "t".into();
        c.request([(&t, 0, 10, 1000), (&t, 1, 4, 200)].into_iter());
        c.request([(&t, 0, 2, 400)].into_iter());
        c.acked(14);
        c.failed(2);
        c.retried(2);
        let (totals, parts) = c.snapshot(vec![((t.clone(), 1), 3, 30), ((t.clone(), 2), 5, 50)]);
        assert_eq!(totals.record_send_total, 16);
        assert_eq!(totals.record_ack_total, 14);
        assert_eq!(totals.record_error_total, 2);
        assert_eq!(totals.record_retry_total, 2);
        assert_eq!(totals.records_per_request_avg, 8.0);
        assert!((totals.batch_size_avg - 1600.0 / 3.0).abs() < 1e-9);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].partition, 0);
        assert_eq!(parts[0].batch_size_avg, Some(700.0));
        assert_eq!(parts[0].records_per_batch_avg, Some(6.0));
        assert_eq!(parts[0].queued_records, Some(0));
        assert_eq!(parts[1].queued_records, Some(3));
        assert_eq!(parts[1].queued_bytes, Some(30));
        assert_eq!(parts[1].records_per_batch_avg, Some(4.0));
        assert_eq!(parts[2].queued_bytes, Some(50));
        assert_eq!(parts[2].batch_size_avg, Some(0.0));
    }

    #[test]
    fn broker_counters_average_latency_and_throttle() {
        let b = BrokerCounters::default();
        b.latency_us.record(1000);
        b.latency_us.record(3000);
        b.throttle(Throttled::Produce, 10);
        b.throttle(Throttled::Produce, 0);
        b.throttle(Throttled::Fetch, -1);
        {
            let _a = InFlight::start(&b);
            let _b = InFlight::start(&b);
            assert_eq!(b.snapshot(1, "h:1").requests_in_flight, 2);
        }
        let s = b.snapshot(1, "h:1");
        assert_eq!(s.requests_in_flight, 0);
        assert_eq!(s.request_latency_avg, 2.0);
        assert_eq!(s.request_latency_max, 3.0);
        assert_eq!(s.produce_throttle_time_avg, 5.0);
        assert_eq!(s.produce_throttle_time_max, 10.0);
        assert_eq!(s.fetch_throttle_time_max, 0.0);
        let json = serde_json::to_value(&s).unwrap();
        for key in [
            "request-latency-avg",
            "request-latency-max",
            "outgoing-byte-total",
            "incoming-byte-total",
            "connection-creation-total",
            "connection-close-total",
            "produce-throttle-time-avg",
            "fetch-throttle-time-avg",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
    }

    #[test]
    fn consumer_lag_max_is_the_largest_partition_lag() {
        let c = ConsumerCounters::default();
        c.records_consumed.fetch_add(7, Ordering::Relaxed);
        let parts = vec![
            PartitionStatistics {
                records_lag: Some(3),
                ..PartitionStatistics::default()
            },
            PartitionStatistics {
                records_lag: Some(9),
                ..PartitionStatistics::default()
            },
            PartitionStatistics::default(),
        ];
        let t = c.totals(&parts);
        assert_eq!(t.records_lag_max, 9);
        assert_eq!(t.records_consumed_total, 7);
    }
}
