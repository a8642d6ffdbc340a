//! A replica's transaction index: which transactions are open in the log, where each began
//! and ended, which were aborted — what a partition needs for its last stable offset and
//! for `read_committed` fetches.
//!
//! Kafka's `ProducerStateManager` (ongoing transactions per producer id, their first
//! offset, the unreplicated completed ones) and transaction index (`.txnindex`: the aborted
//! transactions, `AbortedTxn`):
//!
//! * a transactional data batch of a producer with no open transaction here opens one at
//!   its offset;
//! * a control batch (a marker, written by the transaction coordinator's WriteTxnMarkers)
//!   takes one offset and closes the producer's open transaction, as committed or aborted;
//! * the **first unstable offset** is the first offset of the earliest transaction that is
//!   open, or closed by a marker not yet below the high watermark; the **last stable
//!   offset** is that offset, never beyond the high watermark (`Partition.lastStableOffset`);
//! * a fetch up to some offset is told the aborted transactions that overlap it
//!   (`FetchResponse.abortedTransactions`: producer id and first offset);
//! * producer epochs: a data batch with an epoch below the producer's latest here is fenced
//!   (`INVALID_PRODUCER_EPOCH`); a marker carries the coordinator's bumped epoch.

use std::collections::BTreeMap;

/// What a log entry is to a transaction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TxnBatch {
    /// A record of an open transaction.
    Data {
        /// The transactional producer's id (the coordinator's, not the scenario's index).
        producer_id: i64,
        /// Its epoch.
        epoch: i32,
    },
    /// A control record ending the producer's transaction.
    Marker {
        /// Producer id.
        producer_id: i64,
        /// The epoch the coordinator wrote it with.
        epoch: i32,
        /// `COMMIT` (or `ABORT`).
        commit: bool,
    },
}

/// One transaction as this log saw it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TxnRange {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of its first record here.
    pub first: i64,
    /// Offset of its marker, once written.
    pub marker: Option<i64>,
    /// Aborted (meaningful once `marker` is set).
    pub aborted: bool,
}

/// An aborted transaction as a fetch response lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbortedTxn {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of its first record.
    pub first_offset: i64,
}

/// The transactions of one replica's log.
#[derive(Clone, Debug, Default)]
pub struct TxnIndex {
    /// Every transaction, by first offset.
    ranges: Vec<TxnRange>,
    /// Producer id → index in `ranges` of its open transaction.
    open: BTreeMap<i64, usize>,
    /// Producer id → latest epoch seen.
    epochs: BTreeMap<i64, i32>,
    /// Ranges below this index are settled: closed by a marker below some high watermark
    /// seen (they can no longer hold the last stable offset back).
    settled: usize,
}

impl TxnIndex {
    /// Notes an entry appended at `offset`.
    pub fn on_append(&mut self, offset: i64, batch: TxnBatch) {
        match batch {
            TxnBatch::Data { producer_id, epoch } => {
                self.note_epoch(producer_id, epoch);
                if !self.open.contains_key(&producer_id) {
                    self.open.insert(producer_id, self.ranges.len());
                    self.ranges.push(TxnRange {
                        producer_id,
                        first: offset,
                        marker: None,
                        aborted: false,
                    });
                }
            }
            TxnBatch::Marker {
                producer_id,
                epoch,
                commit,
            } => {
                self.note_epoch(producer_id, epoch);
                if let Some(i) = self.open.remove(&producer_id) {
                    let r = &mut self.ranges[i];
                    r.marker = Some(offset);
                    r.aborted = !commit;
                }
            }
        }
    }

    fn note_epoch(&mut self, producer_id: i64, epoch: i32) {
        let e = self.epochs.entry(producer_id).or_insert(epoch);
        *e = (*e).max(epoch);
    }

    /// Whether a data batch of `producer_id` in `epoch` is fenced by a later epoch here.
    pub fn is_fenced(&self, producer_id: i64, epoch: i32) -> bool {
        self.epochs.get(&producer_id).is_some_and(|&e| epoch < e)
    }

    /// Whether `producer_id` has an open transaction here.
    pub fn is_open(&self, producer_id: i64) -> bool {
        self.open.contains_key(&producer_id)
    }

    /// The first offset of the earliest transaction that is open or whose marker is not
    /// below `hw`; `None` when every transaction is settled.
    pub fn first_unstable(&self, hw: i64) -> Option<i64> {
        self.ranges[self.settled..]
            .iter()
            .filter(|r| r.marker.is_none_or(|m| m >= hw))
            .map(|r| r.first)
            .min()
    }

    /// The last stable offset under high watermark `hw`.
    pub fn last_stable(&self, hw: i64) -> i64 {
        self.first_unstable(hw).map_or(hw, |f| f.min(hw))
    }

