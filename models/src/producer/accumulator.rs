//! The record accumulator: which partition a record goes to, and what waits to be sent.
//!
//! Reproduces the producer's `RecordAccumulator` with `linger.ms=0` (each record is its own
//! batch) and its partitioner (Java's `BuiltInPartitioner`, kafka-python's
//! `DefaultPartitioner`, librdkafka's `rd_kafka_msg_partitioner`):
//! * an explicit partition always wins; a key goes through the profile's keyed hash
//!   ([`crate::partitioner::KeyHash`]);
//! * a null key follows the profile's [`NullKeyStrategy`]: a random partition per record
//!   (kafka-python, librdkafka `random`), Java ≥ 3.3's uniform sticky partitioner (KIP-794:
//!   one partition per topic until `batch.size` bytes went to it), or librdkafka's sticky
//!   partitioning (one partition per topic for `sticky.partitioning.linger.ms`). Random
//!   choices come from the producer's seeded stream, drawn when the record is partitioned;
//! * records wait in one queue per partition, in the order they were sent; a record whose
//!   retry backoff is over goes back to its place in its queue (by send number), as the
//!   Java accumulator re-enqueues a retried batch ahead of younger ones.

use super::idempotence::Stamp;
use crate::config::NullKeyStrategy;
use crate::partitioner::KeyHash;
use crate::types::{Payload, Tp};
use rand::Rng;
use sim::Time;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    /// Retries so far.
    pub retries: u32,
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

/// What waits to be sent, per partition, and the partitioner that put it there.
#[derive(Clone, Debug)]
pub struct Accumulator {
    partitioner: Partitioner,
    /// Waiting records per partition, by send number (emptied queues are kept for reuse).
    queues: BTreeMap<Tp, VecDeque<Record>>,
    waiting: usize,
    /// Every waiting record as (send number, partition): the order the sender takes them in.
    order: BTreeSet<(u32, Tp)>,
}

impl Accumulator {
    /// An empty accumulator partitioning with `partitioner`.
    pub fn new(partitioner: Partitioner) -> Accumulator {
        Accumulator {
            partitioner,
            queues: BTreeMap::new(),
            waiting: 0,
            order: BTreeSet::new(),
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

    /// Adds a record at the end of its partition's queue (or, if younger records wait there
    /// — a retried record coming back — at its place by send number).
    pub fn append(&mut self, record: Record) {
        let queue = self.queues.entry(record.tp).or_default();
        let at = match queue.back() {
            Some(last) if last.seq > record.seq => queue.partition_point(|r| r.seq < record.seq),
            _ => queue.len(),
        };
        self.order.insert((record.seq, record.tp));
        queue.insert(at, record);
        self.waiting += 1;
    }

    /// Every waiting record as (send number, partition), oldest first across partitions,
    /// into `out` (cleared first).
    pub fn waiting(&self, out: &mut Vec<(u32, Tp)>) {
        out.clear();
        out.extend(self.oldest());
    }

    /// Every waiting record as (send number, partition), oldest first across partitions.
    pub fn oldest(&self) -> impl Iterator<Item = (u32, Tp)> + '_ {
        self.order.iter().copied()
    }

    /// The partitions that have records waiting.
    pub fn waiting_partitions(&self) -> impl Iterator<Item = Tp> + '_ {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(tp, _)| *tp)
    }

    /// Takes waiting record `seq` of `tp` out, to be sent.
    pub fn take(&mut self, tp: Tp, seq: u32) -> Option<Record> {
        let queue = self.queues.get_mut(&tp)?;
        let at = queue.iter().position(|r| r.seq == seq)?;
        self.waiting -= 1;
        self.order.remove(&(seq, tp));
        queue.remove(at)
    }

    /// The numbers of `tp`'s waiting records that were never sent, oldest first (what a
    /// KIP-360 epoch bump numbers again).
    pub fn unsent_stamps(&mut self, tp: Tp) -> impl Iterator<Item = &mut Stamp> {
        self.queues
            .get_mut(&tp)
            .into_iter()
            .flat_map(|q| q.iter_mut())
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
            retries: 0,
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
        let mut p = Partitioner::new(KeyHash::Murmur2, NullKeyStrategy::RandomPerRecord);
        let keyed = Payload::new(Some(b"key-1"), Some(b"v"));
        let mut r = rng();
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
        // each record is 21 + 10 bytes: a batch of 100 bytes takes 4 records (the 4th
        // passes it), the 5th starts a new batch
        let mut p = Partitioner::new(
            KeyHash::Murmur2,
            NullKeyStrategy::UniformSticky { batch_size: 100 },
        );
        let mut r = rng();
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
        let mut p = Partitioner::new(
            KeyHash::Consistent,
            NullKeyStrategy::StickyLinger { linger_ms: 10 },
        );
        let mut r = rng();
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
        let mut p = Partitioner::new(
            KeyHash::Consistent,
            NullKeyStrategy::StickyLinger { linger_ms: 10 },
        );
        let mut r = rng();
        let rec = null_key(1);
        let a = p.partition(&mut r, Time::ZERO, 0, 1000, &rec, None);
        let b = p.partition(&mut r, Time::ZERO, 1, 1000, &rec, None);
        assert_eq!(p.partition(&mut r, Time::ZERO, 0, 1000, &rec, None), a);
        assert_eq!(p.partition(&mut r, Time::ZERO, 1, 1000, &rec, None), b);
    }

    #[test]
    fn records_wait_in_send_order_per_partition_and_across() {
        let mut acc = Accumulator::new(Partitioner::new(
            KeyHash::Murmur2,
            NullKeyStrategy::RandomPerRecord,
        ));
        for (seq, tp) in [(0, T1), (1, T0), (3, T1), (4, T0)] {
            acc.append(record(seq, tp));
        }
        // a retried record comes back to its place
        acc.append(Record {
            sent: true,
            ..record(2, T1)
        });
        let mut out = Vec::new();
        acc.waiting(&mut out);
        assert_eq!(out, [(0, T1), (1, T0), (2, T1), (3, T1), (4, T0)]);
        let t1: Vec<u32> = acc.queues[&T1].iter().map(|r| r.seq).collect();
        assert_eq!(t1, [0, 2, 3]);
        assert_eq!(acc.take(T1, 0).map(|r| r.seq), Some(0));
        assert_eq!(acc.take(T1, 0).map(|r| r.seq), None);
        assert_eq!(acc.len(), 4);
        // only the never-sent records of a partition are renumbered
        let unsent: Vec<()> = acc.unsent_stamps(T1).map(|_| ()).collect();
        assert_eq!(unsent.len(), 1);
    }
}
