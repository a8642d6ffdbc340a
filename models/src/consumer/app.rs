//! The application around the consumer — the user's code, running inside the simulated
//! process as it would around a real `KafkaConsumer` — and the loop that drives it.
//!
//! A real application is a loop: `poll()`, process each record, commit (`commitSync()` /
//! `commitAsync()`), poll again; a `ConsumerRebalanceListener` hears of partitions assigned,
//! revoked and lost. Here that code is a [`ConsumerApp`]: the consumer calls it where the
//! loop would run, and the app answers through an [`AppCtx`] — processing time, commits,
//! seeks, pauses, records handed to the producer of the same process, its own history
//! events, close. The loop keeps Kafka's timing: a rebalance is joined at the next `poll()`
//! (a slow batch delays it), `max.poll.interval.ms` counts from the last `poll()`, a stall
//! takes effect between records, `commitSync()` blocks the loop until its answer (retried on
//! a moved coordinator within `default.api.timeout.ms`).
//!
//! The built-in commit policies of scenario files ([`CommitPolicy`]) are one implementation,
//! [`PolicyApp`]. Auto-commit (`enable.auto.commit`) is the client's, not the app's.

use super::fetcher::ConsumedRecord;
use super::CommitPolicy;
use crate::history::{AppEvent, AppValue};
use crate::protocol::{ErrorCode, TxnCall, TxnCallKind};
use crate::types::{Payload, Tp, VecMap};
use sim::Time;
use smallvec::SmallVec;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The user's application inside a consumer process.
///
/// Callbacks come in the order a real poll loop makes them: [`on_records`] when `poll()`
/// returns a batch, [`on_record`] for each record of it, [`on_batch_done`] when the last is
/// processed (then `poll()` is called again). Rebalance callbacks come from inside `poll()`,
/// with Kafka's semantics: eager protocols revoke every partition before rejoining and assign
/// the whole new assignment; the cooperative protocol and KIP-848 revoke only what moves and
/// assign only what is new.
///
/// [`on_records`]: ConsumerApp::on_records
/// [`on_record`]: ConsumerApp::on_record
/// [`on_batch_done`]: ConsumerApp::on_batch_done
pub trait ConsumerApp: Send {
    /// Rebalance listener: `partitions` were added to the assignment. Only non-blocking
    /// calls on `ctx` take effect ([`AppCtx::process`] is ignored, a `commit_sync` is sent
    /// without waiting).
    fn on_partitions_assigned(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        let _ = (ctx, partitions);
    }

    /// Rebalance listener: `partitions` are given up (their positions are still known: a
    /// commit here commits them). As for [`ConsumerApp::on_partitions_assigned`], only
    /// non-blocking calls take effect.
    fn on_partitions_revoked(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        let _ = (ctx, partitions);
    }

    /// Rebalance listener: membership ended under the consumer and `partitions` are lost —
    /// another member may own them already, a commit would be refused. By default, as in
    /// Java, the same as [`ConsumerApp::on_partitions_revoked`].
    fn on_partitions_lost(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        self.on_partitions_revoked(ctx, partitions)
    }

    /// `poll()` returned `records`, before any is processed (e.g. an at-most-once commit). A
    /// `commit_sync` that fails here drops the batch: its records are not processed (the
    /// exception ended the loop's iteration). Records fetched while the application was
    /// stalled, or from another leader while a batch is processed, go to
    /// [`ConsumerApp::on_record`] without a call here.
    fn on_records(&mut self, ctx: &mut AppCtx, records: &[ConsumedRecord]) {
        let _ = (ctx, records);
    }

    /// Processes one record. The record counts as consumed (the history's `consume`) when
    /// the last [`AppCtx::process`] this call asks for ends — at once if it asks for none;
    /// what it asks for after that happens once the record is consumed (a commit of it). A
    /// `commit_sync` that fails ends the call; asked for before the record was processed, it
    /// skips the record (no `consume`).
    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord);

    /// Every record of the batch is processed; `poll()` comes next (e.g. a commit of the
    /// batch).
    fn on_batch_done(&mut self, ctx: &mut AppCtx) {
        let _ = ctx;
    }

    /// The process crashed and starts again: keep what the app's external store keeps,
    /// forget the rest.
    fn on_restart(&mut self) {}

    /// A transaction call ([`AppCtx::begin_transaction`] …) on the producer of the process
    /// threw `error`: the rest of the callback that made it is dropped, as are the records
    /// fetched but not processed; what this callback asks for (an abort, a rewind with
    /// [`AppCtx::seek`], a close) happens next, then `poll()`.
    fn on_transaction_failed(&mut self, ctx: &mut AppCtx, call: TxnCallKind, error: ErrorCode) {
        let _ = (ctx, call, error);
    }
}

