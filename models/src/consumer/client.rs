//! The consumer's network client: what Java's `NetworkClient` / `ConsumerNetworkClient`,
//! kafka-python's `KafkaClient` and librdkafka's broker threads do for it.
//!
//! * one correlation id per request, from one counter that keeps counting across restarts
//!   (an answer to a request of an earlier incarnation or an abandoned one never matches);
//! * the requests in flight, each with the broker it went to — answers are matched against
//!   them, a broker's disconnection fails those sent to it;
//! * `request.timeout.ms`: one watchdog timer for the whole client, armed for the earliest
//!   deadline, instead of a timer per request (answered requests then cost nothing); a
//!   classic `JoinGroup`, which the coordinator holds for up to the rebalance timeout, is
//!   given longer ([`crate::config::ConsumerConfig::join_timeout_ms`]);
//! * what the client knows of the cluster: the metadata image, the group coordinator
//!   (FindCoordinator), the bootstrap broker tried next, `retry.backoff.ms` between looking
//!   the cluster up again.

use crate::cluster::ClusterState;
use sim::{ActorId, Time};
use std::sync::Arc;

/// `retry.backoff.ms` (100 in every client) between looking the cluster up again.
pub const RETRY_BACKOFF_MS: u64 = 100;

/// What a request in flight is, for matching its answer and acting on its failure.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Req {
    /// `Metadata`.
    Metadata,
    /// `FindCoordinator`.
    FindCoordinator,
    /// `JoinGroup`, or the KIP-848 `ConsumerGroupHeartbeat` that takes its place.
    Join,
    /// `SyncGroup`.
    Sync,
    /// `OffsetFetch` or `ListOffsets`: a position look-up.
    Offsets,
    /// `Fetch` (one in flight per leader).
    Fetch,
    /// The `OffsetCommit` of a `commitSync()` (asynchronous commits are not awaited).
    Commit,
    /// A classic `Heartbeat`: not under `request.timeout.ms` (its answer carries no id; the
    /// heartbeat thread watches the oldest unanswered one itself).
    Heartbeat,
}

#[derive(Clone, Debug)]
struct Pending {
    id: u64,
    req: Req,
    to: ActorId,
    sent: Time,
    deadline: Option<Time>,
}

/// The network client of one consumer process.
pub struct Client {
    /// Every broker, by node id − 1 (the bootstrap list).
    pub brokers: Vec<ActorId>,
    /// The latest metadata image.
    pub cluster: Option<Arc<ClusterState>>,
    /// The group coordinator, once found.
    pub coordinator: Option<ActorId>,
    /// Which broker the next FindCoordinator goes to (moves on when one fails).
    pub next_bootstrap: usize,
    meta_rr: usize,
    rediscover_armed: bool,
    last_id: u64,
    pending: Vec<Pending>,
    watchdog_armed: bool,
    timeout: Time,
    join_timeout: Time,
}

impl Client {
    /// A client of `brokers` with `request.timeout.ms` = `timeout`, whose ids continue after
    /// `last_id`.
    pub fn new(brokers: Vec<ActorId>, timeout: Time, last_id: u64) -> Client {
        Client {
            brokers,
            cluster: None,
            coordinator: None,
            next_bootstrap: 0,
            meta_rr: 0,
            rediscover_armed: false,
            last_id,
            pending: Vec::new(),
            watchdog_armed: false,
            timeout,
            join_timeout: timeout,
        }
    }

    /// The same client, its `JoinGroup`s under `timeout` instead of `request.timeout.ms`.
    pub fn with_join_timeout(mut self, timeout: Time) -> Client {
        self.join_timeout = timeout;
        self
    }

    /// The last id handed out (a restarted process continues from it).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// A new correlation id for a request nobody waits for (an asynchronous commit, a
    /// LeaveGroup).
    pub fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// A new request `req` to `to` at `now`, under `request.timeout.ms`. Returns its id and
    /// whether the watchdog must be armed (for [`Client::timeout`]).
    pub fn send(&mut self, req: Req, to: ActorId, now: Time) -> (u64, bool) {
        let id = self.next_id();
        (id, self.watch(id, req, to, now))
    }

