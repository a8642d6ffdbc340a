//! `skip`: inside one assignment a consumer reads every record of a partition from its
//! position on. A fetch returns consecutive offsets (compaction aside, which the model does
//! not do), so a jump forward past a record — beyond the next offset and beyond the highest
//! read so far — means records went by unread: retention (`retention.ms`,
//! `retention.bytes`) deleted them before a slow consumer got there and the
//! `OFFSET_OUT_OF_RANGE` reset moved it to the log start, or the first record read lies past
//! the assignment's position (see [`super::read_order`]). Transaction markers and the
//! records of aborted transactions, which a `read_committed` consumer steps over, are no
//! skip. No claim allows it.

use super::read_order::ReadOrder;
use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use sim::TraceEntry;

/// The `skip` checker.
#[derive(Default)]
pub(crate) struct Skip {
    order: ReadOrder,
    anomalies: Vec<Anomaly>,
}

impl Invariant for Skip {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        let Some((prev, mark)) = self.order.apply(e) else {
            return;
        };
        let Event::Consumed {
            group,
            tp,
            offset,
            id,
            ..
        } = &e.record
        else {
            return;
        };
        let from = prev.max(mark) + 1;
        if *offset > prev + 1 && *offset > mark + 1 && !step.txns.steps_over(*tp, from, *offset, step.log) {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::Skip,
                group: Some(group.clone()),
                tp: *tp,
                offset: Some(*offset),
                record: Some(*id),
                time: e.time,
                clients: vec![name(step.names, e.actor)],
                detail: format!("offset {offset} after {prev}: skipped {}", offset - prev - 1),
            });
        }
    }

    fn finish(self, _: &End, out: &mut Vec<Anomaly>) {
        out.extend(self.anomalies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_first_read_past_the_position_is_a_skip() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).position(0, C1, 0).consume(1, C1, 2, 2);
        let a = run::<Skip>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].detail, "offset 2 after -1: skipped 2");
    }

    #[test]
    fn after_a_step_back_the_skip_is_measured_from_the_highest_read() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .consume(1, C1, 0, 0)
            .consume(1, C1, 1, 1)
            .consume(1, C1, 5, 5) // skip
            .consume(1, C1, 2, 2) // back: not a skip
            .consume(1, C1, 6, 6); // past 5, the highest read: not a skip either
        let a = run::<Skip>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].offset, Some(5));
    }

    #[test]
    fn markers_and_aborted_records_stepped_over_are_no_skip() {
        let mut h = H::new();
        h.txn(0, &[(0, 0)], true); // marker at 1
        h.txn(4, &[(1, 2)], false); // aborted record at 2, marker at 3
        h.txn(8, &[(2, 4)], true); // marker at 5
        h.write(12, 3, 6);
        h.assign(13, C1, &[0]).position(13, C1, 0);
        h.consume(14, C1, 0, 0)
            .consume(14, C1, 2, 4)
            .consume(14, C1, 3, 6);
        assert!(run::<Skip>(&h).is_empty());
        // without the aborted transaction's marker, the jump from 0 to 4 skips record 1
        let mut h = H::new();
        h.txn(0, &[(0, 0)], true);
        h.txn_open(4, &[(1, 2)]);
        h.txn_open(8, &[(2, 4)]);
        h.assign(13, C1, &[0]).position(13, C1, 0);
        h.consume(14, C1, 0, 0).consume(14, C1, 2, 4);
        assert_eq!(run::<Skip>(&h).len(), 1);
    }

    #[test]
    fn an_out_of_range_reset_is_no_new_start() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).position(0, C1, 0).consume(1, C1, 0, 0);
        h.at(
            2,
            C1,
            Event::PositionSet {
                group: g(),
                tp: tp(0),
                offset: 4,
                from: crate::history::PositionSource::OutOfRangeEarliest,
            },
        );
        h.consume(3, C1, 4, 4);
        assert_eq!(run::<Skip>(&h).len(), 1);
    }
}
