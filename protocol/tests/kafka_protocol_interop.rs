//! Our codec against the generated `kafka-protocol` crate's (uncompressed, since its codecs are
//! off in our build): batches it encodes decode identically with ours, and ours with its decoder.

use bytes::{Bytes, BytesMut};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use laminar_kafka_protocol::messages::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Rec {
    ts: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    /// Unique keys: kafka-protocol keeps headers in a map and would collapse repeats.
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn rec() -> impl Strategy<Value = Rec> {
    let bytes = prop_oneof![
        Just(None),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(Some)
    ];
    (
        1_600_000_000_000i64..1_700_000_000_000,
        bytes.clone(),
        bytes,
        proptest::collection::btree_map(
            "[a-zé]{1,8}",
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            0..4,
        ),
    )
        .prop_map(|(ts, key, value, headers)| Rec {
            ts,
            key,
            value,
            headers: headers.into_iter().collect(),
        })
}

fn kp_records(recs: &[Rec], base_offset: i64, pid: i64, epoch: i16, seq: i32) -> Vec<KpRecord> {
    recs.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers = KpRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: pid,
                producer_epoch: epoch,
                timestamp_type: KpTimestampType::Creation,
                offset: base_offset + i as i64,
                sequence: if seq < 0 { -1 } else { seq + i as i32 },
                timestamp: r.ts,
                key: r.key.clone().map(Bytes::from),
                value: r.value.clone().map(Bytes::from),
                headers: Default::default(),
            };
            for (k, v) in &r.headers {
                headers
                    .headers
                    .insert(StrBytes::from_string(k.clone()), v.clone().map(Bytes::from));
            }
            headers
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn kafka_protocol_batches_decode_identically_with_ours(
        recs in proptest::collection::vec(rec(), 1..30),
        base_offset in 0i64..1 << 40,
        pid in -1i64..1000,
        seq in prop_oneof![Just(-1i32), 0i32..1000],
    ) {
        let kp = kp_records(&recs, base_offset, pid, 3, seq);
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &kp,
            &RecordEncodeOptions { version: 2, compression: KpCompression::None },
        ).unwrap();
        // kafka-protocol starts a new batch whenever offset - sequence changes, so records
        // without sequences come out one batch each: decode them all.
        let all: Vec<_> = batches(buf.freeze(), DecodeOptions::default())
            .map(|b| b.unwrap())
            .collect();
        if seq >= 0 {
            prop_assert_eq!(all.len(), 1);
            prop_assert_eq!(all[0].base_sequence(), seq);
            prop_assert_eq!(all[0].max_timestamp(), recs.iter().map(|r| r.ts).max().unwrap());
        }
        prop_assert_eq!(all.last().unwrap().next_offset(), base_offset + recs.len() as i64);
        for batch in &all {
            prop_assert_eq!(batch.producer_id(), pid);
        }
        let record_sets: Vec<_> = all.iter().map(|b| b.records().unwrap()).collect();
        let mut n = 0;
        for (r, want) in record_sets.iter().flat_map(|r| r.iter()).zip(&kp) {
            let r = r.unwrap();
            prop_assert_eq!(r.offset(), want.offset);
            prop_assert_eq!(r.timestamp(), want.timestamp);
            prop_assert_eq!(r.key(), want.key.as_deref());
            prop_assert_eq!(r.value(), want.value.as_deref());
            let headers: Vec<(String, Option<Vec<u8>>)> = r
                .headers()
                .map(|h| (h.key_str().unwrap().to_owned(), h.value().map(<[u8]>::to_vec)))
                .collect();
            let want_headers: Vec<(String, Option<Vec<u8>>)> = want
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_vec())))
                .collect();
            prop_assert_eq!(headers, want_headers);
            n += 1;
        }
        prop_assert_eq!(n, kp.len());
    }

    #[test]
    fn our_batches_decode_identically_with_kafka_protocol(
        recs in proptest::collection::vec(rec(), 1..30),
        base_offset in 0i64..1 << 40,
        pid in -1i64..1000,
        seq in -1i32..1000,
    ) {
        let mut b = BatchBuilder::new(Compression::None);
        b.set_base_offset(base_offset).set_producer(pid, 3, seq);
        for r in &recs {
            let headers: Vec<(&str, Option<&[u8]>)> =
                r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
            b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &headers).unwrap();
        }
        let mut bytes = b.finish().unwrap();
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        prop_assert!(bytes.is_empty());
        let mut got = set.records;
        // Without sequences (base -1), kafka-protocol still derives each record's sequence as
        // base + offset delta (-1, 0, 1, …); the wire holds only the base, which the first
        // record shows.
        if seq < 0 {
            prop_assert_eq!(got[0].sequence, -1);
            for r in &mut got {
                r.sequence = -1;
            }
        }
        prop_assert_eq!(got, kp_records(&recs, base_offset, pid, 3, seq));
    }
}
