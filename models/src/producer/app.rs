//! The application inside a producer process: what it sends, and what it does with the
//! outcome of each record.
//!
//! Reproduces the application side of a Kafka producer client — the code that calls
//! `producer.send(topic, key, value, partition)` and gets each record's delivery callback
//! (Java's `Callback.onCompletion`, kafka-python's future callbacks and errbacks,
//! librdkafka's delivery report): the producer hands every acknowledgement and every final
//! failure back to the application, which may send the record again (at-least-once) or give
//! up. The producer asks [`ProducerApp::next`] when it may send; the scenario's scripted
//! producers ([`super::scripted::ScriptedProducer`]) and a consumer process's companion
//! ([`super::scripted::Companion`]) are the built-in implementations.

use crate::protocol::{ErrorCode, TxnCall, TxnCallKind};
use crate::types::{Payload, RecordId, Tp};
use sim::Time;
use std::sync::Arc;

/// A record the application asks the producer to send (`producer.send()`).
#[derive(Clone, Debug, PartialEq)]
pub struct OutRecord {
    /// Topic; `None`: the producer's own topic.
    pub topic: Option<Arc<str>>,
    /// Key and value.
    pub payload: Payload,
    /// An explicit partition; `None`: the partitioner chooses.
    pub partition: Option<u32>,
}

/// What the application does when the producer asks it.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Send this record now; the producer asks again at once.
    Send(OutRecord),
    /// Nothing now: ask again at this time.
    At(Time),
    /// Nothing now: ask again after the next acknowledgement, failure or handed-over record.
    Wait,
    /// The application sends nothing more (callbacks may still send again): once every
    /// record is settled the producer flushes and closes (`produce over.`).
    Done,
}

/// A record the producer sent on the application's behalf, as its callback sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    /// Its identity in the history.
    pub id: RecordId,
    /// The partition it went to.
    pub tp: Tp,
    /// Key and value.
    pub payload: Payload,
}

/// What the application asks of the producer from a callback, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum ProducerOp {
    /// `send()`.
    Send(OutRecord),
    /// A call of the transaction API (a producer with `transactional.id`).
    Txn(TxnCall),
}

/// What the application sees and can do inside one of its callbacks.
#[derive(Debug)]
pub struct ProducerCtx {
    now: Time,
    ops: Vec<ProducerOp>,
}

impl ProducerCtx {
    /// A context at `now`.
    pub fn new(now: Time) -> ProducerCtx {
        ProducerCtx { now, ops: Vec::new() }
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Sends `record` as soon as the callback returns (records sent this way go out in
    /// order, before a record [`Next::Send`] returns).
    pub fn send(&mut self, record: OutRecord) {
        self.ops.push(ProducerOp::Send(record));
    }

    /// `beginTransaction()` (a transactional producer; answered by
    /// [`ProducerApp::on_transaction`]).
    pub fn begin_transaction(&mut self) {
        self.ops.push(ProducerOp::Txn(TxnCall::Begin));
    }

    /// `commitTransaction()`: once every record of the transaction is acknowledged, EndTxn;
    /// answered by [`ProducerApp::on_transaction`].
    pub fn commit_transaction(&mut self) {
        self.ops.push(ProducerOp::Txn(TxnCall::Commit));
    }

    /// `abortTransaction()`: the records not sent yet fail; answered by
    /// [`ProducerApp::on_transaction`].
    pub fn abort_transaction(&mut self) {
        self.ops.push(ProducerOp::Txn(TxnCall::Abort));
    }

    /// The records sent through [`ProducerCtx::send`], handed over to the producer.
    pub fn into_sends(self) -> Vec<OutRecord> {
        self.ops
            .into_iter()
            .filter_map(|o| match o {
                ProducerOp::Send(r) => Some(r),
                ProducerOp::Txn(_) => None,
            })
            .collect()
    }

    /// Everything asked for, in order.
    pub fn into_ops(self) -> Vec<ProducerOp> {
        self.ops
    }
}

/// The application of a producer process.
pub trait ProducerApp: Send {
    /// The producer may send: the next record to send now, or when to ask again, or that
    /// the application is done.
    fn next(&mut self, ctx: &mut ProducerCtx) -> Next;

    /// Record `sent` was acknowledged at `offset` (−1 with `acks=0`).
    fn on_ack(&mut self, ctx: &mut ProducerCtx, sent: &Sent, offset: i64) {
        let _ = (ctx, sent, offset);
    }

    /// The producer gave up on record `sent` with `error` (retries or `delivery.timeout.ms`
    /// exhausted, or a fatal error); the application may send it again through `ctx`.
    fn on_failed(&mut self, ctx: &mut ProducerCtx, sent: &Sent, error: ErrorCode) {
        let _ = (ctx, sent, error);
    }

    /// A transaction call returned (`initTransactions()` completing is `Begin`'s turn to
    /// be asked: [`ProducerApp::next`] is first called once the producer is initialised).
    fn on_transaction(&mut self, ctx: &mut ProducerCtx, call: TxnCallKind, result: Result<(), ErrorCode>) {
        let _ = (ctx, call, result);
    }
}
