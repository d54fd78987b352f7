//! The Kafka clients' statistics as Prometheus metrics: per broker and totals, summed over
//! every client of the process ([`laminar_kafka_client::stats::all`]).
//!
//! | Prometheus metric | client statistic |
//! |---|---|
//! | `laminar_kafka_requests_total{broker}` | `request-total` |
//! | `laminar_kafka_requests_in_flight{broker}` | `requests-in-flight` |
//! | `laminar_kafka_request_latency_avg_seconds{broker}` | `request-latency-avg` (weighted by requests) |
//! | `laminar_kafka_request_latency_max_seconds{broker}` | `request-latency-max` |
//! | `laminar_kafka_produce_throttle_time_avg_seconds{broker}`, `_max_` | `produce-throttle-time-avg`, `-max` |
//! | `laminar_kafka_fetch_throttle_time_avg_seconds{broker}`, `_max_` | `fetch-throttle-time-avg`, `-max` |
//! | `laminar_kafka_connection_creation_total{broker}` | `connection-creation-total` |
//! | `laminar_kafka_connection_close_total{broker}` | `connection-close-total` |
//! | `laminar_kafka_outgoing_bytes_total{broker}` | `outgoing-byte-total` |
//! | `laminar_kafka_incoming_bytes_total{broker}` | `incoming-byte-total` |
//! | `laminar_kafka_record_send_total` | `record-send-total` |
//! | `laminar_kafka_record_ack_total` | `record-ack-total` |
//! | `laminar_kafka_record_error_total` | `record-error-total` |
//! | `laminar_kafka_record_retry_total` | `record-retry-total` |
//! | `laminar_kafka_records_consumed_total` | `records-consumed-total` |
//! | `laminar_kafka_bytes_consumed_total` | `bytes-consumed-total` |
//! | `laminar_kafka_records_lag_max` | `records-lag-max` (the largest of any client) |
//! | `laminar_kafka_rebalance_total` | `rebalance-total` |
//!
//! `broker` is the node id, or the address for a bootstrap address that is no known broker.
//!
//! ```
//! use laminar_kafka_client::stats::{BrokerStatistics, Statistics};
//! use laminar_kafka_runner::client_metrics::prometheus;
//!
//! let s = Statistics {
//!     brokers: vec![BrokerStatistics { node_id: 1, request_total: 4, request_latency_avg: 2.0, ..Default::default() }],
//!     ..Default::default()
//! };
//! let text = prometheus(&[s]);
//! assert!(text.contains("laminar_kafka_request_latency_avg_seconds{broker=\"1\"} 0.002000\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

use laminar_kafka_client::stats::{BrokerStatistics, Statistics};

#[derive(Default)]
struct Broker {
    requests: u64,
    in_flight: i64,
    latency_weighted: f64,
    latency_max: f64,
    produce_throttle_weighted: f64,
    produce_throttle_max: f64,
    fetch_throttle_weighted: f64,
    fetch_throttle_max: f64,
    connects: u64,
    closes: u64,
    bytes_out: u64,
    bytes_in: u64,
}

impl Broker {
    fn add(&mut self, b: &BrokerStatistics) {
        let weight = b.request_total as f64;
        self.requests += b.request_total;
        self.in_flight += b.requests_in_flight;
        self.latency_weighted += b.request_latency_avg * weight;
        self.latency_max = self.latency_max.max(b.request_latency_max);
        self.produce_throttle_weighted += b.produce_throttle_time_avg * weight;
        self.produce_throttle_max = self.produce_throttle_max.max(b.produce_throttle_time_max);
        self.fetch_throttle_weighted += b.fetch_throttle_time_avg * weight;
        self.fetch_throttle_max = self.fetch_throttle_max.max(b.fetch_throttle_time_max);
        self.connects += b.connection_creation_total;
        self.closes += b.connection_close_total;
        self.bytes_out += b.outgoing_byte_total;
        self.bytes_in += b.incoming_byte_total;
    }

    fn avg(&self, weighted: f64) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            weighted / self.requests as f64
        }
    }
}

/// A metric of the per-broker family: name, Prometheus type, and its value (milliseconds are
/// turned into seconds by the caller when the name says so).
type BrokerMetric = (&'static str, &'static str, fn(&Broker) -> String);

fn seconds(ms: f64) -> String {
    format!("{:.6}", ms / 1000.0)
}

