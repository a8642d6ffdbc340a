//! The sender: requests in flight to each broker, retries, metadata, timeouts.
//!
//! Reproduces the producer's `Sender` thread (Java `Sender` and `NetworkClient`,
//! kafka-python's `Sender`) with `linger.ms=0`, one record per Produce request:
//! * each waiting record goes to its partition's leader in the metadata the producer has,
//!   oldest first, at most `max.in.flight.requests.per.connection` requests in flight per
//!   broker (the rest keep waiting in the accumulator); with `enable.idempotence` nothing of a
//!   partition overtakes a record of it that waits out a backoff;
//! * `acks=0` — sent is done (offset −1); `acks=1`/`all` — the broker's answer decides;
//! * retriable errors (`NOT_LEADER_OR_FOLLOWER`, `NOT_ENOUGH_REPLICAS[_AFTER_APPEND]`, a
//!   broken connection, a request unanswered for `request.timeout.ms`) send the record again
//!   after an exponential backoff (`retry.backoff.ms` doubling up to `retry.backoff.max.ms`,
//!   ±20 % jitter drawn from the producer's seeded stream: KIP-580), after a metadata refresh
//!   where the leader may have moved — up to `retries` times and within
//!   `delivery.timeout.ms` of `send()`; then the record fails (`DELIVERY_TIMEOUT` once the
//!   delivery timeout passed); `OUT_OF_ORDER_SEQUENCE_NUMBER` fails it at once;
//! * Metadata goes to the bootstrap brokers in turn; an unanswered request is sent again after
//!   `request.timeout.ms`, one lost with its connection after `retry.backoff.ms`;
//! * one watchdog timer for the earliest `request.timeout.ms` deadline, one retry timer for
//!   the earliest end of a backoff (a later timer is checked and ignored when it fires).
//!
//! Without idempotence a retry of a record whose first attempt was written but not
//! acknowledged writes it twice: the broker tells the attempts apart only by sequence number.

use super::accumulator::{Accumulator, Record};
use super::app::Sent;
use super::io::Io;
use crate::cluster::ClusterState;
use crate::config::ProducerConfig;
use crate::history::Event;
use crate::protocol::{Acks, ClientTimer, ErrorCode, Msg};
use crate::types::{RecordId, Tp};
use rand::Rng;
use sim::{ActorId, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A record the sender is done with: acknowledged, or failed for good.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    /// The record.
    pub sent: Sent,
    /// The producer epoch it was numbered in (a failure may bump it: KIP-360).
    pub epoch: i32,
    /// Its offset, or the error it failed with.
    pub result: Result<i64, ErrorCode>,
}

/// A request in flight.
#[derive(Clone, Debug)]
struct InFlight {
    record: Record,
    /// The broker it went to.
    to: ActorId,
    /// When it times out.
    deadline: Time,
}

/// The Metadata request's state.
#[derive(Clone, Debug, Default)]
struct MetadataState {
    /// The request in flight and when it times out.
    deadline: Option<Time>,
    /// The broker it went to.
    to: Option<ActorId>,
    /// A refresh is due at the next retry (the leader may have moved).
    wanted: bool,
    /// The bootstrap broker to ask next, counted without end.
    next_bootstrap: usize,
}

/// The exponential part of the backoff before retry number `retries` (≥ 1), in ms:
/// `retry.backoff.ms` doubling per retry, capped at `retry.backoff.max.ms` (KIP-580).
pub fn backoff_ms(cfg: &ProducerConfig, retries: u32) -> u64 {
    cfg.retry_backoff_ms
        .saturating_mul(1u64 << retries.saturating_sub(1).min(20))
        .min(cfg.retry_backoff_max_ms.max(cfg.retry_backoff_ms))
}

/// The sender of one producer.
#[derive(Clone, Debug)]
pub struct Sender {
    producer: u32,
    cfg: ProducerConfig,
    brokers: Vec<ActorId>,
    cluster: Option<Arc<ClusterState>>,
    /// Requests in flight, by send number.
    in_flight: BTreeMap<u32, InFlight>,
    /// Records waiting out their backoff, by send number, with its end.
    backoff: BTreeMap<u32, (Record, Time)>,
    metadata: MetadataState,
    watchdog_armed: bool,
    /// When the armed retry timer fires.
    retry_timer_at: Option<Time>,
    /// Reused by [`Sender::pump`].
    scratch: Vec<(u32, Tp, ActorId)>,
    /// A transactional producer's gate: its producer id, and the partitions of the open
    /// transaction (only their records are sent; see [`Sender::set_gate`]).
    gate: Option<(i64, std::collections::BTreeSet<Tp>)>,
}

