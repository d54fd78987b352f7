//! Reused buffers for decompressed batches.
//!
//! Decompressing a batch into a freshly allocated buffer costs more than it seems: a buffer of a
//! megabyte or more comes straight from the operating system, and every one of its pages faults
//! on first write. The decompressed records are handed out as views into a [`Bytes`] (zero-copy),
//! so the buffer cannot simply be reused by the next batch: it lives as long as any view of it.
//!
//! [`PooledBuf`] owns a `Vec<u8>` taken from a small process-wide pool and is turned into a
//! `Bytes` with [`Bytes::from_owner`]. When the last view of that `Bytes` is dropped, so is the
//! owner, and its `Vec` goes back to the pool for the next batch: memory that is already mapped,
//! and (for codecs that write into initialised memory) already initialised. The pool keeps at
//! most [`MAX_POOLED`] buffers of at most [`MAX_POOLED_CAPACITY`] bytes each, and at most
//! [`MAX_POOLED_BYTES`] in all; others are freed.

use std::sync::Mutex;

use bytes::Bytes;

/// How many free buffers the pool keeps.
pub(crate) const MAX_POOLED: usize = 16;
/// The largest buffer the pool keeps (bigger ones are freed when dropped).
pub(crate) const MAX_POOLED_CAPACITY: usize = 32 * 1024 * 1024;
/// The most memory the free buffers of the pool hold together.
pub(crate) const MAX_POOLED_BYTES: usize = 64 * 1024 * 1024;

/// The free buffers, and the sum of their capacities.
static POOL: Mutex<(Vec<Vec<u8>>, usize)> = Mutex::new((Vec::new(), 0));

/// A buffer from the pool: `vec`'s first `len` bytes are the data; the rest of `vec` (up to
/// `vec.len()`) is initialised memory that a codec may write into without zero-filling it again.
#[derive(Debug, Default)]
pub(crate) struct PooledBuf {
    vec: Vec<u8>,
    len: usize,
}

impl PooledBuf {
    /// A buffer from the pool (empty data), or a new one if the pool is empty.
    pub(crate) fn take() -> Self {
        let vec = POOL
            .lock()
            .ok()
            .and_then(|mut pool| {
                let vec = pool.0.pop()?;
                pool.1 -= vec.capacity();
                Some(vec)
            })
            .unwrap_or_default();
        Self { vec, len: 0 }
    }

    /// The vector to write into; its length counts initialised bytes, not data (see
    /// [`Self::set_len`]).
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.vec
    }

    /// Sets how many bytes at the start of the vector are the data (at most its length).
    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len.min(self.vec.len());
    }

    /// The data as a `Bytes` whose buffer returns to the pool once every view of it is dropped.
    pub(crate) fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.vec[..self.len]
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let vec = std::mem::take(&mut self.vec);
        if vec.capacity() == 0 || vec.capacity() > MAX_POOLED_CAPACITY {
            return;
        }
        if let Ok(mut pool) = POOL.lock() {
            if pool.0.len() < MAX_POOLED && pool.1 + vec.capacity() <= MAX_POOLED_BYTES {
                pool.1 += vec.capacity();
                pool.0.push(vec);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_returns_to_the_pool_when_its_last_view_is_dropped() {
        let mut buf = PooledBuf::take();
        buf.vec_mut().clear();
        buf.vec_mut().extend_from_slice(&[7u8; 4096]);
        buf.set_len(100);
        let bytes = buf.freeze();
        assert_eq!(bytes.len(), 100);
        let view = bytes.slice(10..20);
        drop(bytes);
        // The view keeps the buffer alive, and its contents intact.
        assert_eq!(&view[..], &[7u8; 10]);
        drop(view);
        // Back in the pool (other tests share it, so it may already be taken again).
        drop(PooledBuf::take());
    }

    #[test]
    fn the_pool_stays_within_its_bounds() {
        let bufs: Vec<PooledBuf> = (0..MAX_POOLED + 4)
            .map(|_| {
                let mut b = PooledBuf::take();
                b.vec_mut().reserve(8 * 1024 * 1024);
                b
            })
            .collect();
        let mut huge = PooledBuf::take();
        huge.vec_mut().reserve(MAX_POOLED_CAPACITY + 1);
        drop(huge);
        drop(bufs);
        let pool = POOL.lock().unwrap();
        assert!(pool.0.len() <= MAX_POOLED);
        assert!(pool.1 <= MAX_POOLED_BYTES);
        assert_eq!(pool.1, pool.0.iter().map(Vec::capacity).sum::<usize>());
        assert!(pool.0.iter().all(|v| v.capacity() <= MAX_POOLED_CAPACITY));
    }

    #[test]
    fn set_len_never_exceeds_the_initialised_bytes() {
        let mut buf = PooledBuf::default();
        buf.vec_mut().resize(10, 1);
        buf.set_len(20);
        assert_eq!(buf.as_ref().len(), 10);
    }
}
