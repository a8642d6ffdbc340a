//! The producer client: bootstrap, partition, send to the leader, retry, collect
//! acknowledgements.
//!
//! Reproduces what a producer process of the demos does: the constructor bootstraps (one
//! Metadata round trip — kafka-python's `KafkaProducer()` returns after it, and the demo
//! prints `link kafka ok.`), then `send()` per record, every `interval` apart, each choosing
//! its partition with the profile's partitioner ([`crate::partitioner`] for keys, a
//! [`NullKeyStrategy`] for null keys; an explicit partition always wins), and `flush()`: when
//! every record is acknowledged (or has failed) the process is done (`produce over.`).
//! `linger.ms=0`, so each record travels in its own Produce request, to the partition's
//! leader, several in flight (`max.in.flight.requests.per.connection=5` is not a limit the
//! scenarios reach).
//!
//! Delivery as the Java client and kafka-python ≥ 2.1 do it:
//! * `acks=0` — sent is done (offset −1); `acks=1`/`all` — the broker's answer decides;
//! * retriable errors (`NOT_LEADER_OR_FOLLOWER`, `NOT_ENOUGH_REPLICAS[_AFTER_APPEND]`,
//!   `OUT_OF_ORDER_SEQUENCE_NUMBER`, a request unanswered for `request.timeout.ms`) send the
//!   record again after an exponential backoff (`retry.backoff.ms` doubling up to
//!   `retry.backoff.max.ms`, ±20 % jitter: KIP-580), after a metadata refresh where the leader
//!   may have moved — up to `retries` times and within `delivery.timeout.ms` of the first send; then
//!   the record fails (`ProduceFailed`);
//! * with `enable.idempotence` every record carries the producer id (here: the producer's
//!   index) and a per-partition sequence number, so the leader drops a retried duplicate and
//!   refuses a record that overtook a missing one. Without it, a retry of a record whose
//!   first attempt was written but not acknowledged writes it twice.