/// Prometheus text (exposition format 0.0.4) of the clients' statistics: per broker, summed
/// over the clients, and the totals.
pub fn prometheus(clients: &[Statistics]) -> String {
    let mut brokers: BTreeMap<String, Broker> = BTreeMap::new();
    for s in clients {
        for b in &s.brokers {
            let label = if b.node_id >= 0 {
                b.node_id.to_string()
            } else {
                b.address.clone()
            };
            brokers.entry(label).or_default().add(b);
        }
    }
    let per_broker: [BrokerMetric; 12] = [
        ("laminar_kafka_requests_total", "counter", |b| {
            b.requests.to_string()
        }),
        ("laminar_kafka_requests_in_flight", "gauge", |b| {
            b.in_flight.to_string()
        }),
        ("laminar_kafka_request_latency_avg_seconds", "gauge", |b| {
            seconds(b.avg(b.latency_weighted))
        }),
        ("laminar_kafka_request_latency_max_seconds", "gauge", |b| {
            seconds(b.latency_max)
        }),
        (
            "laminar_kafka_produce_throttle_time_avg_seconds",
            "gauge",
            |b| seconds(b.avg(b.produce_throttle_weighted)),
        ),
        (
            "laminar_kafka_produce_throttle_time_max_seconds",
            "gauge",
            |b| seconds(b.produce_throttle_max),
        ),
        (
            "laminar_kafka_fetch_throttle_time_avg_seconds",
            "gauge",
            |b| seconds(b.avg(b.fetch_throttle_weighted)),
        ),
        (
            "laminar_kafka_fetch_throttle_time_max_seconds",
            "gauge",
            |b| seconds(b.fetch_throttle_max),
        ),
        ("laminar_kafka_connection_creation_total", "counter", |b| {
            b.connects.to_string()
        }),
        ("laminar_kafka_connection_close_total", "counter", |b| {
            b.closes.to_string()
        }),
        ("laminar_kafka_outgoing_bytes_total", "counter", |b| {
            b.bytes_out.to_string()
        }),
        ("laminar_kafka_incoming_bytes_total", "counter", |b| {
            b.bytes_in.to_string()
        }),
    ];
    let mut out = String::new();
    for (name, kind, value) in per_broker {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (broker, b) in &brokers {
            let _ = writeln!(out, "{name}{{broker=\"{broker}\"}} {}", value(b));
        }
    }
    let sum = |f: fn(&Statistics) -> u64| clients.iter().map(f).sum::<u64>().to_string();
    let totals: [(&str, &str, String); 8] = [
        (
            "laminar_kafka_record_send_total",
            "counter",
            sum(|s| s.totals.record_send_total),
        ),
        (
            "laminar_kafka_record_ack_total",
            "counter",
            sum(|s| s.totals.record_ack_total),
        ),
        (
            "laminar_kafka_record_error_total",
            "counter",
            sum(|s| s.totals.record_error_total),
        ),
        (
            "laminar_kafka_record_retry_total",
            "counter",
            sum(|s| s.totals.record_retry_total),
        ),
        (
            "laminar_kafka_records_consumed_total",
            "counter",
            sum(|s| s.totals.records_consumed_total),
        ),
        (
            "laminar_kafka_bytes_consumed_total",
            "counter",
            sum(|s| s.totals.bytes_consumed_total),
        ),
        (
            "laminar_kafka_records_lag_max",
            "gauge",
            clients
                .iter()
                .map(|s| s.totals.records_lag_max)
                .max()
                .unwrap_or(0)
                .to_string(),
        ),
        (
            "laminar_kafka_rebalance_total",
            "counter",
            sum(|s| s.totals.rebalance_total),
        ),
    ];
    for (name, kind, value) in totals {
        let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use laminar_kafka_client::stats::Totals;

    fn broker(node_id: i32, requests: u64, latency_avg: f64, latency_max: f64) -> BrokerStatistics {
        BrokerStatistics {
            node_id,
            address: format!("h:{node_id}"),
            request_total: requests,
            request_latency_avg: latency_avg,
            request_latency_max: latency_max,
            outgoing_byte_total: 100,
            connection_creation_total: 1,
            ..BrokerStatistics::default()
        }
    }

    #[test]
    fn brokers_are_summed_over_clients_and_latency_weighted_by_requests() {
        let producer = Statistics {
            brokers: vec![broker(1, 3, 10.0, 30.0), broker(-1, 1, 1.0, 1.0)],
            totals: Totals {
                record_send_total: 5,
                records_lag_max: 0,
                ..Totals::default()
            },
            ..Statistics::default()
        };
        let consumer = Statistics {
            brokers: vec![broker(1, 1, 50.0, 50.0)],
            totals: Totals {
                records_consumed_total: 7,
                records_lag_max: 4,
                ..Totals::default()
            },
            ..Statistics::default()
        };
        let text = prometheus(&[producer, consumer]);
        assert!(
            text.contains("laminar_kafka_requests_total{broker=\"1\"} 4\n"),
            "{text}"
        );
        // (3 × 10 + 1 × 50) / 4 = 20 ms.
        assert!(
            text.contains("laminar_kafka_request_latency_avg_seconds{broker=\"1\"} 0.020000\n"),
            "{text}"
        );
        assert!(
            text.contains("laminar_kafka_request_latency_max_seconds{broker=\"1\"} 0.050000\n"),
            "{text}"
        );
        assert!(text.contains("laminar_kafka_outgoing_bytes_total{broker=\"1\"} 200\n"));
        assert!(text.contains("laminar_kafka_connection_creation_total{broker=\"h:-1\"} 1\n"));
        assert!(text.contains("laminar_kafka_record_send_total 5\n"));
        assert!(text.contains("laminar_kafka_records_consumed_total 7\n"));
        assert!(text.contains("laminar_kafka_records_lag_max 4\n"));
        assert_eq!(
            text.matches("# TYPE laminar_kafka_requests_total counter")
                .count(),
            1
        );
    }

    #[test]
    fn no_clients_give_the_types_and_zero_totals() {
        let text = prometheus(&[]);
        assert!(text.contains("# TYPE laminar_kafka_request_latency_avg_seconds gauge\n"));
        assert!(text.contains("laminar_kafka_record_send_total 0\n"));
        assert!(!text.contains("{broker="));
    }
}
