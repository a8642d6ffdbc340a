//! The transactional producer's transaction manager (KIP-98, KIP-447, KIP-890).
//!
//! Reproduces the Java client's `TransactionManager` (Kafka 4.x, transaction version 2) for
//! a producer with `transactional.id`:
//!
//! * `initTransactions()`: FindCoordinator (key type transaction) to a bootstrap broker, then
//!   InitProducerId to the coordinator: the producer id and epoch (which fences every older
//!   instance of the same `transactional.id`); `CONCURRENT_TRANSACTIONS` (the coordinator
//!   is aborting what the old instance left open) is retried after `retry.backoff.ms`;
//! * `beginTransaction()` is local; the first record to a partition in a transaction adds
//!   it with AddPartitionsToTxn before the record may go (the sender holds the partition's
//!   records until then: [`TransactionManager::may_send`]); one transaction request is in
//!   flight at a time, in order;
//! * `sendOffsetsToTransaction(offsets, groupMetadata)`: AddOffsetsToTxn (here the group's
//!   `__consumer_offsets` partition joins by AddPartitionsToTxn), FindCoordinator of the
//!   group, then TxnOffsetCommit with the consumer's generation and member id (KIP-447: a
//!   zombie's offsets are refused like its commits);
//! * `commitTransaction()`: flush (every record of the transaction acknowledged), then
//!   EndTxn(commit); `abortTransaction()`: the records not sent yet fail
//!   (`TRANSACTION_ABORTED`), those in flight are awaited, then EndTxn(abort). A transaction
//!   that added nothing ends without EndTxn. Under TV2 the EndTxn answer carries the epoch of
//!   the next transaction, whose sequence numbers start again from 0;
//! * errors: `NOT_COORDINATOR` / `COORDINATOR_NOT_AVAILABLE`, a broken connection or a
//!   request unanswered for `request.timeout.ms` look the coordinator up again and resend;
//!   `PRODUCER_FENCED` / `INVALID_PRODUCER_EPOCH` are fatal for this instance (`txn_fenced`
//!   in the history: it stops); a record that fails, or a refused TxnOffsetCommit, is an
//!   abortable error — commit then fails with it and the application must abort.
//!
//! The manager never sees the engine: requests, timers and history events go out through
//! [`Io`], the answers to the application's calls are taken with
//! [`TransactionManager::take_done`].

use super::io::Io;
use crate::cluster::ClusterState;
use crate::config::ProducerConfig;
use crate::history::{Event, TxnEvent, TxnStep};
use crate::protocol::{
    ClientTimer, CoordinatorType, ErrorCode, Msg, TxnCall, TxnCallKind, TxnOffsetCommit, TxnReply,
};
use crate::types::{MemberId, Tp};
use sim::{ActorId, Time};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// Where the producer is with transactions (Java's `TransactionManager.State`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TxnPhase {
    /// `initTransactions()` not called yet.
    Uninitialized,
    /// Looking for the coordinator, or waiting for InitProducerId.
    Initializing,
    /// No transaction open.
    Ready,
    /// `beginTransaction()` was called.
    InTransaction,
    /// `commitTransaction()`: flushing, then EndTxn.
    Committing,
    /// `abortTransaction()`: in-flight records awaited, then EndTxn.
    Aborting,
    /// Something in the transaction failed: only an abort may follow.
    AbortableError(ErrorCode),
    /// Fenced or otherwise unusable: this instance stops.
    Fatal(ErrorCode),
}

/// A request to a coordinator, waiting its turn or in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Request {
    /// FindCoordinator of the `transactional.id`.
    FindCoordinator,
    InitProducerId,
    AddPartitions(Vec<Tp>),
    /// FindCoordinator of the group whose offsets are sent.
    FindGroupCoordinator,
    TxnOffsetCommit,
    EndTxn(bool),
}

/// The `sendOffsetsToTransaction()` call in progress.
#[derive(Clone, Debug)]
struct Offsets {
    group: Arc<str>,
    member_id: Option<MemberId>,
    generation: i32,
    offsets: Vec<(Tp, i64)>,
    coordinator: Option<ActorId>,
}