use crate::cluster::ClusterState;
use crate::config::{NullKeyStrategy, ProducerConfig};
use crate::history::Event;
use crate::protocol::{Acks, ClientTimer, ErrorCode, Msg};
use crate::types::{Metadata, Payload, RecordId, Tp};
use rand::Rng;
use sim::{Actor, ActorId, Ctx, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a producer's records come from.
#[derive(Clone, Debug)]
pub enum Records {
    /// An explicit list: payload and optional explicit partition.
    List(Vec<(Payload, Option<u32>)>),
    /// `count` records; `{i}` in the templates is replaced by the record number (0-based).
    Generated {
        /// Number of records.
        count: u32,
        /// Key template; `None` = null keys.
        key: Option<String>,
        /// Value template.
        value: String,
    },
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> u32 {
        match self {
            Records::List(v) => v.len() as u32,
            Records::Generated { count, .. } => *count,
        }
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records a scenario's producer sends: its `messages`, or its `generate` templates.
    pub fn from_spec(p: &crate::scenario::ProducerSpec) -> Records {
        match &p.generate {
            Some(g) => Records::Generated {
                count: g.count,
                key: g.key.clone(),
                value: g.value.clone(),
            },
            None => Records::List(
                p.messages
                    .iter()
                    .map(|m| {
                        let (key, value) = (m.key.as_deref(), m.value.as_deref());
                        (
                            Payload::new(key.map(str::as_bytes), value.map(str::as_bytes)),
                            m.partition,
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Record `i` (0-based): its payload, and its explicit partition if it has one.
    pub fn get(&self, i: u32) -> (Payload, Option<u32>) {
        match self {
            Records::List(v) => v[i as usize].clone(),
            Records::Generated { key, value, .. } => {
                // key and value written one after the other into a buffer on the stack (on
                // the heap only when they are long)
                let mut buf = StackBuf::default();
                let key_len = key.as_deref().map(|k| fill(k, i, &mut buf));
                fill(value, i, &mut buf);
                let (k, v) = buf.bytes().split_at(key_len.unwrap_or(0));
                (Payload::new(key_len.map(|_| k), Some(v)), None)
            }
        }
    }
}

/// Bytes gathered on the stack, moved to the heap past 128.
struct StackBuf {
    stack: [u8; 128],
    len: usize,
    heap: Vec<u8>,
}

impl Default for StackBuf {
    fn default() -> Self {
        StackBuf {
            stack: [0; 128],
            len: 0,
            heap: Vec::new(),
        }
    }
}

impl StackBuf {
    fn push(&mut self, b: &[u8]) {
        if self.heap.is_empty() && self.len + b.len() <= self.stack.len() {
            self.stack[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.extend_from_slice(b);
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

/// Writes `template` with every `{i}` replaced by `i` (in decimal); returns the bytes written.
fn fill(template: &str, i: u32, out: &mut StackBuf) -> usize {
    let mut digits = [0u8; 10];
    let mut d = digits.len();
    let mut n = i;
    loop {
        d -= 1;
        digits[d] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &digits[d..];
    let t = template.as_bytes();
    let (mut from, mut at, mut written) = (0, 0, 0);
    while at + 3 <= t.len() {
        if &t[at..at + 3] == b"{i}" {
            out.push(&t[from..at]);
            out.push(digits);
            written += at - from + digits.len();
            at += 3;
            from = at;
        } else {
            at += 1;
        }
    }
    out.push(&t[from..]);
    written + t.len() - from
}

/// A record sent and not yet settled.
struct Pending {
    tp: Tp,
    payload: Payload,
    pseq: i32,
    pepoch: i32,
    first_sent: Time,
    /// When the request in flight times out; `None` while it waits to be sent again.
    deadline: Option<Time>,
    /// The broker the request in flight went to.
    sent_to: Option<ActorId>,
    /// Waiting out its backoff after a failure, until then.
    retry_at: Option<Time>,
    retries: u32,
}

/// A producer process.
pub struct Producer {
    index: u32,
    cfg: ProducerConfig,
    brokers: Vec<ActorId>,
    topic_name: Arc<str>,
    topic: u32,
    meta: Option<Arc<Metadata>>,
    cluster: Option<Arc<ClusterState>>,
    records: Records,
    interval: Time,
    sent: u32,
    settled: u32,
    acked: u32,
    /// Records sent and not yet settled, by send number.
    pending: BTreeMap<u32, Pending>,
    /// Next sequence number per partition (idempotence).
    sequences: BTreeMap<Tp, i32>,
    /// Producer epoch per partition (idempotence): bumped when a record fails, so the
    /// sequence can start again (KIP-360).
    epochs: BTreeMap<Tp, i32>,
    sticky: Option<(u32, usize, Time)>,
    /// The Metadata request in flight and when it times out.
    metadata_deadline: Option<Time>,
    /// The broker the Metadata request went to.
    metadata_to: Option<ActorId>,
    /// A refresh is due at the next retry (the last one failed).
    metadata_wanted: bool,
    next_bootstrap: usize,
    watchdog_armed: bool,
    /// When the armed retry timer fires.
    retry_timer_at: Option<Time>,
    /// Reused by [`Producer::pump`].
    scratch: Vec<(u32, Tp)>,
}

impl Producer {
    /// Producer number `index` of the scenario, sending `records` to `topic`; `brokers` is its
    /// bootstrap list (it bootstraps from the first).
    pub fn new(
        index: u32,
        cfg: ProducerConfig,
        brokers: Vec<ActorId>,
        topic: Arc<str>,
        records: Records,
        interval: Time,
    ) -> Producer {
        Producer {
            index,
            cfg,
            brokers,
            topic_name: topic,
            topic: 0,
            meta: None,
            cluster: None,
            records,
            interval,
            sent: 0,
            settled: 0,
            acked: 0,
            pending: BTreeMap::new(),
            sequences: BTreeMap::new(),
            epochs: BTreeMap::new(),
            sticky: None,
            metadata_deadline: None,
            metadata_to: None,
            metadata_wanted: false,
            next_bootstrap: 0,
            watchdog_armed: false,
            retry_timer_at: None,
            scratch: Vec::new(),
        }
    }

    fn partition(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        payload: &Payload,
        explicit: Option<u32>,
        n: u32,
    ) -> u32 {
        if let Some(p) = explicit {
            return p;
        }
        if let Some(key) = payload.key() {
            return self.cfg.key_hash.partition(key, n);
        }
        let now = ctx.now();
        match self.cfg.null_key {
            NullKeyStrategy::RandomPerRecord => ctx.rng().random_range(0..n),
            NullKeyStrategy::UniformSticky { batch_size } => {
                let size = payload.size_estimate();
                match &mut self.sticky {
                    Some((p, bytes, _)) if *bytes < batch_size => {
                        *bytes += size;
                        *p
                    }
                    _ => {
                        let p = ctx.rng().random_range(0..n);
                        self.sticky = Some((p, size, now));
                        p
                    }
                }
            }
            NullKeyStrategy::StickyLinger { linger_ms } => match self.sticky {
                Some((p, _, since)) if now < since + Time::ms(linger_ms) => p,
                _ => {
                    let p = ctx.rng().random_range(0..n);
                    self.sticky = Some((p, 0, now));
                    p
                }
            },
        }
    }

    fn refresh_metadata(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        if self.metadata_deadline.is_some() {
            return;
        }
        let to = self.brokers[self.next_bootstrap % self.brokers.len()];
        self.next_bootstrap += 1;
        ctx.send(to, Msg::MetadataReq);
        self.metadata_to = Some(to);
        self.metadata_wanted = false;
        self.metadata_deadline = Some(ctx.now() + Time::ms(self.cfg.request_timeout_ms));
        self.arm_watchdog(ctx);
    }

    fn arm_watchdog(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        if !self.watchdog_armed {
            self.watchdog_armed = true;
            ctx.timer(
                Time::ms(self.cfg.request_timeout_ms),
                Msg::ClientTimer(ClientTimer::ProduceWatchdog),
            );
        }
    }

    fn send_next(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let meta = self.meta.clone().expect("bootstrapped");
        let (payload, explicit) = self.records.get(self.sent);
        let p = self.partition(ctx, &payload, explicit, meta.partitions(self.topic));
        let tp = Tp::new(self.topic, p);
        let id = RecordId {
            producer: self.index,
            seq: self.sent,
        };
        ctx.record(Event::Send {
            id,
            tp,
            payload: payload.clone(),
        });
        let pseq = self.next_sequence(tp);
        let pepoch = self.epochs.get(&tp).copied().unwrap_or(0);
        self.pending.insert(
            id.seq,
            Pending {
                tp,
                payload,
                pseq,
                pepoch,
                first_sent: ctx.now(),
                deadline: None,
                sent_to: None,
                retry_at: None,
                retries: 0,
            },
        );
        self.sent += 1;
        self.pump(ctx);
        if self.sent < self.records.len() {
            ctx.timer(self.interval, Msg::ClientTimer(ClientTimer::SendNext));
        }
    }

    /// Sends what waits to be sent, oldest first, to each partition's leader, keeping at most
    /// `max.in.flight.requests.per.connection` requests in flight per broker (the rest queue,
    /// as batches wait in the accumulator).
    fn pump(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        // requests in flight per broker (by position in the bootstrap list; at most 64)
        let mut in_flight = [0u32; 64];
        let slot = |brokers: &[ActorId], to: ActorId| brokers.iter().position(|b| *b == to).unwrap_or(0);
        // idempotence keeps each partition in order: nothing overtakes a record that waits
        let mut blocked: Vec<Tp> = Vec::new();
        let mut waiting = std::mem::take(&mut self.scratch);
        waiting.clear();
        for (s, p) in &self.pending {
            match (p.deadline, p.sent_to) {
                (Some(_), Some(to)) => in_flight[slot(&self.brokers, to)] += 1,
                _ if self.cfg.idempotence && blocked.contains(&p.tp) => {}
                _ if p.retry_at.is_some() => blocked.push(p.tp),
                _ => waiting.push((*s, p.tp)),
            }
        }
        let mut leaderless = false;
        for &(seq, tp) in &waiting {
            if self.cfg.idempotence && blocked.contains(&tp) {
                continue;
            }
            let Some(leader) = self.cluster.as_ref().and_then(|c| c.leader_actor(tp)) else {
                leaderless = true;
                continue;
            };
            let n = &mut in_flight[slot(&self.brokers, leader)];
            if *n >= self.cfg.max_in_flight {
                blocked.push(tp);
                continue;
            }
            *n += 1;
            self.dispatch(ctx, seq, leader);
        }
        self.scratch = waiting;
        if leaderless {
            self.metadata_wanted = true;
            self.arm_retry(ctx);
        }
    }

    /// Sends record `seq` to `leader`.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, Msg, Event>, seq: u32, leader: ActorId) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        let id = RecordId {
            producer: self.index,
            seq,
        };
        let msg = Msg::ProduceReq {
            tp: p.tp,
            id,
            payload: p.payload.clone(),
            acks: self.cfg.acks,
            pseq: p.pseq,
            pepoch: p.pepoch,
        };
        ctx.send(leader, msg);
        p.sent_to = Some(leader);
        if self.cfg.acks == Acks::None {
            let p = self.pending.remove(&seq).expect("pending");
            self.settle(ctx, id, p.tp, Ok(-1), p.payload);
        } else {
            p.deadline = Some(ctx.now() + Time::ms(self.cfg.request_timeout_ms));
            self.arm_watchdog(ctx);
        }
    }

    fn next_sequence(&mut self, tp: Tp) -> i32 {
        if !self.cfg.idempotence {
            return -1;
        }
        let s = self.sequences.entry(tp).or_insert(0);
        *s += 1;
        *s - 1
    }

    /// A record of `tp` in epoch `pepoch` failed for good: its sequence number will never be
    /// written, so the partition starts a new epoch and the records not sent yet are numbered
    /// again from 0 (what the Java producer does since KIP-360).
    fn bump_epoch(&mut self, tp: Tp, pepoch: i32) {
        if !self.cfg.idempotence || self.epochs.get(&tp).copied().unwrap_or(0) != pepoch {
            return;
        }
        self.epochs.insert(tp, pepoch + 1);
        self.sequences.insert(tp, 0);
        let unsent: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.tp == tp && p.sent_to.is_none())
            .map(|(s, _)| *s)
            .collect();
        for seq in unsent {
            let pseq = self.next_sequence(tp);
            let p = self.pending.get_mut(&seq).expect("pending");
            p.pseq = pseq;
            p.pepoch = pepoch + 1;
        }
    }

    fn settle(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        id: RecordId,
        tp: Tp,
        r: Result<i64, ErrorCode>,
        payload: Payload,
    ) {
        match r {
            Ok(offset) => {
                self.acked += 1;
                ctx.record(Event::Produced {
                    id,
                    tp,
                    offset,
                    payload,
                });
            }
            Err(e) => ctx.record(Event::ProduceFailed { id, tp, error: e }),
        }
        self.settled += 1;
        if self.settled == self.records.len() {
            ctx.record(Event::ProducerDone { records: self.acked });
            ctx.record(Event::Closed);
        }
    }

    /// A retriable failure of record `seq`'s request.
    fn failed(&mut self, ctx: &mut Ctx<'_, Msg, Event>, seq: u32, e: ErrorCode) {
        let now = ctx.now();
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        let id = RecordId {
            producer: self.index,
            seq,
        };
        let expired = now.saturating_sub(p.first_sent) >= Time::ms(self.cfg.delivery_timeout_ms);
        let fatal = e == ErrorCode::OutOfOrderSequenceNumber;
        if p.retries >= self.cfg.retries || expired || fatal {
            let p = self.pending.remove(&seq).expect("pending");
            let e = if expired { ErrorCode::DeliveryTimedOut } else { e };
            self.bump_epoch(p.tp, p.pepoch);
            self.settle(ctx, id, p.tp, Err(e), p.payload);
            return;
        }
        p.retries += 1;
        p.deadline = None;
        // exponential backoff with ±20 % jitter (KIP-580): retry.backoff.ms doubling up to
        // retry.backoff.max.ms
        let exp = self
            .cfg
            .retry_backoff_ms
            .saturating_mul(1u64 << (p.retries - 1).min(20))
            .min(self.cfg.retry_backoff_max_ms.max(self.cfg.retry_backoff_ms));
        let jitter = ctx.rng().random_range(0.8..1.2);
        let retry_at = now + Time::us((exp as f64 * 1000.0 * jitter) as u64);
        let p = self.pending.get_mut(&seq).expect("pending");
        p.retry_at = Some(retry_at);
        let tp = p.tp;
        ctx.record(Event::ProduceRetry { id, tp, error: e });
        if matches!(
            e,
            ErrorCode::NotLeaderOrFollower | ErrorCode::RequestTimedOut | ErrorCode::NetworkException
        ) {
            self.metadata_wanted = true;
        }
        self.arm_retry_at(ctx, retry_at);
    }

    /// Retries after `retry.backoff.ms` (a metadata refresh that failed).
    fn arm_retry(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let at = ctx.now() + Time::ms(self.cfg.retry_backoff_ms);
        self.arm_retry_at(ctx, at);
    }

    /// Makes sure a retry timer fires by `at` (an earlier one is kept; a later one is
    /// checked and ignored when it fires).
    fn arm_retry_at(&mut self, ctx: &mut Ctx<'_, Msg, Event>, at: Time) {
        if self.retry_timer_at.is_none_or(|t| at < t) {
            self.retry_timer_at = Some(at);
            ctx.timer(at.saturating_sub(ctx.now()), Msg::ClientTimer(ClientTimer::Retry));
        }
    }

    /// Releases the records whose backoff is over and sends what can go; re-arms for the rest.
    fn retry_waiting(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let now = ctx.now();
        let mut next: Option<Time> = None;
        for p in self.pending.values_mut() {
            match p.retry_at {
                Some(t) if t <= now => p.retry_at = None,
                Some(t) => next = Some(next.map_or(t, |n| n.min(t))),
                None => {}
            }
        }
        self.pump(ctx);
        if let Some(t) = next {
            self.arm_retry_at(ctx, t);
        }
    }

    fn on_watchdog(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        self.watchdog_armed = false;
        let now = ctx.now();
        if self.metadata_deadline.is_some_and(|d| d <= now) {
            self.metadata_deadline = None;
            self.refresh_metadata(ctx);
        }
        let due: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            self.failed(ctx, seq, ErrorCode::RequestTimedOut);
        }
        let next = self
            .pending
            .values()
            .filter_map(|p| p.deadline)
            .chain(self.metadata_deadline)
            .min();
        if let Some(next) = next {
            self.watchdog_armed = true;
            ctx.timer(
                next.saturating_sub(now),
                Msg::ClientTimer(ClientTimer::ProduceWatchdog),
            );
        }
    }
}

impl Actor<Msg, Event> for Producer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        match msg {
            Msg::Start => {
                self.refresh_metadata(ctx);
            }
            Msg::MetadataResp(meta, cluster) => {
                self.metadata_deadline = None;
                if self.cluster.as_ref().is_none_or(|c| c.version <= cluster.version) {
                    self.cluster = Some(cluster);
                }
                if self.meta.is_some() {
                    return self.retry_waiting(ctx);
                }
                self.topic = meta
                    .topic_index(&self.topic_name)
                    .expect("scenario validation checked the topic exists");
                self.meta = Some(meta);
                ctx.record(Event::Connected);
                if self.records.is_empty() {
                    ctx.record(Event::ProducerDone { records: 0 });
                    ctx.record(Event::Closed);
                } else {
                    self.send_next(ctx);
                }
            }
            Msg::ClientTimer(ClientTimer::SendNext) => self.send_next(ctx),
            Msg::ClientTimer(ClientTimer::Retry) => {
                if self.retry_timer_at.is_some_and(|t| t > ctx.now()) {
                    // an older, later timer: the earlier one took its place
                    return;
                }
                self.retry_timer_at = None;
                if self.metadata_wanted {
                    // the records wait for the answer: the leader may have moved
                    self.refresh_metadata(ctx);
                } else {
                    self.retry_waiting(ctx);
                }
            }
            Msg::Disconnected => {
                if self.metadata_to == Some(from) && self.metadata_deadline.is_some() {
                    self.metadata_deadline = None;
                    self.metadata_wanted = true;
                    self.arm_retry(ctx);
                }
                let broken: Vec<u32> = self
                    .pending
                    .iter()
                    .filter(|(_, p)| p.deadline.is_some() && p.sent_to == Some(from))
                    .map(|(s, _)| *s)
                    .collect();
                for seq in broken {
                    self.failed(ctx, seq, ErrorCode::NetworkException);
                }
            }
            Msg::ClientTimer(ClientTimer::ProduceWatchdog) => self.on_watchdog(ctx),
            Msg::ProduceResp { tp, id, result } => {
                if self.pending.get(&id.seq).is_none_or(|p| p.deadline.is_none()) {
                    // an answer to an attempt already given up on
                    return;
                }
                match result {
                    Ok(offset) => {
                        let p = self.pending.remove(&id.seq).expect("pending");
                        self.settle(ctx, id, tp, Ok(offset), p.payload);
                    }
                    Err(e) => self.failed(ctx, id.seq, e),
                }
                // a slot is free
                self.pump(ctx);
            }
            Msg::Close => {}
            other => panic!("producer got an unexpected message: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(key: Option<&str>, value: &str) -> Records {
        Records::Generated {
            count: 1_000_000,
            key: key.map(str::to_string),
            value: value.to_string(),
        }
    }

    #[test]
    fn generated_records_fill_every_placeholder() {
        let (p, part) = generated(Some("k{i}-{i}"), "value {i}!").get(4_294_967_295);
        assert_eq!(part, None);
        assert_eq!(p.key(), Some(&b"k4294967295-4294967295"[..]));
        assert_eq!(p.value(), Some(&b"value 4294967295!"[..]));
        let (p, _) = generated(None, "v").get(7);
        assert_eq!((p.key(), p.value()), (None, Some(&b"v"[..])));
        let (p, _) = generated(Some(""), "{i}").get(0);
        assert_eq!((p.key(), p.value()), (Some(&b""[..]), Some(&b"0"[..])));
        // longer than the stack buffer: the same bytes, from the heap
        let long = "x".repeat(200) + "{i}";
        let (p, _) = generated(Some(&long), &long).get(12);
        let want = "x".repeat(200) + "12";
        assert_eq!(
            (p.key(), p.value()),
            (Some(want.as_bytes()), Some(want.as_bytes()))
        );
    }
}
