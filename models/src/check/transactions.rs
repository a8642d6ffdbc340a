//! What the transaction checkers share: which transaction each record belongs to, and how
//! each transaction ended in each partition.
//!
//! A transactional producer's records are those it sends between its
//! [`TxnStep::Begin`] and the end of that transaction (commit, abort, fenced); a
//! transaction is named by its producer process and its count there. In a partition, a
//! record of producer id P is decided by P's first marker after it ([`Event::MarkerWritten`]):
//! committed or aborted, at the time the marker was written. Markers take an offset of their
//! own, and a `read_committed` consumer steps over them and over aborted records: those
//! gaps are no skip.

use super::leader_log::LogView;
use crate::history::{Event, TxnStep};
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};
use std::collections::BTreeMap;

/// A transaction: its producer process and its count there (0 for the first).
pub(crate) type TxnKey = (ActorId, u32);

/// How a record's transaction ended in its partition.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Committed (or aborted).
    pub(crate) commit: bool,
    /// When the marker was written.
    pub(crate) time: Time,
}

/// The transactions of a history so far.
#[derive(Default)]
pub(crate) struct TxnView {
    /// Producer process → (producer id, transaction) of its open transaction.
    open: BTreeMap<ActorId, (i64, TxnKey)>,
    /// Producer process → transactions begun.
    begun: BTreeMap<ActorId, u32>,
    /// Record → (producer id, transaction).
    records: BTreeMap<RecordId, (i64, TxnKey)>,
    /// Partition → marker offset → (producer id, commit, time).
    markers: BTreeMap<Tp, BTreeMap<i64, (i64, bool, Time)>>,
}

impl TxnView {
    /// Folds one entry.
    pub(crate) fn apply(&mut self, e: &TraceEntry<Event>) {
        match &e.record {
            Event::Txn(t) => match t.step {
                TxnStep::Begin => {
                    let n = self.begun.entry(e.actor).or_insert(0);
                    self.open.insert(e.actor, (t.producer_id, (e.actor, *n)));
                    *n += 1;
                }
                TxnStep::Committed | TxnStep::Aborted | TxnStep::Fenced(_) => {
                    self.open.remove(&e.actor);
                }
                TxnStep::OffsetsSent { .. } => {}
            },
            Event::Send { id, .. } => {
                if let Some(&open) = self.open.get(&e.actor) {
                    self.records.insert(*id, open);
                }
            }
            Event::MarkerWritten {
                tp,
                offset,
                producer_id,
                commit,
            } => {
                self.markers
                    .entry(*tp)
                    .or_default()
                    .insert(*offset, (*producer_id, *commit, e.time));
            }
            _ => {}
        }
    }

    /// Whether the history has transactions.
    pub(crate) fn any(&self) -> bool {
        !self.begun.is_empty() || !self.markers.is_empty()
    }

    /// The transaction of record `id`, if it was sent in one.
    pub(crate) fn txn_of(&self, id: RecordId) -> Option<TxnKey> {
        self.records.get(&id).map(|r| r.1)
    }

    /// How the transaction of record `id` at `offset` of `tp` ended there (`None`: not
    /// transactional, or no marker yet).
    pub(crate) fn outcome(&self, tp: Tp, offset: i64, id: RecordId) -> Option<Outcome> {
        let (pid, _) = self.records.get(&id)?;
        let markers = self.markers.get(&tp)?;
        markers
            .range(offset + 1..)
            .find(|(_, m)| m.0 == *pid)
            .map(|(_, m)| Outcome {
                commit: m.1,
                time: m.2,
            })
    }

    /// Whether record `id` was sent in a transaction.
    pub(crate) fn is_transactional(&self, id: RecordId) -> bool {
        self.records.contains_key(&id)
    }

    /// Whether `offset` of `tp` is a marker.
    pub(crate) fn is_marker(&self, tp: Tp, offset: i64) -> bool {
        self.markers.get(&tp).is_some_and(|m| m.contains_key(&offset))
    }

    /// Whether every offset of `[from, to)` of `tp` is one a `read_committed` consumer steps
    /// over: a marker, or a record of an aborted transaction.
    pub(crate) fn steps_over(&self, tp: Tp, from: i64, to: i64, log: &LogView) -> bool {
        !self.markers.is_empty()
            && (from..to).all(|o| {
                self.is_marker(tp, o)
                    || log
                        .at(tp, o)
                        .and_then(|id| self.outcome(tp, o, id))
                        .is_some_and(|out| !out.commit)
            })
    }
}
