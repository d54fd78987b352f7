//! The support library of the broker tests: finding the harness broker, naming and creating
//! fresh topics, client configurations, producing and reading back, requests by hand, the
//! fault-injecting proxy, consumer-group members, seeded randomness, and running the interop
//! peers (the Java client's tools and kcat). Test files take what they need from the crate root
//! (the client suites as `use laminar_kafka_tests as support;`) and the group tests from
//! [`group`].
//!
//! | module | owns |
//! |---|---|
//! | [`broker`](mod@broker), [`error`] | where the harness broker is; its listeners and setups |
//! | [`process`], [`peers`] | subprocesses with a deadline; kcat and the Java console tools |
//! | [`clients`] | client configurations per security setup, a raw connection |
//! | [`topics`] | unique names, topics created under them |
//! | [`produce`], [`consume`] | writing records and reading them back |
//! | [`raw`] | CreateTopics, Metadata, Fetch and Produce written by hand, decoded records |
//! | [`interop`] | the Java console tools and kcat with the tests' options |
//! | [`proxy`] | the one fault-injecting TCP proxy |
//! | [`group`] | background group members and what they saw |
//! | [`rng`] | the seed of every random choice a test makes |
//! | [`txn`] | switching the cluster's transaction version |
//! | [`restart_lock`] | keeping the broker-restart test apart from the rest |
//!
//! The broker is the one `scripts/kafka.sh` runs: a single-node Apache Kafka with a listener per
//! security protocol. Tests read where it is from the environment that `scripts/kafka.sh env`
//! prints (or, when none of it is set, ask the script of this checkout); when the broker is not
//! running or does not answer, [`Broker::from_env`] panics with the command that starts it. A
//! broker test never skips itself.
//!
//! Every subprocess runs with a deadline ([`run`]) and its output captured; the SASL password never
//! appears in an error message, whether it came from an argument or from the tool's own output.
//!
//! ```no_run
//! use laminar_kafka_tests::{Broker, SaslMechanism, Security, unique_topic};
//!
//! let broker = Broker::from_env();
//! let topic = unique_topic("orders");
//! broker.create_topic(&topic, 3).unwrap();
//! let security = Security::SaslSsl(SaslMechanism::Plain);
//! broker.kcat(security).produce(&topic, &["a", "b"]).unwrap();
//! assert_eq!(broker.kcat(security).consume(&topic, 2).unwrap().len(), 2);
//! ```

use std::time::Duration;

/// How to bring up the broker the tests need; part of every "no broker" error.
pub const HOW_TO_START: &str = "start the test broker from the repository root with \
     `scripts/kafka.sh start && eval \"$(scripts/kafka.sh env)\"`, then run the tests in that \
     shell (or run the whole suite with `scripts/test.sh`)";

pub mod broker;
pub mod clients;
pub mod consume;
pub mod error;
pub mod group;
pub mod interop;
pub mod peers;
pub mod process;
pub mod produce;
pub mod proxy;
pub mod raw;
pub mod restart_lock;
pub mod rng;
pub mod topics;
pub mod txn;

pub use broker::{Broker, Listener, SaslMechanism, Security};
pub use clients::{client_config, config_at, connect_plaintext, plain, plaintext_config};
pub use consume::{Consumed, consume_exactly, consumed_records, consumer_from_beginning, read_all};
pub use error::{HarnessError, Result};
pub use interop::{JavaFlags, java_console_consume, java_console_produce, java_flags, kcat};
pub use peers::{JavaClient, Kcat};
pub use process::{Output, run};
pub use produce::{send_all, send_values, values};
pub use raw::{
    Rec, create_topics, create_topics_with_configs, decode_records, fetch_batches, produce_raw,
    topic_id, wait_for_leaders,
};
pub use restart_lock::{blocking, broker, exclusive_restart_lock, restart_lock_path};
pub use rng::{Seed, test_seed, text};
pub use topics::{create_topic, topic, unique_topic};
pub use txn::{RestoreTransactionVersion, set_transaction_version, tv_lock};

/// How long the helpers wait for the broker (a delivery, a leader, a count of records) before
/// failing the test.
pub const WAIT: Duration = Duration::from_secs(30);

/// Default deadline of a kcat or Java tool run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
