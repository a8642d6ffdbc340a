//! The application thread: `poll()`, the records handed to the [`ConsumerApp`] one by one,
//! its processing time, its `commitSync()` blocking the loop (and retried on a moved
//! coordinator within `default.api.timeout.ms`), stalls, and auto-commit in `poll()` or on
//! librdkafka's timer.
//!
//! [`ConsumerApp`]: super::ConsumerApp

use super::app::{AppCtx, Stage, State, Step};
use super::client::Req;
use super::membership::Phase;
use super::{Consumer, Cx, API_TIMEOUT_MS};
use crate::history::Event;
use crate::protocol::{ClientTimer, ErrorCode, Msg, TxnCall, TxnCallKind};
use crate::types::{MemberId, Tp};
use sim::Time;

/// Which rebalance callback to make.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Listener {
    Assigned,
    Revoked,
    Lost,
}

impl Consumer {
    fn stalled(&mut self, ctx: Cx) -> bool {
        if ctx.now() < self.app.stalled_until {
            if self.app.state != State::Stalled {
                self.app.state = State::Stalled;
                let wait = self.app.stalled_until.saturating_sub(ctx.now());
                ctx.timer(wait, Msg::ClientTimer(ClientTimer::Resume));
            }
            return true;
        }
        false
    }

    pub(super) fn on_stall(&mut self, ctx: Cx, d: Time) {
        self.app.stalled_until = self.app.stalled_until.max(ctx.now() + d);
        ctx.record(Event::Stalled {
            until: self.app.stalled_until,
        });
        if self.app.state == State::Polling {
            self.stalled(ctx);
        }
    }

    pub(super) fn on_resume(&mut self, ctx: Cx) {
        if self.app.state == State::Stalled && ctx.now() < self.app.stalled_until {
            // the stall was extended while it lasted
            let wait = self.app.stalled_until.saturating_sub(ctx.now());
            ctx.timer(wait, Msg::ClientTimer(ClientTimer::Resume));
        } else if self.app.state == State::Stalled {
            self.app.state = State::Polling;
            if self.fetcher.buffer.is_empty() {
                self.poll(ctx);
            } else {
                self.process_next(ctx);
            }
        }
    }

    /// The application calls `poll()`.
    pub(super) fn poll(&mut self, ctx: Cx) {
        if self.stalled(ctx) {
            return;
        }
        self.app.state = State::Polling;
        self.app.last_poll = ctx.now();
        let mut out = std::mem::take(&mut self.outs);
        self.member.on_poll(&mut out);
        self.apply(ctx, out);
        if self.app.commit_due && self.member.phase == Phase::Stable {
            self.app.commit_due = false;
            let offsets = self.fetcher.positions.iter().map(|(t, o)| (*t, *o)).collect();
            self.send_commit(ctx, offsets);
        }
        self.maybe_fetch(ctx);
    }

    pub(super) fn on_auto_commit(&mut self, ctx: Cx) {
        let every = Time::ms(self.cfg.auto_commit_interval_ms);
        ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
        if self.member.phase != Phase::Stable {
            return;
        }
        if self.cfg.auto_commit_on_timer {
            let offsets = self.app.stored.iter().map(|(t, o)| (*t, *o)).collect();
            self.send_commit(ctx, offsets);
        } else if self.app.state == State::Polling {
            let offsets = self.fetcher.positions.iter().map(|(t, o)| (*t, *o)).collect();
            self.send_commit(ctx, offsets);
        } else {
            self.app.commit_due = true;
        }
    }

    /// `poll()` returned a batch.
    pub(super) fn on_batch(&mut self, ctx: Cx) {
        self.app.last_poll = ctx.now();
        let plan = self.app.begin();
        let mut actx = AppCtx::new(ctx.now(), &self.fetcher.positions, &self.member.owned, plan);
        self.user
            .on_records(&mut actx, self.fetcher.buffer.make_contiguous());
        self.app.planned(Stage::Batch);
        self.run(ctx);
    }

    /// The next record goes to the application — or, none left, the batch is done.
    pub(super) fn process_next(&mut self, ctx: Cx) {
        if self.stalled(ctx) {
            return;
        }
        let plan = self.app.begin();
        let mut actx = AppCtx::new(ctx.now(), &self.fetcher.positions, &self.member.owned, plan);
        let Some(front) = self.fetcher.buffer.front() else {
            self.user.on_batch_done(&mut actx);
            self.app.planned(Stage::BatchDone);
            return self.run(ctx);
        };
        self.user.on_record(&mut actx, front);
        // handed to the application: librdkafka's stored offset moves past it now
        self.app.stored.insert(front.tp, front.offset + 1);
        self.app.planned(Stage::Record);
        self.run(ctx);
    }

