//! The consumer's fetcher: Java's `Fetcher` / `SubscriptionState`, kafka-python's `Fetcher`,
//! librdkafka's per-partition fetch state.
//!
//! * the position of every assigned partition — from the committed offset (OffsetFetch) or,
//!   without one, `auto.offset.reset` (ListOffsets, to the partition's leader);
//! * one Fetch in flight per leader, for the partitions it leads (long-polled by the broker
//!   for `fetch.max.wait.ms`, at most `max.poll.records` records);
//! * the buffer of fetched records the application has not processed yet — a record is
//!   buffered only if it is at the partition's position, which then moves past it;
//! * `OFFSET_OUT_OF_RANGE` (the log no longer has the position: retention, a truncation):
//!   the position is reset by `auto.offset.reset`;
//! * `seek()`, `pause()` and `resume()` of the application.
//!
//! * the order of the partitions in a Fetch: by partition (Java, librdkafka), or — kafka-python
//!   3.0.x, `SubscriptionState.assign_from_subscribed` — the order in which they joined the
//!   assignment, newly assigned partitions shuffled (from a seeded stream of the consumer's
//!   own), since its `Fetcher` iterates the assignment in insertion order and the broker
//!   answers in request order.
//!
//! Which Fetch is in flight is the network client's (`client.rs`) to know; the fetcher
//! decides what to fetch from whom.

use crate::cluster::ClusterState;
use crate::protocol::{ErrorCode, FetchedRecords};
use crate::types::{LogRecord, Tp, VecMap};
use rand::seq::SliceRandom;
use sim::rng::SimRng;
use sim::ActorId;
use smallvec::SmallVec;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// A record `poll()` returned to the application.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumedRecord {
    /// Its partition.
    pub tp: Tp,
    /// Its offset.
    pub offset: i64,
    /// Its identity, key and value.
    pub record: LogRecord,
    /// The generation (member epoch) it was fetched under.
    pub generation: i32,
}

/// A Fetch to send: the leader, and the positions of the partitions it leads.
pub type FetchTo = (ActorId, Arc<[(Tp, i64)]>);

/// The Fetches to send at once (rarely more than two leaders without one in flight).
pub type FetchPlan = SmallVec<[FetchTo; 2]>;

/// What the positions still missing need next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Nothing: every assigned partition has a position.
    Done,
    /// `auto.offset.reset` for these (out of range, or no committed offset).
    Reset(Vec<Tp>),
    /// The committed offsets of these (OffsetFetch to the coordinator).
    Committed(Vec<Tp>),
}

/// What a Fetch answer asks of the consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// A partition was out of range: look positions up (`auto.offset.reset`).
    pub reset: bool,
    /// A partition had another error (not its leader any more): look the cluster up again.
    pub rediscover: bool,
}

/// The fetch state of one consumer process.
#[derive(Default)]
pub struct Fetcher {
    /// Next offset to fetch, per assigned partition with a position.
    pub positions: VecMap<Tp, i64>,
    /// Partitions whose position must be reset by `auto.offset.reset` (out of range).
    to_reset: BTreeSet<Tp>,
    /// The positions of the last Fetch sent on a one-broker cluster (shared with the request
    /// while the broker holds it).
    last_positions: Option<Arc<[(Tp, i64)]>>,
    /// Fetched records not processed yet; the front one is in the application's hands.
    pub buffer: VecDeque<ConsumedRecord>,
    /// Partitions the application paused: not fetched.
    paused: BTreeSet<Tp>,
    /// kafka-python's fetch order (the assignment's insertion order) and the stream that
    /// shuffles newly assigned partitions; `None`: by partition.
    order: Option<(Vec<Tp>, SimRng)>,
    /// A reused buffer for the positions of a Fetch in fetch order.
    ordered: Vec<(Tp, i64)>,
}

impl Fetcher {
    /// A fetcher that fetches in assignment order, newly assigned partitions shuffled by `rng`
    /// (kafka-python).
    pub fn in_assignment_order(rng: SimRng) -> Fetcher {
        Fetcher {
            order: Some((Vec::new(), rng)),
            ..Fetcher::default()
        }
    }

    /// Partitions newly assigned (kafka-python's `assign_from_subscribed`): those not yet in
    /// the fetch order join its end, shuffled. A no-op for a fetcher in partition order.
    pub fn assigned(&mut self, partitions: &[Tp]) {
        if let Some((order, rng)) = &mut self.order {
            let mut fresh: Vec<Tp> = partitions
                .iter()
                .filter(|tp| !order.contains(tp))
                .copied()
                .collect();
            fresh.shuffle(rng);
            order.extend(fresh);
        }
    }

