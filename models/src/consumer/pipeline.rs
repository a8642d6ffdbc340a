//! The built-in consume–transform–produce application: Kafka's exactly-once loop as its
//! documentation writes it (KIP-98, KIP-447), running in a consumer process whose producer
//! has a `transactional.id`:
//!
//! ```text
//! records = consumer.poll()
//! producer.beginTransaction()
//! for r in records: producer.send(output, r.key, r.value)
//! producer.sendOffsetsToTransaction(positions, consumer.groupMetadata())
//! producer.commitTransaction()
//! on KafkaException: producer.abortTransaction(); rewind to the last committed offsets
//! on ProducerFencedException: close
//! ```
//!
//! Each record is copied unchanged (key and value), so a duplicate in the output is the
//! same input twice. With [`PipelineOffsets::Outside`] the offsets are committed by
//! `commitSync()` after the transaction instead — the mistake KIP-447 exists for: a crash
//! between the two writes the output again.

use super::app::{AppCtx, ConsumerApp};
use super::fetcher::ConsumedRecord;
use crate::protocol::{ErrorCode, TxnCallKind};
use crate::scenario::PipelineOffsets;
use crate::types::Tp;
use sim::Time;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The consume–transform–produce loop.
#[derive(Clone, Debug)]
pub struct PipelineApp {
    output: Arc<str>,
    offsets: PipelineOffsets,
    processing: Time,
    /// A transaction is open.
    in_txn: bool,
    /// The first offset of each partition read in the open transaction: where an abort
    /// rewinds to (the offsets the last committed transaction left).
    start: BTreeMap<Tp, i64>,
}

impl PipelineApp {
    /// Copies what it reads to `output`, `processing` per record, committing its offsets as
    /// `offsets` says.
    pub fn new(output: Arc<str>, offsets: PipelineOffsets, processing: Time) -> PipelineApp {
        PipelineApp {
            output,
            offsets,
            processing,
            in_txn: false,
            start: BTreeMap::new(),
        }
    }

    fn begin(&mut self, ctx: &mut AppCtx) {
        if !self.in_txn {
            self.in_txn = true;
            self.start.clear();
            ctx.begin_transaction();
        }
    }
}

impl ConsumerApp for PipelineApp {
    fn on_records(&mut self, ctx: &mut AppCtx, _records: &[ConsumedRecord]) {
        self.begin(ctx);
    }

    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
        // a record fetched while the last batch was processed opens its own transaction
        self.begin(ctx);
        self.start.entry(record.tp).or_insert(record.offset);
        ctx.process(self.processing);
        let p = &record.record.payload;
        ctx.produce(&self.output, p.key(), p.value());
    }

    fn on_batch_done(&mut self, ctx: &mut AppCtx) {
        if !self.in_txn {
            return;
        }
        self.in_txn = false;
        let offsets: Vec<(Tp, i64)> = self
            .start
            .keys()
            .filter_map(|tp| ctx.position(*tp).map(|o| (*tp, o)))
            .collect();
        match self.offsets {
            PipelineOffsets::Transaction => {
                ctx.send_offsets_to_transaction(&offsets);
                ctx.commit_transaction();
            }
            PipelineOffsets::Outside => {
                ctx.commit_transaction();
                ctx.commit_sync(&offsets);
            }
        }
    }

    fn on_transaction_failed(&mut self, ctx: &mut AppCtx, call: TxnCallKind, error: ErrorCode) {
        self.in_txn = false;
        let fenced = matches!(error, ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch);
        if fenced || call == TxnCallKind::Abort || call == TxnCallKind::Begin {
            // a zombie: another instance took over (or the producer is unusable)
            return ctx.close();
        }
        ctx.abort_transaction();
        for (tp, offset) in std::mem::take(&mut self.start) {
            ctx.seek(tp, offset);
        }
    }

    fn on_restart(&mut self) {
        self.in_txn = false;
        self.start.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::app::{Step, Steps};
    use crate::types::{LogRecord, Payload, RecordId, VecMap};
    use std::collections::BTreeSet;

    const TP: Tp = Tp {
        topic: 0,
        partition: 0,
    };

    fn record(offset: i64) -> ConsumedRecord {
        ConsumedRecord {
            tp: TP,
            offset,
            record: LogRecord {
                id: RecordId { producer: 0, seq: 0 },
                payload: Payload::new(Some(b"k"), Some(b"v")),
            },
            generation: 1,
        }
    }

    fn steps(positions: &VecMap<Tp, i64>, call: impl FnOnce(&mut AppCtx)) -> Vec<String> {
        let (owned, mut steps) = (BTreeSet::new(), Steps::new());
        call(&mut AppCtx::new(Time::ZERO, positions, &owned, &mut steps));
        steps
            .into_iter()
            .map(|s| match s {
                Step::Txn(c) => format!("{:?}", c.kind()),
                Step::TxnOffsets(o) => format!("SendOffsets{o:?}"),
                Step::Produce(t, _) => format!("Produce({t})"),
                Step::CommitSync(o) => format!("CommitSync{o:?}"),
                Step::Seek(tp, o) => format!("Seek({}, {o})", tp.partition),
                Step::Close => "Close".into(),
                Step::Process(_) => "Process".into(),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn a_batch_is_one_transaction_with_its_offsets() {
        let mut app = PipelineApp::new("out".into(), PipelineOffsets::Transaction, Time::ZERO);
        let mut pos = VecMap::default();
        assert_eq!(steps(&pos, |c| app.on_records(c, &[record(3)])), ["Begin"]);
        assert_eq!(
            steps(&pos, |c| app.on_record(c, &record(3))),
            ["Process", "Produce(out)"]
        );
        pos.insert(TP, 4);
        assert_eq!(
            steps(&pos, |c| app.on_batch_done(c)),
            ["SendOffsets[(Tp { topic: 0, partition: 0 }, 4)]", "Commit"]
        );
    }

    #[test]
    fn outside_commits_after_the_transaction_and_a_failure_aborts_and_rewinds() {
        let mut app = PipelineApp::new("out".into(), PipelineOffsets::Outside, Time::ZERO);
        let mut pos = VecMap::default();
        steps(&pos, |c| app.on_records(c, &[record(5)]));
        steps(&pos, |c| app.on_record(c, &record(5)));
        pos.insert(TP, 6);
        assert_eq!(
            steps(&pos, |c| app.on_batch_done(c)),
            ["Commit", "CommitSync[(Tp { topic: 0, partition: 0 }, 6)]"]
        );
        steps(&pos, |c| app.on_records(c, &[record(6)]));
        steps(&pos, |c| app.on_record(c, &record(6)));
        let failed =
            |c: &mut AppCtx| app.on_transaction_failed(c, TxnCallKind::Commit, ErrorCode::NotEnoughReplicas);
        assert_eq!(steps(&pos, failed), ["Abort", "Seek(0, 6)"]);
        let fenced =
            |c: &mut AppCtx| app.on_transaction_failed(c, TxnCallKind::Commit, ErrorCode::ProducerFenced);
        assert_eq!(steps(&pos, fenced), ["Close"]);
    }
}
