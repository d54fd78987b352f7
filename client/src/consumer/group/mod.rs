//! Consumer groups: membership, assignment, rebalance events and committed offsets.
//!
//! A [`GroupConsumer`] joins the group named by `group.id` and consumes what the group assigns
//! it. Two background tasks run per member:
//!
//! - the *driver* keeps the membership: the classic protocol (FindCoordinator, JoinGroup,
//!   SyncGroup, Heartbeat, LeaveGroup; `classic.rs`, with the assignors of
//!   [`assignor`](super::assignor) and a separate heartbeat task) or, with
//!   `group.protocol=consumer`, the broker-driven protocol of KIP-848 (ConsumerGroupHeartbeat;
//!   `next_gen.rs`). Its decisions are the state machine of `membership.rs`. It also refreshes
//!   metadata every `metadata.max.age.ms` for the subscription (new topics matching a pattern,
//!   new partitions) and auto-commits every `auto.commit.interval.ms`;
//! - the *committer* sends OffsetCommits one at a time, in the order they were asked for.
//!
//! Partitions change hands in one order, whatever the protocol: a partition being revoked is
//! paused first (`poll` returns none of its records from then on), its position is committed
//! when `enable.auto.commit` is on, then a [`RebalanceEvent::Revoked`] is delivered and the
//! driver waits until it is acknowledged; only then is it given up (and, in the classic
//! protocol, the member rejoins). A new partition starts at its committed offset
//! (`auto.offset.reset` when there is none), paused until its [`RebalanceEvent::Assigned`] is
//! acknowledged, so the caller may `seek` it first.
//!
//! ```no_run
//! # async fn example() -> laminar_kafka_client::Result<()> {
//! use std::time::Duration;
//! use laminar_kafka_client::config::ClientConfig;
//! use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};
//!
//! let mut config = ClientConfig::new("127.0.0.1:9092")?;
//! config.set("group.id", "engine")?.set("enable.auto.commit", "false")?;
//! let consumer = GroupConsumer::new(config)?;
//! let mut events = consumer.rebalance_events()?;
//! consumer.subscribe(Subscription::pattern("events-.*")?)?;
//! loop {
//!     tokio::select! {
//!         Some(rebalance) = events.recv() => {
//!             if let RebalanceEvent::Revoked(_) = rebalance.event() {
//!                 consumer.commit_sync().await?; // checkpoint before the partitions move
//!             }
//!             rebalance.done();
//!         }
//!         polled = consumer.poll(Duration::from_millis(500)) => {
//!             for record in polled?.iter() {
//!                 let _record = record?;
//!             }
//!             consumer.commit_async();
//!         }
//!     }
//! }
//! # }
//! ```

mod classic;
mod embedded;
mod link;
mod membership;
mod next_gen;
mod offsets;
mod standalone;
mod subscription;

pub use standalone::GroupOffsets;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use subscription::Subscription;

use super::{Consumer, PartitionLag, PartitionWatermarks, Polled, SeekTo};
use crate::cluster::Cluster;
use crate::config::{ClientConfig, GroupProtocol};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::offsets::TopicPartition;
use crate::producer::ConsumerGroupMetadata;
use link::CoordinatorLink;
use offsets::Committer;

/// A change of the member's partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebalanceEvent {
    /// These partitions are now the member's, paused until the event is acknowledged; they
    /// start at their committed offsets unless the caller seeks them meanwhile.
    Assigned(Vec<TopicPartition>),
    /// These partitions are being given up. They are paused and still assigned (positions can
    /// be read and committed); they go once the event is acknowledged.
    Revoked(Vec<TopicPartition>),
    /// These partitions were lost: the member was fenced out of its generation (session
    /// timeout, poll interval exceeded), so another member may already own them. Committing
    /// them is no longer possible.
    Lost(Vec<TopicPartition>),
}

impl RebalanceEvent {
    /// The partitions concerned.
    pub fn partitions(&self) -> &[TopicPartition] {
        match self {
            RebalanceEvent::Assigned(p) | RebalanceEvent::Revoked(p) | RebalanceEvent::Lost(p) => p,
        }
    }
}

