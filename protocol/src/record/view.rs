//! Records and headers as views into a batch's buffer.
//!
//! Owns the record layout inside a batch (length, attributes, timestamp and offset deltas, key,
//! value, headers) and its lazy iteration. Nothing here allocates or clones per record: a
//! [`Record`] holds `&[u8]` slices of the [`Records`] buffer (the batch's own bytes, or the one
//! decompressed buffer), and `Bytes` handles are made only on request
//! ([`Record::key_bytes`], [`Record::value_bytes`], [`Header::value_bytes`]).

use bytes::Bytes;

use super::batch::{BatchHeader, TimestampType};
use super::error::{RecordError, Result, truncated};
use super::varint::{read_varint, read_varlong};

/// The records of one batch, ready to iterate. Holds the buffer they live in.
#[derive(Debug, Clone)]
pub struct Records {
    buf: Bytes,
    start: usize,
    ctx: Context,
}

/// What every record of a batch needs from its header.
#[derive(Debug, Clone, Copy)]
struct Context {
    base_offset: i64,
    /// The base timestamp, or the max timestamp under log-append time.
    timestamp_base: i64,
    /// All ones when records carry timestamp deltas, zero under log-append time: the header
    /// decides once per batch, and each record adds `delta & timestamp_mask` without a branch.
    timestamp_mask: i64,
    count: i32,
}

impl Records {
    pub(crate) fn new(buf: Bytes, start: usize, header: &BatchHeader) -> Self {
        Self {
            buf,
            start,
            ctx: {
                let log_append_time =
                    header.attributes.timestamp_type() == TimestampType::LogAppendTime;
                Context {
                    base_offset: header.base_offset,
                    timestamp_base: if log_append_time {
                        header.max_timestamp
                    } else {
                        header.base_timestamp
                    },
                    timestamp_mask: if log_append_time { 0 } else { -1 },
                    count: header.record_count,
                }
            },
        }
    }

    /// The number of records the batch header announces.
    pub fn len(&self) -> usize {
        self.ctx.count.max(0) as usize
    }

    /// Whether the batch announces no records.
    pub fn is_empty(&self) -> bool {
        self.ctx.count <= 0
    }

    /// The buffer the records live in (the batch, or its decompressed records).
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The size of the (decompressed) record data.
    pub fn data_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The records after the first `n`, as a view of the same buffer (no copy). Only the
    /// skipped records' lengths are read, not their fields, so skipping costs a fraction of
    /// iterating; a skipped record that is malformed in its fields is not noticed here (an
    /// iteration over `self` reports it). `None` if fewer than `n` records are announced or
    /// the lengths run past the data.
    pub fn skip(&self, n: usize) -> Option<Records> {
        let count = self.len();
        if n > count {
            return None;
        }
        let buf = &self.buf[..];
        let mut p = self.start;
        for _ in 0..n {
            // Each length from one 8-byte load, as the iteration's fast path reads it.
            let (raw, used) = decode32(word_at(buf, p)?)?;
            p = p.checked_add(used)?.checked_add(length(raw)?)?;
            if p > buf.len() {
                return None;
            }
        }
        Some(Records {
            buf: self.buf.clone(),
            start: p,
            ctx: Context {
                count: i32::try_from(count - n).ok()?,
                ..self.ctx
            },
        })
    }

    /// Iterates the records lazily. Malformed data yields one `Err` and ends the iteration;
    /// so does a record count that disagrees with the data (too few records for the count, or
    /// bytes left after the last one).
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            source: &self.buf,
            rest: &self.buf[self.start..],
            ctx: self.ctx,
            left: self.ctx.count.max(0) as u32,
            done: false,
        }
    }
}

impl<'a> IntoIterator for &'a Records {
    type Item = Result<Record<'a>>;
    type IntoIter = RecordIter<'a>;

    fn into_iter(self) -> RecordIter<'a> {
        self.iter()
    }
}

/// Lazy iterator over the records of a batch; see [`Records::iter`].
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    source: &'a Bytes,
    rest: &'a [u8],
    ctx: Context,
    /// Records still to read; 0 after an error too.
    left: u32,
    /// Set once the iteration has ended (after the last record's check, or an error).
    done: bool,
}

/// One record: a view into its batch's buffer. Cheap to copy around; nothing was allocated for
/// it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    source: &'a Bytes,
    offset: i64,
    timestamp: i64,
    offset_delta: i32,
    attributes: i8,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: u32,
}

