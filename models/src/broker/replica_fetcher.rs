//! The replica fetcher: the follower side of replication.
//!
//! Kafka's `ReplicaFetcherThread`, one per leader broker: a fetch session to the leader
//! carrying, per partition it follows there, its log end offset and last epoch, long-polled
//! for `replica.fetch.wait.max.ms` and sent again after `replica.socket.timeout.ms` without
//! an answer (or `replica.fetch.backoff.ms` after the leader's process went away). A leader
//! whose log diverges answers with the end of the follower's epoch there and the follower
//! truncates to it (KIP-101/KIP-279, fetch-based since KIP-595) — how records an unclean or
//! acks=1 leader had vanish. A follower behind the leader's log start starts over there. A
//! stalled broker's fetchers stop until the stall ends (the slow follower).

use super::effects::Effects;
use super::replica_manager::{Partition, ReplicaManager, Role};
use crate::cluster::NodeId;
use crate::history::Event;
use crate::protocol::{Msg, ReplicaData, ServerTimer};
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time};
use std::collections::BTreeMap;

/// `replica.fetch.backoff.ms`: the wait before fetching again from a leader that went away.
const FETCH_BACKOFF: Time = Time::ms(1000);

/// The fetch sessions of one broker to the leaders of the partitions it follows.
pub struct ReplicaFetcher {
    /// `replica.socket.timeout.ms`.
    socket_timeout: Time,
    /// Leader node → the fetch in flight to it.
    fetchers: BTreeMap<NodeId, u64>,
    next_fetch: u64,
    stalled_until: Time,
    resume_armed: bool,
}

impl ReplicaFetcher {
    /// No fetcher yet; unanswered fetches are sent again after `socket_timeout`.
    pub fn new(socket_timeout: Time) -> ReplicaFetcher {
        ReplicaFetcher {
            socket_timeout,
            fetchers: BTreeMap::new(),
            next_fetch: 0,
            stalled_until: Time::ZERO,
            resume_armed: false,
        }
    }

    /// Forgets every session and stall (a crash).
    pub fn reset(&mut self) {
        self.fetchers.clear();
        self.resume_armed = false;
        self.stalled_until = Time::ZERO;
    }

    /// The fetch in flight to `leader`, if any.
    pub fn in_flight(&self, leader: NodeId) -> Option<u64> {
        self.fetchers.get(&leader).copied()
    }

    /// Stalls the fetchers for `d` from `now`; returns until when they stall.
    pub fn stall(&mut self, now: Time, d: Time) -> Time {
        self.stalled_until = self.stalled_until.max(now + d);
        self.stalled_until
    }

    /// Starts a session to each leader this broker follows and has none to; ends those to
    /// leaders it no longer follows.
    pub fn start(&mut self, now: Time, rm: &ReplicaManager, fx: &mut Effects) {
        let leaders = rm.leaders_followed();
        self.fetchers.retain(|l, _| leaders.contains(l));
        for l in leaders {
            if !self.fetchers.contains_key(&l) {
                self.send(now, l, rm, fx);
            }
        }
    }

    /// The stall ended: fetch again.
    pub fn resume(&mut self, now: Time, rm: &ReplicaManager, fx: &mut Effects) {
        self.resume_armed = false;
        self.start(now, rm, fx);
    }

