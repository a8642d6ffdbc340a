//! `torn-transaction`: a group read part of a committed transaction but not all of it
//! (Jepsen's Kafka workload, fixed in Kafka by KIP-890). A transaction is atomic: once
//! committed, a `read_committed` consumer that reads one of its records reads the others
//! too as it moves on. The anomaly is a record of a transaction some of whose records the
//! group read, which is in the partition's log at the end, which the group never read
//! although it read a later offset of that partition.

use super::transactions::TxnKey;
use super::{group_mut, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{Time, TraceEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Default)]
struct GroupReads {
    /// Records read.
    records: BTreeSet<RecordId>,
    /// Transactions some of whose records were read, with the first time.
    txns: BTreeMap<TxnKey, Time>,
    /// Highest offset read per partition.
    highest: BTreeMap<Tp, i64>,
}

/// The `torn-transaction` checker.
#[derive(Default)]
pub(crate) struct TornTransaction {
    groups: BTreeMap<Arc<str>, GroupReads>,
}

impl Invariant for TornTransaction {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        if let Event::Consumed {
            group,
            tp,
            offset,
            id,
            ..
        } = &e.record
        {
            let g = group_mut(&mut self.groups, group);
            g.records.insert(*id);
            let h = g.highest.entry(*tp).or_insert(*offset);
            *h = (*h).max(*offset);
            if let Some(t) = step.txns.txn_of(*id) {
                g.txns.entry(t).or_insert(e.time);
            }
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (group, g) in &self.groups {
            for (&(tp, offset), &(id, _)) in &end.log.log {
                let Some(t) = end.txns.txn_of(id) else {
                    continue;
                };
                let Some(&first_read) = g.txns.get(&t) else {
                    continue;
                };
                let committed = end.txns.outcome(tp, offset, id).is_some_and(|o| o.commit);
                let passed = g.highest.get(&tp).is_some_and(|&h| h > offset);
                if committed && passed && !g.records.contains(&id) {
                    out.push(Anomaly {
                        kind: AnomalyKind::TornTransaction,
                        group: Some(group.clone()),
                        tp,
                        offset: Some(offset),
                        record: Some(id),
                        time: first_read.max(end.end),
                        clients: Vec::new(),
                        detail: "not read, though the group read other records of its committed transaction and moved past it"
                            .into(),
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
    fn part_of_a_committed_transaction_read_is_torn() {
        let mut h = H::new();
        h.txn(0, &[(0, 0), (1, 1)], true);
        h.write(5, 9, 3);
        // c1 reads record 0, not record 1, and moves on to offset 3
        h.consume(6, C1, 0, 0).consume(6, C1, 9, 3);
        let a = run::<TornTransaction>(&h);
        assert_eq!(kinds(&a), vec![AnomalyKind::TornTransaction], "{a:?}");
        assert_eq!(a[0].record, Some(id(1)));
    }

    #[test]
    fn a_whole_transaction_or_an_aborted_one_is_not_torn() {
        let mut h = H::new();
        h.txn(0, &[(0, 0), (1, 1)], true);
        h.txn(3, &[(2, 3), (3, 4)], false);
        h.write(8, 9, 6);
        h.consume(9, C1, 0, 0)
            .consume(9, C1, 1, 1)
            .consume(9, C1, 2, 3)
            .consume(9, C1, 9, 6);
        assert!(run::<TornTransaction>(&h).is_empty());
    }
}
