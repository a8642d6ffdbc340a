//! The record accumulator: which partition a record goes to, and the batches that wait to be
//! sent.
//!
//! Reproduces the producer's `RecordAccumulator` (Java `RecordAccumulator.append/ready`,
//! kafka-python `RecordAccumulator`, librdkafka's per-partition message queues) and its
//! partitioner (Java's `BuiltInPartitioner`, kafka-python's `DefaultPartitioner`,
//! librdkafka's `rd_kafka_msg_partitioner`). Batching:
//! * each partition has a queue of batches; a record joins the partition's last batch if that
//!   batch was never sent and has room — its estimated size stays within `batch.size` (the
//!   first record always fits) and its count within librdkafka's `batch.num.messages` —
//!   else it starts a new batch. The size is the Java client's own upper-bound estimate
//!   (`AbstractRecords.estimateSizeInBytesUpperBound`): the record-batch v2 header of 61
//!   bytes plus, per record, key and value and the 21-byte `MAX_RECORD_OVERHEAD`
//!   ([`Payload::size_estimate`]);
//! * a partition's first batch is *ready* when it is full (another batch waits behind it, or
//!   it reached `batch.size` / `batch.num.messages`), was sent before (a retry), has waited
//!   `linger.ms` since it was created, or a flush is under way (`flush()`, `close()`, a
//!   transaction's commit). An index of the partitions with a queue, keyed by the time their
//!   first batch becomes ready, makes finding the ready ones cost what they are, and gives
//!   the sender the one instant to wake at;
//! * a batch whose retry backoff is over goes back to its place in its queue (by send number),
//!   as the Java accumulator re-enqueues a retried batch ahead of younger ones
//!   (`RecordAccumulator.reenqueue`: `addFirst`), whole: a retry carries the same records
//!   under the same sequence numbers, which is how the broker recognises it.

use super::idempotence::Stamp;
use crate::config::NullKeyStrategy;
use crate::partitioner::KeyHash;
use crate::types::{Payload, Tp};
use rand::Rng;
use sim::Time;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Bytes of a record batch's v2 header (Java `DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
pub const BATCH_HEADER_BYTES: usize = 61;

/// A record the producer holds until it is acknowledged or fails for good.
#[derive(Clone, Debug)]
pub struct Record {
    /// Send number at its producer (the `seq` of its [`crate::types::RecordId`]).
    pub seq: u32,
    /// The partition the partitioner chose.
    pub tp: Tp,
    /// Key and value.
    pub payload: Payload,
    /// Idempotence numbers it travels with.
    pub stamp: Stamp,
    /// When `send()` handed it over: `delivery.timeout.ms` counts from here.
    pub first_sent: Time,
    /// Whether a request carried it already (a KIP-360 epoch bump renumbers only the
    /// records never sent).
    pub sent: bool,
}

/// The partition a null-key record sticks to in one topic.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Sticky {
    partition: u32,
    /// Bytes sent to it since it was chosen (uniform sticky).
    bytes: usize,
    /// When it was chosen (sticky linger).
    since: Time,
}

/// The profile's partitioner, with its sticky choices per topic.
#[derive(Clone, Debug)]
pub struct Partitioner {
    key_hash: KeyHash,
    null_key: NullKeyStrategy,
    /// Per topic index.
    sticky: BTreeMap<u32, Sticky>,
}

impl Partitioner {
    /// A partitioner hashing keys with `key_hash` and placing null keys by `null_key`.
    pub fn new(key_hash: KeyHash, null_key: NullKeyStrategy) -> Partitioner {
        Partitioner {
            key_hash,
            null_key,
            sticky: BTreeMap::new(),
        }
    }

    /// The partition of `topic` (with `partitions` partitions) for a record of `payload`
    /// with optional `explicit` partition, sent at `now`; draws from `rng` when the strategy
    /// needs a new random partition.
    pub fn partition(
        &mut self,
        rng: &mut impl Rng,
        now: Time,
        topic: u32,
        partitions: u32,
        payload: &Payload,
        explicit: Option<u32>,
    ) -> u32 {
        if let Some(p) = explicit {
            return p;
        }
        if let Some(key) = payload.key() {
            return self.key_hash.partition(key, partitions);
        }
        match self.null_key {
            NullKeyStrategy::RandomPerRecord => rng.random_range(0..partitions),
            NullKeyStrategy::UniformSticky { batch_size } => {
                let size = payload.size_estimate();
                match self.sticky.get_mut(&topic) {
                    Some(s) if s.bytes < batch_size => {
                        s.bytes += size;
                        s.partition
                    }
                    _ => self.stick(rng, now, topic, partitions, size),
                }
            }
            NullKeyStrategy::StickyLinger { linger_ms } => match self.sticky.get(&topic) {
                Some(s) if now < s.since + Time::ms(linger_ms) => s.partition,
                _ => self.stick(rng, now, topic, partitions, 0),
            },
        }
    }