#[inline(always)]
fn take<'a>(input: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8]> {
    if n > input.len() {
        return Err(truncated(what, n, input.len()));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// Reads a varint length and that many bytes; -1 is null, below -1 an error.
#[inline(always)]
fn nullable_bytes<'a>(input: &mut &'a [u8], what: &'static str) -> Result<Option<&'a [u8]>> {
    let len = read_varint(input, what)?;
    if len >= 0 {
        take(input, len as usize, what).map(Some)
    } else if len == -1 {
        Ok(None)
    } else {
        Err(invalid_length(what, len))
    }
}

#[cold]
#[inline(never)]
fn invalid_length(what: &'static str, len: i32) -> RecordError {
    RecordError::InvalidLength {
        what,
        length: i64::from(len),
    }
}

/// Reads one header from validated or unvalidated input.
#[inline(always)]
fn read_header<'a>(input: &mut &'a [u8]) -> Result<(&'a [u8], Option<&'a [u8]>)> {
    let key_len = read_varint(input, "header key length")?;
    if key_len < 0 {
        return Err(invalid_length("header key", key_len));
    }
    let key = take(input, key_len as usize, "header key")?;
    let value = nullable_bytes(input, "header value")?;
    Ok((key, value))
}

impl<'a> RecordIter<'a> {
    /// The record at the front of `rest` and the bytes it took, or `None` if the record is
    /// malformed or `rest` is shorter than 8 bytes: [`Self::parse_checked`] then reads it again
    /// and returns it or names the error. Otherwise both accept exactly the same records (tested
    /// on the fuzz corpora and by property tests).
    ///
    /// Each varint is decoded from one 8-byte little-endian load at its position, whose bytes
    /// need not all be the record's. A varint that runs past the record's end is caught by the
    /// length checks after it: every slice ends at or before the record's end, and the fields
    /// must end exactly there. Records that end at least [`SLACK`] bytes before the end of the
    /// buffer (all but the last one or two of a batch) are read with unchecked loads; the others
    /// with loads that check and zero-pad.
    #[inline(always)]
    fn parse_fast(&self) -> Option<(Record<'a>, usize)> {
        let buf = self.rest;
        // Fewer than 8 bytes left (a last record of at most 7 bytes): the checked path reads it.
        let (raw, p) = decode32(u64::from_le_bytes(*buf.first_chunk::<8>()?))?;
        let end = p + length(raw)?;
        if end + SLACK <= buf.len() {
            self.parse_body::<false>(p, end)
        } else if end <= buf.len() {
            self.parse_body::<true>(p, end)
        } else {
            None
        }
    }

    /// The fields of the record whose body is `rest[p..end]`: see [`Self::parse_fast`].
    /// Without `CHECKED`, the caller guarantees `end + SLACK <= rest.len()`.
    #[inline(always)]
    fn parse_body<const CHECKED: bool>(&self, p: usize, end: usize) -> Option<(Record<'a>, usize)> {
        let buf = self.rest;
        // Every load below is at a position at most `end + 21` (the largest fast varints after
        // the record's start, before a length check brings the position back to at most `end`),
        // so an 8-byte load ends by `end + 29 < end + SLACK`.
        let load = |q: usize| -> Option<u64> {
            if CHECKED {
                word_at(buf, q)
            } else {
                debug_assert!(q + 8 <= buf.len());
                // SAFETY: the caller checked `end + SLACK <= buf.len()`, and every `q` passed here
                // is at most `end + 21` (see above), so `q + 8 <= buf.len()`: the 8 bytes read
                // are inside `buf`. `read_unaligned` has no alignment requirement.
                #[allow(unsafe_code)]
                Some(u64::from_le(unsafe {
                    buf.as_ptr().add(q).cast::<u64>().read_unaligned()
                }))
            }
        };
        let body = buf.get(..end)?;
        // p <= end
        let attributes = load(p)? as u8 as i8;
        // p + 1 <= end + 1
        let (raw_ts, n) = match decode64(load(p + 1)?) {
            Some(v) => v,
            None => long_varlong(buf, p + 1)?,
        };
        let p = p + 1 + n;
        // p <= end + 11 (a long varlong takes at most 10 bytes)
        let (raw_offset, n) = decode32(load(p)?)?;
        let p = p + n;
        // p <= end + 16
        let (key, p) = nullable(load(p)?, body, p)?;
        // p <= end from here on
        let (value, p) = nullable(load(p)?, body, p)?;
        let (raw_count, n) = decode32(load(p)?)?;
        let headers_start = p + n;
        let header_count = length(raw_count)?;
        let mut p = headers_start;
        for _ in 0..header_count {
            // p <= end + 5
            let (raw_key_len, n) = decode32(load(p)?)?;
            let q = p + n + length(raw_key_len)?;
            if q > end {
                return None;
            }
            p = nullable(load(q)?, body, q)?.1;
        }
        if p != end {
            return None;
        }
        let ctx = &self.ctx;
        let offset_delta = zigzag32(raw_offset);
        Some((
            Record {
                source: self.source,
                offset: ctx.base_offset.wrapping_add(i64::from(offset_delta)),
                timestamp: ctx
                    .timestamp_base
                    .wrapping_add(zigzag64(raw_ts) & ctx.timestamp_mask),
                offset_delta,
                attributes,
                key,
                value,
                headers: body.get(headers_start..)?,
                header_count: header_count as u32,
            },
            end,
        ))
    }

