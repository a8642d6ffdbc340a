//! The log of each partition as the history tells it: the leader's. Each
//! [`Event::LeaderElected`] of a newer leader epoch (KIP-101, KIP-279: the new leader's log is
//! the partition's, and followers truncate to it) makes the new leader's log the partition's —
//! what lay beyond its log end is gone — and appends by any other broker from then on (a
//! deposed leader that does not know it yet, or one that learns of an older epoch late)
//! never become part of it. Several checkers read it; the combiner folds it once.

use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, Trace, TraceEntry};
use std::collections::BTreeMap;

/// The partitions' logs folded so far.
#[derive(Default)]
pub(crate) struct LogView {
    /// (tp, offset) → the record there, and when it was appended.
    pub(crate) log: BTreeMap<(Tp, i64), (RecordId, Time)>,
    /// tp → the broker whose log is the partition's (after the first election), and its epoch
    leader_of: BTreeMap<Tp, (ActorId, i32)>,
}

impl LogView {
    /// Applies a `LeaderElected` or `Appended` entry. For an append that counts, returns
    /// `Some(what was at that offset before)`; `None` for a deposed leader's write (never part
    /// of the partition's log) and for other events.
    pub(crate) fn apply(&mut self, e: &TraceEntry<Event>) -> Option<Option<(RecordId, Time)>> {
        match &e.record {
            Event::LeaderElected {
                tp, log_end, epoch, ..
            } => {
                // a broker that hears of an older epoch late is not the leader
                if self.leader_of.get(tp).is_some_and(|(_, known)| *known >= *epoch) {
                    return None;
                }
                self.leader_of.insert(*tp, (e.actor, *epoch));
                let gone: Vec<(Tp, i64)> = self
                    .log
                    .range((*tp, *log_end)..(*tp, i64::MAX))
                    .map(|(k, _)| *k)
                    .collect();
                for k in gone {
                    self.log.remove(&k);
                }
                None
            }
            Event::Appended { id, tp, offset } => {
                if self.leader_of.get(tp).is_some_and(|(l, _)| *l != e.actor) {
                    return None;
                }
                Some(self.log.insert((*tp, *offset), (*id, e.time)))
            }
            _ => None,
        }
    }

    /// The record at `offset` of `tp`, if the log holds one.
    pub(crate) fn at(&self, tp: Tp, offset: i64) -> Option<RecordId> {
        self.log.get(&(tp, offset)).map(|(id, _)| *id)
    }
}

/// Each partition's log at the end of a run, as the history tells it (offset → record).
pub fn final_log(trace: &Trace<Event>) -> BTreeMap<Tp, BTreeMap<i64, RecordId>> {
    let mut v = LogView::default();
    for e in trace.entries() {
        v.apply(e);
    }
    let mut out: BTreeMap<Tp, BTreeMap<i64, RecordId>> = BTreeMap::new();
    for ((tp, offset), (id, _)) in v.log {
        out.entry(tp).or_default().insert(offset, id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn an_election_cuts_the_log_and_a_deposed_leader_writes_nothing() {
        let (b1, b2, b3) = (ActorId(0), ActorId(2), ActorId(3));
        let mut h = H::new();
        h.at(0, b1, elected(0, 0))
            .at(1, b1, appended(0, 0))
            .at(2, b1, appended(1, 1)) // never replicated: gone at the next election
            .at(5, b3, elected(2, 1))
            .at(6, b2, elected(1, 1)) // heard late: not the leader
            .at(7, b2, appended(2, 1)) // a stale leader's write: never the partition's
            .at(8, b3, appended(3, 1));
        let log = final_log(&h.0);
        assert_eq!(
            log[&tp(0)].values().copied().collect::<Vec<_>>(),
            vec![id(0), id(3)]
        );
    }

    #[test]
    fn apply_returns_what_an_append_replaced() {
        let mut v = LogView::default();
        let mut h = H::new();
        h.at(0, BROKER, appended(0, 0)).at(1, BROKER, appended(1, 0));
        let seen: Vec<_> = h.0.entries().iter().map(|e| v.apply(e)).collect();
        assert_eq!(seen, vec![Some(None), Some(Some((id(0), Time::ms(0))))]);
        assert_eq!(v.at(tp(0), 0), Some(id(1)));
    }
}