/// One rebalance event, to acknowledge with [`done`](Self::done) (or by dropping it) once the
/// caller is ready: the member does not go on until then.
#[derive(Debug)]
pub struct Rebalance {
    event: RebalanceEvent,
    done: Option<oneshot::Sender<()>>,
}

impl Rebalance {
    /// What happened.
    pub fn event(&self) -> &RebalanceEvent {
        &self.event
    }

    /// Acknowledges the event: the member may go on with the rebalance.
    pub fn done(mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Rebalance {
    fn drop(&mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
    }
}

/// The stream of rebalance events of one [`GroupConsumer`].
///
/// Events come one at a time; the next comes only after the previous one is acknowledged.
/// Dropping this stream acknowledges every later event at once.
#[derive(Debug)]
pub struct RebalanceEvents {
    rx: mpsc::Receiver<Rebalance>,
}

impl RebalanceEvents {
    /// The next event; `None` once the consumer is closed or dropped. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Rebalance> {
        self.rx.recv().await
    }
}

/// A commit sent in the background; await it for its outcome. Dropping it does not cancel the
/// commit.
#[derive(Debug)]
pub struct PendingCommit {
    rx: oneshot::Receiver<Result<()>>,
}

impl Future for PendingCommit {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

struct CommitRequest {
    offsets: BTreeMap<TopicPartition, i64>,
    reply: Option<oneshot::Sender<Result<()>>>,
}

/// The member's mutable state, shared by the API, the driver and the committer.
#[derive(Debug)]
pub(crate) struct GroupState {
    pub(crate) subscription: Option<Subscription>,
    /// Bumped by every `subscribe`, so the driver notices a change.
    pub(crate) subscription_version: u64,
    /// The partitions the member owns.
    pub(crate) owned: BTreeSet<TopicPartition>,
    /// Generation (classic) or member epoch (consumer protocol); -1 when not a member.
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    /// An error that ended the membership, returned by `poll`.
    pub(crate) fatal: Option<Error>,
    pub(crate) last_poll: Instant,
    /// The member left because `poll` was not called within `max.poll.interval.ms`; the next
    /// `poll` rejoins.
    pub(crate) poll_expired: bool,
    pub(crate) closing: bool,
}

pub(crate) struct Group {
    pub(crate) consumer: Consumer,
    pub(crate) link: CoordinatorLink,
    pub(crate) group_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) state: Mutex<GroupState>,
    /// Wakes the driver: subscription changed, poll after expiry, close.
    pub(crate) wake: Notify,
    events: Mutex<Option<mpsc::Sender<Rebalance>>>,
    commits: mpsc::UnboundedSender<CommitRequest>,
}

impl Group {
    pub(crate) fn config(&self) -> &ClientConfig {
        self.consumer.shared.cluster.config()
    }

