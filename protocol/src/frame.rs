//! Framing: the size prefix, request and response headers, and correlation ids.
//!
//! Every Kafka message travels as a frame: a big-endian `i32` size followed by that many bytes.
//! A request frame holds a request header (v1, or v2 for flexible versions) and the body; a
//! response frame holds a response header (v0, or v1 with tagged fields for flexible versions —
//! except ApiVersions, whose response header is always v0) and the body.
//!
//! This module owns the bytes of a frame and nothing else: it does not read sockets, and it does
//! not know which request a correlation id belongs to (the connection does).
//!
//! ```
//! use bytes::BytesMut;
//! use laminar_kafka_protocol::frame::{FrameDecoder, encode_request};
//! use laminar_kafka_protocol::messages::messages::ApiVersionsRequest;
//!
//! let mut wire = BytesMut::new();
//! encode_request(&mut wire, 7, Some("doc-client"), 3, &ApiVersionsRequest::default())?;
//! let frame = FrameDecoder::new(1 << 20).decode(&mut wire)?.expect("a whole frame");
//! assert_eq!(&frame[..2], &18i16.to_be_bytes()); // api key of ApiVersions
//! # Ok::<(), laminar_kafka_protocol::Error>(())
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::error::{Error, Result};

/// Size of the length prefix in front of every frame.
pub const SIZE_PREFIX_LEN: usize = 4;

/// The default largest frame accepted: 100 MiB, the broker's `socket.request.max.bytes` default.
/// A fetch response is bounded by `fetch.max.bytes` (50 MiB by default) plus overhead, so this
/// leaves room while still refusing a hostile size prefix before allocating for it.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Splits a byte stream into frames, refusing any frame larger than a configured maximum before
/// reserving memory for it.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame_size: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// A decoder that accepts frames of at most `max_frame_size` bytes (excluding the prefix).
    pub fn new(max_frame_size: usize) -> Self {
        Self { max_frame_size }
    }

    /// The largest frame this decoder accepts.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Reads the size prefix at the start of `buf`, if it is there, and checks it.
    ///
    /// Returns `Ok(None)` when fewer than four bytes are buffered. A caller that reads from a
    /// socket can use the size to reserve exactly what the frame needs.
    pub fn peek_size(&self, buf: &[u8]) -> Result<Option<usize>> {
        let Some(prefix) = buf.get(..SIZE_PREFIX_LEN) else {
            return Ok(None);
        };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if size < 0 {
            return Err(Error::NegativeFrameSize { size });
        }
        let size = size as usize;
        if size > self.max_frame_size {
            return Err(Error::FrameTooLarge {
                size,
                max: self.max_frame_size,
            });
        }
        Ok(Some(size))
    }

    /// Takes one whole frame (without its prefix) off the front of `buf`.
    ///
    /// Returns `Ok(None)` while the frame is incomplete; in that case `buf` is left untouched
    /// but has been reserved room for the rest of the frame (never more than the maximum).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>> {
        let Some(size) = self.peek_size(buf)? else {
            return Ok(None);
        };
        let total = SIZE_PREFIX_LEN + size;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(SIZE_PREFIX_LEN);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(k) => api_key_name(k),
        Err(()) => "unknown API",
    }
}

/// The human name of an API key, as Kafka's documentation spells it (`Produce`, `Fetch`, ...).
pub fn api_key_name(key: ApiKey) -> &'static str {
    macro_rules! names {
        ($($v:ident),* $(,)?) => {
            match key {
                $(ApiKey::$v => stringify!($v),)*
                #[allow(unreachable_patterns)]
                _ => "unnamed API",
            }
        };
    }
    names!(
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        OffsetCommit,
        OffsetFetch,
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        DescribeGroups,
        ListGroups,
        SaslHandshake,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        DeleteRecords,
        InitProducerId,
        OffsetForLeaderEpoch,
        AddPartitionsToTxn,
        AddOffsetsToTxn,
        EndTxn,
        TxnOffsetCommit,
        DescribeConfigs,
        AlterConfigs,
        DescribeLogDirs,
        SaslAuthenticate,
        CreatePartitions,
        DeleteGroups,
        IncrementalAlterConfigs,
        OffsetDelete,
        DescribeCluster,
        DescribeProducers,
        DescribeTransactions,
        ListTransactions,
        ConsumerGroupHeartbeat,
        ConsumerGroupDescribe,
        GetTelemetrySubscriptions,
        PushTelemetry,
    )
}