    /// Carries out what the current callback asked for, until it must wait (processing, a
    /// commit) or is done.
    pub(super) fn run(&mut self, ctx: Cx) {
        while let Some(step) = self.app.next_step() {
            match step {
                Step::Process(t) if t == Time::ZERO => {}
                Step::Process(t) => {
                    self.app.state = State::Processing;
                    return ctx.timer(t, Msg::ClientTimer(ClientTimer::ProcessDone));
                }
                Step::Consumed => self.consumed(ctx),
                Step::CommitSync(offsets) if offsets.is_empty() => {}
                Step::CommitSync(offsets) => return self.commit_sync(ctx, offsets),
                Step::CommitSyncAll if self.fetcher.positions.is_empty() => {}
                Step::CommitSyncAll => {
                    let offsets = self.fetcher.positions.iter().map(|(t, o)| (*t, *o)).collect();
                    return self.commit_sync(ctx, offsets);
                }
                Step::Close => {
                    self.app.abandon();
                    self.app.close_requested = true;
                    return;
                }
                Step::Txn(call) => return self.txn_call(ctx, call),
                Step::TxnOffsets(offsets) => {
                    let call = TxnCall::SendOffsets {
                        group: self.group(),
                        member_id: self.member.member_id.clone(),
                        generation: self.member.generation,
                        offsets,
                    };
                    return self.txn_call(ctx, call);
                }
                other => self.immediate(ctx, other),
            }
        }
        self.stage_done(ctx);
    }

    fn stage_done(&mut self, ctx: Cx) {
        match self.app.stage {
            Stage::Batch | Stage::Record => self.process_next(ctx),
            Stage::BatchDone => self.poll(ctx),
        }
    }

    /// What takes no time: asynchronous commits, seeks, pauses, records for the producer,
    /// the app's events. From a rebalance callback, synchronous commits too (sent, not
    /// awaited).
    fn immediate(&mut self, ctx: Cx, step: Step) {
        match step {
            Step::Process(_) | Step::Consumed => {}
            Step::CommitSync(offsets) | Step::CommitAsync(offsets) => {
                self.send_commit(ctx, offsets);
            }
            Step::CommitSyncAll | Step::CommitAsyncAll => {
                let offsets = self.fetcher.positions.iter().map(|(t, o)| (*t, *o)).collect();
                self.send_commit(ctx, offsets);
            }
            Step::Seek(tp, offset) => self.fetcher.seek(tp, offset),
            Step::Pause(tps) => self.fetcher.set_paused(&tps, true),
            Step::Resume(tps) => self.fetcher.set_paused(&tps, false),
            Step::Produce(topic, payload) => {
                if let Some(p) = self.producer {
                    ctx.send(p, Msg::AppProduce { topic, payload });
                }
            }
            Step::Record(e) => ctx.record(Event::App(e)),
            Step::Close => self.app.close_requested = true,
            // a transaction call from a rebalance listener is not modelled
            Step::Txn(_) | Step::TxnOffsets(_) => {}
        }
    }

    /// A call of the producer's transaction API: the loop blocks until it answers.
    fn txn_call(&mut self, ctx: Cx, call: TxnCall) {
        let Some(p) = self.producer else {
            // no producer in the process: Java's IllegalStateException
            return self.on_txn_done(ctx, call.kind(), Err(ErrorCode::InvalidTxnState));
        };
        self.app.state = State::Transaction;
        ctx.send(p, Msg::AppTxn(call));
    }

    /// The producer answered the transaction call the loop is blocked in: on success the
    /// callback goes on; an error drops it (and the records not processed), and the app's
    /// [`super::ConsumerApp::on_transaction_failed`] runs before the next `poll()`.
    pub(super) fn on_txn_done(&mut self, ctx: Cx, call: TxnCallKind, result: Result<(), ErrorCode>) {
        if self.app.state != State::Transaction && self.producer.is_some() {
            return;
        }
        self.app.state = State::Polling;
        let Err(error) = result else {
            return self.run(ctx);
        };
        self.app.abandon();
        self.fetcher.buffer.clear();
        let plan = self.app.begin();
        let mut actx = AppCtx::new(ctx.now(), &self.fetcher.positions, &self.member.owned, plan);
        self.user.on_transaction_failed(&mut actx, call, error);
        self.app.planned(Stage::BatchDone);
        self.run(ctx);
    }

    /// A rebalance callback on `partitions`.
    pub(super) fn listener(&mut self, ctx: Cx, which: Listener, partitions: &[Tp]) {
        let mut steps = super::app::Steps::new();
        let mut actx = AppCtx::new(ctx.now(), &self.fetcher.positions, &self.member.owned, &mut steps);
        match which {
            Listener::Assigned => self.user.on_partitions_assigned(&mut actx, partitions),
            Listener::Revoked => self.user.on_partitions_revoked(&mut actx, partitions),
            Listener::Lost => self.user.on_partitions_lost(&mut actx, partitions),
        }
        for step in steps {
            self.immediate(ctx, step);
        }
    }

    /// The record in hand is processed.
    fn consumed(&mut self, ctx: Cx) {
        let f = self.fetcher.buffer.pop_front().expect("a record in hand");
        ctx.record(Event::Consumed {
            group: self.group(),
            generation: f.generation,
            tp: f.tp,
            offset: f.offset,
            id: f.record.id,
            payload: f.record.payload,
        });
    }

