//! The cluster's shared state: brokers, topics and their partitions, transactions, groups and
//! committed offsets, behind one lock. Handlers lock it, compute, and unlock before any await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use uuid::Uuid;

use crate::group::Group;
use crate::log::PartitionLog;
use crate::observe::{ProtocolViolation, ReceivedRequest};
use crate::script::Script;
use crate::txn::Txn;

#[derive(Debug, Clone)]
pub(crate) struct BrokerInfo {
    pub(crate) id: i32,
    pub(crate) port: u16,
    pub(crate) rack: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) log: PartitionLog,
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) preferred_read_replica: Option<i32>,
    /// (epoch, first offset written under it), for OffsetForLeaderEpoch.
    pub(crate) epoch_starts: Vec<(i32, i64)>,
}

impl Partition {
    pub(crate) fn new(replicas: Vec<i32>) -> Self {
        Self {
            log: PartitionLog::default(),
            leader: replicas[0],
            leader_epoch: 0,
            replicas,
            preferred_read_replica: None,
            epoch_starts: vec![(0, 0)],
        }
    }

    /// The end offset of `epoch`: the start of the next epoch, or the log end for the current.
    pub(crate) fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let mut found = None;
        for (i, (e, _)) in self.epoch_starts.iter().enumerate() {
            if *e <= epoch {
                found = Some(i);
            }
        }
        match found {
            None => (-1, -1),
            Some(i) => match self.epoch_starts.get(i + 1) {
                Some((_, next_start)) => (self.epoch_starts[i].0, *next_start),
                None => (self.epoch_starts[i].0, self.log.next_offset),
            },
        }
    }
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) id: Uuid,
    pub(crate) partitions: Vec<Partition>,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) cluster_id: String,
    pub(crate) auto_create_topics: bool,
    pub(crate) default_partitions: i32,
    pub(crate) replication_factor: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) initial_rebalance_delay: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) fetch_sessions: bool,
}

/// A group's committed offsets: (topic, partition) → (offset, metadata).
pub(crate) type GroupOffsets = BTreeMap<(String, i32), (i64, Option<String>)>;

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) brokers: Vec<BrokerInfo>,
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) next_producer_id: i64,
    pub(crate) txns: HashMap<String, Txn>,
    pub(crate) groups: HashMap<String, Group>,
    /// Committed offsets: group → (topic, partition) → (offset, metadata).
    pub(crate) offsets: HashMap<String, GroupOffsets>,
    pub(crate) sessions: crate::session::Sessions,
    next_topic_id: u128,
}

impl State {
    pub(crate) fn new(config: Config, brokers: Vec<BrokerInfo>) -> Self {
        Self {
            config,
            brokers,
            topics: BTreeMap::new(),
            next_producer_id: 1000,
            txns: HashMap::new(),
            groups: HashMap::new(),
            offsets: HashMap::new(),
            sessions: Default::default(),
            next_topic_id: 0x6c61_6d69_6e61_7200_0000_0000_0000_0000,
        }
    }

    pub(crate) fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.iter().find(|b| b.id == id)
    }

    /// Default replica lists: partition p starts at broker p mod n.
    pub(crate) fn default_assignment(&self, partitions: i32, replication: usize) -> Vec<Vec<i32>> {
        let n = self.brokers.len();
        let rf = replication.clamp(1, n);
        (0..partitions as usize)
            .map(|p| (0..rf).map(|i| self.brokers[(p + i) % n].id).collect())
            .collect()
    }

    pub(crate) fn add_topic(&mut self, name: &str, assignment: Vec<Vec<i32>>) -> &Topic {
        self.next_topic_id += 1;
        let id = Uuid::from_u128(self.next_topic_id);
        let topic = Topic {
            id,
            partitions: assignment.into_iter().map(Partition::new).collect(),
        };
        self.topics.entry(name.to_owned()).or_insert(topic)
    }

    /// Creates `name` with the default partition count if auto-creation is on.
    pub(crate) fn auto_create(&mut self, name: &str) -> bool {
        if self.topics.contains_key(name) {
            return true;
        }
        if !self.config.auto_create_topics || !valid_topic_name(name) {
            return false;
        }
        let assignment = self.default_assignment(
            self.config.default_partitions,
            self.config.replication_factor,
        );
        self.add_topic(name, assignment);
        true
    }

    pub(crate) fn partition(&self, topic: &str, partition: i32) -> Option<&Partition> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)
    }

    pub(crate) fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Partition> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(partition).ok()?)
    }

    pub(crate) fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.topics
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(n, _)| n.as_str())
    }

    /// The broker coordinating a group or transactional id: a stable hash of the key.
    pub(crate) fn coordinator_for(&self, key: &str) -> i32 {
        let h = key.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        self.brokers[h as usize % self.brokers.len()].id
    }

    pub(crate) fn next_producer_id(&mut self) -> i64 {
        self.next_producer_id += 1;
        self.next_producer_id
    }
}

pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Everything the brokers of one fake cluster share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    pub(crate) script: Mutex<Script>,
    pub(crate) requests: Mutex<Vec<ReceivedRequest>>,
    pub(crate) violations: Mutex<Vec<ProtocolViolation>>,
    /// Bumped on every write to any log, so that waiting fetches wake up.
    pub(crate) appended: watch::Sender<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
}

/// Locks a mutex, ignoring poisoning (a panicked handler leaves the state usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }
}
