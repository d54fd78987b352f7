//! Errors of the source and sink operators: configuration, the Kafka client, formats, the
//! schema registry and checkpoint states, each kept as data so that an engine can tell them
//! apart (a fenced producer from a bad record from an unreachable broker).

use crate::config::ConfigError;
use crate::format::FormatError;

/// What stopped a source or a sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The table's configuration is invalid, or a placeholder's variable is missing.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// The Kafka client failed (connection, authentication, a broker error, a fenced producer).
    #[error("table `{table}`: {source}")]
    Client {
        /// The table.
        table: String,
        /// The client's error.
        #[source]
        source: Box<laminar_kafka_client::Error>,
    },
    /// A record could not be decoded under `bad_data = fail`, or a batch could not be
    /// encoded.
    #[error("table `{table}`: {source}")]
    Format {
        /// The table.
        table: String,
        /// What went wrong.
        #[source]
        source: Box<FormatError>,
    },
    /// The schema registry could not be set up.
    #[error("table `{table}`: schema registry: {message}")]
    Registry {
        /// The table.
        table: String,
        /// What went wrong (never a credential).
        message: String,
    },
    /// A checkpoint state that cannot be restored (another table's, a newer version, corrupt).
    #[error("table `{table}`: cannot restore checkpoint state: {reason}")]
    State {
        /// The table.
        table: String,
        /// Why.
        reason: String,
    },
    /// A prepared transaction named by a checkpoint could not be committed on restore.
    #[error(
        "table `{table}`: transaction `{transactional_id}` of checkpoint {checkpoint}: {reason}"
    )]
    Transaction {
        /// The table.
        table: String,
        /// The transactional id.
        transactional_id: String,
        /// The checkpoint that prepared it.
        checkpoint: u64,
        /// What happened.
        reason: String,
    },
    /// The operator was used against its contract (a source table opened as a sink, a
    /// checkpoint completed that was never taken, too many checkpoints pending).
    #[error("table `{table}`: {reason}")]
    Usage {
        /// The table.
        table: String,
        /// What was wrong.
        reason: String,
    },
}

impl From<ConfigError> for ConnectorError {
    fn from(e: ConfigError) -> Self {
        ConnectorError::Config(Box::new(e))
    }
}

impl ConnectorError {
    pub(crate) fn client(table: &str, source: laminar_kafka_client::Error) -> Self {
        ConnectorError::Client {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }

    pub(crate) fn format(table: &str, source: FormatError) -> Self {
        ConnectorError::Format {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }

    pub(crate) fn usage(table: &str, reason: impl Into<String>) -> Self {
        ConnectorError::Usage {
            table: table.to_owned(),
            reason: reason.into(),
        }
    }

    /// Checks what every checkpoint state starts with: a readable version (1 to `newest`) of
    /// this kind, written for table `table`.
    pub(crate) fn check_state(
        table: &str,
        kind: &str,
        version: u32,
        newest: u32,
        written_for: &str,
    ) -> Result<(), Self> {
        if version == 0 || version > newest {
            return Err(ConnectorError::state(
                table,
                format!("{kind} state version {version} (this build reads up to {newest})"),
            ));
        }
        if written_for != table {
            return Err(ConnectorError::state(
                table,
                format!("the state belongs to table `{written_for}`"),
            ));
        }
        Ok(())
    }

    pub(crate) fn state(table: &str, reason: impl Into<String>) -> Self {
        ConnectorError::State {
            table: table.to_owned(),
            reason: reason.into(),
        }
    }

    /// The client error inside, if this is one.
    pub fn client_error(&self) -> Option<&laminar_kafka_client::Error> {
        match self {
            ConnectorError::Client { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
