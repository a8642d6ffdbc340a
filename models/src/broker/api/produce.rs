//! Produce: appends with `acks` 0/1/all as the partition's leader. A transactional
//! producer's record joins its open transaction in the log (the last stable offset stops
//! there); one of an epoch older than a marker's is `INVALID_PRODUCER_EPOCH`.

use crate::broker::replica_manager::{ProduceCheck, Waiting};
use crate::broker::Broker;
use crate::log::Entry;
use crate::protocol::{Acks, Msg};
use crate::types::LogRecord;
use sim::{ActorId, Time};

impl Broker {
    /// Handles a Produce request (`msg` is a [`Msg::ProduceReq`]): `acks=0` is never
    /// answered, `acks=1` once written, `acks=all` once the high watermark passes it.
    pub(in crate::broker) fn on_produce(&mut self, now: Time, from: ActorId, msg: Msg) {
        let Msg::ProduceReq {
            tp,
            id,
            payload,
            acks,
            pseq,
            pepoch,
            txn,
        } = msg
        else {
            unreachable!("a produce request")
        };
        let epoch = match self.rm.check_produce(tp, from, id, acks, pseq, pepoch) {
            ProduceCheck::Reply(result) => {
                if acks != Acks::None {
                    self.fx.send(from, Msg::ProduceResp { tp, id, result });
                }
                return;
            }
            ProduceCheck::Waits => return,
            ProduceCheck::Append(epoch) => epoch,
        };
        // a transactional record of a fenced epoch (a marker carried a newer one)
        let fenced = txn.is_some_and(|(pid, e)| {
            self.rm
                .part(tp)
                .is_some_and(|p| p.log.transactions().is_fenced(pid, e))
        });
        if fenced {
            if acks != Acks::None {
                let result = Err(crate::protocol::ErrorCode::InvalidProducerEpoch);
                self.fx.send(from, Msg::ProduceResp { tp, id, result });
            }
            return;
        }
        let entry = Entry {
            record: LogRecord { id, payload },
            epoch,
            pseq,
            pepoch,
            internal: None,
            txn: txn.map(|(producer_id, epoch)| crate::log::TxnBatch::Data { producer_id, epoch }),
        };
        let offset = self.append(now, tp, entry);
        match acks {
            Acks::None => {}
            Acks::Leader => self.fx.send(
                from,
                Msg::ProduceResp {
                    tp,
                    id,
                    result: Ok(offset),
                },
            ),
            Acks::All => self.rm.wait(
                tp,
                Waiting::Produce {
                    client: from,
                    id,
                    offset,
                },
            ),
        }
        self.advance_high_watermark(tp);
    }
}
