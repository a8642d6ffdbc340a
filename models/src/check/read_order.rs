//! The order a consumer reads a partition in, inside one assignment: what
//! [`super::nonmonotonic`] and [`super::skip`] judge. A consumer's fetch position starts
//! where the assignment's `PositionSet` put it (the committed offset, or
//! `auto.offset.reset`) and each record read moves it to the next offset; a new assignment
//! may start anywhere. A reset inside an assignment (`OFFSET_OUT_OF_RANGE`: the log changed
//! under the consumer) is not a new start: what the consumer then reads — going back, or
//! skipping ahead — is judged against what it read before.

use crate::history::Event;
use crate::query::Owners;
use sim::TraceEntry;

/// Per open ownership: (previous offset read, highest offset read) in this assignment, once
/// its start is known.
#[derive(Default)]
pub(crate) struct ReadOrder {
    open: Owners<Option<(i64, i64)>>,
}

impl ReadOrder {
    /// Folds one entry. For a consumption inside an assignment whose start is known, returns
    /// (previous offset read, highest offset read) before it.
    pub(crate) fn apply(&mut self, e: &TraceEntry<Event>) -> Option<(i64, i64)> {
        self.open.apply(e, |_| {});
        match &e.record {
            Event::PositionSet { tp, offset, from, .. } => {
                if !from.is_out_of_range_reset() {
                    if let Some(last) = self.open.state_mut(e.actor, *tp) {
                        *last = Some((offset - 1, offset - 1));
                    }
                }
                None
            }
            Event::Consumed { tp, offset, .. } => {
                let last = self.open.state_mut(e.actor, *tp)?;
                let before = *last;
                // order is judged against the previous read; a step back does not lower the
                // mark a later skip is measured from
                *last = Some((*offset, last.map_or(*offset, |(_, mark)| mark.max(*offset))));
                before
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn reads_are_measured_from_the_position_and_the_highest_read() {
        let mut h = H::new();
        h.consume(0, C1, 9, 9) // not assigned: nothing to judge
            .assign(1, C1, &[0])
            .consume(1, C1, 9, 9) // no position yet
            .position(2, C1, 3)
            .consume(3, C1, 3, 3)
            .consume(3, C1, 5, 5)
            .consume(3, C1, 4, 4)
            .consume(3, C1, 6, 6);
        let mut r = ReadOrder::default();
        let seen: Vec<_> = h.0.entries().iter().filter_map(|e| r.apply(e)).collect();
        assert_eq!(seen, vec![(2, 2), (3, 3), (5, 5), (4, 5)]);
    }
}
