//! A response that announces more elements than it carries must not make the decoder reserve
//! memory for them: the reservation is bounded by the bytes left in the frame, measured in
//! memory (elements are larger in memory than on the wire), not only by the element count.

use std::alloc::System;

use bytes::{BufMut, Bytes, BytesMut};
use laminar_kafka_protocol::messages::messages::MetadataResponse;
use laminar_kafka_protocol::messages::messages::metadata_response::MetadataResponseBroker;
use laminar_kafka_protocol::messages::protocol::Decodable;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A Metadata v1 response whose broker array claims one element per byte that follows.
fn hostile_metadata_response(len: usize) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + len);
    buf.put_i32(len as i32);
    buf.put_bytes(0xff, len);
    buf.freeze()
}

#[test]
fn an_array_count_as_large_as_the_frame_reserves_no_more_memory_than_the_frame() {
    const LEN: usize = 1 << 20;
    let element = std::mem::size_of::<MetadataResponseBroker>();
    assert!(
        element > 8,
        "the case needs elements larger in memory than on the wire"
    );
    let mut frame = hostile_metadata_response(LEN);
    let region = Region::new(GLOBAL);
    let decoded = MetadataResponse::decode(&mut frame, 1);
    let allocated = region.change().bytes_allocated;
    assert!(decoded.is_err(), "the elements are malformed");
    assert!(
        allocated <= 2 * LEN,
        "decoding a {LEN}-byte body allocated {allocated} bytes \
         ({element} bytes per element in memory; unbounded it would reserve {})",
        LEN * element
    );
}
