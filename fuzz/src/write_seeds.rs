//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`: valid inputs that
//! reach deep into the decoders (batches per codec, control and empty batches, responses of every
//! type the `response` target decodes, multi-frame streams, records of every connector format)
//! and truncated and edge-case copies of them.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --bin write_seeds`,
//! optionally followed by the names of the targets to write (`-- json avro`).

use std::fs;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use laminar_kafka_protocol::frame::encode_request;
use laminar_kafka_protocol::fuzzing::RESPONSE_DECODERS;
use laminar_kafka_protocol::messages::messages::*;
use laminar_kafka_protocol::messages::protocol::{
    Encodable, HeaderVersion, Message, Request, StrBytes,
};
use laminar_kafka_protocol::record::{BatchBuilder, Compression, ControlBatch, ControlRecordType};

fn write(dir: &Path, name: &str, data: &[u8]) {
    fs::write(dir.join(name), data).expect("write seed");
}

fn batch(codec: Compression, n: usize, base_offset: i64) -> Bytes {
    let mut b = BatchBuilder::new(codec);
    b.set_base_offset(base_offset);
    for i in 0..n {
        let key = format!("k{i}");
        let value = format!("value {i} ").repeat(1 + i % 4);
        let headers: &[(&str, Option<&[u8]>)] = match i % 3 {
            0 => &[("h", Some(b"1")), ("h", None)],
            1 => &[],
            _ => &[("ключ", Some(b"v"))],
        };
        let key = (i % 4 != 0).then_some(key.as_bytes());
        let value = (i % 5 != 2).then_some(value.as_bytes());
        b.append(1_700_000_000_000 + i as i64, key, value, headers)
            .expect("append");
    }
    b.finish().expect("finish")
}

fn record_batch_seeds(dir: &Path) {
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for codec in codecs {
        let one = batch(codec, 6, 0);
        write(dir, &format!("{codec}-6"), &one);
        write(dir, &format!("{codec}-1"), &batch(codec, 1, 42));
        // Cut inside the record data: a partial batch at the end of a fetch response.
        write(dir, &format!("{codec}-cut"), &one[..one.len() * 2 / 3]);
    }
    // A fetch response's records: three batches, the last one partial.
    let mut fetch = BytesMut::new();
    fetch.extend_from_slice(&batch(Compression::None, 3, 0));
    fetch.extend_from_slice(&batch(Compression::Lz4, 3, 3));
    let last = batch(Compression::Zstd, 3, 6);
    fetch.extend_from_slice(&last[..40]);
    write(dir, "fetch-partial-tail", &fetch);
    for (name, kind) in [
        ("commit", ControlRecordType::Commit),
        ("abort", ControlRecordType::Abort),
        ("unknown-control", ControlRecordType::Unknown(2)),
    ] {
        let marker = ControlBatch {
            kind,
            offset: 10,
            producer_id: 4000,
            producer_epoch: 1,
            coordinator_epoch: 5,
            partition_leader_epoch: 0,
            timestamp: 1_700_000_000_000,
        }
        .encode()
        .expect("marker");
        write(dir, name, &marker);
    }
    // An empty batch, as compaction leaves them: count 0, last offset delta 4.
    let mut empty = batch(Compression::None, 5, 100).to_vec();
    empty.truncate(61);
    empty[8..12].copy_from_slice(&49i32.to_be_bytes());
    empty[57..61].copy_from_slice(&0i32.to_be_bytes());
    let crc = crc32c(&empty[21..]);
    empty[17..21].copy_from_slice(&crc.to_be_bytes());
    write(dir, "empty-batch", &empty);
    // Log-append time and a magic-1 message set.
    let mut lat = batch(Compression::Snappy, 4, 0).to_vec();
    lat[22] |= 0x08;
    let crc = crc32c(&lat[21..]);
    lat[17..21].copy_from_slice(&crc.to_be_bytes());
    write(dir, "log-append-time", &lat);
    let mut v1 = vec![0u8; 12];
    v1[8..12].copy_from_slice(&22i32.to_be_bytes());
    v1.extend_from_slice(&[0, 0, 0, 0, 1, 0]);
    v1.extend_from_slice(&[0; 8]);
    v1.extend_from_slice(&[0xff; 8]);
    write(dir, "magic-1", &v1);
    // Batches written by the Java client (see protocol/tests/data/README.md).
    let data = Path::new("protocol/tests/data");
    for f in [
        "java-none.bin",
        "java-gzip.bin",
        "java-lz4.bin",
        "java-txn-lz4.bin",
        "java-commit-marker.bin",
        "java-log-append-time-zstd.bin",
    ] {
        let bytes = fs::read(data.join(f)).expect("java vector (run from the repository root)");
        write(dir, f.trim_end_matches(".bin"), &bytes);
    }
}

