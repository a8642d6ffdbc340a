//! The producer client: bootstrap, partition, send to the leader, retry, collect
//! acknowledgements — around an application that decides what to send.
//!
//! Reproduces a producer process of the demos and of the Java, kafka-python and librdkafka
//! clients: the constructor bootstraps (one Metadata round trip — kafka-python's
//! `KafkaProducer()` returns after it, and the demo prints `link kafka ok.`), then the
//! application calls `send()` per record and gets a callback per record; when it is done
//! and every record is acknowledged (or has failed) the producer flushes and closes
//! (`produce over.`). The parts:
//! * [`app`]: the application ([`ProducerApp`]) — the scenario's scripted records
//!   ([`ScriptedProducer`]) or a consumer process's [`Companion`], which sends what an
//!   application in the consumer hands over (`Msg::AppProduce`, consume–transform–produce);
//! * [`accumulator`]: the partitioner and the batches that wait to be sent, per partition;
//! * [`sender`]: requests in flight per broker, retries with backoff, metadata, timeouts;
//! * [`idempotence`]: producer id, epochs and sequence numbers (KIP-360);
//! * [`transaction`]: with `transactional.id`, the transaction manager (KIP-98, KIP-447,
//!   KIP-890): the producer initialises transactions before its application is first asked,
//!   sends a partition's records only once the partition is in the open transaction, and
//!   takes the transaction calls of its own application ([`ProducerCtx`]) or of the
//!   application of its consumer process (`Msg::AppTxn`, answered with `Msg::AppTxnDone`);
//! * [`io`]: how the parts' outputs reach the engine, in order.
//!
//! The sender wakes after every input the producer handles (what the input made ready goes
//! at once) and when a batch's `linger.ms` ends — except in kafka-python, whose sender is a
//! thread of its own racing the application's `send()` calls. The rule: a kafka-python
//! application that sends its next record at the same instant (a loop of `send()` calls, the
//! demos' producers) holds the sender back until it stops; before each such `send()`, if a
//! batch is ready, the sender thread has run since the previous `send()` with probability
//! [`SENDER_THREAD_RAN`] (a coin from the producer's seeded stream) and drains what is ready
//! then, so the record starts a new batch behind the one in flight (its partition muted).
//! Two records of one partition with one other `send()` between them travel in one batch
//! when neither of the two `send()`s after the first found the sender run: (3/4)² = 9/16,
//! as measured against the real kafka-python 3.0.12 running demo3 (partition 1's two records
//! as one batch in 9 of 16 runs).
//!
//! A producer may write to several topics (records handed over name theirs); the scenario's
//! producers write to their own topic. `Close` changes nothing (the producer closes itself
//! when its application is done). A transactional producer shares its process's crash and
//! restart: everything in memory is lost, and the new instance initialises transactions
//! again (fencing what the old one left open).

pub mod accumulator;
pub mod app;
pub mod idempotence;
pub mod io;
pub mod scripted;
pub mod sender;
pub mod transaction;
pub mod transactional;

pub use app::{Next, OutRecord, ProducerApp, ProducerCtx, ProducerOp, Sent};
pub use scripted::{Companion, Records, ScriptedProducer};

use crate::config::ProducerConfig;
use crate::history::Event;
use crate::protocol::{ClientTimer, ErrorCode, Msg, TxnCall};
use crate::types::{Metadata, Payload, RecordId, Tp};
use accumulator::{Accumulator, Partitioner, Record};
use idempotence::Idempotence;
use io::Io;
use rand::Rng;
use sender::{Sender, Settled};
use sim::{Actor, ActorId, Ctx, Time};
use std::sync::Arc;
use transaction::{TransactionManager, TxnPhase};

/// Probability that kafka-python's sender thread ran between two `send()` calls of the
/// same instant (see the module doc): calibrated so that (1 − p)² = 9/16.
pub const SENDER_THREAD_RAN: f64 = 0.25;

/// Where the producer is with asking its application.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Asking {
    /// Not bootstrapped yet.
    Idle,
    /// Asking now.
    Now,
    /// A timer will ask, at the instant given.
    Timer(Time),
    /// An acknowledgement, failure or handed-over record will ask.
    Wait,
    /// The application is done.
    Done,
}

