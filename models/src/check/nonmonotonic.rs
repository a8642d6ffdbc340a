//! `nonmonotonic`: inside one assignment a consumer reads a partition's offsets in increasing
//! order. Kafka's fetch returns records from the fetch position onwards and `poll()` moves the
//! position past them; going back (or reading an offset again) without a new assignment or a
//! `seek()` means the log changed under the consumer — an unclean election truncated it and
//! the `OFFSET_OUT_OF_RANGE` reset put the position before what it had read (see
//! [`super::read_order`]).

use super::read_order::ReadOrder;
use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use sim::TraceEntry;

/// The `nonmonotonic` checker.
#[derive(Default)]
pub(crate) struct Nonmonotonic {
    order: ReadOrder,
    anomalies: Vec<Anomaly>,
}

impl Invariant for Nonmonotonic {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        let Some((prev, _)) = self.order.apply(e) else {
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
        if *offset <= prev {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::Nonmonotonic,
                group: Some(group.clone()),
                tp: *tp,
                offset: Some(*offset),
                record: Some(*id),
                time: e.time,
                clients: vec![name(step.names, e.actor)],
                detail: format!("offset {offset} after {prev}"),
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
    fn going_back_or_repeating_inside_an_assignment() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .consume(1, C1, 0, 0)
            .consume(1, C1, 2, 2)
            .consume(1, C1, 1, 1)
            .consume(1, C1, 1, 1);
        let a = run::<Nonmonotonic>(&h);
        let details: Vec<_> = a.iter().map(|a| a.detail.as_str()).collect();
        assert_eq!(details, vec!["offset 1 after 1", "offset 1 after 2"]);
    }

    #[test]
    fn a_new_assignment_may_start_anywhere() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .consume(1, C1, 0, 0)
            .consume(1, C1, 1, 1);
        h.revoke(2, C1, &[0])
            .assign(3, C1, &[0])
            .position(3, C1, 0)
            .consume(4, C1, 0, 0);
        assert!(run::<Nonmonotonic>(&h).is_empty());
    }
}