    /// What a commit of `tp` would write now: the position for commits in `poll()`, the
    /// stored offset for librdkafka's timer.
    pub(super) fn commit_offset(&self, tp: Tp) -> Option<i64> {
        if self.cfg.auto_commit_on_timer {
            self.app.stored.get(&tp).copied()
        } else {
            self.fetcher.positions.get(&tp).copied()
        }
    }

    pub(super) fn send_commit(&mut self, ctx: Cx, offsets: Vec<(Tp, i64)>) -> Option<u64> {
        let (member_id, generation) = (self.member.member_id.clone(), self.member.generation);
        self.send_commit_as(ctx, offsets, member_id, generation)
    }

    /// An OffsetCommit of `offsets` under `member_id` and `generation` (nothing without a
    /// member id, or nothing to commit): its id.
    pub(super) fn send_commit_as(
        &mut self,
        ctx: Cx,
        offsets: Vec<(Tp, i64)>,
        member_id: Option<MemberId>,
        generation: i32,
    ) -> Option<u64> {
        if offsets.is_empty() || member_id.is_none() {
            return None;
        }
        let corr = self.client.next_id();
        ctx.send(
            self.client.coord(),
            Msg::OffsetCommitReq {
                corr,
                group: self.group(),
                member_id,
                generation,
                offsets,
            },
        );
        Some(corr)
    }

    fn commit_sync(&mut self, ctx: Cx, offsets: Vec<(Tp, i64)>) {
        if self.app.sync_commit.is_none() {
            let deadline = ctx.now() + Time::ms(API_TIMEOUT_MS);
            self.app.sync_commit = Some((offsets.clone(), deadline));
        }
        match self.send_commit(ctx, offsets) {
            Some(corr) => {
                self.app.state = State::Committing;
                let to = self.client.coord();
                if self.client.watch(corr, Req::Commit, to, ctx.now()) {
                    ctx.timer(self.client.timeout(), Msg::ClientTimer(ClientTimer::Watchdog));
                }
            }
            None => {
                ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: ErrorCode::UnknownMemberId,
                });
                self.app.state = State::Polling;
                self.commit_failed(ctx);
            }
        }
    }

    pub(super) fn on_commit_answer(
        &mut self,
        ctx: Cx,
        corr: u64,
        offsets: Vec<(Tp, i64)>,
        result: Result<(), ErrorCode>,
    ) {
        let ok = result.is_ok();
        let moved = matches!(
            result,
            Err(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
        );
        if moved {
            self.coordinator_lost(ctx);
        }
        // retriable with the same coordinator (Java's RetriableCommitFailedException):
        // commitSync sends it again after retry.backoff.ms
        let retry = matches!(
            result,
            Err(ErrorCode::CoordinatorLoadInProgress | ErrorCode::RequestTimedOut)
        );
        match result {
            Ok(()) => ctx.record(Event::Committed {
                group: self.group(),
                generation: self.member.generation,
                offsets,
            }),
            Err(e) => ctx.record(Event::CommitFailed {
                group: self.group(),
                error: e,
            }),
        }
        if self.client.answer(corr, Req::Commit) {
            self.app.state = State::Polling;
            if ok {
                self.app.sync_commit = None;
                self.run(ctx);
            } else if moved {
                self.commit_moved(ctx);
            } else if retry {
                self.commit_moved(ctx);
                self.schedule_rediscover(ctx);
            } else {
                self.commit_failed(ctx);
            }
        }
    }

    /// The coordinator of the `commitSync()` in progress moved: wait for it and send the
    /// commit again, unless `default.api.timeout.ms` ran out.
    pub(super) fn commit_moved(&mut self, ctx: Cx) {
        match &self.app.sync_commit {
            Some((_, deadline)) if ctx.now() < *deadline => self.app.state = State::CommitRetry,
            _ => {
                self.app.state = State::Polling;
                self.commit_failed(ctx);
            }
        }
    }

    /// The coordinator is known again: a `commitSync()` waiting for it sends its commit.
    pub(super) fn resume_commit(&mut self, ctx: Cx) {
        if self.app.state == State::CommitRetry {
            match self.app.sync_commit.clone() {
                Some((offsets, deadline)) if ctx.now() < deadline => self.commit_sync(ctx, offsets),
                _ => {
                    self.app.state = State::Polling;
                    self.commit_failed(ctx);
                }
            }
        }
    }

    /// A `commitSync()` failed: the exception ends the callback that made it. In
    /// `on_records` (before processing: at-most-once) the batch is then not processed at all;
    /// in `on_record` before the record was processed, that record is skipped.
    pub(super) fn commit_failed(&mut self, ctx: Cx) {
        self.app.sync_commit = None;
        if self.app.abandon() {
            // the record in hand was not processed: the exception skipped it
            self.fetcher.buffer.pop_front();
        }
        if self.app.stage == Stage::Batch {
            self.fetcher.buffer.clear();
            self.poll(ctx);
        } else {
            self.app.state = State::Polling;
            self.stage_done(ctx);
        }
    }
}
