//! `skip`: inside one assignment a consumer reads every record of a partition from its
//! position on. A fetch returns consecutive offsets (compaction aside, which the model does
//! not do), so a jump forward past a record — beyond the next offset and beyond the highest
//! read so far — means records went by unread: retention (`retention.ms`,
//! `retention.bytes`) deleted them before a slow consumer got there and the
//! `OFFSET_OUT_OF_RANGE` reset moved it to the log start, or the first record read lies past
//! the assignment's position (see [`super::read_order`]). No claim allows it.

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
        if *offset > prev + 1 && *offset > mark + 1 {
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