/// CRC-32C (Castagnoli), bitwise: the seed writer needs it only a few times.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn selector(name: &str) -> u8 {
    RESPONSE_DECODERS
        .iter()
        .position(|(n, _)| *n == name)
        .expect("a decoder of that name") as u8
}

fn response_seed<R: Request>(dir: &Path, name: &str, body: &R::Response, versions: &[i16]) {
    let range = <R::Response as Message>::VERSIONS;
    for (i, &v) in versions.iter().enumerate() {
        let v = v.clamp(range.min, range.max);
        let mut out = vec![selector(name), (v - range.min) as u8];
        let mut frame = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(7)
            .encode(&mut frame, R::Response::header_version(v))
            .expect("header");
        body.encode(&mut frame, v).expect("body");
        out.extend_from_slice(&frame);
        write(dir, &format!("{name}-v{v}"), &out);
        if i == 0 && out.len() > 12 {
            write(dir, &format!("{name}-v{v}-cut"), &out[..out.len() / 2]);
        }
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn response_seeds(dir: &Path) {
    let records = {
        let mut r = BytesMut::new();
        r.extend_from_slice(&batch(Compression::None, 2, 0));
        r.extend_from_slice(&batch(Compression::Lz4, 2, 2));
        r.freeze()
    };
    let fetch = FetchResponse::default().with_responses(vec![
        fetch_response::FetchableTopicResponse::default()
            .with_topic(TopicName(s("events")))
            .with_partitions(vec![
                fetch_response::PartitionData::default()
                    .with_partition_index(3)
                    .with_high_watermark(4)
                    .with_records(Some(records)),
            ]),
    ]);
    response_seed::<FetchRequest>(dir, "Fetch", &fetch, &[4, 12, 17]);
    response_seed::<ProduceRequest>(
        dir,
        "Produce",
        &ProduceResponse::default().with_responses(vec![
            produce_response::TopicProduceResponse::default()
                .with_name(TopicName(s("events")))
                .with_partition_responses(vec![
                    produce_response::PartitionProduceResponse::default().with_base_offset(99),
                ]),
        ]),
        &[3, 9, 12],
    );
    let metadata = MetadataResponse::default()
        .with_brokers(vec![
            metadata_response::MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(s("localhost"))
                .with_port(9092),
        ])
        .with_topics(vec![
            metadata_response::MetadataResponseTopic::default()
                .with_name(Some(TopicName(s("events"))))
                .with_partitions(vec![
                    metadata_response::MetadataResponsePartition::default()
                        .with_leader_id(BrokerId(1))
                        .with_replica_nodes(vec![BrokerId(1)])
                        .with_isr_nodes(vec![BrokerId(1)]),
                ]),
        ]);
    response_seed::<MetadataRequest>(dir, "Metadata", &metadata, &[1, 9, 12]);
    let api_versions = ApiVersionsResponse::default().with_api_keys(vec![
        api_versions_response::ApiVersion::default()
            .with_api_key(0)
            .with_min_version(3)
            .with_max_version(12),
        api_versions_response::ApiVersion::default()
            .with_api_key(1)
            .with_min_version(4)
            .with_max_version(17),
    ]);
    response_seed::<ApiVersionsRequest>(dir, "ApiVersions", &api_versions, &[0, 3]);
    response_seed::<ListOffsetsRequest>(dir, "ListOffsets", &Default::default(), &[1, 9]);
    response_seed::<FindCoordinatorRequest>(dir, "FindCoordinator", &Default::default(), &[1, 4]);
    response_seed::<JoinGroupRequest>(
        dir,
        "JoinGroup",
        &JoinGroupResponse::default()
            .with_member_id(s("m-1"))
            .with_protocol_name(Some(s("range"))),
        &[2, 9],
    );
    response_seed::<SyncGroupRequest>(
        dir,
        "SyncGroup",
        &SyncGroupResponse::default().with_assignment(Bytes::from_static(b"\x00\x03ab")),
        &[0, 5],
    );
    response_seed::<SaslAuthenticateRequest>(
        dir,
        "SaslAuthenticate",
        &SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from_static(b"v=abc")),
        &[0, 2],
    );
    response_seed::<InitProducerIdRequest>(
        dir,
        "InitProducerId",
        &InitProducerIdResponse::default()
            .with_producer_id(ProducerId(4000))
            .with_producer_epoch(1),
        &[0, 5],
    );
    response_seed::<HeartbeatRequest>(dir, "Heartbeat", &Default::default(), &[0, 4]);
    response_seed::<OffsetCommitRequest>(dir, "OffsetCommit", &Default::default(), &[2, 9]);
    response_seed::<OffsetFetchRequest>(dir, "OffsetFetch", &Default::default(), &[1, 9]);
    response_seed::<LeaveGroupRequest>(dir, "LeaveGroup", &Default::default(), &[0, 5]);
    response_seed::<SaslHandshakeRequest>(dir, "SaslHandshake", &Default::default(), &[1]);
    response_seed::<EndTxnRequest>(dir, "EndTxn", &Default::default(), &[0, 5]);
    response_seed::<AddPartitionsToTxnRequest>(
        dir,
        "AddPartitionsToTxn",
        &Default::default(),
        &[0, 4],
    );
    response_seed::<CreateTopicsRequest>(dir, "CreateTopics", &Default::default(), &[2, 7]);
    response_seed::<DescribeConfigsRequest>(dir, "DescribeConfigs", &Default::default(), &[1, 4]);
    response_seed::<OffsetForLeaderEpochRequest>(
        dir,
        "OffsetForLeaderEpoch",
        &Default::default(),
        &[2, 4],
    );
    response_seed::<ConsumerGroupHeartbeatRequest>(
        dir,
        "ConsumerGroupHeartbeat",
        &Default::default(),
        &[0, 1],
    );
}

fn frame_seeds(dir: &Path) {
    let mut stream = BytesMut::new();
    encode_request(
        &mut stream,
        1,
        Some("laminar"),
        3,
        &ApiVersionsRequest::default(),
    )
    .expect("req");
    encode_request(&mut stream, 2, None, 12, &MetadataRequest::default()).expect("req");
    encode_request(&mut stream, 3, Some("c"), 4, &HeartbeatRequest::default()).expect("req");
    for seed in [0u8, 7, 200] {
        let mut out = vec![seed];
        out.extend_from_slice(&stream);
        write(dir, &format!("three-frames-{seed}"), &out);
    }
    let mut cut = vec![1u8];
    cut.extend_from_slice(&stream[..stream.len() - 5]);
    write(dir, "cut-stream", &cut);
    write(
        dir,
        "oversized-prefix",
        &[3, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3],
    );
    write(dir, "negative-prefix", &[3, 0xff, 0xff, 0xff, 0xfe, 0, 0]);
    write(
        dir,
        "empty-frames",
        &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4],
    );
}

