//! The classic group coordinator: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the checks
//! of OffsetCommit.
//!
//! ```text
//! Empty ──join──▶ PreparingRebalance ──all joined / deadline──▶ CompletingRebalance
//!                     ▲                                              │ leader's SyncGroup
//!                     └──── join, leave, session expiry ◀── Stable ◀─┘
//! ```
//!
//! JoinGroup and SyncGroup calls that must wait park a oneshot sender in the member; whoever
//! completes the phase (a later call, or the cluster's ticker for deadlines) answers them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) instance_id: Option<String>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    last_seen: Instant,
    joined: bool,
    assignment: Bytes,
    join_waiter: Option<(i16, oneshot::Sender<JoinGroupResponse>)>,
    sync_waiter: Option<oneshot::Sender<SyncGroupResponse>>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) generation: i32,
    pub(crate) phase: Phase,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending: BTreeSet<String>,
    /// When a rebalance in progress completes at the latest, and at the earliest.
    deadline: Option<Instant>,
    earliest: Option<Instant>,
    next_member: u64,
}

/// The parameters of a JoinGroup request.
#[derive(Debug)]
pub(crate) struct JoinRequest {
    pub(crate) version: i16,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
}

/// An answer now, or one to wait for.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

pub(crate) fn join_error(error: ResponseError, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(error.code())
        .with_generation_id(-1)
        .with_member_id(s(member_id))
}

pub(crate) fn sync_error(error: ResponseError) -> SyncGroupResponse {
    SyncGroupResponse::default().with_error_code(error.code())
}

impl Default for Group {
    fn default() -> Self {
        Self {
            generation: 0,
            phase: Phase::Empty,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeSet::new(),
            deadline: None,
            earliest: None,
            next_member: 0,
        }
    }
}

impl Group {
    fn new_member_id(&mut self, client_id: &str) -> String {
        self.next_member += 1;
        let prefix = if client_id.is_empty() {
            "member"
        } else {
            client_id
        };
        format!(
            "{prefix}-{:08x}-{}",
            self.next_member.wrapping_mul(0x9e37_79b9),
            self.next_member
        )
    }

