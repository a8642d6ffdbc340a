//! The fetch purgatory: fetches that found nothing to read wait here.
//!
//! Kafka's `DelayedFetch` in the fetch purgatory: a consumer fetch with `fetch.min.bytes=1`
//! that finds nothing below the high watermark waits up to `fetch.max.wait.ms`; a follower's
//! fetch that finds nothing new waits up to `replica.fetch.wait.max.ms`. An append (or a
//! high watermark that moved) answers them early; at their deadline they are answered with
//! what there is. Like Kafka's purgatory, a fetch answered early is forgotten: one timer for
//! the earliest deadline, not a timer per parked fetch. The timer is the broker's named
//! timer [`TIMER`]: arming it for a sooner deadline replaces the pending one, which would
//! have fired for nothing.

use super::effects::Effects;
use super::replica_manager::ReplicaManager;
use crate::protocol::{FetchedRecords, IsolationLevel, Msg, ReplicaData};
use crate::types::{Tp, VecMap};
use sim::{ActorId, Time};
use std::sync::Arc;

/// The name of the purgatory's timer among the broker's timers ([`sim::Ctx::named_timer`]).
pub const TIMER: u64 = 1;

/// A consumer fetch that waits.
pub struct ParkedFetch {
    /// When it is answered empty.
    pub deadline: Time,
    /// The consumer.
    pub client: ActorId,
    /// Its fetch id.
    pub fetch_id: u64,
    /// Its positions.
    pub positions: Arc<[(Tp, i64)]>,
    /// How many records it takes at most, and how it reads.
    pub read: Read,
}

/// How a consumer fetch reads: `max.poll.records`-style cap and `isolation.level`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// How many records it takes at most.
    pub max_records: usize,
    /// `read_uncommitted` (below the high watermark) or `read_committed` (below the last
    /// stable offset, without markers and aborted records).
    pub isolation: IsolationLevel,
}

/// A parked replica fetch.
struct ParkedReplica {
    deadline: Time,
    follower: ActorId,
    fetch_id: u64,
    parts: Vec<(Tp, i64, i32)>,
}

/// The parked fetches of one broker.
#[derive(Default)]
pub struct Purgatory {
    parked: VecMap<u64, ParkedFetch>,
    /// The parked consumer fetches that include each partition (indexed by topic, then
    /// partition), in the order they were parked: an append wakes only those.
    parked_by_tp: Vec<Vec<Vec<u64>>>,
    /// A reused buffer of parked fetch ids.
    scratch: Vec<u64>,
    parked_replica: VecMap<u64, ParkedReplica>,
    next_parked: u64,
    /// The one timer: when it fires, and its token.
    timer: Option<(Time, u64)>,
    next_token: u64,
}

/// Whether a replica fetch answer carries something (entries, a divergence, a lost lead).
pub fn has_data(answer: &[(Tp, ReplicaData)]) -> bool {
    answer.iter().any(|(_, d)| match d {
        ReplicaData::Entries { entries, .. } => !entries.is_empty(),
        _ => true,
    })
}

impl Purgatory {
    /// Parks a consumer fetch until its deadline.
    pub fn park_fetch(&mut self, now: Time, fetch: ParkedFetch, fx: &mut Effects) {
        let id = self.next_parked;
        self.next_parked += 1;
        for &(tp, _) in fetch.positions.iter() {
            let (t, p) = (tp.topic as usize, tp.partition as usize);
            if self.parked_by_tp.len() <= t {
                self.parked_by_tp.resize_with(t + 1, Vec::new);
            }
            let topic = &mut self.parked_by_tp[t];
            if topic.len() <= p {
                topic.resize_with(p + 1, Vec::new);
            }
            topic[p].push(id);
        }
        let deadline = fetch.deadline;
        self.parked.insert(id, fetch);
        self.arm(now, deadline, fx);
    }

    /// Parks replica fetch `fetch_id` of `follower` until `deadline`.
    pub fn park_replica(
        &mut self,
        now: Time,
        deadline: Time,
        follower: ActorId,
        fetch_id: u64,
        parts: Vec<(Tp, i64, i32)>,
        fx: &mut Effects,
    ) {
        let id = self.next_parked;
        self.next_parked += 1;
        let fetch = ParkedReplica {
            deadline,
            follower,
            fetch_id,
            parts,
        };
        self.parked_replica.insert(id, fetch);
        self.arm(now, deadline, fx);
    }

    /// How many fetches are parked (consumers', followers').
    pub fn len(&self) -> (usize, usize) {
        (self.parked.len(), self.parked_replica.len())
    }

