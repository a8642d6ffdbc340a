//! `duplicate-output`: the committed output of a consume–transform–produce pipeline holds
//! one input's output twice — the claim `exactly-once-pipeline` (every input record's
//! output is in the committed output exactly once; Kafka's `transactions_test.py` copies
//! input to output and compares). The built-in pipeline copies each input record's key and
//! value, so two committed transactional records of one topic with the same key and value
//! in the logs at the end are one input's output written twice: a pipeline that committed
//! its input offsets outside its transactions, or a zombie that was not fenced.

use super::{Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{Payload, RecordId};
use sim::TraceEntry;
use std::collections::BTreeMap;

/// A record's topic, key and value.
type OutputKey = (u32, Option<Vec<u8>>, Option<Vec<u8>>);

/// The `duplicate-output` checker.
#[derive(Default)]
pub(crate) struct DuplicateOutput {
    /// Record → its key and value (transactional records only).
    payloads: BTreeMap<RecordId, Payload>,
}

impl Invariant for DuplicateOutput {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        if let Event::Send { id, payload, .. } = &e.record {
            if step.txns.is_transactional(*id) {
                self.payloads.insert(*id, payload.clone());
            }
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        // (topic, key, value) → the committed records carrying them, in log order
        let mut seen: BTreeMap<OutputKey, Vec<(crate::types::Tp, i64, RecordId)>> = BTreeMap::new();
        for (&(tp, offset), &(id, _)) in &end.log.log {
            let Some(p) = self.payloads.get(&id) else {
                continue;
            };
            if !end.txns.outcome(tp, offset, id).is_some_and(|o| o.commit) {
                continue;
            }
            let key = (
                tp.topic,
                p.key().map(<[u8]>::to_vec),
                p.value().map(<[u8]>::to_vec),
            );
            seen.entry(key).or_default().push((tp, offset, id));
        }
        for copies in seen.values().filter(|c| c.len() > 1) {
            for &(tp, offset, id) in &copies[1..] {
                let (ftp, foff, _) = copies[0];
                out.push(Anomaly {
                    kind: AnomalyKind::DuplicateOutput,
                    group: None,
                    tp,
                    offset: Some(offset),
                    record: Some(id),
                    time: end.end,
                    clients: Vec::new(),
                    detail: format!(
                        "committed output already at {}-{}@{foff}",
                        ftp.topic, ftp.partition
                    ),
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
    fn one_payload_committed_twice_is_a_duplicate_output_and_aborted_copies_are_not() {
        let mut h = H::new();
        h.txn_with(0, &[(0, 0, b"a"), (1, 1, b"b")], true);
        h.txn_with(4, &[(2, 3, b"a")], false); // aborted: not output
        h.txn_with(8, &[(3, 5, b"b")], true); // b again, committed
        let a = run::<DuplicateOutput>(&h);
        assert_eq!(kinds(&a), vec![AnomalyKind::DuplicateOutput], "{a:?}");
        assert_eq!(a[0].record, Some(id(3)));
    }
}
