//! `aborted-read`: a consumer read a record of a transaction that was aborted (Jepsen's G1a,
//! "aborted read"). A `read_committed` consumer (`isolation.level`) is answered only up to
//! the last stable offset with the aborted transactions' list and drops their records; a
//! `read_uncommitted` one (the default) hands them to the application. Only
//! `exactly-once-pipeline` forbids it.

use super::{group_mut, name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A transactional record read: (tp, offset, record, client, time).
type Read = (Tp, i64, RecordId, ActorId, Time);

/// The `aborted-read` checker.
#[derive(Default)]
pub(crate) struct AbortedRead {
    /// group → transactional records consumed: (tp, offset, record, client, time).
    read: BTreeMap<Arc<str>, Vec<Read>>,
}

impl Invariant for AbortedRead {
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
                group_mut(&mut self.read, group).push((*tp, *offset, *id, e.actor, e.time));
            }
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (group, read) in self.read {
            for (tp, offset, id, actor, time) in read {
                if end.txns.outcome(tp, offset, id).is_some_and(|o| !o.commit) {
                    out.push(Anomaly {
                        kind: AnomalyKind::AbortedRead,
                        group: Some(group.clone()),
                        tp,
                        offset: Some(offset),
                        record: Some(id),
                        time,
                        clients: vec![name(end.names, actor)],
                        detail: "read a record of an aborted transaction".into(),
                    });
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
    fn a_record_of_an_aborted_transaction_read_is_an_aborted_read() {
        let mut h = H::new();
        h.txn(0, &[(0, 0), (1, 1)], false)
            .consume(5, C1, 0, 0)
            .consume(5, C1, 1, 1);
        h.txn(6, &[(2, 3)], true).consume(9, C1, 2, 3);
        let a = run::<AbortedRead>(&h);
        assert_eq!(kinds(&a), vec![AnomalyKind::AbortedRead; 2], "{a:?}");
        assert_eq!(a[0].offset, Some(0));
    }

    #[test]
    fn plain_records_and_committed_ones_are_fine() {
        let mut h = H::new();
        h.write(0, 0, 0).consume(1, C1, 0, 0);
        h.txn(2, &[(1, 1)], true).consume(5, C1, 1, 1);
        assert!(run::<AbortedRead>(&h).is_empty());
    }
}
