//! What a source checkpoints: the next offset to read of every partition it reads, as a
//! versioned JSON document an engine stores wherever it keeps its checkpoints.

use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;

/// The version [`SourceState::to_json`] writes; older versions are read, newer refused.
pub const SOURCE_STATE_VERSION: u32 = 1;

/// The position of one partition: the offset of the next record to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
}

/// A source's checkpoint: where each of its partitions resumes.
///
/// ```
/// use laminar_kafka_connector::source::{PartitionOffset, SourceState};
///
/// let state = SourceState::new("events", 7, vec![PartitionOffset {
///     topic: "events".into(), partition: 0, offset: 42,
/// }]);
/// let text = state.to_json();
/// assert_eq!(SourceState::from_json("events", &text)?, state);
/// assert!(SourceState::from_json("orders", &text).is_err());
/// # Ok::<(), laminar_kafka_connector::ConnectorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Format version ([`SOURCE_STATE_VERSION`]).
    pub version: u32,
    /// The table it belongs to.
    pub table: String,
    /// The checkpoint it was taken for.
    pub epoch: u64,
    /// Next offsets, one per partition the source had a position for.
    pub offsets: Vec<PartitionOffset>,
}

impl SourceState {
    /// A state of the current version.
    pub fn new(table: impl Into<String>, epoch: u64, offsets: Vec<PartitionOffset>) -> Self {
        Self {
            version: SOURCE_STATE_VERSION,
            table: table.into(),
            epoch,
            offsets,
        }
    }

    /// The state as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a source state always serializes")
    }

    /// Reads a state written by [`to_json`](Self::to_json) for table `table`.
    pub fn from_json(table: &str, text: &str) -> Result<Self, ConnectorError> {
        let state: SourceState = serde_json::from_str(text)
            .map_err(|e| ConnectorError::state(table, format!("not a source state: {e}")))?;
        state.check(table)?;
        Ok(state)
    }

    /// Checks that the state is of a readable version and belongs to `table`.
    pub(crate) fn check(&self, table: &str) -> Result<(), ConnectorError> {
        ConnectorError::check_state(
            table,
            "source",
            self.version,
            SOURCE_STATE_VERSION,
            &self.table,
        )?;
        if let Some(bad) = self
            .offsets
            .iter()
            .find(|p| p.offset < 0 || p.partition < 0)
        {
            return Err(ConnectorError::state(
                table,
                format!(
                    "negative offset or partition for {}/{}",
                    bad.topic, bad.partition
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_and_negative_offsets_are_refused() {
        let mut state = SourceState::new("t", 1, vec![]);
        state.version = SOURCE_STATE_VERSION + 1;
        let err = SourceState::from_json("t", &state.to_json()).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");

        let state = SourceState::new(
            "t",
            1,
            vec![PartitionOffset {
                topic: "x".into(),
                partition: 0,
                offset: -5,
            }],
        );
        let err = SourceState::from_json("t", &state.to_json()).unwrap_err();
        assert!(err.to_string().contains("negative offset"), "{err}");
        assert!(SourceState::from_json("t", "{").is_err());
    }
}
