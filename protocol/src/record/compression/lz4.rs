//! LZ4 (codec 3): the LZ4 frame format, as the Java client's `Lz4BlockOutputStream` writes it.
//!
//! We write frame version 1 with independent 64 KiB blocks, no block or content checksums and no
//! content size: exactly what Java writes, so every Kafka client and broker reads it. On input we
//! accept any block size (64 KiB–4 MiB), independent or linked blocks, block and content
//! checksums (skipped: the batch CRC covers the bytes), a content size, and concatenated frames.
//! The header checksum is verified. Reserved bits, other frame versions and dictionary ids are
//! rejected, as Java rejects them.
//!
//! Decoding writes every block straight into one output buffer that never grows past the limit.

use lz4_flex::block::{
    DecompressError, compress_into, decompress_into, decompress_into_with_dict,
    get_maximum_output_size,
};

use super::Compression;
use crate::record::error::{RecordError, Result};

const MAGIC: u32 = 0x184D_2204;
const FLG_VERSION_1: u8 = 0b0100_0000;
const FLG_INDEPENDENT: u8 = 0b0010_0000;
const FLG_BLOCK_CHECKSUM: u8 = 0b0001_0000;
const FLG_CONTENT_SIZE: u8 = 0b0000_1000;
const FLG_CONTENT_CHECKSUM: u8 = 0b0000_0100;
const FLG_RESERVED: u8 = 0b0000_0010;
const FLG_DICT_ID: u8 = 0b0000_0001;
/// Block-maximum-size code 4: 64 KiB, the Java client's block size.
const BD_64K: u8 = 4 << 4;
const BLOCK_64K: usize = 64 * 1024;
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;
/// How far back a linked block may reference earlier output.
const WINDOW: usize = 64 * 1024;

/// Our frame descriptor, FLG and BD, followed by its header checksum byte.
const HEADER: [u8; 7] = {
    let m = MAGIC.to_le_bytes();
    let flg = FLG_VERSION_1 | FLG_INDEPENDENT;
    [
        m[0],
        m[1],
        m[2],
        m[3],
        flg,
        BD_64K,
        header_checksum(&[flg, BD_64K]),
    ]
};

fn corrupt(reason: impl ToString) -> RecordError {
    RecordError::Decompress {
        codec: Compression::Lz4,
        reason: reason.to_string(),
    }
}

fn too_large(limit: usize) -> RecordError {
    RecordError::DecompressedTooLarge {
        codec: Compression::Lz4,
        limit,
    }
}