/// A producer process.
pub struct Producer {
    index: u32,
    app: Box<dyn ProducerApp>,
    /// The topic of records that name none, and its index once bootstrapped.
    topic: Option<(Arc<str>, u32)>,
    meta: Option<Arc<Metadata>>,
    acc: Accumulator,
    sender: Sender,
    idempotence: Idempotence,
    asking: Asking,
    /// Records handed over before the producer was bootstrapped.
    held: Vec<ProducerOp>,
    sent: u32,
    settled: u32,
    acked: u32,
    closed: bool,
    cfg: ProducerConfig,
    brokers: Vec<ActorId>,
    /// With `transactional.id`.
    txn: Option<TransactionManager>,
    /// The consumer process's application that called the transaction API last (answered
    /// with `Msg::AppTxnDone`).
    txn_caller: Option<ActorId>,
    crashed: bool,
}

impl Producer {
    /// Producer number `index` of the scenario, sending `records` to `topic`, one every
    /// `interval`; `brokers` is its bootstrap list (it bootstraps from the first).
    pub fn new(
        index: u32,
        cfg: ProducerConfig,
        brokers: Vec<ActorId>,
        topic: Arc<str>,
        records: Records,
        interval: Time,
    ) -> Producer {
        let app = ScriptedProducer::new(records, interval);
        Producer::with_app(index, cfg, brokers, Some(topic), Box::new(app))
    }

    /// A producer whose application is `app`; records that name no topic go to `topic`.
    /// `index` is its producer number in record ids (unique among the run's producers).
    pub fn with_app(
        index: u32,
        cfg: ProducerConfig,
        brokers: Vec<ActorId>,
        topic: Option<Arc<str>>,
        app: Box<dyn ProducerApp>,
    ) -> Producer {
        Producer {
            index,
            app,
            topic: topic.map(|t| (t, 0)),
            meta: None,
            acc: Accumulator::new(Partitioner::new(cfg.key_hash, cfg.null_key), cfg.batching()),
            idempotence: Idempotence::new(cfg.idempotence),
            sender: Sender::new(index, cfg.clone(), brokers.clone()),
            asking: Asking::Idle,
            held: Vec::new(),
            sent: 0,
            settled: 0,
            acked: 0,
            closed: false,
            txn: cfg
                .transactional_id
                .is_some()
                .then(|| TransactionManager::new(&cfg, brokers.clone())),
            txn_caller: None,
            crashed: false,
            cfg,
            brokers,
        }
    }

    /// The producer of a consumer process: sends only the records an application in the
    /// consumer hands over with `Msg::AppProduce`, to the topic each names, and never closes
    /// by itself. Start it with `Msg::Start` like any producer.
    pub fn companion(index: u32, cfg: ProducerConfig, brokers: Vec<ActorId>) -> Producer {
        Producer::with_app(index, cfg, brokers, None, Box::new(Companion))
    }

    /// The first Metadata answer: the producer is connected and asks its application.
    fn connected(&mut self, io: &mut impl Io, meta: Arc<Metadata>) {
        if let Some((name, index)) = &mut self.topic {
            *index = meta
                .topic_index(name)
                .expect("scenario validation checked the topic exists");
        }
        self.meta = Some(meta);
        io.record(Event::Connected);
        if let Some(txn) = &mut self.txn {
            // initTransactions(): the application is asked once it completes
            txn.init(io);
            return;
        }
        let held = std::mem::take(&mut self.held);
        self.run_ops(io, held);
        self.ask(io);
        if !(self.cfg.python_sender && self.asking == Asking::Timer(io.now())) {
            self.pump(io);
        }
    }

    /// Asks the application until it sends nothing more now.
    fn ask(&mut self, io: &mut impl Io) {
        self.asking = Asking::Now;
        loop {
            let mut ctx = ProducerCtx::new(io.now());
            let next = self.app.next(&mut ctx);
            self.run_ops(io, ctx.into_ops());
            match next {
                Next::Send(record) => self.send(io, record),
                Next::At(at) => {
                    self.asking = Asking::Timer(at);
                    io.timer(at.saturating_sub(io.now()), ClientTimer::SendNext);
                    return;
                }
                Next::Wait => {
                    self.asking = Asking::Wait;
                    return;
                }
                Next::Done => {
                    self.asking = Asking::Done;
                    return self.close_if_done(io);
                }
            }
        }
    }

