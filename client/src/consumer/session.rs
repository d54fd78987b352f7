//! Fetch sessions (KIP-227): one per broker, so that a fetch sends only what changed.
//!
//! A [`FetchSession`] remembers what the broker's session holds for each partition (fetch
//! offset, leader epoch, topic id). Its states: no session (id 0), where every fetch is a full
//! one asking for a new session (epoch 0); and open (id ≠ 0), where a fetch carries the next
//! epoch, only the partitions that are new or changed, and the ones to drop
//! (`ForgottenTopicsData`). A response with session id 0 means the broker made none: fetches
//! stay full. A session error (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH) or a
//! failed request closes it: the next fetch is full again. No I/O here; the fetcher sends.

use std::collections::HashMap;

use uuid::Uuid;

use crate::offsets::TopicPartition;

/// The epoch of a fetch that opens a session (or asks for one).
const INITIAL_EPOCH: i32 = 0;

/// What the broker's session holds of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    topic_id: Uuid,
    offset: i64,
    leader_epoch: i32,
}

/// One partition a fetch is about: where to fetch from and with which leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wanted<'a> {
    pub(super) tp: &'a TopicPartition,
    pub(super) topic_id: Uuid,
    pub(super) offset: i64,
    pub(super) leader_epoch: i32,
}

/// How to send the next fetch to one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The request's session id and epoch.
    pub(super) session_id: i32,
    pub(super) session_epoch: i32,
    /// Indices (into the wanted list) of the partitions to list in the request.
    pub(super) send: Vec<usize>,
    /// Partitions the broker's session holds and this fetch no longer wants.
    pub(super) forget: Vec<(TopicPartition, Uuid)>,
    /// Whether the request is incremental: partitions not listed stay in the session.
    pub(super) incremental: bool,
}

/// The fetch session with one broker.
#[derive(Debug, Default)]
pub(super) struct FetchSession {
    id: i32,
    epoch: i32,
    held: HashMap<TopicPartition, Held>,
}

impl FetchSession {
    /// The session id, 0 when there is none.
    #[cfg(test)]
    pub(super) fn id(&self) -> i32 {
        self.id
    }

