//! The record-batch codec end to end: round trips through every codec, batch framing in fetch
//! responses, and every kind of malformed input.

use bytes::{Bytes, BytesMut};
use laminar_kafka_protocol::record::{
    BATCH_HEADER_LEN, BatchBuilder, Compression, ControlBatch, ControlRecord, ControlRecordType,
    DecodeOptions, RecordBatch, RecordError, TimestampType, batches,
};
use proptest::prelude::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

#[derive(Debug, Clone, PartialEq)]
struct Rec {
    ts: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn build(codec: Compression, recs: &[Rec]) -> Bytes {
    let mut b = BatchBuilder::new(codec);
    for r in recs {
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap();
    }
    b.finish().unwrap()
}

fn decode_all(bytes: Bytes) -> Vec<(i64, Rec)> {
    let batch = RecordBatch::decode(bytes, &DecodeOptions::default()).unwrap();
    let records = batch.records().unwrap();
    records
        .iter()
        .map(|r| {
            let r = r.unwrap();
            let headers = r
                .headers()
                .map(|h| {
                    (
                        h.key_str().unwrap().to_owned(),
                        h.value().map(<[u8]>::to_vec),
                    )
                })
                .collect();
            (
                r.offset(),
                Rec {
                    ts: r.timestamp(),
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers,
                },
            )
        })
        .collect()
}

/// Recomputes the CRC after a test edited a batch.
fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn sample(n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            ts: 1_700_000_000_000 + (i as i64 * 37) % 1000 - 500,
            key: (i % 5 != 0).then(|| format!("key-{i}").into_bytes()),
            value: (i % 7 != 3).then(|| format!("value {i} ").repeat(i % 13).into_bytes()),
            headers: (0..i % 3)
                .map(|h| ("dup".to_owned(), (h % 2 == 0).then(|| vec![h as u8; h])))
                .collect(),
        })
        .collect()
}

fn rec_strategy() -> impl Strategy<Value = Rec> {
    let bytes = prop_oneof![
        1 => Just(None),
        1 => Just(Some(Vec::new())),
        4 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Some),
    ];
    let header = (
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("ключ".to_owned()),
            "[a-z]{0,12}"
        ],
        prop_oneof![
            Just(None),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Some)
        ],
    );
    (
        prop_oneof![
            any::<i64>(),
            1_600_000_000_000i64..1_800_000_000_000,
            Just(-1i64)
        ],
        bytes.clone(),
        bytes,
        proptest::collection::vec(header, 0..5),
    )
        .prop_map(|(ts, key, value, headers)| Rec {
            ts,
            key,
            value,
            headers,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_batches_round_trip_through_every_codec(
        recs in proptest::collection::vec(rec_strategy(), 1..40),
        base_offset in 0i64..1 << 40,
        producer_id in -1i64..1 << 40,
        epoch in -1i16..100,
        seq in -1i32..1 << 20,
        transactional in any::<bool>(),
    ) {
        for codec in CODECS.into_iter().filter(|c| c.is_available()) {
            let mut b = BatchBuilder::new(codec);
            b.set_base_offset(base_offset).set_producer(producer_id, epoch, seq).set_transactional(transactional);
            for r in &recs {
                let headers: Vec<(&str, Option<&[u8]>)> =
                    r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
                b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers).unwrap();
            }
            let bytes = b.finish().unwrap();
            let batch = RecordBatch::decode(bytes.clone(), &DecodeOptions::default()).unwrap();
            prop_assert_eq!(batch.compression(), codec);
            prop_assert_eq!(batch.base_offset(), base_offset);
            prop_assert_eq!(batch.next_offset(), base_offset + recs.len() as i64);
            prop_assert_eq!(batch.producer_id(), producer_id);
            prop_assert_eq!(batch.producer_epoch(), epoch);
            prop_assert_eq!(batch.base_sequence(), seq);
            prop_assert_eq!(batch.is_transactional(), transactional);
            prop_assert_eq!(batch.max_timestamp(), recs.iter().map(|r| r.ts).max().unwrap());
            prop_assert_eq!(batch.header().base_timestamp, recs[0].ts);
            let decoded = decode_all(bytes);
            let offsets: Vec<i64> = decoded.iter().map(|(o, _)| *o).collect();
            let expected: Vec<i64> = (0..recs.len() as i64).map(|i| base_offset + i).collect();
            prop_assert_eq!(offsets, expected);
            let got: Vec<Rec> = decoded.into_iter().map(|(_, r)| r).collect();
            prop_assert_eq!(&got, &recs);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let opts = DecodeOptions::default().with_max_decompressed_size(1 << 16);
        for batch in batches(Bytes::from(data.clone()), opts).flatten() {
            if let Ok(records) = batch.records() {
                for r in records.iter().flatten() {
                    let _ = r.headers().count();
                    let _ = ControlRecord::parse(&r);
                }
            }
        }
        let _ = RecordBatch::decode(Bytes::from(data), &opts);
    }
}

#[test]
fn fetch_records_split_into_batches_with_offsets_and_a_partial_tail() {
    let mut wire = BytesMut::new();
    let mut b = BatchBuilder::new(Compression::Lz4);
    let recs = sample(30);
    let mut base = 100;
    for chunk in recs.chunks(10) {
        b.set_base_offset(base);
        for r in chunk {
            b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &[])
                .unwrap();
        }
        b.finish_into(&mut wire).unwrap();
        base += 10;
    }
    let whole = wire.len();
    let third_start = {
        let mut it = batches(wire.clone().freeze(), DecodeOptions::default());
        it.next();
        it.next();
        it.position()
    };
    // Cut the last batch anywhere: two whole batches come out, then a quiet stop.
    for cut in third_start..whole {
        let mut it = batches(wire.clone().freeze().slice(..cut), DecodeOptions::default());
        let got: Vec<_> = it.by_ref().map(|b| b.unwrap().next_offset()).collect();
        assert_eq!(got, [110, 120], "cut at {cut}");
        assert_eq!(it.partial_tail(), cut - third_start);
    }
    let got: Vec<_> = batches(wire.freeze(), DecodeOptions::default())
        .map(|b| b.unwrap().base_offset())
        .collect();
    assert_eq!(got, [100, 110, 120]);
}