/// One thing an app asked for, in order.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Process(Time),
    /// The record in hand is consumed (inserted after the last `Process` of `on_record`).
    Consumed,
    CommitSync(Vec<(Tp, i64)>),
    CommitSyncAll,
    CommitAsync(Vec<(Tp, i64)>),
    CommitAsyncAll,
    Seek(Tp, i64),
    Pause(Vec<Tp>),
    Resume(Vec<Tp>),
    Produce(Arc<str>, Payload),
    /// A transaction call on the producer of the process (blocks until it answers).
    Txn(TxnCall),
    /// `sendOffsetsToTransaction(offsets, groupMetadata())`.
    TxnOffsets(Vec<(Tp, i64)>),
    Record(Box<AppEvent>),
    Close,
}

/// What an application can see and do from a callback: the calls of a real consumer API
/// (and its process), recorded in order and carried out by the consumer as the loop would.
pub struct AppCtx<'a> {
    now: Time,
    positions: &'a VecMap<Tp, i64>,
    assignment: &'a BTreeSet<Tp>,
    steps: &'a mut Steps,
}

/// What one callback asks for (most ask for one or two things: no allocation then).
pub(crate) type Steps = SmallVec<[Step; 2]>;

impl<'a> AppCtx<'a> {
    /// A context writing what the app asks for into `steps`.
    pub(crate) fn new(
        now: Time,
        positions: &'a VecMap<Tp, i64>,
        assignment: &'a BTreeSet<Tp>,
        steps: &'a mut Steps,
    ) -> AppCtx<'a> {
        AppCtx {
            now,
            positions,
            assignment,
            steps,
        }
    }

    /// Virtual time when the callback was called.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The partitions assigned to the consumer (`assignment()`).
    pub fn assignment(&self) -> impl Iterator<Item = Tp> + '_ {
        self.assignment.iter().copied()
    }

    /// The next offset the consumer will fetch from `tp` (`position()`), if it has one.
    pub fn position(&self, tp: Tp) -> Option<i64> {
        self.positions.get(&tp).copied()
    }

    /// Spends `time` processing (of the record in hand, or of the batch). Calls add up.
    pub fn process(&mut self, time: Time) {
        self.steps.push(Step::Process(time));
    }

    /// `commitSync(offsets)`: commits `offsets` (next offset to read, per partition) and
    /// blocks until the coordinator answers. Nothing to commit: nothing happens.
    pub fn commit_sync(&mut self, offsets: &[(Tp, i64)]) {
        self.steps.push(Step::CommitSync(offsets.to_vec()));
    }

    /// `commitSync()`: commits the current positions (of every partition with one, when the
    /// commit is made) and blocks until the answer. No position: nothing happens.
    pub fn commit_sync_all(&mut self) {
        self.steps.push(Step::CommitSyncAll);
    }

    /// `commitAsync(offsets)`: sends the commit and carries on.
    pub fn commit_async(&mut self, offsets: &[(Tp, i64)]) {
        self.steps.push(Step::CommitAsync(offsets.to_vec()));
    }

    /// `commitAsync()`: sends a commit of the current positions and carries on.
    pub fn commit_async_all(&mut self) {
        self.steps.push(Step::CommitAsyncAll);
    }

    /// `seek(tp, offset)`: the next fetch of `tp` starts at `offset`; records of `tp` fetched
    /// but not handed to the app yet are dropped.
    pub fn seek(&mut self, tp: Tp, offset: i64) {
        self.steps.push(Step::Seek(tp, offset));
    }

    /// `pause(partitions)`: they are not fetched until resumed (records already fetched are
    /// still handed over).
    pub fn pause(&mut self, partitions: &[Tp]) {
        self.steps.push(Step::Pause(partitions.to_vec()));
    }

    /// `resume(partitions)`: fetched again.
    pub fn resume(&mut self, partitions: &[Tp]) {
        self.steps.push(Step::Resume(partitions.to_vec()));
    }

    /// Hands a record to the producer of the same process (consume–transform–produce),
    /// which partitions and sends it as its own. Without a producer wired to this consumer
    /// it goes nowhere.
    pub fn produce(&mut self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.steps
            .push(Step::Produce(topic.into(), Payload::new(key, value)));
    }

    /// `producer.beginTransaction()` on the transactional producer of the process (blocks
    /// the loop until the producer answers: it first waits for `initTransactions()`).
    pub fn begin_transaction(&mut self) {
        self.steps.push(Step::Txn(TxnCall::Begin));
    }

    /// `producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata())` (KIP-447):
    /// `offsets` (next offset to read) committed with the transaction, under this
    /// consumer's generation and member id. Blocks until done.
    pub fn send_offsets_to_transaction(&mut self, offsets: &[(Tp, i64)]) {
        self.steps.push(Step::TxnOffsets(offsets.to_vec()));
    }

    /// `producer.commitTransaction()`: blocks until the transaction is committed.
    pub fn commit_transaction(&mut self) {
        self.steps.push(Step::Txn(TxnCall::Commit));
    }

    /// `producer.abortTransaction()`: blocks until the transaction is aborted.
    pub fn abort_transaction(&mut self) {
        self.steps.push(Step::Txn(TxnCall::Abort));
    }

    /// `close()`: the consumer closes (final auto-commit, revocation, LeaveGroup) once the
    /// callback returns; nothing the app asked for after it happens.
    pub fn close(&mut self) {
        self.steps.push(Step::Close);
    }

    /// Writes the app's own event to the run's history (`"event":"app"` in JSON).
    pub fn record(&mut self, name: &str, fields: &[(&str, AppValue)]) {
        let fields = fields.iter().map(|(k, v)| (Arc::from(*k), v.clone())).collect();
        self.steps.push(Step::Record(Box::new(AppEvent {
            name: name.into(),
            fields,
        })));
    }
}

