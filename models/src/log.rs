//! A partition replica's log: records, the leader-epoch cache and the idempotent-producer state.
//!
//! Offsets are dense and start at 0 (no retention or compaction). The log end offset (LEO) is
//! the offset the next record gets. Each replica of a partition has its own log; followers copy
//! the leader's. Besides records the log keeps what Kafka keeps beside its segments:
//!
//! * the **leader-epoch cache** (`leader-epoch-checkpoint`, KIP-101): the first offset written
//!   in each leader epoch, so a replica can answer "where does epoch E end in your log" and a
//!   follower can truncate exactly the records a new leader never had (KIP-279, and the
//!   diverging-epoch check of fetch since KIP-595/Kafka 2.7);
//! * the **producer state** of idempotent producers (KIP-98): per producer id, the last
//!   sequence number written and the sequence ranges and base offsets of its last five
//!   batches (`ProducerStateEntry`, `NUM_BATCHES_TO_RETAIN` = 5), so a retried batch is
//!   answered with its base offset instead of being written twice; rebuilt from the records
//!   (each remembers its batch's base sequence) after a truncation, as Kafka rebuilds its
//!   producer snapshot;
//! * the **transaction index** ([`transactions`]): open and aborted transactions, the last
//!   stable offset, transactional producers' epochs.

pub mod transactions;

use crate::types::LogRecord;
use sim::Time;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
pub use transactions::{AbortedTxn, TxnBatch, TxnIndex};

/// How many recent batches a producer's entry remembers (Kafka: the last 5 batches).
pub const PRODUCER_CACHE: usize = 5;

/// An entry of an internal topic: what the group coordinator writes to `__consumer_offsets`,
/// and the transaction coordinator to `__transaction_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Internal {
    /// An OffsetCommit: the next offset to read, per partition.
    Commit {
        /// The group.
        group: Arc<str>,
        /// Committed offsets.
        offsets: Vec<(crate::types::Tp, i64)>,
    },
    /// The group's metadata after a completed rebalance (or when it becomes empty), from which
    /// a new coordinator restores the group without a rebalance.
    Group(Box<crate::group_metadata::GroupMetadata>),
    /// A TxnOffsetCommit (KIP-447): offsets of a group committed inside a producer's
    /// transaction, pending until its marker reaches the offsets partition.
    TxnCommit {
        /// The group.
        group: Arc<str>,
        /// The transactional producer's id.
        producer_id: i64,
        /// Offsets.
        offsets: Vec<(crate::types::Tp, i64)>,
    },
    /// A transaction's state, written to `__transaction_state` by its coordinator.
    Txn(Box<crate::txn_metadata::TxnMetadata>),
}

impl Internal {
    /// The transaction state it records, if it is a `__transaction_state` entry.
    pub fn as_txn(&self) -> Option<&crate::txn_metadata::TxnMetadata> {
        match self {
            Internal::Txn(t) => Some(t),
            _ => None,
        }
    }
}

/// One log entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The record.
    pub record: LogRecord,
    /// Leader epoch it was written in.
    pub epoch: i32,
    /// Idempotent producer sequence number (per partition), −1 without idempotence.
    pub pseq: i32,
    /// Sequence number of the first record of the batch it was written in (the batch's base
    /// sequence; −1 without idempotence): where the producer state's batches begin.
    pub batch_seq: i32,
    /// Idempotent producer epoch: a producer that gave up on a record starts a new epoch, whose
    /// sequence numbers start again at 0 (KIP-360).
    pub pepoch: i32,
    /// For internal topics: what the record means.
    pub internal: Option<Arc<Internal>>,
    /// For transactional producers: a record of a transaction, or a marker ending one.
    pub txn: Option<TxnBatch>,
}

impl Entry {
    /// Whether it is a control record (a transaction marker): it takes an offset, and no
    /// consumer is handed it.
    pub fn is_control(&self) -> bool {
        matches!(self.txn, Some(TxnBatch::Marker { .. }))
    }
}

/// What an idempotent append found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SeqCheck {
    /// Next in sequence (or no idempotence): append it.
    Append,
    /// Already written at this offset: answer with it, write nothing
    /// (`DUPLICATE_SEQUENCE_NUMBER` is answered as success).
    Duplicate(i64),
    /// A gap: an earlier record of this producer is missing (`OUT_OF_ORDER_SEQUENCE_NUMBER`).
    OutOfOrder,
}

