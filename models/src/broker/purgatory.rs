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
//!
//! A consumer fetch that carries a [`LongPoll`] stays parked across its expiries instead:
//! no timer, no empty answer, no next Fetch — the cycle is arithmetic. When its partition
//! gets data, the cycle's phase says what the cycle-by-cycle run does: the Fetch parked then
//! is answered at once; with the empty answer or the next Fetch on the wire, the next Fetch
//! is answered when it would have arrived. A chain its consumer ended is answered only
//! within its last Fetch's wait.

use super::effects::Effects;
use super::replica_manager::{CollectedRead, ReplicaManager};
use crate::protocol::long_poll::{LongPoll, Phase};
use crate::protocol::{FetchedRecords, IsolationLevel, Msg, ReplicaData};
use crate::types::{Tp, VecMap};
use sim::{ActorId, Time};
use std::sync::Arc;

/// The name of the purgatory's timer among the broker's timers ([`sim::Ctx::named_timer`]).
pub const TIMER: u64 = 1;

/// A consumer fetch that waits.
pub struct ParkedFetch {
    /// When it is answered empty (`Time::MAX` for a long-poll, which is never).
    pub deadline: Time,
    /// When it was parked.
    pub parked_at: Time,
    /// The consumer.
    pub client: ActorId,
    /// Its fetch id.
    pub fetch_id: u64,
    /// Its positions.
    pub positions: Arc<[(Tp, i64)]>,
    /// How many records it takes at most, and how it reads.
    pub read: Read,
    /// Its idle cycle, if it stays parked across its expiries.
    pub long_poll: Option<Arc<LongPoll>>,
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

impl ParkedFetch {
    /// Sends the consumer its answer: what was read (records, errors, next positions).
    fn answer(&self, (records, errors, next): CollectedRead, fx: &mut Effects) {
        let fetch_id = self.fetch_id;
        fx.send(
            self.client,
            Msg::FetchResp {
                fetch_id,
                records,
                errors,
                next,
            },
        );
    }

    /// When the cycle-by-cycle run parked the fetch parked now: its order among those an
    /// append answers.
    fn parked_since(&self, now: Time) -> Time {
        match self.long_poll.as_deref().map(|lp| lp.phase(now)) {
            Some(Phase::Parked(k)) => self.long_poll.as_ref().unwrap().arrival(k),
            _ => self.parked_at,
        }
    }
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
    /// Long-polls that got data while their next Fetch was on the wire: answered when it
    /// would have arrived, the index of that Fetch with them.
    due: Vec<(Time, u64, ParkedFetch)>,
    /// A reused buffer of fetches to answer, with their order.
    answer_now: Vec<(Time, u64, ParkedFetch)>,
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
        if fetch.long_poll.is_some() {
            self.forget_ended(fetch.client, now);
        }
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
        if deadline != Time::MAX {
            self.arm(now, deadline, fx);
        }
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
        self.due.clear();
        self.timer = None;
    }

    /// Forgets the long-polls of `client` whose chain ended and whose last wait is over
    /// (nothing can answer them any more).
    fn forget_ended(&mut self, client: ActorId, now: Time) {
        let mut ended = std::mem::take(&mut self.scratch);
        ended.extend(self.parked.iter().filter_map(|(id, p)| {
            let lp = p.long_poll.as_ref()?;
            let over = lp.end().is_some_and(|e| now >= lp.expiry(e));
            (p.client == client && over).then_some(*id)
        }));
        for &id in &ended {
            self.unpark(id);
        }
        ended.clear();
        self.scratch = ended;
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
                    p.answer((FetchedRecords::new(), Vec::new(), Vec::new()), fx);
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
        self.answer_due(now, rm, fx);
        let next = self
            .parked
            .values()
            .map(|p| p.deadline)
            .chain(self.parked_replica.values().map(|p| p.deadline))
            .chain(self.due.iter().map(|(at, _, _)| *at))
            .filter(|&d| d != Time::MAX)
            .min();
        if let Some(deadline) = next {
            self.arm(now, deadline, fx);
        }
    }

    /// The long-polls whose next Fetch arrives now (with data since): answered as that
    /// Fetch would be, or parked again if there is nothing to read after all. A chain its
    /// consumer ended before that Fetch is dropped.
    fn answer_due(&mut self, now: Time, rm: &ReplicaManager, fx: &mut Effects) {
        let mut i = 0;
        while i < self.due.len() {
            if self.due[i].0 > now {
                i += 1;
                continue;
            }
            let (_, k, p) = self.due.remove(i);
            let lp = p.long_poll.clone().expect("a long-poll");
            if !lp.exists(k) {
                continue;
            }
            let (records, errors, next) = rm.collect_read(&p.positions, p.read);
            if records.is_empty() && errors.is_empty() && next.is_empty() {
                let parked_at = now;
                self.park_fetch(now, ParkedFetch { parked_at, ..p }, fx);
                continue;
            }
            lp.mark_answered();
            p.answer((records, errors, next), fx);
        }
    }

