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

/// The events emitted on this thread while `f` runs, one line each: level, target, then the
/// fields as ` name=value`; for the unit tests that assert which events a module writes.
#[cfg(test)]
pub(crate) fn events_of(f: impl FnOnce()) -> Vec<String> {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};
    use tracing::span::{Attributes, Id, Record};

    struct Collect(Arc<Mutex<Vec<String>>>);
    struct Fields(String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let meta = event.metadata();
            let mut line = Fields(format!("{} {}", meta.level(), meta.target()));
            event.record(&mut line);
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
    let events = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::with_default(Collect(events.clone()), f);
    events.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
