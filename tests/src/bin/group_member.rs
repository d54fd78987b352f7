//! A group member for the at-least-once tests: consumes a topic in a group, "processes" each
//! record by appending `PARTITION OFFSET` to a file, then commits; it commits on every
//! revocation too. Runs until killed.
//!
//! Usage: `group_member BOOTSTRAP TOPIC GROUP OUT_FILE MAX_POLL_RECORDS`

use std::io::Write;
use std::time::Duration;

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, group, out, max_poll] = &args[..] else {
        return Err("usage: group_member BOOTSTRAP TOPIC GROUP OUT_FILE MAX_POLL_RECORDS".into());
    };
    let config = ClientConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("max.poll.interval.ms", "10000"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("fetch.max.wait.ms", "100"),
        ("max.poll.records", max_poll.as_str()),
    ])?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)?;
    let consumer = GroupConsumer::new(config)?;
    let mut events = consumer.rebalance_events()?;
    consumer.subscribe(Subscription::topics([topic.as_str()]))?;
    loop {
        tokio::select! {
            Some(ev) = events.recv() => {
                if let RebalanceEvent::Revoked(_) = ev.event() {
                    let _ = consumer.commit_sync().await;
                }
                ev.done();
            }
            polled = consumer.poll(Duration::from_millis(200)) => {
                let polled = polled?;
                if polled.is_empty() {
                    continue;
                }
                let mut lines = String::new();
                for part in polled.partitions() {
                    for r in part.iter() {
                        lines.push_str(&format!("{} {}\n", part.partition(), r?.offset()));
                    }
                }
                file.write_all(lines.as_bytes())?;
                file.flush()?;
                // Processed but not yet committed for a while: kills land in this window.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = consumer.commit_sync().await;
            }
        }
    }
}
