//! The record-batch codec against the Java client and librdkafka (kcat), for every compression
//! codec, through a real broker:
//! - batches the Java console producer and kcat write are fetched with raw Fetch requests and
//!   decoded by our codec: keys, values, headers (repeated keys, null and empty values) and order
//!   equal what was sent, and the batch attributes name the codec that was asked for;
//! - batches our `BatchBuilder` writes are sent with raw Produce requests (acks=-1) and read back
//!   identically — keys, values, headers, explicit timestamps, offsets — by the Java console
//!   consumer and by kcat;
//! - the broker refuses a control batch from a client.

use laminar_kafka_tests as support;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use laminar_kafka_protocol::record::{
    BatchBuilder, Compression, ControlBatch, ControlRecordType, HeaderRef,
};
use laminar_kafka_tests::unique_topic;
use support::{Rec, blocking, broker, connect_plaintext, create_topics, decode_records, text};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// What the Java console producer is asked to write: every record has at least one header (its
/// line reader requires one), some keys, values and header values are null, some empty, header
/// keys repeat, one value is large.
fn java_records(codec: Compression) -> Vec<Rec> {
    (0..40u64)
        .map(|i| {
            let key = (i % 7 != 3).then(|| format!("key-{i}-{}", text(i, 8)).into_bytes());
            let value = match i {
                _ if i % 11 == 5 => None,
                10 => Some(text(1000 + i, 6000).into_bytes()),
                12 => Some(Vec::new()),
                _ => {
                    Some(format!("{codec}-{i}-{}", text(i * 31, 20 + i as usize * 3)).into_bytes())
                }
            };
            let mut headers = vec![
                ("trace".to_owned(), Some(format!("t{i}").into_bytes())),
                ("dup".to_owned(), Some(b"first".to_vec())),
                ("dup".to_owned(), Some(text(i + 77, 5).into_bytes())),
            ];
            if i % 4 == 0 {
                headers.push(("nothing".to_owned(), None));
            }
            if i % 5 == 0 {
                headers.push(("empty".to_owned(), Some(Vec::new())));
            }
            Rec {
                key,
                value,
                headers,
                timestamp: 0,
            }
        })
        .collect()
}

const NULL_MARKER: &str = "<NULL>";

fn or_null(bytes: &Option<Vec<u8>>) -> String {
    match bytes {
        Some(b) => String::from_utf8(b.clone()).expect("UTF-8 test data"),
        None => NULL_MARKER.to_owned(),
    }
}

/// The console producer's input line for a record: `h1:v1,h2:v2<TAB>key<TAB>value`.
fn java_line(rec: &Rec) -> String {
    let headers: Vec<String> = rec
        .headers
        .iter()
        .map(|(k, v)| format!("{k}:{}", or_null(v)))
        .collect();
    format!(
        "{}\t{}\t{}",
        headers.join(","),
        or_null(&rec.key),
        or_null(&rec.value)
    )
}

async fn java_producer_batches_decode_identically(codec: Compression) {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic(&format!("codec-java-{codec}"));
    create_topics(&conn, &[(&topic, 1)]).await;
    let sent = java_records(codec);
    let input: String = sent.iter().map(|r| java_line(r) + "\n").collect();
    let before = now_ms();
    blocking(|| {
        support::java_console_produce(
            broker,
            &topic,
            &input,
            &[
                ("compression.type", codec.name()),
                ("linger.ms", "200"),
                ("batch.size", "8192"),
            ],
            &[
                ("parse.key", "true"),
                ("parse.headers", "true"),
                ("null.marker", NULL_MARKER),
            ],
        )
    });
    let after = now_ms();

    let batches = support::fetch_batches(&conn, &topic, 0, sent.len()).await;
    assert!(
        batches.len() >= 2,
        "expected several batches (batch.size 8192 and a 6 KB value), got {}",
        batches.len()
    );
    for batch in &batches {
        assert_eq!(
            batch.compression(),
            codec,
            "batch at {}",
            batch.base_offset()
        );
        assert_eq!(batch.header().attributes.compression().unwrap(), codec);
        assert!(!batch.is_control() && !batch.is_transactional());
    }
    let got = decode_records(&batches);
    assert_eq!(got.len(), sent.len());
    for (i, ((offset, got), want)) in got.into_iter().zip(&sent).enumerate() {
        assert_eq!(offset, i as i64);
        assert!(
            (before..=after).contains(&got.timestamp),
            "record {i}: timestamp {} outside the run {before}..={after}",
            got.timestamp
        );
        assert_eq!(
            Rec {
                timestamp: 0,
                ..got
            },
            *want,
            "record {i}"
        );
    }
}

