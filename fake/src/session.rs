//! Fetch sessions (KIP-227) as a broker keeps them: per session, the partitions fetched and
//! what the last response told the client about each, so that an incremental fetch names only
//! the partitions that changed and its response only those with news.

use std::collections::HashMap;

use kafka_protocol::messages::TopicName;
use uuid::Uuid;

/// How many sessions the cluster keeps (a broker's `max.incremental.fetch.session.cache.slots`
/// defaults to 1000); when full, new sessions are not created.
pub(crate) const MAX_SESSIONS: usize = 1000;

/// One partition a fetch asks for.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub(crate) topic: TopicName,
    pub(crate) topic_id: Uuid,
    /// The topic's name, if it (or its id) is known.
    pub(crate) name: Option<String>,
    pub(crate) partition: i32,
    pub(crate) fetch_offset: i64,
    pub(crate) max_bytes: i32,
    pub(crate) current_leader_epoch: i32,
}

impl Wanted {
    pub(crate) fn same_partition(&self, other: &Wanted) -> bool {
        self.partition == other.partition
            && self.topic == other.topic
            && self.topic_id == other.topic_id
    }
}

/// A partition of a session and what its last response said.
#[derive(Debug, Clone)]
pub(crate) struct SessionPartition {
    pub(crate) wanted: Wanted,
    pub(crate) last_high_watermark: i64,
    pub(crate) last_stable_offset: i64,
}

#[derive(Debug)]
pub(crate) struct FetchSession {
    pub(crate) broker: i32,
    /// The epoch the next incremental fetch must carry.
    pub(crate) next_epoch: i32,
    pub(crate) partitions: Vec<SessionPartition>,
}

/// Every broker's sessions, by session id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    next_id: i32,
    pub(crate) by_id: HashMap<i32, FetchSession>,
}

pub(crate) fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

impl Sessions {
    /// Opens a session on `broker` over `wanted`; `None` when the cache is full.
    pub(crate) fn open(&mut self, broker: i32, wanted: &[Wanted]) -> Option<i32> {
        if self.by_id.len() >= MAX_SESSIONS {
            return None;
        }
        loop {
            self.next_id = if self.next_id == i32::MAX {
                1
            } else {
                self.next_id + 1
            };
            if !self.by_id.contains_key(&self.next_id) {
                break;
            }
        }
        let partitions = wanted
            .iter()
            .map(|w| SessionPartition {
                wanted: w.clone(),
                last_high_watermark: -1,
                last_stable_offset: -1,
            })
            .collect();
        self.by_id.insert(
            self.next_id,
            FetchSession {
                broker,
                next_epoch: 1,
                partitions,
            },
        );
        Some(self.next_id)
    }

    /// Applies an incremental fetch: changed or added partitions, then forgotten ones.
    pub(crate) fn update(
        session: &mut FetchSession,
        changed: Vec<Wanted>,
        forgotten: &[(TopicName, Uuid, i32)],
    ) {
        for w in changed {
            match session
                .partitions
                .iter_mut()
                .find(|p| p.wanted.same_partition(&w))
            {
                Some(p) => p.wanted = w,
                None => session.partitions.push(SessionPartition {
                    wanted: w,
                    last_high_watermark: -1,
                    last_stable_offset: -1,
                }),
            }
        }
        session.partitions.retain(|p| {
            !forgotten.iter().any(|(t, id, part)| {
                p.wanted.partition == *part && p.wanted.topic == *t && p.wanted.topic_id == *id
            })
        });
    }
}