/// A built-in application: processes each record for a fixed time and commits by a
/// [`CommitPolicy`] — what scenario files describe with `commit` and `processing_ms`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PolicyApp {
    /// When it commits (`Auto` and `None`: never itself).
    pub commit: CommitPolicy,
    /// Time to process one record.
    pub processing: Time,
}

impl ConsumerApp for PolicyApp {
    fn on_records(&mut self, ctx: &mut AppCtx, _records: &[ConsumedRecord]) {
        if self.commit == CommitPolicy::BeforeProcessing {
            ctx.commit_sync_all();
        }
    }

    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
        ctx.process(self.processing);
        if self.commit == CommitPolicy::AfterRecord {
            ctx.commit_sync(&[(record.tp, record.offset + 1)]);
        }
    }

    fn on_batch_done(&mut self, ctx: &mut AppCtx) {
        if self.commit == CommitPolicy::AfterBatch {
            ctx.commit_sync_all();
        }
    }
}

/// What the application thread is doing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Inside `poll()`, waiting for records.
    Polling,
    /// Processing (a `process()` timer is running).
    Processing,
    /// Blocked in `commitSync()`.
    Committing,
    /// Blocked in `commitSync()`, waiting for the coordinator to be found again (it moved or
    /// its broker died) to send the same commit again — until `default.api.timeout.ms`.
    CommitRetry,
    /// Stalled until `stalled_until`.
    Stalled,
    /// Blocked in a call of the producer's transaction API.
    Transaction,
}

/// Which callback's requests are being carried out: what comes after them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `on_records`: then the first record.
    Batch,
    /// `on_record`: then the next record.
    Record,
    /// `on_batch_done`: then `poll()`.
    BatchDone,
}

/// The application thread's state.
pub(crate) struct AppLoop {
    pub(crate) state: State,
    pub(crate) stage: Stage,
    /// What the current callback asked for; `next` is the first step not taken yet.
    plan: Steps,
    next: usize,
    /// `on_record`: the record in hand is consumed before step `consume_at` (after the last
    /// `process()`), if it is not yet.
    consume_at: Option<usize>,
    pub(crate) stalled_until: Time,
    pub(crate) last_poll: Time,
    /// An auto-commit came due while the app was out of `poll()`: made at the next one.
    pub(crate) commit_due: bool,
    /// librdkafka's stored offsets: past the records handed to the application.
    pub(crate) stored: VecMap<Tp, i64>,
    /// The offsets of the `commitSync()` in progress and when it gives up.
    pub(crate) sync_commit: Option<(Vec<(Tp, i64)>, Time)>,
    /// The app asked to close.
    pub(crate) close_requested: bool,
}

impl AppLoop {
    pub(crate) fn new() -> AppLoop {
        AppLoop {
            state: State::Polling,
            stage: Stage::BatchDone,
            plan: Steps::new(),
            next: 0,
            consume_at: None,
            stalled_until: Time::ZERO,
            last_poll: Time::ZERO,
            commit_due: false,
            stored: VecMap::default(),
            sync_commit: None,
            close_requested: false,
        }
    }