    pub(crate) fn cluster(&self) -> &Cluster {
        &self.consumer.shared.cluster
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn owned(&self) -> BTreeSet<TopicPartition> {
        self.lock().owned.clone()
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.lock().closing
    }

    pub(crate) fn set_identity(&self, generation: i32, member_id: &str) {
        let mut st = self.lock();
        if st.generation != generation || st.member_id != member_id {
            tracing::debug!(
                target: log_targets::GROUP,
                group = self.group_id.as_str(),
                generation,
                member_id,
                previous_generation = st.generation,
                "generation or member id changed"
            );
        }
        st.generation = generation;
        st.member_id = member_id.to_owned();
    }

    fn committer(&self) -> Committer {
        let st = self.lock();
        Committer {
            generation: st.generation,
            member_id: st.member_id.clone(),
            instance_id: self.instance_id.clone(),
        }
    }

    /// Ends the membership with `e`: `poll` returns it.
    pub(crate) fn fail(&self, e: Error) {
        tracing::info!(
            target: log_targets::GROUP,
            group = self.group_id.as_str(),
            error = %e,
            "group membership ended by an error"
        );
        self.lock().fatal = Some(e);
        self.consumer.shared.data_ready.notify_waiters();
    }

    /// Current positions of `parts` (those known).
    pub(crate) fn positions_of<'a>(
        &self,
        parts: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> BTreeMap<TopicPartition, i64> {
        let positions = self.consumer.positions();
        parts
            .into_iter()
            .filter_map(|tp| positions.get(tp).map(|o| (tp.clone(), *o)))
            .collect()
    }

    /// Commits through the committer and waits for the outcome.
    pub(crate) async fn commit_now(&self, offsets: BTreeMap<TopicPartition, i64>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commits
            .send(CommitRequest {
                offsets,
                reply: Some(tx),
            })
            .map_err(|_| Error::Closed)?;
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Queues a commit of the owned partitions' positions (auto commit).
    pub(crate) fn auto_commit(&self) {
        let owned = self.owned();
        let offsets = self.positions_of(&owned);
        if !offsets.is_empty() {
            let _ = self.commits.send(CommitRequest {
                offsets,
                reply: None,
            });
        }
    }

    /// Delivers `event` and waits until it is acknowledged (at once when nobody listens).
    async fn notify(&self, event: RebalanceEvent) {
        let tx = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(tx) = tx else { return };
        let (done_tx, done_rx) = oneshot::channel();
        let rebalance = Rebalance {
            event,
            done: Some(done_tx),
        };
        if tx.send(rebalance).await.is_err() {
            return; // the stream was dropped
        }
        let _ = done_rx.await;
    }

    /// Gives up `parts`: pause, commit (auto commit), `Revoked`, remove.
    pub(crate) async fn revoke(&self, parts: &BTreeSet<TopicPartition>) {
        if parts.is_empty() {
            return;
        }
        let list: Vec<TopicPartition> = parts.iter().cloned().collect();
        self.consumer.pause(&list);
        if self.config().consumer.enable_auto_commit {
            let offsets = self.positions_of(parts);
            // A failed commit on revoke is not fatal: the next owner starts at the last
            // committed offset, and the records after it are read again (at least once).
            let _ = self.commit_now(offsets).await;
        }
        tracing::info!(
            target: log_targets::GROUP,
            group = self.group_id.as_str(),
            partitions = ?list,
            "partitions revoked"
        );
        self.notify(RebalanceEvent::Revoked(list.clone())).await;
        self.consumer.remove_partitions(&list);
        let mut st = self.lock();
        for tp in parts {
            st.owned.remove(tp);
        }
    }

    /// Drops `parts` without committing: `Lost`.
    pub(crate) async fn lose(&self, parts: &BTreeSet<TopicPartition>) {
        if parts.is_empty() {
            return;
        }
        let list: Vec<TopicPartition> = parts.iter().cloned().collect();
        self.consumer.pause(&list);
        tracing::info!(
            target: log_targets::GROUP,
            group = self.group_id.as_str(),
            partitions = ?list,
            "partitions lost (the generation ended without a revocation)"
        );
        self.notify(RebalanceEvent::Lost(list.clone())).await;
        self.consumer.remove_partitions(&list);
        let mut st = self.lock();
        for tp in parts {
            st.owned.remove(tp);
        }
    }

    /// Takes `parts` on: committed offsets, `Assigned`, resume. Retries the offset lookup
    /// until it succeeds or the member closes.
    pub(crate) async fn take_on(&self, parts: &BTreeSet<TopicPartition>) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let list: Vec<TopicPartition> = parts.iter().cloned().collect();
        let mut backoff = self.cluster().retry_backoff();
        let committed = loop {
            let deadline = Instant::now() + self.config().common.request_timeout;
            match offsets::fetch(&self.link, &list, deadline).await {
                Ok(c) => break c,
                Err(e) if e.is_retriable() && !self.is_closing() => {
                    tracing::debug!(
                        target: log_targets::GROUP,
                        group = self.group_id.as_str(),
                        error = %e,
                        "committed offsets lookup failed; retrying"
                    );
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => return Err(e),
            }
        };
        let with_positions: Vec<(TopicPartition, Option<i64>)> = list
            .iter()
            .map(|tp| (tp.clone(), committed.get(tp).copied()))
            .collect();
        self.consumer.add_partitions(&with_positions, true)?;
        self.lock().owned.extend(list.iter().cloned());
        self.notify(RebalanceEvent::Assigned(list.clone())).await;
        self.consumer.resume(&list);
        Ok(())
    }

    /// Moves the owned partitions to `target`: revoke first, then take on.
    pub(crate) async fn reconcile(&self, target: &BTreeSet<TopicPartition>) -> Result<bool> {
        self.consumer
            .shared
            .stats
            .rebalances
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let owned = self.owned();
        let revoked: BTreeSet<TopicPartition> = owned.difference(target).cloned().collect();
        let added: BTreeSet<TopicPartition> = target.difference(&owned).cloned().collect();
        tracing::info!(
            target: log_targets::GROUP,
            group = self.group_id.as_str(),
            partitions = ?target,
            added = added.len(),
            revoked = revoked.len(),
            "assignment received"
        );
        self.revoke(&revoked).await;
        self.take_on(&added).await?;
        Ok(!revoked.is_empty())
    }

    /// On close: commit (auto commit) and revoke everything.
    pub(crate) async fn revoke_all(&self) {
        let owned = self.owned();
        self.revoke(&owned).await;
    }

    /// On losing the generation: everything is lost.
    pub(crate) async fn lose_all(&self) {
        let owned = self.owned();
        self.lose(&owned).await;
        self.set_identity(-1, "");
    }

    /// When the driver must act on the poll interval: `None` while it is not running.
    pub(crate) fn poll_deadline(&self) -> Option<Instant> {
        let st = self.lock();
        (!st.poll_expired).then(|| st.last_poll + self.config().consumer.max_poll_interval)
    }
}

/// Sends commits one at a time, in order, with the identity current at sending time.
async fn run_committer(group: Arc<Group>, mut rx: mpsc::UnboundedReceiver<CommitRequest>) {
    while let Some(request) = rx.recv().await {
        let deadline = Instant::now() + group.config().common.request_timeout;
        let result = loop {
            let who = group.committer();
            match offsets::commit(&group.link, &who, &request.offsets, deadline).await {
                // STALE_MEMBER_EPOCH: the next heartbeat brings the epoch to commit with.
                Err(e)
                    if e.kafka_code() == Some(KafkaCode::STALE_MEMBER_EPOCH)
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other,
            }
        };
        match &result {
            Ok(()) => tracing::debug!(
                target: log_targets::GROUP,
                group = group.group_id.as_str(),
                partitions = request.offsets.len(),
                "offsets committed"
            ),
            Err(e) => tracing::info!(
                target: log_targets::GROUP,
                group = group.group_id.as_str(),
                partitions = request.offsets.len(),
                error = %e,
                "offset commit failed"
            ),
        }
        if let Some(reply) = request.reply {
            let _ = reply.send(result);
        }
    }
}

/// A member of a consumer group: subscribes to topics, gets partitions assigned by the group,
/// and commits offsets.
///
/// Rebalances are announced on [`rebalance_events`](Self::rebalance_events). `poll` returns
/// the records of the assigned partitions and also any error that ended the membership
/// (fenced static instance, authorization). Dropping the consumer without
/// [`close`](Self::close) stops it without leaving the group, as a crash would: its partitions
/// move after `session.timeout.ms`.
pub struct GroupConsumer {
    group: Arc<Group>,
    driver: Mutex<Option<JoinHandle<()>>>,
    committer: JoinHandle<()>,
    extra: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group_id", &self.group.group_id)
            .finish_non_exhaustive()
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if let Some(d) = self.driver.lock().unwrap_or_else(|e| e.into_inner()).take() {
            d.abort();
        }
        self.committer.abort();
        for h in &self.extra {
            h.abort();
        }
    }
}

impl GroupConsumer {
    /// A member of the group `group.id` (required). It starts its tasks at once (on the current
    /// tokio runtime) but joins only once [`subscribe`](Self::subscribe) is called.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let group_id = config
            .consumer
            .group_id
            .clone()
            .ok_or_else(|| Error::InvalidProperty {
                name: "group.id".to_owned(),
                reason: "a group consumer needs a group id".to_owned(),
            })?;
        for name in &config.consumer.partition_assignment_strategy {
            super::assignor::assignor_by_name(name)?;
        }
        if config.consumer.group_protocol == GroupProtocol::Consumer
            && config.consumer.heartbeat_interval
                != ClientConfig::default().consumer.heartbeat_interval
        {
            // As the Java client: the broker decides the interval in this protocol.
            return Err(Error::InvalidProperty {
                name: "heartbeat.interval.ms".to_owned(),
                reason: "not supported with group.protocol=consumer (the broker sets it)"
                    .to_owned(),
            });
        }
        let rebalance_timeout = config.consumer.max_poll_interval;
        let protocol = config.consumer.group_protocol;
        let cluster = Cluster::new(config)?;
        let consumer = Consumer::with_cluster(cluster.clone())?;
        let link = CoordinatorLink::new(cluster.clone(), group_id.clone(), rebalance_timeout)?;
        let (commit_tx, commit_rx) = mpsc::unbounded_channel();
        let instance_id = cluster.config().consumer.group_instance_id.clone();
        let group = Arc::new(Group {
            consumer,
            link,
            group_id,
            instance_id,
            state: Mutex::new(GroupState {
                subscription: None,
                subscription_version: 0,
                owned: BTreeSet::new(),
                generation: -1,
                member_id: String::new(),
                fatal: None,
                last_poll: Instant::now(),
                poll_expired: false,
                closing: false,
            }),
            wake: Notify::new(),
            events: Mutex::new(None),
            commits: commit_tx,
        });
        let committer = tokio::spawn(run_committer(group.clone(), commit_rx));
        let mut extra = Vec::new();
        let driver = match protocol {
            GroupProtocol::Classic => {
                let (driver, heartbeat) = classic::start(group.clone());
                extra.push(heartbeat);
                driver
            }
            GroupProtocol::Consumer => tokio::spawn(next_gen::run(group.clone())),
        };
        Ok(Self {
            group,
            driver: Mutex::new(Some(driver)),
            committer,
            extra,
        })
    }