impl Sender {
    /// The sender of producer number `producer`, bootstrapping from `brokers` in turn.
    pub fn new(producer: u32, cfg: ProducerConfig, brokers: Vec<ActorId>) -> Sender {
        Sender {
            producer,
            cfg,
            brokers,
            cluster: None,
            in_flight: BTreeMap::new(),
            backoff: BTreeMap::new(),
            metadata: MetadataState::default(),
            watchdog_armed: false,
            retry_timer_at: None,
            scratch: Vec::new(),
            gate: None,
        }
    }

    fn id(&self, seq: u32) -> RecordId {
        RecordId {
            producer: self.producer,
            seq,
        }
    }

    /// Records the sender holds: in flight or in backoff.
    pub fn len(&self) -> usize {
        self.in_flight.len() + self.backoff.len()
    }

    /// The sender holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Requests in flight to `broker`.
    pub fn in_flight_to(&self, broker: ActorId) -> u32 {
        self.in_flight.values().filter(|f| f.to == broker).count() as u32
    }

    /// A transactional producer: only records of `open` partitions (those in its open
    /// transaction) are sent, tagged with `producer_id` and their epoch.
    pub fn set_gate(&mut self, producer_id: i64, open: std::collections::BTreeSet<Tp>) {
        self.gate = Some((producer_id, open));
    }

    /// The metadata image, once one came.
    pub fn cluster(&self) -> Option<&Arc<ClusterState>> {
        self.cluster.as_ref()
    }

    /// Every record not in flight (waiting in `acc` or out a backoff) fails with `e`: an
    /// aborted transaction's records.
    pub fn fail_unsent(
        &mut self,
        acc: &mut Accumulator,
        io: &mut impl Io,
        e: ErrorCode,
        settled: &mut Vec<Settled>,
    ) {
        let waiting: Vec<(u32, Tp)> = acc.oldest().collect();
        for (seq, tp) in waiting {
            let record = acc.take(tp, seq).expect("waiting");
            self.settle(io, record, Err(e), settled);
        }
        for (_, (record, _)) in std::mem::take(&mut self.backoff) {
            self.settle(io, record, Err(e), settled);
        }
    }

    /// Asks a bootstrap broker for metadata, unless a request is in flight.
    pub fn refresh_metadata(&mut self, io: &mut impl Io) {
        if self.metadata.deadline.is_some() {
            return;
        }
        let to = self.brokers[self.metadata.next_bootstrap % self.brokers.len()];
        self.metadata.next_bootstrap += 1;
        io.send(to, Msg::MetadataReq);
        self.metadata.to = Some(to);
        self.metadata.wanted = false;
        self.metadata.deadline = Some(io.now() + Time::ms(self.cfg.request_timeout_ms));
        self.arm_watchdog(io);
    }

    /// A Metadata answer with `cluster`: kept unless the producer knows a newer image.
    pub fn on_metadata(&mut self, cluster: Arc<ClusterState>) {
        self.metadata.deadline = None;
        if self.cluster.as_ref().is_none_or(|c| c.version <= cluster.version) {
            self.cluster = Some(cluster);
        }
    }

    fn arm_watchdog(&mut self, io: &mut impl Io) {
        if !self.watchdog_armed {
            self.watchdog_armed = true;
            io.timer(
                Time::ms(self.cfg.request_timeout_ms),
                ClientTimer::ProduceWatchdog,
            );
        }
    }

