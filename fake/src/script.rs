//! Scripted behaviour: rules that answer chosen requests with errors, drop them, or delay them.
//!
//! A [`Rule`] names an API, optionally a broker and a topic-partition, optionally how many
//! requests it applies to, and an [`Action`]. Rules are checked in the order they were added; the
//! first rule that matches a request (and has uses left) decides what happens to it, and uses one
//! of its uses. Requests that no rule matches are served normally.
//!
//! ```
//! use std::time::Duration;
//! use laminar_kafka_fake::{ApiKey, ResponseError, Rule};
//!
//! // The next two produce requests for `orders-0` fail with NOT_LEADER_OR_FOLLOWER.
//! let rule = Rule::on(ApiKey::Produce)
//!     .partition("orders", 0)
//!     .times(2)
//!     .fail(ResponseError::NotLeaderOrFollower);
//! assert_eq!(rule.remaining(), Some(2));
//!
//! // Every fetch that broker 1 receives is answered half a second late.
//! let slow = Rule::on(ApiKey::Fetch).broker(1).delay(Duration::from_millis(500));
//! assert_eq!(slow.remaining(), None);
//! ```

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

/// What the fake does with a request that a [`Rule`] matched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Answer with this error without doing the work. With a partition filter only that
    /// partition's entry carries the error (the others are served); otherwise every partition
    /// of the request, or the top-level error code for APIs without partitions.
    Fail(ResponseError),
    /// [`Action::Fail`], answered after a delay: requests sent behind it on the same
    /// connection wait (a broker answers a connection's requests in order), so a client that
    /// pipelines has several requests in flight when the error arrives.
    FailAfter(ResponseError, Duration),
    /// Close the connection without doing the work or answering.
    Disconnect,
    /// Do the work (a produce is written), then close the connection instead of answering: the
    /// client cannot know whether the request took effect.
    DropResponse,
    /// Do the work, then never answer; the connection stays open (and, as on a broker that
    /// handles one request per connection at a time, answers nothing more).
    NeverAnswer,
    /// Do the work and answer after this delay.
    Delay(Duration),
}

/// One scripted behaviour. Build with [`Rule::on`], narrow with [`RuleBuilder::broker`],
/// [`RuleBuilder::partition`], [`RuleBuilder::key`] and [`RuleBuilder::times`], and finish with an
/// action ([`RuleBuilder::fail`], [`RuleBuilder::fail_after`], [`RuleBuilder::disconnect`], [`RuleBuilder::drop_response`],
/// [`RuleBuilder::never_answer`], [`RuleBuilder::delay`]).
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) api: ApiKey,
    pub(crate) broker: Option<i32>,
    pub(crate) partition: Option<(String, i32)>,
    pub(crate) key: Option<String>,
    pub(crate) remaining: Option<u32>,
    pub(crate) action: Action,
}

/// A [`Rule`] being built: it has a filter but no action yet.
#[derive(Debug, Clone)]
#[must_use = "a rule builder does nothing until an action finishes it"]
pub struct RuleBuilder {
    api: ApiKey,
    broker: Option<i32>,
    partition: Option<(String, i32)>,
    key: Option<String>,
    remaining: Option<u32>,
}

impl Rule {
    /// Starts a rule for requests of `api`, on any broker, for any partition, every time.
    pub fn on(api: ApiKey) -> RuleBuilder {
        RuleBuilder {
            api,
            broker: None,
            partition: None,
            key: None,
            remaining: None,
        }
    }

    /// The API the rule applies to.
    pub fn api(&self) -> ApiKey {
        self.api
    }

    /// The action it takes.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// How many more requests it applies to (`None`: unlimited).
    pub fn remaining(&self) -> Option<u32> {
        self.remaining
    }
}

impl RuleBuilder {
    /// Only requests received by the broker with this node id.
    pub fn broker(mut self, node_id: i32) -> Self {
        self.broker = Some(node_id);
        self
    }

    /// Only requests that name this topic-partition (Produce, Fetch, ListOffsets, OffsetCommit,
    /// TxnOffsetCommit, AddPartitionsToTxn, OffsetFetch; Metadata by topic).
    pub fn partition(mut self, topic: impl Into<String>, partition: i32) -> Self {
        self.partition = Some((topic.into(), partition));
        self
    }

    /// Only requests that name this group id, transactional id or coordinator key
    /// (FindCoordinator, the group APIs, OffsetCommit/OffsetFetch, InitProducerId and the
    /// transaction APIs; AddOffsetsToTxn and TxnOffsetCommit name both their transactional id
    /// and their group).
    ///
    /// ```
    /// use laminar_kafka_fake::{ApiKey, ResponseError, Rule};
    ///
    /// // The lookup of group `billing`'s coordinator fails once; other lookups are served.
    /// let rule = Rule::on(ApiKey::FindCoordinator)
    ///     .key("billing")
    ///     .once()
    ///     .fail(ResponseError::CoordinatorNotAvailable);
    /// # let _ = rule;
    /// ```
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Only the next `n` matching requests; afterwards the rule is spent.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Only the next matching request: `times(1)`.
    pub fn once(self) -> Self {
        self.times(1)
    }

