//! `log-duplicate`: a produced record is in the log once. A producer that retries a batch
//! whose acknowledgement it never got writes it again at a new offset unless the
//! idempotent producer (KIP-98, `enable.idempotence`) lets the leader recognise the
//! sequence number and answer with the first offset. This checker reads the log at the end
//! (the leader's, see [`super::leader_log`]) and reports every further offset of a record.

use super::{Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{Time, TraceEntry};
use std::collections::BTreeMap;

/// The `log-duplicate` checker: it needs only the log at the end.
#[derive(Default)]
pub(crate) struct LogDuplicate;

/// Where each record of the final log is: record → (tp, offset, appended at), in log order.
pub(crate) fn places(end: &End) -> BTreeMap<RecordId, Vec<(Tp, i64, Time)>> {
    let mut at: BTreeMap<RecordId, Vec<(Tp, i64, Time)>> = BTreeMap::new();
    for (&(tp, offset), &(id, t)) in &end.log.log {
        at.entry(id).or_default().push((tp, offset, t));
    }
    at
}

impl Invariant for LogDuplicate {
    fn entry(&mut self, _: &Step, _: &TraceEntry<Event>) {}

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (id, places) in &places(end) {
            for &(tp, offset, t) in places.iter().skip(1) {
                out.push(Anomaly {
                    kind: AnomalyKind::LogDuplicate,
                    group: None,
                    tp,
                    offset: Some(offset),
                    record: Some(*id),
                    time: t,
                    clients: Vec::new(),
                    detail: format!("record already at offset {}", places[0].1),
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
    fn a_retried_batch_at_two_offsets() {
        let mut h = H::new();
        h.at(0, BROKER, appended(0, 0))
            .at(1, BROKER, appended(0, 1))
            .at(2, BROKER, appended(0, 2));
        let a = run::<LogDuplicate>(&h);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!((a[0].offset, a[0].time), (Some(1), Time::ms(1)));
        assert_eq!(a[1].detail, "record already at offset 0");
    }

    #[test]
    fn a_copy_an_election_cut_off_is_no_duplicate() {
        let mut h = H::new();
        h.at(0, BROKER, elected(0, 0))
            .at(1, BROKER, appended(0, 0))
            .at(2, BROKER, appended(0, 1))
            .at(3, C2, elected(1, 1));
        assert!(run::<LogDuplicate>(&h).is_empty());
    }
}
