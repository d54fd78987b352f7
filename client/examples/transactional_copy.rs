//! Read-process-write, exactly once: consumes INPUT as a member of a consumer group, writes
//! each record upper-cased to OUTPUT, and commits those records together with the consumed
//! offsets in one transaction (`send_offsets_to_transaction`, KIP-447). Once it has partitions,
//! it stops after 10 seconds without a record or a rebalance.
//!
//! ```sh
//! scripts/kafka.sh start && eval "$(scripts/kafka.sh env)"   # sets KAFKA_BOOTSTRAP
//! scripts/kafka.sh topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic shouts --partitions 3
//! cargo run -p laminar-kafka-client --example producer -- greetings 1000
//! cargo run -p laminar-kafka-client --example transactional_copy -- greetings shouts
//! laminar-kafka -b "$KAFKA_BOOTSTRAP" consume -t shouts --isolation read-committed -e -f '%p %o %k %s\n'
//! ```
//!
//! The broker address comes from `KAFKA_BOOTSTRAP` (default `127.0.0.1:19092`); the group is
//! the third argument (default `example-copier`) and the transactional id is derived from it.
//! A `read_committed` reader of OUTPUT sees every input record exactly once, however often this
//! program is killed and started again: a transaction that did not commit is aborted (by the
//! next `init_transactions`, or by the coordinator after `transaction.timeout.ms`), and the
//! group's committed offsets, which move only with a commit, say where to start again.

use std::error::Error;
use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_client::Error as ClientError;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{GroupConsumer, Polled, SeekTo, Subscription};
use laminar_kafka_client::producer::{Producer, ProducerRecord};

const USAGE: &str = "usage: transactional_copy INPUT OUTPUT [GROUP]";
const IDLE: Duration = Duration::from_secs(10);
/// Transactions in a row that may fail before the program gives up.
const MAX_FAILURES: u32 = 5;

/// Writes the transformed records of `polled` to `output` and commits them with the offsets
/// they were read up to. On error the caller aborts the transaction.
async fn copy(
    producer: &Producer,
    consumer: &GroupConsumer,
    polled: &Polled,
    output: &str,
) -> Result<usize, Box<dyn Error>> {
    producer.begin_transaction()?;
    let mut copied = 0;
    let mut offsets = Vec::new();
    for partition in polled.partitions() {
        for record in partition {
            let record = record?;
            let value = record.value().map(|v| Bytes::from(v.to_ascii_uppercase()));
            let shout = ProducerRecord {
                topic: output.to_owned(),
                key: record.key().map(Bytes::copy_from_slice),
                value,
                ..ProducerRecord::default()
            };
            // The delivery future is not needed: a record that fails makes the commit fail.
            let _delivery = producer.send(shout).await?;
            copied += 1;
        }
        // The next offset to read, as the consumer's own commit would store it.
        offsets.push((
            (partition.topic().to_owned(), partition.partition()),
            partition.next_offset(),
        ));
    }
    // The member's generation goes with the offsets: if the group moved these partitions to
    // another member meanwhile, the coordinator refuses them and the transaction must abort.
    producer
        .send_offsets_to_transaction(&offsets, &consumer.group_metadata())
        .await?;
    // Flushes the records, then commits records and offsets at once.
    producer.commit_transaction().await?;
    Ok(copied)
}

/// Moves every partition still assigned back to the group's committed offset (the earliest
/// offset where there is none, as `auto.offset.reset` says); partitions that moved to another
/// member meanwhile are that member's to read again.
async fn rewind(consumer: &GroupConsumer) -> Result<(), Box<dyn Error>> {
    let assigned = consumer.assignment();
    let committed = consumer.committed(&assigned).await?;
    for tp in &assigned {
        let to = committed
            .get(tp)
            .map_or(SeekTo::Earliest, |&offset| SeekTo::Offset(offset));
        consumer.seek(tp, to)?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err(USAGE.into());
    };
    let group = args.next().unwrap_or_else(|| "example-copier".to_owned());
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());

    let mut producer_config = ClientConfig::new(&bootstrap)?;
    producer_config.set("transactional.id", &format!("{group}-copier"))?;
    let producer = Producer::new(producer_config)?;
    // First, before the consumer asks for its committed offsets: this fences an older copier
    // with the same transactional id and aborts what it left open, offsets included, which
    // the group would otherwise hold back as pending.
    producer.init_transactions().await?;

    let mut consumer_config = ClientConfig::new(&bootstrap)?;
    consumer_config
        .set("group.id", &group)?
        // Offsets are committed by the transactions, never by the consumer.
        .set("enable.auto.commit", "false")?
        // Input written by other transactions is read only once they commit.
        .set("isolation.level", "read_committed")?
        .set("auto.offset.reset", "earliest")?;
    let consumer = GroupConsumer::new(consumer_config)?;
    let mut events = consumer.rebalance_events()?;
    consumer.subscribe(Subscription::topics([input.as_str()]))?;

    let mut copied = 0;
    let mut failures = 0;
    // Until the group first assigns partitions (which waits for the members of an earlier
    // run that did not leave to time out), there is no stopping.
    let mut last_activity: Option<Instant> = None;
    while last_activity.is_none_or(|at| at.elapsed() < IDLE) {
        tokio::select! {
            // No transaction is open between polls, so partitions can go at once.
            Some(rebalance) = events.recv() => {
                println!("{:?}", rebalance.event());
                rebalance.done();
                last_activity = Some(Instant::now());
            }
            polled = consumer.poll(Duration::from_millis(500)) => {
                let polled = polled?;
                if polled.is_empty() {
                    continue;
                }
                last_activity = Some(Instant::now());
                match copy(&producer, &consumer, &polled, &output).await {
                    Ok(n) => {
                        copied += n;
                        failures = 0;
                    }
                    Err(e) => {
                        // Nothing of this transaction is visible and its offsets are not
                        // committed. A transaction that only failed (a record refused, the
                        // group moved on) is aborted and its input read again from the
                        // group's committed offsets; anything else ends the program, and the
                        // next run starts from the same offsets.
                        failures += 1;
                        let abortable = matches!(
                            e.downcast_ref::<ClientError>(),
                            Some(ClientError::TransactionAbortable { .. })
                        );
                        if let Err(abort) = producer.abort_transaction().await {
                            eprintln!("{e}");
                            return Err(abort.into());
                        }
                        if !abortable || failures == MAX_FAILURES {
                            return Err(e);
                        }
                        eprintln!("transaction aborted ({e}); reading its input again");
                        tokio::time::sleep(Duration::from_millis(100) * failures).await;
                        rewind(&consumer).await?;
                    }
                }
            }
        }
    }

    println!(
        "copied {copied} records from {input} to {output}; group {group} is at {:?}",
        consumer.positions()
    );
    // `close` revokes every partition: without a listener the events are acknowledged at once.
    drop(events);
    consumer.close().await;
    producer.close().await?;
    Ok(())
}
