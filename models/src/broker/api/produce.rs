//! Produce: appends with `acks` 0/1/all as the partition's leader.

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
        let entry = Entry {
            record: LogRecord { id, payload },
            epoch,
            pseq,
            pepoch,
            internal: None,
            txn: None,
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
