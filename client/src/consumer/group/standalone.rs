//! A group's committed offsets without membership: for a reader that assigns its partitions
//! itself (an engine's subtask `i` of `n`) but still commits where lag tools look.

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

use super::link::CoordinatorLink;
use super::offsets::{self, Committer};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::offsets::TopicPartition;

/// Commits and reads a group's offsets through its coordinator, as a "simple" consumer does
/// (generation -1, no member id): the coordinator accepts such commits only while the group has
/// no active members.
///
/// ```no_run
/// # async fn example() -> laminar_kafka_client::Result<()> {
/// use laminar_kafka_client::cluster::Cluster;
/// use laminar_kafka_client::config::ClientConfig;
/// use laminar_kafka_client::consumer::GroupOffsets;
///
/// let cluster = Cluster::new(ClientConfig::new("127.0.0.1:9092")?)?;
/// let offsets = GroupOffsets::new(cluster, "reporting")?;
/// offsets.commit(&[(("events".to_owned(), 0), 42)]).await?;
/// let committed = offsets.committed(&[("events".to_owned(), 0)]).await?;
/// assert_eq!(committed.get(&("events".to_owned(), 0)), Some(&42));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GroupOffsets {
    link: CoordinatorLink,
    timeout: std::time::Duration,
}

impl GroupOffsets {
    /// Offsets of group `group_id` on `cluster`.
    pub fn new(cluster: Cluster, group_id: impl Into<String>) -> Result<Self> {
        let timeout = cluster.config().common.request_timeout;
        Ok(Self {
            link: CoordinatorLink::new(cluster, group_id.into(), timeout)?,
            timeout,
        })
    }

    /// Commits these offsets (the next offset to read, per partition), retrying retriable
    /// errors for up to `request.timeout.ms`.
    pub async fn commit(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let offsets: BTreeMap<TopicPartition, i64> = offsets.iter().cloned().collect();
        let who = Committer {
            generation: -1,
            member_id: String::new(),
            instance_id: None,
        };
        offsets::commit(&self.link, &who, &offsets, Instant::now() + self.timeout).await
    }

    /// The committed offsets of `partitions` (absent: none committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        offsets::fetch(&self.link, partitions, Instant::now() + self.timeout).await
    }
}