    /// Puts request `id` (already sent) under `request.timeout.ms` (a `JoinGroup` under the
    /// join timeout); whether the watchdog must be armed.
    pub fn watch(&mut self, id: u64, req: Req, to: ActorId, now: Time) -> bool {
        let timeout = if req == Req::Join {
            self.join_timeout
        } else {
            self.timeout
        };
        self.pending.push(Pending {
            id,
            req,
            to,
            sent: now,
            deadline: Some(now + timeout),
        });
        !std::mem::replace(&mut self.watchdog_armed, true)
    }

    /// A new request `req` to `to` at `now` under no deadline (a parked long-poll, answered
    /// when there is data); [`Client::rewatch`] puts it under one. Returns its id.
    pub fn send_unwatched(&mut self, req: Req, to: ActorId, now: Time) -> u64 {
        let id = self.next_id();
        self.pending.push(Pending {
            id,
            req,
            to,
            sent: now,
            deadline: None,
        });
        id
    }

    /// Request `id`, as if sent at `sent`, is under `request.timeout.ms` from then on. If the
    /// watchdog must be armed for it: after which delay from `now`.
    pub fn rewatch(&mut self, id: u64, sent: Time, now: Time) -> Option<Time> {
        let timeout = self.timeout;
        let p = self.pending.iter_mut().find(|p| p.id == id)?;
        p.sent = sent;
        p.deadline = Some(sent + timeout);
        self.rearm(now)
    }

    /// `request.timeout.ms`.
    pub fn timeout(&self) -> Time {
        self.timeout
    }

    /// A heartbeat sent to `to` at `now`: the oldest unanswered one is remembered.
    pub fn heartbeat_sent(&mut self, to: ActorId, now: Time) {
        let id = self.next_id();
        if self.oldest(Req::Heartbeat).is_none() {
            self.pending.push(Pending {
                id,
                req: Req::Heartbeat,
                to,
                sent: now,
                deadline: None,
            });
        }
    }