#[test]
fn a_batch_starting_below_the_fetch_offset_gives_absolute_offsets_to_skip_by() {
    let mut b = BatchBuilder::new(Compression::Snappy);
    b.set_base_offset(500);
    for i in 0..10 {
        b.append(i, None, Some(&[i as u8]), &[]).unwrap();
    }
    let batch = RecordBatch::decode(b.finish().unwrap(), &DecodeOptions::default()).unwrap();
    let fetch_offset = 507;
    let records = batch.records().unwrap();
    let kept: Vec<i64> = records
        .iter()
        .map(|r| r.unwrap())
        .filter(|r| r.offset() >= fetch_offset)
        .map(|r| r.offset())
        .collect();
    assert_eq!(kept, [507, 508, 509]);
    assert_eq!(batch.next_offset(), 510);
}

/// A batch header with no records, as log compaction leaves them.
fn empty_batch(base_offset: i64, last_offset_delta: i32) -> Vec<u8> {
    let mut b = vec![0u8; BATCH_HEADER_LEN];
    b[..8].copy_from_slice(&base_offset.to_be_bytes());
    b[8..12].copy_from_slice(&49i32.to_be_bytes());
    b[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    b[16] = 2;
    b[23..27].copy_from_slice(&last_offset_delta.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    fix_crc(&mut b);
    b
}

#[test]
fn empty_batches_are_valid_and_advance_the_offset() {
    let mut wire = empty_batch(40, 9);
    wire.extend_from_slice(&build(Compression::None, &sample(1)));
    let mut it = batches(Bytes::from(wire), DecodeOptions::default());
    let empty = it.next().unwrap().unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.next_offset(), 50);
    assert_eq!(empty.records().unwrap().iter().count(), 0);
    let next = it.next().unwrap().unwrap();
    assert_eq!(next.record_count(), 1);
    assert!(it.next().is_none());
    assert_eq!(it.partial_tail(), 0);
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let mut bytes = build(Compression::None, &sample(5)).to_vec();
    bytes[22] |= 0x08;
    bytes[35..43].copy_from_slice(&1_234i64.to_be_bytes());
    fix_crc(&mut bytes);
    let batch = RecordBatch::decode(Bytes::from(bytes), &DecodeOptions::default()).unwrap();
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    let records = batch.records().unwrap();
    assert!(records.iter().all(|r| r.unwrap().timestamp() == 1_234));
}

#[test]
fn attributes_flags_are_exposed() {
    let mut bytes = build(Compression::None, &sample(2)).to_vec();
    bytes[22] |= 0x40; // delete horizon
    bytes[27..35].copy_from_slice(&777i64.to_be_bytes());
    fix_crc(&mut bytes);
    let batch = RecordBatch::decode(Bytes::from(bytes), &DecodeOptions::default()).unwrap();
    assert_eq!(batch.delete_horizon_ms(), Some(777));
    assert!(!batch.is_control() && !batch.is_transactional());
    assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
}

#[test]
fn control_batches_round_trip_and_parse() {
    for (kind, epoch) in [
        (ControlRecordType::Commit, 3),
        (ControlRecordType::Abort, 0),
    ] {
        let bytes = ControlBatch {
            kind,
            offset: 77,
            producer_id: 9000,
            producer_epoch: 4,
            coordinator_epoch: epoch,
            partition_leader_epoch: 2,
            timestamp: 1_700_000_000_000,
        }
        .encode()
        .unwrap();
        let batch = RecordBatch::decode(bytes, &DecodeOptions::default()).unwrap();
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!((batch.producer_id(), batch.producer_epoch()), (9000, 4));
        assert_eq!(batch.partition_leader_epoch(), 2);
        assert_eq!(batch.next_offset(), 78);
        let records = batch.records().unwrap();
        let record = records.iter().next().unwrap().unwrap();
        assert_eq!(record.offset(), 77);
        let control = ControlRecord::parse(&record).unwrap();
        assert_eq!(control.kind, kind);
        assert_eq!(control.coordinator_epoch, Some(epoch));
        assert_eq!(control.version, 0);
    }
}

#[test]
fn records_are_views_of_the_batch_buffer_and_of_one_decompressed_buffer() {
    for codec in CODECS.into_iter().filter(|c| c.is_available()) {
        let bytes = build(codec, &sample(20));
        let batch = RecordBatch::decode(bytes.clone(), &DecodeOptions::default()).unwrap();
        let records = batch.records().unwrap();
        let buf = records.buffer().as_ptr_range();
        if codec == Compression::None {
            assert_eq!(
                buf,
                bytes.as_ptr_range(),
                "uncompressed records stay in the batch"
            );
        }
        for r in records.iter() {
            let r = r.unwrap();
            if let Some(v) = r.value_bytes() {
                if !v.is_empty() {
                    assert!(
                        buf.contains(&v.as_ptr()),
                        "{codec}: value shares the buffer"
                    );
                }
                assert_eq!(Some(&v[..]), r.value());
            }
            if let Some(k) = r.key_bytes() {
                assert!(buf.contains(&k.as_ptr()));
            }
            for h in r.headers() {
                if let Some(v) = h.value_bytes() {
                    assert_eq!(Some(&v[..]), h.value());
                }
            }
        }
    }
}

#[test]
fn truncating_a_batch_anywhere_is_an_error_or_a_quiet_partial_never_a_panic() {
    for codec in CODECS.into_iter().filter(|c| c.is_available()) {
        let bytes = build(codec, &sample(12));
        for cut in 0..bytes.len() {
            let part = bytes.slice(..cut);
            let mut it = batches(part.clone(), DecodeOptions::default());
            assert!(
                it.next().is_none(),
                "{codec} cut {cut}: a partial batch is not returned"
            );
            assert_eq!(it.partial_tail(), cut);
            assert!(
                matches!(
                    RecordBatch::decode(part, &DecodeOptions::default()),
                    Err(RecordError::Truncated { .. })
                ),
                "{codec} cut {cut}"
            );
        }
    }
}

#[test]
fn truncating_the_records_inside_a_consistent_batch_is_a_typed_error() {
    // Shorten the batch and fix its length and CRC, so that only the record data is wrong.
    let bytes = build(Compression::None, &sample(12));
    let mut count_errors = 0;
    for cut in BATCH_HEADER_LEN..bytes.len() {
        let mut b = bytes[..cut].to_vec();
        b[8..12].copy_from_slice(&((cut - 12) as i32).to_be_bytes());
        fix_crc(&mut b);
        let batch = RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()).unwrap();
        let records = batch.records().unwrap();
        let results: Vec<_> = records.iter().collect();
        let last = results.last().expect("an error at least");
        match last {
            Err(RecordError::RecordCountMismatch { expected: 12, .. }) => count_errors += 1,
            Err(RecordError::Truncated { .. }) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
        assert!(results[..results.len() - 1].iter().all(Result::is_ok));
    }
    assert_eq!(count_errors, 12, "one cut per record boundary");
}

#[test]
fn flipping_any_covered_byte_is_a_crc_error_naming_both_values() {
    let bytes = build(Compression::Zstd, &sample(8));
    let stored = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
    for i in 21..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] ^= 0x5a;
        match RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()) {
            Err(RecordError::CrcMismatch {
                expected,
                actual,
                base_offset: 0,
            }) => {
                assert_eq!(expected, stored);
                assert_ne!(actual, stored);
            }
            other => panic!("byte {i}: {other:?}"),
        }
    }
    // With verification off the corrupt batch is returned (decoding may then fail elsewhere).
    let mut b = bytes.to_vec();
    b[30] ^= 1;
    let off = DecodeOptions::default().with_verify_crc(false);
    assert!(RecordBatch::decode(Bytes::from(b), &off).is_ok());
}

