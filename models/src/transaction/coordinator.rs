//! The transaction coordinator's state machine: every `transactional.id` whose
//! `__transaction_state` partition this broker leads.
//!
//! Kafka's `TransactionCoordinator` under transaction version 2 (KIP-890, the default of
//! Kafka 4.x):
//!
//! * **InitProducerId** hands out a producer id and bumps its epoch, which fences every
//!   older instance of the same `transactional.id`. When the old instance left a
//!   transaction open (Ongoing), the coordinator fences it (PrepareEpochFence, one bump),
//!   aborts it (PrepareAbort, another bump) and answers `CONCURRENT_TRANSACTIONS`: the new
//!   instance retries and gets a fresh epoch once the abort is complete. A transaction
//!   finishing (PrepareCommit, PrepareAbort) is also `CONCURRENT_TRANSACTIONS`. A timeout
//!   above `transaction.max.timeout.ms` is `INVALID_TRANSACTION_TIMEOUT`.
//! * **AddPartitionsToTxn** — under TV2 sent by the partition leader on the producer's behalf
//!   with its first transactional produce (and by the producer for its group's offsets
//!   partition, AddOffsetsToTxn): the first partition moves the id to Ongoing and starts the
//!   transaction's clock. An epoch other than the current one is `PRODUCER_FENCED`.
//! * **EndTxn** writes PrepareCommit or PrepareAbort with the epoch bumped (TV2 bumps it at
//!   the end of every transaction) and answers with the new epoch; then the markers go to
//!   every partition of the transaction, and once all are written the coordinator writes
//!   CompleteCommit / CompleteAbort. A retried EndTxn of the epoch before the bump is
//!   recognised (answered once complete); any other old epoch is `PRODUCER_FENCED`.
//! * **Timeouts**: every `transaction.abort.timed.out.transaction.cleanup.interval.ms` the
//!   coordinator aborts, with an epoch fence, each Ongoing transaction older than its
//!   `transaction.timeout.ms`.
//! * **Failover**: every transition is a record of the id's partition, and a state changes
//!   only once its record is written (Kafka's pending transition; a second request meanwhile
//!   is `CONCURRENT_TRANSACTIONS`). A new leader replays the records ([`TxnCoordinator::load`])
//!   and writes the markers of every transaction it finds in PrepareCommit or PrepareAbort.
//!
//! Producer ids: Kafka's controller hands out blocks of ids; here each `__transaction_state`
//! partition numbers its own (`partition << 32 | n`), and a new leader continues after the
//! largest id in the partition's records.
//!
//! The machine is pure: each input pushes [`TxnOutput`]s for the broker to carry out.