    /// What the partitions of `owned` without a position need next.
    pub fn lookup(&mut self, owned: &BTreeSet<Tp>) -> Lookup {
        let positions = &self.positions;
        self.to_reset
            .retain(|tp| owned.contains(tp) && !positions.contains_key(tp));
        if !self.to_reset.is_empty() {
            return Lookup::Reset(self.to_reset.iter().copied().collect());
        }
        let missing: Vec<Tp> = owned
            .iter()
            .filter(|tp| !self.positions.contains_key(tp))
            .copied()
            .collect();
        if missing.is_empty() {
            Lookup::Done
        } else {
            Lookup::Committed(missing)
        }
    }

    /// The ListOffsets to send for `missing`: to the leader of the first that has one, for
    /// the partitions it leads (the others come in the next round). `None` if no partition
    /// has a leader.
    pub fn list_offsets_target(cluster: &ClusterState, missing: Vec<Tp>) -> Option<(ActorId, Vec<Tp>)> {
        let leader = missing.iter().find_map(|tp| cluster.leader_actor(*tp))?;
        let partitions = missing
            .into_iter()
            .filter(|tp| cluster.leader_actor(*tp) == Some(leader))
            .collect();
        Some((leader, partitions))
    }

    /// Whether `tp`'s reset was for an out-of-range position (it is then no longer pending).
    pub fn take_reset(&mut self, tp: Tp) -> bool {
        self.to_reset.remove(&tp)
    }

    /// Sets `tp`'s position to `offset` if it is owned and has none: whether it did.
    pub fn set_position(&mut self, owned: &BTreeSet<Tp>, tp: Tp, offset: i64) -> bool {
        if owned.contains(&tp) && !self.positions.contains_key(&tp) {
            self.positions.insert(tp, offset);
            return true;
        }
        false
    }

    /// `seek()`: the next fetch of `tp` starts at `offset`; records of `tp` buffered but not
    /// yet handed to the application are dropped.
    pub fn seek(&mut self, tp: Tp, offset: i64) {
        if let Some(p) = self.positions.get_mut(&tp) {
            *p = offset;
        } else {
            self.positions.insert(tp, offset);
        }
        let mut first = true;
        self.buffer.retain(|r| std::mem::take(&mut first) || r.tp != tp);
    }

    /// `pause()` / `resume()`: whether `tps` are fetched.
    pub fn set_paused(&mut self, tps: &[Tp], paused: bool) {
        for tp in tps {
            if paused {
                self.paused.insert(*tp);
            } else {
                self.paused.remove(tp);
            }
        }
    }

    /// Forgets the positions of partitions given up (and their place in the fetch order).
    pub fn drop_partitions(&mut self, tps: &[Tp]) {
        for tp in tps {
            self.positions.remove(tp);
        }
        if let Some((order, _)) = &mut self.order {
            order.retain(|tp| !tps.contains(tp));
        }
    }

    /// Whether the next Fetch would ask for exactly `positions` (in that order).
    pub fn would_fetch(&self, positions: &[(Tp, i64)]) -> bool {
        self.fetched_iter().eq(positions.iter().copied())
    }

    /// Writes `fresh` into the position list of the last Fetch (in place when the broker
    /// has let go of it and the length is the same) and returns it: no allocation per Fetch.
    fn reuse_last(&mut self, fresh: &[(Tp, i64)]) -> Arc<[(Tp, i64)]> {
        match &mut self.last_positions {
            Some(last) if last.len() == fresh.len() => match Arc::get_mut(last) {
                Some(slots) => slots.copy_from_slice(fresh),
                None => *last = fresh.into(),
            },
            _ => self.last_positions = Some(fresh.into()),
        }
        self.last_positions.clone().expect("just set")
    }