    /// Draws the partition `topic`'s null-key records stick to from now, `bytes` sent to it.
    fn stick(&mut self, rng: &mut impl Rng, now: Time, topic: u32, partitions: u32, bytes: usize) -> u32 {
        let partition = rng.random_range(0..partitions);
        let sticky = Sticky {
            partition,
            bytes,
            since: now,
        };
        self.sticky.insert(topic, sticky);
        partition
    }
}

/// A record batch of one partition: what one Produce request carries for it.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The partition.
    pub tp: Tp,
    /// Its records, in send order (consecutive sequence numbers).
    pub records: Vec<Record>,
    /// When its first record was appended (`linger.ms` counts from here).
    pub created: Time,
    /// Estimated size in bytes (header and records).
    pub bytes: usize,
    /// Retries so far.
    pub retries: u32,
    /// A request carried it already: it takes no more records.
    pub closed: bool,
}

impl Batch {
    fn new(record: Record, now: Time) -> Batch {
        Batch {
            tp: record.tp,
            bytes: BATCH_HEADER_BYTES + record.payload.size_estimate(),
            records: vec![record],
            created: now,
            retries: 0,
            closed: false,
        }
    }

    /// The send number of its first record: the batch's name.
    pub fn first_seq(&self) -> u32 {
        self.records[0].seq
    }

    /// When the oldest of its records was handed to `send()` (`delivery.timeout.ms`).
    pub fn first_sent(&self) -> Time {
        self.records
            .iter()
            .map(|r| r.first_sent)
            .min()
            .unwrap_or(self.created)
    }
}

/// How batches are cut and when they are ready: the profile's batching settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Batching {
    /// `linger.ms`.
    pub linger: Time,
    /// `batch.size` in bytes.
    pub batch_size: usize,
    /// `batch.num.messages`.
    pub max_records: u32,
}

/// What waits to be sent, per partition, and the partitioner that put it there.
#[derive(Clone, Debug)]
pub struct Accumulator {
    partitioner: Partitioner,
    batching: Batching,
    /// Waiting batches per partition, by send number (emptied queues are kept for reuse).
    queues: BTreeMap<Tp, VecDeque<Batch>>,
    waiting: usize,
    /// Every partition with a queue, by the time its first batch is ready.
    ready: BTreeSet<(Time, Tp)>,
    /// The key each such partition has in `ready`.
    ready_at: BTreeMap<Tp, Time>,
    /// A flush is under way: every batch is ready.
    flushing: bool,
    /// Partitions with a batch in flight, when the sender keeps one in flight per partition
    /// (kafka-python's `muted`): not ready.
    muted: BTreeSet<Tp>,
}

impl Accumulator {
    /// An empty accumulator partitioning with `partitioner`, cutting batches by `batching`.
    pub fn new(partitioner: Partitioner, batching: Batching) -> Accumulator {
        Accumulator {
            partitioner,
            batching,
            queues: BTreeMap::new(),
            waiting: 0,
            ready: BTreeSet::new(),
            ready_at: BTreeMap::new(),
            flushing: false,
            muted: BTreeSet::new(),
        }
    }

    /// Mutes `tp` (a batch of it is in flight) or unmutes it.
    pub fn mute(&mut self, tp: Tp, muted: bool) {
        if muted {
            self.muted.insert(tp);
        } else {
            self.muted.remove(&tp);
        }
    }

    /// The partitioner.
    pub fn partitioner(&mut self) -> &mut Partitioner {
        &mut self.partitioner
    }

