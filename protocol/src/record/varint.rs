//! Zigzag varints as Kafka writes them in records (`ByteUtils.readVarint`/`readVarlong`).
//!
//! Owns the encoding of variable-length integers and nothing else. Readers advance a `&[u8]`
//! cursor and fail with a typed error on truncation or on a varint longer than 5 (32-bit) or
//! 10 (64-bit) bytes, exactly where the Java client throws. Like Java, the unused high bits of
//! the last byte are ignored.

use super::RecordError;
use super::error::{Result, truncated};

/// Reads a zigzag-encoded 32-bit varint from the front of `input` and advances it.
#[inline(always)]
pub(crate) fn read_varint(input: &mut &[u8], what: &'static str) -> Result<i32> {
    let raw = read_raw32(input, what)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// The unsigned varint at the front of `input`. Records' varints are mostly 1–3 bytes: with five
/// bytes in sight one length check covers the whole decode, unrolled.
#[inline(always)]
fn read_raw32(input: &mut &[u8], what: &'static str) -> Result<u32> {
    if let [b0, ref rest @ ..] = **input {
        if b0 < 0x80 {
            *input = rest;
            return Ok(u32::from(b0));
        }
    }
    if let [b0, b1, b2, b3, b4, ..] = **input {
        let mut v = u32::from(b0 & 0x7f) | (u32::from(b1 & 0x7f) << 7);
        if b1 < 0x80 {
            *input = &input[2..];
            return Ok(v);
        }
        v |= u32::from(b2 & 0x7f) << 14;
        if b2 < 0x80 {
            *input = &input[3..];
            return Ok(v);
        }
        v |= u32::from(b3 & 0x7f) << 21;
        if b3 < 0x80 {
            *input = &input[4..];
            return Ok(v);
        }
        if b4 < 0x80 {
            *input = &input[5..];
            // Like Java, the bits beyond 32 are dropped.
            return Ok(v | (u32::from(b4) << 28));
        }
        return Err(RecordError::VarintOverflow { what });
    }
    let (value, used) = read_raw32_slow(input, what)?;
    *input = &input[used..];
    Ok(value)
}

/// The checked path, near the end of the input. Takes the slice by value so that the caller's
/// cursor does not have to live in memory.
#[inline(never)]
fn read_raw32_slow(input: &[u8], what: &'static str) -> Result<(u32, usize)> {
    let mut value = 0u32;
    for i in 0..5 {
        let Some(&b) = input.get(i) else {
            return Err(truncated(what, i + 1, input.len()));
        };
        value |= u32::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(RecordError::VarintOverflow { what })
}

/// Reads a zigzag-encoded 64-bit varint from the front of `input` and advances it.
#[inline(always)]
pub(crate) fn read_varlong(input: &mut &[u8], what: &'static str) -> Result<i64> {
    let raw = match **input {
        [b0, ref rest @ ..] if b0 < 0x80 => {
            *input = rest;
            u64::from(b0)
        }
        [b0, b1, ref rest @ ..] if b1 < 0x80 => {
            *input = rest;
            u64::from(b0 & 0x7f) | (u64::from(b1) << 7)
        }
        [b0, b1, b2, ref rest @ ..] if b2 < 0x80 => {
            *input = rest;
            u64::from(b0 & 0x7f) | (u64::from(b1 & 0x7f) << 7) | (u64::from(b2) << 14)
        }
        _ => {
            let (value, used) = read_raw64_slow(input, what)?;
            *input = &input[used..];
            value
        }
    };
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[inline(never)]
fn read_raw64_slow(input: &[u8], what: &'static str) -> Result<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..10 {
        let Some(&b) = input.get(i) else {
            return Err(truncated(what, i + 1, input.len()));
        };
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(RecordError::VarintOverflow { what })
}

#[inline(always)]
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline(always)]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The number of bytes `v` takes as a zigzag varint.
#[inline(always)]
pub(crate) fn varint_len(v: i32) -> usize {
    let z = zigzag32(v) | 1;
    // 1 byte per started group of 7 significant bits.
    (38 - z.leading_zeros() as usize) / 7
}

/// The number of bytes `v` takes as a zigzag varlong.
#[inline(always)]
pub(crate) fn varlong_len(v: i64) -> usize {
    let z = zigzag64(v) | 1;
    (70 - z.leading_zeros() as usize) / 7
}

/// Writes `v` as a zigzag varint into `buf` at `pos`, returning the position after it. `buf`
/// must have 5 bytes free at `pos`.
#[inline(always)]
pub(crate) fn write_varint_at(buf: &mut [u8], pos: usize, v: i32) -> usize {
    write_raw_at(buf, pos, u64::from(zigzag32(v)))
}

/// Writes `v` as a zigzag varlong into `buf` at `pos`, returning the position after it. `buf`
/// must have 10 bytes free at `pos`.
#[inline(always)]
pub(crate) fn write_varlong_at(buf: &mut [u8], pos: usize, v: i64) -> usize {
    write_raw_at(buf, pos, zigzag64(v))
}

#[inline(always)]
fn write_raw_at(buf: &mut [u8], mut pos: usize, mut z: u64) -> usize {
    while z >= 0x80 {
        buf[pos] = (z as u8) | 0x80;
        z >>= 7;
        pos += 1;
    }
    buf[pos] = z as u8;
    pos + 1
}

/// Appends `v` as a zigzag varint.
#[inline(always)]
pub(crate) fn put_varint(dst: &mut Vec<u8>, v: i32) {
    let mut z = zigzag32(v);
    if z < 0x80 {
        dst.push(z as u8);
        return;
    }
    while z >= 0x80 {
        dst.push((z as u8) | 0x80);
        z >>= 7;
    }
    dst.push(z as u8);
}

/// Appends `v` as a zigzag varlong.
#[cfg(test)]
pub(crate) fn put_varlong(dst: &mut Vec<u8>, v: i64) {
    let mut z = zigzag64(v);
    if z < 0x80 {
        dst.push(z as u8);
        return;
    }
    while z >= 0x80 {
        dst.push((z as u8) | 0x80);
        z >>= 7;
    }
    dst.push(z as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings_match_kafka() {
        // From Kafka's ByteUtilsTest: zigzag maps 0,-1,1,-2 to 0,1,2,3.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "encoding {v}");
            assert_eq!(varint_len(v), bytes.len());
            let mut cur = bytes;
            assert_eq!(read_varint(&mut cur, "t").unwrap(), v);
            assert!(cur.is_empty());
        }
    }

    #[test]
    fn six_byte_varint_is_an_overflow_and_cut_varint_is_truncated() {
        let mut cur: &[u8] = &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert!(matches!(
            read_varint(&mut cur, "x"),
            Err(RecordError::VarintOverflow { what: "x" })
        ));
        let mut cur: &[u8] = &[0x80; 11];
        assert!(matches!(
            read_varlong(&mut cur, "y"),
            Err(RecordError::VarintOverflow { what: "y" })
        ));
        let mut cur: &[u8] = &[0x80, 0x80];
        assert!(matches!(
            read_varint(&mut cur, "z"),
            Err(RecordError::Truncated {
                needed: 3,
                available: 2,
                ..
            })
        ));
        let mut cur: &[u8] = &[];
        assert!(matches!(
            read_varlong(&mut cur, "z"),
            Err(RecordError::Truncated { .. })
        ));
    }

    #[test]
    fn fast_and_slow_paths_agree_near_the_end_of_the_input() {
        // The unrolled path needs five bytes in sight; shorter tails take the checked path.
        for v in [
            0,
            1,
            -1,
            63,
            64,
            -65,
            8191,
            8192,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ] {
            let mut enc = Vec::new();
            put_varint(&mut enc, v);
            for pad in 0..6 {
                let mut buf = enc.clone();
                buf.extend(std::iter::repeat_n(0xAB, pad));
                let mut cur = &buf[..];
                assert_eq!(read_varint(&mut cur, "t").unwrap(), v, "{v} pad {pad}");
                assert_eq!(cur.len(), pad);
            }
        }
        // Five bytes with the high bit on the last one: overflow on both paths.
        for tail in [&[][..], &[0u8, 0, 0][..]] {
            let mut buf = vec![0x80, 0x80, 0x80, 0x80, 0x80];
            buf.extend_from_slice(tail);
            let mut cur = &buf[..];
            assert!(matches!(
                read_varint(&mut cur, "t"),
                Err(RecordError::VarintOverflow { .. })
            ));
        }
    }

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<i32>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut arr = [0u8; 7];
            let end = write_varint_at(&mut arr, 2, v);
            prop_assert_eq!(&arr[2..end], &out[..]);
            prop_assert_eq!(out.len(), varint_len(v));
            out.extend_from_slice(&tail);
            let mut cur = &out[..];
            prop_assert_eq!(read_varint(&mut cur, "t").unwrap(), v);
            prop_assert_eq!(cur, &tail[..]);
        }

        #[test]
        fn varlongs_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            prop_assert_eq!(out.len(), varlong_len(v));
            let mut arr = [0u8; 10];
            let end = write_varlong_at(&mut arr, 0, v);
            prop_assert_eq!(&arr[..end], &out[..]);
            let mut cur = &out[..];
            prop_assert_eq!(read_varlong(&mut cur, "t").unwrap(), v);
            prop_assert!(cur.is_empty());
        }
    }
}