// ---- The connector's payload decoders (`laminar_kafka_connector::fuzz`). Seeds named
// `valid-*` are whole records that decode to a row of the fuzz table (the connector's
// `tests/fuzz_corpus.rs` checks that); the others are edge cases.

/// An Avro `long`/`int` (zig-zag varint), or a Protobuf message-index entry.
fn zigzag(out: &mut Vec<u8>, v: i64) {
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// A Protobuf varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A Protobuf length-delimited field.
fn pb_len(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A Protobuf varint field.
fn pb_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

/// A Confluent-framed payload: magic byte 0, the schema id, then `body`.
fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

const JSON_FULL: &str = r#"{"id": 1, "small": 2, "flag": true, "name": "n", "score": 1.5, "price": "1.25",
    "wide": 3, "day": "2024-01-01", "at": "10:00:00", "ts": 5, "blob": "AAE=", "doc": {"a": [1]}}"#;

fn json_seeds(dir: &Path) {
    write(dir, "valid-full", JSON_FULL.as_bytes());
    write(dir, "valid-minimal", br#"{"id": 1}"#);
    write(
        dir,
        "valid-nulls",
        br#"{"id": 2, "small": null, "flag": null, "name": null, "score": null, "price": null,
    "wide": null, "day": null, "at": null, "ts": null, "blob": null, "doc": null, "extra": [1, {}]}"#,
    );
    write(
        dir,
        "big-numbers",
        br#"{"id": 9223372036854775807, "small": -32768, "score": -1.7976931348623157e308,
    "price": "-99999999.99", "wide": "123456789012345678901234567890123456789012345.12345",
    "ts": -62135596800000, "day": -719162, "extra": 18446744073709551616}"#,
    );
    write(
        dir,
        "bad-values",
        br#"{"id": "1", "small": 32768, "flag": "yes", "price": "1.234", "wide": 1e400,
    "day": "2024-02-30", "at": "24:00:00.0000000001", "ts": "2024-13-01T00:00:00Z", "blob": "no base64!"}"#,
    );
    write(
        dir,
        "nested-doc",
        br#"{"id": 3, "doc": {"a": [{"b": [[[[{"c": null}]]]]}, "\u00e9\ud83d\ude00", 1e-7, -0, true],
    "": {}}, "name": "tab\there \"quoted\" \\ \u0000", "id": 4}"#,
    );
    let mut deep = br#"{"id": 1, "doc": "#.to_vec();
    deep.extend_from_slice(&[b'['; 200]);
    deep.extend_from_slice(&[b']'; 200]);
    deep.push(b'}');
    write(dir, "deep-doc", &deep);
    write(
        dir,
        "truncated",
        &JSON_FULL.as_bytes()[..JSON_FULL.len() / 2],
    );
    write(dir, "not-an-object", br#"[{"id": 1}, 2, "three"]"#);
    write(
        dir,
        "lone-surrogates-and-trailing",
        br#"{"id": 1, "name": "\udc00", "doc": "\ud800", "id": 2} {"id": 3}"#,
    );
}

