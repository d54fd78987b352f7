//! Choosing a partition for a record: murmur2 for keyed records (bit-for-bit as the Java client),
//! uniform sticky for unkeyed ones (KIP-794).

use crate::backoff::SplitMix;
use crate::metadata::TopicInfo;

use super::fast_hash::FastMap;

/// Kafka's murmur2 hash of a key, as the Java client's `Utils.murmur2` computes it.
///
/// ```
/// use laminar_kafka_client::producer::partitioner::murmur2;
/// // Values from the Java client's own tests.
/// assert_eq!(murmur2(b"21"), -973932308);
/// assert_eq!(murmur2(b"foobar"), -790332482);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client's default partitioner gives a keyed record:
/// `(murmur2(key) & 0x7fffffff) % num_partitions`.
pub fn partition_for_key(key: &[u8], num_partitions: usize) -> i32 {
    ((murmur2(key) as u32 & 0x7fff_ffff) % num_partitions.max(1) as u32) as i32
}

/// The uniform sticky partitioner for records without a key: stay on one partition until about
/// `batch.size` bytes went to it, then move to another partition at random (among those that
/// have a leader), as the Java client does since KIP-794.
///
/// Each topic has its own sticky partition and byte count, as the Java client keeps one
/// `BuiltInPartitioner` per topic: sends to one topic never move another topic's partition.
#[derive(Debug)]
pub struct StickyPartitioner {
    topics: FastMap<String, Sticky>,
    /// The topic of the last call and its state, kept out of the map: a run of records to one
    /// topic finds its state by one comparison of names.
    last: Option<(String, Sticky)>,
    batch_size: usize,
    rng: SplitMix,
}

/// One topic's sticky state.
#[derive(Debug, Default)]
struct Sticky {
    current: Option<i32>,
    bytes_on_current: usize,
}

impl StickyPartitioner {
    /// A partitioner that switches after `batch_size` bytes.
    pub fn new(batch_size: usize) -> Self {
        Self {
            topics: FastMap::default(),
            last: None,
            batch_size: batch_size.max(1),
            rng: SplitMix::from_entropy(),
        }
    }

    /// The partition for the next unkeyed record of `record_size` bytes of `topic`: the topic's
    /// current one, or, when it has had its `batch.size` bytes (or lost its leader), another one
    /// with a leader, chosen at random. The partitions with a leader are looked at only then.
    ///
    /// Hot path: the same topic as the last call's is found by a comparison of names, another
    /// by a hash lookup; the topic's state is allocated once.
    pub fn partition(&mut self, record_size: usize, topic: &TopicInfo) -> i32 {
        let name = topic.name.as_str();
        if self.last.as_ref().is_none_or(|(n, _)| n != name) {
            let entry = self
                .topics
                .remove_entry(name)
                .unwrap_or_else(|| (name.to_owned(), Sticky::default()));
            if let Some((n, s)) = self.last.replace(entry) {
                self.topics.insert(n, s);
            }
        }
        let batch_size = self.batch_size;
        let Some((_, state)) = self.last.as_mut() else {
            return 0; // set above
        };
        let num_partitions = topic.partitions.len();
        let stay = state.current.filter(|p| {
            state.bytes_on_current < batch_size
                && topic.partition(*p).is_some_and(|info| info.leader >= 0)
        });
        let p = match stay {
            Some(p) => p,
            None => {
                let mut choices: Vec<i32> = topic
                    .partitions
                    .iter()
                    .filter(|p| p.leader >= 0)
                    .map(|p| p.partition)
                    .collect();
                if choices.is_empty() {
                    // No leader anywhere right now: pick among all; the sender waits for one.
                    choices = (0..num_partitions as i32).collect();
                }
                let previous = state.current;
                let mut pick = choices
                    .get((self.rng.next_u64() % choices.len().max(1) as u64) as usize)
                    .copied()
                    .unwrap_or(0);
                if choices.len() > 1 && Some(pick) == previous {
                    // Move on rather than land on the same partition again.
                    let idx = choices.iter().position(|c| *c == pick).unwrap_or(0);
                    pick = choices[(idx + 1) % choices.len()];
                }
                state.current = Some(pick);
                state.bytes_on_current = 0;
                pick
            }
        };
        state.bytes_on_current += record_size;
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Test vectors from the Java client's UtilsTest.testMurmur2.
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn keyed_partition_masks_rather_than_abs() {
        // A negative hash must be masked to a positive value before the modulo.
        let key = b"21"; // murmur2 = -973932308
        let expected = ((-973932308i32 as u32 & 0x7fff_ffff) % 6) as i32;
        assert_eq!(partition_for_key(key, 6), expected);
        for n in 1..20 {
            let p = partition_for_key(b"some-key", n);
            assert!((0..n as i32).contains(&p));
        }
    }

    fn topic(leaders: &[i32]) -> TopicInfo {
        named_topic("t", leaders)
    }

    fn named_topic(name: &str, leaders: &[i32]) -> TopicInfo {
        TopicInfo {
            name: name.to_owned(),
            id: uuid::Uuid::nil(),
            is_internal: false,
            partitions: leaders
                .iter()
                .enumerate()
                .map(|(i, l)| crate::metadata::PartitionInfo {
                    partition: i as i32,
                    leader: *l,
                    leader_epoch: 0,
                    replicas: vec![],
                    isr: vec![],
                    offline_replicas: vec![],
                    error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn sticky_partitioner_stays_for_a_batch_then_moves() {
        let all = topic(&[1; 6]);
        let mut s = StickyPartitioner::new(1000);
        let first = s.partition(100, &all);
        for _ in 0..9 {
            assert_eq!(s.partition(100, &all), first);
        }
        let next = s.partition(100, &all);
        assert_ne!(next, first, "switches after batch.size bytes");
        // Only partitions with a leader are chosen.
        let some = topic(&[-1, -1, 1, -1, 1, -1]);
        let mut s = StickyPartitioner::new(10);
        for _ in 0..100 {
            let p = s.partition(20, &some);
            assert!(p == 2 || p == 4);
        }
        // A partition that loses its leader is left at once.
        let mut s = StickyPartitioner::new(1 << 20);
        let p = s.partition(1, &all);
        let mut leaders = [1; 6];
        leaders[p as usize] = -1;
        assert_ne!(s.partition(1, &topic(&leaders)), p);
    }

    #[test]
    fn sticky_state_is_kept_per_topic() {
        // Unkeyed sends alternate between a 6-partition and a 1-partition topic: the
        // 1-partition topic must not drag the other one onto its partition 0.
        let wide = named_topic("wide", &[1; 6]);
        let narrow = named_topic("narrow", &[1]);
        let mut s = StickyPartitioner::new(1000);
        let mut on_wide = Vec::new();
        for _ in 0..600 {
            on_wide.push(s.partition(100, &wide));
            assert_eq!(s.partition(100, &narrow), 0);
        }
        // Ten 100-byte records per batch.size of 1000, then a switch: runs of exactly ten.
        for run in on_wide.chunks(10) {
            assert!(
                run.iter().all(|p| *p == run[0]),
                "one partition per batch.size: {run:?}"
            );
        }
        for w in on_wide.chunks(10).collect::<Vec<_>>().windows(2) {
            assert_ne!(w[0][0], w[1][0], "moves on after batch.size bytes");
        }
        let mut counts = [0usize; 6];
        for p in &on_wide {
            counts[*p as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| *c > 0 && *c < 300),
            "records spread over the wide topic's partitions: {counts:?}"
        );
    }
}