    /// An answer with `id` arrived for a request of kind `req`: whether it is the one in
    /// flight (which is then no longer in flight).
    pub fn answer(&mut self, id: u64, req: Req) -> bool {
        match self.pending.iter().position(|p| p.id == id && p.req == req) {
            Some(i) => {
                self.pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// The request of kind `req` to `to` in flight, if any: its id.
    pub fn in_flight_to(&self, req: Req, to: ActorId) -> Option<u64> {
        self.pending
            .iter()
            .find(|p| p.req == req && p.to == to)
            .map(|p| p.id)
    }

    /// Whether a request of kind `req` is in flight.
    pub fn in_flight(&self, req: Req) -> bool {
        self.pending.iter().any(|p| p.req == req)
    }

    /// Whether a request of kind `req` is in flight to `to`.
    pub fn in_flight_with(&self, req: Req, to: ActorId) -> bool {
        self.in_flight_to(req, to).is_some()
    }

    /// When the oldest request of kind `req` in flight was sent.
    pub fn oldest(&self, req: Req) -> Option<Time> {
        self.pending.iter().filter(|p| p.req == req).map(|p| p.sent).min()
    }

    /// Forgets every request of kind `req` (given up, or its answers no longer wanted);
    /// whether there was one.
    pub fn cancel(&mut self, req: Req) -> bool {
        let before = self.pending.len();
        self.pending.retain(|p| p.req != req);
        self.pending.len() != before
    }

    /// Forgets the requests of kind `req` sent to `to`; whether there was one.
    pub fn cancel_to(&mut self, req: Req, to: ActorId) -> bool {
        let before = self.pending.len();
        self.pending.retain(|p| !(p.req == req && p.to == to));
        self.pending.len() != before
    }

    /// The watchdog fired at `now`: the requests whose deadline passed, in the order they
    /// were sent, no longer in flight.
    pub fn expire(&mut self, now: Time) -> Vec<(Req, ActorId)> {
        self.watchdog_armed = false;
        let mut due = Vec::new();
        self.pending.retain(|p| match p.deadline {
            Some(d) if d <= now => {
                due.push((p.req, p.to));
                false
            }
            _ => true,
        });
        due
    }

    /// After the watchdog's requests were handled: when it must fire next (a delay from
    /// `now`), if it is not armed and a request is still under a deadline.
    pub fn rearm(&mut self, now: Time) -> Option<Time> {
        let next = self.pending.iter().filter_map(|p| p.deadline).min()?;
        if self.watchdog_armed {
            return None;
        }
        self.watchdog_armed = true;
        Some(next.saturating_sub(now))
    }

    /// Where group requests go: the coordinator, or (not known yet) the bootstrap broker.
    pub fn coord(&self) -> ActorId {
        self.coordinator.unwrap_or(self.brokers[0])
    }

    /// The broker the next FindCoordinator goes to.
    pub fn bootstrap(&self) -> ActorId {
        self.brokers[self.next_bootstrap % self.brokers.len()]
    }

    /// The broker the next Metadata refresh goes to (round robin).
    pub fn next_metadata_broker(&mut self) -> ActorId {
        self.meta_rr += 1;
        self.brokers[self.meta_rr % self.brokers.len()]
    }

    /// Whether there is more than one broker (fail-over paths exist).
    pub fn multi_broker(&self) -> bool {
        self.brokers.len() > 1
    }

    /// A newer metadata image (an older one, answered late, is ignored).
    pub fn update_cluster(&mut self, cluster: Arc<ClusterState>) {
        if self.cluster.as_ref().is_none_or(|c| c.version <= cluster.version) {
            self.cluster = Some(cluster);
        }
    }

    /// The cluster must be looked up again after `retry.backoff.ms`: whether the timer must
    /// be armed (it is not already).
    pub fn want_rediscover(&mut self) -> bool {
        !std::mem::replace(&mut self.rediscover_armed, true)
    }

    /// The `retry.backoff.ms` timer fired.
    pub fn rediscover_fired(&mut self) {
        self.rediscover_armed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::new(vec![ActorId(0), ActorId(1)], Time::ms(100), 0)
    }

    #[test]
    fn the_watchdog_times_out_the_right_request() {
        let mut c = client();
        let (join, arm) = c.send(Req::Join, ActorId(0), Time::ms(0));
        assert!(arm, "the first request arms the watchdog");
        let (fetch, arm) = c.send(Req::Fetch, ActorId(1), Time::ms(50));
        assert!(!arm, "one watchdog for the client");
        assert!(join < fetch);
        assert_eq!(c.expire(Time::ms(100)), vec![(Req::Join, ActorId(0))]);
        assert_eq!(c.rearm(Time::ms(100)), Some(Time::ms(50)), "armed for the fetch");
        assert!(c.answer(fetch, Req::Fetch));
        assert_eq!(c.expire(Time::ms(150)), vec![]);
        assert_eq!(c.rearm(Time::ms(150)), None);
    }

    #[test]
    fn a_join_waits_out_its_own_timeout() {
        let mut c = client().with_join_timeout(Time::ms(1_000));
        let (_, arm) = c.send(Req::Join, ActorId(0), Time::ZERO);
        assert!(arm);
        let (_, _) = c.send(Req::Sync, ActorId(0), Time::ZERO);
        assert_eq!(c.expire(Time::ms(100)), vec![(Req::Sync, ActorId(0))]);
        assert_eq!(c.rearm(Time::ms(100)), Some(Time::ms(900)), "armed for the join");
        assert_eq!(c.expire(Time::ms(999)), vec![]);
        assert_eq!(c.expire(Time::ms(1_000)), vec![(Req::Join, ActorId(0))]);
    }

    #[test]
    fn each_profile_gives_a_join_its_clients_timeout() {
        use crate::config::{ConsumerConfig, Profile};
        // Java and kafka-python: max(request.timeout.ms, max.poll.interval.ms + 5 s)
        let mut java = ConsumerConfig::defaults(Profile::Java, "g");
        assert_eq!(java.join_timeout_ms(), 305_000);
        java.max_poll_interval_ms = 10_000;
        java.request_timeout_ms = 40_000;
        assert_eq!(java.join_timeout_ms(), 40_000);
        assert_eq!(
            ConsumerConfig::defaults(Profile::KafkaPython, "g").join_timeout_ms(),
            305_000
        );
        // librdkafka: max.poll.interval.ms + 3 s, socket.timeout.ms aside
        let mut rd = ConsumerConfig::defaults(Profile::Librdkafka, "g");
        assert_eq!(rd.join_timeout_ms(), 303_000);
        rd.max_poll_interval_ms = 10_000;
        assert_eq!(rd.join_timeout_ms(), 13_000);
        // KIP-848: the heartbeat that replaces JoinGroup is an ordinary request
        java.group_protocol_consumer = true;
        assert_eq!(java.join_timeout_ms(), 40_000);
    }

    #[test]
    fn an_answer_matches_only_its_request() {
        let mut c = client();
        let (id, _) = c.send(Req::Offsets, ActorId(0), Time::ZERO);
        assert!(!c.answer(id, Req::Sync), "same id, other kind");
        assert!(!c.answer(id + 1, Req::Offsets), "other id");
        assert!(c.answer(id, Req::Offsets));
        assert!(!c.answer(id, Req::Offsets), "answered once");
    }

    #[test]
    fn ids_keep_counting_across_incarnations() {
        let mut c = client();
        c.next_id();
        c.heartbeat_sent(ActorId(0), Time::ZERO);
        let restarted = Client::new(c.brokers.clone(), Time::ms(100), c.last_id());
        assert!(!restarted.in_flight(Req::Heartbeat));
        assert_eq!(restarted.last_id(), 2);
    }

    #[test]
    fn a_disconnection_fails_what_went_to_that_broker() {
        let mut c = client();
        c.send(Req::Fetch, ActorId(0), Time::ZERO);
        c.send(Req::Fetch, ActorId(1), Time::ZERO);
        assert!(c.cancel_to(Req::Fetch, ActorId(1)));
        assert!(c.in_flight_with(Req::Fetch, ActorId(0)));
        assert!(!c.in_flight_with(Req::Fetch, ActorId(1)));
    }

    #[test]
    fn an_unwatched_request_times_out_only_once_rewatched() {
        let mut c = client();
        let id = c.send_unwatched(Req::Fetch, ActorId(0), Time::ms(0));
        assert!(c.in_flight_with(Req::Fetch, ActorId(0)));
        assert_eq!(c.expire(Time::ms(10_000)), vec![], "no deadline");
        // rewatched as if sent at 9,950 ms: the watchdog goes off 100 ms after that
        assert_eq!(
            c.rewatch(id, Time::ms(9_950), Time::ms(10_000)),
            Some(Time::ms(50))
        );
        assert_eq!(
            c.rewatch(id, Time::ms(9_950), Time::ms(10_000)),
            None,
            "armed already"
        );
        assert_eq!(c.expire(Time::ms(10_050)), vec![(Req::Fetch, ActorId(0))]);
    }

    #[test]
    fn heartbeats_remember_the_oldest_unanswered() {
        let mut c = client();
        c.heartbeat_sent(ActorId(0), Time::ms(1));
        c.heartbeat_sent(ActorId(0), Time::ms(2));
        assert_eq!(c.oldest(Req::Heartbeat), Some(Time::ms(1)));
        assert_eq!(
            c.expire(Time::ms(10_000)),
            vec![],
            "no request timeout for heartbeats"
        );
        c.cancel(Req::Heartbeat);
        assert_eq!(c.oldest(Req::Heartbeat), None);
    }
}