const DEBEZIUM_UPDATE: &str = r#"{"schema": {"fields": [{"field": "after", "fields": [{"field": "ts", "name": "io.debezium.time.MicroTimestamp"}]}]},
    "payload": {"before": {"id": 1}, "after": {"id": 1, "ts": 7}, "op": "u"}}"#;

fn debezium_json_seeds(dir: &Path) {
    write(dir, "valid-update", DEBEZIUM_UPDATE.as_bytes());
    write(
        dir,
        "valid-create-schemaless",
        br#"{"before": null, "after": {"id": 1, "name": "a", "price": "1.25", "doc": {"x": [1]}},
    "op": "c", "source": {"db": "d", "table": "t"}, "ts_ms": 1700000000000}"#,
    );
    write(
        dir,
        "valid-delete",
        br#"{"schema": null, "payload": {"before": {"id": 5, "blob": "AAE="}, "after": null, "op": "d"}}"#,
    );
    write(
        dir,
        "valid-semantic-types",
        br#"{"schema": {"type": "struct", "fields": [{"field": "before", "fields": []}, {"field": "after", "fields": [
    {"field": "day", "type": "int32", "name": "io.debezium.time.Date"},
    {"field": "at", "type": "int64", "name": "io.debezium.time.MicroTime"},
    {"field": "ts", "type": "int64", "name": "io.debezium.time.NanoTimestamp"},
    {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}},
    {"field": "wide", "type": "struct", "name": "io.debezium.data.VariableScaleDecimal"},
    {"field": "small", "type": "int32", "name": "org.apache.kafka.connect.data.Time"}]}]},
    "payload": {"before": null, "after": {"id": 7, "day": 19723, "at": 36000000000,
    "ts": 1700000000000000000, "price": "BNI=", "wide": {"scale": 5, "value": "AYag"}, "small": null},
    "op": "r"}}"#,
    );
    write(
        dir,
        "semantic-overflow",
        br#"{"schema": {"fields": [{"field": "after", "fields": [
    {"field": "day", "name": "io.debezium.time.Date"},
    {"field": "ts", "name": "io.debezium.time.Timestamp"},
    {"field": "price", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "-129"}},
    {"field": "wide", "name": "io.debezium.data.VariableScaleDecimal"}]}]},
    "payload": {"after": {"id": 1, "day": 9999999999, "ts": 9223372036854775807, "price": "////",
    "wide": {"scale": 127, "value": "/////////////////////////////////////////////w=="}}, "op": "c"}}"#,
    );
    write(
        dir,
        "delete-without-before",
        br#"{"before": null, "after": null, "op": "d"}"#,
    );
    // A truncate: images and all, it makes no row.
    write(
        dir,
        "truncate-op",
        br#"{"op": "t", "before": {"id": 1}, "after": {"id": 2}, "source": null}"#,
    );
    write(
        dir,
        "truncated",
        &DEBEZIUM_UPDATE.as_bytes()[..DEBEZIUM_UPDATE.len() / 2],
    );
    write(
        dir,
        "not-an-envelope",
        br#"{"schema": 7, "payload": [1, 2], "before": "x", "after": {"id": {"nested": true}}, "op": 1}"#,
    );
}

