//! `uncommitted-read`: a consumer read a transactional record before its transaction ended
//! in the partition (no marker yet): beyond the last stable offset. `read_committed` fetches
//! are answered only up to the LSO, so only a `read_uncommitted` consumer does it. Only
//! `exactly-once-pipeline` forbids it.

use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};
use std::sync::Arc;

/// The `uncommitted-read` checker.
#[derive(Default)]
pub(crate) struct UncommittedRead {
    /// Transactional records consumed: (group, tp, offset, record, client, time).
    read: Vec<(Arc<str>, Tp, i64, RecordId, ActorId, Time)>,
}

impl Invariant for UncommittedRead {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        if let Event::Consumed {
            group,
            tp,
            offset,
            id,
            ..
        } = &e.record
        {
            if step.txns.is_transactional(*id) {
                self.read
                    .push((group.clone(), *tp, *offset, *id, e.actor, e.time));
            }
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (group, tp, offset, id, actor, time) in self.read {
            let decided = end.txns.outcome(tp, offset, id).is_some_and(|o| o.time <= time);
            if !decided {
                out.push(Anomaly {
                    kind: AnomalyKind::UncommittedRead,
                    group: Some(group),
                    tp,
                    offset: Some(offset),
                    record: Some(id),
                    time,
                    clients: vec![name(end.names, actor)],
                    detail: "read before its transaction ended (beyond the last stable offset)".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_read_before_the_marker_is_uncommitted() {
        let mut h = H::new();
        // the transaction's records are read at 1 ms, its commit marker written at 4 ms
        h.txn_open(0, &[(0, 0)]).consume(1, C1, 0, 0);
        h.txn_end(4, 1, true).consume(5, C2, 0, 0);
        let a = run::<UncommittedRead>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].clients, vec!["c1".to_string()]);
    }

    #[test]
    fn a_transaction_never_ended_is_never_committed() {
        let mut h = H::new();
        h.txn_open(0, &[(0, 0)]).consume(1, C1, 0, 0);
        assert_eq!(run::<UncommittedRead>(&h).len(), 1);
    }
}