    /// A new plan: the buffer the next callback writes into.
    pub(crate) fn begin(&mut self) -> &mut Steps {
        self.plan.clear();
        self.next = 0;
        self.consume_at = None;
        &mut self.plan
    }

    /// The callback of `stage` wrote the plan; for `on_record`, the record is consumed after
    /// its last `process()`.
    pub(crate) fn planned(&mut self, stage: Stage) {
        if stage == Stage::Record {
            let last = self.plan.iter().rposition(|s| matches!(s, Step::Process(_)));
            self.consume_at = Some(last.map_or(0, |i| i + 1));
        }
        self.stage = stage;
    }

    /// The next step of the plan ([`Step::Consumed`] where the record in hand is done).
    pub(crate) fn next_step(&mut self) -> Option<Step> {
        if self.consume_at == Some(self.next) {
            self.consume_at = None;
            return Some(Step::Consumed);
        }
        let slot = self.plan.get_mut(self.next)?;
        self.next += 1;
        Some(std::mem::replace(slot, Step::Consumed))
    }

    /// Drops the rest of the plan; whether the record in hand was still to be consumed.
    pub(crate) fn abandon(&mut self) -> bool {
        self.plan.clear();
        self.next = 0;
        self.consume_at.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LogRecord, RecordId};

    fn record(offset: i64) -> ConsumedRecord {
        ConsumedRecord {
            tp: Tp {
                topic: 0,
                partition: 1,
            },
            offset,
            record: LogRecord {
                id: RecordId { producer: 0, seq: 0 },
                payload: Payload::new(None, None),
            },
            generation: 1,
        }
    }

    fn steps(app: &mut dyn ConsumerApp, call: impl FnOnce(&mut dyn ConsumerApp, &mut AppCtx)) -> Steps {
        let (positions, owned, mut steps) = (VecMap::default(), BTreeSet::new(), Steps::new());
        call(app, &mut AppCtx::new(Time::ZERO, &positions, &owned, &mut steps));
        steps
    }

    fn plan_record(lp: &mut AppLoop, steps: Steps) {
        *lp.begin() = steps;
        lp.planned(Stage::Record);
    }

    #[test]
    fn after_record_commits_each_record_once_it_is_consumed() {
        let mut app = PolicyApp {
            commit: CommitPolicy::AfterRecord,
            processing: Time::ms(5),
        };
        let mut lp = AppLoop::new();
        plan_record(&mut lp, steps(&mut app, |a, c| a.on_record(c, &record(7))));
        let plan: Vec<String> = std::iter::from_fn(|| lp.next_step())
            .map(|s| format!("{s:?}"))
            .collect();
        assert_eq!(plan.len(), 3);
        assert!(plan[0].starts_with("Process"));
        assert_eq!(plan[1], "Consumed");
        assert!(plan[2].contains("8"), "commits the next offset: {}", plan[2]);
    }

    #[test]
    fn before_processing_commits_when_poll_returns_and_after_batch_at_its_end() {
        let mut before = PolicyApp {
            commit: CommitPolicy::BeforeProcessing,
            processing: Time::ZERO,
        };
        assert!(matches!(
            steps(&mut before, |a, c| a.on_records(c, &[record(0)]))[..],
            [Step::CommitSyncAll]
        ));
        assert!(steps(&mut before, |a, c| a.on_batch_done(c)).is_empty());
        let mut after = PolicyApp {
            commit: CommitPolicy::AfterBatch,
            processing: Time::ZERO,
        };
        assert!(steps(&mut after, |a, c| a.on_records(c, &[record(0)])).is_empty());
        assert!(matches!(
            steps(&mut after, |a, c| a.on_batch_done(c))[..],
            [Step::CommitSyncAll]
        ));
    }

    #[test]
    fn a_record_without_processing_is_consumed_at_once() {
        struct Quick;
        impl ConsumerApp for Quick {
            fn on_record(&mut self, ctx: &mut AppCtx, r: &ConsumedRecord) {
                ctx.commit_async(&[(r.tp, r.offset + 1)]);
            }
        }
        let mut lp = AppLoop::new();
        plan_record(&mut lp, steps(&mut Quick, |a, c| a.on_record(c, &record(0))));
        assert!(matches!(lp.next_step(), Some(Step::Consumed)));
        assert!(matches!(lp.next_step(), Some(Step::CommitAsync(_))));
        assert!(lp.next_step().is_none());
    }
}
