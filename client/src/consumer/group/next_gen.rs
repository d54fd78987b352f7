//! The consumer group protocol of KIP-848 (`group.protocol=consumer`): one request,
//! ConsumerGroupHeartbeat, and the broker computes the assignment.
//!
//! The member generates its id (v1, KIP-1082), joins with epoch 0 and sends everything
//! (instance id, rack, rebalance timeout, subscribed topics, owned partitions); afterwards a
//! field is sent only when it changed (null means unchanged), and everything again after any
//! error. The broker answers with the member epoch, the heartbeat interval, and — when it
//! changed — the member's target assignment by topic id. The member revokes what it owns but
//! is no longer assigned (events and auto commit as in the classic protocol), takes on the rest
//! (the broker only assigns partitions their previous owner has released), and reports what it
//! owns in the next heartbeat, sent at once. FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: the
//! partitions are lost and the member rejoins with epoch 0. Leaving is epoch -1 (-2 for a static
//! member, which keeps its assignment for the session timeout).
//!
//! Patterns are resolved by the client (the `regex` crate) into topic names, so that a pattern
//! means the same in both protocols. Heartbeats go on while a rebalance event waits for the
//! caller.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use laminar_kafka_protocol::messages::messages::consumer_group_heartbeat_request::TopicPartitions;
use laminar_kafka_protocol::messages::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use tokio::time::Instant;
use uuid::Uuid;

use super::link::CoordinatorLink;
use super::membership::{ConsumerVerdict, consumer_verdict};
use super::{Group, Subscription};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::offsets::TopicPartition;

/// Epoch of a member leaving; -2 for a static member that will be back.
const LEAVE_EPOCH: i32 = -1;
const STATIC_LEAVE_EPOCH: i32 = -2;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// A member id as the Java client makes one: 16 random bytes (a UUID) in URL-safe base64.
fn new_member_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the id only needs to be unique, not secret.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = (nanos ^ u128::from(std::process::id()) << 64).to_be_bytes();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The feature as users name it, in [`Error::UnsupportedByBroker`].
const FEATURE: &str = "group.protocol=consumer (KIP-848)";

/// What to do when the broker cannot run the consumer protocol.
const REMEDY: &str = "set group.protocol=classic, or upgrade the brokers to Kafka 4.0 or later \
     (on 3.7 to 3.9 the protocol is a preview behind group.coordinator.rebalance.protocols=classic,consumer)";

/// The error for a broker that offers no usable ConsumerGroupHeartbeat; other errors as they are.
fn missing_api(broker: &str, e: Error) -> Error {
    match e {
        Error::Protocol {
            source:
                laminar_kafka_protocol::Error::UnsupportedApi { .. }
                | laminar_kafka_protocol::Error::NoCommonVersion { .. },
            ..
        } => Error::UnsupportedByBroker {
            feature: FEATURE,
            broker: broker.to_owned(),
            detail: format!(
                "its ApiVersions lists no usable ConsumerGroupHeartbeat (API key 68, Kafka 4.0+): {e}; {REMEDY}"
            ),
        },
        other => other,
    }
}

/// UNSUPPORTED_VERSION in a heartbeat answer: the broker has the API but its consumer protocol
/// is off (a 3.x broker's default, or a 4.x broker with group.version 0).
fn is_unsupported_version(code: i16) -> bool {
    KafkaCode::check(code) == Err(KafkaCode::UNSUPPORTED_VERSION)
}

fn protocol_disabled(broker: &str, message: Option<&str>) -> Error {
    let said = message
        .filter(|m| !m.is_empty())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    Error::UnsupportedByBroker {
        feature: FEATURE,
        broker: broker.to_owned(),
        detail: format!(
            "ConsumerGroupHeartbeat answered UNSUPPORTED_VERSION{said}: the consumer group protocol is not enabled on the broker; {REMEDY}"
        ),
    }
}

pub(super) async fn run(group: Arc<Group>) {
    let mut m = Member::new(group);
    m.run().await;
}

struct Member {
    g: Arc<Group>,
    member_id: String,
    epoch: i32,
    interval: Duration,
    /// Send every field in the next heartbeat.
    full: bool,
    sent_topics: Option<Vec<String>>,
    sent_owned: Option<BTreeSet<TopicPartition>>,
    /// Topic names to subscribe to, as last resolved.
    topics: Vec<String>,
    subscription_version: u64,
    /// The latest target assignment from the broker, by topic id.
    target: Option<BTreeSet<(Uuid, i32)>>,
    backoff: crate::backoff::Backoff<crate::backoff::SplitMix>,
}

