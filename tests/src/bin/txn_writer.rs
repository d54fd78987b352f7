//! A process that opens a transaction, writes records into it, flushes, prints `flushed`, and
//! then waits to be killed: the transaction is left open, as after a crash.
//!
//! Usage: `txn_writer BOOTSTRAP TOPIC TRANSACTIONAL_ID COUNT`

use std::time::Duration;

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::producer::{Producer, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, transactional_id, count] = &args[..] else {
        return Err("usage: txn_writer BOOTSTRAP TOPIC TRANSACTIONAL_ID COUNT".into());
    };
    let count: u32 = count.parse()?;
    let config = ClientConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("transactional.id", transactional_id.as_str()),
    ])?;
    let producer = Producer::new(config)?;
    producer.init_transactions().await?;
    producer.begin_transaction()?;
    for i in 0..count {
        drop(
            producer
                .send(ProducerRecord::new(topic.as_str(), format!("open-{i}")).with_partition(0))
                .await?,
        );
    }
    producer.flush().await?;
    println!("flushed");
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
