//! Fuzz target bodies, one function per target in `fuzz/fuzz_targets/`.
//!
//! They live here, not in the fuzz crate, so that the checked-in corpora also run as ordinary
//! tests (`tests/fuzz_corpus.rs`) on stable Rust. Each takes arbitrary bytes and must neither
//! panic nor allocate without bound; where a cheap oracle exists (re-encoding a decoded batch)
//! it asserts it. Not part of the public API.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Message, Request};

use crate::frame::{FrameDecoder, decode_response, response_correlation_id};
use crate::record::{
    BatchBuilder, ControlRecord, DecodeOptions, RecordBatch, TimestampType, batches,
};

/// The decompression limit the record-batch target decodes with.
pub const FUZZ_MAX_DECOMPRESSED: usize = 1 << 20;

/// `frame`: the first byte seeds the read sizes; the rest is a byte stream fed to a
/// [`FrameDecoder`] in pieces of those sizes. Frames must come out whole, in order, and never
/// larger than the maximum.
pub fn frame(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let decoder = FrameDecoder::new(4096);
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut consumed = 0usize;
    let mut state = u32::from(seed) | 1;
    while fed < stream.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = 1 + (state >> 16) as usize % 64;
        let end = (fed + n).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= decoder.max_frame_size());
                    let start = consumed + 4;
                    assert_eq!(&frame[..], &stream[start..start + frame.len()]);
                    consumed = start + frame.len();
                    let _ = response_correlation_id(&frame);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

type ResponseDecoder = fn(Bytes, u8) -> bool;

fn decode_as<R: Request>(frame: Bytes, version_byte: u8) -> bool {
    let range = <R::Response as Message>::VERSIONS;
    let span = (range.max - range.min + 1).max(1);
    let version = range.min + i16::from(version_byte) % span;
    decode_response::<R>(frame, version).is_ok()
}

/// The responses the `response` target picks from, by its first byte.
pub const RESPONSE_DECODERS: &[(&str, ResponseDecoder)] = &[
    ("Fetch", decode_as::<FetchRequest>),
    ("Produce", decode_as::<ProduceRequest>),
    ("Metadata", decode_as::<MetadataRequest>),
    ("ApiVersions", decode_as::<ApiVersionsRequest>),
    ("ListOffsets", decode_as::<ListOffsetsRequest>),
    ("FindCoordinator", decode_as::<FindCoordinatorRequest>),
    ("JoinGroup", decode_as::<JoinGroupRequest>),
    ("SyncGroup", decode_as::<SyncGroupRequest>),
    ("SaslAuthenticate", decode_as::<SaslAuthenticateRequest>),
    ("InitProducerId", decode_as::<InitProducerIdRequest>),
    ("Heartbeat", decode_as::<HeartbeatRequest>),
    ("OffsetCommit", decode_as::<OffsetCommitRequest>),
    ("OffsetFetch", decode_as::<OffsetFetchRequest>),
    ("LeaveGroup", decode_as::<LeaveGroupRequest>),
    ("SaslHandshake", decode_as::<SaslHandshakeRequest>),
    ("EndTxn", decode_as::<EndTxnRequest>),
    ("AddPartitionsToTxn", decode_as::<AddPartitionsToTxnRequest>),
    ("CreateTopics", decode_as::<CreateTopicsRequest>),
    ("DescribeConfigs", decode_as::<DescribeConfigsRequest>),
    (
        "OffsetForLeaderEpoch",
        decode_as::<OffsetForLeaderEpochRequest>,
    ),
    (
        "ConsumerGroupHeartbeat",
        decode_as::<ConsumerGroupHeartbeatRequest>,
    ),
];

/// `response`: byte 0 picks the response type, byte 1 the version (within the type's range),
/// the rest is the frame after its size prefix. Returns whether the frame decoded.
pub fn response(data: &[u8]) -> bool {
    let [which, version, frame @ ..] = data else {
        return false;
    };
    let (_, decode) = RESPONSE_DECODERS[usize::from(*which) % RESPONSE_DECODERS.len()];
    decode(Bytes::copy_from_slice(frame), *version)
}