/// The fields of a record of the fuzz writer schema before `doc`: id, small, flag, name,
/// score, price, wide, day, at, ts, blob.
fn avro_head(id: i64) -> Vec<u8> {
    let mut r = Vec::new();
    zigzag(&mut r, id);
    r.extend_from_slice(&[0x00, 0x01, 0x00]); // small null, flag true, name A
    r.extend_from_slice(&0f32.to_le_bytes()); // score
    r.push(0x00); // price: no bytes
    r.extend_from_slice(&[0; 20]); // wide
    r.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // day, at, ts, blob
    r
}

/// A record with every field set, `doc` holding a null, a string and a nested record.
fn avro_full() -> Vec<u8> {
    let mut r = Vec::new();
    zigzag(&mut r, 3); // id
    r.push(0x02); // small: the int branch
    zigzag(&mut r, -5);
    r.push(0x01); // flag
    r.push(0x02); // name: B
    r.extend_from_slice(&1.5f32.to_le_bytes());
    r.extend_from_slice(&[0x04, 0x04, 0xd2]); // price: 12.34
    let mut wide = [0u8; 20];
    wide[17..].copy_from_slice(&[0x01, 0x86, 0xa0]); // 1.00000
    r.extend_from_slice(&wide);
    zigzag(&mut r, 19_723); // day: 2024-01-01
    zigzag(&mut r, 36_000_000_000); // at: 10:00
    zigzag(&mut r, 1_700_000_000_000_000); // ts
    r.extend_from_slice(&[0x04, 0x00, 0x01]); // blob
    // doc: {"a": [null, "x", {id: 4, …}]}
    r.extend_from_slice(&[0x02, 0x02, b'a', 0x06, 0x00, 0x02, 0x02, b'x', 0x04]);
    r.extend_from_slice(&avro_head(4));
    r.push(0x00); // the nested record's empty doc
    r.extend_from_slice(&[0x00, 0x00]); // end of the array, end of the map
    r
}

fn avro_seeds(dir: &Path) {
    let mut minimal = avro_head(1);
    minimal.push(0x00);
    write(dir, "valid-plain", &minimal);
    write(dir, "valid-framed", &framed(1, &minimal));
    let full = avro_full();
    write(dir, "valid-full", &full);
    let full_framed = framed(1, &full);
    write(
        dir,
        "truncated-full-framed",
        &full_framed[..full_framed.len() * 2 / 3],
    );
    write(dir, "framed-unknown-id", &framed(0x7fff_ffff, &minimal));
    let mut wrong_magic = framed(1, &minimal);
    wrong_magic[0] = 1;
    write(dir, "wrong-magic", &wrong_magic);
    // `price` declares i64::MAX bytes.
    let mut huge = Vec::new();
    zigzag(&mut huge, 1);
    huge.extend_from_slice(&[0x00, 0x01, 0x00, 0, 0, 0, 0]);
    zigzag(&mut huge, i64::MAX);
    huge.extend_from_slice(&[1, 2, 3]);
    write(dir, "huge-bytes-length", &huge);
    // `doc`: a block of -1 entries with a byte size, then a block of i64::MAX entries.
    let mut blocks = avro_head(1);
    zigzag(&mut blocks, -1);
    zigzag(&mut blocks, 5);
    blocks.extend_from_slice(&[0x02, b'k', 0x00]); // "k": []
    zigzag(&mut blocks, i64::MAX);
    blocks.extend_from_slice(&[0x02, b'k', 0x00]);
    write(dir, "huge-block-counts", &blocks);
    // `id` as a varint of eleven bytes.
    let mut overlong = vec![0xff; 10];
    overlong.push(0x01);
    overlong.extend_from_slice(&minimal[1..]);
    write(dir, "overlong-varint", &overlong);
    // Records nested in `doc` deeper than the decoder follows.
    let mut deep = Vec::new();
    for _ in 0..20 {
        deep.extend_from_slice(&avro_head(1));
        deep.extend_from_slice(&[0x02, 0x02, b'd', 0x02, 0x04]); // {"d": [<record>
    }
    deep.extend_from_slice(&minimal);
    for _ in 0..20 {
        deep.extend_from_slice(&[0x00, 0x00]); // ]}
    }
    write(dir, "deep-nesting", &deep);
}

