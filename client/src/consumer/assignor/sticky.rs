//! The `cooperative-sticky` assignor: balanced, keeps each member's partitions where it can,
//! and never moves a partition straight from one owner to another in one rebalance.
//!
//! 1. Ownership: each member keeps the partitions it reports owning (if it still subscribes to
//!    their topic and they exist); when two claim one, the higher generation wins.
//! 2. Partitions nobody keeps go, one by one in topic/partition order, to the subscribed member
//!    with the fewest partitions.
//! 3. Balance: while a member has at least two more partitions than a member that could take
//!    one of them, the fuller one gives up its highest such partition. Each move lowers the sum
//!    of squared counts, so this ends, and it moves only what the balance requires.
//! 4. Cooperative rule: a partition assigned to a member other than its current owner is held
//!    back in this generation. The owner revokes it and rejoins, and the next rebalance (where
//!    nobody owns it) hands it over.
//!
//! Generations travel in the subscription's `generationId` (v2+) and, for older readers, as a
//! 4-byte user data, as the Java client writes them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{Assignor, GroupAssignment, MemberSubscription, empty_assignment, member_order};
use crate::offsets::TopicPartition;

/// The incremental (cooperative) sticky assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn supports_cooperative(&self) -> bool {
        true
    }

    fn user_data(&self, generation: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    fn assign(
        &self,
        partitions: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
        sorted.sort_by(|a, b| member_order(a, b));
        let exists = |tp: &TopicPartition| partitions.get(&tp.0).is_some_and(|&n| tp.1 < n);

        // Who owns what now: the highest generation wins a conflict.
        let mut owner: BTreeMap<TopicPartition, (i32, &str)> = BTreeMap::new();
        for m in &sorted {
            for tp in &m.owned {
                let better = owner.get(tp).is_none_or(|(g, _)| m.generation > *g);
                if better {
                    owner.insert(tp.clone(), (m.generation, m.member_id.as_str()));
                }
            }
        }

        // 1. Keep what is validly owned.
        let mut assigned: BTreeMap<&str, BTreeSet<TopicPartition>> = sorted
            .iter()
            .map(|m| (m.member_id.as_str(), BTreeSet::new()))
            .collect();
        let mut taken: BTreeSet<TopicPartition> = BTreeSet::new();
        for m in &sorted {
            for tp in &m.owned {
                let is_owner = owner.get(tp).is_some_and(|(_, o)| *o == m.member_id);
                if is_owner && m.subscribes(&tp.0) && exists(tp) && taken.insert(tp.clone()) {
                    assigned
                        .get_mut(m.member_id.as_str())
                        .expect("entry")
                        .insert(tp.clone());
                }
            }
        }

        // 2. The rest to the least loaded subscriber.
        for (topic, &count) in partitions {
            for p in 0..count.max(0) {
                let tp = (topic.clone(), p);
                if taken.contains(&tp) {
                    continue;
                }
                let target = sorted
                    .iter()
                    .filter(|m| m.subscribes(topic))
                    .min_by_key(|m| assigned[m.member_id.as_str()].len());
                if let Some(m) = target {
                    assigned
                        .get_mut(m.member_id.as_str())
                        .expect("entry")
                        .insert(tp.clone());
                    taken.insert(tp);
                }
            }
        }

        // 3. Balance.
        loop {
            let mut best: Option<(&str, &str, TopicPartition, usize)> = None;
            for from in &sorted {
                let from_n = assigned[from.member_id.as_str()].len();
                for to in &sorted {
                    let to_n = assigned[to.member_id.as_str()].len();
                    if from_n < to_n + 2 {
                        continue;
                    }
                    let movable = assigned[from.member_id.as_str()]
                        .iter()
                        .rev()
                        .find(|tp| to.subscribes(&tp.0));
                    if let Some(tp) = movable {
                        let gap = from_n - to_n;
                        if best.as_ref().is_none_or(|b| gap > b.3) {
                            best = Some((&from.member_id, &to.member_id, tp.clone(), gap));
                        }
                    }
                }
            }
            let Some((from, to, tp, _)) = best else { break };
            assigned.get_mut(from).expect("entry").remove(&tp);
            assigned.get_mut(to).expect("entry").insert(tp);
        }

        // 4. Hold back partitions that would change owners in this generation.
        let mut out = empty_assignment(members);
        for (member, set) in assigned {
            let list = out.get_mut(member).expect("entry");
            list.extend(
                set.into_iter()
                    .filter(|tp| owner.get(tp).is_none_or(|(_, o)| *o == member)),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_valid;
    use super::*;

    fn parts(n: i32) -> BTreeMap<String, i32> {
        BTreeMap::from([("t".to_owned(), n)])
    }

    fn counts(out: &GroupAssignment) -> Vec<usize> {
        out.values().map(Vec::len).collect()
    }

    #[test]
    fn first_assignment_is_balanced() {
        let members: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|m| MemberSubscription::new(m, ["t"]))
            .collect();
        let out = CooperativeStickyAssignor.assign(&parts(6), &members);
        check_valid(&parts(6), &members, &out);
        assert_eq!(counts(&out), vec![2, 2, 2]);
    }

    #[test]
    fn a_joining_member_takes_only_what_balance_requires_and_only_next_round() {
        let gen1 = vec![
            MemberSubscription::new("a", ["t"]).owning(&[("t", 0), ("t", 1), ("t", 2)], 1),
            MemberSubscription::new("b", ["t"]).owning(&[("t", 3), ("t", 4), ("t", 5)], 1),
            MemberSubscription::new("c", ["t"]),
        ];
        let out = CooperativeStickyAssignor.assign(&parts(6), &gen1);
        check_valid(&parts(6), &gen1, &out);
        // a and b each give up one partition, which nobody gets in this round.
        assert_eq!(counts(&out), vec![2, 2, 0]);
        for m in &gen1[..2] {
            assert!(out[&m.member_id].iter().all(|tp| m.owned.contains(tp)));
        }
        // Next round: they report what they kept; c gets the two released partitions.
        let gen2 = vec![
            MemberSubscription {
                owned: out["a"].clone(),
                generation: 2,
                ..gen1[0].clone()
            },
            MemberSubscription {
                owned: out["b"].clone(),
                generation: 2,
                ..gen1[1].clone()
            },
            gen1[2].clone(),
        ];
        let next = CooperativeStickyAssignor.assign(&parts(6), &gen2);
        check_valid(&parts(6), &gen2, &next);
        assert_eq!(counts(&next), vec![2, 2, 2]);
        assert_eq!(next["a"], out["a"]);
        assert_eq!(next["b"], out["b"]);
    }

    #[test]
    fn a_leaving_members_partitions_spread_without_moving_others() {
        let members = vec![
            MemberSubscription::new("a", ["t"]).owning(&[("t", 0), ("t", 1)], 3),
            MemberSubscription::new("b", ["t"]).owning(&[("t", 2), ("t", 3)], 3),
        ];
        let out = CooperativeStickyAssignor.assign(&parts(6), &members);
        check_valid(&parts(6), &members, &out);
        assert_eq!(counts(&out), vec![3, 3]);
        assert!(out["a"].starts_with(&[("t".into(), 0), ("t".into(), 1)]));
    }

    #[test]
    fn a_stale_generation_loses_a_conflicting_claim() {
        let members = vec![
            MemberSubscription::new("a", ["t"]).owning(&[("t", 0)], 1),
            MemberSubscription::new("b", ["t"]).owning(&[("t", 0), ("t", 1)], 2),
        ];
        let out = CooperativeStickyAssignor.assign(&parts(2), &members);
        check_valid(&parts(2), &members, &out);
        // t-0 stays with b (generation 2); balance moves t-1 towards a, held back while b
        // still owns it.
        assert_eq!(out["b"], vec![("t".to_owned(), 0)]);
        assert_eq!(out["a"], vec![]);
    }

    #[test]
    fn unsubscribed_topics_are_released() {
        let members = vec![
            MemberSubscription::new("a", ["u"]).owning(&[("t", 0)], 1),
            MemberSubscription::new("b", ["t"]),
        ];
        let ps = BTreeMap::from([("t".to_owned(), 1), ("u".to_owned(), 1)]);
        let out = CooperativeStickyAssignor.assign(&ps, &members);
        check_valid(&ps, &members, &out);
        // a still owns t-0 until it revokes it: b gets it in the next round.
        assert_eq!(out["a"], vec![("u".to_owned(), 0)]);
        assert_eq!(out["b"], vec![]);
    }
}