    /// Sends what waits in `acc`, oldest first, to each partition's leader, keeping at most
    /// `max.in.flight.requests.per.connection` requests in flight per broker; a record
    /// without a known leader waits for a metadata refresh. Records settled at once
    /// (`acks=0`) go to `settled`.
    pub fn pump(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        if acc.is_empty() {
            return;
        }
        // requests in flight per broker (by position in the bootstrap list; at most 64)
        let mut in_flight = [0u32; 64];
        let slot = |brokers: &[ActorId], to: ActorId| brokers.iter().position(|b| *b == to).unwrap_or(0);
        for f in self.in_flight.values() {
            in_flight[slot(&self.brokers, f.to)] += 1;
        }
        // idempotence keeps each partition in order: nothing overtakes a record that waits
        let idempotence = self.cfg.idempotence;
        let mut blocked: Vec<Tp> = Vec::new();
        if idempotence {
            blocked.extend(self.backoff.values().map(|(r, _)| r.tp));
        }
        let max = self.cfg.max_in_flight;
        let brokers = self.brokers.len().clamp(1, in_flight.len());
        let mut plan = std::mem::take(&mut self.scratch);
        plan.clear();
        let mut leaderless = false;
        let mut full = false;
        for (seq, tp) in acc.oldest() {
            if in_flight[..brokers].iter().all(|n| *n >= max) {
                // no broker takes another request: the rest only tells whether some
                // partition lacks a leader (below)
                full = true;
                break;
            }
            if idempotence && blocked.contains(&tp) {
                continue;
            }
            if self.gate.as_ref().is_some_and(|(_, open)| !open.contains(&tp)) {
                continue;
            }
            let Some(leader) = self.cluster.as_ref().and_then(|c| c.leader_actor(tp)) else {
                leaderless = true;
                continue;
            };
            let n = &mut in_flight[slot(&self.brokers, leader)];
            if *n >= max {
                blocked.push(tp);
                continue;
            }
            *n += 1;
            plan.push((seq, tp, leader));
        }
        if full && !leaderless {
            let cluster = self.cluster.as_ref();
            leaderless = acc.waiting_partitions().any(|tp| {
                !(idempotence && blocked.contains(&tp)) && cluster.and_then(|c| c.leader_actor(tp)).is_none()
            });
        }
        for &(seq, tp, leader) in &plan {
            let record = acc.take(tp, seq).expect("waiting");
            self.dispatch(io, record, leader, settled);
        }
        self.scratch = plan;
        if leaderless {
            self.metadata.wanted = true;
            self.arm_retry(io);
        }
    }

    /// Sends `record` to `leader`.
    fn dispatch(
        &mut self,
        io: &mut impl Io,
        mut record: Record,
        leader: ActorId,
        settled: &mut Vec<Settled>,
    ) {
        let id = self.id(record.seq);
        let msg = Msg::ProduceReq {
            tp: record.tp,
            id,
            payload: record.payload.clone(),
            acks: self.cfg.acks,
            pseq: record.stamp.seq,
            pepoch: record.stamp.epoch,
            txn: self.gate.as_ref().map(|(pid, _)| (*pid, record.stamp.epoch)),
        };
        io.send(leader, msg);
        record.sent = true;
        if self.cfg.acks == Acks::None {
            self.settle(io, record, Ok(-1), settled);
        } else {
            let deadline = io.now() + Time::ms(self.cfg.request_timeout_ms);
            self.in_flight.insert(
                record.seq,
                InFlight {
                    record,
                    to: leader,
                    deadline,
                },
            );
            self.arm_watchdog(io);
        }
    }

    fn settle(
        &mut self,
        io: &mut impl Io,
        record: Record,
        result: Result<i64, ErrorCode>,
        settled: &mut Vec<Settled>,
    ) {
        let id = self.id(record.seq);
        let tp = record.tp;
        io.record(match result {
            Ok(offset) => Event::Produced {
                id,
                tp,
                offset,
                payload: record.payload.clone(),
            },
            Err(e) => Event::ProduceFailed { id, tp, error: e },
        });
        settled.push(Settled {
            sent: Sent {
                id,
                tp,
                payload: record.payload,
            },
            epoch: record.stamp.epoch,
            result,
        });
    }

    /// The broker's answer to the request for record `id`. Returns whether it was the
    /// answer to a request in flight (an answer to an attempt already given up on is
    /// ignored); if so a slot is free and the caller pumps.
    pub fn on_response(
        &mut self,
        io: &mut impl Io,
        id: RecordId,
        result: Result<i64, ErrorCode>,
        settled: &mut Vec<Settled>,
    ) -> bool {
        let Some(f) = self.in_flight.remove(&id.seq) else {
            return false;
        };
        match result {
            Ok(offset) => self.settle(io, f.record, Ok(offset), settled),
            Err(e) => self.failed(io, f.record, e, settled),
        }
        true
    }