/// A message `F` of the fuzz `.proto` with `id`, `small` and the string fields the table reads
/// as numbers and times (proto3 would give them as empty strings), `doc` holding `nested`.
fn pb_message(id: u64, nested: Option<&[u8]>) -> Vec<u8> {
    let mut m = Vec::new();
    pb_varint(&mut m, 1, id);
    pb_varint(&mut m, 2, 2);
    pb_len(&mut m, 6, b"0");
    pb_len(&mut m, 7, b"0");
    pb_len(&mut m, 9, b"00:00:00");
    if let Some(nested) = nested {
        pb_len(&mut m, 12, nested);
    }
    m
}

fn protobuf_full() -> Vec<u8> {
    let mut m = Vec::new();
    pb_varint(&mut m, 1, 3); // id
    pb_varint(&mut m, 2, (-5i64) as u64); // small
    pb_varint(&mut m, 3, 1); // flag
    pb_varint(&mut m, 4, 1); // name: B
    m.push((5 << 3) | 1); // score (double)
    m.extend_from_slice(&1.5f64.to_le_bytes());
    pb_len(&mut m, 6, b"12.34"); // price
    pb_len(&mut m, 7, b"1.00000"); // wide
    pb_varint(&mut m, 8, 19_723); // day: 2024-01-01
    pb_len(&mut m, 9, b"10:00:00"); // at
    let mut ts = Vec::new();
    pb_varint(&mut ts, 1, 1_700_000_000);
    pb_varint(&mut ts, 2, 500_000_000);
    pb_len(&mut m, 10, &ts);
    pb_len(&mut m, 11, &[0, 1]); // blob
    pb_len(&mut m, 12, &pb_message(4, None)); // doc
    pb_len(&mut m, 12, &pb_message(5, None));
    let mut entry = Vec::new();
    pb_len(&mut entry, 1, b"k");
    pb_len(&mut entry, 2, &pb_message(6, None));
    pb_len(&mut m, 13, &entry); // more: {"k": …}
    m
}

fn protobuf_seeds(dir: &Path) {
    // Message index path [0] as its one-byte shorthand, then the message.
    let with_path = |path: &[i64], body: &[u8]| {
        let mut out = Vec::new();
        if path == [0] {
            out.push(0);
        } else {
            zigzag(&mut out, path.len() as i64);
            for &i in path {
                zigzag(&mut out, i);
            }
        }
        out.extend_from_slice(body);
        out
    };
    let minimal = with_path(&[0], &pb_message(1, Some(&pb_message(2, None))));
    write(dir, "valid-minimal", &framed(1, &minimal));
    let full = framed(1, &with_path(&[0], &protobuf_full()));
    write(dir, "valid-full", &full);
    write(dir, "truncated-full", &full[..full.len() * 2 / 3]);
    // Path [0] written out: a count of 1, then index 0.
    let mut explicit = vec![0x02, 0x00];
    explicit.extend_from_slice(&pb_message(1, None));
    write(dir, "valid-explicit-index-path", &framed(1, &explicit));
    // [0, 0]: the map entry message nested in F.
    let mut entry = Vec::new();
    pb_len(&mut entry, 1, b"k");
    pb_len(&mut entry, 2, &pb_message(1, None));
    write(
        dir,
        "map-entry-index-path",
        &framed(1, &with_path(&[0, 0], &entry)),
    );
    write(
        dir,
        "index-out-of-range",
        &framed(1, &with_path(&[7], &pb_message(1, None))),
    );
    write(dir, "unknown-schema-id", &framed(2, &minimal));
    // `blob` declares u64::MAX bytes; the index path declares 2^31 entries.
    let mut huge = pb_message(1, None);
    varint(&mut huge, (11 << 3) | 2);
    varint(&mut huge, u64::MAX);
    huge.extend_from_slice(&[1, 2, 3]);
    write(dir, "huge-length", &framed(1, &with_path(&[0], &huge)));
    let mut count = Vec::new();
    zigzag(&mut count, 1 << 31);
    count.push(0);
    write(dir, "huge-index-count", &framed(1, &count));
    // Unknown fields of every wire type, a group among them, and a field number 0.
    let mut unknown = pb_message(1, None);
    pb_varint(&mut unknown, 99, u64::MAX);
    varint(&mut unknown, (100 << 3) | 1);
    unknown.extend_from_slice(&[0xff; 8]);
    varint(&mut unknown, (101 << 3) | 3); // start group
    pb_varint(&mut unknown, 1, 1);
    varint(&mut unknown, (101 << 3) | 4); // end group
    varint(&mut unknown, (102 << 3) | 5);
    unknown.extend_from_slice(&[0xff; 4]);
    pb_varint(&mut unknown, 0, 1);
    write(
        dir,
        "unknown-fields",
        &framed(1, &with_path(&[0], &unknown)),
    );
    // `doc` nested 70 levels: past the decoder's JSON depth limit, within prost's.
    let mut deep = pb_message(1, None);
    for i in 0..70 {
        deep = pb_message(i, Some(&deep));
    }
    write(dir, "deep-nesting", &framed(1, &with_path(&[0], &deep)));
}

