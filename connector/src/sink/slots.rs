//! Which transactional id an exactly-once sink writes with: the slot pool, as a state machine
//! without I/O.
//!
//! A sink subtask owns `capacity` transactional ids, `{prefix}-{subtask}-{slot}`. One slot
//! holds the open transaction. At a checkpoint barrier that transaction is prepared (flushed,
//! left open) and recorded in the checkpoint, and the next transaction opens on a free slot.
//! When the checkpoint completes, every prepared transaction up to it commits.
//!
//! A slot is free when it holds no prepared transaction and is not named by the last
//! completed checkpoint. The second rule makes recovery unambiguous: the slots a restored
//! checkpoint names have not been written since it completed, so committing them again either
//! commits or finds the same transaction already committed, never a later one. Recovery then
//! aborts whatever is open on every other slot of the pool.

use std::collections::{BTreeMap, BTreeSet};

/// A prepared transaction waiting for its checkpoint to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub(crate) slot: usize,
    pub(crate) epoch: u64,
}

/// What the sink must do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SlotAction {
    /// Keep writing on the current slot (nothing was written in its transaction).
    KeepOpen,
    /// The current transaction is prepared under this checkpoint; open the next one on
    /// `next`.
    Switch { next: usize },
    /// Commit these slots' prepared transactions.
    Commit(Vec<usize>),
    /// Every slot is busy: checkpoints are not completing.
    Exhausted,
}

/// The pool's state.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    capacity: usize,
    current: usize,
    written: bool,
    prepared: Vec<Prepared>,
    /// Slots named by the last completed checkpoint.
    protected: BTreeSet<usize>,
    /// For each checkpoint taken and not completed: the slots its state names.
    taken: BTreeMap<u64, Vec<usize>>,
}

impl Slots {
    /// A pool allowing `max_pending` checkpoints in flight, after a restore from a checkpoint
    /// naming `restored` (empty for a fresh start). The first transaction opens on the
    /// lowest slot not restored.
    pub(crate) fn new(max_pending: usize, restored: &[usize]) -> Self {
        let capacity = 2 * max_pending.max(1) + 1;
        let protected: BTreeSet<usize> = restored.iter().copied().collect();
        let current = (0..capacity).find(|s| !protected.contains(s)).unwrap_or(0);
        Self {
            capacity,
            current,
            written: false,
            prepared: Vec::new(),
            protected,
            taken: BTreeMap::new(),
        }
    }

    /// How many transactional ids the pool uses.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The slot of the open transaction.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// Prepared transactions not yet committed.
    pub(crate) fn prepared(&self) -> &[Prepared] {
        &self.prepared
    }

    /// Records were written in the open transaction.
    pub(crate) fn wrote(&mut self) {
        self.written = true;
    }

    /// Whether the open transaction has records.
    pub(crate) fn has_written(&self) -> bool {
        self.written
    }

    fn free(&self) -> Option<usize> {
        (0..self.capacity).find(|s| {
            *s != self.current
                && !self.protected.contains(s)
                && !self.prepared.iter().any(|p| p.slot == *s)
        })
    }

    /// A checkpoint barrier: the open transaction is prepared under `epoch` when it has
    /// records (an empty one stays open: there is nothing to commit).
    pub(crate) fn barrier(&mut self, epoch: u64) -> SlotAction {
        if !self.written {
            self.taken
                .insert(epoch, self.prepared.iter().map(|p| p.slot).collect());
            return SlotAction::KeepOpen;
        }
        let prepared = Prepared {
            slot: self.current,
            epoch,
        };
        self.prepared.push(prepared);
        let Some(next) = self.free() else {
            self.prepared.pop();
            return SlotAction::Exhausted;
        };
        self.taken
            .insert(epoch, self.prepared.iter().map(|p| p.slot).collect());
        self.current = next;
        self.written = false;
        SlotAction::Switch { next }
    }

    /// Checkpoint `epoch` is stored: its prepared transactions (and older ones) commit, and
    /// the slots its state names are protected until a later checkpoint completes.
    pub(crate) fn complete(&mut self, epoch: u64) -> SlotAction {
        let commit: Vec<usize> = self
            .prepared
            .iter()
            .filter(|p| p.epoch <= epoch)
            .map(|p| p.slot)
            .collect();
        self.prepared.retain(|p| p.epoch > epoch);
        if let Some(named) = self.taken.remove(&epoch) {
            self.protected = named.into_iter().collect();
        }
        self.taken.retain(|e, _| *e > epoch);
        SlotAction::Commit(commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_checkpoints_cycle_through_three_slots() {
        let mut s = Slots::new(3, &[]);
        assert_eq!(s.capacity(), 7);
        let mut used = Vec::new();
        for epoch in 1..=9 {
            used.push(s.current());
            s.wrote();
            let SlotAction::Switch { .. } = s.barrier(epoch) else {
                panic!("switch expected");
            };
            assert_eq!(
                s.complete(epoch),
                SlotAction::Commit(vec![used[used.len() - 1]])
            );
        }
        assert_eq!(used, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_slot_named_by_the_last_completed_checkpoint_is_never_reused() {
        let mut s = Slots::new(3, &[]);
        s.wrote();
        assert_eq!(s.barrier(1), SlotAction::Switch { next: 1 });
        assert_eq!(s.complete(1), SlotAction::Commit(vec![0]));
        s.wrote();
        // Slot 0 is committed but named by checkpoint 1, the last completed one.
        assert_eq!(s.barrier(2), SlotAction::Switch { next: 2 });
        // Checkpoint 2 has not completed; slot 0 stays protected.
        s.wrote();
        assert_eq!(s.barrier(3), SlotAction::Switch { next: 3 });
        assert_eq!(s.complete(3), SlotAction::Commit(vec![1, 2]));
        // Checkpoint 3 names slots 1 and 2: slot 0 is free again.
        s.wrote();
        assert_eq!(s.barrier(4), SlotAction::Switch { next: 0 });
    }

    #[test]
    fn empty_transactions_stay_open_and_pending_checkpoints_are_bounded() {
        let mut s = Slots::new(1, &[]);
        assert_eq!(s.barrier(1), SlotAction::KeepOpen);
        assert_eq!(s.complete(1), SlotAction::Commit(vec![]));
        s.wrote();
        assert_eq!(s.barrier(2), SlotAction::Switch { next: 1 });
        s.wrote();
        assert_eq!(s.barrier(3), SlotAction::Switch { next: 2 });
        s.wrote();
        // Capacity 3: slots 0 and 1 prepared, 2 open: no slot left.
        assert_eq!(s.barrier(4), SlotAction::Exhausted);
        assert_eq!(s.current(), 2);
        assert_eq!(s.complete(3), SlotAction::Commit(vec![0, 1]));
    }

    #[test]
    fn a_restore_protects_the_slots_it_recovers() {
        let s = Slots::new(3, &[0, 1]);
        assert_eq!(s.current(), 2);
    }
}
