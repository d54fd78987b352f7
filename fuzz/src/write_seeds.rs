//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`: valid inputs that
//! reach deep into the decoders (batches per codec, control and empty batches, responses of every
//! type the `response` target decodes, multi-frame streams) and truncated copies of them.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --bin write_seeds`.

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

fn main() {
    let root = Path::new("fuzz/corpus");
    for (target, f) in [
        ("record_batch", record_batch_seeds as fn(&Path)),
        ("response", response_seeds),
        ("frame", frame_seeds),
    ] {
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
