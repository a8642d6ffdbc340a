//! `duplicate`: a consumer group consumes each record once. Kafka hands each partition to one
//! member of a group at a time and the group resumes from its committed offsets
//! (`OffsetCommit`), so a record is processed twice when a member consumed it and its
//! successor resumed from an older commit — processing before committing
//! (`enable.auto.commit` with a rebalance or crash between) — or when two members fetch one
//! partition at once (see [`super::double_ownership`]). At-least-once delivery allows it;
//! exactly-once does not.

use super::{group_mut, name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One consumption: by which client, when, of which record.
type Consumption = (ActorId, Time, RecordId);

/// (tp, offset) → consumptions (almost always one: no allocation for it).
type Consumed = BTreeMap<(Tp, i64), SmallVec<[Consumption; 1]>>;

/// The `duplicate` checker.
#[derive(Default)]
pub(crate) struct Duplicate {
    /// group → what it consumed.
    consumed: BTreeMap<Arc<str>, Consumed>,
}

impl Invariant for Duplicate {
    fn entry(&mut self, _: &Step, e: &TraceEntry<Event>) {
        if let Event::Consumed {
            group,
            tp,
            offset,
            id,
            ..
        } = &e.record
        {
            group_mut(&mut self.consumed, group)
                .entry((*tp, *offset))
                .or_default()
                .push((e.actor, e.time, *id));
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (group, consumed) in &self.consumed {
            for (&(tp, offset), uses) in consumed {
                if uses.len() > 1 {
                    out.push(Anomaly {
                        kind: AnomalyKind::Duplicate,
                        group: Some(group.clone()),
                        tp,
                        offset: Some(offset),
                        record: Some(uses[0].2),
                        time: uses[1].1,
                        clients: uses.iter().map(|u| name(end.names, u.0)).collect(),
                        detail: format!("consumed {} times", uses.len()),
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
    fn consumed_by_two_members_of_one_group() {
        let mut h = H::new();
        h.consume(1, C1, 0, 0).consume(2, C2, 0, 0).consume(3, C2, 0, 0);
        let a = run::<Duplicate>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].time, Time::ms(2));
        assert_eq!(a[0].clients, vec!["c1", "c2", "c2"]);
        assert_eq!(a[0].detail, "consumed 3 times");
    }

    #[test]
    fn each_group_consumes_its_own_copy() {
        let mut h = H::new();
        h.consume(1, C1, 0, 0).at(
            2,
            C2,
            Event::Consumed {
                group: "other".into(),
                generation: 1,
                tp: tp(0),
                offset: 0,
                id: id(0),
                payload: empty(),
            },
        );
        assert!(run::<Duplicate>(&h).is_empty());
    }
}