    /// The positions to fetch, in fetch order, paused partitions left out.
    fn fetched_iter(&self) -> impl Iterator<Item = (Tp, i64)> + '_ {
        let order = self.order.as_ref().map(|(o, _)| o.as_slice());
        let by_order = order
            .unwrap_or(&[])
            .iter()
            .filter_map(|tp| self.positions.get(tp).map(|o| (*tp, *o)));
        let by_partition = self
            .positions
            .iter()
            .take(if order.is_none() { usize::MAX } else { 0 })
            .map(|(t, o)| (*t, *o));
        by_order
            .chain(by_partition)
            .filter(|(tp, _)| !self.paused.contains(tp))
    }

    /// The Fetches to send now: one per leader with none in flight (`busy`), for the
    /// partitions it leads; and whether a partition has no leader (look the cluster up).
    pub fn plan(&mut self, cluster: &ClusterState, busy: impl Fn(ActorId) -> bool) -> (FetchPlan, bool) {
        if cluster.broker_count() == 1 {
            // one broker leads everything (the common case, without a look-up per partition)
            let b = cluster.brokers[0];
            if busy(b) {
                return (FetchPlan::new(), false);
            }
            let mut plan = FetchPlan::new();
            if !self.paused.is_empty() || self.order.is_some() {
                // in fetch order, through a buffer kept between Fetches
                let mut fresh = std::mem::take(&mut self.ordered);
                fresh.clear();
                fresh.extend(self.fetched_iter());
                if !fresh.is_empty() {
                    plan.push((b, self.reuse_last(&fresh)));
                }
                self.ordered = fresh;
                return (plan, false);
            }
            let fresh = std::mem::take(&mut self.positions);
            plan.push((b, self.reuse_last(fresh.as_slice())));
            self.positions = fresh;
            return (plan, false);
        }
        let mut by_leader: Vec<(ActorId, Vec<(Tp, i64)>)> = Vec::new();
        let mut leaderless = false;
        for (tp, o) in self.fetched_iter() {
            match cluster.leader_actor(tp) {
                Some(l) => match by_leader.iter_mut().find(|(b, _)| *b == l) {
                    Some((_, v)) => v.push((tp, o)),
                    None => by_leader.push((l, vec![(tp, o)])),
                },
                None => leaderless = true,
            }
        }
        by_leader.sort_by_key(|(b, _)| *b);
        let sends = by_leader
            .into_iter()
            .filter(|(leader, _)| !busy(*leader))
            .map(|(leader, positions)| (leader, positions.into()))
            .collect();
        (sends, leaderless)
    }

    /// A Fetch answer: out-of-range partitions lose their position (to be reset); records at
    /// a partition's position are buffered (if `accept`: the consumer may fetch now), tagged
    /// with `generation`.
    pub fn on_fetched(
        &mut self,
        records: FetchedRecords,
        errors: Vec<(Tp, ErrorCode)>,
        next: &[(Tp, i64, i64)],
        generation: i32,
        accept: bool,
    ) -> FetchOutcome {
        let mut out = FetchOutcome::default();
        for (tp, e) in errors {
            match e {
                ErrorCode::OffsetOutOfRange if self.positions.contains_key(&tp) => {
                    // the log is shorter than the position (a truncation): auto.offset.reset
                    self.positions.remove(&tp);
                    self.to_reset.insert(tp);
                    out.reset = true;
                }
                _ => out.rediscover = true,
            }
        }
        if accept {
            for (tp, offset, record) in records {
                let Some(pos) = self.positions.get_mut(&tp) else {
                    continue;
                };
                // read_committed: the offsets between are markers and aborted records the
                // broker left out of the fetch that covered them
                let stepped = |pos: i64| {
                    next.iter()
                        .any(|&(t, from, to)| t == tp && from <= pos && pos < offset && offset < to)
                };
                if *pos != offset && !stepped(*pos) {
                    continue;
                }
                *pos = offset + 1;
                self.buffer.push_back(ConsumedRecord {
                    tp,
                    offset,
                    record,
                    generation,
                });
            }
            // read_committed: the position moves over the markers and aborted records the
            // broker looked at and left out (Java's FetchCollector: nextFetchOffset), if it
            // is still inside what that fetch covered
            for &(tp, from, to) in next {
                if let Some(pos) = self.positions.get_mut(&tp) {
                    if from <= *pos && *pos < to {
                        *pos = to;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Payload, RecordId};

    fn tp(p: u32) -> Tp {
        Tp {
            topic: 0,
            partition: p,
        }
    }

    fn rec(seq: u32) -> LogRecord {
        LogRecord {
            id: RecordId { producer: 0, seq },
            payload: Payload::new(None, Some(b"v")),
        }
    }

    fn owned(ps: &[u32]) -> BTreeSet<Tp> {
        ps.iter().map(|p| tp(*p)).collect()
    }

    #[test]
    fn committed_offsets_first_then_the_reset_for_those_without() {
        let mut f = Fetcher::default();
        let own = owned(&[0, 1]);
        assert_eq!(f.lookup(&own), Lookup::Committed(vec![tp(0), tp(1)]));
        assert!(f.set_position(&own, tp(0), 5));
        assert!(!f.set_position(&own, tp(0), 7), "a position is set once");
        assert!(!f.set_position(&own, tp(2), 7), "not owned");
        assert_eq!(f.lookup(&own), Lookup::Committed(vec![tp(1)]));
    }

    #[test]
    fn an_out_of_range_fetch_resets_the_position() {
        let mut f = Fetcher::default();
        let own = owned(&[0, 1]);
        f.set_position(&own, tp(0), 10);
        f.set_position(&own, tp(1), 3);
        let records = FetchedRecords::from_vec(vec![(tp(1), 3, rec(1)), (tp(0), 10, rec(2))]);
        let out = f.on_fetched(records, vec![(tp(0), ErrorCode::OffsetOutOfRange)], &[], 4, true);
        assert_eq!(
            out,
            FetchOutcome {
                reset: true,
                rediscover: false
            }
        );
        assert_eq!(f.positions.get(&tp(0)), None, "reset pending");
        assert_eq!(f.positions.get(&tp(1)), Some(&4));
        assert_eq!(
            f.buffer.len(),
            1,
            "nothing buffered for the out-of-range partition"
        );
        assert_eq!(f.lookup(&own), Lookup::Reset(vec![tp(0)]));
        assert!(f.take_reset(tp(0)));
        assert!(f.set_position(&own, tp(0), 0));
        assert_eq!(f.lookup(&own), Lookup::Done);
    }

    #[test]
    fn records_off_the_position_are_not_buffered() {
        let mut f = Fetcher::default();
        let own = owned(&[0]);
        f.set_position(&own, tp(0), 2);
        f.on_fetched(
            FetchedRecords::from_vec(vec![(tp(0), 1, rec(1)), (tp(0), 2, rec(2))]),
            vec![],
            &[],
            1,
            true,
        );
        assert_eq!(f.buffer.len(), 1);
        assert_eq!(f.buffer[0].offset, 2);
        assert_eq!(f.buffer[0].generation, 1);
        f.on_fetched(
            FetchedRecords::from_vec(vec![(tp(0), 3, rec(3))]),
            vec![],
            &[],
            1,
            false,
        );
        assert_eq!(f.buffer.len(), 1, "not accepted while the consumer may not fetch");
    }

    #[test]
    fn read_committed_positions_step_over_markers_and_aborted_records() {
        let mut f = Fetcher::default();
        let own = owned(&[0]);
        f.set_position(&own, tp(0), 0);
        // offsets 0-1 aborted, 2 their marker: the first record handed over is at 3, and
        // the answer looked up to 6 (a marker at 5)
        f.on_fetched(
            FetchedRecords::from_vec(vec![(tp(0), 3, rec(3)), (tp(0), 4, rec(4))]),
            vec![],
            &[(tp(0), 0, 6)],
            1,
            true,
        );
        let offsets: Vec<i64> = f.buffer.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [3, 4]);
        assert_eq!(f.positions.get(&tp(0)), Some(&6));
        // an answer to a fetch from before a rewind moves nothing
        f.seek(tp(0), 1);
        f.on_fetched(FetchedRecords::new(), vec![], &[(tp(0), 4, 9)], 1, true);
        assert_eq!(f.positions.get(&tp(0)), Some(&1));
    }

    #[test]
    fn seek_moves_the_position_and_drops_buffered_records() {
        let mut f = Fetcher::default();
        let own = owned(&[0]);
        f.set_position(&own, tp(0), 0);
        f.on_fetched(
            (0..3).map(|o| (tp(0), o, rec(o as u32))).collect(),
            vec![],
            &[],
            1,
            true,
        );
        f.seek(tp(0), 0);
        assert_eq!(f.positions.get(&tp(0)), Some(&0));
        assert_eq!(f.buffer.len(), 1, "the record in hand stays");
    }

    #[test]
    fn one_fetch_per_leader_and_paused_partitions_are_not_fetched() {
        let cluster = ClusterState::initial(vec![ActorId(0)], &[(2, 1)], 1, 1);
        let mut f = Fetcher::default();
        let own = owned(&[0, 1]);
        f.set_position(&own, tp(0), 0);
        f.set_position(&own, tp(1), 0);
        let (sends, leaderless) = f.plan(&cluster, |_| false);
        assert!(!leaderless);
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].1.len(), 2);
        assert!(f.plan(&cluster, |_| true).0.is_empty(), "one in flight already");
        f.set_paused(&[tp(1)], true);
        let (sends, _) = f.plan(&cluster, |_| false);
        assert_eq!(&*sends[0].1, &[(tp(0), 0)]);
    }

    #[test]
    fn would_fetch_sees_a_seek_a_pause_and_a_new_order() {
        let cluster = ClusterState::initial(vec![ActorId(0)], &[(3, 1)], 1, 1);
        let mut f = Fetcher::in_assignment_order(sim::rng::stream(1, "c/assignment-order"));
        f.assigned(&[tp(0), tp(1), tp(2)]);
        let own = owned(&[0, 1, 2]);
        for p in 0..3 {
            f.set_position(&own, tp(p), 0);
        }
        let (sends, _) = f.plan(&cluster, |_| false);
        let sent = sends[0].1.clone();
        assert!(f.would_fetch(&sent));
        let mut reversed = sent.to_vec();
        reversed.reverse();
        assert!(!f.would_fetch(&reversed), "the order counts");
        f.seek(tp(1), 5);
        assert!(!f.would_fetch(&sent), "a seek");
        f.seek(tp(1), 0);
        assert!(f.would_fetch(&sent));
        f.set_paused(&[tp(2)], true);
        assert!(!f.would_fetch(&sent), "a pause");
    }

    #[test]
    fn an_ordered_fetch_reuses_its_position_list_once_the_broker_let_go() {
        let cluster = ClusterState::initial(vec![ActorId(0)], &[(4, 1)], 1, 1);
        let mut f = Fetcher::in_assignment_order(sim::rng::stream(2, "c/assignment-order"));
        f.assigned(&[tp(0), tp(1), tp(2), tp(3)]);
        let own = owned(&[0, 1, 2, 3]);
        for p in 0..4 {
            f.set_position(&own, tp(p), 0);
        }
        let (first, _) = f.plan(&cluster, |_| false);
        let addr = first[0].1.as_ptr();
        let held = first[0].1.clone();
        drop(first);
        let (second, _) = f.plan(&cluster, |_| false);
        assert_ne!(second[0].1.as_ptr(), addr, "still held by the broker: a new list");
        assert_eq!(second[0].1, held);
        drop(held);
        let addr = second[0].1.as_ptr();
        drop(second);
        f.seek(tp(2), 3);
        let (third, _) = f.plan(&cluster, |_| false);
        assert_eq!(third[0].1.as_ptr(), addr, "written over in place");
        assert!(third[0].1.contains(&(tp(2), 3)));
    }

    /// kafka-python: partitions are fetched in the order they joined the assignment, each
    /// new assignment shuffled; kept partitions keep their place, given-up ones leave it.
    #[test]
    fn kafka_python_fetches_in_shuffled_assignment_order() {
        let cluster = ClusterState::initial(vec![ActorId(0)], &[(6, 1)], 1, 1);
        let fetched = |f: &mut Fetcher| -> Vec<u32> {
            let (sends, _) = f.plan(&cluster, |_| false);
            sends[0].1.iter().map(|(tp, _)| tp.partition).collect()
        };
        let mut orders = BTreeSet::new();
        for seed in 0..40 {
            let mut f = Fetcher::in_assignment_order(sim::rng::stream(seed, "c/assignment-order"));
            let first: Vec<Tp> = (0..4).map(tp).collect();
            f.assigned(&first);
            let own = owned(&[0, 1, 2, 3, 4, 5]);
            for p in 0..6 {
                f.set_position(&own, tp(p), 0);
            }
            let order = fetched(&mut f);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                vec![0, 1, 2, 3],
                "a permutation of the positions assigned"
            );
            orders.insert(order.clone());
            // a second assignment keeps the first's order and appends the new ones
            f.assigned(&[tp(0), tp(1), tp(2), tp(3), tp(4), tp(5)]);
            let again = fetched(&mut f);
            assert_eq!(&again[..4], &order[..]);
            assert_eq!(again[4..].iter().copied().collect::<BTreeSet<_>>(), [4, 5].into());
            f.drop_partitions(&[tp(order[0])]);
            assert_eq!(fetched(&mut f), again[1..].to_vec());
        }
        assert!(orders.len() > 10, "the shuffle depends on the seed: {orders:?}");
        // Java and librdkafka: by partition
        let mut f = Fetcher::default();
        f.assigned(&[tp(3), tp(1)]);
        let own = owned(&[1, 3]);
        f.set_position(&own, tp(3), 0);
        f.set_position(&own, tp(1), 0);
        assert_eq!(fetched(&mut f), vec![1, 3]);
    }
}