    /// `send()`: partitions `record`, numbers it and hands it to the sender.
    fn send(&mut self, io: &mut impl Io, record: OutRecord) {
        let meta = self.meta.clone().expect("bootstrapped");
        let topic = match &record.topic {
            Some(name) => meta
                .topic_index(name)
                .expect("scenario validation checked the topic exists"),
            None => {
                self.topic
                    .as_ref()
                    .expect("a record names its topic, or the producer has one")
                    .1
            }
        };
        let now = io.now();
        let partition = self.acc.partitioner().partition(
            io.rng(),
            now,
            topic,
            meta.partitions(topic),
            &record.payload,
            record.partition,
        );
        let tp = Tp::new(topic, partition);
        let id = RecordId {
            producer: self.index,
            seq: self.sent,
        };
        io.record(Event::Send {
            id,
            tp,
            payload: record.payload.clone(),
        });
        if let Some(txn) = &mut self.txn {
            if !txn.sends_records() {
                // Java: "Cannot call send in state …" (no transaction open)
                let error = ErrorCode::InvalidTxnState;
                io.record(Event::ProduceFailed { id, tp, error });
                self.sent += 1;
                let sent = Sent {
                    id,
                    tp,
                    payload: record.payload,
                };
                let epoch = self.idempotence.epoch(tp);
                return self.settle(
                    io,
                    vec![Settled {
                        sent,
                        epoch,
                        result: Err(error),
                    }],
                );
            }
            txn.on_record(io, tp);
        }
        if self.cfg.python_sender && self.acc.has_ready(now) && io.rng().random_bool(SENDER_THREAD_RAN) {
            // kafka-python's sender thread ran since the last send() (module doc)
            self.pump(io);
        }
        let record = Record {
            seq: id.seq,
            tp,
            payload: record.payload,
            stamp: self.idempotence.stamp(tp),
            first_sent: now,
            sent: false,
        };
        self.acc.append(now, record);
        self.sent += 1;
    }

    /// Sends what can go, and settles what that settled (until sending settles nothing:
    /// acks=0 settles at once, and the application may send more). While the application
    /// is done (`flush()`, `close()`) or a transaction commits, every batch is ready.
    fn pump(&mut self, io: &mut impl Io) {
        loop {
            let committing = self
                .txn
                .as_ref()
                .is_some_and(|t| matches!(t.phase(), TxnPhase::Committing));
            self.acc.set_flushing(self.asking == Asking::Done || committing);
            let mut settled = Vec::new();
            self.sender.pump(&mut self.acc, io, &mut settled);
            if settled.is_empty() {
                return;
            }
            self.settle(io, settled);
        }
    }

    /// Records the sender is done with: a failure bumps its partition's epoch (KIP-360),
    /// each goes back to the application, whose new records are sent; then the producer
    /// closes if that was the last.
    fn settle(&mut self, io: &mut impl Io, settled: Vec<Settled>) {
        if settled.is_empty() {
            return;
        }
        let mut ctx = ProducerCtx::new(io.now());
        for s in &settled {
            self.settled += 1;
            match s.result {
                Ok(offset) => {
                    self.acked += 1;
                    self.app.on_ack(&mut ctx, &s.sent, offset);
                }
                Err(e) => {
                    let tp = s.sent.tp;
                    match &mut self.txn {
                        // an abortable (or fatal) error of the transaction, not an epoch bump
                        Some(txn) => txn.on_record_failed(io, e),
                        None => {
                            self.idempotence.bump(tp, s.epoch, self.acc.unsent_stamps(tp));
                        }
                    }
                    self.app.on_failed(&mut ctx, &s.sent, e);
                }
            }
        }
        self.run_ops(io, ctx.into_ops());
        self.after_txn(io);
        if self.asking == Asking::Wait {
            self.ask(io);
        }
        self.close_if_done(io);
    }

    /// `flush()` and `close()` once the application is done and nothing is outstanding.
    fn close_if_done(&mut self, io: &mut impl Io) {
        if self.asking == Asking::Done && self.settled == self.sent && !self.closed {
            self.closed = true;
            io.record(Event::ProducerDone { records: self.acked });
            io.record(Event::Closed);
        }
    }

