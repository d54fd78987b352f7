//! Reading records back: a consumer from the beginning, polling until a count came, and reading
//! everything until the log stays quiet.

use std::time::{Duration, Instant};

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, Polled, SeekTo};

use crate::raw::Rec;
use crate::{WAIT, plain};

/// A record our consumer returned, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The record.
    pub rec: Rec,
}

/// Polls until `count` records came (failing the test on a poll error or after `WAIT`), and
/// returns them in the order `poll` gave them.
pub async fn consume_exactly(consumer: &Consumer, count: usize) -> Vec<Consumed> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records consumed within {WAIT:?}",
            out.len()
        );
        let polled = consumer
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"));
        out.extend(consumed_records(&polled));
    }
    assert_eq!(out.len(), count, "more records than produced");
    out
}

/// The records of one poll, owned.
pub fn consumed_records(polled: &Polled) -> Vec<Consumed> {
    polled
        .iter()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("malformed record: {e}"));
            Consumed {
                partition: r.partition,
                offset: r.offset(),
                rec: Rec {
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .record
                        .headers()
                        .map(|h| {
                            (
                                String::from_utf8(h.key().to_vec()).expect("UTF-8 header key"),
                                h.value().map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    timestamp: r.timestamp(),
                },
            }
        })
        .collect()
}

/// A consumer of every partition of `topic` from the beginning.
pub fn consumer_from_beginning(config: ClientConfig, topic: &str, partitions: i32) -> Consumer {
    let consumer = Consumer::new(config).expect("consumer");
    let assignment: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&assignment).expect("assign");
    for tp in &assignment {
        consumer.seek(tp, SeekTo::Earliest).expect("seek");
    }
    consumer
}

/// Every value of every partition of `topic`, from the start, until 3 s pass without a record,
/// read with `isolation` (`read_committed` or `read_uncommitted`).
pub async fn read_all(topic: &str, partitions: i32, isolation: &str) -> Vec<String> {
    let consumer = Consumer::new(plain(&[("isolation.level", isolation)])).unwrap();
    let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut values = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(3) {
        let polled = consumer.poll(Duration::from_millis(300)).await.unwrap();
        for r in polled.iter() {
            let r = r.unwrap();
            values.push(String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned());
            last = Instant::now();
        }
    }
    consumer.close().await;
    values
}