use crate::cluster::coordinator_partition;
use crate::protocol::ErrorCode;
pub use crate::protocol::{TxnMarkers as Markers, TxnReply};
use crate::txn_metadata::{TxnMetadata, TxnState, MAX_EPOCH};
use crate::types::Tp;
use sim::{ActorId, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Transaction coordinator settings (Kafka's names).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions` (50).
    pub partitions: u32,
    /// `transaction.max.timeout.ms` (900000), µs.
    pub max_timeout_us: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms` (10000).
    pub abort_check_interval: Time,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            partitions: 50,
            max_timeout_us: 900_000_000,
            abort_check_interval: Time::ms(10_000),
        }
    }
}

/// What the coordinator asks its broker to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOutput {
    /// Append this record to the id's `__transaction_state` partition (acks=all), then call
    /// [`TxnCoordinator::written`] with the outcome.
    Write(TxnMetadata),
    /// Answer a client.
    Reply(ActorId, TxnReply),
    /// Write these markers, then call [`TxnCoordinator::markers_written`].
    Markers(Markers),
}

/// What to do once a pending record is written.
#[derive(Clone, Debug)]
enum Then {
    /// Answer (the reply of a success).
    Reply(ActorId, TxnReply),
    /// Send the markers, and answer if someone waits.
    Markers(Option<(ActorId, TxnReply)>),
    /// Nothing more.
    Nothing,
}

#[derive(Clone, Debug)]
struct Txn {
    meta: TxnMetadata,
    /// A record being written and what follows it.
    pending: Option<(TxnMetadata, Then)>,
}

/// The transactions of the `__transaction_state` partitions this broker leads.
#[derive(Clone, Debug)]
pub struct TxnCoordinator {
    cfg: TxnConfig,
    txns: BTreeMap<Arc<str>, Txn>,
    /// The next producer id number, per `__transaction_state` partition.
    next_pid: BTreeMap<u32, i64>,
}

fn write_error(e: ErrorCode) -> ErrorCode {
    // TransactionStateManager.appendTransactionToLog's mapping
    match e {
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}

impl TxnCoordinator {
    /// No transaction yet.
    pub fn new(cfg: TxnConfig) -> TxnCoordinator {
        TxnCoordinator {
            cfg,
            txns: BTreeMap::new(),
            next_pid: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &TxnConfig {
        &self.cfg
    }

    /// Forgets everything (a crash).
    pub fn clear(&mut self) {
        self.txns.clear();
        self.next_pid.clear();
    }

    /// The `__transaction_state` partition of `tid`.
    pub fn partition_of(&self, tid: &str) -> u32 {
        coordinator_partition(tid, self.cfg.partitions)
    }

    /// The current state of `tid`, if this coordinator knows it.
    pub fn state(&self, tid: &str) -> Option<&TxnMetadata> {
        self.txns.get(tid).map(|t| &t.meta)
    }

    /// Whether a record of `tid` is being written.
    pub fn is_pending(&self, tid: &str) -> bool {
        self.txns.get(tid).is_some_and(|t| t.pending.is_some())
    }

    fn new_producer_id(&mut self, tid: &str) -> i64 {
        let p = self.partition_of(tid);
        let n = self.next_pid.entry(p).or_insert(0);
        let id = (i64::from(p) << 32) | *n;
        *n += 1;
        id
    }

    fn begin_write(&mut self, tid: &Arc<str>, record: TxnMetadata, then: Then, out: &mut Vec<TxnOutput>) {
        let t = self.txns.get_mut(tid).expect("known id");
        t.pending = Some((record.clone(), then));
        out.push(TxnOutput::Write(record));
    }

    /// InitProducerId from `from` for `tid` with `transaction.timeout.ms` = `timeout_us`.
    pub fn init_producer_id(
        &mut self,
        now: Time,
        from: ActorId,
        tid: &Arc<str>,
        timeout_us: u64,
        out: &mut Vec<TxnOutput>,
    ) {
        let reply = |r| TxnOutput::Reply(from, TxnReply::InitProducerId(r));
        if timeout_us == 0 || timeout_us > self.cfg.max_timeout_us {
            out.push(reply(Err(ErrorCode::InvalidTransactionTimeout)));
            return;
        }
        if !self.txns.contains_key(tid) {
            let producer_id = self.new_producer_id(tid);
            let meta = TxnMetadata {
                transactional_id: tid.clone(),
                producer_id,
                epoch: -1,
                last_epoch: -1,
                timeout_us,
                state: TxnState::Empty,
                partitions: Vec::new(),
                started: now,
                updated: now,
            };
            self.txns.insert(tid.clone(), Txn { meta, pending: None });
        }
        let t = &self.txns[tid];
        if t.pending.is_some() || t.meta.state.is_prepare() {
            out.push(reply(Err(ErrorCode::ConcurrentTransactions)));
            return;
        }
        let meta = t.meta.clone();
        match meta.state {
            TxnState::Ongoing => {
                let busy = TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions));
                self.fence_and_abort(now, tid, Some((from, busy)), out);
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let mut next = meta.moved(TxnState::Empty, now);
                if meta.epoch >= MAX_EPOCH {
                    next.producer_id = self.new_producer_id(tid);
                    next.epoch = 0;
                    next.last_epoch = -1;
                } else {
                    next.last_epoch = meta.epoch;
                    next.epoch = meta.epoch + 1;
                }
                next.timeout_us = timeout_us;
                next.partitions.clear();
                let ok = TxnReply::InitProducerId(Ok((next.producer_id, next.epoch)));
                self.begin_write(tid, next, Then::Reply(from, ok), out);
            }
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::PrepareEpochFence
            | TxnState::Dead => unreachable!("{} is never current here", meta.state),
        }
    }

    /// Fences the open transaction of `tid` (PrepareEpochFence: an epoch bump) and aborts
    /// it (PrepareAbort: TV2's bump); `waiter` is answered once the abort is written.
    fn fence_and_abort(
        &mut self,
        now: Time,
        tid: &Arc<str>,
        waiter: Option<(ActorId, TxnReply)>,
        out: &mut Vec<TxnOutput>,
    ) {
        let meta = &self.txns[tid].meta;
        let mut fenced = meta.moved(TxnState::PrepareEpochFence, now);
        fenced.epoch = (meta.epoch + 1).min(MAX_EPOCH);
        let mut abort = fenced.moved(TxnState::PrepareAbort, now);
        abort.last_epoch = fenced.epoch;
        abort.epoch = (fenced.epoch + 1).min(MAX_EPOCH);
        self.begin_write(tid, abort, Then::Markers(waiter), out);
    }

    /// AddPartitionsToTxn (or AddOffsetsToTxn) of `partitions` to `tid`'s transaction by
    /// producer `producer_id` in `epoch`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_partitions(
        &mut self,
        now: Time,
        from: ActorId,
        tid: &Arc<str>,
        producer_id: i64,
        epoch: i32,
        partitions: &[Tp],
        out: &mut Vec<TxnOutput>,
    ) {
        let reply = |r| TxnOutput::Reply(from, TxnReply::AddPartitions(r));
        let Some(t) = self.txns.get(tid) else {
            out.push(reply(Err(ErrorCode::InvalidProducerIdMapping)));
            return;
        };
        let meta = &t.meta;
        if meta.producer_id != producer_id {
            out.push(reply(Err(ErrorCode::InvalidProducerIdMapping)));
        } else if meta.epoch != epoch {
            out.push(reply(Err(ErrorCode::ProducerFenced)));
        } else if t.pending.is_some() || meta.state.is_prepare() {
            out.push(reply(Err(ErrorCode::ConcurrentTransactions)));
        } else if meta.state == TxnState::Ongoing && partitions.iter().all(|tp| meta.partitions.contains(tp))
        {
            out.push(reply(Ok(())));
        } else {
            let mut next = meta.moved(TxnState::Ongoing, now);
            if meta.state != TxnState::Ongoing {
                next.started = now;
            }
            next.partitions.extend_from_slice(partitions);
            next.partitions.sort_unstable();
            next.partitions.dedup();
            let ok = TxnReply::AddPartitions(Ok(()));
            self.begin_write(tid, next, Then::Reply(from, ok), out);
        }
    }

    /// EndTxn of `tid` by producer `producer_id` in `epoch`: commit, or abort.
    #[allow(clippy::too_many_arguments)]
    pub fn end_txn(
        &mut self,
        now: Time,
        from: ActorId,
        tid: &Arc<str>,
        producer_id: i64,
        epoch: i32,
        commit: bool,
        out: &mut Vec<TxnOutput>,
    ) {
        let reply = |r| TxnOutput::Reply(from, TxnReply::EndTxn(r));
        let Some(t) = self.txns.get(tid) else {
            out.push(reply(Err(ErrorCode::InvalidProducerIdMapping)));
            return;
        };
        let meta = &t.meta;
        // a retry of the EndTxn that bumped the epoch (TV2's endTxnEpochBumped)
        let retry = meta.last_epoch >= 0 && epoch == meta.last_epoch && epoch + 1 == meta.epoch;
        let valid = match meta.state {
            TxnState::Ongoing | TxnState::Empty => epoch == meta.epoch,
            _ => retry,
        };
        let same_outcome = match meta.state {
            TxnState::PrepareCommit | TxnState::CompleteCommit => commit,
            TxnState::PrepareAbort | TxnState::CompleteAbort => !commit,
            _ => true,
        };
        if meta.producer_id != producer_id {
            out.push(reply(Err(ErrorCode::InvalidProducerIdMapping)));
        } else if !valid {
            out.push(reply(Err(ErrorCode::ProducerFenced)));
        } else if t.pending.is_some() {
            out.push(reply(Err(ErrorCode::ConcurrentTransactions)));
        } else if !same_outcome || meta.state == TxnState::Empty {
            out.push(reply(Err(ErrorCode::InvalidTxnState)));
        } else if meta.state.is_prepare() {
            out.push(reply(Err(ErrorCode::ConcurrentTransactions)));
        } else if meta.state != TxnState::Ongoing {
            // already complete: the retry succeeds
            out.push(reply(Ok((meta.producer_id, meta.epoch))));
        } else {
            let state = if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            };
            let mut next = meta.moved(state, now);
            next.last_epoch = meta.epoch;
            next.epoch = (meta.epoch + 1).min(MAX_EPOCH);
            let ok = TxnReply::EndTxn(Ok((next.producer_id, next.epoch)));
            self.begin_write(tid, next, Then::Markers(Some((from, ok))), out);
        }
    }

    /// The periodic timeout check: aborts (with an epoch fence) every Ongoing transaction
    /// older than its `transaction.timeout.ms`, in id order. Returns the ids aborted.
    pub fn abort_timed_out(&mut self, now: Time, out: &mut Vec<TxnOutput>) -> Vec<Arc<str>> {
        let due: Vec<Arc<str>> = self
            .txns
            .iter()
            .filter(|(_, t)| t.pending.is_none() && t.meta.timed_out(now))
            .map(|(id, _)| id.clone())
            .collect();
        for tid in &due {
            self.fence_and_abort(now, tid, None, out);
        }
        due
    }

    /// The pending record of `tid` was written (`Ok`) or could not be (`Err`).
    pub fn written(&mut self, tid: &str, result: Result<(), ErrorCode>, out: &mut Vec<TxnOutput>) {
        let Some(t) = self.txns.get_mut(tid) else {
            return;
        };
        let Some((record, then)) = t.pending.take() else {
            return;
        };
        match result {
            Ok(()) => {
                t.meta = record;
                match then {
                    Then::Reply(to, r) => out.push(TxnOutput::Reply(to, r)),
                    Then::Markers(waiter) => {
                        out.push(TxnOutput::Markers(markers_of(&t.meta)));
                        if let Some((to, r)) = waiter {
                            out.push(TxnOutput::Reply(to, r));
                        }
                    }
                    Then::Nothing => {}
                }
            }
            Err(e) => {
                let e = write_error(e);
                match then {
                    Then::Reply(to, r) | Then::Markers(Some((to, r))) => {
                        out.push(TxnOutput::Reply(to, failed(&r, e)));
                    }
                    Then::Markers(None) => {}
                    // a Complete record that could not be written: written again
                    Then::Nothing => {
                        t.pending = Some((record.clone(), Then::Nothing));
                        out.push(TxnOutput::Write(record));
                    }
                }
            }
        }
    }

    /// Every marker of `tid`'s finishing transaction is written: the transaction completes.
    pub fn markers_written(&mut self, now: Time, tid: &Arc<str>, out: &mut Vec<TxnOutput>) {
        let Some(t) = self.txns.get(tid) else {
            return;
        };
        if t.pending.is_some() || !t.meta.state.is_prepare() {
            return;
        }
        let state = if t.meta.state == TxnState::PrepareCommit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        let mut done = t.meta.moved(state, now);
        done.partitions.clear();
        self.begin_write(tid, done, Then::Nothing, out);
    }

    /// This broker now leads a `__transaction_state` partition whose records are `records`
    /// (in log order): the last record of each id is its state; the markers of every
    /// transaction left in PrepareCommit or PrepareAbort are written again.
    pub fn load<'a>(&mut self, records: impl IntoIterator<Item = &'a TxnMetadata>, out: &mut Vec<TxnOutput>) {
        let mut last: BTreeMap<Arc<str>, &TxnMetadata> = BTreeMap::new();
        for r in records {
            let p = self.partition_of(&r.transactional_id);
            let n = self.next_pid.entry(p).or_insert(0);
            *n = (*n).max((r.producer_id & 0xffff_ffff) + 1);
            last.insert(r.transactional_id.clone(), r);
        }
        for (tid, meta) in last {
            if meta.state.is_prepare() {
                out.push(TxnOutput::Markers(markers_of(meta)));
            }
            let meta = meta.clone();
            self.txns.insert(tid, Txn { meta, pending: None });
        }
    }

    /// This broker no longer leads `__transaction_state` partition `partition`: forgets its
    /// ids (a write in flight is abandoned; the new leader finishes what was written).
    pub fn unload(&mut self, partition: u32) {
        let n = self.cfg.partitions;
        self.txns
            .retain(|tid, _| coordinator_partition(tid, n) != partition);
        self.next_pid.remove(&partition);
    }
}

fn markers_of(meta: &TxnMetadata) -> Markers {
    Markers {
        transactional_id: meta.transactional_id.clone(),
        producer_id: meta.producer_id,
        epoch: meta.epoch,
        commit: meta.state == TxnState::PrepareCommit,
        partitions: meta.partitions.clone(),
    }
}

/// The reply `r` would have been, failed with `e`.
fn failed(r: &TxnReply, e: ErrorCode) -> TxnReply {
    match r {
        TxnReply::InitProducerId(_) => TxnReply::InitProducerId(Err(e)),
        TxnReply::AddPartitions(_) => TxnReply::AddPartitions(Err(e)),
        TxnReply::EndTxn(_) => TxnReply::EndTxn(Err(e)),
    }
}