    /// A retriable failure of `record`'s request: back off and send again, or give up.
    fn failed(&mut self, io: &mut impl Io, mut record: Record, e: ErrorCode, settled: &mut Vec<Settled>) {
        let now = io.now();
        let expired = now.saturating_sub(record.first_sent) >= Time::ms(self.cfg.delivery_timeout_ms);
        // not a RetriableException (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_SERVER_ERROR): the
        // record fails at once, as the Java producer's canRetry says
        let fatal = !e.is_retriable();
        if record.retries >= self.cfg.retries || expired || fatal {
            let e = if expired { ErrorCode::DeliveryTimedOut } else { e };
            return self.settle(io, record, Err(e), settled);
        }
        record.retries += 1;
        // exponential backoff with ±20 % jitter (KIP-580)
        let exp = backoff_ms(&self.cfg, record.retries);
        let jitter = io.rng().random_range(0.8..1.2);
        let retry_at = now + Time::us((exp as f64 * 1000.0 * jitter) as u64);
        io.record(Event::ProduceRetry {
            id: self.id(record.seq),
            tp: record.tp,
            error: e,
        });
        self.backoff.insert(record.seq, (record, retry_at));
        if e.invalidates_metadata() {
            self.metadata.wanted = true;
        }
        self.arm_retry_at(io, retry_at);
    }

    /// Retries after `retry.backoff.ms` (a metadata refresh that failed, or is wanted).
    fn arm_retry(&mut self, io: &mut impl Io) {
        let at = io.now() + Time::ms(self.cfg.retry_backoff_ms);
        self.arm_retry_at(io, at);
    }

    /// Makes sure a retry timer fires by `at` (an earlier one is kept; a later one is
    /// checked and ignored when it fires).
    fn arm_retry_at(&mut self, io: &mut impl Io, at: Time) {
        if self.retry_timer_at.is_none_or(|t| at < t) {
            self.retry_timer_at = Some(at);
            io.timer(at.saturating_sub(io.now()), ClientTimer::Retry);
        }
    }

    /// The retry timer fired: refresh metadata if wanted (the records wait for the answer:
    /// the leader may have moved), else send the records whose backoff is over.
    pub fn on_retry_timer(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        if self.retry_timer_at.is_some_and(|t| t > io.now()) {
            // an older, later timer: the earlier one took its place
            return;
        }
        self.retry_timer_at = None;
        if self.metadata.wanted {
            self.refresh_metadata(io);
        } else {
            self.retry_waiting(acc, io, settled);
        }
    }

    /// Puts the records whose backoff is over back into `acc` and sends what can go;
    /// re-arms the retry timer for the rest.
    pub fn retry_waiting(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        let now = io.now();
        let next = self.backoff.values().map(|(_, t)| *t).filter(|t| *t > now).min();
        let due: Vec<u32> = self
            .backoff
            .iter()
            .filter(|(_, (_, t))| *t <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let (record, _) = self.backoff.remove(&seq).expect("in backoff");
            acc.append(record);
        }
        self.pump(acc, io, settled);
        if let Some(t) = next {
            self.arm_retry_at(io, t);
        }
    }

    /// The connection to `broker` broke: its Metadata request is asked again after
    /// `retry.backoff.ms`, its requests in flight fail (`NETWORK_EXCEPTION`).
    pub fn on_disconnected(&mut self, io: &mut impl Io, broker: ActorId, settled: &mut Vec<Settled>) {
        if self.metadata.to == Some(broker) && self.metadata.deadline.is_some() {
            self.metadata.deadline = None;
            self.metadata.wanted = true;
            self.arm_retry(io);
        }
        let broken: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.to == broker)
            .map(|(s, _)| *s)
            .collect();
        for seq in broken {
            let f = self.in_flight.remove(&seq).expect("in flight");
            self.failed(io, f.record, ErrorCode::NetworkException, settled);
        }
    }

    /// The watchdog fired: a Metadata request past `request.timeout.ms` is sent again, Produce
    /// requests past it fail (`REQUEST_TIMED_OUT`); re-armed for the earliest deadline left.
    pub fn on_watchdog(&mut self, io: &mut impl Io, settled: &mut Vec<Settled>) {
        self.watchdog_armed = false;
        let now = io.now();
        if self.metadata.deadline.is_some_and(|d| d <= now) {
            self.metadata.deadline = None;
            self.refresh_metadata(io);
        }
        let due: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let f = self.in_flight.remove(&seq).expect("in flight");
            self.failed(io, f.record, ErrorCode::RequestTimedOut, settled);
        }
        let next = self
            .in_flight
            .values()
            .map(|f| f.deadline)
            .chain(self.metadata.deadline)
            .min();
        if let Some(next) = next {
            self.watchdog_armed = true;
            io.timer(next.saturating_sub(now), ClientTimer::ProduceWatchdog);
        }
    }
}

#[cfg(test)]
mod tests;
