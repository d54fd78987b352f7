//! Random and mutated bytes thrown at every decoder through the fuzz entry points: none may
//! panic, hang or allocate without bound.

use laminar_kafka_connector::fuzz;
use proptest::prelude::*;

/// A fuzz entry point.
type Target = fn(&[u8]);

/// Valid records of each format, to mutate (so the fuzzing reaches past the first checks).
fn seeds() -> Vec<(Target, Vec<u8>)> {
    let json = br#"{"id": 1, "small": 2, "flag": true, "name": "n", "score": 1.5, "price": "1.25",
        "wide": 3, "day": "2024-01-01", "at": "10:00:00", "ts": 5, "blob": "AAE=", "doc": {"a": [1]}}"#
        .to_vec();
    let debezium = br#"{"schema": {"fields": [{"field": "after", "fields": [{"field": "ts", "name": "io.debezium.time.MicroTimestamp"}]}]},
        "payload": {"before": {"id": 1}, "after": {"id": 1, "ts": 7}, "op": "u"}}"#
        .to_vec();
    // Avro record of the fuzz writer schema: id 1, null, true, A, 0.0, 0 bytes, 20 zero bytes,
    // day 0, at 0, ts 0, empty bytes, empty map.
    let mut avro = vec![0x02, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00];
    avro.extend_from_slice(&[0; 20]);
    avro.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x00]);
    let mut framed = vec![0, 0, 0, 0, 1];
    framed.extend_from_slice(&avro);
    let protobuf = vec![
        0, 0, 0, 0, 1, 0, 0x08, 0x01, 0x10, 0x02, 0x62, 0x02, 0x08, 0x02,
    ];
    vec![
        (fuzz::fuzz_json as Target, json),
        (fuzz::fuzz_debezium_json, debezium),
        (fuzz::fuzz_avro, avro),
        (fuzz::fuzz_avro, framed),
        (fuzz::fuzz_protobuf, protobuf),
        (fuzz::fuzz_raw, b"text".to_vec()),
        (
            fuzz::fuzz_avro_schema,
            fuzz::AVRO_WRITER.as_bytes().to_vec(),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_any_decoder(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz::fuzz_json(&data);
        fuzz::fuzz_debezium_json(&data);
        fuzz::fuzz_avro(&data);
        fuzz::fuzz_protobuf(&data);
        fuzz::fuzz_raw(&data);
        fuzz::fuzz_avro_schema(&data);
    }

    #[test]
    fn mutated_valid_records_never_panic_their_decoder(
        seed in 0usize..7,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let seeds = seeds();
        let (target, mut data) = seeds[seed].clone();
        for (at, byte) in edits {
            let len = data.len().max(1);
            if let Some(b) = data.get_mut(at % len) {
                *b = byte;
            }
        }
        let cut = cut % (data.len() + 1);
        target(&data);
        target(&data[..cut]);
    }
}

#[test]
fn the_seeds_are_valid_records() {
    use std::sync::Arc;
    // Not through the entry points (they swallow errors): decode each seed and expect a row.
    use laminar_kafka_connector::config::{BadDataPolicy, Format};
    use laminar_kafka_connector::format::{Decoder, RecordMetadata};
    let meta = RecordMetadata {
        topic: "t",
        partition: 0,
        offset: 0,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    };
    let seeds = seeds();
    let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "id",
        arrow_schema::DataType::Int64,
        false,
    )]));
    let mut json = Decoder::new(schema.clone(), Format::Json, BadDataPolicy::Fail).unwrap();
    json.decode(Some(&seeds[0].1), &meta).unwrap();
    let mut avro =
        Decoder::plain_avro(schema.clone(), fuzz::AVRO_WRITER, BadDataPolicy::Fail).unwrap();
    avro.decode(Some(&seeds[2].1), &meta).unwrap();
    assert_eq!(avro.flush().unwrap().num_rows(), 1);
    let mut protobuf = Decoder::new(schema, Format::Protobuf, BadDataPolicy::Fail).unwrap();
    protobuf.add_schema(
        &laminar_kafka_connector::schema_registry::RegisteredSchema::new(
            1,
            laminar_kafka_connector::schema_registry::SchemaType::Protobuf,
            fuzz::PROTO.to_owned(),
        ),
        &[],
    );
    protobuf.decode(Some(&seeds[4].1), &meta).unwrap();
    assert_eq!(protobuf.flush().unwrap().num_rows(), 1);
}
