//! The `tracing` targets the client writes its events under, one per area.
//!
//! An application picks the areas it wants with its subscriber's filter, e.g.
//! `RUST_LOG=laminar_kafka::connection=debug,laminar_kafka::group=info`. Info is for what an operator
//! acts on (a broker lost, a rebalance, a fenced producer), debug for the rest, trace for one span per
//! request. Secrets never appear at any level.
//!
//! ```
//! assert_eq!(laminar_kafka_client::log_targets::PRODUCER, "laminar_kafka::producer");
//! ```

/// Connections: connect, disconnect (with the reason), requests.
pub const CONNECTION: &str = "laminar_kafka::connection";
/// Authentication: SASL handshakes, re-authentication, TLS.
pub const SASL: &str = "laminar_kafka::sasl";
/// Cluster metadata: brokers, leaders, leader moves.
pub const METADATA: &str = "laminar_kafka::metadata";
/// The producer: batches, retries, epoch bumps.
pub const PRODUCER: &str = "laminar_kafka::producer";
/// Transactions: state changes, fencing, coordinator moves.
pub const TXN: &str = "laminar_kafka::txn";
/// The consumer: fetches, positions, offset resets.
pub const CONSUMER: &str = "laminar_kafka::consumer";
/// Consumer groups: joins, rebalances, assignments, commits.
pub const GROUP: &str = "laminar_kafka::group";
/// The admin client.
pub const ADMIN: &str = "laminar_kafka::admin";

/// Every target, for filters and tests.
pub const ALL: [&str; 8] = [
    CONNECTION, SASL, METADATA, PRODUCER, TXN, CONSUMER, GROUP, ADMIN,
];
