//! Joins a consumer group, prints the records of the partitions the group gives it, and commits
//! the offsets of what it printed. Once it has partitions, it leaves the group after 10 seconds
//! without a record or a rebalance.
//!
//! ```sh
//! scripts/kafka.sh start && eval "$(scripts/kafka.sh env)"   # sets KAFKA_BOOTSTRAP
//! cargo run -p laminar-kafka-client --example producer -- greetings 1000
//! cargo run -p laminar-kafka-client --example group_consumer -- greetings printers
//! ```
//!
//! The broker address comes from `KAFKA_BOOTSTRAP` (default `127.0.0.1:19092`); the group is
//! the second argument (default `example-printers`). Start it twice with the same group and the
//! partitions are split between the two; run it again afterwards and it prints nothing, as the
//! group's committed offsets are at the end.

use std::error::Error;
use std::time::{Duration, Instant};

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};

const USAGE: &str = "usage: group_consumer TOPIC [GROUP]";
const IDLE: Duration = Duration::from_secs(10);

fn text(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(
        || "null".to_owned(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().ok_or(USAGE)?;
    let group = args.next().unwrap_or_else(|| "example-printers".to_owned());
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());

    let mut config = ClientConfig::new(&bootstrap)?;
    config
        .set("group.id", &group)?
        // This example commits itself, after printing: at least once.
        .set("enable.auto.commit", "false")?
        // Where a partition starts when the group has no committed offset for it.
        .set("auto.offset.reset", "earliest")?;
    let consumer = GroupConsumer::new(config)?;
    // Taken before `subscribe`, so that no event is acknowledged before we saw it.
    let mut events = consumer.rebalance_events()?;
    consumer.subscribe(Subscription::topics([topic.as_str()]))?;

    let mut printed = 0u64;
    // Until the group first assigns partitions (which waits for the members of an earlier
    // run that did not leave to time out), there is no stopping.
    let mut last_activity: Option<Instant> = None;
    while last_activity.is_none_or(|at| at.elapsed() < IDLE) {
        tokio::select! {
            // The member does not go on with a rebalance until its event is acknowledged.
            Some(rebalance) = events.recv() => {
                match rebalance.event() {
                    RebalanceEvent::Assigned(parts) => println!("assigned {parts:?}"),
                    RebalanceEvent::Revoked(parts) => {
                        // The partitions are paused but still ours: commit before they move,
                        // so that their next owner starts after what we printed.
                        if let Err(e) = consumer.commit_sync().await {
                            eprintln!("commit before revoking {parts:?} failed: {e}");
                        }
                        println!("revoked {parts:?}");
                    }
                    RebalanceEvent::Lost(parts) => println!("lost {parts:?} (no commit possible)"),
                    other => println!("{other:?}"),
                }
                rebalance.done();
                last_activity = Some(Instant::now());
            }
            polled = consumer.poll(Duration::from_millis(500)) => {
                let polled = polled?;
                for partition in polled.partitions() {
                    for record in partition {
                        let record = record?;
                        println!(
                            "{}-{} offset {}: key {} value {}",
                            partition.topic(),
                            partition.partition(),
                            record.offset(),
                            text(record.key()),
                            text(record.value()),
                        );
                        printed += 1;
                    }
                }
                if !polled.is_empty() {
                    last_activity = Some(Instant::now());
                    // The positions are past what was just printed; the commit goes out in
                    // the background, in order with the others.
                    let _pending = consumer.commit_async();
                }
            }
        }
    }

    consumer.commit_sync().await?;
    let committed = consumer.committed(&consumer.assignment()).await?;
    println!("printed {printed} records; the group's committed offsets: {committed:?}");
    // Leaves the group, so that its partitions move at once rather than after the session
    // timeout. `close` delivers `Revoked` for every partition and waits for it to be
    // acknowledged: dropping the stream acknowledges everything from now on.
    drop(events);
    consumer.close().await;
    Ok(())
}