/// A transactional producer's transaction state and its requests.
#[derive(Clone, Debug)]
pub struct TransactionManager {
    tid: Arc<str>,
    timeout_us: u64,
    request_timeout: Time,
    backoff: Time,
    brokers: Vec<ActorId>,
    next_bootstrap: usize,
    coordinator: Option<ActorId>,
    producer_id: i64,
    epoch: i32,
    phase: TxnPhase,
    /// Partitions in the open transaction (added).
    added: BTreeSet<Tp>,
    /// Partitions records went to that are not added yet.
    to_add: BTreeSet<Tp>,
    /// Whether the open transaction wrote anything to the coordinator (Java's
    /// `transactionStarted`): otherwise it ends without EndTxn.
    started: bool,
    queue: VecDeque<Request>,
    /// The request in flight: its number, what it is, where it went.
    in_flight: Option<(u64, Request, ActorId)>,
    /// The retry timer armed for the head of the queue, by its number.
    backing_off: Option<u64>,
    next_token: u64,
    offsets: Option<Offsets>,
    /// commit/abort waits for every record of the transaction to settle.
    end_when_flushed: Option<bool>,
    done: Vec<(TxnCallKind, Result<(), ErrorCode>)>,
    /// The epoch changed (InitProducerId, EndTxn): sequence numbers start again.
    epoch_changed: bool,
}

impl TransactionManager {
    /// The manager of a producer with `cfg` (which has a `transactional.id`), bootstrapping
    /// from `brokers` in turn.
    pub fn new(cfg: &ProducerConfig, brokers: Vec<ActorId>) -> TransactionManager {
        TransactionManager {
            tid: cfg.transactional_id.clone().expect("a transactional producer"),
            timeout_us: Time::ms(cfg.transaction_timeout_ms).as_us(),
            request_timeout: Time::ms(cfg.request_timeout_ms),
            backoff: Time::ms(cfg.retry_backoff_ms.max(1)),
            brokers,
            next_bootstrap: 0,
            coordinator: None,
            producer_id: -1,
            epoch: -1,
            phase: TxnPhase::Uninitialized,
            added: BTreeSet::new(),
            to_add: BTreeSet::new(),
            started: false,
            queue: VecDeque::new(),
            in_flight: None,
            backing_off: None,
            next_token: 0,
            offsets: None,
            end_when_flushed: None,
            done: Vec::new(),
            epoch_changed: false,
        }
    }

    /// Where it is.
    pub fn phase(&self) -> TxnPhase {
        self.phase
    }

    /// The producer id and epoch records of the open transaction carry.
    pub fn stamp(&self) -> (i64, i32) {
        (self.producer_id, self.epoch)
    }

    /// Whether `initTransactions()` completed and the instance is usable.
    pub fn is_ready(&self) -> bool {
        !matches!(
            self.phase,
            TxnPhase::Uninitialized | TxnPhase::Initializing | TxnPhase::Fatal(_)
        )
    }

    /// Whether records of `tp` may be sent now: its partition is in the open transaction.
    pub fn may_send(&self, tp: Tp) -> bool {
        matches!(self.phase, TxnPhase::InTransaction | TxnPhase::Committing) && self.added.contains(&tp)
    }

