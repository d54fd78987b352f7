//! Seeded randomness: every random choice a test makes (when to cut a connection, when to kill
//! a process) comes from one seed, printed at the start and again when the test fails, so that a
//! failing run can be replayed.
//!
//! [`test_seed`] is the one place a seed comes from: `LAMINAR_TEST_SEED` when it is set, else the
//! older per-test variables of [`OLDER_SEED_VARIABLES`] (`KILL_SEED` of the connector's kill
//! tests), else a fresh one. Replay a run with `LAMINAR_TEST_SEED=<seed> cargo test -p
//! laminar-kafka-tests --test <file> <test>`.

use std::fmt;

use laminar_kafka_client::backoff::SplitMix;

/// The variable that fixes the seed of every seeded test.
pub const SEED_VARIABLE: &str = "LAMINAR_TEST_SEED";

/// Variables that fixed a test's seed before [`SEED_VARIABLE`], still read (after it) so that
/// replay commands already written down keep working: `KILL_SEED` (the connector's kill tests).
pub const OLDER_SEED_VARIABLES: &[&str] = &["KILL_SEED"];

/// The seed of one test. Printed when made; printed again, with the command that replays it,
/// when it is dropped while the test panics — so every failure message of the test carries it.
#[derive(Debug)]
pub struct Seed {
    test: String,
    value: u64,
}

impl Seed {
    /// The seed.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// A generator seeded with it; a test that needs several independent streams calls this once
    /// per stream and derives them from the first values.
    pub fn rng(&self) -> SplitMix {
        SplitMix::with_seed(self.value)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SEED_VARIABLE}={}", self.value)
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{}: failed with seed {}; replay with {self}",
                self.test, self.value
            );
        }
    }
}

/// The seed of the test `test` (its name, for the messages): [`SEED_VARIABLE`] if set, else the
/// first of [`OLDER_SEED_VARIABLES`] that is set, else a fresh seed. Printed to stderr at once.
///
/// # Panics
///
/// When a seed variable is set but is not a `u64`: a replay must not silently run another seed.
pub fn test_seed(test: &str) -> Seed {
    let given = std::iter::once(SEED_VARIABLE)
        .chain(OLDER_SEED_VARIABLES.iter().copied())
        .find_map(|name| {
            let text = std::env::var(name).ok()?;
            let value = text
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{name}={text:?} is not a seed (a u64): {e}"));
            Some((name, value))
        });
    let (source, value) = given.unwrap_or_else(|| ("fresh", SplitMix::from_entropy().next_u64()));
    let seed = Seed {
        test: test.to_owned(),
        value,
    };
    eprintln!("{test}: seed {value} ({source}); replay with {seed}");
    seed
}

/// A deterministic string of printable characters (ASCII letters, digits, spaces and a few
/// multi-byte UTF-8 characters), never containing a tab, newline, `|` or `:`.
pub fn text(seed: u64, len: usize) -> String {
    const ALPHABET: &[&str] = &[
        "a", "b", "c", "d", "e", "f", "g", "h", "k", "m", "n", "p", "q", "r", "s", "t", "w", "x",
        "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "é", "✓", "ß", "日",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::new();
    while out.chars().count() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_stream_and_names_the_variable() {
        let seed = Seed {
            test: "t".to_owned(),
            value: 42,
        };
        assert_eq!(seed.to_string(), "LAMINAR_TEST_SEED=42");
        let (mut a, mut b) = (seed.rng(), seed.rng());
        assert_eq!(
            (0..4).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..4).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
    }
}