    /// Sends the next fetch to `leader` (after the stall, if the broker stalls).
    fn send(&mut self, now: Time, leader: NodeId, rm: &ReplicaManager, fx: &mut Effects) {
        if now < self.stalled_until {
            if !self.resume_armed {
                self.resume_armed = true;
                let wait = self.stalled_until.saturating_sub(now);
                fx.timer(wait, Msg::ServerTimer(ServerTimer::FetchersResume));
            }
            return;
        }
        let parts = rm.fetch_positions(leader);
        if parts.is_empty() {
            self.fetchers.remove(&leader);
            return;
        }
        self.next_fetch += 1;
        let fetch_id = self.next_fetch;
        self.fetchers.insert(leader, fetch_id);
        fx.send(
            rm.cluster().actor(leader),
            Msg::ReplicaFetchReq { fetch_id, parts },
        );
        let timeout = Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(fetch_id));
        fx.timer(self.socket_timeout, timeout);
    }

    /// Fetch `id` went unanswered for `replica.socket.timeout.ms` (or its backoff ended):
    /// sends it again.
    pub fn on_timeout(&mut self, id: u64, now: Time, rm: &ReplicaManager, fx: &mut Effects) {
        if let Some((&leader, _)) = self.fetchers.iter().find(|(_, f)| **f == id) {
            self.fetchers.remove(&leader);
            self.send(now, leader, rm, fx);
        }
    }

    /// Broker actor `from`'s process went away: fetch from it again after
    /// `replica.fetch.backoff.ms`.
    pub fn on_disconnected(&mut self, from: ActorId, rm: &ReplicaManager, fx: &mut Effects) {
        let Some(leader) = rm.cluster().node_of(from) else {
            return;
        };
        if self.fetchers.contains_key(&leader) {
            self.next_fetch += 1;
            let id = self.next_fetch;
            self.fetchers.insert(leader, id);
            fx.timer(
                FETCH_BACKOFF,
                Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(id)),
            );
        }
    }

    /// The answer to fetch `fetch_id` from broker actor `from`: applies it to the partitions
    /// still followed there (unless stalled) and fetches again.
    pub fn on_data(
        &mut self,
        now: Time,
        from: ActorId,
        fetch_id: u64,
        parts: Vec<(Tp, ReplicaData)>,
        rm: &mut ReplicaManager,
        fx: &mut Effects,
    ) {
        let Some(leader) = rm.cluster().node_of(from) else {
            return;
        };
        if self.fetchers.get(&leader) != Some(&fetch_id) {
            return;
        }
        self.fetchers.remove(&leader);
        if now < self.stalled_until {
            // a slow follower: what arrives while it stalls is not applied
            return self.send(now, leader, rm, fx);
        }
        for (tp, data) in parts {
            let user = rm.is_user_partition(tp);
            let Some(p) = rm.part_mut(tp) else { continue };
            if p.role == Role::Follower(leader) {
                apply(p, tp, user, data, now, fx);
            }
        }
        self.send(now, leader, rm, fx);
    }
}

