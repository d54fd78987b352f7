//! Errors of the runner: the script, the plan, and the pipelines while they run.

use laminar_kafka_connector::{ConfigError, ConnectorError};

/// What stopped a script.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// A table's configuration is invalid.
    #[error(transparent)]
    Config(#[from] Box<ConfigError>),
    /// A statement the runner cannot run, with the statement's position and the reason.
    #[error("statement {statement}: {reason}")]
    Statement {
        /// 1-based position of the statement in the script.
        statement: usize,
        /// Why.
        reason: String,
    },
    /// The query engine refused a query.
    #[error("statement {statement}: {source}")]
    Plan {
        /// 1-based position of the statement.
        statement: usize,
        /// DataFusion's error.
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },
    /// A source or sink failed.
    #[error(transparent)]
    Connector(#[from] Box<ConnectorError>),
    /// Evaluating a query on a batch failed.
    #[error("pipeline `{pipeline}`: {message}")]
    Execute {
        /// The pipeline (its sink table).
        pipeline: String,
        /// What failed.
        message: String,
    },
}

impl From<ConnectorError> for RunnerError {
    fn from(e: ConnectorError) -> Self {
        RunnerError::Connector(Box::new(e))
    }
}

impl From<ConfigError> for RunnerError {
    fn from(e: ConfigError) -> Self {
        RunnerError::Config(Box::new(e))
    }
}

impl RunnerError {
    pub(crate) fn statement(statement: usize, reason: impl Into<String>) -> Self {
        RunnerError::Statement {
            statement,
            reason: reason.into(),
        }
    }

    pub(crate) fn plan(statement: usize, source: datafusion::error::DataFusionError) -> Self {
        RunnerError::Plan {
            statement,
            source: Box::new(source),
        }
    }
}