#[test]
fn magic_0_and_1_message_sets_are_unsupported() {
    for magic in [0u8, 1] {
        // offset, size 14+, crc, magic, attributes, (timestamp), key -1, value -1
        let mut m = vec![0u8; 12];
        m[8..12].copy_from_slice(&26i32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, magic, 0]);
        m.extend_from_slice(&[0xff; 20]);
        let err = batches(Bytes::from(m), DecodeOptions::default())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, RecordError::UnsupportedMagic { magic: m } if m == magic as i8));
        assert_eq!(
            err.to_string(),
            format!("unsupported message format (magic {magic})")
        );
    }
    let mut b = build(Compression::None, &sample(1)).to_vec();
    b[16] = 3;
    assert!(matches!(
        RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()),
        Err(RecordError::UnsupportedMagic { magic: 3 })
    ));
}

#[test]
fn negative_and_undersized_lengths_and_counts_are_errors() {
    let good = build(Compression::None, &sample(3));
    let mut b = good.to_vec();
    b[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        batches(Bytes::from(b), DecodeOptions::default()).next(),
        Some(Err(RecordError::InvalidLength {
            what: "batch",
            length: -1
        }))
    ));
    let mut b = good.to_vec();
    b[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert!(matches!(
        batches(Bytes::from(b), DecodeOptions::default()).next(),
        Some(Err(RecordError::InvalidLength {
            what: "batch",
            length: 48
        }))
    ));
    let mut b = good.to_vec();
    b[57..61].copy_from_slice(&(-2i32).to_be_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()),
        Err(RecordError::InvalidLength {
            what: "record count",
            length: -2
        })
    ));
    // A hostile length is a partial batch, with nothing allocated for it.
    let mut b = good.to_vec();
    b[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut it = batches(Bytes::from(b), DecodeOptions::default());
    assert!(it.next().is_none());
}