    /// Forgets every parked fetch (a crash).
    pub fn clear(&mut self) {
        self.parked.clear();
        self.parked_by_tp.clear();
        self.parked_replica.clear();
        self.timer = None;
    }

    /// Makes sure the timer fires by `deadline`.
    fn arm(&mut self, now: Time, deadline: Time, fx: &mut Effects) {
        if self.timer.is_none_or(|(at, _)| deadline < at) {
            let token = self.next_token;
            self.next_token += 1;
            self.timer = Some((deadline, token));
            fx.named_timer(TIMER, deadline - now, Msg::FetchExpired { token });
        }
    }

    fn unpark(&mut self, id: u64) -> ParkedFetch {
        let p = self.parked.remove(&id).expect("parked");
        for &(tp, _) in p.positions.iter() {
            let ids = &mut self.parked_by_tp[tp.topic as usize][tp.partition as usize];
            if let Some(at) = ids.iter().position(|&i| i == id) {
                ids.remove(at);
            }
        }
        p
    }

    /// The timer with `token` fired: answers every parked fetch whose wait ran out
    /// (consumers: empty; followers: what there is), in the order they were parked, and
    /// arms the timer for the next deadline. A stale token does nothing.
    pub fn expire(&mut self, token: u64, now: Time, rm: &mut ReplicaManager, fx: &mut Effects) {
        if self.timer.is_none_or(|(_, t)| t != token) {
            return;
        }
        self.timer = None;
        // the earliest-parked due fetch first, one at a time (a handful are parked at most)
        loop {
            let client = self
                .parked
                .iter()
                .find(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id);
            let replica = self
                .parked_replica
                .iter()
                .find(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id);
            match (client, replica) {
                (Some(c), r) if r.is_none_or(|r| c < r) => {
                    let p = self.unpark(c);
                    let records = FetchedRecords::new();
                    let (fetch_id, errors) = (p.fetch_id, Vec::new());
                    fx.send(
                        p.client,
                        Msg::FetchResp {
                            fetch_id,
                            records,
                            errors,
                            next: Vec::new(),
                        },
                    );
                }
                (_, Some(r)) => {
                    let p = self.parked_replica.remove(&r).expect("parked");
                    let (parts, _) = rm.serve_replica_fetch(p.follower, &p.parts, now, false);
                    let fetch_id = p.fetch_id;
                    fx.send(p.follower, Msg::ReplicaFetchResp { fetch_id, parts });
                }
                _ => break,
            }
        }
        let next = self
            .parked
            .values()
            .map(|p| p.deadline)
            .chain(self.parked_replica.values().map(|p| p.deadline))
            .min();
        if let Some(deadline) = next {
            self.arm(now, deadline, fx);
        }
    }

    /// The high watermark of `tp` advanced: answers the consumer fetches parked on it that
    /// can now read something, in the order they were parked.
    pub fn wake_fetches(&mut self, tp: Tp, rm: &ReplicaManager, fx: &mut Effects) {
        let Some(hw) = rm.part(tp).map(|p| p.hw) else {
            return;
        };
        let Some(ids) = self
            .parked_by_tp
            .get(tp.topic as usize)
            .and_then(|t| t.get(tp.partition as usize))
        else {
            return;
        };
        let mut ready = std::mem::take(&mut self.scratch);
        ready.extend(ids.iter().copied().filter(|id| {
            let p = self.parked.get(id).expect("parked");
            p.positions.iter().any(|&(t, pos)| t == tp && pos < hw)
        }));
        for &id in &ready {
            let p = self.unpark(id);
            let (records, errors, next) = rm.collect_read(&p.positions, p.read);
            let fetch_id = p.fetch_id;
            fx.send(
                p.client,
                Msg::FetchResp {
                    fetch_id,
                    records,
                    errors,
                    next,
                },
            );
        }
        ready.clear();
        self.scratch = ready;
    }

