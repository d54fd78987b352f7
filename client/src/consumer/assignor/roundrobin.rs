//! The `roundrobin` assignor: every subscribed partition, in topic and partition order, dealt
//! to the members in turn, skipping members not subscribed to its topic.

use std::collections::BTreeMap;

use super::{Assignor, GroupAssignment, MemberSubscription, empty_assignment, member_order};

/// Partitions of all topics dealt in turn over the members.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let mut out = empty_assignment(members);
        let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
        sorted.sort_by(|a, b| member_order(a, b));
        if sorted.is_empty() {
            return out;
        }
        let mut next = 0usize;
        for (topic, &count) in partitions {
            if !sorted.iter().any(|m| m.subscribes(topic)) {
                continue;
            }
            for p in 0..count.max(0) {
                // A subscriber exists, so this finds one within a full turn.
                while !sorted[next % sorted.len()].subscribes(topic) {
                    next += 1;
                }
                let m = sorted[next % sorted.len()];
                out.get_mut(&m.member_id)
                    .expect("every member has an entry")
                    .push((topic.clone(), p));
                next += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_valid;
    use super::*;

    #[test]
    fn partitions_are_dealt_in_turn_across_topics() {
        let members = vec![
            MemberSubscription::new("b", ["t", "u"]),
            MemberSubscription::new("a", ["t", "u"]),
        ];
        let parts = BTreeMap::from([("t".to_owned(), 3), ("u".to_owned(), 2)]);
        let out = RoundRobinAssignor.assign(&parts, &members);
        check_valid(&parts, &members, &out);
        let tp = |t: &str, p| (t.to_owned(), p);
        assert_eq!(out["a"], vec![tp("t", 0), tp("t", 2), tp("u", 1)]);
        assert_eq!(out["b"], vec![tp("t", 1), tp("u", 0)]);
    }

    #[test]
    fn members_not_subscribed_are_skipped() {
        let members = vec![
            MemberSubscription::new("a", ["t"]),
            MemberSubscription::new("b", ["u"]),
        ];
        let parts = BTreeMap::from([("t".to_owned(), 2), ("u".to_owned(), 2)]);
        let out = RoundRobinAssignor.assign(&parts, &members);
        check_valid(&parts, &members, &out);
        assert_eq!(out["a"].len(), 2);
        assert_eq!(out["b"].len(), 2);
    }
}