    /// The stream of rebalance events. Take it before [`subscribe`](Self::subscribe), at most
    /// once; without it, events are acknowledged at once.
    pub fn rebalance_events(&self) -> Result<RebalanceEvents> {
        let mut events = self.group.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.is_some() || self.group.lock().subscription.is_some() {
            return Err(Error::InvalidProperty {
                name: "rebalance_events".to_owned(),
                reason: "take the event stream once, before subscribing".to_owned(),
            });
        }
        let (tx, rx) = mpsc::channel(1);
        *events = Some(tx);
        Ok(RebalanceEvents { rx })
    }

    /// Subscribes to `subscription`, replacing any previous one; the member (re)joins.
    pub fn subscribe(&self, subscription: Subscription) -> Result<()> {
        let mut st = self.group.lock();
        if st.closing {
            return Err(Error::Closed);
        }
        st.subscription = Some(subscription);
        st.subscription_version += 1;
        st.last_poll = Instant::now();
        drop(st);
        self.group.wake.notify_one();
        Ok(())
    }

    /// Waits up to `timeout` for records of the assigned partitions (see [`Consumer::poll`]).
    /// Also returns the error that ended the membership, if one did. Calling it within
    /// `max.poll.interval.ms` keeps the member in the group; after a longer pause the member
    /// has left, and this call rejoins.
    pub async fn poll(&self, timeout: Duration) -> Result<Polled> {
        {
            let mut st = self.group.lock();
            if let Some(e) = &st.fatal {
                return Err(e.duplicate());
            }
            st.last_poll = Instant::now();
            if st.poll_expired {
                st.poll_expired = false;
                drop(st);
                self.group.wake.notify_one();
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(500));
            let polled = self.group.consumer.poll(slice).await?;
            if !polled.is_empty() || Instant::now() >= deadline {
                return Ok(polled);
            }
            let mut st = self.group.lock();
            if let Some(e) = &st.fatal {
                return Err(e.duplicate());
            }
            st.last_poll = Instant::now();
        }
    }