    /// Carries out what the application asked for, in order.
    fn run_ops(&mut self, io: &mut impl Io, ops: Vec<ProducerOp>) {
        for op in ops {
            match op {
                ProducerOp::Send(record) => self.send(io, record),
                ProducerOp::Txn(call) => self.txn_call(io, call),
            }
        }
    }

    /// Whether the producer takes records and calls: bootstrapped, and transactions
    /// initialised (before, what a consumer process hands over waits).
    fn open(&self) -> bool {
        self.meta.is_some() && self.txn.as_ref().is_none_or(|t| t.is_ready())
    }

    /// A transaction call of the application (its own, or its consumer process's).
    fn txn_call(&mut self, io: &mut impl Io, call: TxnCall) {
        if !self.open()
            && self
                .txn
                .as_ref()
                .is_some_and(|t| !matches!(t.phase(), TxnPhase::Fatal(_)))
        {
            return self.held.push(ProducerOp::Txn(call));
        }
        // the sender thread, woken by the sends before this call, drains what is ready (past
        // linger.ms) before the call reaches it: only batches still lingering are undrained
        // when an abort fails them (Java's abortUndrainedBatches)
        self.pump(io);
        let flushed = self.settled == self.sent;
        let cluster = self.sender.cluster().cloned();
        match &mut self.txn {
            Some(txn) => txn.call(io, call, flushed, cluster.as_deref()),
            None => {
                // not a transactional producer: Java throws IllegalStateException
                let answer = (call.kind(), Err(ErrorCode::InvalidTxnState));
                return self.deliver(io, vec![answer]);
            }
        }
        self.after_txn(io);
    }

    /// After the transaction manager moved: the sender's gate follows it, a new epoch
    /// numbers from 0, an abort fails the records not sent, answers go to the application,
    /// and what may go now is sent.
    fn after_txn(&mut self, io: &mut impl Io) {
        let Some(txn) = &mut self.txn else {
            return;
        };
        if txn.take_epoch_change() {
            self.idempotence.restart(txn.stamp().1);
        }
        let (pid, _) = txn.stamp();
        let open = txn.sendable().collect();
        self.sender.set_gate(pid, open);
        let aborting = matches!(txn.phase(), TxnPhase::Aborting | TxnPhase::Fatal(_));
        let ready = txn.is_ready();
        let done = txn.take_done();
        self.deliver(io, done);
        if aborting && !self.acc.is_empty() {
            let mut settled = Vec::new();
            self.sender
                .fail_unsent(&mut self.acc, io, ErrorCode::TransactionAborted, &mut settled);
            self.settle(io, settled);
        }
        self.pump(io);
        if self.settled == self.sent {
            if let Some(txn) = &mut self.txn {
                txn.flushed(io, true);
                let more = txn.take_done();
                self.deliver(io, more);
            }
        }
        if ready && self.asking == Asking::Idle && self.meta.is_some() {
            let held = std::mem::take(&mut self.held);
            self.run_ops(io, held);
            self.ask(io);
        }
    }

    /// Hands the answers of transaction calls to whoever made them.
    fn deliver(
        &mut self,
        io: &mut impl Io,
        done: Vec<(crate::protocol::TxnCallKind, Result<(), ErrorCode>)>,
    ) {
        if done.is_empty() {
            return;
        }
        let mut ctx = ProducerCtx::new(io.now());
        for (call, result) in done {
            match self.txn_caller {
                Some(app) => io.send(app, Msg::AppTxnDone { call, result }),
                None => self.app.on_transaction(&mut ctx, call, result),
            }
        }
        self.run_ops(io, ctx.into_ops());
        if self.asking == Asking::Wait {
            self.ask(io);
        }
    }

    /// A record handed over by an application of the same process.
    fn handed_over(&mut self, io: &mut impl Io, topic: Arc<str>, payload: Payload) {
        let record = OutRecord {
            topic: Some(topic),
            payload,
            partition: None,
        };
        if !self.open() {
            return self.held.push(ProducerOp::Send(record));
        }
        self.send(io, record);
        if self.asking == Asking::Wait {
            self.ask(io);
        }
    }