    /// Records waiting to be sent.
    pub fn len(&self) -> usize {
        self.waiting
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    fn full(&self, b: &Batch) -> bool {
        b.bytes >= self.batching.batch_size || b.records.len() as u64 >= u64::from(self.batching.max_records)
    }

    /// Whether `b` takes `record`.
    fn has_room(&self, b: &Batch, record: &Record) -> bool {
        !b.closed
            && (b.records.len() as u64) < u64::from(self.batching.max_records)
            && b.bytes + record.payload.size_estimate() <= self.batching.batch_size
    }

    /// Re-files `tp` in the ready index after its queue changed (nothing to do when its
    /// ready time stays).
    fn reindex(&mut self, tp: Tp) {
        let at = self.queues.get(&tp).and_then(|q| {
            let first = q.front()?;
            let now_ready = self.flushing || q.len() > 1 || first.closed || self.full(first);
            Some(if now_ready {
                first.created
            } else {
                first.created + self.batching.linger
            })
        });
        let old = self.ready_at.get(&tp).copied();
        if old == at {
            return;
        }
        if let Some(old) = old {
            self.ready.remove(&(old, tp));
        }
        match at {
            Some(at) => {
                self.ready.insert((at, tp));
                self.ready_at.insert(tp, at);
            }
            None => {
                self.ready_at.remove(&tp);
            }
        }
    }

    /// Appends a record sent at `now` to its partition's last batch, or to a new one.
    pub fn append(&mut self, now: Time, record: Record) {
        let tp = record.tp;
        let joins = self
            .queues
            .get(&tp)
            .and_then(|q| q.back())
            .is_some_and(|last| self.has_room(last, &record));
        let queue = self.queues.entry(tp).or_default();
        if joins {
            let last = queue.back_mut().expect("a batch");
            last.bytes += record.payload.size_estimate();
            last.records.push(record);
        } else {
            queue.push_back(Batch::new(record, now));
        }
        self.waiting += 1;
        self.reindex(tp);
    }

    /// Puts a batch whose retry backoff is over back at its place in its queue (by send
    /// number: ahead of younger batches).
    pub fn reenqueue(&mut self, batch: Batch) {
        let tp = batch.tp;
        let queue = self.queues.entry(tp).or_default();
        let at = queue.partition_point(|b| b.first_seq() < batch.first_seq());
        self.waiting += batch.records.len();
        queue.insert(at, batch);
        self.reindex(tp);
    }

    /// Starts or ends a flush: while it lasts, every batch is ready.
    pub fn set_flushing(&mut self, flushing: bool) {
        if self.flushing != flushing {
            self.flushing = flushing;
            let tps: Vec<Tp> = self.ready_at.keys().copied().collect();
            for tp in tps {
                self.reindex(tp);
            }
        }
    }

    /// The partitions whose first batch is ready at `now` and that are not muted, earliest
    /// first.
    pub fn ready(&self, now: Time) -> impl Iterator<Item = Tp> + '_ {
        self.ready
            .range(..=(now, Tp::new(u32::MAX, u32::MAX)))
            .map(|&(_, tp)| tp)
            .filter(|tp| !self.muted.contains(tp))
    }

    /// Whether some batch of a partition that is not muted is ready at `now`.
    pub fn has_ready(&self, now: Time) -> bool {
        if self.muted.is_empty() {
            return self.ready.first().is_some_and(|&(t, _)| t <= now);
        }
        self.ready(now).next().is_some()
    }

    /// The first instant after `now` at which a batch becomes ready (the sender's wake-up).
    pub fn next_ready_after(&self, now: Time) -> Option<Time> {
        match self.ready.first() {
            None => return None,
            Some(&(t, _)) if t > now => return Some(t),
            _ => {}
        }
        self.ready
            .range((now + Time::us(1), Tp::new(0, 0))..)
            .next()
            .map(|&(t, _)| t)
    }