    fn with(self, action: Action) -> Rule {
        Rule {
            api: self.api,
            broker: self.broker,
            partition: self.partition,
            key: self.key,
            remaining: self.remaining,
            action,
        }
    }

    /// Answer with `error` ([`Action::Fail`]).
    pub fn fail(self, error: ResponseError) -> Rule {
        self.with(Action::Fail(error))
    }

    /// Answer with `error` after `delay` ([`Action::FailAfter`]).
    pub fn fail_after(self, error: ResponseError, delay: Duration) -> Rule {
        self.with(Action::FailAfter(error, delay))
    }

    /// Close the connection, request unserved ([`Action::Disconnect`]).
    pub fn disconnect(self) -> Rule {
        self.with(Action::Disconnect)
    }

    /// Serve, then close the connection instead of answering ([`Action::DropResponse`]).
    pub fn drop_response(self) -> Rule {
        self.with(Action::DropResponse)
    }

    /// Serve and never answer ([`Action::NeverAnswer`]).
    pub fn never_answer(self) -> Rule {
        self.with(Action::NeverAnswer)
    }

    /// Serve and answer after `delay` ([`Action::Delay`]).
    pub fn delay(self, delay: Duration) -> Rule {
        self.with(Action::Delay(delay))
    }
}

/// Identifies a rule added with [`FakeCluster::script`](crate::FakeCluster::script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub(crate) u64);

/// What the script decided for one request.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub(crate) action: Action,
    pub(crate) partition: Option<(String, i32)>,
}

#[derive(Debug, Default)]
pub(crate) struct Script {
    next_id: u64,
    rules: Vec<(RuleId, Rule, u32)>,
}

impl Script {
    pub(crate) fn add(&mut self, rule: Rule) -> RuleId {
        self.next_id += 1;
        let id = RuleId(self.next_id);
        self.rules.push((id, rule, 0));
        id
    }

    pub(crate) fn remove(&mut self, id: RuleId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|(i, _, _)| *i != id);
        before != self.rules.len()
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn hits(&self, id: RuleId) -> Option<u32> {
        self.rules.iter().find(|(i, _, _)| *i == id).map(|r| r.2)
    }

    /// The decision for a request of `api` on `broker` naming `partitions`, using one use of
    /// the rule that matched. Spent rules stay listed (their hit counts remain readable).
    pub(crate) fn decide(
        &mut self,
        api: ApiKey,
        broker: i32,
        partitions: &[(String, i32)],
        keys: &[String],
    ) -> Option<Decision> {
        for (_, rule, hits) in &mut self.rules {
            if rule.api != api
                || rule.remaining == Some(0)
                || rule.broker.is_some_and(|b| b != broker)
            {
                continue;
            }
            if let Some(tp) = &rule.partition {
                if !partitions.iter().any(|p| p == tp) {
                    continue;
                }
            }
            if let Some(k) = &rule.key {
                if !keys.iter().any(|x| x == k) {
                    continue;
                }
            }
            if let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
            *hits += 1;
            return Some(Decision {
                action: rule.action.clone(),
                partition: rule.partition.clone(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_in_order_and_run_out() {
        let mut script = Script::default();
        let a = script.add(
            Rule::on(ApiKey::Produce)
                .partition("t", 1)
                .once()
                .fail(ResponseError::NotLeaderOrFollower),
        );
        let b = script.add(Rule::on(ApiKey::Produce).broker(2).disconnect());
        let t0 = [("t".to_owned(), 0)];
        let t1 = [("t".to_owned(), 1)];
        assert!(script.decide(ApiKey::Produce, 1, &t0, &[]).is_none());
        assert!(script.decide(ApiKey::Fetch, 2, &t1, &[]).is_none());
        let d = script.decide(ApiKey::Produce, 1, &t1, &[]).unwrap();
        assert_eq!(d.action, Action::Fail(ResponseError::NotLeaderOrFollower));
        assert!(
            script.decide(ApiKey::Produce, 1, &t1, &[]).is_none(),
            "spent"
        );
        assert_eq!(
            script.decide(ApiKey::Produce, 2, &t1, &[]).unwrap().action,
            Action::Disconnect
        );
        assert_eq!(script.hits(a), Some(1));
        assert_eq!(script.hits(b), Some(1));
        let k = script.add(Rule::on(ApiKey::FindCoordinator).key("g").disconnect());
        assert!(
            script
                .decide(ApiKey::FindCoordinator, 0, &[], &["h".to_owned()])
                .is_none()
        );
        assert!(
            script
                .decide(ApiKey::FindCoordinator, 0, &[], &["g".to_owned()])
                .is_some()
        );
        assert_eq!(script.hits(k), Some(1));
        assert!(script.remove(b));
        assert_eq!(script.hits(b), None);
    }
}
