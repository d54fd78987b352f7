//! Control records: the transaction markers (and KRaft records) in batches with the control
//! attribute.
//!
//! Owns the key (`int16 version`, `int16 type`) and the end-transaction-marker value
//! (`int16 version`, `int32 coordinator epoch`). Consumers never hand control records to users but
//! advance past them; under read_committed an ABORT marker ends an aborted transaction.

use super::error::{RecordError, Result};
use super::view::Record;

/// The type in a control record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Type 0: the producer's transaction was aborted.
    Abort,
    /// Type 1: the producer's transaction was committed.
    Commit,
    /// Any other type (2–6 are KRaft's: leader change, snapshot header and footer, voters…).
    /// Consumers skip these.
    Unknown(i16),
}

impl ControlRecordType {
    /// The type's number in the key.
    pub fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::Unknown(t) => t,
        }
    }

    /// The type for a number from the key.
    pub fn from_id(id: i16) -> Self {
        match id {
            0 => Self::Abort,
            1 => Self::Commit,
            t => Self::Unknown(t),
        }
    }
}

/// A parsed control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRecord {
    /// The key's version.
    pub version: i16,
    /// What the record marks.
    pub kind: ControlRecordType,
    /// For ABORT and COMMIT: the transaction coordinator's epoch from the marker value.
    /// `None` for other types, whose values are not transaction markers.
    pub coordinator_epoch: Option<i32>,
}

/// The size of a control record key: version and type.
pub(crate) const CONTROL_KEY_LEN: usize = 4;
/// The size of an end-transaction-marker value: version and coordinator epoch.
pub(crate) const MARKER_VALUE_LEN: usize = 6;

impl ControlRecord {
    /// Parses a record of a control batch.
    ///
    /// The key must hold at least a version and a type (Java reads only those 4 bytes and so do
    /// we); for ABORT and COMMIT the value must hold at least a version and a coordinator epoch.
    pub fn parse(record: &Record<'_>) -> Result<Self> {
        Self::from_parts(record.key(), record.value())
    }

    /// Parses a control record from its key and value bytes.
    pub fn from_parts(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Self> {
        let Some(&[v0, v1, t0, t1, ..]) = key else {
            return Err(RecordError::InvalidControlRecord {
                reason: "key shorter than 4 bytes",
            });
        };
        let version = i16::from_be_bytes([v0, v1]);
        if version < 0 {
            return Err(RecordError::InvalidControlRecord {
                reason: "negative key version",
            });
        }
        let kind = ControlRecordType::from_id(i16::from_be_bytes([t0, t1]));
        let coordinator_epoch = match kind {
            ControlRecordType::Abort | ControlRecordType::Commit => {
                let Some(&[_, _, e0, e1, e2, e3, ..]) = value else {
                    return Err(RecordError::InvalidControlRecord {
                        reason: "transaction marker value shorter than 6 bytes",
                    });
                };
                Some(i32::from_be_bytes([e0, e1, e2, e3]))
            }
            ControlRecordType::Unknown(_) => None,
        };
        Ok(Self {
            version,
            kind,
            coordinator_epoch,
        })
    }

    /// Whether this is a transaction marker (ABORT or COMMIT).
    pub fn is_transaction_marker(&self) -> bool {
        matches!(
            self.kind,
            ControlRecordType::Abort | ControlRecordType::Commit
        )
    }
}

/// Writes the key of a control record of type `kind` (version 0).
pub(crate) fn control_key(kind: ControlRecordType) -> [u8; CONTROL_KEY_LEN] {
    let t = kind.id().to_be_bytes();
    [0, 0, t[0], t[1]]
}

/// Writes an end-transaction-marker value (version 0).
pub(crate) fn marker_value(coordinator_epoch: i32) -> [u8; MARKER_VALUE_LEN] {
    let e = coordinator_epoch.to_be_bytes();
    [0, 0, e[0], e[1], e[2], e[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_abort_and_unknown_types_parse() {
        let c = ControlRecord::from_parts(
            Some(&control_key(ControlRecordType::Commit)),
            Some(&marker_value(7)),
        )
        .unwrap();
        assert_eq!(c.kind, ControlRecordType::Commit);
        assert_eq!(c.coordinator_epoch, Some(7));
        assert!(c.is_transaction_marker());
        let a =
            ControlRecord::from_parts(Some(&[0, 0, 0, 0]), Some(&[0, 0, 0xff, 0xff, 0xff, 0xfe]))
                .unwrap();
        assert_eq!(a.kind, ControlRecordType::Abort);
        assert_eq!(a.coordinator_epoch, Some(-2));
        // KRaft leader change (type 2) with a value that is no marker: exposed, not an error.
        let k = ControlRecord::from_parts(Some(&[0, 0, 0, 2]), Some(b"\x00")).unwrap();
        assert_eq!(k.kind, ControlRecordType::Unknown(2));
        assert_eq!(k.coordinator_epoch, None);
        assert!(!k.is_transaction_marker());
    }

    #[test]
    fn short_keys_and_values_are_errors() {
        for key in [None, Some(&[0u8, 0, 0][..])] {
            assert!(matches!(
                ControlRecord::from_parts(key, Some(&marker_value(1))),
                Err(RecordError::InvalidControlRecord { .. })
            ));
        }
        for value in [None, Some(&[0u8, 0, 0, 0, 1][..])] {
            assert!(matches!(
                ControlRecord::from_parts(Some(&control_key(ControlRecordType::Abort)), value),
                Err(RecordError::InvalidControlRecord { .. })
            ));
        }
    }
}
