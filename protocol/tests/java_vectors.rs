//! Batches written by the Apache Kafka Java client (kafka-clients 4.3.1, `MemoryRecords.builder`)
//! decode to exactly the records it was given. See `data/README.md` for how they were made.

use bytes::Bytes;
use laminar_kafka_protocol::record::{
    Compression, ControlRecord, ControlRecordType, DecodeOptions, RecordBatch, TimestampType,
    batches,
};

const BASE_TS: i64 = 1_700_000_000_000;
const RECORDS: usize = 50;

type Headers = Vec<(String, Option<Vec<u8>>)>;

/// The rule `data/WriteVectors.java` writes records by.
fn expected(i: usize, big: bool) -> (i64, Option<Vec<u8>>, Option<Vec<u8>>, Headers) {
    let ts = BASE_TS + i as i64 * 3 - if i == 5 { 100 } else { 0 };
    let key = (!i.is_multiple_of(7)).then(|| format!("key-{i}").into_bytes());
    let value = if big && i == RECORDS - 1 {
        Some(
            (0..150_000)
                .map(|j| b'a' + ((j / 3 + j % 7) % 26) as u8)
                .collect(),
        )
    } else if i % 11 == 4 {
        None
    } else {
        Some(format!("value-{i}-{}", "abcdefghij".repeat(i % 5)).into_bytes())
    };
    let headers = match i % 3 {
        0 => vec![
            ("trace".to_owned(), Some(format!("id-{i}").into_bytes())),
            ("dup".to_owned(), Some(b"1".to_vec())),
            ("dup".to_owned(), None),
        ],
        1 => vec![],
        _ => vec![("ключ".to_owned(), Some("значение".as_bytes().to_vec()))],
    };
    (ts, key, value, headers)
}

fn load(name: &str) -> Bytes {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn only_batch(name: &str) -> RecordBatch {
    let mut it = batches(load(name), DecodeOptions::default());
    let batch = it.next().expect("one batch").expect("valid batch");
    assert!(it.next().is_none());
    assert_eq!(it.partial_tail(), 0);
    batch
}

fn check_records(batch: &RecordBatch, count: usize, big: bool) {
    let records = batch.records().unwrap();
    let mut n = 0;
    for (i, r) in records.iter().enumerate() {
        let r = r.unwrap();
        let (ts, key, value, headers) = expected(i, big);
        assert_eq!(r.offset(), batch.base_offset() + i as i64);
        assert_eq!(r.timestamp(), ts, "record {i}");
        assert_eq!(r.key(), key.as_deref(), "record {i}");
        assert_eq!(r.value(), value.as_deref(), "record {i}");
        let got: Headers = r
            .headers()
            .map(|h| {
                (
                    h.key_str().unwrap().to_owned(),
                    h.value().map(<[u8]>::to_vec),
                )
            })
            .collect();
        assert_eq!(got, headers, "record {i}");
        n += 1;
    }
    assert_eq!(n, count);
}

#[test]
fn java_batches_decode_with_every_codec() {
    for (file, codec, big) in [
        ("java-none.bin", Compression::None, false),
        ("java-gzip.bin", Compression::Gzip, true),
        ("java-snappy.bin", Compression::Snappy, true),
        ("java-lz4.bin", Compression::Lz4, true),
        ("java-zstd.bin", Compression::Zstd, true),
    ] {
        let batch = only_batch(file);
        assert_eq!(batch.compression(), codec, "{file}");
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.next_offset(), RECORDS as i64);
        assert_eq!(batch.record_count(), RECORDS as u32);
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(batch.max_timestamp(), BASE_TS + (RECORDS as i64 - 1) * 3);
        check_records(&batch, RECORDS, big);
    }
}

#[test]
fn java_snappy_is_xerial_framed_and_lz4_is_our_frame_header() {
    let snappy = load("java-snappy.bin");
    assert_eq!(
        &snappy[61..77],
        b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01"
    );
    let lz4 = load("java-lz4.bin");
    assert_eq!(&lz4[61..68], &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82]);
}

