//! Produce: appends each record batch of the request with `acks` 0/1/all as the partition's
//! leader (`ReplicaManager.appendRecords`): a batch's records take consecutive offsets and
//! are answered together with the base offset; an idempotent batch is checked as a whole
//! against the producer's last five batches. A transactional producer's batch joins its open
//! transaction in the log (the last stable offset stops there); one of an epoch older than a
//! marker's is `INVALID_PRODUCER_EPOCH`.

use crate::broker::replica_manager::{ProduceCheck, Waiting};
use crate::broker::Broker;
use crate::log::Entry;
use crate::protocol::{Acks, ErrorCode, Msg, ProduceBatch};
use crate::types::Tp;
use sim::{ActorId, Time};

impl Broker {
    /// Handles a Produce request (`msg` is a [`Msg::ProduceReq`]), batch by batch: `acks=0`
    /// is never answered, `acks=1` once written, `acks=all` once the high watermark passes
    /// the batch's last record.
    pub(in crate::broker) fn on_produce(&mut self, now: Time, from: ActorId, msg: Msg) {
        let Msg::ProduceReq { batches, acks, txn } = msg else {
            unreachable!("a produce request")
        };
        // every batch is appended before any high watermark moves: a fetch the request
        // completes sees all of it (Kafka runs the purgatory checks after the request,
        // `ReplicaManager.appendRecords` → `actionQueue`)
        let mut appended = Vec::with_capacity(batches.len());
        for batch in batches {
            appended.extend(self.produce_batch(now, from, acks, txn, batch));
        }
        for tp in appended {
            self.advance_high_watermark(tp);
        }
    }

    fn answer_produce(
        &mut self,
        to: ActorId,
        acks: Acks,
        tp: Tp,
        batch: &ProduceBatch,
        result: Result<i64, ErrorCode>,
    ) {
        if acks != Acks::None {
            let id = batch.first();
            self.fx.send(to, Msg::ProduceResp { tp, id, result });
        }
    }

    /// Checks and appends one batch; returns its partition if it was appended.
    fn produce_batch(
        &mut self,
        now: Time,
        from: ActorId,
        acks: Acks,
        txn: Option<i64>,
        batch: ProduceBatch,
    ) -> Option<Tp> {
        let tp = batch.tp;
        let epoch = match self.rm.check_produce(from, acks, &batch) {
            ProduceCheck::Reply(result) => {
                self.answer_produce(from, acks, tp, &batch, result);
                return None;
            }
            ProduceCheck::Waits => return None,
            ProduceCheck::Append(epoch) => epoch,
        };
        // a transactional batch of a fenced epoch (a marker carried a newer one)
        let fenced = txn.is_some_and(|pid| {
            self.rm
                .part(tp)
                .is_some_and(|p| p.log.transactions().is_fenced(pid, batch.pepoch))
        });
        if fenced {
            let result = Err(ErrorCode::InvalidProducerEpoch);
            self.answer_produce(from, acks, tp, &batch, result);
            return None;
        }
        let id = batch.first();
        let count = batch.records.len() as i64;
        let (base_seq, pepoch) = (batch.base_seq, batch.pepoch);
        let data = txn.map(|producer_id| crate::log::TxnBatch::Data {
            producer_id,
            epoch: pepoch,
        });
        let entries = batch.records.into_iter().enumerate().map(|(i, record)| Entry {
            record,
            epoch,
            pseq: if base_seq < 0 { -1 } else { base_seq + i as i32 },
            batch_seq: base_seq,
            pepoch,
            internal: None,
            txn: data,
        });
        let base = self.append_batch(now, tp, entries);
        match acks {
            Acks::None => {}
            Acks::Leader => self.fx.send(
                from,
                Msg::ProduceResp {
                    tp,
                    id,
                    result: Ok(base),
                },
            ),
            Acks::All => self.rm.wait(
                tp,
                Waiting::Produce {
                    client: from,
                    id,
                    base,
                    offset: base + count - 1,
                },
            ),
        }
        Some(tp)
    }
}
