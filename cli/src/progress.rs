//! A progress line on stderr for long runs (when stderr is a terminal): records/s and MB/s, at
//! most once a second; and a summary line at the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    what: &'static str,
    start: Instant,
    last: Instant,
    records: u64,
    bytes: u64,
    shown: bool,
    tty: bool,
}

impl Progress {
    pub(crate) fn new(what: &'static str) -> Self {
        let now = Instant::now();
        Self {
            what,
            start: now,
            last: now,
            records: 0,
            bytes: 0,
            shown: false,
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub(crate) fn add(&mut self, records: u64, bytes: u64) {
        self.records += records;
        self.bytes += bytes;
        if self.tty && self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            self.shown = true;
            eprint!("\r{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        format!(
            "{} {} records, {:.1} MB in {:.1}s: {:.0} records/s, {:.1} MB/s",
            self.what,
            self.records,
            self.bytes as f64 / 1e6,
            secs,
            self.records as f64 / secs,
            self.bytes as f64 / 1e6 / secs
        )
    }

    /// Prints the final summary line (always, on stderr).
    pub(crate) fn finish(self) {
        if self.shown {
            eprintln!("\r{}", self.line());
        } else {
            eprintln!("{}", self.line());
        }
    }

    pub(crate) fn records(&self) -> u64 {
        self.records
    }
}