/// One idempotent producer epoch's state in a partition.
#[derive(Clone, Debug, Default)]
struct ProducerEntry {
    last_seq: i32,
    /// The last batches: (first sequence, last sequence, base offset).
    recent: VecDeque<(i32, i32, i64)>,
}

impl ProducerEntry {
    /// Notes a record numbered `seq` of the batch that starts at `batch_seq`, at `offset`.
    fn note(&mut self, batch_seq: i32, seq: i32, offset: i64) {
        self.last_seq = seq;
        match self.recent.back_mut() {
            Some(b) if b.0 == batch_seq && seq == b.1 + 1 && seq != batch_seq => b.1 = seq,
            _ => {
                self.recent.push_back((seq, seq, offset));
                if self.recent.len() > PRODUCER_CACHE {
                    self.recent.pop_front();
                }
            }
        }
    }
}

/// One replica's log.
#[derive(Clone, Debug, Default)]
pub struct PartitionLog {
    /// Log start offset: what retention deleted is below it.
    base: i64,
    entries: Vec<Entry>,
    /// Time index: (first offset, append time) of each span of at least a second — the
    /// granularity at which retention deletes, as Kafka deletes whole segments.
    times: Vec<(i64, Time)>,
    /// (epoch, first offset), ascending in both.
    epochs: Vec<(i32, i64)>,
    producers: BTreeMap<(u32, i32), ProducerEntry>,
    txns: TxnIndex,
}