/// Applies a leader's answer for one partition to its follower replica `p`.
fn apply(p: &mut Partition, tp: Tp, user: bool, data: ReplicaData, now: Time, fx: &mut Effects) {
    match data {
        ReplicaData::Entries {
            entries,
            hw,
            log_start,
        } => {
            if p.log.end_offset() < log_start {
                // behind the leader's log start: start over there
                p.log.reset_to(log_start);
            } else {
                p.log.advance_start(log_start);
            }
            for e in entries {
                p.log.append(e, now);
            }
            p.hw = hw.min(p.log.end_offset()).max(p.hw.min(p.log.end_offset()));
        }
        ReplicaData::Diverging { epoch, end_offset } => {
            let (mine, my_end) = p.log.end_offset_for_epoch(epoch);
            let to = if mine == epoch {
                end_offset.min(my_end)
            } else {
                end_offset
            };
            let to = to.min(p.log.end_offset());
            let removed: Vec<RecordId> = p
                .log
                .entries(to, usize::MAX)
                .iter()
                .map(|e| e.record.id)
                .collect();
            p.log.truncate(to);
            p.hw = p.hw.min(to);
            if user && !removed.is_empty() {
                fx.record(Event::Truncated {
                    tp,
                    offset: to,
                    removed,
                });
            }
        }
        ReplicaData::NotLeader => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testkit::{self, broker, entry, TP};

    /// Broker 2 of two, following broker 1, with its fetch in flight; returns its id.
    fn follower() -> (ReplicaManager, ReplicaFetcher, u64) {
        let rm = testkit::replicas(2, 2, 1);
        let mut f = ReplicaFetcher::new(Time::ms(30_000));
        let mut fx = Effects::default();
        f.start(Time::ZERO, &rm, &mut fx);
        let id = f.in_flight(1).expect("a fetch to broker 1");
        (rm, f, id)
    }

    /// A replica fetch request: to whom, and its positions.
    type Request = (ActorId, Vec<(Tp, i64, i32)>);

    fn requests(fx: &Effects) -> Vec<Request> {
        fx.sent()
            .into_iter()
            .filter_map(|(to, m)| match m {
                Msg::ReplicaFetchReq { parts, .. } => Some((to, parts.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_fetch_session_asks_the_leader_for_every_partition_it_follows() {
        let rm = testkit::replicas(2, 2, 1);
        let mut f = ReplicaFetcher::new(Time::ms(30_000));
        let mut fx = Effects::default();
        f.start(Time::ZERO, &rm, &mut fx);
        let offsets_tp = Tp::new(1, 0);
        assert_eq!(
            requests(&fx),
            vec![(broker(1), vec![(TP, 0, -1), (offsets_tp, 0, -1)])]
        );
        assert!(matches!(
            fx.timers()[..],
            [(d, Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(1)))] if d == Time::ms(30_000)
        ));
        // unanswered: sent again
        f.on_timeout(1, Time::ms(30_000), &rm, &mut fx);
        assert_eq!(requests(&fx).len(), 2);
        assert_eq!(f.in_flight(1), Some(2));
    }

    #[test]
    fn a_follower_truncates_to_the_end_of_a_diverging_epoch() {
        let (mut rm, mut f, id) = follower();
        let p = rm.part_mut(TP).unwrap();
        for seq in 0..3 {
            p.log.append(entry(1, seq, 0), Time::ZERO);
        }
        p.hw = 3;
        let mut fx = Effects::default();
        let data = ReplicaData::Diverging {
            epoch: 0,
            end_offset: 1,
        };
        f.on_data(Time::ms(1), broker(1), id, vec![(TP, data)], &mut rm, &mut fx);
        let p = rm.part(TP).unwrap();
        assert_eq!((p.log.end_offset(), p.hw), (1, 1));
        match fx.records()[..] {
            [Event::Truncated {
                offset: 1, removed, ..
            }] => assert_eq!(removed.len(), 2),
            ref other => panic!("expected one truncation, got {other:?}"),
        }
        assert_eq!(
            requests(&fx)[0].1[0],
            (TP, 1, 0),
            "fetches again from the new end"
        );
    }

    #[test]
    fn leader_entries_are_appended_with_its_high_watermark() {
        let (mut rm, mut f, id) = follower();
        let mut fx = Effects::default();
        let data = ReplicaData::Entries {
            entries: vec![entry(1, 0, 0), entry(1, 1, 0)],
            hw: 1,
            log_start: 0,
        };
        f.on_data(Time::ms(1), broker(1), id, vec![(TP, data)], &mut rm, &mut fx);
        let p = rm.part(TP).unwrap();
        assert_eq!((p.log.end_offset(), p.hw), (2, 1));
        // a stale answer (not the fetch in flight) is ignored
        let again = ReplicaData::Entries {
            entries: vec![entry(1, 2, 0)],
            hw: 2,
            log_start: 0,
        };
        f.on_data(Time::ms(2), broker(1), id, vec![(TP, again)], &mut rm, &mut fx);
        assert_eq!(rm.part(TP).unwrap().log.end_offset(), 2);
    }

    #[test]
    fn a_stalled_follower_applies_nothing_and_resumes_after_the_stall() {
        let (mut rm, mut f, id) = follower();
        let mut fx = Effects::default();
        assert_eq!(f.stall(Time::ms(1), Time::ms(5000)), Time::ms(5001));
        let data = ReplicaData::Entries {
            entries: vec![entry(1, 0, 0)],
            hw: 1,
            log_start: 0,
        };
        f.on_data(Time::ms(2), broker(1), id, vec![(TP, data)], &mut rm, &mut fx);
        assert_eq!(rm.part(TP).unwrap().log.end_offset(), 0, "not applied");
        assert!(requests(&fx).is_empty(), "no fetch while stalled");
        assert!(matches!(
            fx.timers()[..],
            [(d, Msg::ServerTimer(ServerTimer::FetchersResume))] if d == Time::ms(4999)
        ));
        f.resume(Time::ms(5001), &rm, &mut fx);
        assert_eq!(requests(&fx).len(), 1);
    }
}