/// The frame-descriptor checksum: byte 1 of xxHash32 (seed 0) over the descriptor, which is at
/// most 14 bytes, so only xxHash32's short-input path is needed.
const fn header_checksum(descriptor: &[u8]) -> u8 {
    const P1: u32 = 0x9E37_79B1;
    const P2: u32 = 0x85EB_CA77;
    const P3: u32 = 0xC2B2_AE3D;
    const P4: u32 = 0x27D4_EB2F;
    const P5: u32 = 0x1656_67B1;
    let len = descriptor.len();
    let mut h = P5.wrapping_add(len as u32);
    let mut i = 0;
    while i + 4 <= len {
        let w = u32::from_le_bytes([
            descriptor[i],
            descriptor[i + 1],
            descriptor[i + 2],
            descriptor[i + 3],
        ]);
        h = h
            .wrapping_add(w.wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        i += 4;
    }
    while i < len {
        h = h
            .wrapping_add((descriptor[i] as u32).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
        i += 1;
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^= h >> 16;
    (h >> 8) as u8
}

fn take<'a>(input: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8]> {
    if input.len() < n {
        return Err(corrupt(format!("truncated LZ4 frame at {what}")));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_u32(input: &mut &[u8], what: &str) -> Result<u32> {
    let b = take(input, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

struct FrameInfo {
    block_max: usize,
    independent: bool,
    block_checksum: bool,
    content_checksum: bool,
    content_size: Option<u64>,
}

fn read_frame_header(input: &mut &[u8]) -> Result<FrameInfo> {
    let magic = take_u32(input, "magic")?;
    if magic != MAGIC {
        return Err(corrupt(format!("bad LZ4 frame magic {magic:#010x}")));
    }
    let descriptor_start = *input;
    let d = take(input, 2, "frame descriptor")?;
    let (flg, bd) = (d[0], d[1]);
    if flg >> 6 != 1 {
        return Err(corrupt(format!(
            "unsupported LZ4 frame version {}",
            flg >> 6
        )));
    }
    if flg & FLG_RESERVED != 0 || bd & 0x8F != 0 {
        return Err(corrupt("reserved bits set in LZ4 frame descriptor"));
    }
    if flg & FLG_DICT_ID != 0 {
        return Err(corrupt("LZ4 frames with a dictionary id are not supported"));
    }
    let block_max = match (bd >> 4) & 0x07 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        code => return Err(corrupt(format!("invalid LZ4 block size code {code}"))),
    };
    let content_size = if flg & FLG_CONTENT_SIZE != 0 {
        let b = take(input, 8, "content size")?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    } else {
        None
    };
    let descriptor = &descriptor_start[..descriptor_start.len() - input.len()];
    let hc = take(input, 1, "header checksum")?[0];
    let expected = header_checksum(descriptor);
    if hc != expected {
        return Err(corrupt(format!(
            "LZ4 frame header checksum {hc:#04x}, expected {expected:#04x}"
        )));
    }
    Ok(FrameInfo {
        block_max,
        independent: flg & FLG_INDEPENDENT != 0,
        block_checksum: flg & FLG_BLOCK_CHECKSUM != 0,
        content_checksum: flg & FLG_CONTENT_CHECKSUM != 0,
        content_size,
    })
}

/// An upper bound of the decompressed size of the frames in `input`, from the block headers
/// alone (a compressed block yields at most the block maximum). Errors on malformed framing.
fn size_bound(mut input: &[u8]) -> Result<usize> {
    let mut bound = 0usize;
    while !input.is_empty() {
        let info = read_frame_header(&mut input)?;
        let mut frame_bound = 0usize;
        loop {
            let word = take_u32(&mut input, "block size")?;
            if word == 0 {
                break;
            }
            let size = (word & !UNCOMPRESSED_BIT) as usize;
            if size > info.block_max {
                return Err(corrupt(format!(
                    "LZ4 block of {size} bytes exceeds the frame's {} byte maximum",
                    info.block_max
                )));
            }
            take(&mut input, size, "block data")?;
            if info.block_checksum {
                take(&mut input, 4, "block checksum")?;
            }
            frame_bound += if word & UNCOMPRESSED_BIT != 0 {
                size
            } else {
                info.block_max
            };
        }
        if info.content_checksum {
            take(&mut input, 4, "content checksum")?;
        }
        // A declared content size, when smaller, is the better bound; it is checked on decode.
        if let Some(cs) = info.content_size {
            frame_bound = frame_bound.min(usize::try_from(cs).unwrap_or(usize::MAX));
        }
        bound = bound.saturating_add(frame_bound);
    }
    Ok(bound)
}

/// Decompresses `input` into a new buffer (batches use [`decompress_to`] with a pooled buffer).
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let n = decompress_to(input, limit, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Decompresses `input` into `out`, from its start, and returns the decompressed size.
///
/// `out.len()` counts bytes that are initialised (a pooled buffer keeps them from its last use):
/// blocks decompress straight into them, and `out` is zero-extended only where it is too short,
/// never beyond what the frames' block headers allow nor beyond `limit` plus one block.
pub(super) fn decompress_to(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<usize> {
    if input.is_empty() {
        return Err(corrupt("empty LZ4 payload"));
    }
    // One allocation of the right size up front (a fresh buffer), instead of growing per block.
    let want = size_bound(input)?.min(limit);
    if out.capacity() < want {
        out.reserve(want - out.len());
    }
    decompress_frames(input, limit, out)
}

fn decompress_frames(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<usize> {
    let mut rest = input;
    let mut filled = 0usize;
    while !rest.is_empty() {
        let info = read_frame_header(&mut rest)?;
        let frame_start = filled;
        loop {
            let word = take_u32(&mut rest, "block size")?;
            if word == 0 {
                break;
            }
            let size = (word & !UNCOMPRESSED_BIT) as usize;
            let block = take(&mut rest, size, "block data")?;
            if info.block_checksum {
                take(&mut rest, 4, "block checksum")?;
            }
            if word & UNCOMPRESSED_BIT != 0 {
                if filled + size > limit {
                    return Err(too_large(limit));
                }
                if out.len() < filled + size {
                    out.resize(filled + size, 0);
                }
                out[filled..filled + size].copy_from_slice(block);
                filled += size;
                continue;
            }
            let room = (limit - filled).min(info.block_max);
            let limited = room < info.block_max;
            if out.len() < filled + room {
                out.resize(filled + room, 0);
            }
            let (before, after) = out.split_at_mut(filled);
            let dst = &mut after[..room];
            let result = if info.independent || filled == frame_start {
                decompress_into(block, dst)
            } else {
                let dict = &before[frame_start.max(filled.saturating_sub(WINDOW))..];
                decompress_into_with_dict(block, dst, dict)
            };
            match result {
                Ok(n) => filled += n,
                Err(DecompressError::OutputTooSmall { .. }) if limited => {
                    return Err(too_large(limit));
                }
                Err(e) => return Err(corrupt(e)),
            }
        }
        if info.content_checksum {
            take(&mut rest, 4, "content checksum")?;
        }
        if let Some(cs) = info.content_size {
            let got = filled - frame_start;
            if cs != got as u64 {
                return Err(corrupt(format!(
                    "LZ4 frame declares {cs} bytes but holds {got}"
                )));
            }
        }
    }
    Ok(filled)
}

/// Appends `input` as one LZ4 frame to `dst`. `block` is scratch space reused between calls
/// (each block compresses there, then the compressed bytes are appended), so that `dst` is never
/// zero-filled for the worst case.
pub(super) fn compress(input: &[u8], dst: &mut Vec<u8>, block: &mut Vec<u8>) -> Result<()> {
    let max = get_maximum_output_size(BLOCK_64K);
    if block.len() < max {
        block.resize(max, 0);
    }
    dst.reserve(HEADER.len() + 4 + input.len() / 2);
    dst.extend_from_slice(&HEADER);
    for chunk in input.chunks(BLOCK_64K) {
        let n = compress_into(chunk, &mut block[..]).map_err(|e| RecordError::Compress {
            codec: Compression::Lz4,
            reason: e.to_string(),
        })?;
        if n < chunk.len() {
            dst.extend_from_slice(&(n as u32).to_le_bytes());
            dst.extend_from_slice(&block[..n]);
        } else {
            // Incompressible: store the block as is, as LZ4 does.
            dst.extend_from_slice(&(chunk.len() as u32 | UNCOMPRESSED_BIT).to_le_bytes());
            dst.extend_from_slice(chunk);
        }
    }
    dst.extend_from_slice(&0u32.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use std::io::{Read, Write};

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i * 7 % 256) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn our_header_is_what_java_writes_and_lz4_flex_reads_it() {
        // Java's Lz4BlockOutputStream: FLG 0x60 (v1, independent), BD 0x40 (64 KiB), HC 0x82.
        assert_eq!(HEADER, [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82]);
        let input = data(200_000);
        let mut ours = Vec::new();
        compress(&input, &mut ours, &mut Vec::new()).unwrap();
        let mut back = Vec::new();
        FrameDecoder::new(&ours[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, input);
    }

    fn flex_frame(input: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(input).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_linked_blocks_checksums_content_size_and_big_blocks() {
        let input = data(700_000);
        let mut info = FrameInfo::new();
        info.block_mode = BlockMode::Linked;
        info.block_size = BlockSize::Max256KB;
        info.block_checksums = true;
        info.content_checksum = true;
        info.content_size = Some(input.len() as u64);
        let frame = flex_frame(&input, info);
        assert_eq!(decompress(&frame, 700_000).unwrap(), input);
        assert!(matches!(
            decompress(&frame, 699_999),
            Err(RecordError::DecompressedTooLarge { .. })
        ));
        // Two frames back to back read as one stream.
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        assert_eq!(decompress(&two, 1_400_000).unwrap().len(), 1_400_000);
    }

    #[test]
    fn bad_headers_and_oversized_blocks_are_errors() {
        let mut ours = Vec::new();
        compress(&data(1000), &mut ours, &mut Vec::new()).unwrap();
        for (i, v) in [
            (4, 0xA0u8),
            (4, 0x62),
            (4, 0x61),
            (5, 0x30),
            (6, 0x00),
            (0, 0),
        ] {
            let mut bad = ours.clone();
            bad[i] = v;
            assert!(
                matches!(
                    decompress(&bad, 1 << 20),
                    Err(RecordError::Decompress { .. })
                ),
                "byte {i} = {v:#x}"
            );
        }
        // A block size beyond the 64 KiB maximum.
        let mut bad = HEADER.to_vec();
        bad.extend_from_slice(&(70_000u32).to_le_bytes());
        bad.extend_from_slice(&[0; 16]);
        assert!(matches!(
            decompress(&bad, 1 << 20),
            Err(RecordError::Decompress { .. })
        ));
    }
}