    fn on_message(&mut self, io: &mut impl Io, from: ActorId, msg: Msg) {
        let mut settled = Vec::new();
        match msg {
            Msg::Start => self.sender.refresh_metadata(io),
            Msg::MetadataResp(meta, cluster) => {
                self.sender.on_metadata(cluster);
                if self.meta.is_none() {
                    return self.connected(io, meta);
                }
                self.sender.retry_waiting(&mut self.acc, io, &mut settled);
            }
            Msg::ClientTimer(ClientTimer::SendNext) => {
                if matches!(self.asking, Asking::Timer(_)) {
                    self.ask(io);
                }
            }
            Msg::ClientTimer(ClientTimer::Retry) => {
                self.sender.on_retry_timer(&mut self.acc, io, &mut settled)
            }
            Msg::ClientTimer(ClientTimer::ProduceWatchdog) => {
                self.sender.on_watchdog(&mut self.acc, io, &mut settled)
            }
            Msg::ClientTimer(ClientTimer::Linger) => {
                self.sender.on_linger_timer(&mut self.acc, io, &mut settled)
            }
            Msg::Disconnected => {
                if let Some(txn) = &mut self.txn {
                    txn.on_disconnected(io, from);
                }
                self.sender.on_disconnected(&mut self.acc, io, from, &mut settled);
            }
            Msg::ProduceResp { results } => {
                // each batch in the request's order, then one pump
                let mut landed = false;
                for r in results {
                    landed |= self
                        .sender
                        .on_response(&mut self.acc, io, r.id, r.result, &mut settled);
                }
                if landed {
                    self.settle(io, std::mem::take(&mut settled));
                }
            }
            Msg::AppProduce { topic, payload } => self.handed_over(io, topic, payload),
            Msg::AppTxn(call) => {
                self.txn_caller = Some(from);
                self.txn_call(io, call);
            }
            Msg::TxnResp(reply) => {
                if let Some(txn) = &mut self.txn {
                    txn.on_reply(io, reply);
                }
                self.after_txn(io);
            }
            Msg::FindCoordinatorResp(c) => {
                if let Some(txn) = &mut self.txn {
                    txn.on_coordinator(io, c);
                }
                self.after_txn(io);
            }
            Msg::OffsetCommitResp { corr, result, .. } => {
                if let Some(txn) = &mut self.txn {
                    txn.on_offsets_answer(io, corr, result);
                }
                self.after_txn(io);
            }
            Msg::ClientTimer(ClientTimer::TxnRetry(token)) => {
                if let Some(txn) = &mut self.txn {
                    txn.on_timer(io, token);
                }
                self.after_txn(io);
            }
            Msg::Close => {}
            other => panic!("producer got an unexpected message: {other:?}"),
        }
        self.settle(io, settled);
        // the sender wakes after every input: what the input made ready goes now — unless
        // kafka-python's application sends again in this instant (module doc)
        let sends_again = self.cfg.python_sender && self.asking == Asking::Timer(io.now());
        if self.meta.is_some() && !sends_again {
            self.pump(io);
        }
    }
}

impl Producer {
    /// The process died: everything in memory is gone (record numbers keep counting, so
    /// that the new instance's records are told apart in the history).
    fn crash(&mut self) {
        self.crashed = true;
        self.acc = Accumulator::new(
            Partitioner::new(self.cfg.key_hash, self.cfg.null_key),
            self.cfg.batching(),
        );
        self.sender = Sender::new(self.index, self.cfg.clone(), self.brokers.clone());
        self.idempotence = Idempotence::new(self.cfg.idempotence);
        self.txn = self
            .cfg
            .transactional_id
            .is_some()
            .then(|| TransactionManager::new(&self.cfg, self.brokers.clone()));
        self.meta = None;
        self.asking = Asking::Idle;
        self.held.clear();
        self.settled = self.sent;
    }
}

impl Actor<Msg, Event> for Producer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        match msg {
            Msg::Crash if !self.crashed => {
                ctx.reset_connections();
                ctx.record(Event::Crashed);
                self.crash();
            }
            Msg::Restart if self.crashed => {
                self.crashed = false;
                ctx.record(Event::Restarted);
                self.on_message(ctx, from, Msg::Start);
            }
            _ if self.crashed => {}
            Msg::Crash | Msg::Restart => {}
            msg => self.on_message(ctx, from, msg),
        }
    }
}

#[cfg(test)]
mod tests;