    /// The partitions the group assigned to this member.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.group.owned().into_iter().collect()
    }

    /// The next offset `poll` returns for each assigned partition, once known.
    pub fn positions(&self) -> HashMap<TopicPartition, i64> {
        self.group.consumer.positions()
    }

    /// Moves an assigned partition's position (see [`Consumer::seek`]).
    pub fn seek(&self, tp: &TopicPartition, to: SeekTo) -> Result<()> {
        self.group.consumer.seek(tp, to)
    }

    /// Stops returning records of these partitions until [`resume`](Self::resume).
    pub fn pause(&self, partitions: &[TopicPartition]) {
        self.group.consumer.pause(partitions);
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&self, partitions: &[TopicPartition]) {
        self.group.consumer.resume(partitions);
    }

    /// Watermarks of an assigned partition from its last fetch response.
    pub fn watermarks(&self, tp: &TopicPartition) -> Option<PartitionWatermarks> {
        self.group.consumer.watermarks(tp)
    }

    /// Position, high watermark, last stable offset and lag of every assigned partition, from
    /// the last fetch responses (no request).
    pub fn lag(&self) -> BTreeMap<TopicPartition, PartitionLag> {
        self.group.consumer.lag()
    }

    /// A statistics snapshot, as [`Consumer::statistics`], with `rebalance-total` counting the
    /// assignments this member received.
    ///
    /// ```no_run
    /// # async fn example() -> laminar_kafka_client::Result<()> {
    /// use laminar_kafka_client::config::ClientConfig;
    /// use laminar_kafka_client::consumer::group::GroupConsumer;
    ///
    /// let mut config = ClientConfig::new("127.0.0.1:9092")?;
    /// config.set("group.id", "readers")?;
    /// let consumer = GroupConsumer::new(config)?;
    /// println!("{} rebalances", consumer.statistics().totals.rebalance_total);
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> crate::stats::Statistics {
        self.group.consumer.statistics()
    }

