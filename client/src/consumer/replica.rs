//! Follower fetching (KIP-392): which replica the next fetch of a partition goes to.
//!
//! With `client.rack` set and a rack-aware `replica.selector.class` on the brokers, the leader
//! may answer a fetch with no records and a preferred read replica. The next fetches of that
//! partition go to that replica until a fetch from it fails (then back to the leader), the
//! leader changes (a new leader epoch), metadata no longer lists it as an online replica, or
//! `metadata.max.age.ms` has passed since the leader named it (as the Java client does). This
//! module holds the choice only; the fetcher does the I/O.

use tokio::time::Instant;

use crate::metadata::PartitionInfo;

/// A replica the leader named for a partition's fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PreferredReplica {
    /// Its node id.
    pub(crate) node: i32,
    /// The leader epoch the fetch that named it was sent with: a new leader ends the choice.
    pub(crate) leader_epoch: i32,
    /// When the choice expires (`metadata.max.age.ms` after the leader made it).
    pub(crate) expires_at: Instant,
}

impl PreferredReplica {
    /// The choice a fetch response announces (`preferred_read_replica`, -1 for none), made
    /// at `now`; `None` when the response names no replica.
    pub(crate) fn named(
        preferred_read_replica: i32,
        leader_epoch: i32,
        max_age: std::time::Duration,
        now: Instant,
    ) -> Option<Self> {
        (preferred_read_replica >= 0).then_some(Self {
            node: preferred_read_replica,
            leader_epoch,
            expires_at: now + max_age,
        })
    }
}

/// The node the next fetch of `partition` goes to: the preferred replica while it holds, the
/// leader otherwise.
pub(crate) fn read_replica(
    preferred: Option<&PreferredReplica>,
    partition: &PartitionInfo,
    now: Instant,
) -> i32 {
    match preferred {
        Some(r)
            if now < r.expires_at
                && r.leader_epoch == partition.leader_epoch
                && (partition.replicas.is_empty() || partition.replicas.contains(&r.node))
                && !partition.offline_replicas.contains(&r.node) =>
        {
            r.node
        }
        _ => partition.leader,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn partition(leader: i32, epoch: i32) -> PartitionInfo {
        PartitionInfo {
            partition: 0,
            leader,
            leader_epoch: epoch,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            offline_replicas: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn the_named_replica_is_used_until_it_expires() {
        let now = Instant::now();
        let max_age = Duration::from_secs(300);
        let named = PreferredReplica::named(2, 7, max_age, now);
        let p = partition(1, 7);
        assert_eq!(read_replica(None, &p, now), 1, "no choice: the leader");
        assert_eq!(read_replica(named.as_ref(), &p, now), 2);
        assert_eq!(
            read_replica(named.as_ref(), &p, now + max_age - Duration::from_millis(1)),
            2
        );
        assert_eq!(
            read_replica(named.as_ref(), &p, now + max_age),
            1,
            "metadata.max.age.ms later: the leader again"
        );
        assert_eq!(PreferredReplica::named(-1, 7, max_age, now), None);
    }

    #[test]
    fn a_new_leader_or_a_lost_replica_ends_the_choice() {
        let now = Instant::now();
        let named = PreferredReplica::named(2, 7, Duration::from_secs(300), now);
        assert_eq!(read_replica(named.as_ref(), &partition(3, 8), now), 3);
        let mut offline = partition(1, 7);
        offline.offline_replicas = vec![2];
        assert_eq!(read_replica(named.as_ref(), &offline, now), 1);
        let mut moved = partition(1, 7);
        moved.replicas = vec![1, 3, 4];
        assert_eq!(read_replica(named.as_ref(), &moved, now), 1);
    }
}