/// What kcat is asked to write: `key|value` lines (no delimiter = null key, empty key, empty
/// value), one large repetitive value so that every batch compresses, and the same headers on
/// every message (repeated key, null value, empty value, UTF-8).
fn kcat_records(codec: Compression) -> (Vec<Rec>, String) {
    let headers: Vec<(String, Option<Vec<u8>>)> = vec![
        ("dup".to_owned(), Some(b"1".to_vec())),
        ("dup".to_owned(), Some(b"2".to_vec())),
        ("nothing".to_owned(), None),
        ("empty".to_owned(), Some(Vec::new())),
        ("utf".to_owned(), Some("é✓日".as_bytes().to_vec())),
    ];
    let mut records = Vec::new();
    let mut input = String::new();
    for i in 0..30u64 {
        let value = match i {
            4 => "repeat ".repeat(1500),
            _ => format!("{codec}-{i}-{}", text(i * 13, 10 + i as usize * 4)),
        };
        let (key, line) = match i % 6 {
            1 => (None, value.clone()),
            2 => (Some(Vec::new()), format!("|{value}")),
            _ => {
                let key = format!("k{i}");
                (Some(key.clone().into_bytes()), format!("{key}|{value}"))
            }
        };
        let value = if i == 9 { String::new() } else { value };
        let line = if i == 9 { "k9|".to_owned() } else { line };
        records.push(Rec {
            key,
            value: Some(value.into_bytes()),
            headers: headers.clone(),
            timestamp: 0,
        });
        input.push_str(&line);
        input.push('\n');
    }
    (records, input)
}

async fn kcat_batches_decode_identically(codec: Compression) {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic(&format!("codec-kcat-{codec}"));
    create_topics(&conn, &[(&topic, 1)]).await;
    let (sent, input) = kcat_records(codec);
    let before = now_ms();
    blocking(|| {
        support::kcat(
            broker,
            &[
                "-P",
                "-t",
                &topic,
                "-K",
                "|",
                "-z",
                codec.name(),
                "-H",
                "dup=1",
                "-H",
                "dup=2",
                "-H",
                "nothing",
                "-H",
                "empty=",
                "-H",
                "utf=é✓日",
                "-X",
                "linger.ms=100",
            ],
            Some(input.as_bytes()),
        )
    });
    let after = now_ms();

    let batches = support::fetch_batches(&conn, &topic, 0, sent.len()).await;
    for batch in &batches {
        assert_eq!(
            batch.compression(),
            codec,
            "batch at {}",
            batch.base_offset()
        );
    }
    let got = decode_records(&batches);
    assert_eq!(got.len(), sent.len());
    for (i, ((offset, got), want)) in got.into_iter().zip(&sent).enumerate() {
        assert_eq!(offset, i as i64);
        assert!(
            (before..=after).contains(&got.timestamp),
            "record {i}: timestamp {} outside the run {before}..={after}",
            got.timestamp
        );
        assert_eq!(
            Rec {
                timestamp: 0,
                ..got
            },
            *want,
            "record {i}"
        );
    }
}

/// What our builder writes: keys (some null), values (some null, one empty), headers with
/// repeated keys and null values (some records without any), explicit timestamps that are not
/// monotonic.
fn our_records(codec: Compression) -> Vec<Rec> {
    (0..30u64)
        .map(|i| {
            let key = (i % 6 != 2).then(|| format!("k{i}").into_bytes());
            let value = match i {
                _ if i % 9 == 4 => None,
                7 => Some(Vec::new()),
                _ => Some(format!("{codec} {i} {}", text(i * 7 + 1, 30 + i as usize)).into_bytes()),
            };
            let headers = if i % 5 == 1 {
                Vec::new()
            } else {
                let mut h = vec![
                    ("h".to_owned(), Some(format!("{i}").into_bytes())),
                    ("h".to_owned(), Some(b"second".to_vec())),
                ];
                if i % 3 == 0 {
                    h.push(("n".to_owned(), None));
                }
                h
            };
            let timestamp = 1_600_000_000_000 + i as i64 * 1000 - (i as i64 % 3) * 1500;
            Rec {
                key,
                value,
                headers,
                timestamp,
            }
        })
        .collect()
}

fn build_batch(codec: Compression, records: &[Rec]) -> bytes::Bytes {
    let mut builder = BatchBuilder::new(codec);
    for r in records {
        let headers: Vec<HeaderRef<'_>> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        builder
            .append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .expect("append");
    }
    let mut out = BytesMut::new();
    builder.finish_into(&mut out).expect("finish");
    out.freeze()
}

fn as_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 test data")
}