#[test]
fn record_counts_that_disagree_with_the_data_are_errors() {
    let good = build(Compression::Gzip, &sample(4));
    let mut more = good.to_vec();
    more[57..61].copy_from_slice(&5i32.to_be_bytes());
    fix_crc(&mut more);
    let batch = RecordBatch::decode(Bytes::from(more), &DecodeOptions::default()).unwrap();
    let results: Vec<_> = batch
        .records()
        .unwrap()
        .iter()
        .map(|r| r.map(|r| r.offset()))
        .collect();
    assert_eq!(results.len(), 5);
    assert!(matches!(
        results[4],
        Err(RecordError::RecordCountMismatch {
            expected: 5,
            found: 4
        })
    ));
    let mut fewer = good.to_vec();
    fewer[57..61].copy_from_slice(&3i32.to_be_bytes());
    fix_crc(&mut fewer);
    let batch = RecordBatch::decode(Bytes::from(fewer), &DecodeOptions::default()).unwrap();
    let records = batch.records().unwrap();
    let results: Vec<_> = records.iter().collect();
    assert_eq!(results.len(), 4);
    assert!(matches!(
        results[3],
        Err(RecordError::TrailingBytes { count: 3, remaining }) if remaining > 0
    ));
}

#[test]
fn bad_record_fields_are_typed_errors() {
    // One record: length, attributes, ts delta, offset delta, key len, value len, header count.
    let with_body = |body: &[u8]| {
        let mut b = empty_batch(0, 0);
        let mut rec = vec![(body.len() as u8) << 1];
        rec.extend_from_slice(body);
        b.extend_from_slice(&rec);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[57..61].copy_from_slice(&1i32.to_be_bytes());
        fix_crc(&mut b);
        let batch = RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()).unwrap();
        let records = batch.records().unwrap();
        let r = records.iter().next().unwrap();
        r.map(|r| r.header_count())
    };
    assert_eq!(with_body(&[0, 0, 0, 1, 1, 0]).unwrap(), 0);
    // key length -2
    assert!(matches!(
        with_body(&[0, 0, 0, 3, 1, 0]),
        Err(RecordError::InvalidLength {
            what: "record key",
            length: -2
        })
    ));
    // a 6-byte offset-delta varint
    assert!(matches!(
        with_body(&[0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 1, 0]),
        Err(RecordError::VarintOverflow {
            what: "offset delta"
        })
    ));
    // header count 1 with a null (negative) key
    assert!(matches!(
        with_body(&[0, 0, 0, 1, 1, 2, 1, 1]),
        Err(RecordError::InvalidLength {
            what: "header key",
            length: -1
        })
    ));
    // fields shorter than the record's length
    assert!(matches!(
        with_body(&[0, 0, 0, 1, 1, 0, 9, 9]),
        Err(RecordError::RecordLengthMismatch {
            declared: 8,
            used: 6,
            ..
        })
    ));
    // value longer than the record
    assert!(matches!(
        with_body(&[0, 0, 0, 1, 40, 0]),
        Err(RecordError::Truncated {
            what: "record value",
            ..
        })
    ));
    // a header key that is not UTF-8 is an error only when asked as a string
    let mut b = empty_batch(0, 0);
    b.extend_from_slice(&[22, 0, 0, 0, 1, 1, 2, 4, 0xff, 0xfe, 2, b'v']);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[57..61].copy_from_slice(&1i32.to_be_bytes());
    fix_crc(&mut b);
    let batch = RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()).unwrap();
    let records = batch.records().unwrap();
    let r = records.iter().next().unwrap().unwrap();
    let h = r.headers().next().unwrap();
    assert_eq!(h.key(), &[0xff, 0xfe]);
    assert_eq!(h.value(), Some(&b"v"[..]));
    assert!(matches!(h.key_str(), Err(RecordError::InvalidHeaderKey(_))));
}

