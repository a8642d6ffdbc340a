//! The sender: Produce requests in flight to each broker, retries, metadata, timeouts.
//!
//! Reproduces the producer's `Sender` thread (Java `Sender.sendProducerData` and
//! `RecordAccumulator.drain`, kafka-python's `Sender._send_producer_data`):
//! * it wakes when something may be ready — after every input the producer handles, and at
//!   the instant the accumulator says the next batch becomes ready (one `linger.ms` timer);
//! * the ready batches go to their partitions' leaders in the metadata the producer has, one
//!   Produce request per broker carrying one batch per partition, the partitions taken in
//!   turn from a start that moves on after each request (Java's `drainIndex`), up to
//!   `max.request.size` (the first batch always goes), while fewer than
//!   `max.in.flight.requests.per.connection` requests are in flight to that broker; with
//!   `enable.idempotence` nothing of a partition overtakes a batch of it that waits out a
//!   backoff; kafka-python with idempotence (or with one request in flight per connection,
//!   `guarantee_message_order`) mutes a partition while a batch of it is in flight;
//! * `acks=0` — sent is done (offset −1); `acks=1`/`all` — the broker's answer for each batch
//!   decides for its records, which take consecutive offsets from the batch's base offset;
//! * retriable errors (`NOT_LEADER_OR_FOLLOWER`, `NOT_ENOUGH_REPLICAS[_AFTER_APPEND]`, a
//!   broken connection, a request unanswered for `request.timeout.ms`) send the whole batch
//!   again after an exponential backoff (`retry.backoff.ms` doubling up to
//!   `retry.backoff.max.ms`, ±20 % jitter drawn from the producer's seeded stream: KIP-580),
//!   after a metadata refresh where the leader may have moved — up to `retries` times and
//!   within `delivery.timeout.ms` of the oldest record's `send()`; then its records fail
//!   (`DELIVERY_TIMEOUT` once the delivery timeout passed); `OUT_OF_ORDER_SEQUENCE_NUMBER`
//!   fails them at once;
//! * Metadata goes to the bootstrap brokers in turn; an unanswered request is sent again after
//!   `request.timeout.ms`, one lost with its connection after `retry.backoff.ms`;
//! * one watchdog timer for the earliest `request.timeout.ms` deadline, one retry timer for
//!   the earliest end of a backoff (a later timer is checked and ignored when it fires).
//!
//! Without idempotence a retry of a batch whose first attempt was written but not
//! acknowledged writes it twice: the broker tells the attempts apart only by sequence number.

use super::accumulator::{Accumulator, Batch};
use super::app::Sent;
use super::io::Io;
use crate::cluster::ClusterState;
use crate::config::ProducerConfig;
use crate::history::Event;
use crate::protocol::{Acks, ClientTimer, ErrorCode, Msg, ProduceBatch};
use crate::types::{LogRecord, RecordId, Tp};
use rand::Rng;
use sim::{ActorId, Time};
use std::collections::{BTreeMap, BTreeSet};
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

/// A batch in flight.
#[derive(Clone, Debug)]
struct InFlight {
    batch: Batch,
    /// The request that carries it.
    request: u64,
}

/// A Produce request in flight.
#[derive(Clone, Debug)]
struct Request {
    /// The broker it went to.
    to: ActorId,
    /// When it times out.
    deadline: Time,
    /// Its batches not answered yet.
    pending: u32,
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
    /// Batches in flight, by the send number of their first record.
    in_flight: BTreeMap<u32, InFlight>,
    /// Requests in flight, by number.
    requests: BTreeMap<u64, Request>,
    next_request: u64,
    /// Batches waiting out their backoff, by first send number, with its end.
    backoff: BTreeMap<u32, (Batch, Time)>,
    metadata: MetadataState,
    watchdog_armed: bool,
    /// When the armed retry timer fires.
    retry_timer_at: Option<Time>,
    /// When the armed linger timer fires.
    linger_timer_at: Option<Time>,
    /// Per broker, the partition the next request starts its round from.
    drain_start: BTreeMap<ActorId, Tp>,
    /// One batch in flight per partition (kafka-python's `guarantee_message_order`).
    mute: bool,
    /// A transactional producer's gate: its producer id, and the partitions of the open
    /// transaction (only their records are sent; see [`Sender::set_gate`]).
    gate: Option<(i64, BTreeSet<Tp>)>,
}