    /// The partitions that have records waiting.
    pub fn waiting_partitions(&self) -> impl Iterator<Item = Tp> + '_ {
        self.ready_at.keys().copied()
    }

    /// The estimated size of `tp`'s first batch.
    pub fn first_bytes(&self, tp: Tp) -> Option<usize> {
        self.queues.get(&tp)?.front().map(|b| b.bytes)
    }

    /// Takes `tp`'s first batch out, to be sent (it takes no more records).
    pub fn drain(&mut self, tp: Tp) -> Option<Batch> {
        let mut batch = self.queues.get_mut(&tp)?.pop_front()?;
        batch.closed = true;
        self.waiting -= batch.records.len();
        self.reindex(tp);
        Some(batch)
    }

    /// Takes every waiting batch out, oldest first by partition.
    pub fn take_all(&mut self) -> Vec<Batch> {
        let tps: Vec<Tp> = self.ready_at.keys().copied().collect();
        let mut out = Vec::new();
        for tp in tps {
            while let Some(b) = self.drain(tp) {
                out.push(b);
            }
        }
        out.sort_by_key(|b| b.first_seq());
        out
    }

    /// The numbers of `tp`'s waiting records that were never sent, oldest first (what a
    /// KIP-360 epoch bump numbers again).
    pub fn unsent_stamps(&mut self, tp: Tp) -> impl Iterator<Item = &mut Stamp> {
        self.queues
            .get_mut(&tp)
            .into_iter()
            .flat_map(|q| q.iter_mut())
            .flat_map(|b| b.records.iter_mut())
            .filter(|r| !r.sent)
            .map(|r| &mut r.stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn null_key(bytes: usize) -> Payload {
        Payload::new(None, Some(&vec![b'x'; bytes]))
    }

    fn record(seq: u32, tp: Tp) -> Record {
        Record {
            seq,
            tp,
            payload: null_key(1),
            stamp: Stamp { seq: -1, epoch: 0 },
            first_sent: Time::ZERO,
            sent: false,
        }
    }

    const T0: Tp = Tp {
        topic: 0,
        partition: 0,
    };
    const T1: Tp = Tp {
        topic: 0,
        partition: 1,
    };

    #[test]
    fn explicit_partitions_win_and_keys_hash() {
        let mut r = rng();
        let mut p = Partitioner::new(KeyHash::Murmur2, NullKeyStrategy::RandomPerRecord);
        let keyed = Payload::new(Some(b"key-1"), Some(b"v"));
        assert_eq!(p.partition(&mut r, Time::ZERO, 0, 6, &keyed, Some(5)), 5);
        let want = KeyHash::Murmur2.partition(b"key-1", 6);
        for _ in 0..5 {
            assert_eq!(p.partition(&mut r, Time::ZERO, 0, 6, &keyed, None), want);
        }
        // neither drew from the stream
        assert_eq!(
            rand::Rng::random::<u64>(&mut r),
            rand::Rng::random::<u64>(&mut rng())
        );
    }

    #[test]
    fn uniform_sticky_switches_partition_after_a_batch() {
        let mut r = rng();
        // each record is 21 + 10 bytes: a batch of 100 bytes takes 4 records (the 4th
        // passes it), the 5th starts a new batch
        let mut p = Partitioner::new(
            KeyHash::Murmur2,
            NullKeyStrategy::UniformSticky { batch_size: 100 },
        );
        let mut draws = rng();
        let rec = null_key(10);
        let parts: Vec<u32> = (0..9)
            .map(|_| p.partition(&mut r, Time::ZERO, 0, 1000, &rec, None))
            .collect();
        let first: u32 = draws.random_range(0..1000);
        let second: u32 = draws.random_range(0..1000);
        let third: u32 = draws.random_range(0..1000);
        assert_ne!(first, second);
        assert_eq!(
            parts,
            [first, first, first, first, second, second, second, second, third]
        );
    }

    #[test]
    fn sticky_linger_switches_partition_after_the_linger() {
        let mut r = rng();
        let mut p = Partitioner::new(
            KeyHash::Consistent,
            NullKeyStrategy::StickyLinger { linger_ms: 10 },
        );
        let rec = null_key(10);
        let at = |ms| Time::ms(ms);
        let a = p.partition(&mut r, at(0), 0, 1000, &rec, None);
        assert_eq!(p.partition(&mut r, at(9), 0, 1000, &rec, None), a);
        let b = p.partition(&mut r, at(10), 0, 1000, &rec, None);
        assert_ne!(a, b);
        assert_eq!(p.partition(&mut r, at(19), 0, 1000, &rec, None), b);
    }

    #[test]
    fn each_topic_sticks_to_its_own_partition() {
        let mut r = rng();
        let mut p = Partitioner::new(
            KeyHash::Consistent,
            NullKeyStrategy::StickyLinger { linger_ms: 10 },
        );
        let rec = null_key(1);
        let a = p.partition(&mut r, Time::ZERO, 0, 1000, &rec, None);
        let b = p.partition(&mut r, Time::ZERO, 1, 1000, &rec, None);
        assert_eq!(p.partition(&mut r, Time::ZERO, 0, 1000, &rec, None), a);
        assert_eq!(p.partition(&mut r, Time::ZERO, 1, 1000, &rec, None), b);
    }

    fn batching(linger_ms: u64, batch_size: usize, max_records: u32) -> Batching {
        Batching {
            linger: Time::ms(linger_ms),
            batch_size,
            max_records,
        }
    }

    fn acc(b: Batching) -> Accumulator {
        Accumulator::new(
            Partitioner::new(KeyHash::Murmur2, NullKeyStrategy::RandomPerRecord),
            b,
        )
    }

    /// Each partition's batches as their records' send numbers.
    fn batches(acc: &Accumulator, tp: Tp) -> Vec<Vec<u32>> {
        acc.queues[&tp]
            .iter()
            .map(|b| b.records.iter().map(|r| r.seq).collect())
            .collect()
    }

    #[test]
    fn batch_size_and_batch_num_messages_cut_batches() {
        // a record of one byte is 22 bytes in a batch, the header 61
        let mut a = acc(batching(0, 61 + 3 * 22, u32::MAX));
        for seq in 0..7 {
            a.append(Time::ZERO, record(seq, T0));
        }
        assert_eq!(batches(&a, T0), [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        let mut a = acc(batching(0, 1 << 20, 2));
        for seq in 0..5 {
            a.append(Time::ZERO, record(seq, T0));
        }
        assert_eq!(batches(&a, T0), [vec![0, 1], vec![2, 3], vec![4]]);
        // the first record always fits, however large
        let mut a = acc(batching(0, 10, u32::MAX));
        a.append(Time::ZERO, record(0, T0));
        a.append(Time::ZERO, record(1, T0));
        assert_eq!(batches(&a, T0), [vec![0], vec![1]]);
    }

    #[test]
    fn a_batch_is_ready_after_linger_or_when_full_or_flushing() {
        let mut a = acc(batching(5, 61 + 2 * 22, u32::MAX));
        a.append(Time::ms(1), record(0, T0));
        a.append(Time::ms(2), record(1, T1));
        let ready = |a: &Accumulator, ms| a.ready(Time::ms(ms)).collect::<Vec<_>>();
        assert!(ready(&a, 5).is_empty());
        assert_eq!(a.next_ready_after(Time::ms(1)), Some(Time::ms(6)));
        assert_eq!(ready(&a, 6), [T0]);
        assert_eq!(ready(&a, 7), [T0, T1]);
        // full: ready at once
        a.append(Time::ms(3), record(2, T1));
        assert_eq!(ready(&a, 3), [T1]);
        a.set_flushing(true);
        assert_eq!(ready(&a, 3), [T0, T1]);
        a.set_flushing(false);
        // a muted partition is never ready
        a.mute(T1, true);
        assert_eq!(ready(&a, 100), [T0]);
        // drained, a batch takes no more records
        let b = a.drain(T0).expect("a batch");
        assert!(b.closed);
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.next_ready_after(Time::ms(3)),
            None,
            "only the muted partition waits"
        );
    }

    #[test]
    fn a_retried_batch_goes_back_ahead_of_younger_ones_whole() {
        let mut a = acc(batching(0, 1 << 20, u32::MAX));
        for seq in 0..2 {
            a.append(Time::ZERO, record(seq, T1));
        }
        let sent = a.drain(T1).expect("a batch");
        a.append(Time::ms(1), record(2, T1));
        a.append(Time::ms(1), record(3, T0));
        a.reenqueue(sent);
        assert_eq!(batches(&a, T1), [vec![0, 1], vec![2]]);
        assert_eq!(a.len(), 4);
        // the retried batch is closed: a new record joins the younger batch
        a.append(Time::ms(2), record(4, T1));
        assert_eq!(batches(&a, T1), [vec![0, 1], vec![2, 4]]);
        // only the never-sent records of a partition are renumbered
        for b in a.queues.get_mut(&T1).unwrap().iter_mut().take(1) {
            for rec in &mut b.records {
                rec.sent = true;
            }
        }
        assert_eq!(a.unsent_stamps(T1).count(), 2);
        let all: Vec<u32> = a.take_all().iter().map(|b| b.first_seq()).collect();
        assert_eq!(all, [0, 2, 3]);
        assert!(a.is_empty());
    }
}
