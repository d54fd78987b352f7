//! Exponential backoff with jitter, for reconnects and retries.
//!
//! The random source is a parameter, so that tests can check the timing exactly.

use std::time::Duration;

/// A source of uniform random numbers in `[0, 1)`.
pub trait Jitter {
    /// The next number.
    fn next_unit(&mut self) -> f64;
}

/// A small, fast, non-cryptographic generator (SplitMix64), seeded from the process's random
/// hasher state. Good enough to spread retries apart; never used for secrets.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator with a seed that differs per process and per call.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
        );
        Self(h.finish())
    }

    /// A generator with a fixed seed (tests).
    pub fn with_seed(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Jitter for SplitMix {
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Exponential backoff: `base * 2^attempt`, capped at `max`, with ±20 % jitter (the Java
/// client's `ExponentialBackoff` with jitter 0.2).
///
/// ```
/// use std::time::Duration;
/// use laminar_kafka_client::backoff::{Backoff, SplitMix};
///
/// let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), SplitMix::with_seed(7));
/// let first = b.next_delay();
/// assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(120));
/// for _ in 0..10 { b.next_delay(); }
/// assert!(b.next_delay() <= Duration::from_millis(1200));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff<J = SplitMix> {
    base: Duration,
    max: Duration,
    attempt: u32,
    jitter: J,
}

impl<J: Jitter> Backoff<J> {
    /// A backoff starting at `base` and growing to at most `max`.
    pub fn new(base: Duration, max: Duration, jitter: J) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
            jitter,
        }
    }

    /// The delay before the next attempt; each call doubles the next one, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.attempt.min(30);
        self.attempt = self.attempt.saturating_add(1);
        let raw = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let factor = 0.8 + 0.4 * self.jitter.next_unit();
        raw.mul_f64(factor)
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over at `base` (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(f64);
    impl Jitter for Fixed {
        fn next_unit(&mut self) -> f64 {
            self.0
        }
    }

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(1000),
            Fixed(0.5),
        );
        let delays: Vec<u128> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![50, 100, 200, 400, 800, 1000, 1000]);
        let mut low = Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
            Fixed(0.0),
        );
        assert_eq!(low.next_delay(), Duration::from_millis(80));
        let mut high = Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
            Fixed(0.999_999),
        );
        assert!(high.next_delay() < Duration::from_millis(120));
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(50));
    }

    #[test]
    fn many_attempts_never_overflow() {
        let mut b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(10),
            SplitMix::with_seed(1),
        );
        for _ in 0..1000 {
            assert!(b.next_delay() <= Duration::from_secs(12));
        }
    }

    #[test]
    fn splitmix_is_spread_over_the_unit_interval() {
        let mut r = SplitMix::with_seed(42);
        let xs: Vec<f64> = (0..10_000).map(|_| r.next_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
