//! Zstandard (codec 4) in pure Rust, with `ruzstd`, for builds that want no C code at all
//! (feature `compression-zstd-pure`, used only when `compression-zstd` is off).
//!
//! Decoding handles every frame Kafka clients write, one or several per batch, with the output
//! bounded by the caller's limit (ruzstd itself refuses windows above 100 MiB). Encoding uses
//! ruzstd's fastest level (about zstd level 1): batches are valid zstd for every reader but
//! compress less than the C library's level 3.

use super::{Compression, read_bounded};
use crate::record::error::{RecordError, Result};

fn corrupt(reason: impl ToString) -> RecordError {
    RecordError::Decompress {
        codec: Compression::Zstd,
        reason: reason.to_string(),
    }
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = input;
    if rest.is_empty() {
        return Err(corrupt("empty zstd payload"));
    }
    while !rest.is_empty() {
        let mut source = rest;
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut source).map_err(corrupt)?;
        let room = limit - out.len();
        let frame = read_bounded(
            decoder,
            Compression::Zstd,
            room,
            rest.len().saturating_mul(4),
        )
        .map_err(|e| match e {
            RecordError::DecompressedTooLarge { .. } => RecordError::DecompressedTooLarge {
                codec: Compression::Zstd,
                limit,
            },
            other => other,
        })?;
        out.extend_from_slice(&frame);
        if source.len() == rest.len() {
            return Err(corrupt("a zstd frame consumed no input"));
        }
        rest = source;
    }
    Ok(out)
}

pub(super) fn compress(input: &[u8], dst: &mut Vec<u8>) -> Result<()> {
    let compressed =
        ruzstd::encoding::compress_to_vec(input, ruzstd::encoding::CompressionLevel::Fastest);
    dst.extend_from_slice(&compressed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_respects_the_limit() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut packed = Vec::new();
        compress(&data, &mut packed).unwrap();
        assert!(packed.len() < data.len());
        assert_eq!(decompress(&packed, data.len()).unwrap(), data);
        assert!(matches!(
            decompress(&packed, data.len() - 1),
            Err(RecordError::DecompressedTooLarge { .. })
        ));
        // Two frames back to back decode as their concatenation.
        let mut two = packed.clone();
        two.extend_from_slice(&packed);
        assert_eq!(
            decompress(&two, 2 * data.len()).unwrap().len(),
            2 * data.len()
        );
        assert!(decompress(b"garbage", 100).is_err());
    }
}

#[cfg(test)]
mod interop {
    use crate::record::{DecodeOptions, RecordBatch};
    use bytes::Bytes;

    /// A batch the Java client compressed with the zstd C library (zstd-jni) decodes the same
    /// with the pure-Rust decoder.
    #[test]
    fn the_java_clients_zstd_batch_decodes() {
        let bytes = Bytes::from_static(include_bytes!("../../../tests/data/java-zstd.bin"));
        let batch = RecordBatch::decode(bytes, &DecodeOptions::default()).unwrap();
        let records = batch.records().unwrap();
        let n = records.iter().collect::<Result<Vec<_>, _>>().unwrap().len();
        assert_eq!(n, batch.record_count() as usize);
        assert!(n > 0);
    }
}
