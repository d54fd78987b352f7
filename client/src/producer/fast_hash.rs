//! A fast hasher for the producer's per-record lookups by topic name (the accumulator's queues,
//! the sticky partitioner's state): the multiply-and-rotate hash of rustc's `FxHasher`, 8 bytes
//! at a time. The keys are topic names the application chose, not input from the network, so
//! the standard library's SipHash (a flood-resistant hash, ~4 times slower on short names) buys
//! nothing on this path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// Fx-style hashing: `h = (h.rotl(5) ^ word) * K` per 8-byte word.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits and its tag from the top 7: fold the
        // well-mixed high bits down.
        self.hash.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    fn hash(s: &str) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(s)
    }

    #[test]
    fn names_that_differ_hash_apart_and_maps_find_them() {
        let names = [
            "",
            "a",
            "ab",
            "ab\0",
            "events",
            "events-1",
            "events-2",
            "long-topic-name-x",
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(hash(a), hash(b), "{a:?} and {b:?}");
            }
        }
        let mut map: FastMap<String, usize> = FastMap::default();
        for (i, n) in names.iter().enumerate() {
            map.insert((*n).to_owned(), i);
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(map.get(*n), Some(&i));
        }
        assert_eq!(hash("events"), hash("events"));
    }
}