    fn start_rebalance(&mut self, now: Instant, initial_delay: Duration) {
        if self.phase == Phase::PreparingRebalance {
            return;
        }
        let was_empty = self.phase == Phase::Empty;
        self.phase = Phase::PreparingRebalance;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO);
        self.deadline = Some(now + timeout);
        self.earliest = Some(if was_empty { now + initial_delay } else { now });
        for m in self.members.values_mut() {
            m.joined = false;
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(sync_error(ResponseError::RebalanceInProgress));
            }
        }
    }

    /// JoinGroup.
    pub(crate) fn join(
        &mut self,
        req: JoinRequest,
        now: Instant,
        initial_delay: Duration,
    ) -> Outcome<JoinGroupResponse> {
        if req.protocols.is_empty() || req.protocol_type.is_empty() {
            return Outcome::Now(join_error(
                ResponseError::InconsistentGroupProtocol,
                &req.member_id,
            ));
        }
        if !self.members.is_empty()
            && self
                .protocol_type
                .as_deref()
                .is_some_and(|t| t != req.protocol_type)
        {
            return Outcome::Now(join_error(
                ResponseError::InconsistentGroupProtocol,
                &req.member_id,
            ));
        }
        let mut member_id = req.member_id.clone();
        if member_id.is_empty() {
            let id = self.new_member_id(&req.client_id);
            if let Some(instance) = &req.instance_id {
                // A static member replaces its previous incarnation.
                let old: Vec<String> = self
                    .members
                    .iter()
                    .filter(|(_, m)| m.instance_id.as_ref() == Some(instance))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in old {
                    self.remove_member(&k);
                }
            } else if req.version >= 4 {
                self.pending.insert(id.clone());
                return Outcome::Now(join_error(ResponseError::MemberIdRequired, &id));
            }
            member_id = id;
        } else if !self.members.contains_key(&member_id) && !self.pending.remove(&member_id) {
            return Outcome::Now(join_error(ResponseError::UnknownMemberId, &member_id));
        }
        let (tx, rx) = oneshot::channel();
        let member = self
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                protocols: Vec::new(),
                instance_id: req.instance_id.clone(),
                session_timeout: req.session_timeout,
                rebalance_timeout: req.rebalance_timeout,
                last_seen: now,
                joined: false,
                assignment: Bytes::new(),
                join_waiter: None,
                sync_waiter: None,
            });
        member.protocols = req.protocols;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.last_seen = now;
        if let Some((v, old)) = member.join_waiter.take() {
            let _ = old.send(join_error(ResponseError::UnknownMemberId, &member_id));
            let _ = v;
        }
        member.join_waiter = Some((req.version, tx));
        if self.members.len() == 1 || self.protocol_type.is_none() {
            self.protocol_type = Some(req.protocol_type);
        }
        self.start_rebalance(now, initial_delay);
        if let Some(m) = self.members.get_mut(&member_id) {
            m.joined = true;
        }
        self.maybe_complete_join(now);
        Outcome::Wait(rx)
    }

    /// Completes the join phase when every member joined (and the initial delay passed), or
    /// at the deadline, dropping members that did not rejoin.
    pub(crate) fn maybe_complete_join(&mut self, now: Instant) {
        if self.phase != Phase::PreparingRebalance {
            return;
        }
        let all = self.members.values().all(|m| m.joined);
        let early = self.earliest.is_none_or(|e| now >= e);
        let late = self.deadline.is_some_and(|d| now >= d);
        if !(late || all && early) {
            return;
        }
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| !m.joined)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.remove_member(&k);
        }
        self.generation += 1;
        self.deadline = None;
        self.earliest = None;
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.leader = None;
            self.protocol = None;
            return;
        }
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        // The first protocol of the leader's that every member supports.
        let leader_protocols = self.members[&leader].protocols.clone();
        let protocol = leader_protocols
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .or(leader_protocols.first().map(|(n, _)| n))
            .cloned()
            .unwrap_or_default();
        self.protocol = Some(protocol.clone());
        self.phase = Phase::CompletingRebalance;
        let roster: Vec<JoinGroupResponseMember> = self
            .members
            .iter()
            .map(|(id, m)| {
                JoinGroupResponseMember::default()
                    .with_member_id(s(id))
                    .with_group_instance_id(m.instance_id.as_deref().map(s))
                    .with_metadata(
                        m.protocols
                            .iter()
                            .find(|(p, _)| *p == protocol)
                            .map(|(_, b)| b.clone())
                            .unwrap_or_default(),
                    )
            })
            .collect();
        let generation = self.generation;
        let protocol_type = self.protocol_type.clone();
        for (id, m) in &mut self.members {
            m.joined = false;
            m.last_seen = now;
            if let Some((_, tx)) = m.join_waiter.take() {
                let response = JoinGroupResponse::default()
                    .with_generation_id(generation)
                    .with_protocol_type(protocol_type.as_deref().map(s))
                    .with_protocol_name(Some(s(&protocol)))
                    .with_leader(s(&leader))
                    .with_member_id(s(id))
                    .with_members(if *id == leader {
                        roster.clone()
                    } else {
                        Vec::new()
                    });
                let _ = tx.send(response);
            }
        }
    }

    fn remove_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            if let Some((_, w)) = m.join_waiter.take() {
                let _ = w.send(join_error(ResponseError::UnknownMemberId, id));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(sync_error(ResponseError::UnknownMemberId));
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    fn check_member(&self, member_id: &str, generation: i32) -> Result<(), ResponseError> {
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// SyncGroup.
    pub(crate) fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Outcome<SyncGroupResponse> {
        if let Err(e) = self.check_member(member_id, generation) {
            return Outcome::Now(sync_error(e));
        }
        let response = |g: &Group, assignment: Bytes| {
            SyncGroupResponse::default()
                .with_protocol_type(g.protocol_type.as_deref().map(s))
                .with_protocol_name(g.protocol.as_deref().map(s))
                .with_assignment(assignment)
        };
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_seen = now;
        }
        match self.phase {
            Phase::Empty | Phase::PreparingRebalance => {
                Outcome::Now(sync_error(ResponseError::RebalanceInProgress))
            }
            Phase::Stable => {
                let a = self.members[member_id].assignment.clone();
                Outcome::Now(response(self, a))
            }
            Phase::CompletingRebalance => {
                if self.leader.as_deref() == Some(member_id) {
                    for m in self.members.values_mut() {
                        m.assignment = Bytes::new();
                    }
                    for (id, a) in assignments {
                        if let Some(m) = self.members.get_mut(&id) {
                            m.assignment = a;
                        }
                    }
                    self.phase = Phase::Stable;
                    let answers: Vec<(oneshot::Sender<SyncGroupResponse>, Bytes)> = self
                        .members
                        .values_mut()
                        .filter_map(|m| m.sync_waiter.take().map(|w| (w, m.assignment.clone())))
                        .collect();
                    for (w, a) in answers {
                        let _ = w.send(response(self, a));
                    }
                    let a = self.members[member_id].assignment.clone();
                    Outcome::Now(response(self, a))
                } else {
                    let (tx, rx) = oneshot::channel();
                    if let Some(m) = self.members.get_mut(member_id) {
                        m.sync_waiter = Some(tx);
                    }
                    Outcome::Wait(rx)
                }
            }
        }
    }

    /// Heartbeat.
    pub(crate) fn heartbeat(
        &mut self,
        member_id: &str,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        let m = self
            .members
            .get_mut(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        m.last_seen = now;
        match self.phase {
            Phase::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ if generation != self.generation => Err(ResponseError::IllegalGeneration),
            Phase::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// LeaveGroup for one member.
    pub(crate) fn leave(&mut self, member_id: &str, now: Instant) -> Result<(), ResponseError> {
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        self.remove_member(member_id);
        self.after_departure(now);
        Ok(())
    }

    fn after_departure(&mut self, now: Instant) {
        if self.phase == Phase::PreparingRebalance {
            self.maybe_complete_join(now);
        } else {
            self.start_rebalance(now, Duration::ZERO);
            self.maybe_complete_join(now);
        }
    }

    /// Removes members whose session expired (not those parked in a join or sync), and
    /// completes a join phase whose time has come.
    pub(crate) fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now.duration_since(m.last_seen) > m.session_timeout
            })
            .map(|(k, _)| k.clone())
            .collect();
        if !expired.is_empty() {
            for k in &expired {
                self.remove_member(k);
            }
            self.after_departure(now);
        }
        self.maybe_complete_join(now);
    }

    /// Checks an OffsetCommit from `member_id` at `generation` (-1 and "" for a commit
    /// without membership, accepted only while the group has no members).
    pub(crate) fn check_commit(
        &self,
        member_id: &str,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if generation < 0 && member_id.is_empty() {
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        }
        self.check_member(member_id, generation)?;
        match self.phase {
            Phase::PreparingRebalance | Phase::CompletingRebalance => {
                Err(ResponseError::RebalanceInProgress)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(member: &str) -> JoinRequest {
        JoinRequest {
            version: 9,
            member_id: member.to_owned(),
            instance_id: None,
            client_id: "c".to_owned(),
            protocol_type: "consumer".to_owned(),
            protocols: vec![("range".to_owned(), Bytes::from_static(b"m"))],
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
        }
    }

    fn now_or_recv<T>(o: Outcome<T>) -> T {
        match o {
            Outcome::Now(t) => t,
            Outcome::Wait(mut rx) => rx.try_recv().expect("answered"),
        }
    }

    #[test]
    fn one_member_joins_syncs_and_heartbeats() {
        let mut g = Group::default();
        let now = Instant::now();
        let first = now_or_recv(g.join(req(""), now, Duration::ZERO));
        assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
        let id = first.member_id.to_string();
        let joined = now_or_recv(g.join(req(&id), now, Duration::ZERO));
        assert_eq!(joined.error_code, 0);
        assert_eq!(joined.generation_id, 1);
        assert_eq!(joined.leader.as_str(), id);
        assert_eq!(joined.members.len(), 1);
        assert_eq!(
            g.heartbeat(&id, 1, now),
            Err(ResponseError::RebalanceInProgress)
        );
        let synced = now_or_recv(g.sync(&id, 1, vec![(id.clone(), Bytes::from_static(b"a"))], now));
        assert_eq!(synced.assignment.as_ref(), b"a");
        assert_eq!(g.heartbeat(&id, 1, now), Ok(()));
        assert_eq!(
            g.check_commit(&id, 0),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(g.check_commit(&id, 1), Ok(()));
        assert_eq!(g.leave(&id, now), Ok(()));
        assert_eq!(g.phase, Phase::Empty);
    }
}
