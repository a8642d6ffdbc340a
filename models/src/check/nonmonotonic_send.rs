//! `nonmonotonic-send`: a producer's later send to a partition landed at a lower offset than
//! an earlier one (Jepsen's Kafka workload). Kafka keeps a producer's order per partition
//! with `max.in.flight.requests.per.connection=1`, or with idempotence (up to 5 in flight);
//! without either, a retried record may land after one sent later. Judged on the records
//! acknowledged, in send order (record number) per producer and partition. Only
//! `exactly-once-pipeline` forbids it.

use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::Tp;
use sim::{ActorId, Time, TraceEntry};
use std::collections::BTreeMap;

/// Record number → (offset, producer process, time acknowledged).
type Acks = BTreeMap<u32, (i64, ActorId, Time)>;

/// The `nonmonotonic-send` checker.
#[derive(Default)]
pub(crate) struct NonmonotonicSend {
    /// (producer, tp) → record number → (offset, producer process, time acknowledged).
    acked: BTreeMap<(u32, Tp), Acks>,
}

impl Invariant for NonmonotonicSend {
    fn entry(&mut self, _: &Step, e: &TraceEntry<Event>) {
        if let Event::Produced { id, tp, offset, .. } = &e.record {
            self.acked
                .entry((id.producer, *tp))
                .or_default()
                .insert(id.seq, (*offset, e.actor, e.time));
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for ((producer, tp), acked) in &self.acked {
            let mut prev: Option<(u32, i64)> = None;
            for (&seq, &(offset, actor, time)) in acked {
                if let Some((pseq, poff)) = prev {
                    if offset < poff {
                        out.push(Anomaly {
                            kind: AnomalyKind::NonmonotonicSend,
                            group: None,
                            tp: *tp,
                            offset: Some(offset),
                            record: Some(crate::types::RecordId {
                                producer: *producer,
                                seq,
                            }),
                            time,
                            clients: vec![name(end.names, actor)],
                            detail: format!("sent after record {pseq} (offset {poff}), landed before it"),
                        });
                    }
                }
                if prev.is_none_or(|(_, poff)| offset > poff) {
                    prev = Some((seq, offset));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_later_send_at_a_lower_offset_is_nonmonotonic() {
        let mut h = H::new();
        h.write(0, 0, 0).write(1, 2, 1).write(2, 1, 2);
        let a = run::<NonmonotonicSend>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].record, Some(id(2)));
        assert_eq!(a[0].detail, "sent after record 1 (offset 2), landed before it");
    }

    #[test]
    fn sends_in_order_are_fine() {
        let mut h = H::new();
        h.write(0, 0, 0).write(1, 1, 1).write(2, 2, 5);
        assert!(run::<NonmonotonicSend>(&h).is_empty());
    }
}
