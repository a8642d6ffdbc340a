//! The built-in transactional producer application (KIP-98): the scenario's records in
//! transactions — `beginTransaction()`, `records` sends, `commitTransaction()` — with every
//! `abort_every`-th transaction aborted instead (`abortTransaction()`), and optionally each
//! transaction held open `hang_ms` before it ends (a transaction past
//! `transaction.timeout.ms` is aborted by the coordinator, and the producer is fenced).
//!
//! A failed commit is followed by an abort, as Kafka's documentation writes the loop; a
//! fenced producer (`PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH`) stops.

use super::app::{Next, OutRecord, ProducerApp, ProducerCtx};
use super::scripted::Records;
use crate::protocol::{ErrorCode, TxnCallKind};
use crate::scenario::TransactionsSpec;
use sim::Time;

/// Where the application is with its transaction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    /// No transaction open.
    Idle,
    /// Sending the transaction's records.
    Sending,
    /// Holding the transaction open until this time.
    Hanging(Time),
    /// Waiting for commit or abort to return.
    Ending,
    /// Fenced, or out of records: nothing more.
    Done,
}

/// Sends its records in transactions.
#[derive(Clone, Debug)]
pub struct TransactionalProducer {
    records: Records,
    interval: Time,
    spec: TransactionsSpec,
    sent: u32,
    in_txn: u32,
    /// Transactions ended so far.
    count: u32,
    step: Step,
    due: Time,
}

impl TransactionalProducer {
    /// `records`, one every `interval`, in transactions as `spec` says.
    pub fn new(records: Records, interval: Time, spec: TransactionsSpec) -> TransactionalProducer {
        TransactionalProducer {
            records,
            interval,
            spec,
            sent: 0,
            in_txn: 0,
            count: 0,
            step: Step::Idle,
            due: Time::ZERO,
        }
    }

    /// Ends the open transaction: abort every `abort_every`-th, else commit.
    fn end(&mut self, ctx: &mut ProducerCtx) -> Next {
        self.count += 1;
        if self.spec.abort_every > 0 && self.count % self.spec.abort_every == 0 {
            ctx.abort_transaction();
        } else {
            ctx.commit_transaction();
        }
        self.step = Step::Ending;
        Next::Wait
    }
}

impl ProducerApp for TransactionalProducer {
    fn next(&mut self, ctx: &mut ProducerCtx) -> Next {
        match self.step {
            Step::Done | Step::Ending => {
                return if self.step == Step::Done {
                    Next::Done
                } else {
                    Next::Wait
                }
            }
            Step::Idle if self.sent == self.records.len() => {
                self.step = Step::Done;
                return Next::Done;
            }
            Step::Idle => {
                ctx.begin_transaction();
                self.step = Step::Sending;
                self.in_txn = 0;
            }
            Step::Hanging(until) if ctx.now() < until => return Next::At(until),
            Step::Hanging(_) => return self.end(ctx),
            Step::Sending => {}
        }
        if self.in_txn == self.spec.records || self.sent == self.records.len() {
            if self.spec.hang_ms > 0 {
                let until = ctx.now() + Time::ms(self.spec.hang_ms);
                self.step = Step::Hanging(until);
                return Next::At(until);
            }
            return self.end(ctx);
        }
        if ctx.now() < self.due {
            return Next::At(self.due);
        }
        let (payload, partition) = self.records.get(self.sent);
        self.sent += 1;
        self.in_txn += 1;
        self.due = ctx.now() + self.interval;
        Next::Send(OutRecord {
            topic: None,
            payload,
            partition,
        })
    }

    fn on_transaction(&mut self, ctx: &mut ProducerCtx, call: TxnCallKind, result: Result<(), ErrorCode>) {
        match (call, result) {
            (_, Err(ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch)) => self.step = Step::Done,
            (TxnCallKind::Commit, Err(_)) => ctx.abort_transaction(),
            (TxnCallKind::Begin, Err(_)) | (TxnCallKind::Abort, Err(_)) => self.step = Step::Done,
            (TxnCallKind::Commit | TxnCallKind::Abort, Ok(())) => self.step = Step::Idle,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::app::ProducerOp;
    use crate::protocol::TxnCall;

    fn records(n: u32) -> Records {
        Records::Generated {
            count: n,
            key: None,
            value: "v{i}".into(),
        }
    }

    /// Asks `app` at `now`: what it returned and the transaction calls it made.
    fn ask(app: &mut TransactionalProducer, now: Time) -> (Next, Vec<TxnCall>) {
        let mut ctx = ProducerCtx::new(now);
        let next = app.next(&mut ctx);
        let calls = ctx
            .into_ops()
            .into_iter()
            .filter_map(|o| match o {
                ProducerOp::Txn(c) => Some(c),
                ProducerOp::Send(_) => None,
            })
            .collect();
        (next, calls)
    }

    #[test]
    fn records_go_in_transactions_and_every_second_one_is_aborted() {
        let spec = TransactionsSpec {
            records: 2,
            abort_every: 2,
            hang_ms: 0,
        };
        let mut app = TransactionalProducer::new(records(4), Time::ZERO, spec);
        let mut calls = Vec::new();
        for _ in 0..3 {
            let (next, c) = ask(&mut app, Time::ZERO);
            calls.extend(c);
            assert!(matches!(next, Next::Send(_) | Next::Wait), "{next:?}");
        }
        assert_eq!(calls, [TxnCall::Begin, TxnCall::Commit]);
        assert_eq!(ask(&mut app, Time::ZERO).0, Next::Wait, "until commit returns");
        let mut ctx = ProducerCtx::new(Time::ZERO);
        app.on_transaction(&mut ctx, TxnCallKind::Commit, Ok(()));
        let mut calls = Vec::new();
        for _ in 0..3 {
            calls.extend(ask(&mut app, Time::ZERO).1);
        }
        assert_eq!(calls, [TxnCall::Begin, TxnCall::Abort], "the second is aborted");
        app.on_transaction(&mut ctx, TxnCallKind::Abort, Ok(()));
        assert_eq!(ask(&mut app, Time::ZERO).0, Next::Done);
    }

    #[test]
    fn a_hanging_transaction_waits_before_it_ends_and_a_fenced_producer_stops() {
        let spec = TransactionsSpec {
            records: 1,
            abort_every: 0,
            hang_ms: 70_000,
        };
        let mut app = TransactionalProducer::new(records(3), Time::ZERO, spec);
        assert!(matches!(ask(&mut app, Time::ZERO).0, Next::Send(_)));
        assert_eq!(ask(&mut app, Time::ZERO), (Next::At(Time::ms(70_000)), vec![]));
        assert_eq!(ask(&mut app, Time::ms(70_000)).1, [TxnCall::Commit]);
        let mut ctx = ProducerCtx::new(Time::ms(70_000));
        app.on_transaction(&mut ctx, TxnCallKind::Commit, Err(ErrorCode::ProducerFenced));
        assert_eq!(ask(&mut app, Time::ms(70_001)).0, Next::Done);
    }
}