#[test]
fn our_snappy_batch_is_byte_for_byte_what_java_writes() {
    // Same records, same xerial framing and 32 KiB chunks, and snap produces the same blocks as
    // the reference snappy inside snappy-java.
    let mut b = laminar_kafka_protocol::record::BatchBuilder::new(Compression::Snappy);
    for i in 0..RECORDS {
        let (ts, key, value, headers) = expected(i, true);
        let headers: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        b.append(ts, key.as_deref(), value.as_deref(), &headers)
            .unwrap();
    }
    assert_eq!(b.finish().unwrap(), load("java-snappy.bin"));
}

#[test]
fn java_transactional_batch_and_commit_marker() {
    let mut wire = load("java-txn-lz4.bin").to_vec();
    wire.extend_from_slice(&load("java-commit-marker.bin"));
    let mut it = batches(Bytes::from(wire), DecodeOptions::default());
    let data = it.next().unwrap().unwrap();
    assert!(data.is_transactional() && !data.is_control());
    assert_eq!(
        (
            data.producer_id(),
            data.producer_epoch(),
            data.base_sequence()
        ),
        (12345, 7, 42)
    );
    assert_eq!(data.partition_leader_epoch(), 5);
    assert_eq!((data.base_offset(), data.next_offset()), (1000, 1010));
    check_records(&data, 10, false);

    let marker = it.next().unwrap().unwrap();
    assert!(marker.is_control() && marker.is_transactional());
    assert_eq!((marker.base_offset(), marker.next_offset()), (1010, 1011));
    assert_eq!(marker.producer_id(), 12345);
    let records = marker.records().unwrap();
    let record = records.iter().next().unwrap().unwrap();
    assert_eq!(record.timestamp(), BASE_TS + 500);
    let control = ControlRecord::parse(&record).unwrap();
    assert_eq!(control.kind, ControlRecordType::Commit);
    assert_eq!(control.coordinator_epoch, Some(3));
    assert!(it.next().is_none());
}

#[test]
fn java_log_append_time_batch_reads_the_append_time() {
    let batch = only_batch("java-log-append-time-zstd.bin");
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(batch.base_offset(), 77);
    let records = batch.records().unwrap();
    let stamps: Vec<i64> = records.iter().map(|r| r.unwrap().timestamp()).collect();
    assert_eq!(stamps, vec![BASE_TS + 9_999; 10]);
}

#[test]
fn our_encoder_reproduces_javas_uncompressed_batch_byte_for_byte() {
    let mut b = laminar_kafka_protocol::record::BatchBuilder::new(Compression::None);
    for i in 0..RECORDS {
        let (ts, key, value, headers) = expected(i, false);
        let headers: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        b.append(ts, key.as_deref(), value.as_deref(), &headers)
            .unwrap();
    }
    assert_eq!(b.finish().unwrap(), load("java-none.bin"));
}

/// Our batches of the same records, one per codec, for `data/ReadVectors.java` to check with the
/// Java client (see `data/README.md`). Written to the test's temporary directory, and also
/// checked in as `data/laminar-*.bin` as the Java client read them.
#[test]
fn our_batches_of_the_java_records_decode_and_are_written_for_the_java_reader() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("laminar-vectors");
    std::fs::create_dir_all(&out).unwrap();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let big = codec != Compression::None;
        let mut b = laminar_kafka_protocol::record::BatchBuilder::new(codec);
        for i in 0..RECORDS {
            let (ts, key, value, headers) = expected(i, big);
            let headers: Vec<(&str, Option<&[u8]>)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            b.append(ts, key.as_deref(), value.as_deref(), &headers)
                .unwrap();
        }
        let bytes = b.finish().unwrap();
        let name = format!("laminar-{codec}.bin");
        std::fs::write(out.join(&name), &bytes).unwrap();
        for batch in [
            RecordBatch::decode(bytes, &DecodeOptions::default()).unwrap(),
            only_batch(&name),
        ] {
            assert_eq!(batch.compression(), codec);
            check_records(&batch, RECORDS, big);
        }
    }
}
