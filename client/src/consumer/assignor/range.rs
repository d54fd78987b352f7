//! The `range` assignor: per topic, consecutive partition ranges to the subscribers in member
//! order, the first ones getting one more when the count does not divide.

use std::collections::BTreeMap;

use super::{Assignor, GroupAssignment, MemberSubscription, empty_assignment, member_order};

/// Per topic, partitions `0..n` split into consecutive ranges over the subscribed members.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        partitions: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let mut out = empty_assignment(members);
        for (topic, &count) in partitions {
            let mut subscribers: Vec<&MemberSubscription> =
                members.iter().filter(|m| m.subscribes(topic)).collect();
            if subscribers.is_empty() || count <= 0 {
                continue;
            }
            subscribers.sort_by(|a, b| member_order(a, b));
            let n = subscribers.len() as i32;
            let per = count / n;
            let extra = count % n;
            for (i, m) in subscribers.iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                let list = out
                    .get_mut(&m.member_id)
                    .expect("every member has an entry");
                list.extend((start..start + len).map(|p| (topic.clone(), p)));
            }
        }
        for list in out.values_mut() {
            list.sort();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_valid;
    use super::*;

    #[test]
    fn ranges_follow_the_java_client() {
        // Java: 7 partitions over 3 consumers → [0,1,2], [3,4], [5,6].
        let members = vec![
            MemberSubscription::new("c", ["t", "u"]),
            MemberSubscription::new("a", ["t"]),
            MemberSubscription::new("b", ["t", "u"]),
        ];
        let parts = BTreeMap::from([("t".to_owned(), 7), ("u".to_owned(), 3)]);
        let out = RangeAssignor.assign(&parts, &members);
        check_valid(&parts, &members, &out);
        let t = |ps: &[i32]| ps.iter().map(|p| ("t".to_owned(), *p)).collect::<Vec<_>>();
        assert_eq!(out["a"], t(&[0, 1, 2]));
        let mut b = t(&[3, 4]);
        b.extend([("u".to_owned(), 0), ("u".to_owned(), 1)]);
        assert_eq!(out["b"], b);
        let mut c = t(&[5, 6]);
        c.push(("u".to_owned(), 2));
        assert_eq!(out["c"], c);
    }

    #[test]
    fn more_members_than_partitions_leaves_some_empty() {
        let members: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|m| MemberSubscription::new(m, ["t"]))
            .collect();
        let parts = BTreeMap::from([("t".to_owned(), 2)]);
        let out = RangeAssignor.assign(&parts, &members);
        check_valid(&parts, &members, &out);
        assert_eq!(out["c"], vec![]);
        assert_eq!(out.values().map(Vec::len).sum::<usize>(), 2);
    }
}
