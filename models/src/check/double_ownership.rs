//! `double-ownership`: a partition has one owner in a consumer group at a time. The group
//! protocol revokes a partition from its member before it is assigned to another (eager:
//! every member revokes before `JoinGroup`; KIP-429 cooperative: revoked in one rebalance,
//! assigned in the next), and a member that misses `session.timeout.ms` or
//! `max.poll.interval.ms` is expected to find out and call `onPartitionsLost`. A zombie member
//! that keeps fetching after the coordinator gave its partitions away owns them together with
//! its successor. Ownership comes from [`crate::query::Owners`], as every reader sees it.

use super::{group_mut, name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::query::{Owners, Ownership};
use crate::types::Tp;
use sim::{ActorId, Time, TraceEntry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One ownership interval: client, start, end (`Time::MAX`: until the end).
type Interval = (ActorId, Time, Time);

/// The `double-ownership` checker.
#[derive(Default)]
pub(crate) struct DoubleOwnership {
    /// Ownerships open now.
    open: Owners,
    /// group → tp → ownership intervals that ended, in the order they ended.
    owned: BTreeMap<Arc<str>, BTreeMap<Tp, Vec<Interval>>>,
}

impl DoubleOwnership {
    /// Files an ownership that ended (or is still open at the end: `Time::MAX`).
    fn file(&mut self, o: Ownership) {
        group_mut(&mut self.owned, &o.group)
            .entry(o.tp)
            .or_default()
            .push((o.client, o.start, o.end_or(Time::MAX)));
    }
}

/// The overlap of two intervals of different clients, if any: (from, to).
fn overlap(a: &Interval, b: &Interval) -> Option<(Time, Time)> {
    (a.0 != b.0 && a.1 < b.2 && b.1 < a.2).then(|| (a.1.max(b.1), a.2.min(b.2)))
}

impl Invariant for DoubleOwnership {
    fn entry(&mut self, _: &Step, e: &TraceEntry<Event>) {
        let mut ended = Vec::new();
        self.open.apply(e, |o| ended.push(o));
        for o in ended {
            self.file(o);
        }
    }

    fn finish(mut self, end: &End, out: &mut Vec<Anomaly>) {
        // close what is still open at the end of the run, in the order of the clients' names
        for o in std::mem::take(&mut self.open).finish(end.names) {
            self.file(o);
        }
        for (group, owned) in &self.owned {
            for (&tp, intervals) in owned {
                for (i, a) in intervals.iter().enumerate() {
                    for b in &intervals[i + 1..] {
                        let Some((from, to)) = overlap(a, b) else {
                            continue;
                        };
                        let to = if to == Time::MAX {
                            "the end".to_string()
                        } else {
                            to.to_string()
                        };
                        out.push(Anomaly {
                            kind: AnomalyKind::DoubleOwnership,
                            group: Some(group.clone()),
                            tp,
                            offset: None,
                            record: None,
                            time: from,
                            clients: vec![name(end.names, a.0), name(end.names, b.0)],
                            detail: format!("owned by both from {from} to {to}"),
                        });
                    }
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
    fn two_members_owning_one_partition_overlap() {
        let mut h = H::new();
        h.assign(0, C1, &[0, 1])
            .assign(5, C2, &[1])
            .revoke(7, C1, &[0, 1]);
        let a = run::<DoubleOwnership>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!((a[0].tp, a[0].time), (tp(1), Time::ms(5)));
        assert_eq!(a[0].detail, "owned by both from 5.000ms to 7.000ms");
        assert_eq!(a[0].clients, vec!["c1", "c2"]);
    }

    #[test]
    fn an_overlap_open_at_the_end_lasts_until_the_end() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).assign(5, C2, &[0]);
        let a = run::<DoubleOwnership>(&h);
        assert_eq!(a[0].detail, "owned by both from 5.000ms to the end");
        assert_eq!(a[0].clients, vec!["c1", "c2"]);
    }

    #[test]
    fn a_hand_over_at_one_instant_and_a_reassignment_are_no_overlap() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).revoke(5, C1, &[0]).assign(5, C2, &[0]);
        h.assign(6, C2, &[0]).at(9, C2, Event::Crashed);
        assert!(run::<DoubleOwnership>(&h).is_empty());
    }
}