    /// The partitions whose records may be sent now (see [`TransactionManager::may_send`]).
    pub fn sendable(&self) -> impl Iterator<Item = Tp> + '_ {
        let open = self.sends_records();
        self.added.iter().copied().filter(move |_| open)
    }

    /// Whether records may be sent at all (else those waiting stay queued).
    pub fn sends_records(&self) -> bool {
        matches!(self.phase, TxnPhase::InTransaction | TxnPhase::Committing)
    }

    /// The answers to the application's calls since the last call, in order.
    pub fn take_done(&mut self) -> Vec<(TxnCallKind, Result<(), ErrorCode>)> {
        std::mem::take(&mut self.done)
    }

    /// Whether the epoch changed since the last call (sequence numbers start again).
    pub fn take_epoch_change(&mut self) -> bool {
        std::mem::take(&mut self.epoch_changed)
    }

    fn event(&self, io: &mut impl Io, step: TxnStep) {
        io.record(Event::Txn(Box::new(TxnEvent {
            transactional_id: self.tid.clone(),
            producer_id: self.producer_id,
            epoch: self.epoch,
            step,
        })));
    }

    /// `initTransactions()`.
    pub fn init(&mut self, io: &mut impl Io) {
        self.phase = TxnPhase::Initializing;
        self.queue.push_back(Request::FindCoordinator);
        self.queue.push_back(Request::InitProducerId);
        self.pump(io);
    }

    /// An application call; `flushed`: no record of the producer is outstanding.
    pub fn call(&mut self, io: &mut impl Io, call: TxnCall, flushed: bool, cluster: Option<&ClusterState>) {
        let kind = call.kind();
        match (call, self.phase) {
            (_, TxnPhase::Fatal(e)) => self.done.push((kind, Err(e))),
            (TxnCall::Begin, TxnPhase::Ready) => {
                self.phase = TxnPhase::InTransaction;
                self.started = false;
                self.event(io, TxnStep::Begin);
                self.done.push((kind, Ok(())));
            }
            (TxnCall::Begin, _) => self.done.push((kind, Err(ErrorCode::InvalidTxnState))),
            (TxnCall::SendOffsets { .. }, TxnPhase::AbortableError(e)) => self.done.push((kind, Err(e))),
            (
                TxnCall::SendOffsets {
                    group,
                    member_id,
                    generation,
                    offsets,
                },
                TxnPhase::InTransaction,
            ) => {
                let Some(cluster) = cluster else {
                    return self.done.push((kind, Err(ErrorCode::CoordinatorNotAvailable)));
                };
                let offsets_tp = cluster.offsets_tp(&group);
                self.offsets = Some(Offsets {
                    group,
                    member_id,
                    generation,
                    offsets,
                    coordinator: None,
                });
                self.queue.push_back(Request::AddPartitions(vec![offsets_tp]));
                self.queue.push_back(Request::FindGroupCoordinator);
                self.queue.push_back(Request::TxnOffsetCommit);
                self.pump(io);
            }
            (TxnCall::Commit, TxnPhase::AbortableError(e)) => self.done.push((kind, Err(e))),
            (TxnCall::Commit, TxnPhase::InTransaction) => {
                self.phase = TxnPhase::Committing;
                self.end_when_flushed = Some(true);
                self.flushed(io, flushed);
            }
            (TxnCall::Abort, TxnPhase::InTransaction | TxnPhase::AbortableError(_)) => {
                self.phase = TxnPhase::Aborting;
                self.to_add.clear();
                self.queue.retain(|r| !matches!(r, Request::AddPartitions(_)));
                self.end_when_flushed = Some(false);
                self.flushed(io, flushed);
            }
            (_, _) => self.done.push((kind, Err(ErrorCode::InvalidTxnState))),
        }
    }

    /// The producer's records may all be settled (`flushed`): a commit or abort waiting for
    /// it sends EndTxn (or ends locally when the transaction added nothing).
    pub fn flushed(&mut self, io: &mut impl Io, flushed: bool) {
        if !flushed || !self.to_add.is_empty() || self.in_flight_add() {
            return;
        }
        let Some(commit) = self.end_when_flushed.take() else {
            return;
        };
        if self.started {
            self.queue.push_back(Request::EndTxn(commit));
            self.pump(io);
        } else {
            self.complete(io, commit);
        }
    }

    fn in_flight_add(&self) -> bool {
        self.queue.iter().any(|r| matches!(r, Request::AddPartitions(_)))
            || matches!(self.in_flight, Some((_, Request::AddPartitions(_), _)))
    }

    /// A record is sent to `tp` in the open transaction: its partition joins first.
    pub fn on_record(&mut self, io: &mut impl Io, tp: Tp) {
        if self.phase == TxnPhase::InTransaction && !self.added.contains(&tp) && self.to_add.insert(tp) {
            self.pump(io);
        }
    }

    /// A record of the transaction failed for good with `e`.
    pub fn on_record_failed(&mut self, io: &mut impl Io, e: ErrorCode) {
        match e {
            ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch => self.fatal(io, e),
            ErrorCode::TransactionAborted => {}
            _ if matches!(self.phase, TxnPhase::InTransaction | TxnPhase::Committing) => {
                if self.phase == TxnPhase::Committing {
                    // commitTransaction() throws; the application aborts
                    self.end_when_flushed = None;
                    self.done.push((TxnCallKind::Commit, Err(e)));
                }
                self.phase = TxnPhase::AbortableError(e);
            }
            _ => {}
        }
    }

    fn fatal(&mut self, io: &mut impl Io, e: ErrorCode) {
        if matches!(self.phase, TxnPhase::Fatal(_)) {
            return;
        }
        let waiting = match self.phase {
            TxnPhase::Committing => Some(TxnCallKind::Commit),
            TxnPhase::Aborting => Some(TxnCallKind::Abort),
            _ => None,
        };
        let offsets = self.offsets.take().map(|_| TxnCallKind::SendOffsets);
        self.phase = TxnPhase::Fatal(e);
        self.queue.clear();
        self.in_flight = None;
        self.end_when_flushed = None;
        if matches!(e, ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch) {
            self.event(io, TxnStep::Fenced(e));
        }
        for kind in waiting.into_iter().chain(offsets) {
            self.done.push((kind, Err(e)));
        }
    }

    /// The transaction ended (EndTxn answered, or nothing to end).
    fn complete(&mut self, io: &mut impl Io, commit: bool) {
        self.event(
            io,
            if commit {
                TxnStep::Committed
            } else {
                TxnStep::Aborted
            },
        );
        self.phase = TxnPhase::Ready;
        self.added.clear();
        self.to_add.clear();
        self.started = false;
        self.offsets = None;
        let kind = if commit {
            TxnCallKind::Commit
        } else {
            TxnCallKind::Abort
        };
        self.done.push((kind, Ok(())));
    }

    /// Sends the next request if none is in flight (a partition waiting to join goes first
    /// as one AddPartitionsToTxn).
    fn pump(&mut self, io: &mut impl Io) {
        if self.in_flight.is_some() || self.backing_off.is_some() || matches!(self.phase, TxnPhase::Fatal(_))
        {
            return;
        }
        if !self.to_add.is_empty() && self.coordinator.is_some() {
            let parts: Vec<Tp> = std::mem::take(&mut self.to_add).into_iter().collect();
            self.queue.push_front(Request::AddPartitions(parts));
        }
        let Some(req) = self.queue.pop_front() else {
            return;
        };
        if self.offsets.is_none() && matches!(req, Request::FindGroupCoordinator | Request::TxnOffsetCommit) {
            // the sendOffsetsToTransaction they were for ended (failed, or its transaction did)
            return self.pump(io);
        }
        let needs_coordinator = !matches!(
            req,
            Request::FindCoordinator | Request::FindGroupCoordinator | Request::TxnOffsetCommit
        );
        if needs_coordinator && self.coordinator.is_none() {
            self.queue.push_front(req);
            self.queue.push_front(Request::FindCoordinator);
            return self.pump(io);
        }
        let (to, msg) = self.request_msg(&req);
        let token = self.next_token;
        self.next_token += 1;
        io.send(to, msg);
        io.timer(self.request_timeout, ClientTimer::TxnRetry(token));
        self.in_flight = Some((token, req, to));
    }

    fn bootstrap(&mut self) -> ActorId {
        let b = self.brokers[self.next_bootstrap % self.brokers.len()];
        self.next_bootstrap += 1;
        b
    }

    fn request_msg(&mut self, req: &Request) -> (ActorId, Msg) {
        let coordinator = self.coordinator.unwrap_or(self.brokers[0]);
        let (producer_id, epoch, tid) = (self.producer_id, self.epoch, self.tid.clone());
        match req {
            Request::FindCoordinator => {
                let to = self.bootstrap();
                let key_type = CoordinatorType::Transaction;
                (to, Msg::FindCoordinatorReq { group: tid, key_type })
            }
            Request::InitProducerId => (
                coordinator,
                Msg::InitProducerIdReq {
                    transactional_id: tid,
                    timeout_us: self.timeout_us,
                },
            ),
            Request::AddPartitions(partitions) => (
                coordinator,
                Msg::AddPartitionsToTxnReq {
                    transactional_id: tid,
                    producer_id,
                    epoch,
                    partitions: partitions.clone(),
                },
            ),
            Request::EndTxn(commit) => (
                coordinator,
                Msg::EndTxnReq {
                    transactional_id: tid,
                    producer_id,
                    epoch,
                    commit: *commit,
                },
            ),
            Request::FindGroupCoordinator => {
                let to = self.bootstrap();
                let group = self.offsets.as_ref().expect("offsets in progress").group.clone();
                let key_type = CoordinatorType::Group;
                (to, Msg::FindCoordinatorReq { group, key_type })
            }
            Request::TxnOffsetCommit => {
                let o = self.offsets.as_ref().expect("offsets in progress");
                let req = TxnOffsetCommit {
                    corr: self.next_token,
                    producer_id,
                    group: o.group.clone(),
                    member_id: o.member_id.clone(),
                    generation: o.generation,
                    offsets: o.offsets.clone(),
                };
                let to = o.coordinator.unwrap_or(self.brokers[0]);
                (to, Msg::TxnOffsetCommitReq(Box::new(req)))
            }
        }
    }

    /// The in-flight request failed retriably: `lost` — look its coordinator up again — and
    /// send it again after `retry.backoff.ms`.
    fn retry(&mut self, io: &mut impl Io, lost: bool) {
        let Some((_, req, _)) = self.in_flight.take() else {
            return;
        };
        if lost {
            match req {
                Request::TxnOffsetCommit | Request::FindGroupCoordinator => {
                    if let Some(o) = &mut self.offsets {
                        o.coordinator = None;
                    }
                    self.queue.push_front(Request::TxnOffsetCommit);
                    self.queue.push_front(Request::FindGroupCoordinator);
                }
                Request::FindCoordinator => self.queue.push_front(req),
                other => {
                    self.coordinator = None;
                    self.queue.push_front(other);
                    self.queue.push_front(Request::FindCoordinator);
                }
            }
        } else {
            self.queue.push_front(req);
        }
        let token = self.next_token;
        self.next_token += 1;
        io.timer(self.backoff, ClientTimer::TxnRetry(token));
        self.backing_off = Some(token);
    }

    /// Timer `token` fired: the end of a backoff sends the next request; the request in
    /// flight with that number went unanswered for `request.timeout.ms` (a lost
    /// coordinator: looked up again).
    pub fn on_timer(&mut self, io: &mut impl Io, token: u64) {
        if self.backing_off == Some(token) {
            self.backing_off = None;
            self.pump(io);
        } else if self.in_flight.as_ref().is_some_and(|(t, _, _)| *t == token) {
            self.retry(io, true);
        }
    }

    /// The connection to `broker` broke: a request in flight to it is sent again.
    pub fn on_disconnected(&mut self, io: &mut impl Io, broker: ActorId) {
        if self.in_flight.as_ref().is_some_and(|(_, _, to)| *to == broker) {
            self.retry(io, true);
        }
    }

    /// A FindCoordinator answer (the producer asks nothing else of FindCoordinator).
    pub fn on_coordinator(&mut self, io: &mut impl Io, coordinator: Option<ActorId>) {
        let req = match &self.in_flight {
            Some((_, r @ (Request::FindCoordinator | Request::FindGroupCoordinator), _)) => r.clone(),
            _ => return,
        };
        let Some(c) = coordinator else {
            return self.retry(io, false);
        };
        self.in_flight = None;
        match req {
            Request::FindCoordinator => self.coordinator = Some(c),
            _ => {
                if let Some(o) = &mut self.offsets {
                    o.coordinator = Some(c);
                }
            }
        }
        self.pump(io);
    }

    /// A transaction coordinator's answer.
    pub fn on_reply(&mut self, io: &mut impl Io, reply: TxnReply) {
        let Some((_, req, _)) = &self.in_flight else {
            return;
        };
        let result = match (&reply, req) {
            (TxnReply::InitProducerId(r), Request::InitProducerId) => r.map(|_| ()),
            (TxnReply::AddPartitions(r), Request::AddPartitions(_)) => *r,
            (TxnReply::EndTxn(r), Request::EndTxn(_)) => r.map(|_| ()),
            // an answer to a request given up on
            _ => return,
        };
        if let Err(e) = result {
            return self.failed(io, e);
        }
        let (_, req, _) = self.in_flight.take().expect("in flight");
        match (reply, req) {
            (TxnReply::InitProducerId(Ok((pid, epoch))), _) => {
                (self.producer_id, self.epoch) = (pid, epoch);
                self.epoch_changed = true;
                self.phase = TxnPhase::Ready;
            }
            (TxnReply::AddPartitions(_), Request::AddPartitions(parts)) => {
                self.started = true;
                self.added.extend(parts);
            }
            (TxnReply::EndTxn(Ok((pid, epoch))), Request::EndTxn(commit)) => {
                // TV2: the answer carries the epoch of the next transaction
                self.complete(io, commit);
                self.epoch_changed = (self.producer_id, self.epoch) != (pid, epoch);
                (self.producer_id, self.epoch) = (pid, epoch);
            }
            _ => {}
        }
        self.pump(io);
    }

    /// The group coordinator answered the TxnOffsetCommit numbered `corr`.
    pub fn on_offsets_answer(&mut self, io: &mut impl Io, corr: u64, result: Result<(), ErrorCode>) {
        if !matches!(&self.in_flight, Some((t, Request::TxnOffsetCommit, _)) if *t == corr) {
            return;
        }
        match result {
            Ok(()) => {
                self.in_flight = None;
                let o = self.offsets.take().expect("offsets in progress");
                self.started = true;
                let step = TxnStep::OffsetsSent {
                    group: o.group,
                    offsets: o.offsets,
                };
                self.event(io, step);
                self.done.push((TxnCallKind::SendOffsets, Ok(())));
                self.pump(io);
            }
            Err(e) => self.failed(io, e),
        }
    }

    /// The request in flight failed with `e`.
    fn failed(&mut self, io: &mut impl Io, e: ErrorCode) {
        match e {
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => self.retry(io, true),
            ErrorCode::ConcurrentTransactions
            | ErrorCode::CoordinatorLoadInProgress
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::RequestTimedOut
            | ErrorCode::NetworkException => self.retry(io, false),
            ErrorCode::ProducerFenced
            | ErrorCode::InvalidProducerEpoch
            | ErrorCode::InvalidProducerIdMapping => self.fatal(io, e),
            _ => {
                // an abortable error: the call in progress throws it
                let (_, req, _) = self.in_flight.take().expect("in flight");
                let kind = match req {
                    // the AddOffsetsToTxn of a sendOffsetsToTransaction failed: so did the call
                    Request::TxnOffsetCommit | Request::FindGroupCoordinator | Request::AddPartitions(_)
                        if self.offsets.is_some() =>
                    {
                        self.offsets = None;
                        Some(TxnCallKind::SendOffsets)
                    }
                    Request::EndTxn(true) => Some(TxnCallKind::Commit),
                    Request::EndTxn(false) => Some(TxnCallKind::Abort),
                    Request::InitProducerId => return self.fatal(io, e),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.done.push((kind, Err(e)));
                }
                self.phase = TxnPhase::AbortableError(e);
                self.pump(io);
            }
        }
    }
}

#[cfg(test)]
mod tests;