    /// Reads the record at the front of `rest` with every check spelled out, for the cases
    /// [`Self::parse_fast`] leaves: the same record, or the typed error that describes what is
    /// wrong with it.
    #[cold]
    #[inline(never)]
    fn parse_checked(&mut self) -> Result<Record<'a>> {
        let len = read_varint(&mut self.rest, "record length")?;
        if len < 0 {
            return Err(invalid_length("record", len));
        }
        let mut body = take(&mut self.rest, len as usize, "record")?;
        let declared = body.len();
        let attributes = match *body {
            [a, ref rest @ ..] => {
                body = rest;
                a as i8
            }
            [] => return Err(truncated("record attributes", 1, 0)),
        };
        let timestamp_delta = read_varlong(&mut body, "timestamp delta")?;
        let offset_delta = read_varint(&mut body, "offset delta")?;
        let key = nullable_bytes(&mut body, "record key")?;
        let value = nullable_bytes(&mut body, "record value")?;
        let header_count = read_varint(&mut body, "header count")?;
        if header_count < 0 {
            return Err(invalid_length("header count", header_count));
        }
        let headers = body;
        for _ in 0..header_count {
            read_header(&mut body)?;
        }
        if !body.is_empty() {
            return Err(RecordError::RecordLengthMismatch {
                offset_delta,
                declared,
                used: declared - body.len(),
            });
        }
        let headers = &headers[..headers.len() - body.len()];
        let ctx = &self.ctx;
        Ok(Record {
            source: self.source,
            offset: ctx.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: ctx
                .timestamp_base
                .wrapping_add(timestamp_delta & ctx.timestamp_mask),
            offset_delta,
            attributes,
            key,
            value,
            headers,
            header_count: header_count as u32,
        })
    }

    /// The rare cases of `next`: the count is reached (or an error ended the iteration), or the
    /// fast path declined the record.
    ///
    /// Returns `Result<Option<_>>` rather than the iterator's `Option<Result<_>>` so that `next`
    /// builds its result afresh: the record of the fast path then stays in registers instead of
    /// going through this function's return slot.
    #[cold]
    #[inline(never)]
    fn next_slow(&mut self) -> Result<Option<Record<'a>>> {
        if self.done {
            return Ok(None);
        }
        if self.left == 0 {
            self.done = true;
            if self.rest.is_empty() {
                return Ok(None);
            }
            return Err(RecordError::TrailingBytes {
                count: self.ctx.count,
                remaining: self.rest.len(),
            });
        }
        if self.rest.is_empty() {
            return Err(self.fail(RecordError::RecordCountMismatch {
                expected: self.ctx.count,
                found: self.read(),
            }));
        }
        match self.parse_checked() {
            Ok(r) => {
                self.left -= 1;
                Ok(Some(r))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Records read so far.
    fn read(&self) -> u32 {
        self.ctx.count.max(0) as u32 - self.left
    }

    /// Ends the iteration with `e`.
    fn fail(&mut self, e: RecordError) -> RecordError {
        self.left = 0;
        self.done = true;
        e
    }
}

/// Bytes past a record's end that the unchecked fast path may load (see
/// [`RecordIter::parse_body`]).
const SLACK: usize = 32;

/// The length a zigzag-encoded raw varint holds, if it is not negative.
#[inline(always)]
fn length(raw: u32) -> Option<usize> {
    if raw & 1 == 0 {
        Some((raw >> 1) as usize)
    } else {
        None
    }
}

#[inline(always)]
fn zigzag32(raw: u32) -> i32 {
    ((raw >> 1) as i32) ^ -((raw & 1) as i32)
}

#[inline(always)]
fn zigzag64(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// The 8 bytes at `buf[p..]` as a little-endian word, zero-padded past the end of `buf`;
/// `None` if `p` is at or past the end.
///
/// A varint that runs into the padding ends beyond `buf`, so past the record's end: the checks
/// after it reject the record, as the checked path does.
#[inline(always)]
fn word_at(buf: &[u8], p: usize) -> Option<u64> {
    match buf.get(p..).and_then(|b| b.first_chunk::<8>()) {
        Some(w) => Some(u64::from_le_bytes(*w)),
        None => word_at_tail(buf, p),
    }
}

#[cold]
#[inline(never)]
fn word_at_tail(buf: &[u8], p: usize) -> Option<u64> {
    let tail = buf.get(p..).filter(|t| !t.is_empty())?;
    let mut w = [0u8; 8];
    let n = tail.len().min(8);
    w[..n].copy_from_slice(&tail[..n]);
    Some(u64::from_le_bytes(w))
}

/// The raw (still zigzag-encoded) varint of at most 5 bytes at the start of the little-endian
/// word `w`, and its size; `None` if it is longer.
#[inline(always)]
fn decode32(w: u64) -> Option<(u32, usize)> {
    if w & 0x80 == 0 {
        return Some(((w & 0x7f) as u32, 1));
    }
    if w & 0x8000 == 0 {
        return Some((((w & 0x7f) | ((w >> 1) & 0x3f80)) as u32, 2));
    }
    // Bytes 2–4: the first one without the continuation bit ends the varint.
    let stops = !w & 0x80_8080_8080;
    if stops == 0 {
        return None;
    }
    let n = (stops.trailing_zeros() as usize + 1) / 8;
    let x = w & (u64::MAX >> (64 - 8 * n));
    // Like Java, the bits beyond 32 of a 5-byte varint are dropped.
    let v = (x & 0x7f)
        | ((x >> 1) & 0x3f80)
        | ((x >> 2) & 0x1f_c000)
        | ((x >> 3) & 0x0fe0_0000)
        | ((x >> 4) & 0x7_f000_0000);
    Some((v as u32, n))
}

/// The raw varlong of at most 8 bytes at the start of `w`, and its size; `None` if it is longer
/// (timestamp deltas beyond ±2^55 ms).
#[inline(always)]
fn decode64(w: u64) -> Option<(u64, usize)> {
    if w & 0x80 == 0 {
        return Some((w & 0x7f, 1));
    }
    if w & 0x8000 == 0 {
        return Some(((w & 0x7f) | ((w >> 1) & 0x3f80), 2));
    }
    let stops = !w & 0x8080_8080_8080_8080;
    if stops == 0 {
        return None;
    }
    let n = (stops.trailing_zeros() as usize + 1) / 8;
    let x = w & (u64::MAX >> (64 - 8 * n));
    let mut v = 0;
    for i in 0..8 {
        v |= ((x >> (8 * i)) & 0x7f) << (7 * i);
    }
    Some((v, n))
}

/// A varlong of 9 or 10 bytes at `buf[p..]` (or an overflowing one, `None`), read by the
/// checked reader: the raw value and its size.
#[cold]
#[inline(never)]
fn long_varlong(buf: &[u8], p: usize) -> Option<(u64, usize)> {
    let mut cur = buf.get(p..)?;
    let before = cur.len();
    let v = read_varlong(&mut cur, "timestamp delta").ok()?;
    // Back to the raw form: the caller decodes the zigzag.
    Some((((v << 1) ^ (v >> 63)) as u64, before - cur.len()))
}

/// A nullable byte field (varint length, -1 for null; `w` is the word at `p`) that must end
/// within `body`, and the position after it.
#[inline(always)]
fn nullable(w: u64, body: &[u8], p: usize) -> Option<(Option<&[u8]>, usize)> {
    let (raw, n) = decode32(w)?;
    let p = p + n;
    if raw & 1 == 0 {
        // `checked_add` tells the compiler that `p <= q`: one check is left, `q <= body.len()`.
        let q = p.checked_add((raw >> 1) as usize)?;
        Some((Some(body.get(p..q)?), q))
    } else if raw == 1 && p <= body.len() {
        Some((None, p))
    } else {
        None
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left != 0 {
            if let Some((record, used)) = self.parse_fast() {
                self.rest = &self.rest[used..];
                self.left -= 1;
                return Some(Ok(record));
            }
        }
        // The slow path works on a copy, so that `self` never has its address taken in the
        // loop: its fields can then stay in registers (through memory, the next record's
        // position waited on a store-to-load forwarding every time).
        let mut copy = self.clone();
        let result = copy.next_slow();
        *self = copy;
        match result {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // Trailing bytes or a shortfall add one error item.
        (0, Some(self.left as usize + 1))
    }
}

impl std::iter::FusedIterator for RecordIter<'_> {}

impl<'a> Record<'a> {
    /// The record's offset: base offset + offset delta.
    #[inline]
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The offset delta within the batch.
    #[inline]
    pub fn offset_delta(&self) -> i32 {
        self.offset_delta
    }

    /// The record's timestamp: base timestamp + delta, or the batch's max timestamp under
    /// log-append time.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The record attributes byte (unused by Kafka so far).
    #[inline]
    pub fn attributes(&self) -> i8 {
        self.attributes
    }

    /// The key, `None` if null.
    #[inline]
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value, `None` if null (a tombstone on compacted topics).
    #[inline]
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The key as a `Bytes` sharing the batch's buffer (one reference-count increment).
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.map(|k| self.source.slice_ref(k))
    }

    /// The value as a `Bytes` sharing the batch's buffer (one reference-count increment).
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.source.slice_ref(v))
    }

    /// The number of headers.
    #[inline]
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }

    /// The headers, in order, repeated keys included.
    #[inline]
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            source: self.source,
            rest: self.headers,
            left: self.header_count,
        }
    }

    /// The buffer this record lives in.
    pub fn buffer(&self) -> &'a Bytes {
        self.source
    }
}

