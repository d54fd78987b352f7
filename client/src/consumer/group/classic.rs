//! The classic group protocol's driver: JoinGroup, SyncGroup, Heartbeat, LeaveGroup.
//!
//! One task runs the membership (`Driver::run`), taking each decision from
//! [`ClassicState::handle`]; a second task sends heartbeats every `heartbeat.interval.ms`
//! while the member is stable, and keeps doing so while rebalance events wait for the caller,
//! reporting errors back with the generation they belong to (a late error of an old generation
//! is ignored).
//!
//! The rebalance protocol is COOPERATIVE when every configured assignor supports it (the
//! member keeps its partitions through a rebalance and gives up only those it is not assigned,
//! then rejoins at once) and EAGER otherwise (everything is revoked before joining), as in the
//! Java client. The leader assigns with the protocol the coordinator chose and watches the
//! partition counts of every member's topics, rejoining when they change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use laminar_kafka_protocol::messages::messages::join_group_request::JoinGroupRequestProtocol;
use laminar_kafka_protocol::messages::messages::join_group_response::JoinGroupResponseMember;
use laminar_kafka_protocol::messages::messages::leave_group_request::MemberIdentity;
use laminar_kafka_protocol::messages::messages::sync_group_request::SyncGroupRequestAssignment;
use laminar_kafka_protocol::messages::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Group;
use super::embedded;
use super::link::CoordinatorLink;
use super::membership::{ClassicAction, ClassicEvent, ClassicState, Generation};
use crate::backoff::{Backoff, SplitMix};
use crate::consumer::assignor::{Assignor, MemberSubscription, assignor_by_name};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::offsets::TopicPartition;

