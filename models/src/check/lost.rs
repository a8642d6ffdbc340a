//! `lost` and `unseen`: a consumer group consumes every record written to a partition from
//! the position it started at (its committed offset, or `auto.offset.reset`) while a member
//! was alive to read it. A record it never consumed although it moved past it — consumed a
//! later offset, or committed beyond it (`OffsetCommit` before processing, as
//! `enable.auto.commit` does, then a crash) — is `lost`: at-most-once allows that, nothing
//! else does. One it had not consumed by the end of the run, with the group not past it, is
//! `unseen`: still pending, a later member would read it; every claim allows it.
//!
//! Records written after every member of the group had ended (closed, crashed, failed) are
//! expected of nobody.

use super::{group_mut, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::Tp;
use sim::{ActorId, Time, TraceEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the checker knows of one group.
#[derive(Default)]
struct GroupView {
    /// tp → (time, offset) of the first position the group had in it.
    first_position: BTreeMap<Tp, (Time, i64)>,
    /// (tp, offset) the group consumed.
    consumed: BTreeSet<(Tp, i64)>,
    /// Members' clients, and when each ended (closed, crashed), if it has.
    members: BTreeMap<ActorId, Option<Time>>,
    /// tp → the furthest offset the group committed.
    committed: BTreeMap<Tp, i64>,
}

impl GroupView {
    /// When the group ended: its last member's end, once all have ended.
    fn end(&self) -> Option<Time> {
        let all_ended = self.members.values().all(Option::is_some) && !self.members.is_empty();
        if all_ended {
            self.members.values().flatten().max().copied()
        } else {
            None
        }
    }

    /// Whether the group consumed or committed past `offset` of `tp`, and which.
    fn past(&self, tp: Tp, offset: i64) -> Option<&'static str> {
        let consumed_past = self
            .consumed
            .range((tp, offset + 1)..)
            .next()
            .is_some_and(|(t, _)| *t == tp);
        let committed_past = self.committed.get(&tp).is_some_and(|c| *c > offset);
        if committed_past {
            Some("committed")
        } else if consumed_past {
            Some("consumed")
        } else {
            None
        }
    }
}

/// The `lost` and `unseen` checker.
#[derive(Default)]
pub(crate) struct Lost {
    groups: BTreeMap<Arc<str>, GroupView>,
    /// consumer → group (a client is in one group).
    group_of: BTreeMap<ActorId, Arc<str>>,
}

impl Lost {
    /// Marks `client`'s membership as ended at `end` (or alive again: `None`).
    fn member_ends(&mut self, client: ActorId, end: Option<Time>) {
        if let Some(group) = self.group_of.get(&client) {
            group_mut(&mut self.groups, group).members.insert(client, end);
        }
    }

    /// Notes `client` as a member of `group`.
    fn member(&mut self, client: ActorId, group: &Arc<str>) {
        self.group_of.insert(client, group.clone());
        group_mut(&mut self.groups, group)
            .members
            .entry(client)
            .or_insert(None);
    }
}

impl Invariant for Lost {
    fn entry(&mut self, _: &Step, e: &TraceEntry<Event>) {
        let (client, t) = (e.actor, e.time);
        match &e.record {
            Event::Assigned { group, .. } | Event::Joined { group, .. } => self.member(client, group),
            Event::Closed | Event::Fatal { .. } | Event::Crashed => self.member_ends(client, Some(t)),
            Event::Restarted => self.member_ends(client, None),
            Event::PositionSet {
                group, tp, offset, ..
            } => {
                let g = group_mut(&mut self.groups, group);
                g.first_position.entry(*tp).or_insert((t, *offset));
            }
            Event::Committed { group, offsets, .. } => {
                let g = group_mut(&mut self.groups, group);
                for (tp, o) in offsets {
                    let c = g.committed.entry(*tp).or_insert(*o);
                    *c = (*c).max(*o);
                }
            }
            Event::Consumed {
                group, tp, offset, ..
            } => {
                group_mut(&mut self.groups, group).consumed.insert((*tp, *offset));
            }
            _ => {}
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        for (name, g) in &self.groups {
            let group_end = g.end();
            for (&(tp, offset), &(id, written)) in &end.log.log {
                let Some(&(_, first)) = g.first_position.get(&tp) else {
                    continue;
                };
                // a record of an aborted (or never ended) transaction is nobody's to read
                let committed = !end.txns.is_transactional(id)
                    || end.txns.outcome(tp, offset, id).is_some_and(|o| o.commit);
                let expected = committed && offset >= first && group_end.is_none_or(|e| written < e);
                if !expected || g.consumed.contains(&(tp, offset)) {
                    continue;
                }
                let (kind, detail) = match g.past(tp, offset) {
                    Some(how) => (
                        AnomalyKind::Lost,
                        format!("never consumed by the group, which {how} past it"),
                    ),
                    None => (
                        AnomalyKind::Unseen,
                        "not consumed by the end of the run; the group is not past it".to_string(),
                    ),
                };
                out.push(Anomaly {
                    kind,
                    group: Some(name.clone()),
                    tp,
                    offset: Some(offset),
                    record: Some(id),
                    time: end.end,
                    clients: Vec::new(),
                    detail,
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
    fn only_records_at_or_after_the_first_position_are_expected() {
        let mut h = H::new();
        h.write(0, 0, 0)
            .assign(1, C1, &[0])
            .position(1, C1, 1)
            .write(2, 1, 1)
            .write(3, 2, 2)
            .consume(4, C1, 2, 2);
        let a = run::<Lost>(&h);
        assert_eq!(kinds(&a), vec![AnomalyKind::Lost]);
        assert_eq!((a[0].offset, a[0].time), (Some(1), Time::ms(4)));
        assert_eq!(a[0].detail, "never consumed by the group, which consumed past it");
    }

    #[test]
    fn a_commit_past_a_record_makes_it_lost_not_unseen() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).position(0, C1, 0).write(1, 0, 0);
        assert_eq!(kinds(&run::<Lost>(&h)), vec![AnomalyKind::Unseen]);
        h.at(
            2,
            C1,
            Event::Committed {
                group: g(),
                generation: 1,
                offsets: vec![(tp(0), 1)],
            },
        );
        let a = run::<Lost>(&h);
        assert_eq!(kinds(&a), vec![AnomalyKind::Lost]);
        assert_eq!(
            a[0].detail,
            "never consumed by the group, which committed past it"
        );
    }

    #[test]
    fn nothing_is_expected_of_a_group_whose_members_all_ended() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .at(5, C1, Event::Crashed)
            .write(6, 0, 0);
        assert!(run::<Lost>(&h).is_empty());
        // a restarted member is alive again
        h.at(7, C1, Event::Restarted).write(8, 1, 1);
        assert_eq!(kinds(&run::<Lost>(&h)), vec![AnomalyKind::Unseen; 2]);
    }
}