impl Member {
    fn new(g: Arc<Group>) -> Self {
        let backoff = g.cluster().retry_backoff();
        Self {
            g,
            member_id: new_member_id(),
            epoch: 0,
            interval: Duration::from_secs(5),
            full: true,
            sent_topics: None,
            sent_owned: None,
            topics: Vec::new(),
            subscription_version: 0,
            target: None,
            backoff,
        }
    }

    async fn resolve(&self, sub: &Subscription) -> Result<Vec<String>> {
        match sub {
            // The broker follows a named topic even before it exists.
            Subscription::Topics(t) => Ok(t.clone()),
            Subscription::Pattern(_) => {
                Ok(sub.resolve(self.g.cluster()).await?.into_keys().collect())
            }
        }
    }

    async fn run(&mut self) {
        let config = self.g.config().clone();
        let mut next_at = Instant::now();
        let mut next_metadata = Instant::now() + config.common.metadata_max_age;
        let mut next_commit = Instant::now() + config.consumer.auto_commit_interval;
        loop {
            let g = self.g.clone();
            let wake = g.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let (sub, version, expired, closing, failed) = {
                let st = self.g.lock();
                (
                    st.subscription.clone(),
                    st.subscription_version,
                    st.poll_expired,
                    st.closing,
                    st.fatal.is_some(),
                )
            };
            if closing {
                self.close().await;
                return;
            }
            let Some(sub) = sub.filter(|_| !expired && !failed) else {
                wake.await;
                continue;
            };
            if version != self.subscription_version {
                match self.resolve(&sub).await {
                    Ok(t) => self.topics = t,
                    Err(_) => {
                        tokio::time::sleep(self.backoff.next_delay()).await;
                        continue;
                    }
                }
                self.subscription_version = version;
                next_at = Instant::now();
            }
            if Instant::now() < next_at {
                let poll_deadline = self
                    .g
                    .poll_deadline()
                    .unwrap_or_else(|| Instant::now() + config.consumer.max_poll_interval);
                let member = self.epoch > 0;
                tokio::select! {
                    _ = tokio::time::sleep_until(next_at) => {}
                    _ = &mut wake => continue,
                    _ = tokio::time::sleep_until(next_metadata) => {
                        next_metadata = Instant::now() + config.common.metadata_max_age;
                        if let Ok(t) = self.resolve(&sub).await {
                            if t != self.topics {
                                self.topics = t;
                                next_at = Instant::now();
                            }
                        }
                        continue;
                    }
                    _ = tokio::time::sleep_until(next_commit), if config.consumer.enable_auto_commit => {
                        next_commit = Instant::now() + config.consumer.auto_commit_interval;
                        self.g.auto_commit();
                        continue;
                    }
                    _ = tokio::time::sleep_until(poll_deadline), if member => {
                        if self.g.poll_deadline().is_some_and(|d| d <= Instant::now()) {
                            tracing::info!(
                                target: log_targets::GROUP,
                                group = self.g.group_id.as_str(),
                                max_poll_interval_ms = config.consumer.max_poll_interval.as_millis() as u64,
                                "poll was not called within max.poll.interval.ms: leaving the group"
                            );
                            self.g.lock().poll_expired = true;
                            self.g.lose_all().await;
                            self.leave(LEAVE_EPOCH).await;
                            self.rejoin_fresh();
                        }
                        continue;
                    }
                }
            }
            next_at = Instant::now() + self.interval;
            match self.heartbeat().await {
                Ok(response) => match consumer_verdict(response.error_code) {
                    ConsumerVerdict::Ok => {
                        self.backoff.reset();
                        self.accept(response);
                    }
                    ConsumerVerdict::Fenced => {
                        tracing::info!(
                            target: log_targets::GROUP,
                            group = self.g.group_id.as_str(),
                            member_epoch = self.epoch,
                            code = ?KafkaCode::check(response.error_code).err(),
                            "member fenced by the coordinator; rejoining"
                        );
                        self.g.lose_all().await;
                        self.rejoin_fresh();
                        next_at = Instant::now();
                    }
                    ConsumerVerdict::FindCoordinator => {
                        tracing::debug!(
                            target: log_targets::GROUP,
                            group = self.g.group_id.as_str(),
                            code = ?KafkaCode::check(response.error_code).err(),
                            "heartbeat: the coordinator moved"
                        );
                        self.g.link.invalidate();
                        self.full = true;
                        next_at = Instant::now() + self.backoff.next_delay();
                    }
                    ConsumerVerdict::Retry => {
                        tracing::debug!(
                            target: log_targets::GROUP,
                            group = self.g.group_id.as_str(),
                            code = ?KafkaCode::check(response.error_code).err(),
                            "heartbeat answered with a retriable error"
                        );
                        self.full = true;
                        next_at = Instant::now() + self.backoff.next_delay();
                    }
                    ConsumerVerdict::Fatal(code) => {
                        self.g.fail(Error::Broker {
                            api: "ConsumerGroupHeartbeat",
                            code,
                            context: Some(format!("group `{}`", self.g.group_id)),
                            message: response.error_message.map(|m| m.to_string()),
                        });
                        continue;
                    }
                },
                Err(e) if e.is_retriable() => {
                    tracing::debug!(
                        target: log_targets::GROUP,
                        group = self.g.group_id.as_str(),
                        error = %e,
                        "heartbeat failed; retrying after the backoff"
                    );
                    self.full = true;
                    next_at = Instant::now() + self.backoff.next_delay();
                }
                Err(e) => {
                    self.g.fail(e);
                    continue;
                }
            }
            if self.reconcile().await {
                next_at = Instant::now(); // report the new ownership at once
            }
        }
    }

