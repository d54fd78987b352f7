//! The clients under test: ours and librdkafka run in a child process of this binary (a
//! subcommand), the Java client through its own performance tools.
//!
//! A child of this binary prints one line `RESULT {json}` ([`ChildReport`]) on standard output
//! when it is done; the Java tools print their own summaries, read by [`java`].

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) mod java;
#[cfg(feature = "rival-librdkafka")]
pub(crate) mod librdkafka;
pub(crate) mod ours;

/// The prefix of the line a child of this binary reports its result on.
const RESULT_PREFIX: &str = "RESULT ";

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Client {
    /// laminar-kafka-client.
    Ours,
    /// librdkafka through the `rdkafka` crate.
    Librdkafka,
    /// The Java client through `ProducerPerformance` / `ConsumerPerformance`.
    Java,
}

impl Client {
    /// Every client, in the order the table lists them.
    pub(crate) const ALL: [Client; 3] = [Client::Ours, Client::Librdkafka, Client::Java];

    /// Whether this build can run the client.
    pub(crate) fn available(self) -> bool {
        match self {
            Client::Ours | Client::Java => true,
            Client::Librdkafka => cfg!(feature = "rival-librdkafka"),
        }
    }

    /// Its name in tables, JSON and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Ours => "ours",
            Client::Librdkafka => "librdkafka",
            Client::Java => "java",
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Client {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Client::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown client `{s}` (expected ours, librdkafka or java)"))
    }
}

/// What a client process says it did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChildReport {
    /// Records produced and acknowledged, or consumed.
    pub(crate) records: u64,
    /// Bytes of record values among them.
    pub(crate) bytes: u64,
    /// Seconds from the first send to the last acknowledgement (producers), or from the
    /// assignment to the last record (consumers), as the client measured them.
    pub(crate) seconds: f64,
}

impl ChildReport {
    /// The line a child prints for the harness.
    pub(crate) fn to_line(self) -> String {
        // Serializing three numbers cannot fail.
        format!(
            "{RESULT_PREFIX}{}",
            serde_json::to_string(&self).unwrap_or_default()
        )
    }

    /// The report in a child's standard output: its last `RESULT` line.
    pub(crate) fn from_output(stdout: &str) -> Result<Self, ParseError> {
        let line = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(RESULT_PREFIX))
            .ok_or(ParseError::Missing("a RESULT line"))?;
        serde_json::from_str(line).map_err(|e| ParseError::Malformed {
            what: "RESULT line",
            line: line.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// A client's output without the summary the harness needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ParseError {
    /// The summary is not there.
    #[error("no {0} in the client's output")]
    Missing(&'static str),
    /// The summary is there but cannot be read.
    #[error("cannot read the {what} `{line}`: {reason}")]
    Malformed {
        /// Which summary.
        what: &'static str,
        /// The line.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_round_trips_and_the_last_one_wins() {
        let a = ChildReport {
            records: 10,
            bytes: 1000,
            seconds: 0.5,
        };
        let b = ChildReport {
            records: 20,
            bytes: 2000,
            seconds: 1.25,
        };
        let out = format!("noise\n{}\nmore\n{}\n", a.to_line(), b.to_line());
        assert_eq!(ChildReport::from_output(&out), Ok(b));
    }

    #[test]
    fn missing_or_broken_report_is_an_error() {
        assert_eq!(
            ChildReport::from_output("hello\n"),
            Err(ParseError::Missing("a RESULT line"))
        );
        let err = ChildReport::from_output("RESULT {\"records\":1}").unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }), "{err}");
    }

    #[test]
    fn client_names_parse() {
        for c in Client::ALL {
            assert_eq!(c.name().parse::<Client>(), Ok(c));
        }
        assert!("kcat".parse::<Client>().is_err());
        assert!(Client::Ours.available() && Client::Java.available());
        assert_eq!(
            Client::Librdkafka.available(),
            cfg!(feature = "rival-librdkafka")
        );
    }
}