async fn our_batches_read_back_by_java_and_kcat(codec: Compression) {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic(&format!("codec-ours-{codec}"));
    create_topics(&conn, &[(&topic, 1)]).await;
    let sent = our_records(codec);
    let (first, second) = sent.split_at(12);
    for (base, part) in [(0, first), (12, second)] {
        let response = support::produce_raw(&conn, &topic, 0, build_batch(codec, part), -1).await;
        assert_eq!(
            response.error_code, 0,
            "Produce of a {codec} batch: {:?} {:?}",
            response.error_message, response.record_errors
        );
        assert_eq!(response.base_offset, base);
    }

    // The broker kept the batches as written (topic compression.type is `producer`).
    let batches = support::fetch_batches(&conn, &topic, 0, sent.len()).await;
    assert_eq!(batches.len(), 2);
    assert!(batches.iter().all(|b| b.compression() == codec));
    let fetched: Vec<Rec> = decode_records(&batches)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(fetched, sent);

    let java_expected: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(offset, r)| {
            let headers = if r.headers.is_empty() {
                "NO_HEADERS".to_owned()
            } else {
                r.headers
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", or_null(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "CreateTime:{}\tOffset:{offset}\t{headers}\t{}\t{}",
                r.timestamp,
                or_null(&r.key),
                or_null(&r.value)
            )
        })
        .collect();
    let java = blocking(|| {
        support::java_console_consume(
            broker,
            &topic,
            sent.len(),
            &[
                ("print.key", "true"),
                ("print.headers", "true"),
                ("print.timestamp", "true"),
                ("print.offset", "true"),
                ("null.literal", NULL_MARKER),
            ],
        )
    });
    assert_eq!(java, java_expected, "the Java console consumer's view");

    // kcat: %K/%S are -1 for a null key/value, headers print as k=v with NULL for null values.
    let kcat_expected: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(offset, r)| {
            let len = |b: &Option<Vec<u8>>| b.as_ref().map_or(-1, |b| b.len() as i64);
            let text_of = |b: &Option<Vec<u8>>| b.as_deref().map(as_text).unwrap_or("").to_owned();
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().map(as_text).unwrap_or("NULL")))
                .collect();
            format!(
                "{}|{offset}|{}|{}|{}|{}|{}",
                r.timestamp,
                len(&r.key),
                text_of(&r.key),
                len(&r.value),
                text_of(&r.value),
                headers.join(",")
            )
        })
        .collect();
    // `-c`: wait for every record (with `-e`, kcat may see a stale end of partition and stop
    // early); the helper's deadline bounds the wait.
    let count = sent.len().to_string();
    let output = blocking(|| {
        support::kcat(
            broker,
            &[
                "-C",
                "-t",
                &topic,
                "-o",
                "beginning",
                "-c",
                &count,
                "-q",
                "-f",
                "%T|%o|%K|%k|%S|%s|%h\n",
            ],
            None,
        )
    });
    let kcat: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(kcat, kcat_expected, "kcat's view");
}

macro_rules! per_codec {
    ($test:ident) => {
        mod $test {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn none() {
                super::$test(Compression::None).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn gzip() {
                super::$test(Compression::Gzip).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn snappy() {
                super::$test(Compression::Snappy).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn lz4() {
                super::$test(Compression::Lz4).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn zstd() {
                super::$test(Compression::Zstd).await;
            }
        }
    };
}

per_codec!(java_producer_batches_decode_identically);
per_codec!(kcat_batches_decode_identically);
per_codec!(our_batches_read_back_by_java_and_kcat);

/// A control batch (every transaction marker is a transactional batch) sent by a producer
/// without a transactional id is refused as a whole before it reaches the log: Kafka's produce
/// handler answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) for a request with transactional
/// records and no transactional id (`KafkaApis.handleProduceRequest`). Nothing is appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_batch_from_a_non_transactional_producer_is_refused() {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic("codec-control");
    create_topics(&conn, &[(&topic, 1)]).await;
    let marker = ControlBatch {
        kind: ControlRecordType::Commit,
        offset: 0,
        producer_id: -1,
        producer_epoch: -1,
        coordinator_epoch: 0,
        partition_leader_epoch: -1,
        timestamp: now_ms(),
    }
    .encode()
    .expect("encode the marker");
    let response = support::produce_raw(&conn, &topic, 0, marker, -1).await;
    assert_eq!(
        response.error_code, 53,
        "expected TRANSACTIONAL_ID_AUTHORIZATION_FAILED, got {} ({:?})",
        response.error_code, response.error_message
    );

    // The log is still empty: a data batch written now gets offset 0.
    let mut builder = BatchBuilder::new(Compression::None);
    builder.append(now_ms(), None, Some(b"after"), &[]).unwrap();
    let response = support::produce_raw(&conn, &topic, 0, builder.finish().unwrap(), -1).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.base_offset, 0);
}
