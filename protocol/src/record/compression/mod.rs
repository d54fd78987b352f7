//! Batch compression: the codec enum, and compressing/decompressing a batch's record area.
//!
//! Owns the codecs' framing (gzip members, xerial snappy chunks, LZ4 frames, zstd frames) and the
//! decompression limit; it does not know about records. One submodule per codec, each compiled
//! only with its `compression-*` feature; a codec compiled out gives
//! [`RecordError::CompressionUnavailable`].
//!
//! Decompression never allocates past the caller's limit: output buffers grow only up to the limit,
//! and exceeding it is [`RecordError::DecompressedTooLarge`].

use std::fmt;

use bytes::Bytes;

use super::error::{RecordError, Result};

#[cfg(feature = "compression-gzip")]
mod gzip;
#[cfg(feature = "compression-lz4")]
mod lz4;
#[cfg(feature = "compression-snappy")]
mod snappy;
#[cfg(feature = "compression-zstd")]
mod zstd;
#[cfg(all(feature = "compression-zstd-pure", not(feature = "compression-zstd")))]
mod zstd_pure;

/// A compression codec, as numbered in bits 0–2 of the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (0).
    #[default]
    None,
    /// gzip (1).
    Gzip,
    /// Snappy (2): written with the xerial framing the Java client uses; raw snappy is read too.
    Snappy,
    /// LZ4 frame format (3).
    Lz4,
    /// Zstandard (4).
    Zstd,
}

impl Compression {
    /// The codec for the low three bits of the batch attributes.
    pub fn from_attributes(attributes: i16) -> Result<Self> {
        match attributes & 0x07 {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            codec => Err(RecordError::UnknownCompression { codec: codec as u8 }),
        }
    }