    /// Commits the positions of every assigned partition and waits for the outcome.
    ///
    /// A rebalance in progress, an illegal generation or an unknown member id come back as
    /// the broker's error: the partitions may have moved, and the commit did not happen.
    pub async fn commit_sync(&self) -> Result<()> {
        let owned = self.group.owned();
        let offsets = self.group.positions_of(&owned);
        self.group.commit_now(offsets).await
    }

    /// Commits these offsets (the next offset to read, per partition) and waits.
    pub async fn commit_offsets_sync(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        self.group
            .commit_now(offsets.iter().cloned().collect())
            .await
    }

    /// Commits the positions of every assigned partition in the background. Commits are sent
    /// in the order they are asked for.
    pub fn commit_async(&self) -> PendingCommit {
        let owned = self.group.owned();
        self.commit_offsets_async(
            &self
                .group
                .positions_of(&owned)
                .into_iter()
                .collect::<Vec<_>>(),
        )
    }

    /// Commits these offsets in the background.
    pub fn commit_offsets_async(&self, offsets: &[(TopicPartition, i64)]) -> PendingCommit {
        let (tx, rx) = oneshot::channel();
        let request = CommitRequest {
            offsets: offsets.iter().cloned().collect(),
            reply: Some(tx),
        };
        if let Err(mpsc::error::SendError(r)) = self.group.commits.send(request) {
            if let Some(reply) = r.reply {
                let _ = reply.send(Err(Error::Closed));
            }
        }
        PendingCommit { rx }
    }

    /// The group's committed offsets of `partitions` (absent: none committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let deadline = Instant::now() + self.group.config().common.request_timeout;
        offsets::fetch(&self.group.link, partitions, deadline).await
    }

    /// What a transactional producer needs to commit this member's offsets in its transaction
    /// (`Producer::send_offsets_to_transaction`): the group, the generation (member epoch
    /// under `group.protocol=consumer`), the member id and the instance id.
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        let st = self.group.lock();
        ConsumerGroupMetadata {
            group_id: self.group.group_id.clone(),
            generation_id: st.generation,
            member_id: st.member_id.clone(),
            group_instance_id: self.group.instance_id.clone(),
        }
    }

    /// Leaves the group: commits the positions (auto commit), delivers `Revoked` for every
    /// partition (keep receiving events, or drop the stream, while this runs), sends the leave
    /// (dynamic members; a static member keeps its place until its session times out), and
    /// stops. Waits at most `request.timeout.ms` for all that.
    pub async fn close(&self) {
        self.group.lock().closing = true;
        self.group.wake.notify_one();
        let driver = self.driver.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut driver) = driver {
            let limit = self.group.config().common.request_timeout;
            if tokio::time::timeout(limit, &mut driver).await.is_err() {
                driver.abort();
            }
        }
        for h in &self.extra {
            h.abort();
        }
        self.committer.abort();
        self.group.link.close();
        self.group.consumer.close().await;
        self.group
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}
