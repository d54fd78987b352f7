//! Zstandard (codec 4, Kafka 2.1+, Produce v7 / Fetch v10).
//!
//! We write one frame with its content size at level 3 (the Java client's default level). On
//! input, a frame that declares its content size is decoded in one pass straight into an exactly
//! sized buffer; streamed frames without a size (the Java client writes those) are decoded through
//! a reader whose output stops at the limit, with the decoder's window capped so that a hostile
//! header cannot make it reserve more than the larger of the limit and 8 MiB.

use super::{Compression, read_bounded};
use crate::record::error::{RecordError, Result};

thread_local! {
    /// One decompression context per thread: creating one costs more than decompressing a small
    /// batch.
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The Java client's default level (`compression.zstd.level`).
const LEVEL: i32 = 3;

fn corrupt(reason: impl ToString) -> RecordError {
    RecordError::Decompress {
        codec: Compression::Zstd,
        reason: reason.to_string(),
    }
}

/// Decompresses `input` into a new buffer (batches use [`decompress_to`] with a pooled buffer).
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let n = decompress_to(input, limit, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Decompresses `input` into `out` (replacing its contents, reusing its capacity) and returns the
/// decompressed size. A frame that declares its size decodes in one pass into `out`'s capacity,
/// grown to that size if needed; other payloads go through the bounded stream.
pub(super) fn decompress_to(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<usize> {
    let size = zstd::zstd_safe::get_frame_content_size(input)
        .map_err(|_| corrupt("invalid zstd frame header"))?;
    if let Some(size) = size {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > limit {
            return Err(RecordError::DecompressedTooLarge {
                codec: Compression::Zstd,
                limit,
            });
        }
        out.clear();
        out.reserve(size);
        let done = DCTX.with(|cell| -> Result<bool> {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(corrupt)?);
            }
            Ok(slot
                .as_mut()
                .is_some_and(|d| d.decompress_to_buffer(input, &mut *out).is_ok()))
        })?;
        // The output is bounded by the capacity, so a frame holding more than it declared fails
        // here; one holding less is accepted as it is, as the C library does.
        if done && out.len() <= size {
            return Ok(out.len());
        }
        // Several frames, or a lying size: fall through to the bounded stream, which reports
        // what is wrong.
    }
    let mut dec = zstd::stream::read::Decoder::with_buffer(input).map_err(corrupt)?;
    let window_log = usize::BITS - limit.max(1).leading_zeros();
    dec.window_log_max(window_log.clamp(23, 31))
        .map_err(corrupt)?;
    let data = read_bounded(dec, Compression::Zstd, limit, input.len().saturating_mul(4))?;
    let n = data.len();
    *out = data;
    Ok(n)
}

/// A reusable compression context.
pub(super) struct ZstdCompressor {
    inner: zstd::bulk::Compressor<'static>,
    /// Output space reused between calls when `dst` already holds data.
    scratch: Vec<u8>,
}

impl ZstdCompressor {
    pub(super) fn new() -> Result<Self> {
        let inner = zstd::bulk::Compressor::new(LEVEL).map_err(|e| RecordError::Compress {
            codec: Compression::Zstd,
            reason: e.to_string(),
        })?;
        Ok(Self {
            inner,
            scratch: Vec::new(),
        })
    }

    /// Appends the compressed frame to `dst`.
    pub(super) fn compress(&mut self, input: &[u8], dst: &mut Vec<u8>) -> Result<()> {
        let err = |e: std::io::Error| RecordError::Compress {
            codec: Compression::Zstd,
            reason: e.to_string(),
        };
        let bound = zstd::zstd_safe::compress_bound(input.len());
        if dst.is_empty() {
            // The builder's case: write straight into the spare capacity.
            dst.reserve(bound);
            self.inner.compress_to_buffer(input, dst).map_err(err)?;
        } else {
            // The Vec output writes from its start: compress into scratch space, then append.
            self.scratch.clear();
            self.scratch.reserve(bound);
            self.inner
                .compress_to_buffer(input, &mut self.scratch)
                .map_err(err)?;
            dst.extend_from_slice(&self.scratch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn streamed_frames_without_content_size_are_read_and_bounded() {
        let data = b"zstd streamed like the Java client writes it ".repeat(5000);
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_contentsize(false).unwrap();
        enc.write_all(&data).unwrap();
        let frame = enc.finish().unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&frame).unwrap(),
            None
        );
        assert_eq!(decompress(&frame, data.len()).unwrap(), data);
        assert!(matches!(
            decompress(&frame, 1000),
            Err(RecordError::DecompressedTooLarge { limit: 1000, .. })
        ));
    }

    #[test]
    fn a_declared_size_above_the_limit_is_refused_before_allocating() {
        let mut out = Vec::new();
        ZstdCompressor::new()
            .unwrap()
            .compress(&[0u8; 100_000], &mut out)
            .unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&out).unwrap(),
            Some(100_000)
        );
        assert!(matches!(
            decompress(&out, 99_999),
            Err(RecordError::DecompressedTooLarge { .. })
        ));
    }
}
