//! The errors of finding the broker and running a peer tool.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use crate::{HOW_TO_START, Listener};

/// What went wrong while finding the broker or running a peer tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// A variable of `scripts/kafka.sh env` is not set.
    #[error("{name} is not set: {HOW_TO_START}")]
    MissingVariable {
        /// The variable's name.
        name: &'static str,
    },
    /// A variable is set but unusable.
    #[error("{name}={value:?} is not usable ({reason}): {HOW_TO_START}")]
    InvalidVariable {
        /// The variable's name.
        name: &'static str,
        /// Its value (never a secret: the password is not checked this way).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A listener of the broker does not accept connections.
    #[error(
        "the test broker does not answer on its {listener} listener {address}: {source}; {HOW_TO_START}"
    )]
    Unreachable {
        /// The listener that was tried.
        listener: Listener,
        /// Its `host:port`.
        address: String,
        /// The connect error.
        source: io::Error,
    },
    /// A subprocess could not be started.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line, secrets redacted.
        command: String,
        /// The spawn error.
        source: io::Error,
    },
    /// A subprocess ran past its deadline and was killed.
    #[error("`{command}` did not finish within {timeout:?} and was killed; stderr: {stderr}")]
    Timeout {
        /// The command line, secrets redacted.
        command: String,
        /// The deadline it had.
        timeout: Duration,
        /// What it wrote to stdout before it was killed, secrets redacted.
        stdout: String,
        /// What it wrote to stderr before it was killed, secrets redacted.
        stderr: String,
    },
    /// A subprocess exited unsuccessfully.
    #[error("`{command}` failed ({status}); stderr: {stderr}")]
    Failed {
        /// The command line, secrets redacted.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its stdout, secrets redacted.
        stdout: String,
        /// Its stderr, secrets redacted.
        stderr: String,
    },
    /// A tool succeeded but its output was not what the helper expected.
    #[error("`{command}` gave unexpected output: {detail}")]
    UnexpectedOutput {
        /// The command line, secrets redacted.
        command: String,
        /// What was expected and what came.
        detail: String,
    },
    /// A temporary file for a tool could not be written.
    #[error("could not write {path}: {source}")]
    TempFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl HarnessError {
    /// The captured stderr of a failed or timed-out run, if this error comes from one.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Self::Failed { stderr, .. } | Self::Timeout { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// `Result` of the harness helpers.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
