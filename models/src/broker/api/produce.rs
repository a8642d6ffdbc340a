//! Produce: appends each record batch of the request with `acks` 0/1/all as the partition's
//! leader (`ReplicaManager.appendRecords`): a batch's records take consecutive offsets and
//! are answered together with the base offset, in the one answer the request gets when all
//! of its batches are done (`DelayedProduce`); an idempotent batch is checked as a whole
//! against the producer's last five batches. A transactional producer's batch joins its open
//! transaction in the log (the last stable offset stops there); one of an epoch older than a
//! marker's is `INVALID_PRODUCER_EPOCH`.

use crate::broker::delayed_produce::Slot;
use crate::broker::replica_manager::{ProduceCheck, Waiting};
use crate::broker::Broker;
use crate::log::Entry;
use crate::protocol::{Acks, ErrorCode, Msg, ProduceBatch};
use crate::types::Tp;
use sim::{ActorId, Time};

impl Broker {
    /// Handles a Produce request (`msg` is a [`Msg::ProduceReq`]) batch by batch, answered
    /// once when every batch is done ([`crate::broker::delayed_produce`]): `acks=0` never,
    /// `acks=1` once written, `acks=all` once the high watermark passes each batch's last
    /// record. `failing`: a partition whose batches fail with an error instead (a request
    /// fault for that partition), the request's other batches are appended.
    pub(in crate::broker) fn on_produce(
        &mut self,
        now: Time,
        from: ActorId,
        msg: Msg,
        failing: Option<(Tp, ErrorCode)>,
    ) {
        let Msg::ProduceReq { batches, acks, txn } = msg else {
            unreachable!("a produce request")
        };
        let first = self.rm.produces.open(
            from,
            acks == Acks::None,
            batches.iter().map(|b| (b.tp, b.first())),
        );
        // every batch is appended before any high watermark moves: a fetch the request
        // completes sees all of it (Kafka runs the purgatory checks after the request,
        // `ReplicaManager.appendRecords` → `actionQueue`)
        let mut appended = Vec::with_capacity(batches.len());
        for (i, batch) in batches.into_iter().enumerate() {
            let slot = first.nth(i);
            match failing {
                Some((tp, error)) if tp == batch.tp => self.answer_produce(slot, Err(error)),
                _ => appended.extend(self.produce_batch(now, slot, acks, txn, batch)),
            }
        }
        for tp in appended {
            self.advance_high_watermark(tp);
        }
    }

    fn answer_produce(&mut self, slot: Slot, result: Result<i64, ErrorCode>) {
        self.rm.produces.complete(slot, result, &mut self.fx);
    }

    /// Checks and appends one batch; returns its partition if it was appended.
    fn produce_batch(
        &mut self,
        now: Time,
        slot: Slot,
        acks: Acks,
        txn: Option<i64>,
        batch: ProduceBatch,
    ) -> Option<Tp> {
        let tp = batch.tp;
        let epoch = match self.rm.check_produce(slot, acks, &batch) {
            ProduceCheck::Reply(result) => {
                self.answer_produce(slot, result);
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
            self.answer_produce(slot, Err(ErrorCode::InvalidProducerEpoch));
            return None;
        }
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
            Acks::None | Acks::Leader => self.answer_produce(slot, Ok(base)),
            Acks::All => self.rm.wait(
                tp,
                Waiting::Produce {
                    slot,
                    base,
                    offset: base + count - 1,
                },
            ),
        }
        Some(tp)
    }
}