/// `record_batch`: the bytes as a fetch response's `records` field. Every batch is framed,
/// decompressed (limit [`FUZZ_MAX_DECOMPRESSED`]) and every record, header and control record
/// visited, first without and then with CRC checks. A batch that decodes completely must survive
/// a round trip through the builder with the same records.
pub fn record_batch(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let opts = DecodeOptions::default().with_max_decompressed_size(FUZZ_MAX_DECOMPRESSED);
    for verify_crc in [false, true] {
        let opts = opts.with_verify_crc(verify_crc);
        let mut it = batches(bytes.clone(), opts);
        for batch in it.by_ref() {
            let Ok(batch) = batch else { break };
            visit(&batch);
        }
        assert!(it.position() + it.partial_tail() <= bytes.len());
        let _ = RecordBatch::decode(bytes.clone(), &opts);
    }
}

fn visit(batch: &RecordBatch) {
    let _ = (
        batch.next_offset(),
        batch.delete_horizon_ms(),
        batch.timestamp_type(),
    );
    let Ok(records) = batch.records() else {
        return;
    };
    let mut complete = true;
    let mut rebuilt = BatchBuilder::new(batch.compression());
    let mut headers: Vec<(&str, Option<&[u8]>)> = Vec::new();
    let mut count = 0usize;
    for record in records.iter() {
        let Ok(r) = record else {
            complete = false;
            break;
        };
        count += 1;
        assert_eq!(r.key_bytes().as_deref(), r.key());
        assert_eq!(r.value_bytes().as_deref(), r.value());
        if batch.is_control() {
            let _ = ControlRecord::parse(&r);
        }
        headers.clear();
        for h in r.headers() {
            assert_eq!(h.value_bytes().as_deref(), h.value());
            match h.key_str() {
                Ok(k) => headers.push((k, h.value())),
                Err(_) => complete = false,
            }
        }
        assert_eq!(r.headers().len(), r.header_count());
        if complete
            && rebuilt
                .append(r.timestamp(), r.key(), r.value(), &headers)
                .is_err()
        {
            complete = false;
        }
    }
    // Round trip, for create-time batches (under log-append time every record reads the max
    // timestamp, which the builder would not reproduce).
    if !complete || count == 0 || batch.timestamp_type() != TimestampType::CreateTime {
        return;
    }
    let Ok(again) = rebuilt.finish() else {
        return;
    };
    let again = RecordBatch::decode(
        again,
        &DecodeOptions::default().with_max_decompressed_size(usize::MAX),
    )
    .expect("a rebuilt batch decodes");
    let again_records = again.records().expect("a rebuilt batch decompresses");
    let mut a = records.iter();
    for b in again_records.iter() {
        let b = b.expect("rebuilt records decode");
        let Some(Ok(a)) = a.next() else {
            panic!("rebuilt batch has more records");
        };
        assert_eq!(a.timestamp(), b.timestamp());
        assert_eq!(a.key(), b.key());
        assert_eq!(a.value(), b.value());
        assert!(
            a.headers()
                .map(|h| (h.key(), h.value()))
                .eq(b.headers().map(|h| (h.key(), h.value())))
        );
    }
    assert!(a.next().is_none(), "rebuilt batch has fewer records");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_empty_and_tiny_inputs() {
        for data in [&b""[..], b"\x00", b"\x00\x00", &[0xff; 70]] {
            frame(data);
            response(data);
            record_batch(data);
        }
    }

    #[test]
    fn every_response_type_is_reachable_by_the_selector_byte() {
        assert!(RESPONSE_DECODERS.len() >= 10);
        assert!(RESPONSE_DECODERS.len() <= 256);
        let names: std::collections::HashSet<_> =
            RESPONSE_DECODERS.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), RESPONSE_DECODERS.len());
    }
}