impl PartitionLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record written in leader `epoch` at time `now`, returning its offset.
    pub fn append(&mut self, entry: Entry, now: Time) -> i64 {
        let offset = self.end_offset();
        if self.times.last().is_none_or(|&(_, t)| now >= t + Time::ms(1000)) {
            self.times.push((offset, now));
        }
        if self.epochs.last().is_none_or(|&(e, _)| e < entry.epoch) {
            self.epochs.push((entry.epoch, offset));
        }
        if entry.pseq >= 0 {
            let pid = (entry.record.id.producer, entry.pepoch);
            self.producers
                .entry(pid)
                .or_default()
                .note(entry.batch_seq, entry.pseq, offset);
        }
        if let Some(batch) = entry.txn {
            self.txns.on_append(offset, batch);
        }
        self.entries.push(entry);
        offset
    }

    /// Checks the batch numbered `first..=last` of producer `pid` in epoch `epoch` before
    /// appending it (KIP-98, `ProducerStateManager`). Each epoch is a sequence of its own.
    pub fn check_sequence(&self, pid: u32, epoch: i32, first: i32, last: i32) -> SeqCheck {
        if first < 0 {
            return SeqCheck::Append;
        }
        match self.producers.get(&(pid, epoch)) {
            None => SeqCheck::Append,
            Some(p) if first == p.last_seq + 1 => SeqCheck::Append,
            // a duplicate of one of the last five batches is answered with its base offset;
            // anything older, or a batch cut otherwise, cannot be told from a gap (Kafka:
            // OUT_OF_ORDER_SEQUENCE_NUMBER)
            Some(p) if first <= p.last_seq => match p.recent.iter().find(|b| b.0 == first && b.1 == last) {
                Some(&(_, _, offset)) => SeqCheck::Duplicate(offset),
                None => SeqCheck::OutOfOrder,
            },
            Some(_) => SeqCheck::OutOfOrder,
        }
    }

    /// Removes every entry at `offset` and above (a follower's truncation to the leader).
    /// Below the log start, the log becomes empty and starts at `offset`.
    pub fn truncate(&mut self, offset: i64) {
        if offset < self.base {
            self.entries.clear();
            self.times.clear();
            self.epochs.clear();
            self.base = offset.max(0);
            self.producers.clear();
            self.txns = TxnIndex::default();
            return;
        }
        let to = offset.min(self.end_offset());
        if to == self.end_offset() {
            return;
        }
        self.entries.truncate((to - self.base) as usize);
        self.epochs.retain(|&(_, start)| start < to);
        self.times.retain(|&(o, _)| o < to);
        self.producers.clear();
        let mut rebuilt: BTreeMap<(u32, i32), ProducerEntry> = BTreeMap::new();
        for (o, e) in self.entries.iter().enumerate() {
            if e.pseq >= 0 {
                let p = rebuilt.entry((e.record.id.producer, e.pepoch)).or_default();
                p.note(e.batch_seq, e.pseq, self.base + o as i64);
            }
        }
        self.producers = rebuilt;
        let base = self.base;
        self.txns = TxnIndex::rebuild(
            self.entries
                .iter()
                .enumerate()
                .filter_map(|(o, e)| e.txn.map(|b| (base + o as i64, b))),
        );
    }

    /// Log start offset.
    pub fn start_offset(&self) -> i64 {
        self.base
    }

    /// Log end offset: the offset of the next record.
    pub fn end_offset(&self) -> i64 {
        self.base + self.entries.len() as i64
    }

    /// Empties the log and starts it at `offset`: a follower whose log ends before its
    /// leader's log start.
    pub fn reset_to(&mut self, offset: i64) {
        self.entries.clear();
        self.times.clear();
        self.epochs.clear();
        self.producers.clear();
        self.txns = TxnIndex::default();
        self.base = offset;
    }

    /// Moves the log start to `offset` (at most the log end), deleting what lies below it:
    /// retention on the leader, and a follower following its leader's log start.
    pub fn advance_start(&mut self, offset: i64) {
        let to = offset.min(self.end_offset());
        if to <= self.base {
            return;
        }
        self.entries.drain(..(to - self.base) as usize);
        self.base = to;
        // the span the new start falls in now starts there
        let keep = self.times.partition_point(|&(o, _)| o <= to).saturating_sub(1);
        self.times.drain(..keep);
        if let Some(first) = self.times.first_mut() {
            first.0 = first.0.max(to);
        }
        let keep = self.epochs.partition_point(|&(_, s)| s <= to).saturating_sub(1);
        self.epochs.drain(..keep);
        if let Some(first) = self.epochs.first_mut() {
            first.1 = first.1.max(to);
        }
    }

    /// Time-based retention (`retention.ms`): deletes every whole span of records appended
    /// before `cutoff`; returns the new log start if it moved.
    pub fn retain_after(&mut self, cutoff: Time) -> Option<i64> {
        // span i ends where span i+1 starts; it may go when that start is not after cutoff
        let expired = self.times.partition_point(|&(_, t)| t <= cutoff);
        if expired < 2 {
            return None;
        }
        let start = self.times[expired - 1].0;
        let before = self.base;
        self.advance_start(start);
        (self.base > before).then_some(self.base)
    }

    /// The epoch of the last entry (−1 for an empty log).
    pub fn last_epoch(&self) -> i32 {
        self.epochs.last().map_or(-1, |&(e, _)| e)
    }

    /// Kafka's `endOffsetForEpoch`: the largest epoch ≤ `epoch` this log has, and the offset
    /// where it ends (the first offset of the next epoch, or the LEO). `(-1, 0)` when the log
    /// has no such epoch.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let idx = self.epochs.partition_point(|&(e, _)| e <= epoch);
        if idx == 0 {
            return (-1, 0);
        }
        let found = self.epochs[idx - 1].0;
        let end = self.epochs.get(idx).map_or(self.end_offset(), |&(_, s)| s);
        (found, end)
    }

    /// Up to `max` records from `offset` below `limit` (clamped to the log), with their offsets.
    pub fn read(&self, offset: i64, limit: i64, max: usize) -> impl Iterator<Item = (i64, &LogRecord)> {
        let base = self.base;
        let end = (limit.clamp(base, self.end_offset()) - base) as usize;
        let from = ((offset.max(base) - base) as usize).min(end);
        let to = from.saturating_add(max).min(end);
        self.entries[from..to]
            .iter()
            .enumerate()
            .map(move |(i, e)| (base + (from + i) as i64, &e.record))
    }

    /// Up to `max` whole entries from `offset` (what a follower's fetch copies).
    pub fn entries(&self, offset: i64, max: usize) -> &[Entry] {
        let from = ((offset.max(self.base) - self.base) as usize).min(self.entries.len());
        let to = from.saturating_add(max).min(self.entries.len());
        &self.entries[from..to]
    }

    /// All entries (an internal topic's new leader replays them).
    pub fn all(&self) -> &[Entry] {
        &self.entries
    }

    /// The transaction index.
    pub fn transactions(&self) -> &TxnIndex {
        &self.txns
    }

    /// The high watermark moved to `hw` (transactions closed below it are settled).
    pub fn on_high_watermark(&mut self, hw: i64) {
        self.txns.on_high_watermark(hw);
    }

    /// The last stable offset under high watermark `hw`: the first offset of the earliest
    /// transaction still open (or whose marker is not yet replicated), never beyond `hw`.
    pub fn last_stable_offset(&self, hw: i64) -> i64 {
        self.txns.last_stable(hw)
    }

    /// What a `read_committed` consumer is handed from `offset`, below the last stable
    /// offset under `hw`: up to `max` records, without the control records (markers) and
    /// without the records of aborted transactions — what Kafka's consumer keeps of a fetch
    /// answered up to the LSO with its aborted-transactions list. Also returns the offset
    /// after the last entry looked at: the position past markers and aborted records.
    pub fn read_committed(&self, offset: i64, hw: i64, max: usize) -> (Vec<(i64, &LogRecord)>, i64) {
        let lso = self.last_stable_offset(hw);
        let from = offset.max(self.base);
        let aborted = self.txns.aborted_ranges(from, lso);
        let mut out = Vec::new();
        let mut next = from;
        for o in from..lso.min(self.end_offset()) {
            if out.len() >= max {
                break;
            }
            let e = &self.entries[(o - self.base) as usize];
            next = o + 1;
            let dropped = match e.txn {
                Some(TxnBatch::Marker { .. }) => true,
                Some(TxnBatch::Data { producer_id, .. }) => aborted
                    .iter()
                    .any(|r| r.producer_id == producer_id && r.first <= o && r.marker.is_some_and(|m| o < m)),
                None => false,
            };
            if !dropped {
                out.push((o, &e.record));
            }
        }
        (out, next.max(offset))
    }

    /// What a `read_uncommitted` consumer is handed from `offset` below `hw`: up to `max`
    /// records, without the control records (markers); and the offset after the last entry
    /// looked at.
    pub fn read_uncommitted(&self, offset: i64, hw: i64, max: usize) -> (Vec<(i64, &LogRecord)>, i64) {
        let from = offset.max(self.base);
        let mut out = Vec::new();
        let mut next = from;
        for o in from..hw.min(self.end_offset()) {
            if out.len() >= max {
                break;
            }
            let e = &self.entries[(o - self.base) as usize];
            next = o + 1;
            if !matches!(e.txn, Some(TxnBatch::Marker { .. })) {
                out.push((o, &e.record));
            }
        }
        (out, next.max(offset))
    }

    /// The entry at `offset`.
    pub fn entry(&self, offset: i64) -> Option<&Entry> {
        usize::try_from(offset - self.base)
            .ok()
            .and_then(|o| self.entries.get(o))
    }

    /// The record at `offset`.
    pub fn get(&self, offset: i64) -> Option<&LogRecord> {
        usize::try_from(offset - self.base)
            .ok()
            .and_then(|o| self.entries.get(o))
            .map(|e| &e.record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Payload, RecordId};

    impl PartitionLog {
        fn append_at(&mut self, e: Entry) -> i64 {
            self.append(e, Time::ZERO)
        }
    }

    #[test]
    fn retention_deletes_whole_spans_and_moves_the_start() {
        let mut log = PartitionLog::new();
        for i in 0..10u32 {
            // a record every 500 ms
            log.append(entry(0, i, i32::from(i >= 5), -1), Time::ms(u64::from(i) * 500));
        }
        // spans start at 0 ms (offsets 0-1), 1000 (2-3), 2000 (4-5), 3000 (6-7), 4000 (8-9)
        assert_eq!(
            log.retain_after(Time::ms(999)),
            None,
            "the first span is not over"
        );
        assert_eq!(log.retain_after(Time::ms(2000)), Some(4));
        assert_eq!((log.start_offset(), log.end_offset()), (4, 10));
        assert_eq!(
            log.read(0, 10, 3).map(|(o, _)| o).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        assert!(log.get(3).is_none());
        assert_eq!(log.get(4).unwrap().id.seq, 4);
        assert_eq!(log.end_offset_for_epoch(0), (0, 5));
        // a follower behind the leader's start restarts there
        log.truncate(2);
        assert_eq!((log.start_offset(), log.end_offset()), (2, 2));
        log.append(entry(0, 99, 3, -1), Time::ms(9000));
        assert_eq!(log.get(2).unwrap().id.seq, 99);
        log.advance_start(3);
        assert_eq!((log.start_offset(), log.end_offset()), (3, 3));
    }

    fn entry(producer: u32, seq: u32, epoch: i32, pseq: i32) -> Entry {
        entry_in(producer, seq, epoch, pseq, 0)
    }

    fn entry_in(producer: u32, seq: u32, epoch: i32, pseq: i32, pepoch: i32) -> Entry {
        Entry {
            record: LogRecord {
                id: RecordId { producer, seq },
                payload: Payload::new(None, None),
            },
            epoch,
            pseq,
            batch_seq: pseq,
            pepoch,
            internal: None,
            txn: None,
        }
    }

    fn txn_entry(seq: u32, batch: TxnBatch) -> Entry {
        let mut e = entry(0, seq, 0, -1);
        e.txn = Some(batch);
        e
    }

    #[test]
    fn read_committed_stops_at_the_lso_and_drops_markers_and_aborted_records() {
        let (p, q) = (1_i64 << 32, 2_i64 << 32);
        let data = |producer_id| TxnBatch::Data {
            producer_id,
            epoch: 0,
        };
        let marker = |producer_id, commit| TxnBatch::Marker {
            producer_id,
            epoch: 1,
            commit,
        };
        let mut log = PartitionLog::new();
        log.append_at(entry(9, 0, 0, -1)); // 0: plain
        log.append_at(txn_entry(1, data(p))); // 1: P
        log.append_at(txn_entry(2, data(q))); // 2: Q
        log.append_at(txn_entry(3, marker(q, false))); // 3: Q aborted
        log.append_at(txn_entry(4, data(p))); // 4: P
        log.append_at(txn_entry(5, marker(p, true))); // 5: P committed
        log.append_at(txn_entry(6, data(q))); // 6: Q again, open
        let seqs = |v: &[(i64, &LogRecord)]| v.iter().map(|(o, _)| *o).collect::<Vec<_>>();
        let (got, next) = log.read_committed(0, 7, 100);
        assert_eq!(seqs(&got), vec![0, 1, 4], "no marker, nothing of Q's abort");
        assert_eq!(next, 6, "past P's marker; Q's open transaction holds the LSO");
        let (got, next) = log.read_committed(0, 3, 100);
        assert_eq!(seqs(&got), vec![0], "P is open below the high watermark 3");
        assert_eq!(next, 1);
        let (got, next) = log.read_committed(0, 7, 2);
        assert_eq!((seqs(&got), next), (vec![0, 1], 2));
        let (got, next) = log.read_committed(2, 7, 1);
        assert_eq!(
            (seqs(&got), next),
            (vec![4], 5),
            "steps over the aborted record and marker"
        );
        let (got, next) = log.read_committed(6, 7, 10);
        assert_eq!((got.len(), next), (0, 6));
        // read_uncommitted sees everything below the high watermark, markers excepted by the
        // consumer
        assert_eq!(log.read(0, 7, 100).count(), 7);
    }

    #[test]
    fn offsets_are_dense_from_zero() {
        let mut log = PartitionLog::new();
        assert_eq!(log.end_offset(), 0);
        for i in 0..5 {
            assert_eq!(log.append_at(entry(0, i, 0, -1)), i64::from(i));
        }
        assert_eq!(log.end_offset(), 5);
        let got: Vec<i64> = log.read(2, 5, 10).map(|(o, _)| o).collect();
        assert_eq!(got, vec![2, 3, 4]);
        assert_eq!(log.read(1, 5, 2).count(), 2);
        assert_eq!(log.read(9, 5, 2).count(), 0);
        assert_eq!(log.read(0, 3, 10).count(), 3, "nothing at or above the limit");
        assert_eq!(log.get(4).unwrap().id.seq, 4);
        assert!(log.get(5).is_none());
    }

    #[test]
    fn epoch_cache_answers_end_offsets() {
        let mut log = PartitionLog::new();
        for (i, epoch) in [0, 0, 2, 2, 2, 5].into_iter().enumerate() {
            log.append_at(entry(0, i as u32, epoch, -1));
        }
        assert_eq!(log.last_epoch(), 5);
        assert_eq!(log.end_offset_for_epoch(0), (0, 2));
        assert_eq!(log.end_offset_for_epoch(1), (0, 2));
        assert_eq!(log.end_offset_for_epoch(2), (2, 5));
        assert_eq!(log.end_offset_for_epoch(4), (2, 5));
        assert_eq!(log.end_offset_for_epoch(7), (5, 6));
        log.truncate(3);
        assert_eq!(log.end_offset(), 3);
        assert_eq!(log.last_epoch(), 2);
        assert_eq!(log.end_offset_for_epoch(9), (2, 3));
        log.truncate(0);
        assert_eq!(log.last_epoch(), -1);
    }

    #[test]
    fn idempotent_sequences_deduplicate_and_survive_truncation() {
        let mut log = PartitionLog::new();
        assert_eq!(log.check_sequence(7, 0, 0, 0), SeqCheck::Append);
        log.append_at(entry(7, 0, 0, 0));
        log.append_at(entry(7, 1, 0, 1));
        assert_eq!(log.check_sequence(7, 0, 1, 1), SeqCheck::Duplicate(1));
        assert_eq!(log.check_sequence(7, 0, 0, 0), SeqCheck::Duplicate(0));
        assert_eq!(log.check_sequence(7, 0, 3, 3), SeqCheck::OutOfOrder);
        assert_eq!(log.check_sequence(7, 0, 2, 2), SeqCheck::Append);
        assert_eq!(
            log.check_sequence(8, 0, 4, 4),
            SeqCheck::Append,
            "an unknown producer"
        );
        assert_eq!(
            log.check_sequence(7, 0, -1, -1),
            SeqCheck::Append,
            "no idempotence"
        );
        log.truncate(1);
        assert_eq!(
            log.check_sequence(7, 0, 1, 1),
            SeqCheck::Append,
            "the truncated record may come again"
        );
        for s in 1..10 {
            log.append_at(entry(7, s as u32, 0, s));
        }
        assert_eq!(log.check_sequence(7, 0, 9, 9), SeqCheck::Duplicate(9));
        assert_eq!(
            log.check_sequence(7, 0, 2, 2),
            SeqCheck::OutOfOrder,
            "older than the cache"
        );
        // a new producer epoch starts its sequence again
        assert_eq!(log.check_sequence(7, 1, 0, 0), SeqCheck::Append);
        log.append_at(entry_in(7, 20, 0, 0, 1));
        assert_eq!(log.check_sequence(7, 1, 0, 0), SeqCheck::Duplicate(10));
        assert_eq!(log.check_sequence(7, 1, 2, 2), SeqCheck::OutOfOrder);
        assert_eq!(
            log.check_sequence(7, 0, 10, 10),
            SeqCheck::Append,
            "the old epoch is its own"
        );
    }

    /// A batch of three records 0..=2 at offsets 0..=2, then one of two, 3..=4.
    fn two_batches() -> PartitionLog {
        let mut log = PartitionLog::new();
        for (seq, base) in [(0, 0), (1, 0), (2, 0), (3, 3), (4, 3)] {
            let mut e = entry(7, seq as u32, 0, seq);
            e.batch_seq = base;
            log.append_at(e);
        }
        log
    }

    #[test]
    fn a_retried_batch_is_a_duplicate_only_as_a_whole() {
        let log = two_batches();
        assert_eq!(log.check_sequence(7, 0, 0, 2), SeqCheck::Duplicate(0));
        assert_eq!(log.check_sequence(7, 0, 3, 4), SeqCheck::Duplicate(3));
        assert_eq!(log.check_sequence(7, 0, 5, 9), SeqCheck::Append);
        // a range that is not one of the batches written
        assert_eq!(log.check_sequence(7, 0, 1, 2), SeqCheck::OutOfOrder);
        assert_eq!(log.check_sequence(7, 0, 0, 4), SeqCheck::OutOfOrder);
        assert_eq!(log.check_sequence(7, 0, 6, 6), SeqCheck::OutOfOrder, "a gap");
    }

    #[test]
    fn the_producer_state_keeps_five_batches_and_is_rebuilt_by_batch() {
        let mut log = two_batches();
        // five more batches of one record each: the first two batches leave the cache
        for seq in 5..10 {
            log.append_at(entry(7, seq as u32, 0, seq));
        }
        assert_eq!(log.check_sequence(7, 0, 0, 2), SeqCheck::OutOfOrder);
        assert_eq!(log.check_sequence(7, 0, 3, 4), SeqCheck::OutOfOrder);
        assert_eq!(log.check_sequence(7, 0, 5, 5), SeqCheck::Duplicate(5));
        // truncated to the first two batches: rebuilt from the records, batch by batch
        log.truncate(5);
        assert_eq!(log.check_sequence(7, 0, 0, 2), SeqCheck::Duplicate(0));
        assert_eq!(log.check_sequence(7, 0, 3, 4), SeqCheck::Duplicate(3));
        assert_eq!(log.check_sequence(7, 0, 5, 5), SeqCheck::Append);
    }
}