    /// The codec's number in the batch attributes.
    pub fn id(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// The codec's name as Kafka configurations spell it (`compression.type`).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress with the codec.
    pub fn is_available(self) -> bool {
        match self {
            Self::None => true,
            Self::Gzip => cfg!(feature = "compression-gzip"),
            Self::Snappy => cfg!(feature = "compression-snappy"),
            Self::Lz4 => cfg!(feature = "compression-lz4"),
            Self::Zstd => cfg!(any(
                feature = "compression-zstd",
                feature = "compression-zstd-pure"
            )),
        }
    }

    #[allow(dead_code)] // used only when some codec is compiled out
    fn unavailable(self) -> RecordError {
        RecordError::CompressionUnavailable {
            codec: self,
            feature: self.name(),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Decompresses `input` (a batch's record area) with `codec` into a new buffer of at most `limit`
/// bytes.
pub(crate) fn decompress(codec: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>> {
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(RecordError::DecompressedTooLarge { codec, limit });
            }
            Ok(input.to_vec())
        }
        #[cfg(feature = "compression-gzip")]
        Compression::Gzip => gzip::decompress(input, limit),
        #[cfg(feature = "compression-snappy")]
        Compression::Snappy => snappy::decompress(input, limit),
        #[cfg(feature = "compression-lz4")]
        Compression::Lz4 => lz4::decompress(input, limit),
        #[cfg(feature = "compression-zstd")]
        Compression::Zstd => zstd::decompress(input, limit),
        #[cfg(all(feature = "compression-zstd-pure", not(feature = "compression-zstd")))]
        Compression::Zstd => zstd_pure::decompress(input, limit),
        #[allow(unreachable_patterns)]
        other => Err(other.unavailable()),
    }
}

/// Decompresses `input` like [`decompress`], as a `Bytes`. LZ4 and zstd (the C library)
/// decompress into a buffer from the [pool](super::pool), which goes back to the pool once every
/// view of the returned `Bytes` is dropped: no fresh allocation (and page faults) per batch.
pub(crate) fn decompress_bytes(codec: Compression, input: &[u8], limit: usize) -> Result<Bytes> {
    #[cfg(any(feature = "compression-lz4", feature = "compression-zstd"))]
    {
        type IntoBuffer = fn(&[u8], usize, &mut Vec<u8>) -> Result<usize>;
        let into_buffer: Option<IntoBuffer> = match codec {
            #[cfg(feature = "compression-lz4")]
            Compression::Lz4 => Some(lz4::decompress_to),
            #[cfg(feature = "compression-zstd")]
            Compression::Zstd => Some(zstd::decompress_to),
            _ => None,
        };
        if let Some(into_buffer) = into_buffer {
            let mut buf = super::pool::PooledBuf::take();
            let n = into_buffer(input, limit, buf.vec_mut())?;
            buf.set_len(n);
            return Ok(buf.freeze());
        }
    }
    decompress(codec, input, limit).map(Bytes::from)
}

/// Reusable compressor state (zstd context, snappy encoder, scratch space), kept by a batch
/// builder so that building many batches does not allocate per batch.
#[derive(Default)]
pub(crate) struct Compressor {
    #[cfg(feature = "compression-zstd")]
    zstd: Option<zstd::ZstdCompressor>,
    #[cfg(feature = "compression-snappy")]
    snappy: Option<snappy::SnappyCompressor>,
    #[cfg(feature = "compression-lz4")]
    lz4_block: Vec<u8>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor").finish_non_exhaustive()
    }
}

impl Compressor {
    /// Appends `input` compressed with `codec` to `dst`. `Compression::None` copies it.
    #[allow(unused_variables)]
    pub(crate) fn compress(
        &mut self,
        codec: Compression,
        input: &[u8],
        dst: &mut Vec<u8>,
    ) -> Result<()> {
        match codec {
            Compression::None => {
                dst.extend_from_slice(input);
                Ok(())
            }
            #[cfg(feature = "compression-gzip")]
            Compression::Gzip => gzip::compress(input, dst),
            #[cfg(feature = "compression-snappy")]
            Compression::Snappy => self
                .snappy
                .get_or_insert_with(snappy::SnappyCompressor::new)
                .compress(input, dst),
            #[cfg(feature = "compression-lz4")]
            Compression::Lz4 => lz4::compress(input, dst, &mut self.lz4_block),
            #[cfg(feature = "compression-zstd")]
            Compression::Zstd => {
                if self.zstd.is_none() {
                    self.zstd = Some(zstd::ZstdCompressor::new()?);
                }
                match self.zstd.as_mut() {
                    Some(z) => z.compress(input, dst),
                    None => Err(codec.unavailable()),
                }
            }
            #[cfg(all(feature = "compression-zstd-pure", not(feature = "compression-zstd")))]
            Compression::Zstd => zstd_pure::compress(input, dst),
            #[allow(unreachable_patterns)]
            other => Err(other.unavailable()),
        }
    }
}

/// Reads `reader` to its end into a buffer that never grows past `limit` bytes.
///
/// Growth is geometric from `hint` (clamped to the limit), so a well-formed payload costs a few
/// reallocations at most; a payload that would exceed the limit is detected by a one-byte probe
/// read once the buffer holds `limit` bytes.
#[allow(dead_code)] // unused when every streaming codec is compiled out
pub(crate) fn read_bounded<R: std::io::Read>(
    mut reader: R,
    codec: Compression,
    limit: usize,
    hint: usize,
) -> Result<Vec<u8>> {
    let io_err = |e: std::io::Error| RecordError::Decompress {
        codec,
        reason: e.to_string(),
    };
    let mut out: Vec<u8> = Vec::new();
    let mut filled = 0usize;
    let mut target = hint.clamp(64, limit.max(64)).min(limit);
    loop {
        if filled == out.len() {
            if out.len() >= limit {
                // Full at the limit: anything more is a bomb.
                let mut probe = [0u8; 1];
                loop {
                    match reader.read(&mut probe) {
                        Ok(0) => {
                            out.truncate(filled);
                            return Ok(out);
                        }
                        Ok(_) => return Err(RecordError::DecompressedTooLarge { codec, limit }),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(io_err(e)),
                    }
                }
            }
            let new_len = target.max(out.len().saturating_mul(2)).clamp(1, limit);
            target = new_len;
            out.reserve_exact(new_len - out.len());
            out.resize(new_len, 0);
        }
        match reader.read(&mut out[filled..]) {
            Ok(0) => {
                out.truncate(filled);
                return Ok(out);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn all() -> impl Iterator<Item = Compression> {
        ALL.into_iter().filter(|c| c.is_available())
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"kafka record payload "[i % 21] ^ ((i / 997) as u8))
            .collect()
    }

    #[test]
    fn attribute_codes_round_trip_and_unknown_codecs_are_errors() {
        for c in ALL {
            assert_eq!(Compression::from_attributes(c.id() | 0x70).unwrap(), c);
        }
        for codec in 5..=7 {
            assert!(matches!(
                Compression::from_attributes(codec),
                Err(RecordError::UnknownCompression { codec: c }) if i16::from(c) == codec
            ));
        }
    }

    #[test]
    fn every_codec_round_trips_sizes_around_block_boundaries() {
        let mut z = Compressor::default();
        for c in all() {
            for len in [0, 1, 100, 32 * 1024, 64 * 1024, 64 * 1024 + 1, 300_000] {
                let data = sample(len);
                let mut out = vec![0xAA];
                z.compress(c, &data, &mut out).unwrap();
                assert_eq!(out[0], 0xAA, "compress appends");
                let back = decompress(c, &out[1..], len).unwrap();
                assert!(back == data, "{c} len {len}");
            }
        }
    }

    #[test]
    fn exceeding_the_limit_is_a_typed_error_for_every_codec() {
        let mut z = Compressor::default();
        let data = sample(200_000);
        for c in all() {
            let mut out = Vec::new();
            z.compress(c, &data, &mut out).unwrap();
            for limit in [0, 1, 1000, 199_999] {
                match decompress(c, &out, limit) {
                    Err(RecordError::DecompressedTooLarge { codec, limit: l }) => {
                        assert_eq!((codec, l), (c, limit));
                    }
                    other => panic!("{c} limit {limit}: {other:?}"),
                }
            }
            assert_eq!(decompress(c, &out, 200_000).unwrap().len(), 200_000);
        }
    }

    #[test]
    fn garbage_is_a_decompress_error_not_a_panic() {
        for c in all().filter(|c| *c != Compression::None) {
            for garbage in [&b""[..], b"\x00", b"not compressed at all, just bytes"] {
                match decompress(c, garbage, 1 << 20) {
                    Err(RecordError::Decompress { codec, .. }) => assert_eq!(codec, c),
                    Ok(v) if c == Compression::Snappy && v.is_empty() => {}
                    other => panic!("{c}: {other:?}"),
                }
            }
        }
    }

    #[cfg(not(all(
        feature = "compression-gzip",
        feature = "compression-snappy",
        feature = "compression-lz4",
        any(feature = "compression-zstd", feature = "compression-zstd-pure")
    )))]
    #[test]
    fn compiled_out_codecs_are_typed_errors_naming_their_feature() {
        let mut z = Compressor::default();
        let mut checked = 0;
        for c in ALL.into_iter().filter(|c| !c.is_available()) {
            let err = decompress(c, b"x", 100).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("compression-{}", c.name())),
                "{err}"
            );
            assert!(matches!(
                z.compress(c, b"x", &mut Vec::new()),
                Err(RecordError::CompressionUnavailable { codec, .. }) if codec == c
            ));
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn bounded_reader_never_grows_past_the_limit() {
        let data = vec![7u8; 10_000];
        let out = read_bounded(&data[..], Compression::None, 10_000, 1).unwrap();
        assert_eq!(out.len(), 10_000);
        assert!(out.capacity() <= 10_000 + 64);
        assert!(matches!(
            read_bounded(&data[..], Compression::None, 9_999, 1 << 30),
            Err(RecordError::DecompressedTooLarge { limit: 9_999, .. })
        ));
    }
}