    /// Epoch 0 and everything sent again (after fencing or leaving).
    fn rejoin_fresh(&mut self) {
        self.epoch = 0;
        self.full = true;
        self.target = None;
        self.g.set_identity(-1, "");
    }

    fn topic_ids(&self) -> HashMap<String, Uuid> {
        let md = self.g.cluster().metadata();
        md.topic_names()
            .filter_map(|n| md.known_topic(n).map(|t| (n.to_owned(), t.id)))
            .collect()
    }

    async fn heartbeat(&mut self) -> Result<ConsumerGroupHeartbeatResponse> {
        let config = self.g.config().clone();
        let owned = self.g.owned();
        let mut request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(&self.g.group_id)))
            .with_member_epoch(self.epoch);
        if self.full {
            request = request
                .with_instance_id(self.g.instance_id.as_deref().map(s))
                .with_rack_id(config.common.client_rack.as_deref().map(s))
                .with_server_assignor(config.consumer.group_remote_assignor.as_deref().map(s))
                .with_rebalance_timeout_ms(
                    i32::try_from(config.consumer.max_poll_interval.as_millis())
                        .unwrap_or(i32::MAX),
                );
        }
        if self.full || self.sent_topics.as_ref() != Some(&self.topics) {
            request = request.with_subscribed_topic_names(Some(
                self.topics.iter().map(|t| TopicName(s(t))).collect(),
            ));
        }
        if self.full || self.sent_owned.as_ref() != Some(&owned) {
            let mut ids = self.topic_ids();
            if owned.iter().any(|(t, _)| !ids.contains_key(t)) {
                let _ = self.g.cluster().refresh_metadata(&[]).await;
                ids = self.topic_ids();
            }
            let mut by_topic: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
            for (t, p) in &owned {
                if let Some(id) = ids.get(t) {
                    by_topic.entry(*id).or_default().push(*p);
                }
            }
            request = request.with_topic_partitions(Some(
                by_topic
                    .into_iter()
                    .map(|(id, ps)| {
                        TopicPartitions::default()
                            .with_topic_id(id)
                            .with_partitions(ps)
                    })
                    .collect(),
            ));
        }
        let conn = self.g.link.connection().await?;
        let version = CoordinatorLink::version_of::<ConsumerGroupHeartbeatRequest>(&conn)
            .map_err(|e| missing_api(conn.broker(), e))?;
        // v0: the broker names the member; v1+: the client does.
        if version >= 1 || self.epoch != 0 {
            request = request.with_member_id(s(&self.member_id));
        }
        let sent_topics = request.subscribed_topic_names.is_some();
        let sent_owned = request.topic_partitions.is_some();
        let response = self.g.link.send_at(&conn, &request, version).await?;
        if is_unsupported_version(response.error_code) {
            // Not a rebalance to wait out: this broker will not run the protocol.
            return Err(protocol_disabled(
                conn.broker(),
                response.error_message.as_deref(),
            ));
        }
        if response.error_code == 0 {
            if sent_topics {
                self.sent_topics = Some(self.topics.clone());
            }
            if sent_owned {
                self.sent_owned = Some(owned);
            }
            self.full = false;
        }
        Ok(response)
    }

    fn accept(&mut self, response: ConsumerGroupHeartbeatResponse) {
        if let Some(id) = response.member_id.filter(|m| !m.is_empty()) {
            self.member_id = id.to_string();
        }
        if self.epoch <= 0 && response.member_epoch > 0 {
            tracing::info!(
                target: log_targets::GROUP,
                group = self.g.group_id.as_str(),
                member_id = self.member_id.as_str(),
                member_epoch = response.member_epoch,
                "joined the group (KIP-848)"
            );
        }
        self.epoch = response.member_epoch;
        if response.heartbeat_interval_ms > 0 {
            self.interval = Duration::from_millis(response.heartbeat_interval_ms as u64);
        }
        self.g.set_identity(self.epoch, &self.member_id);
        if let Some(a) = response.assignment {
            self.target = Some(
                a.topic_partitions
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
                    .collect(),
            );
        }
    }

    /// Moves the owned partitions to the target; whether anything changed.
    async fn reconcile(&mut self) -> bool {
        let Some(target) = self.target.clone() else {
            return false;
        };
        let mut names: HashMap<Uuid, String> = self
            .topic_ids()
            .into_iter()
            .map(|(n, id)| (id, n))
            .collect();
        if target.iter().any(|(id, _)| !names.contains_key(id)) {
            let _ = self.g.cluster().refresh_metadata(&[]).await;
            names = self
                .topic_ids()
                .into_iter()
                .map(|(n, id)| (id, n))
                .collect();
        }
        let resolved: BTreeSet<TopicPartition> = target
            .iter()
            .filter_map(|(id, p)| names.get(id).map(|n| (n.clone(), *p)))
            .collect();
        if resolved == self.g.owned() {
            if resolved.len() == target.len() {
                self.target = None;
            }
            return false;
        }
        // Heartbeats go on while the caller handles the rebalance events, so that a slow
        // checkpoint does not cost the membership; a newer target they bring is applied next.
        let g = self.g.clone();
        let moving = g.reconcile(&resolved);
        tokio::pin!(moving);
        let result = loop {
            tokio::select! {
                r = &mut moving => break r,
                _ = tokio::time::sleep(self.interval) => self.keepalive().await,
            }
        };
        if let Err(e) = result {
            if !e.is_retriable() {
                self.g.fail(e);
            }
        }
        if resolved.len() == target.len() && self.target.as_ref() == Some(&target) {
            self.target = None;
        }
        true
    }

    /// A heartbeat during reconciliation: keeps the session and takes a new target. Errors
    /// are left to the next regular heartbeat, which sends everything again.
    async fn keepalive(&mut self) {
        match self.heartbeat().await {
            Ok(r) if consumer_verdict(r.error_code) == ConsumerVerdict::Ok => self.accept(r),
            _ => self.full = true,
        }
    }

    async fn leave(&mut self, epoch: i32) {
        if self.epoch <= 0 {
            return;
        }
        let request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(&self.g.group_id)))
            .with_member_id(s(&self.member_id))
            .with_member_epoch(epoch)
            .with_instance_id(self.g.instance_id.as_deref().map(s));
        let _ = async {
            let conn = self.g.link.connection().await?;
            self.g.link.send(&conn, &request).await
        }
        .await;
    }

    async fn close(&mut self) {
        if self.epoch > 0 {
            self.g.revoke_all().await;
        } else {
            self.g.lose_all().await;
        }
        let epoch = if self.g.instance_id.is_some() {
            STATIC_LEAVE_EPOCH
        } else {
            LEAVE_EPOCH
        };
        self.leave(epoch).await;
        self.g.set_identity(-1, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_look_like_kafka_uuids() {
        let a = new_member_id();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, new_member_id());
    }

    #[test]
    fn a_broker_without_the_api_is_a_typed_refusal_naming_the_way_out() {
        let e = missing_api(
            "b:9092",
            Error::Protocol {
                broker: "b:9092".into(),
                source: laminar_kafka_protocol::Error::UnsupportedApi {
                    api: "ConsumerGroupHeartbeat",
                },
            },
        );
        let Error::UnsupportedByBroker {
            feature,
            broker,
            detail,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(*feature, FEATURE);
        assert_eq!(broker, "b:9092");
        assert!(detail.contains("ConsumerGroupHeartbeat"), "{detail}");
        assert!(e.to_string().contains("group.protocol=classic"), "{e}");
        assert!(!e.is_retriable());
        // The copy that poll returns keeps the variant.
        assert!(matches!(e.duplicate(), Error::UnsupportedByBroker { .. }));
        // Other errors pass through.
        assert!(matches!(
            missing_api("b:9092", Error::Closed),
            Error::Closed
        ));
    }

    #[test]
    fn unsupported_version_in_a_heartbeat_means_the_protocol_is_off() {
        assert!(is_unsupported_version(35));
        assert!(!is_unsupported_version(0));
        assert!(!is_unsupported_version(25)); // UNKNOWN_MEMBER_ID: rejoin
        let e = protocol_disabled("b:9092", Some("not enabled"));
        assert!(
            e.to_string().contains("UNSUPPORTED_VERSION (not enabled)"),
            "{e}"
        );
    }
}
