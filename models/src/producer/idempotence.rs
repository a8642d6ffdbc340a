//! The idempotent producer's numbering: producer id, epoch and sequence numbers.
//!
//! Reproduces `enable.idempotence` as the Java client (`TransactionManager` without
//! transactions) and kafka-python ≥ 2.1 do it: every record carries the producer id and a
//! sequence number counted per partition from 0, so the partition's leader drops a retried
//! duplicate and refuses (`OUT_OF_ORDER_SEQUENCE_NUMBER`) a record that overtook a missing
//! one. When a record fails for good its sequence number will never be written, so the
//! partition starts a new epoch and numbers again from 0 (KIP-360: the Java producer bumps
//! its epoch instead of failing every later record).
//!
//! Simplifications: the producer id is the producer's index in the scenario (no
//! `InitProducerId` round trip), and the epoch is kept per partition. Without idempotence
//! every record carries sequence −1 and epoch 0, as the broker expects of a plain producer.

use crate::types::Tp;
use std::collections::BTreeMap;

/// The numbers a record carries to the broker.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number in its partition (−1 without idempotence).
    pub seq: i32,
    /// Producer epoch of its partition when it was numbered.
    pub epoch: i32,
}

/// A producer's sequence numbers and epochs, per partition.
#[derive(Clone, Debug, Default)]
pub struct Idempotence {
    enabled: bool,
    /// Next sequence number per partition.
    sequences: BTreeMap<Tp, i32>,
    /// Current epoch per partition (absent: `base`).
    epochs: BTreeMap<Tp, i32>,
    /// The epoch of partitions not bumped (a transactional producer's epoch; else 0).
    base: i32,
}

impl Idempotence {
    /// Numbering for a producer with `enable.idempotence` = `enabled`.
    pub fn new(enabled: bool) -> Idempotence {
        Idempotence {
            enabled,
            ..Idempotence::default()
        }
    }

    /// Whether records are numbered.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The current epoch of `tp`.
    pub fn epoch(&self, tp: Tp) -> i32 {
        self.epochs.get(&tp).copied().unwrap_or(self.base)
    }

    /// Numbers the next record of `tp`: its sequence number (then counted) and the epoch.
    pub fn stamp(&mut self, tp: Tp) -> Stamp {
        Stamp {
            seq: self.next_sequence(tp),
            epoch: self.epoch(tp),
        }
    }

    fn next_sequence(&mut self, tp: Tp) -> i32 {
        if !self.enabled {
            return -1;
        }
        let s = self.sequences.entry(tp).or_insert(0);
        *s += 1;
        *s - 1
    }

    /// A transactional producer's new epoch (InitProducerId, or TV2's bump at the end of a
    /// transaction): every partition numbers from 0 again in `epoch`.
    pub fn restart(&mut self, epoch: i32) {
        self.sequences.clear();
        self.epochs.clear();
        self.base = epoch;
    }

    /// A record of `tp` numbered in epoch `epoch` failed for good (KIP-360): if that is still
    /// the partition's epoch, a new epoch starts and `unsent` — the partition's records not
    /// sent yet, oldest first — are numbered again from 0 in it. A second failure from the
    /// same, already replaced epoch changes nothing. Returns whether the epoch was bumped.
    pub fn bump<'a>(&mut self, tp: Tp, epoch: i32, unsent: impl Iterator<Item = &'a mut Stamp>) -> bool {
        if !self.enabled || self.epoch(tp) != epoch {
            return false;
        }
        self.epochs.insert(tp, epoch + 1);
        self.sequences.insert(tp, 0);
        for stamp in unsent {
            *stamp = self.stamp(tp);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Tp = Tp {
        topic: 0,
        partition: 0,
    };
    const B: Tp = Tp {
        topic: 0,
        partition: 1,
    };

    #[test]
    fn sequence_numbers_count_per_partition() {
        let mut i = Idempotence::new(true);
        let seqs: Vec<(i32, i32)> = [A, A, B, A, B]
            .iter()
            .map(|tp| {
                let s = i.stamp(*tp);
                (s.seq, s.epoch)
            })
            .collect();
        assert_eq!(seqs, [(0, 0), (1, 0), (0, 0), (2, 0), (1, 0)]);
    }

    #[test]
    fn without_idempotence_every_record_is_unnumbered() {
        let mut i = Idempotence::new(false);
        assert_eq!(i.stamp(A), Stamp { seq: -1, epoch: 0 });
        assert_eq!(i.stamp(A), Stamp { seq: -1, epoch: 0 });
        let mut s = [Stamp { seq: -1, epoch: 0 }];
        assert!(!i.bump(A, 0, s.iter_mut()));
        assert_eq!(i.epoch(A), 0);
    }

    #[test]
    fn a_failure_bumps_the_epoch_and_renumbers_only_that_partition() {
        let mut i = Idempotence::new(true);
        let _failed = i.stamp(A); // seq 0
        let mut unsent = [i.stamp(A), i.stamp(A)]; // seq 1, 2
        let b = i.stamp(B);
        assert!(i.bump(A, 0, unsent.iter_mut()));
        assert_eq!(unsent, [Stamp { seq: 0, epoch: 1 }, Stamp { seq: 1, epoch: 1 }]);
        assert_eq!(i.stamp(A), Stamp { seq: 2, epoch: 1 });
        // the other partition keeps its epoch and its count
        assert_eq!(b, Stamp { seq: 0, epoch: 0 });
        assert_eq!(i.stamp(B), Stamp { seq: 1, epoch: 0 });
    }

    #[test]
    fn a_second_failure_of_a_replaced_epoch_changes_nothing() {
        let mut i = Idempotence::new(true);
        i.stamp(A);
        i.stamp(A);
        assert!(i.bump(A, 0, std::iter::empty()));
        let next = i.stamp(A);
        assert_eq!(next, Stamp { seq: 0, epoch: 1 });
        // the other record of epoch 0 fails too: epoch 1 stays, numbering goes on
        assert!(!i.bump(A, 0, std::iter::empty()));
        assert_eq!(i.stamp(A), Stamp { seq: 1, epoch: 1 });
    }
}
