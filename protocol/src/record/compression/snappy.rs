//! Snappy (codec 2).
//!
//! The Java client wraps snappy in xerial's stream framing (`SnappyOutputStream`): the 8-byte
//! magic `82 'SNAPPY' 00`, a big-endian int32 version and an int32 minimum compatible version
//! (both 1), then chunks of at most 32 KiB input, each a big-endian int32 length followed by a raw
//! snappy block. We write exactly that. On input, a payload without the magic is read as one raw
//! snappy block, as xerial's `SnappyInputStream` does (librdkafka can send either).

use super::Compression;
use crate::record::error::{RecordError, Result};

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// xerial's default block size, which the Java client uses.
const XERIAL_BLOCK: usize = 32 * 1024;

fn corrupt(reason: impl ToString) -> RecordError {
    RecordError::Decompress {
        codec: Compression::Snappy,
        reason: reason.to_string(),
    }
}

fn too_large(limit: usize) -> RecordError {
    RecordError::DecompressedTooLarge {
        codec: Compression::Snappy,
        limit,
    }
}

/// Iterates the raw snappy chunks of a xerial stream (after its header).
fn xerial_chunks(mut rest: &[u8]) -> impl Iterator<Item = Result<&[u8]>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            rest = &[];
            return Some(Err(corrupt("truncated xerial chunk length")));
        };
        let len = i32::from_be_bytes(*len);
        let Ok(len) = usize::try_from(len) else {
            rest = &[];
            return Some(Err(corrupt(format!("negative xerial chunk length {len}"))));
        };
        if len > tail.len() {
            rest = &[];
            return Some(Err(corrupt(format!(
                "xerial chunk of {len} bytes but only {} remain",
                tail.len()
            ))));
        }
        let (chunk, after) = tail.split_at(len);
        rest = after;
        Some(Ok(chunk))
    })
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut decoder = snap::raw::Decoder::new();
    if input.len() >= XERIAL_HEADER_LEN && input[..8] == XERIAL_MAGIC {
        let chunks = &input[XERIAL_HEADER_LEN..];
        // First pass: the announced sizes, so that one exact allocation follows (or none).
        let mut total = 0usize;
        for chunk in xerial_chunks(chunks) {
            let len = snap::raw::decompress_len(chunk?).map_err(corrupt)?;
            total = total.saturating_add(len);
            if total > limit {
                return Err(too_large(limit));
            }
        }
        let mut out = vec![0u8; total];
        let mut pos = 0;
        for chunk in xerial_chunks(chunks) {
            let n = decoder
                .decompress(chunk?, &mut out[pos..])
                .map_err(corrupt)?;
            pos += n;
        }
        out.truncate(pos);
        Ok(out)
    } else {
        let len = snap::raw::decompress_len(input).map_err(corrupt)?;
        if len > limit {
            return Err(too_large(limit));
        }
        let mut out = vec![0u8; len];
        let n = decoder.decompress(input, &mut out).map_err(corrupt)?;
        out.truncate(n);
        Ok(out)
    }
}

/// A reusable snappy encoder writing xerial framing.
pub(super) struct SnappyCompressor {
    encoder: snap::raw::Encoder,
}

impl SnappyCompressor {
    pub(super) fn new() -> Self {
        Self {
            encoder: snap::raw::Encoder::new(),
        }
    }

    pub(super) fn compress(&mut self, input: &[u8], dst: &mut Vec<u8>) -> Result<()> {
        dst.reserve(
            XERIAL_HEADER_LEN
                + snap::raw::max_compress_len(input.len())
                + 4 * (input.len() / XERIAL_BLOCK + 1),
        );
        dst.extend_from_slice(&XERIAL_MAGIC);
        dst.extend_from_slice(&1i32.to_be_bytes());
        dst.extend_from_slice(&1i32.to_be_bytes());
        for chunk in input.chunks(XERIAL_BLOCK) {
            let start = dst.len();
            dst.resize(start + 4 + snap::raw::max_compress_len(chunk.len()), 0);
            let n = self
                .encoder
                .compress(chunk, &mut dst[start + 4..])
                .map_err(|e| RecordError::Compress {
                    codec: Compression::Snappy,
                    reason: e.to_string(),
                })?;
            dst.truncate(start + 4 + n);
            // A chunk is at most 32 KiB of input, so its compressed size fits an i32.
            dst[start..start + 4].copy_from_slice(&(n as u32).to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_xerial_header_and_32k_chunks() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        SnappyCompressor::new().compress(&data, &mut out).unwrap();
        assert_eq!(&out[..8], &XERIAL_MAGIC);
        assert_eq!(&out[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        let chunks: Vec<_> = xerial_chunks(&out[16..]).map(|c| c.unwrap()).collect();
        assert_eq!(chunks.len(), 3, "70 000 bytes make three 32 KiB chunks");
        assert_eq!(snap::raw::decompress_len(chunks[0]).unwrap(), XERIAL_BLOCK);
        assert_eq!(decompress(&out, 70_000).unwrap(), data);
    }

    #[test]
    fn raw_snappy_is_read_too() {
        let data = b"raw snappy as librdkafka may send it, raw snappy".repeat(20);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw, data.len()).unwrap(), data);
        assert!(matches!(
            decompress(&raw, data.len() - 1),
            Err(RecordError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn hostile_xerial_chunk_lengths_are_errors() {
        let mut out = XERIAL_MAGIC.to_vec();
        out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        out.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decompress(&out, 100),
            Err(RecordError::Decompress { .. })
        ));
        out.truncate(16);
        out.extend_from_slice(&1000i32.to_be_bytes());
        out.extend_from_slice(&[0; 10]);
        assert!(matches!(
            decompress(&out, 100),
            Err(RecordError::Decompress { .. })
        ));
        out.truncate(16);
        out.extend_from_slice(&[0, 0]);
        assert!(matches!(
            decompress(&out, 100),
            Err(RecordError::Decompress { .. })
        ));
    }
}