const PROTOCOL_TYPE: &str = "consumer";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn ms(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Whom the heartbeat task speaks for; `None` while the member is not stable.
#[derive(Default)]
struct Beat {
    identity: Mutex<Option<(i32, String)>>,
    changed: Notify,
}

impl Beat {
    fn set(&self, identity: Option<(i32, String)>) {
        *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = identity;
        self.changed.notify_one();
    }

    fn get(&self) -> Option<(i32, String)> {
        self.identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Starts the driver and the heartbeat task.
pub(super) fn start(group: Arc<Group>) -> (JoinHandle<()>, JoinHandle<()>) {
    let beat = Arc::new(Beat::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let heartbeat = tokio::spawn(heartbeats(group.clone(), beat.clone(), tx));
    let driver = tokio::spawn(async move {
        let mut d = Driver::new(group, beat, rx);
        d.run().await;
    });
    (driver, heartbeat)
}

async fn heartbeats(group: Arc<Group>, beat: Arc<Beat>, tx: mpsc::UnboundedSender<(i32, i16)>) {
    let interval = group.config().consumer.heartbeat_interval;
    loop {
        let changed = beat.changed.notified();
        let Some((generation, member_id)) = beat.get() else {
            changed.await;
            continue;
        };
        drop(changed);
        tokio::time::sleep(interval).await;
        if beat.get().as_ref() != Some(&(generation, member_id.clone())) {
            continue;
        }
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(s(&group.group_id)))
            .with_generation_id(generation)
            .with_member_id(s(&member_id))
            .with_group_instance_id(group.instance_id.as_deref().map(s));
        let code = async {
            let conn = group.link.connection().await?;
            group.link.send(&conn, &request).await.map(|r| r.error_code)
        }
        .await;
        // Connection trouble: the link looks the coordinator up again for the next beat.
        match code {
            Ok(0) => {}
            Ok(code) => {
                tracing::debug!(
                    target: log_targets::GROUP,
                    group = group.group_id.as_str(),
                    generation,
                    code = ?KafkaCode::check(code).err(),
                    "heartbeat answered with an error"
                );
                let _ = tx.send((generation, code));
            }
            Err(e) => tracing::debug!(
                target: log_targets::GROUP,
                group = group.group_id.as_str(),
                generation,
                error = %e,
                "heartbeat failed"
            ),
        }
    }
}

struct Driver {
    g: Arc<Group>,
    state: ClassicState,
    beat: Arc<Beat>,
    beats: mpsc::UnboundedReceiver<(i32, i16)>,
    assignors: Vec<Box<dyn Assignor>>,
    cooperative: bool,
    backoff: Backoff<SplitMix>,
    /// The generation the owned partitions belong to (-1: none).
    generation_id: i32,
    /// Topics and partition counts the member joined with.
    subscribed: BTreeMap<String, i32>,
    subscription_version: u64,
    /// As leader: partition counts of every member's topics at the last assignment.
    group_topics: BTreeMap<String, i32>,
    /// The JoinGroup response's members, for the leader.
    members: Vec<JoinGroupResponseMember>,
    skip_assignment: bool,
    /// SyncGroup's assignment for this member.
    assignment: Bytes,
    /// The member id to send LeaveGroup for.
    leave_id: String,
    /// The last group API sent, for errors.
    last_api: &'static str,
}

impl Driver {
    fn new(g: Arc<Group>, beat: Arc<Beat>, beats: mpsc::UnboundedReceiver<(i32, i16)>) -> Self {
        let assignors: Vec<Box<dyn Assignor>> = g
            .config()
            .consumer
            .partition_assignment_strategy
            .iter()
            .filter_map(|n| assignor_by_name(n).ok())
            .collect();
        let cooperative =
            !assignors.is_empty() && assignors.iter().all(|a| a.supports_cooperative());
        let backoff = g.cluster().retry_backoff();
        Self {
            g,
            state: ClassicState::Unjoined {
                member_id: String::new(),
            },
            beat,
            beats,
            assignors,
            cooperative,
            backoff,
            generation_id: -1,
            subscribed: BTreeMap::new(),
            subscription_version: 0,
            group_topics: BTreeMap::new(),
            members: Vec::new(),
            skip_assignment: false,
            assignment: Bytes::new(),
            leave_id: String::new(),
            last_api: "JoinGroup",
        }
    }

    /// Starts a rebalance (a JoinGroup) for `reason`.
    fn rebalance(&mut self, reason: &'static str) -> ClassicAction {
        tracing::info!(
            target: log_targets::GROUP,
            group = self.g.group_id.as_str(),
            reason,
            "rebalance started"
        );
        self.step(ClassicEvent::Join)
    }

    fn step(&mut self, event: ClassicEvent) -> ClassicAction {
        let state = std::mem::replace(&mut self.state, ClassicState::Failed);
        let (next, action) = state.handle(event);
        self.state = next;
        action
    }

    async fn run(&mut self) {
        let mut action = ClassicAction::None;
        loop {
            if self.g.is_closing() && !matches!(action, ClassicAction::Leave) {
                action = self.close_action().await;
            }
            action = match action {
                ClassicAction::None => self.idle().await,
                ClassicAction::Join => {
                    self.prepare_join().await;
                    self.join().await
                }
                ClassicAction::JoinAgain => self.join().await,
                ClassicAction::JoinAfterBackoff => {
                    tokio::time::sleep(self.backoff.next_delay()).await;
                    self.join().await
                }
                ClassicAction::LoseAndJoin => {
                    self.beat.set(None);
                    self.g.lose_all().await;
                    self.generation_id = -1;
                    self.join().await
                }
                ClassicAction::FindCoordinator => {
                    self.g.link.invalidate();
                    tokio::time::sleep(self.backoff.next_delay()).await;
                    match self.state {
                        ClassicState::Joining { .. } => self.join().await,
                        _ => ClassicAction::None,
                    }
                }
                ClassicAction::Sync { leader } => self.sync(leader).await,
                ClassicAction::Assign => self.assign().await,
                ClassicAction::Leave => {
                    self.leave().await;
                    return;
                }
                ClassicAction::Fatal(code) => {
                    self.beat.set(None);
                    self.g.fail(Error::Broker {
                        api: self.last_api,
                        code,
                        context: Some(format!("group `{}`", self.g.group_id)),
                        message: None,
                    });
                    // Nothing more to do than wait for close.
                    while !self.g.is_closing() {
                        self.g.wake.notified().await;
                    }
                    return;
                }
            };
        }
    }

    /// Closing: commit and revoke what is owned, then leave (if a member).
    async fn close_action(&mut self) -> ClassicAction {
        if self.generation_id >= 0 {
            self.g.revoke_all().await;
        } else {
            self.g.lose_all().await;
        }
        self.beat.set(None);
        self.leave_id = self.g.lock().member_id.clone();
        self.step(ClassicEvent::Leave);
        ClassicAction::Leave
    }

    /// Waits for something to do: in a stable group, heartbeat errors, metadata changes,
    /// auto commits and the poll interval; otherwise, a subscription.
    async fn idle(&mut self) -> ClassicAction {
        let config = self.g.config().clone();
        let mut next_metadata = Instant::now() + config.common.metadata_max_age;
        let mut next_commit = Instant::now() + config.consumer.auto_commit_interval;
        loop {
            let g = self.g.clone();
            let wake = g.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let (has_subscription, version, closing, expired) = {
                let st = self.g.lock();
                (
                    st.subscription.is_some(),
                    st.subscription_version,
                    st.closing,
                    st.poll_expired,
                )
            };
            if closing {
                return ClassicAction::None; // `run` turns this into the leave
            }
            match &self.state {
                ClassicState::Stable { .. } => {}
                ClassicState::Failed | ClassicState::Left => {
                    wake.await;
                    continue;
                }
                ClassicState::Joining { .. } if has_subscription && !expired => {
                    return ClassicAction::JoinAgain;
                }
                _ if has_subscription && !expired => return self.rebalance("subscribed"),
                _ => {
                    wake.await;
                    continue;
                }
            }
            if version != self.subscription_version {
                return self.rebalance("the subscription changed");
            }
            let poll_deadline = self
                .g
                .poll_deadline()
                .unwrap_or_else(|| Instant::now() + config.consumer.max_poll_interval);
            let auto_commit = config.consumer.enable_auto_commit;
            tokio::select! {
                Some((generation, code)) = self.beats.recv() => {
                    if generation == self.generation_id {
                        match KafkaCode::from_code(code) {
                            Some(KafkaCode::REBALANCE_IN_PROGRESS) => tracing::info!(
                                target: log_targets::GROUP,
                                group = self.g.group_id.as_str(),
                                reason = "the coordinator started one (REBALANCE_IN_PROGRESS)",
                                "rebalance started"
                            ),
                            Some(c @ (KafkaCode::UNKNOWN_MEMBER_ID
                            | KafkaCode::ILLEGAL_GENERATION
                            | KafkaCode::FENCED_INSTANCE_ID)) => tracing::info!(
                                target: log_targets::GROUP,
                                group = self.g.group_id.as_str(),
                                generation,
                                code = %c,
                                "member fenced by the coordinator"
                            ),
                            _ => {}
                        }
                        return self.step(ClassicEvent::Heartbeat { code });
                    }
                }
                _ = &mut wake => {}
                _ = tokio::time::sleep_until(next_metadata) => {
                    next_metadata = Instant::now() + config.common.metadata_max_age;
                    if self.metadata_changed().await {
                        return self.rebalance("the subscribed topics changed in metadata");
                    }
                }
                _ = tokio::time::sleep_until(next_commit), if auto_commit => {
                    next_commit = Instant::now() + config.consumer.auto_commit_interval;
                    self.g.auto_commit();
                }
                _ = tokio::time::sleep_until(poll_deadline) => {
                    if self.g.poll_deadline().is_some_and(|d| d <= Instant::now()) {
                        self.poll_expired().await;
                    }
                }
            }
        }
    }

    /// `poll` was not called within `max.poll.interval.ms`: leave, as the Java client does,
    /// and wait for the next `poll` to rejoin.
    async fn poll_expired(&mut self) {
        tracing::info!(
            target: log_targets::GROUP,
            group = self.g.group_id.as_str(),
            max_poll_interval_ms = self.g.config().consumer.max_poll_interval.as_millis() as u64,
            "poll was not called within max.poll.interval.ms: leaving the group"
        );
        self.beat.set(None);
        self.g.lock().poll_expired = true;
        self.leave_id = self.g.lock().member_id.clone();
        self.g.lose_all().await;
        if self.step(ClassicEvent::Leave) == ClassicAction::Leave {
            self.leave().await;
        }
        self.generation_id = -1;
        self.state = ClassicState::Unjoined {
            member_id: String::new(),
        };
    }

    /// Whether the subscription (or, as leader, any member's topic) changed in metadata.
    async fn metadata_changed(&mut self) -> bool {
        let Some(sub) = self.g.lock().subscription.clone() else {
            return false;
        };
        match sub.resolve(self.g.cluster()).await {
            Ok(now) if now != self.subscribed => return true,
            Ok(_) => {}
            Err(_) => return false, // try again at the next refresh
        }
        if self.group_topics.is_empty() {
            return false;
        }
        self.partition_counts(self.group_topics.keys().cloned().collect())
            .await
            != self.group_topics
    }

    async fn partition_counts(&self, topics: BTreeSet<String>) -> BTreeMap<String, i32> {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        if names.is_empty() || self.g.cluster().refresh_metadata(&names).await.is_err() {
            return BTreeMap::new();
        }
        let md = self.g.cluster().metadata();
        topics
            .into_iter()
            .filter_map(|t| {
                let n = md.known_topic(&t)?.partitions.len() as i32;
                Some((t, n))
            })
            .collect()
    }

    /// Before (re)joining: stop heartbeats; EAGER revokes everything, COOPERATIVE commits
    /// (auto commit) and keeps consuming.
    async fn prepare_join(&mut self) {
        // Heartbeats go on while the listener handles revocations.
        if self.cooperative {
            if self.g.config().consumer.enable_auto_commit {
                let owned = self.g.owned();
                let _ = self.g.commit_now(self.g.positions_of(&owned)).await;
            }
        } else {
            self.g.revoke_all().await;
        }
        self.beat.set(None);
    }

    async fn join(&mut self) -> ClassicAction {
        let (sub, version) = {
            let st = self.g.lock();
            (st.subscription.clone(), st.subscription_version)
        };
        let Some(sub) = sub else {
            self.state = ClassicState::Unjoined {
                member_id: self.state.member_id().to_owned(),
            };
            return ClassicAction::None;
        };
        match sub.resolve(self.g.cluster()).await {
            Ok(topics) => self.subscribed = topics,
            Err(_) => return ClassicAction::JoinAfterBackoff,
        }
        self.last_api = "JoinGroup";
        self.subscription_version = version;
        tracing::debug!(
            target: log_targets::GROUP,
            group = self.g.group_id.as_str(),
            member_id = self.state.member_id(),
            topics = self.subscribed.len(),
            "joining"
        );
        match self.send_join().await {
            Ok(event) => {
                if let ClassicEvent::Joined {
                    code,
                    member_id,
                    generation,
                    leader_id,
                    protocol,
                } = &event
                {
                    match KafkaCode::from_code(*code) {
                        None => tracing::info!(
                            target: log_targets::GROUP,
                            group = self.g.group_id.as_str(),
                            generation,
                            member_id = member_id.as_str(),
                            leader = leader_id == member_id,
                            protocol = protocol.as_deref().unwrap_or(""),
                            "joined the group"
                        ),
                        Some(c) => tracing::debug!(
                            target: log_targets::GROUP,
                            group = self.g.group_id.as_str(),
                            code = %c,
                            "JoinGroup answered with an error"
                        ),
                    }
                }
                self.step(event)
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(
                    target: log_targets::GROUP,
                    group = self.g.group_id.as_str(),
                    error = %e,
                    "JoinGroup failed; looking the coordinator up again"
                );
                ClassicAction::FindCoordinator
            }
            Err(e) => {
                self.g.fail(e);
                self.state = ClassicState::Failed;
                ClassicAction::None
            }
        }
    }

    async fn send_join(&mut self) -> Result<ClassicEvent> {
        let config = self.g.config();
        let topics: Vec<String> = self.subscribed.keys().cloned().collect();
        let owned: Vec<TopicPartition> = if self.cooperative {
            self.g.owned().into_iter().collect()
        } else {
            Vec::new()
        };
        let mut protocols = Vec::new();
        for a in &self.assignors {
            let metadata = embedded::encode_subscription(
                &topics,
                a.user_data(self.generation_id),
                &owned,
                self.generation_id,
                config.common.client_rack.as_deref(),
            )
            .map_err(|source| Error::Protocol {
                broker: "(subscription)".to_owned(),
                source,
            })?;
            protocols.push(
                JoinGroupRequestProtocol::default()
                    .with_name(s(a.name()))
                    .with_metadata(metadata),
            );
        }
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&self.g.group_id)))
            .with_session_timeout_ms(ms(config.consumer.session_timeout))
            .with_rebalance_timeout_ms(ms(config.consumer.max_poll_interval))
            .with_member_id(s(self.state.member_id()))
            .with_group_instance_id(self.g.instance_id.as_deref().map(s))
            .with_protocol_type(s(PROTOCOL_TYPE))
            .with_protocols(protocols)
            .with_reason(Some(s("rebalance")));
        let conn = self.g.link.connection().await?;
        let version = CoordinatorLink::version_of::<JoinGroupRequest>(&conn)?;
        let response = self.g.link.send_long(&conn, &request, version).await?;
        self.members = response.members;
        self.skip_assignment = response.skip_assignment;
        Ok(ClassicEvent::Joined {
            code: response.error_code,
            member_id: response.member_id.to_string(),
            generation: response.generation_id,
            leader_id: response.leader.to_string(),
            protocol: response.protocol_name.map(|p| p.to_string()),
        })
    }

    fn generation(&self) -> Option<Generation> {
        match &self.state {
            ClassicState::Syncing { generation } | ClassicState::Stable { generation } => {
                Some(generation.clone())
            }
            _ => None,
        }
    }

    /// The leader's assignment: every member's subscription through the chosen assignor.
    async fn compute_assignment(
        &mut self,
        generation: &Generation,
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let protocol = generation.protocol.clone().unwrap_or_default();
        let Some(assignor) = self.assignors.iter().find(|a| a.name() == protocol) else {
            return Err(Error::Broker {
                api: "JoinGroup",
                code: KafkaCode::INCONSISTENT_GROUP_PROTOCOL,
                context: Some(format!("group `{}`", self.g.group_id)),
                message: Some(format!("the coordinator chose `{protocol}`, not ours")),
            });
        };
        let members: Vec<MemberSubscription> = self
            .members
            .iter()
            .map(|m| {
                let id = m.member_id.to_string();
                let instance = m.group_instance_id.as_ref().map(|i| i.to_string());
                // A member whose subscription cannot be read gets nothing rather than
                // stopping the whole group.
                embedded::decode_subscription(&id, instance.as_deref(), m.metadata.clone())
                    .unwrap_or_else(|_| MemberSubscription {
                        member_id: id,
                        instance_id: instance,
                        generation: -1,
                        ..MemberSubscription::default()
                    })
            })
            .collect();
        let topics: BTreeSet<String> = members.iter().flat_map(|m| m.topics.clone()).collect();
        let counts = self.partition_counts(topics).await;
        let assignment = assignor.assign(&counts, &members);
        self.group_topics = counts;
        let mut out = Vec::new();
        for (member, parts) in assignment {
            let bytes = embedded::encode_assignment(&parts).map_err(|source| Error::Protocol {
                broker: "(assignment)".to_owned(),
                source,
            })?;
            out.push(
                SyncGroupRequestAssignment::default()
                    .with_member_id(s(&member))
                    .with_assignment(bytes),
            );
        }
        Ok(out)
    }

    async fn sync(&mut self, leader: bool) -> ClassicAction {
        let Some(generation) = self.generation() else {
            return ClassicAction::None;
        };
        let assignments = if leader && !self.skip_assignment {
            match self.compute_assignment(&generation).await {
                Ok(a) => a,
                Err(e) => {
                    self.g.fail(e);
                    self.state = ClassicState::Failed;
                    return ClassicAction::None;
                }
            }
        } else {
            if !leader {
                self.group_topics.clear();
            }
            Vec::new()
        };
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(s(&self.g.group_id)))
            .with_generation_id(generation.id)
            .with_member_id(s(&generation.member_id))
            .with_group_instance_id(self.g.instance_id.as_deref().map(s))
            .with_protocol_type(Some(s(PROTOCOL_TYPE)))
            .with_protocol_name(generation.protocol.as_deref().map(s))
            .with_assignments(assignments);
        self.last_api = "SyncGroup";
        let response = async {
            let conn = self.g.link.connection().await?;
            self.g.link.send(&conn, &request).await
        }
        .await;
        match response {
            Ok(r) => {
                if let Some(c) = KafkaCode::from_code(r.error_code) {
                    tracing::debug!(
                        target: log_targets::GROUP,
                        group = self.g.group_id.as_str(),
                        generation = generation.id,
                        code = %c,
                        "SyncGroup answered with an error"
                    );
                }
                self.last_api = "Heartbeat";
                self.assignment = r.assignment;
                self.step(ClassicEvent::Synced { code: r.error_code })
            }
            Err(e) => {
                tracing::debug!(
                    target: log_targets::GROUP,
                    group = self.g.group_id.as_str(),
                    error = %e,
                    "SyncGroup failed; looking the coordinator up again"
                );
                // The coordinator is gone or unreachable: find it and rejoin.
                self.state = ClassicState::Joining {
                    member_id: generation.member_id,
                };
                ClassicAction::FindCoordinator
            }
        }
    }

    /// Applies the assignment SyncGroup returned.
    async fn assign(&mut self) -> ClassicAction {
        let Some(generation) = self.generation() else {
            return ClassicAction::None;
        };
        let target: BTreeSet<TopicPartition> =
            match embedded::decode_assignment(self.assignment.clone()) {
                Ok(parts) => parts.into_iter().collect(),
                Err(source) => {
                    self.g.fail(Error::Protocol {
                        broker: format!("group `{}` assignment", self.g.group_id),
                        source,
                    });
                    self.state = ClassicState::Failed;
                    return ClassicAction::None;
                }
            };
        self.generation_id = generation.id;
        self.g.set_identity(generation.id, &generation.member_id);
        self.beat
            .set(Some((generation.id, generation.member_id.clone())));
        self.backoff.reset();
        match self.g.reconcile(&target).await {
            // COOPERATIVE: having given partitions up, rejoin so that they can move.
            Ok(true) if self.cooperative => {
                self.rebalance("cooperative: partitions were given up, so that they can move")
            }
            Ok(_) => ClassicAction::None,
            Err(e) => {
                self.g.fail(e);
                ClassicAction::None
            }
        }
    }

    async fn leave(&mut self) {
        self.beat.set(None);
        let member_id = std::mem::take(&mut self.leave_id);
        // Static members keep their place until the session times out (the Java client does
        // not send LeaveGroup for them either), so that a restart does not rebalance.
        if self.g.instance_id.is_some() || member_id.is_empty() {
            return;
        }
        tracing::debug!(
            target: log_targets::GROUP,
            group = self.g.group_id.as_str(),
            member_id = member_id.as_str(),
            "leaving the group"
        );
        let _ = async {
            let conn = self.g.link.connection().await?;
            let version = CoordinatorLink::version_of::<LeaveGroupRequest>(&conn)?;
            let request = if version >= 3 {
                LeaveGroupRequest::default()
                    .with_group_id(GroupId(s(&self.g.group_id)))
                    .with_members(vec![
                        MemberIdentity::default()
                            .with_member_id(s(&member_id))
                            .with_reason(Some(s("the consumer is closing"))),
                    ])
            } else {
                LeaveGroupRequest::default()
                    .with_group_id(GroupId(s(&self.g.group_id)))
                    .with_member_id(s(&member_id))
            };
            self.g.link.send_at(&conn, &request, version).await
        }
        .await;
        self.g.set_identity(-1, "");
    }
}