/// Whether the first bytes a server sent look like a TLS record header rather than a Kafka size
/// prefix: content type alert (0x15) or handshake (0x16), then protocol version 3.x (SSL 3.0 to
/// TLS 1.3 all put 0x03 first). A plaintext client that reached a TLS listener reads such a
/// header as a frame of hundreds of megabytes (0x15030300 is 352518912); this tells it why.
///
/// ```
/// use laminar_kafka_protocol::frame::looks_like_tls_record;
/// assert!(looks_like_tls_record(&[0x15, 0x03, 0x03, 0x00]));
/// assert!(!looks_like_tls_record(&[0x00, 0x00, 0x01, 0x00]));
/// ```
pub fn looks_like_tls_record(prefix: &[u8]) -> bool {
    matches!(prefix, [0x15 | 0x16, 0x03, minor, ..] if *minor <= 0x04)
}

/// Encodes a request frame — size prefix, header and body — onto the end of `dst`.
///
/// The header version (v1, or v2 with tagged fields) follows from `R` and `version`. The size
/// prefix is computed from the encoded bytes, so what is written is always self-consistent.
pub fn encode_request<R: Request>(
    dst: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    request: &R,
) -> Result<()> {
    let api = api_name(R::KEY);
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| StrBytes::from_string(c.to_owned())));
    let header_version = R::header_version(version);
    let encode_err = |e: anyhow::Error| Error::Encode {
        api,
        version,
        reason: e.to_string(),
    };
    let start = dst.len();
    dst.put_i32(0);
    header.encode(dst, header_version).map_err(encode_err)?;
    request.encode(dst, version).map_err(encode_err)?;
    let size = dst.len() - start - SIZE_PREFIX_LEN;
    let size = i32::try_from(size).map_err(|_| Error::Encode {
        api,
        version,
        reason: format!("request of {size} bytes exceeds the protocol's 2 GiB frame limit"),
    })?;
    dst[start..start + SIZE_PREFIX_LEN].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Reads the correlation id at the start of a response frame (every response header begins
/// with it), so that a connection can route the frame before decoding its body.
pub fn response_correlation_id(frame: &[u8]) -> Result<i32> {
    match frame.get(..4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::ShortFrame {
            what: "response header",
            len: frame.len(),
        }),
    }
}

/// Decodes a response frame (without its size prefix) for request type `R` sent at `version`,
/// returning the correlation id from its header and the body.
///
/// The body must use the frame exactly: trailing bytes are an error, since they mean the frame
/// was decoded at the wrong version or with the wrong schema.
pub fn decode_response<R: Request>(mut frame: Bytes, version: i16) -> Result<(i32, R::Response)> {
    let api = api_name(R::KEY);
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let decode_err = |e: anyhow::Error| Error::Decode {
        api,
        version,
        reason: e.to_string(),
    };
    if frame.len() < 4 {
        return Err(Error::ShortFrame {
            what: "response header",
            len: frame.len(),
        });
    }
    let header = ResponseHeader::decode(&mut frame, header_version).map_err(decode_err)?;
    let body = R::Response::decode(&mut frame, version).map_err(decode_err)?;
    if frame.has_remaining() {
        return Err(Error::Decode {
            api,
            version,
            reason: format!("{} bytes left over after the body", frame.remaining()),
        });
    }
    Ok((header.correlation_id, body))
}