impl Sender {
    /// The sender of producer number `producer`, bootstrapping from `brokers` in turn.
    pub fn new(producer: u32, cfg: ProducerConfig, brokers: Vec<ActorId>) -> Sender {
        Sender {
            producer,
            mute: cfg.mutes_partitions(),
            cfg,
            brokers,
            cluster: None,
            in_flight: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_request: 0,
            backoff: BTreeMap::new(),
            metadata: MetadataState::default(),
            watchdog_armed: false,
            retry_timer_at: None,
            linger_timer_at: None,
            drain_start: BTreeMap::new(),
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
        let flying: usize = self.in_flight.values().map(|f| f.batch.records.len()).sum();
        flying + self.backoff.values().map(|(b, _)| b.records.len()).sum::<usize>()
    }

    /// The sender holds no record.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.backoff.is_empty()
    }

    /// Produce requests in flight to `broker`.
    pub fn in_flight_to(&self, broker: ActorId) -> u32 {
        self.requests.values().filter(|r| r.to == broker).count() as u32
    }

    /// A transactional producer: only records of `open` partitions (those in its open
    /// transaction) are sent, tagged with `producer_id` and their epoch.
    pub fn set_gate(&mut self, producer_id: i64, open: BTreeSet<Tp>) {
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
        for batch in acc.take_all() {
            self.settle_batch(io, batch, Err(e), settled);
        }
        for (_, (batch, _)) in std::mem::take(&mut self.backoff) {
            self.settle_batch(io, batch, Err(e), settled);
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

    /// Sends the batches ready in `acc`, one request per broker at a time, while the broker
    /// takes more requests; a partition without a known leader waits for a metadata refresh.
    /// Arms the linger timer for the next batch to become ready. Records settled at once
    /// (`acks=0`) go to `settled`.
    pub fn pump(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        let now = io.now();
        while acc.has_ready(now) && self.drain_once(acc, io, settled) {}
        if let Some(at) = acc.next_ready_after(now) {
            if self.linger_timer_at.is_none_or(|t| at < t) {
                self.linger_timer_at = Some(at);
                io.timer(at.saturating_sub(now), ClientTimer::Linger);
            }
        }
    }

    /// The ready partitions that may go now, by leader, and whether a ready partition has no
    /// known leader.
    fn sendable(&self, acc: &Accumulator, now: Time) -> (BTreeMap<ActorId, Vec<Tp>>, bool) {
        let mut by_leader: BTreeMap<ActorId, Vec<Tp>> = BTreeMap::new();
        let mut leaderless = false;
        for tp in acc.ready(now) {
            if self.gate.as_ref().is_some_and(|(_, open)| !open.contains(&tp)) {
                continue;
            }
            // idempotence keeps each partition in order: nothing overtakes a batch that waits
            if self.cfg.idempotence
                && !self.backoff.is_empty()
                && self.backoff.values().any(|(b, _)| b.tp == tp)
            {
                continue;
            }
            match self.cluster.as_ref().and_then(|c| c.leader_actor(tp)) {
                Some(leader) => by_leader.entry(leader).or_default().push(tp),
                None => leaderless = true,
            }
        }
        (by_leader, leaderless)
    }

    /// One request to each broker that takes one and has ready batches; whether any went.
    fn drain_once(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) -> bool {
        let now = io.now();
        let (by_leader, leaderless) = self.sendable(acc, now);
        if leaderless {
            self.metadata.wanted = true;
            self.arm_retry(io);
        }
        let mut sent = false;
        for (to, mut tps) in by_leader {
            if self.in_flight_to(to) >= self.cfg.max_in_flight {
                continue;
            }
            // round robin: from the partition after the last request's last one
            tps.sort_unstable();
            if let Some(start) = self.drain_start.get(&to) {
                let at = tps.partition_point(|tp| tp <= start);
                tps.rotate_left(at);
            }
            let mut batches = Vec::new();
            let mut size = 0;
            for tp in tps {
                let bytes = acc.first_bytes(tp).expect("a ready partition has a batch");
                if !batches.is_empty() && size + bytes > self.cfg.max_request_size {
                    break;
                }
                size += bytes;
                batches.push(acc.drain(tp).expect("a ready partition has a batch"));
                self.drain_start.insert(to, tp);
            }
            self.dispatch(acc, io, to, batches, settled);
            sent = true;
        }
        sent
    }

    /// Sends `batches` to `to` in one Produce request.
    fn dispatch(
        &mut self,
        acc: &mut Accumulator,
        io: &mut impl Io,
        to: ActorId,
        mut batches: Vec<Batch>,
        settled: &mut Vec<Settled>,
    ) {
        let wire = batches
            .iter()
            .map(|b| ProduceBatch {
                tp: b.tp,
                records: b
                    .records
                    .iter()
                    .map(|r| LogRecord {
                        id: self.id(r.seq),
                        payload: r.payload.clone(),
                    })
                    .collect(),
                base_seq: b.records[0].stamp.seq,
                pepoch: b.records[0].stamp.epoch,
            })
            .collect();
        let msg = Msg::ProduceReq {
            batches: wire,
            acks: self.cfg.acks,
            txn: self.gate.as_ref().map(|(pid, _)| *pid),
        };
        io.send(to, msg);
        for b in &mut batches {
            for r in &mut b.records {
                r.sent = true;
            }
        }
        if self.cfg.acks == Acks::None {
            for b in batches {
                self.settle_batch(io, b, Ok(-1), settled);
            }
            return;
        }
        let request = self.next_request;
        self.next_request += 1;
        let deadline = io.now() + Time::ms(self.cfg.request_timeout_ms);
        let pending = batches.len() as u32;
        self.requests.insert(
            request,
            Request {
                to,
                deadline,
                pending,
            },
        );
        for batch in batches {
            if self.mute {
                acc.mute(batch.tp, true);
            }
            self.in_flight
                .insert(batch.first_seq(), InFlight { batch, request });
        }
        self.arm_watchdog(io);
    }

    /// Settles every record of `batch`: acknowledged at consecutive offsets from `result`'s
    /// base offset (−1 for all with acks=0), or failed.
    fn settle_batch(
        &mut self,
        io: &mut impl Io,
        batch: Batch,
        result: Result<i64, ErrorCode>,
        settled: &mut Vec<Settled>,
    ) {
        let first = self.id(batch.first_seq());
        for (i, record) in batch.records.into_iter().enumerate() {
            let result = result.map(|base| if base < 0 { base } else { base + i as i64 });
            let id = self.id(record.seq);
            let tp = record.tp;
            io.record(match result {
                Ok(offset) => Event::Produced {
                    id,
                    tp,
                    offset,
                    payload: record.payload.clone(),
                    batch: Some(first),
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
    }

    /// Takes batch `seq` out of flight: its request has one answer fewer to wait for, its
    /// partition is unmuted.
    fn land(&mut self, acc: &mut Accumulator, seq: u32) -> Option<Batch> {
        let f = self.in_flight.remove(&seq)?;
        if let Some(r) = self.requests.get_mut(&f.request) {
            r.pending -= 1;
            if r.pending == 0 {
                self.requests.remove(&f.request);
            }
        }
        if self.mute {
            acc.mute(f.batch.tp, false);
        }
        Some(f.batch)
    }

    /// The broker's answer for the batch whose first record is `id`. Returns whether it was
    /// the answer to a batch in flight (an answer to an attempt already given up on is
    /// ignored); if so the caller pumps.
    pub fn on_response(
        &mut self,
        acc: &mut Accumulator,
        io: &mut impl Io,
        id: RecordId,
        result: Result<i64, ErrorCode>,
        settled: &mut Vec<Settled>,
    ) -> bool {
        let Some(batch) = self.land(acc, id.seq) else {
            return false;
        };
        match result {
            Ok(base) => self.settle_batch(io, batch, Ok(base), settled),
            Err(e) => self.failed(io, batch, e, settled),
        }
        true
    }

    /// A retriable failure of `batch`'s request: back off and send it again, or give up.
    fn failed(&mut self, io: &mut impl Io, mut batch: Batch, e: ErrorCode, settled: &mut Vec<Settled>) {
        let now = io.now();
        let expired = now.saturating_sub(batch.first_sent()) >= Time::ms(self.cfg.delivery_timeout_ms);
        // not a RetriableException (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_SERVER_ERROR): the
        // batch fails at once, as the Java producer's canRetry says
        let fatal = !e.is_retriable();
        if batch.retries >= self.cfg.retries || expired || fatal {
            let e = if expired { ErrorCode::DeliveryTimedOut } else { e };
            return self.settle_batch(io, batch, Err(e), settled);
        }
        batch.retries += 1;
        // exponential backoff with ±20 % jitter (KIP-580); kafka-python's accumulator waits
        // a constant retry_backoff_ms, no jitter, and draws nothing
        let exp = backoff_ms(&self.cfg, batch.retries);
        let jitter = if self.cfg.retry_jitter {
            io.rng().random_range(0.8..1.2)
        } else {
            1.0
        };
        let retry_at = now + Time::us((exp as f64 * 1000.0 * jitter) as u64);
        for r in &batch.records {
            io.record(Event::ProduceRetry {
                id: self.id(r.seq),
                tp: r.tp,
                error: e,
            });
        }
        self.backoff.insert(batch.first_seq(), (batch, retry_at));
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

    /// The linger timer fired: send what is ready (a timer replaced by a sooner one is
    /// ignored).
    pub fn on_linger_timer(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        if self.linger_timer_at.is_some_and(|t| t > io.now()) {
            return;
        }
        self.linger_timer_at = None;
        self.pump(acc, io, settled);
    }

    /// The retry timer fired: refresh metadata if wanted (the batches wait for the answer:
    /// the leader may have moved), else send the batches whose backoff is over.
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

    /// Puts the batches whose backoff is over back into `acc` and sends what can go;
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
            let (batch, _) = self.backoff.remove(&seq).expect("in backoff");
            acc.reenqueue(batch);
        }
        self.pump(acc, io, settled);
        if let Some(t) = next {
            self.arm_retry_at(io, t);
        }
    }

    /// The connection to `broker` broke: its Metadata request is asked again after
    /// `retry.backoff.ms`, its requests in flight fail (`NETWORK_EXCEPTION`).
    pub fn on_disconnected(
        &mut self,
        acc: &mut Accumulator,
        io: &mut impl Io,
        broker: ActorId,
        settled: &mut Vec<Settled>,
    ) {
        if self.metadata.to == Some(broker) && self.metadata.deadline.is_some() {
            self.metadata.deadline = None;
            self.metadata.wanted = true;
            self.arm_retry(io);
        }
        let broken: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| self.requests.get(&f.request).is_some_and(|r| r.to == broker))
            .map(|(s, _)| *s)
            .collect();
        for seq in broken {
            let batch = self.land(acc, seq).expect("in flight");
            self.failed(io, batch, ErrorCode::NetworkException, settled);
        }
    }

    /// The watchdog fired: a Metadata request past `request.timeout.ms` is sent again, Produce
    /// requests past it fail (`REQUEST_TIMED_OUT`); re-armed for the earliest deadline left.
    pub fn on_watchdog(&mut self, acc: &mut Accumulator, io: &mut impl Io, settled: &mut Vec<Settled>) {
        self.watchdog_armed = false;
        let now = io.now();
        if self.metadata.deadline.is_some_and(|d| d <= now) {
            self.metadata.deadline = None;
            self.refresh_metadata(io);
        }
        let due: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| self.requests.get(&f.request).is_some_and(|r| r.deadline <= now))
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let batch = self.land(acc, seq).expect("in flight");
            self.failed(io, batch, ErrorCode::RequestTimedOut, settled);
        }
        let next = self
            .requests
            .values()
            .map(|r| r.deadline)
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
