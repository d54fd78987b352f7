//! gzip (codec 1): what `java.util.zip.GZIPOutputStream` writes. Concatenated members are read
//! as one stream, as `GZIPInputStream` does.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{Compression, read_bounded};
use crate::record::error::{RecordError, Result};

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    // The gzip trailer holds the uncompressed size modulo 2^32: a hint, never trusted for more
    // than the limit.
    let hint = match input {
        [.., a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
        _ => 0,
    };
    read_bounded(
        MultiGzDecoder::new(input),
        Compression::Gzip,
        limit,
        hint.max(input.len() * 2),
    )
}

pub(super) fn compress(input: &[u8], dst: &mut Vec<u8>) -> Result<()> {
    let err = |e: std::io::Error| RecordError::Compress {
        codec: Compression::Gzip,
        reason: e.to_string(),
    };
    let mut enc = GzEncoder::new(dst, flate2::Compression::default());
    enc.write_all(input).map_err(err)?;
    enc.finish().map_err(err)?;
    Ok(())
}