/// Decodes a response and checks that its correlation id is the expected one.
pub fn decode_response_for<R: Request>(
    frame: Bytes,
    version: i16,
    expected_correlation_id: i32,
) -> Result<R::Response> {
    let (got, body) = decode_response::<R>(frame, version)?;
    if got != expected_correlation_id {
        return Err(Error::CorrelationMismatch {
            expected: expected_correlation_id,
            got,
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{
        ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    };

    fn response_frame<Resp: Encodable + HeaderVersion>(
        correlation_id: i32,
        version: i16,
        body: &Resp,
    ) -> Bytes {
        let mut buf = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut buf, Resp::header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn request_header_is_v1_below_flexible_versions_and_v2_from_them() {
        // Metadata became flexible at v9: v8 has a plain header, v9 a tagged-field byte more.
        let mut v8 = BytesMut::new();
        encode_request(&mut v8, 1, Some("c"), 8, &MetadataRequest::default()).unwrap();
        let mut v9 = BytesMut::new();
        encode_request(&mut v9, 1, Some("c"), 9, &MetadataRequest::default()).unwrap();
        // header v1: key(2) version(2) correlation(4) client id(2+1) = 11 bytes
        assert_eq!(&v8[4..6], &3i16.to_be_bytes());
        assert_eq!(&v8[6..8], &8i16.to_be_bytes());
        assert_eq!(&v8[8..12], &1i32.to_be_bytes());
        assert_eq!(&v8[12..15], &[0, 1, b'c']);
        // header v2 ends with an empty tagged-field section right after the client id.
        assert_eq!(&v9[12..16], &[0, 1, b'c', 0]);
        let size = i32::from_be_bytes(v9[..4].try_into().unwrap()) as usize;
        assert_eq!(size, v9.len() - 4);
    }

    #[test]
    fn frames_split_across_reads_come_out_whole_and_in_order() {
        let mut wire = BytesMut::new();
        encode_request(&mut wire, 1, None, 3, &ApiVersionsRequest::default()).unwrap();
        encode_request(&mut wire, 2, None, 3, &ApiVersionsRequest::default()).unwrap();
        let all = wire.freeze();
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for byte in all.iter() {
            buf.put_u8(*byte);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[0][4..8], &1i32.to_be_bytes());
        assert_eq!(&frames[1][4..8], &2i32.to_be_bytes());
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_and_negative_size_prefixes_are_refused_before_allocating() {
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        let cap_before = buf.capacity();
        match decoder.decode(&mut buf) {
            Err(Error::FrameTooLarge { size, max: 1024 }) => assert_eq!(size, i32::MAX as usize),
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        assert_eq!(
            buf.capacity(),
            cap_before,
            "nothing reserved for a refused frame"
        );
        let mut buf = BytesMut::from(&(-5i32).to_be_bytes()[..]);
        assert!(matches!(
            decoder.decode(&mut buf),
            Err(Error::NegativeFrameSize { size: -5 })
        ));
    }

    #[test]
    fn api_versions_response_header_is_v0_even_at_flexible_versions() {
        let body = ApiVersionsResponse::default().with_error_code(0);
        let frame = response_frame(42, 3, &body);
        // v0 header: only the correlation id, no tagged-field byte.
        let (cid, decoded) = decode_response::<ApiVersionsRequest>(frame, 3).unwrap();
        assert_eq!(cid, 42);
        assert_eq!(decoded, body);
    }

    #[test]
    fn flexible_response_header_carries_tagged_fields() {
        let body = MetadataResponse::default().with_throttle_time_ms(5);
        let frame = response_frame(9, 12, &body);
        assert_eq!(
            frame[4], 0,
            "empty tagged-field section after the correlation id"
        );
        let decoded = decode_response_for::<MetadataRequest>(frame, 12, 9).unwrap();
        assert_eq!(decoded.throttle_time_ms, 5);
    }

    #[test]
    fn wrong_correlation_id_and_trailing_bytes_are_errors() {
        let body = MetadataResponse::default();
        let frame = response_frame(9, 12, &body);
        assert!(matches!(
            decode_response_for::<MetadataRequest>(frame.clone(), 12, 10),
            Err(Error::CorrelationMismatch {
                expected: 10,
                got: 9
            })
        ));
        let mut padded = BytesMut::from(&frame[..]);
        padded.put_u8(0);
        match decode_response::<MetadataRequest>(padded.freeze(), 12) {
            Err(Error::Decode { api, reason, .. }) => {
                assert_eq!(api, "Metadata");
                assert!(reason.contains("left over"), "{reason}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn hostile_array_length_is_an_error_not_an_allocation() {
        // Metadata v12 response: header (cid + tags), throttle, brokers compact array with a
        // count of u32::MAX - 1 and nothing after it.
        let mut buf = BytesMut::new();
        buf.put_i32(1);
        buf.put_u8(0);
        buf.put_i32(0);
        buf.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = decode_response::<MetadataRequest>(buf.freeze(), 12).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    }

    #[test]
    fn short_frames_are_typed_errors() {
        assert!(matches!(
            response_correlation_id(&[0, 1]),
            Err(Error::ShortFrame { len: 2, .. })
        ));
        assert!(matches!(
            decode_response::<MetadataRequest>(Bytes::from_static(&[0, 0]), 12),
            Err(Error::ShortFrame { .. })
        ));
    }
}