    /// The high watermark moved to `hw`: transactions closed below it are settled.
    pub fn on_high_watermark(&mut self, hw: i64) {
        while let Some(r) = self.ranges.get(self.settled) {
            if r.marker.is_some_and(|m| m < hw) {
                self.settled += 1;
            } else {
                break;
            }
        }
    }

    /// The aborted transactions a fetch of `[from, to)` must be told: aborted, their marker
    /// at or after `from`, their first record before `to`; by first offset.
    pub fn aborted(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.ranges
            .iter()
            .filter(|r| r.aborted && r.marker.is_some_and(|m| m >= from) && r.first < to)
            .map(|r| AbortedTxn {
                producer_id: r.producer_id,
                first_offset: r.first,
            })
            .collect()
    }

    /// The aborted transactions overlapping `[from, to)`, whole.
    pub fn aborted_ranges(&self, from: i64, to: i64) -> Vec<TxnRange> {
        self.ranges
            .iter()
            .filter(|r| r.aborted && r.marker.is_some_and(|m| m >= from) && r.first < to)
            .copied()
            .collect()
    }

    /// Every transaction, by first offset.
    pub fn ranges(&self) -> &[TxnRange] {
        &self.ranges
    }

    /// Rebuilt from the entries left (after a truncation), as Kafka rebuilds its producer
    /// state from the log.
    pub fn rebuild(entries: impl IntoIterator<Item = (i64, TxnBatch)>) -> TxnIndex {
        let mut index = TxnIndex::default();
        for (offset, batch) in entries {
            index.on_append(offset, batch);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: i64 = 1 << 32;
    const Q: i64 = 2 << 32;

    fn data(producer_id: i64) -> TxnBatch {
        TxnBatch::Data {
            producer_id,
            epoch: 0,
        }
    }

    fn marker(producer_id: i64, commit: bool) -> TxnBatch {
        TxnBatch::Marker {
            producer_id,
            epoch: 1,
            commit,
        }
    }

    /// P writes 0, 1; Q writes 2; P commits at 3; Q writes 4, aborts at 5.
    fn two_transactions() -> TxnIndex {
        let mut x = TxnIndex::default();
        for (o, b) in [
            data(P),
            data(P),
            data(Q),
            marker(P, true),
            data(Q),
            marker(Q, false),
        ]
        .into_iter()
        .enumerate()
        {
            x.on_append(o as i64, b);
        }
        x
    }

    #[test]
    fn the_last_stable_offset_is_the_first_offset_of_the_earliest_open_transaction() {
        let mut x = TxnIndex::default();
        assert_eq!(x.last_stable(7), 7, "no transaction: the high watermark");
        x.on_append(3, data(P));
        x.on_append(4, data(Q));
        assert_eq!(x.last_stable(5), 3);
        assert_eq!(x.last_stable(2), 2, "never beyond the high watermark");
        x.on_append(5, marker(P, true));
        assert_eq!(x.last_stable(5), 3, "P's marker is not replicated yet");
        assert_eq!(x.last_stable(6), 4, "P is done; Q holds it");
        x.on_append(6, marker(Q, false));
        assert_eq!(x.last_stable(7), 7);
        x.on_high_watermark(7);
        assert_eq!(x.last_stable(7), 7);
        assert_eq!(x.first_unstable(7), None);
    }

    #[test]
    fn a_fetch_is_told_the_aborted_transactions_it_overlaps() {
        let x = two_transactions();
        let q = AbortedTxn {
            producer_id: Q,
            first_offset: 2,
        };
        assert_eq!(x.aborted(0, 6), vec![q]);
        assert_eq!(x.aborted(5, 6), vec![q], "the marker is still ahead");
        assert_eq!(x.aborted(6, 9), vec![], "entirely behind the fetch");
        assert_eq!(x.aborted(0, 2), vec![], "entirely ahead of it");
        assert!(!x.is_open(P) && !x.is_open(Q));
    }

    #[test]
    fn an_older_epoch_is_fenced_once_a_marker_bumped_it() {
        let x = two_transactions();
        assert!(x.is_fenced(P, 0));
        assert!(!x.is_fenced(P, 1));
        assert!(!x.is_fenced(3 << 32, 0), "an unknown producer");
    }

    #[test]
    fn a_rebuild_after_truncation_reopens_what_lost_its_marker() {
        let x = two_transactions();
        let kept: Vec<(i64, TxnBatch)> = [data(P), data(P), data(Q)]
            .into_iter()
            .enumerate()
            .map(|(o, b)| (o as i64, b))
            .collect();
        let y = TxnIndex::rebuild(kept);
        assert!(y.is_open(P) && y.is_open(Q));
        assert_eq!(y.last_stable(3), 0);
        assert_eq!(x.ranges().len(), y.ranges().len());
    }
}
