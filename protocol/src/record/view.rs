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
    base_timestamp: i64,
    max_timestamp: i64,
    log_append_time: bool,
    count: i32,
}

impl Records {
    pub(crate) fn new(buf: Bytes, start: usize, header: &BatchHeader) -> Self {
        Self {
            buf,
            start,
            ctx: Context {
                base_offset: header.base_offset,
                base_timestamp: header.base_timestamp,
                max_timestamp: header.max_timestamp,
                log_append_time: header.attributes.timestamp_type() == TimestampType::LogAppendTime,
                count: header.record_count,
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

    /// Iterates the records lazily. Malformed data yields one `Err` and ends the iteration;
    /// so does a record count that disagrees with the data (too few records for the count, or
    /// bytes left after the last one).
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            source: &self.buf,
            rest: &self.buf[self.start..],
            ctx: self.ctx,
            read: 0,
            failed: false,
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
    read: u32,
    failed: bool,
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
    #[inline(always)]
    fn parse_next(&mut self) -> Result<Record<'a>> {
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
            timestamp: if ctx.log_append_time {
                ctx.max_timestamp
            } else {
                ctx.base_timestamp.wrapping_add(timestamp_delta)
            },
            offset_delta,
            attributes,
            key,
            value,
            headers,
            header_count: header_count as u32,
        })
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.read as i64 >= i64::from(self.ctx.count) {
            if self.rest.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(RecordError::TrailingBytes {
                count: self.ctx.count,
                remaining: self.rest.len(),
            }));
        }
        if self.rest.is_empty() {
            self.failed = true;
            return Some(Err(RecordError::RecordCountMismatch {
                expected: self.ctx.count,
                found: self.read,
            }));
        }
        match self.parse_next() {
            Ok(r) => {
                self.read += 1;
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            return (0, Some(0));
        }
        let left = (i64::from(self.ctx.count) - self.read as i64).max(0) as usize;
        // Trailing bytes or a shortfall add one error item.
        (0, Some(left + 1))
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