#[test]
fn unknown_codecs_are_errors() {
    for codec in 5..=7u8 {
        let mut b = build(Compression::None, &sample(1)).to_vec();
        b[22] = (b[22] & !7) | codec;
        fix_crc(&mut b);
        assert!(matches!(
            RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()),
            Err(RecordError::UnknownCompression { codec: c }) if c == codec
        ));
    }
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    let bomb = Rec {
        ts: 0,
        key: None,
        value: Some(vec![0; 8 << 20]),
        headers: vec![],
    };
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bytes = build(codec, std::slice::from_ref(&bomb));
        assert!(bytes.len() < 1 << 20, "{codec} compresses zeros well");
        let opts = DecodeOptions::default().with_max_decompressed_size(1 << 20);
        let batch = RecordBatch::decode(bytes, &opts).unwrap();
        match batch.records() {
            Err(RecordError::DecompressedTooLarge { codec: c, limit }) => {
                assert_eq!((c, limit), (codec, 1 << 20));
            }
            other => panic!("{codec}: {other:?}"),
        }
    }
}

#[test]
fn builder_is_reusable_and_rejects_empty_batches() {
    let mut b = BatchBuilder::new(Compression::Lz4);
    assert!(matches!(b.finish(), Err(RecordError::EmptyBatch)));
    b.append(5, Some(b"a"), None, &[]).unwrap();
    assert_eq!(b.len(), 1);
    let size_before = b.uncompressed_size();
    assert!(size_before > BATCH_HEADER_LEN);
    let first = b.finish().unwrap();
    assert!(b.is_empty());
    assert_eq!(b.uncompressed_size(), BATCH_HEADER_LEN);
    b.append(9, Some(b"b"), None, &[]).unwrap();
    let second = b.finish().unwrap();
    let d1 = decode_all(first);
    let d2 = decode_all(second);
    assert_eq!((d1[0].0, d1[0].1.ts), (0, 5));
    assert_eq!((d2[0].0, d2[0].1.ts), (0, 9));
    assert_eq!(d2[0].1.key.as_deref(), Some(&b"b"[..]));
}

#[test]
fn record_size_predicts_the_uncompressed_growth() {
    let mut b = BatchBuilder::new(Compression::None);
    let mut total = 0;
    for r in sample(20) {
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let predicted = b.record_size(r.ts, r.key.as_deref(), r.value.as_deref(), &headers);
        let before = b.uncompressed_size();
        b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap();
        assert_eq!(b.uncompressed_size() - before, predicted);
        total += predicted;
    }
    let bytes = b.finish().unwrap();
    assert_eq!(bytes.len(), BATCH_HEADER_LEN + total);
}