    /// How to fetch `wanted` next. Without session support (`supported` false: Fetch below
    /// v7) every fetch is full and sessionless.
    pub(super) fn plan(&self, wanted: &[Wanted<'_>], supported: bool) -> Plan {
        if !supported {
            return Plan {
                session_id: 0,
                session_epoch: -1,
                send: (0..wanted.len()).collect(),
                forget: Vec::new(),
                incremental: false,
            };
        }
        if self.id == 0 {
            return Plan {
                session_id: 0,
                session_epoch: INITIAL_EPOCH,
                send: (0..wanted.len()).collect(),
                forget: Vec::new(),
                incremental: false,
            };
        }
        let mut send = Vec::new();
        let mut forget = Vec::new();
        for (i, w) in wanted.iter().enumerate() {
            let now = Held {
                topic_id: w.topic_id,
                offset: w.offset,
                leader_epoch: w.leader_epoch,
            };
            match self.held.get(w.tp) {
                Some(held) if *held == now => {}
                Some(held) => {
                    if held.topic_id != w.topic_id {
                        // The topic was recreated: the old one leaves the session.
                        forget.push((w.tp.clone(), held.topic_id));
                    }
                    send.push(i);
                }
                None => send.push(i),
            }
        }
        for (tp, held) in &self.held {
            if !wanted.iter().any(|w| w.tp == tp) {
                forget.push((tp.clone(), held.topic_id));
            }
        }
        forget.sort();
        Plan {
            session_id: self.id,
            session_epoch: self.epoch,
            send,
            forget,
            incremental: true,
        }
    }

    /// The broker answered a fetch made by `plan` for `wanted` without a top-level error,
    /// giving `response_session_id`.
    pub(super) fn answered(
        &mut self,
        plan: &Plan,
        wanted: &[Wanted<'_>],
        response_session_id: i32,
    ) {
        if plan.session_epoch < 0 {
            return; // sessionless
        }
        if !plan.incremental {
            if response_session_id == 0 {
                self.close(); // the broker made no session: the next fetch is full again
                return;
            }
            self.id = response_session_id;
            self.epoch = INITIAL_EPOCH;
        }
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
        self.held = wanted
            .iter()
            .map(|w| {
                (
                    w.tp.clone(),
                    Held {
                        topic_id: w.topic_id,
                        offset: w.offset,
                        leader_epoch: w.leader_epoch,
                    },
                )
            })
            .collect();
    }

    /// The session is gone (a session error, a failed request): the next fetch is full.
    pub(super) fn close(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tps() -> Vec<TopicPartition> {
        vec![
            ("a".to_owned(), 0),
            ("a".to_owned(), 1),
            ("b".to_owned(), 0),
        ]
    }

    fn wanted<'a>(tps: &'a [TopicPartition], offsets: &[i64]) -> Vec<Wanted<'a>> {
        tps.iter()
            .zip(offsets)
            .map(|(tp, o)| Wanted {
                tp,
                topic_id: Uuid::from_u128(if tp.0 == "a" { 1 } else { 2 }),
                offset: *o,
                leader_epoch: 3,
            })
            .collect()
    }

    #[test]
    fn a_session_sends_only_what_changed_and_forgets_what_left() {
        let tps = tps();
        let mut s = FetchSession::default();
        // First fetch: full, asking for a session.
        let w = wanted(&tps, &[0, 0, 0]);
        let plan = s.plan(&w, true);
        assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
        assert_eq!(plan.send, vec![0, 1, 2]);
        assert!(!plan.incremental);
        s.answered(&plan, &w, 42);
        assert_eq!(s.id(), 42);
        // Partition a-1 got data (its offset moved): only it is sent, at epoch 1.
        let w = wanted(&tps, &[0, 10, 0]);
        let plan = s.plan(&w, true);
        assert_eq!((plan.session_id, plan.session_epoch), (42, 1));
        assert_eq!(plan.send, vec![1]);
        assert!(plan.forget.is_empty());
        assert!(plan.incremental);
        s.answered(&plan, &w, 42);
        // b-0 is not wanted any more (paused, or its buffer is full): it is forgotten.
        let w = wanted(&tps[..2], &[0, 10]);
        let plan = s.plan(&w, true);
        assert_eq!(plan.session_epoch, 2);
        assert!(plan.send.is_empty());
        assert_eq!(plan.forget, vec![(("b".to_owned(), 0), Uuid::from_u128(2))]);
        s.answered(&plan, &w, 42);
        // It comes back: sent again.
        let w = wanted(&tps, &[0, 10, 0]);
        let plan = s.plan(&w, true);
        assert_eq!((plan.session_epoch, plan.send.clone()), (3, vec![2]));
    }

    #[test]
    fn no_session_from_the_broker_keeps_fetches_full() {
        let tps = tps();
        let mut s = FetchSession::default();
        let w = wanted(&tps, &[0, 0, 0]);
        for _ in 0..3 {
            let plan = s.plan(&w, true);
            assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
            assert_eq!(plan.send.len(), 3);
            s.answered(&plan, &w, 0);
        }
    }

    #[test]
    fn a_session_error_falls_back_to_a_full_fetch() {
        let tps = tps();
        let mut s = FetchSession::default();
        let w = wanted(&tps, &[0, 0, 0]);
        let plan = s.plan(&w, true);
        s.answered(&plan, &w, 7);
        assert!(s.plan(&w, true).incremental);
        s.close(); // FETCH_SESSION_ID_NOT_FOUND
        let plan = s.plan(&w, true);
        assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
        assert_eq!(plan.send, vec![0, 1, 2]);
    }

    #[test]
    fn the_epoch_wraps_to_one_and_old_brokers_get_no_session() {
        let tps = tps();
        let w = wanted(&tps, &[0, 0, 0]);
        let mut s = FetchSession {
            id: 9,
            epoch: i32::MAX,
            held: HashMap::new(),
        };
        let plan = s.plan(&w, true);
        assert_eq!(plan.session_epoch, i32::MAX);
        s.answered(&plan, &w, 9);
        assert_eq!(s.plan(&w, true).session_epoch, 1);
        let plan = FetchSession::default().plan(&w, false);
        assert_eq!((plan.session_id, plan.session_epoch), (0, -1));
    }

    #[test]
    fn a_new_leader_epoch_is_sent_again() {
        let tps = tps();
        let mut s = FetchSession::default();
        let w = wanted(&tps, &[5, 5, 5]);
        let plan = s.plan(&w, true);
        s.answered(&plan, &w, 1);
        let mut w = wanted(&tps, &[5, 5, 5]);
        w[2].leader_epoch = 4;
        assert_eq!(s.plan(&w, true).send, vec![2]);
    }
}
