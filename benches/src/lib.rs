//! Workloads shared by the benchmarks in `benches/benches/`.

/// One record of a benchmark workload.
#[derive(Debug, Clone)]
pub struct BenchRecord {
    /// Creation timestamp.
    pub timestamp: i64,
    /// A 10-byte key.
    pub key: [u8; 10],
    /// A 100-byte value.
    pub value: Vec<u8>,
}

/// `n` records with 10-byte keys and 100-byte values shaped like JSON events: repeated field names
/// and a few small varying numbers, so that codecs compress them about as well as real data
/// (lz4 roughly 2.5×, zstd roughly 5×).
pub fn event_records(n: usize) -> Vec<BenchRecord> {
    let pages = [
        "/",
        "/cart",
        "/products",
        "/checkout",
        "/search",
        "/account",
    ];
    let kinds = ["click", "view", "scroll", "purchase"];
    (0..n)
        .map(|i| {
            let mut key = [0u8; 10];
            key.copy_from_slice(format!("user{:06}", (i * 7919) % 1_000_000).as_bytes());
            let mut value = format!(
                r#"{{"id":{i},"kind":"{}","page":"{}","ms":{},"ok":{}}}"#,
                kinds[(i * 31) % kinds.len()],
                pages[(i * 17) % pages.len()],
                (i * 2_654_435_761usize) % 100_000,
                i % 3 == 0,
            )
            .into_bytes();
            value.resize(100, b' ');
            BenchRecord {
                timestamp: 1_700_000_000_000 + i as i64,
                key,
                value,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_advertised_shape() {
        let r = event_records(1000);
        assert_eq!(r.len(), 1000);
        assert!(
            r.iter()
                .all(|r| r.value.len() == 100 && r.key.starts_with(b"user"))
        );
        assert_ne!(r[1].value, r[2].value);
    }
}