    /// The high watermark of `tp` advanced: answers the consumer fetches parked on it that
    /// can now read something, in the order they were parked (for a long-poll, when its
    /// current Fetch was). A long-poll whose next Fetch is on the wire is answered when that
    /// Fetch arrives (the purgatory's timer).
    pub fn wake_fetches(&mut self, now: Time, tp: Tp, rm: &ReplicaManager, fx: &mut Effects) {
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
        let mut now_list = std::mem::take(&mut self.answer_now);
        for &id in &ready {
            let p = self.unpark(id);
            let Some(lp) = p.long_poll.clone() else {
                now_list.push((p.parked_at, id, p));
                continue;
            };
            match lp.phase(now) {
                Phase::Before => now_list.push((p.parked_at, id, p)),
                Phase::Parked(k) if lp.exists(k) => {
                    now_list.push((p.parked_since(now), id, p));
                }
                Phase::OnWire(k) if lp.exists(k + 1) => {
                    let at = lp.arrival(k + 1);
                    self.due.push((at, k + 1, p));
                    self.arm(now, at, fx);
                }
                // the consumer ended the chain before: nothing is parked in its place
                _ => {}
            }
        }
        now_list.sort_by_key(|(at, id, _)| (*at, *id));
        for (_, _, p) in now_list.drain(..) {
            let (records, errors, next) = rm.collect_read(&p.positions, p.read);
            if let Some(lp) = &p.long_poll {
                lp.mark_answered();
            }
            p.answer((records, errors, next), fx);
        }
        self.answer_now = now_list;
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
            parked_at: now,
            long_poll: None,
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
        p.wake_fetches(Time::ms(10), TP, &rm, &mut fx);
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

    /// A long-poll sent at 0: 500 µs each way, 500 ms wait (period 501 ms); parked on
    /// arrival.
    fn long_poll(p: &mut Purgatory, fx: &mut Effects) -> Arc<LongPoll> {
        let lp = Arc::new(LongPoll::new(Time::ZERO, Time::us(500), Time::ms(500)));
        let fetch = ParkedFetch {
            deadline: Time::MAX,
            parked_at: lp.arrival(0),
            long_poll: Some(lp.clone()),
            client: CLIENT,
            fetch_id: 7,
            positions: Arc::from(vec![(TP, 0)]),
            read: Read {
                max_records: 10,
                isolation: IsolationLevel::ReadUncommitted,
            },
        };
        p.park_fetch(lp.arrival(0), fetch, fx);
        lp
    }

    #[test]
    fn a_long_poll_stays_parked_across_its_expiries_and_is_answered_at_once_while_parked() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        let lp = long_poll(&mut p, &mut fx);
        assert!(fx.timers().is_empty(), "no expiry timer");
        // an hour later, within Fetch k's wait
        let k = 7_185;
        let t = lp.arrival(k) + Time::ms(3);
        produce(&mut rm, Acks::Leader, 1, 0, t, &mut fx);
        p.wake_fetches(t, TP, &rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(7, 1)]);
        assert!(lp.answered());
        assert_eq!(p.len(), (0, 0));
    }

    #[test]
    fn a_long_poll_on_the_wire_is_answered_when_its_next_fetch_arrives() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        let lp = long_poll(&mut p, &mut fx);
        // between Fetch 40's expiry and Fetch 41's arrival
        let t = lp.expiry(40) + Time::us(200);
        produce(&mut rm, Acks::Leader, 1, 0, t, &mut fx);
        p.wake_fetches(t, TP, &rm, &mut fx);
        assert!(fetch_answers(&fx).is_empty(), "not yet");
        let (delay, _) = *fx.timers().last().expect("a timer for the arrival");
        assert_eq!(t + delay, lp.arrival(41));
        let token = token(&fx);
        p.expire(token, lp.arrival(41), &mut rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(7, 1)]);
        assert!(lp.answered());
    }

    #[test]
    fn an_ended_long_poll_is_answered_only_within_its_last_wait() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        let lp = long_poll(&mut p, &mut fx);
        // the consumer changed during Fetch 3's wait: Fetch 3 is the last
        assert_eq!(lp.end_at(lp.arrival(3) + Time::ms(1)), 3);
        let t = lp.expiry(3) + Time::ms(10);
        produce(&mut rm, Acks::Leader, 1, 0, t, &mut fx);
        p.wake_fetches(t, TP, &rm, &mut fx);
        assert!(fetch_answers(&fx).is_empty(), "nothing parked after Fetch 3");
        assert!(fx.timers().is_empty());
        assert_eq!(p.len(), (0, 0), "forgotten");
        // the same within Fetch 3's wait: answered
        let mut p = Purgatory::default();
        let lp = long_poll(&mut p, &mut fx);
        lp.end_at(lp.arrival(3) + Time::ms(1));
        let t = lp.arrival(3) + Time::ms(2);
        p.wake_fetches(t, TP, &rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(7, 1)]);
    }

    #[test]
    fn an_append_answers_long_polls_in_the_order_their_current_fetches_were_parked() {
        let mut rm = testkit::replicas(1, 1, 1);
        let mut p = Purgatory::default();
        let mut fx = Effects::default();
        // A parked first, B 300 ms later; at 1,100 ms A's third Fetch (parked at 1,002.5
        // ms) came after B's second (parked at 801.5 ms): B is answered first
        let a = long_poll(&mut p, &mut fx);
        let b = Arc::new(LongPoll::new(Time::ms(300), Time::us(500), Time::ms(500)));
        let fetch = ParkedFetch {
            deadline: Time::MAX,
            parked_at: b.arrival(0),
            long_poll: Some(b.clone()),
            client: broker(5),
            fetch_id: 8,
            positions: Arc::from(vec![(TP, 0)]),
            read: Read {
                max_records: 10,
                isolation: IsolationLevel::ReadUncommitted,
            },
        };
        p.park_fetch(b.arrival(0), fetch, &mut fx);
        let t = Time::ms(1_100);
        assert_eq!(a.phase(t), Phase::Parked(2));
        assert_eq!(b.phase(t), Phase::Parked(1));
        produce(&mut rm, Acks::Leader, 1, 0, t, &mut fx);
        p.wake_fetches(t, TP, &rm, &mut fx);
        assert_eq!(fetch_answers(&fx), vec![(8, 1), (7, 1)]);
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