    /// Something was appended: answers the parked replica fetches that now get data.
    pub fn wake_replicas(&mut self, now: Time, rm: &mut ReplicaManager, fx: &mut Effects) {
        if self.parked_replica.is_empty() {
            return;
        }
        let ids: Vec<u64> = self.parked_replica.keys().copied().collect();
        for id in ids {
            let p = self.parked_replica.remove(&id).expect("parked");
            let (parts, _) = rm.serve_replica_fetch(p.follower, &p.parts, now, false);
            if has_data(&parts) {
                let fetch_id = p.fetch_id;
                fx.send(p.follower, Msg::ReplicaFetchResp { fetch_id, parts });
            } else {
                self.parked_replica.insert(id, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testkit::{self, broker, follower_fetch, produce, CLIENT, TP};
    use crate::protocol::Acks;

    fn park(p: &mut Purgatory, now: Time, wait: Time, fetch_id: u64, pos: i64, fx: &mut Effects) {
        let fetch = ParkedFetch {
            deadline: now + wait,
            client: CLIENT,
            fetch_id,
            positions: Arc::from(vec![(TP, pos)]),
            read: Read {
                max_records: 10,
                isolation: IsolationLevel::ReadUncommitted,
            },
        };
        p.park_fetch(now, fetch, fx);
    }

    fn fetch_answers(fx: &Effects) -> Vec<(u64, usize)> {
        fx.sent()
            .into_iter()
            .filter_map(|(_, m)| match m {
                Msg::FetchResp {
                    fetch_id, records, ..
                } => Some((*fetch_id, records.len())),
                _ => None,
            })
            .collect()
    }

    fn token(fx: &Effects) -> u64 {
        match fx.timers().last() {
            Some((_, Msg::FetchExpired { token })) => *token,
            other => panic!("no purgatory timer: {other:?}"),
        }
    }

    #[test]
    fn a_parked_fetch_expires_empty_at_its_deadline() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        park(&mut p, Time::ZERO, Time::ms(500), 1, 0, &mut fx);
        assert_eq!(fx.timers().len(), 1);
        assert_eq!(fx.timers()[0].0, Time::ms(500));
        let t = token(&fx);
        p.expire(t, Time::ms(500), &mut rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(1, 0)]);
        assert_eq!(p.len(), (0, 0));
    }

    #[test]
    fn a_parked_fetch_is_woken_by_an_append_and_its_timer_then_does_nothing() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        park(&mut p, Time::ZERO, Time::ms(500), 1, 0, &mut fx);
        let t = token(&fx);
        produce(&mut rm, Acks::Leader, 1, 0, Time::ms(10), &mut fx);
        p.wake_fetches(TP, &rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(1, 1)], "answered with the new record");
        p.expire(t, Time::ms(500), &mut rm, &mut fx);
        assert_eq!(fetch_answers(&fx).len(), 1, "not answered twice");
    }

    #[test]
    fn one_timer_for_the_earliest_deadline_and_a_stale_token_is_ignored() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        park(&mut p, Time::ZERO, Time::ms(500), 1, 0, &mut fx);
        let first = token(&fx);
        park(&mut p, Time::ZERO, Time::ms(800), 2, 0, &mut fx);
        assert_eq!(fx.timers().len(), 1, "a later deadline needs no timer");
        park(&mut p, Time::ZERO, Time::ms(100), 3, 0, &mut fx);
        let earliest = token(&fx);
        assert_eq!(fx.timers().len(), 2);
        // both under the purgatory's name: the engine replaces the 500 ms timer by the
        // 100 ms one, so the superseded timer costs no event
        let named = fx
            .as_slice()
            .iter()
            .filter(|e| matches!(e, crate::broker::effects::Effect::NamedTimer(TIMER, _, _)))
            .count();
        assert_eq!(named, 2);
        p.expire(first, Time::ms(500), &mut rm, &mut fx);
        assert!(fetch_answers(&fx).is_empty(), "superseded timer");
        p.expire(earliest, Time::ms(100), &mut rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(3, 0)]);
        let (delay, _) = *fx.timers().last().unwrap();
        assert_eq!(delay, Time::ms(400), "re-armed for fetch 1");
    }

    #[test]
    fn a_parked_replica_fetch_is_answered_when_the_leader_appends() {
        let mut rm = testkit::replicas(2, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        follower_fetch(&mut rm, 2, 0, Time::ZERO, &mut fx);
        p.park_replica(
            Time::ZERO,
            Time::ms(500),
            broker(2),
            4,
            vec![(TP, 0, -1)],
            &mut fx,
        );
        p.wake_replicas(Time::ZERO, &mut rm, &mut fx);
        assert_eq!(p.len(), (0, 1), "nothing new: still parked");
        produce(&mut rm, Acks::Leader, 1, 0, Time::ms(1), &mut fx);
        p.wake_replicas(Time::ms(1), &mut rm, &mut fx);
        assert_eq!(p.len(), (0, 0));
        let answered = fx.sent().into_iter().any(|(to, m)| {
            to == broker(2) && matches!(m, Msg::ReplicaFetchResp { fetch_id: 4, parts } if has_data(parts))
        });
        assert!(answered);
    }
}