fn raw_seeds(dir: &Path) {
    write(dir, "text", b"text");
    write(dir, "empty", b"");
    write(dir, "not-utf8", &[0xff, 0xfe, b'a', 0x00, 0xc3]);
    write(dir, "bom-nul-emoji", "\u{feff}ключ\0🙂\r\n".as_bytes());
}

fn avro_schema_seeds(dir: &Path) {
    let writer = laminar_kafka_connector::fuzz::AVRO_WRITER;
    write(dir, "writer", writer.as_bytes());
    write(
        dir,
        "truncated-writer",
        &writer.as_bytes()[..writer.len() / 2],
    );
    write(
        dir,
        "minimal-record",
        br#"{"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}"#,
    );
    write(dir, "primitive", br#""long""#);
    write(
        dir,
        "recursive",
        br#"{"type": "record", "name": "N", "namespace": "a.b", "fields": [{"name": "id", "type": "long"},
    {"name": "next", "type": ["null", "N"]}, {"name": "doc", "type": {"type": "map", "values": "a.b.N"}}]}"#,
    );
    write(
        dir,
        "unknown-reference",
        br#"{"type": "record", "name": "R", "fields": [{"name": "id", "type": "Missing"}]}"#,
    );
    write(
        dir,
        "odd-logical-types",
        br#"{"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 0, "scale": 5}},
    {"name": "wide", "type": {"type": "fixed", "name": "W", "size": 9223372036854775807, "logicalType": "decimal", "precision": 100, "scale": -1}},
    {"name": "ts", "type": {"type": "int", "logicalType": "timestamp-nanos"}},
    {"name": "day", "type": {"type": "string", "logicalType": "date"}}]}"#,
    );
    write(
        dir,
        "duplicates",
        br#"{"type": "record", "name": "R", "aliases": ["R"], "fields": [{"name": "id", "type": "long"},
    {"name": "id", "type": "int"}, {"name": "name", "type": {"type": "enum", "name": "E", "symbols": ["A", "A"]}},
    {"name": "small", "type": ["null", "null", "int"]}, {"name": "flag", "type": [["int"], "boolean"], "default": 7}]}"#,
    );
    let mut deep =
        br#"{"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}, {"name": "doc", "type": "#
            .to_vec();
    for _ in 0..40 {
        deep.extend_from_slice(br#"{"type": "array", "items": "#);
    }
    deep.extend_from_slice(br#""long""#);
    deep.extend_from_slice(&[b'}'; 40]);
    deep.extend_from_slice(b"}]}");
    write(dir, "deep-arrays", &deep);
    write(dir, "not-utf8", b"\xff{\"type\": \"long\"}");
}

fn main() {
    // With arguments, only the targets they name.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new("fuzz/corpus");
    for (target, f) in [
        ("record_batch", record_batch_seeds as fn(&Path)),
        ("response", response_seeds),
        ("frame", frame_seeds),
        ("json", json_seeds),
        ("debezium_json", debezium_json_seeds),
        ("avro", avro_seeds),
        ("protobuf", protobuf_seeds),
        ("raw", raw_seeds),
        ("avro_schema", avro_schema_seeds),
    ] {
        if !only.is_empty() && !only.iter().any(|t| t == target) {
            continue;
        }
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("corpus dir");
        f(&dir);
        println!(
            "{}: {} files",
            dir.display(),
            fs::read_dir(&dir).expect("dir").count()
        );
    }
}
