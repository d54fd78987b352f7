//! Partition assignors of the classic group protocol: `range`, `roundrobin` and
//! `cooperative-sticky`, under the names the Java client and librdkafka put on the wire.
//!
//! The group leader runs one of them over every member's subscription; the others only name
//! the ones they support in JoinGroup. An assignor is a pure function of the members'
//! subscriptions and the partition counts: no I/O, no clock, deterministic for equal input, so
//! that a group with members of other clients gets the assignment those clients would compute.
//!
//! ```
//! use std::collections::BTreeMap;
//! use laminar_kafka_client::consumer::assignor::{assignor_by_name, MemberSubscription};
//!
//! let range = assignor_by_name("range")?;
//! let members = vec![
//!     MemberSubscription::new("a", ["t"]),
//!     MemberSubscription::new("b", ["t"]),
//! ];
//! let partitions = BTreeMap::from([("t".to_owned(), 3)]);
//! let assignment = range.assign(&partitions, &members);
//! assert_eq!(assignment["a"], vec![("t".to_owned(), 0), ("t".to_owned(), 1)]);
//! assert_eq!(assignment["b"], vec![("t".to_owned(), 2)]);
//! # Ok::<(), laminar_kafka_client::Error>(())
//! ```

mod range;
mod roundrobin;
mod sticky;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;

pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;
pub use sticky::CooperativeStickyAssignor;

use crate::error::{Error, Result};
use crate::offsets::TopicPartition;

/// What the leader knows of one member when it assigns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id`, for static members.
    pub instance_id: Option<String>,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
    /// The partitions it owns now (cooperative members report them).
    pub owned: Vec<TopicPartition>,
    /// The generation its owned partitions belong to, or -1.
    pub generation: i32,
    /// Its `client.rack`, if any.
    pub rack: Option<String>,
}

impl MemberSubscription {
    /// A member that owns nothing.
    pub fn new<S: Into<String>>(member_id: &str, topics: impl IntoIterator<Item = S>) -> Self {
        Self {
            member_id: member_id.to_owned(),
            topics: topics.into_iter().map(Into::into).collect(),
            generation: -1,
            ..Self::default()
        }
    }

    /// The same member owning `owned` in `generation`.
    pub fn owning(mut self, owned: &[(&str, i32)], generation: i32) -> Self {
        self.owned = owned.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect();
        self.generation = generation;
        self
    }

    fn subscribes(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

/// The Java client's member order: static members first, by instance id, then the others by
/// member id.
pub(crate) fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// Partitions per member id. Every member of the input has an entry (possibly empty); each
/// member's partitions are sorted.
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A partition assignor of the classic protocol.
pub trait Assignor: Send + Sync + std::fmt::Debug {
    /// The protocol name sent in JoinGroup (`range`, `roundrobin`, `cooperative-sticky`).
    fn name(&self) -> &'static str;

    /// Whether members keep the partitions they are not asked to give up during a rebalance
    /// (the COOPERATIVE rebalance protocol) instead of revoking everything first (EAGER).
    fn supports_cooperative(&self) -> bool {
        false
    }

    /// The subscription's user data for a member of `generation`, if the assignor uses any.
    fn user_data(&self, generation: i32) -> Option<Bytes> {
        let _ = generation;
        None
    }

    /// Assigns the partitions of `partitions` (topic → partition count) to `members`.
    /// Topics that no member subscribes to are not assigned; topics absent from
    /// `partitions` (not in metadata) are skipped.
    fn assign(
        &self,
        partitions: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment;
}

/// The assignor for a name in `partition.assignment.strategy`: the wire names (`range`,
/// `roundrobin`, `cooperative-sticky`) or the Java class names
/// (`org.apache.kafka.clients.consumer.RangeAssignor`, …).
pub fn assignor_by_name(name: &str) -> Result<Box<dyn Assignor>> {
    let short = name.trim().rsplit('.').next().unwrap_or_default();
    match short.to_ascii_lowercase().as_str() {
        "range" | "rangeassignor" => Ok(Box::new(RangeAssignor)),
        "roundrobin" | "roundrobinassignor" => Ok(Box::new(RoundRobinAssignor)),
        "cooperative-sticky" | "cooperativestickyassignor" => {
            Ok(Box::new(CooperativeStickyAssignor))
        }
        _ => Err(Error::InvalidProperty {
            name: "partition.assignment.strategy".to_owned(),
            reason: format!(
                "`{name}` is not one of range, roundrobin, cooperative-sticky (or their Java class names)"
            ),
        }),
    }
}

/// An empty assignment for every member.
pub(crate) fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks the invariants every assignor keeps: partitions only to subscribers, each
    /// subscribed partition at most once.
    pub(crate) fn check_valid(
        partitions: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        assignment: &GroupAssignment,
    ) {
        let mut seen = std::collections::BTreeSet::new();
        for m in members {
            for tp in &assignment[&m.member_id] {
                assert!(m.subscribes(&tp.0), "{} got {tp:?}", m.member_id);
                assert!(tp.1 < partitions[&tp.0], "{tp:?} does not exist");
                assert!(seen.insert(tp.clone()), "{tp:?} assigned twice");
            }
        }
    }

    #[test]
    fn names_and_java_class_names_resolve() {
        assert_eq!(assignor_by_name("range").unwrap().name(), "range");
        assert_eq!(
            assignor_by_name("org.apache.kafka.clients.consumer.RoundRobinAssignor")
                .unwrap()
                .name(),
            "roundrobin"
        );
        let cs = assignor_by_name("org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
            .unwrap();
        assert_eq!(cs.name(), "cooperative-sticky");
        assert!(cs.supports_cooperative());
        let err = assignor_by_name("sticky-ish").unwrap_err().to_string();
        assert!(err.contains("partition.assignment.strategy"), "{err}");
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut a = MemberSubscription::new("m-1", ["t"]);
        let mut b = MemberSubscription::new("m-0", ["t"]);
        let c = MemberSubscription::new("m-00", ["t"]);
        a.instance_id = Some("i-1".into());
        b.instance_id = Some("i-2".into());
        let mut v = [c.clone(), b.clone(), a.clone()];
        v.sort_by(member_order);
        assert_eq!(v.map(|m| m.member_id), ["m-1", "m-0", "m-00"]);
    }
}