/// Iterator over a record's headers, in order. The headers were validated when the record was
/// read, so this iterator cannot fail.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    source: &'a Bytes,
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated by `RecordIter::parse_next`, so `ok()` never drops a header.
        let (key, value) = read_header(&mut self.rest).ok()?;
        Some(Header {
            source: self.source,
            key,
            value,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Headers<'_> {}

/// One record header: a key (a string in Kafka's schema, UTF-8 checked on request) and a
/// nullable value.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    source: &'a Bytes,
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// The key's bytes.
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The key as a string; [`RecordError::InvalidHeaderKey`] if it is not UTF-8.
    pub fn key_str(&self) -> Result<&'a str> {
        Ok(std::str::from_utf8(self.key)?)
    }

    /// The value, `None` if null.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The value as a `Bytes` sharing the batch's buffer.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.source.slice_ref(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::varint::{put_varint, put_varlong};
    use proptest::prelude::*;

    fn iter_over(source: &Bytes) -> RecordIter<'_> {
        RecordIter {
            source,
            rest: source,
            ctx: Context {
                base_offset: 100,
                timestamp_base: 1_000,
                timestamp_mask: -1,
                count: 1,
            },
            left: 1,
            done: false,
        }
    }

    type Fields<'a> = (
        i64,
        i64,
        i32,
        i8,
        Option<&'a [u8]>,
        Option<&'a [u8]>,
        &'a [u8],
        u32,
    );

    fn fields<'a>(r: &Record<'a>) -> Fields<'a> {
        (
            r.offset,
            r.timestamp,
            r.offset_delta,
            r.attributes,
            r.key,
            r.value,
            r.headers,
            r.header_count,
        )
    }

    /// The fast path and the checked path agree on `data`: the same record and size, or both
    /// refuse it.
    fn assert_paths_agree(data: &[u8]) {
        let source = Bytes::copy_from_slice(data);
        let fast = iter_over(&source).parse_fast();
        let mut checked_iter = iter_over(&source);
        let checked = checked_iter.parse_checked();
        match (fast, checked) {
            (Some((f, used)), Ok(c)) => {
                assert_eq!(fields(&f), fields(&c), "{data:?}");
                assert_eq!(used, data.len() - checked_iter.rest.len(), "{data:?}");
            }
            (None, Err(_)) => {}
            // The fast path wants 8 bytes in sight for the record's length.
            (None, Ok(_)) if data.len() < 8 => {}
            (f, c) => panic!(
                "paths disagree on {data:?}: fast {:?}, checked {:?}",
                f.map(|(r, u)| (fields(&r), u)),
                c.map(|r| fields(&r))
            ),
        }
    }

    #[allow(clippy::type_complexity)]
    fn encode(
        attributes: u8,
        ts: i64,
        offset: i32,
        key: &Option<Vec<u8>>,
        value: &Option<Vec<u8>>,
        headers: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Vec<u8> {
        let mut body = vec![attributes];
        put_varlong(&mut body, ts);
        put_varint(&mut body, offset);
        for field in [key, value] {
            match field {
                Some(b) => {
                    put_varint(&mut body, b.len() as i32);
                    body.extend_from_slice(b);
                }
                None => put_varint(&mut body, -1),
            }
        }
        put_varint(&mut body, headers.len() as i32);
        for (k, v) in headers {
            put_varint(&mut body, k.len() as i32);
            body.extend_from_slice(k);
            match v {
                Some(b) => {
                    put_varint(&mut body, b.len() as i32);
                    body.extend_from_slice(b);
                }
                None => put_varint(&mut body, -1),
            }
        }
        let mut out = Vec::new();
        put_varint(&mut out, body.len() as i32);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn skip_starts_at_the_nth_record_and_refuses_what_is_not_there() {
        use crate::record::{BatchBuilder, Compression, DecodeOptions, batches};
        let mut b = BatchBuilder::new(Compression::None);
        b.set_base_offset(40);
        for i in 0..5u8 {
            b.append(0, None, Some(&vec![i; usize::from(i) * 100]), &[])
                .expect("append");
        }
        let wire = b.finish().expect("batch");
        let batch = batches(wire, DecodeOptions::default())
            .next()
            .expect("a batch")
            .expect("valid");
        let records = batch.records().expect("records");
        for n in 0..=5 {
            let rest = records.skip(n).expect("within the count");
            assert_eq!(rest.len(), 5 - n);
            let offsets: Vec<i64> = rest.iter().map(|r| r.expect("valid").offset()).collect();
            assert_eq!(offsets, (40 + n as i64..45).collect::<Vec<_>>());
        }
        assert!(records.skip(6).is_none(), "more than the count");
        // A length that runs past the data.
        let mut bad = records.buffer().to_vec();
        let start = bad.len() - records.data_len();
        bad[start] = 0x7e; // 63: longer than the first record
        bad.truncate(start + 10);
        let short = Records {
            buf: Bytes::from(bad),
            start,
            ctx: records.ctx,
        };
        assert!(short.skip(1).is_none());
        assert_eq!(short.skip(0).map(|r| r.len()), Some(5));
    }

    #[test]
    fn fast_path_handles_long_varints_and_the_end_of_the_buffer() {
        for ts in [0, 1, -1, 1 << 20, 1 << 50, 1 << 56, i64::MAX, i64::MIN] {
            for offset in [0, 300, -70_000, i32::MAX, i32::MIN] {
                let rec = encode(0, ts, offset, &Some(b"k".to_vec()), &None, &[]);
                for pad in [0, 1, 7, 8, 31, 32, 40] {
                    let mut data = rec.clone();
                    data.extend(std::iter::repeat_n(0x80, pad));
                    assert_paths_agree(&data);
                    let source = Bytes::from(data);
                    let (r, used) = iter_over(&source).parse_fast().expect("valid record");
                    assert_eq!(
                        (r.timestamp, r.offset_delta),
                        (1_000i64.wrapping_add(ts), offset)
                    );
                    assert_eq!(used, rec.len());
                }
            }
        }
    }

    proptest! {
        #[test]
        fn fast_and_checked_paths_agree_on_records_and_their_corruptions(
            attributes in any::<u8>(),
            ts in prop_oneof![any::<i64>(), -20_000i64..20_000],
            offset in prop_oneof![any::<i32>(), 0i32..20_000],
            key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            headers in proptest::collection::vec(
                (
                    proptest::collection::vec(any::<u8>(), 0..5),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..5)),
                ),
                0..3,
            ),
            pad in proptest::collection::vec(any::<u8>(), 0..48),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in any::<prop::sample::Index>(),
            cut_it in any::<bool>(),
        ) {
            let mut data = encode(attributes, ts, offset, &key, &value, &headers);
            data.extend_from_slice(&pad);
            assert_paths_agree(&data);
            for (at, byte) in &edits {
                let i = at.index(data.len());
                data[i] = *byte;
            }
            if cut_it {
                data.truncate(cut.index(data.len() + 1));
            }
            assert_paths_agree(&data);
        }

        #[test]
        fn fast_and_checked_paths_agree_on_noise(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            assert_paths_agree(&data);
        }
    }
}
