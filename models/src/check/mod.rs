//! The checker: reads a run's history and names every anomaly, with the records, offsets and
//! clients involved. It sees only [`Event`]s — never the model's state — so it judges a
//! simulated run and a run recorded against a real broker alike (the TigerBeetle rule:
//! checkers apart from the model).
//!
//! Anomalies (after Jepsen's Kafka workload, plus the consumer-group ones):
//!
//! | kind | meaning |
//! |---|---|
//! | `lost` | a record the group should have consumed — its position in the partition was at or before the record, and a member was still alive when it was written — that no member consumed, although the group moved past it (consumed a later offset, or committed beyond it) |
//! | `unseen` | such a record not consumed by the end of the run, with the group not past it: still pending — a later member would read it. Reported, allowed by every claim |
//! | `duplicate` | a record consumed more than once by one group |
//! | `double-ownership` | a partition owned by two members of one group at the same virtual instant |
//! | `nonmonotonic` | inside one assignment, a consumer's offsets in a partition went back (or repeated) |
//! | `skip` | inside one assignment, a consumer's offsets in a partition jumped forward past a record |
//! | `inconsistent-offsets` | two different records seen at one offset of a partition: written there twice, or acknowledged at it and later read there (or read there by two consumers) |
//! | `log-duplicate` | one produced record at two offsets of the log at the end (a retried batch) |
//! | `lost-write` | an acknowledged record not in the log at its acknowledged offset at the end (`acks=0`: nowhere in it) |
//! | `aborted-read` | a consumer read a record of an aborted transaction (Jepsen's G1a; what `read_uncommitted` does) |
//! | `uncommitted-read` | a consumer read a transactional record before its marker was written (beyond the last stable offset) |
//! | `torn-transaction` | a group read part of a committed transaction, moved past the rest and never read it |
//! | `nonmonotonic-send` | a producer's later send to a partition was acknowledged at a lower offset |
//! | `duplicate-output` | one input's output twice in a pipeline's committed output (same topic, key and value) |
//!
//! The last five are reported (and shown in the `--check` table) only for histories with
//! transactions; markers and the records of aborted transactions are offsets a
//! `read_committed` consumer steps over, never a `skip`.
//!
//! "The log" of a partition is its leader's: each [`Event::LeaderElected`] of a newer leader
//! epoch makes the new leader's log the partition's — what lay beyond its log end is gone —
//! and appends by any other broker from then on (a deposed leader that does not know it yet,
//! or one that learns of an older epoch late) never become part of it.
//!
//! Each kind has its own checker, in its own module (`check/lost.rs`, `check/skip.rs`, …),
//! apart from the others: a fold over history entries with its own state, and its own unit
//! tests (`lost` also names `unseen`, the same record not yet past; `nonmonotonic` and `skip`
//! judge the read order both keep, `read_order`). [`Checker`] feeds every entry to each of
//! them, together with the partitions' logs (`leader_log`) that several read, and gathers
//! what they find into one sorted [`Report`].
//!
//! A [`Claim`] says which kinds a run may show and still pass: `exactly-once-per-group`
//! allows none; `at-least-once` allows duplicates (and the double ownership that causes them
//! when a zombie member keeps fetching); `at-most-once` allows losses;
//! `exactly-once-pipeline` judges a consume–transform–produce pipeline's committed output:
//! it allows what its own group's re-consumption after a crash or an abort shows
//! (duplicates, double ownership, going back) and nothing else.

mod aborted_read;
mod double_ownership;
mod duplicate;
mod duplicate_output;
mod inconsistent_offsets;
mod leader_log;
mod log_duplicate;
mod lost;
mod lost_write;
mod nonmonotonic;
mod nonmonotonic_send;
mod read_order;
mod report;
mod skip;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
mod torn_transaction;
mod transactions;
mod uncommitted_read;

pub use leader_log::final_log;
pub use report::{Anomaly, AnomalyKind, Claim, Report};

use crate::history::Event;
use crate::types::RecordId;
use leader_log::LogView;
use sim::{ActorId, Time, Trace, TraceEntry};
use std::collections::BTreeMap;
use std::sync::Arc;
use transactions::TxnView;

/// What every checker is given with an entry, besides the entry.
pub(crate) struct Step<'a> {
    /// The history's actor names.
    pub(crate) names: &'a [String],
    /// The partitions' logs, this entry applied.
    pub(crate) log: &'a LogView,
    /// The transactions, this entry applied.
    pub(crate) txns: &'a TxnView,
    /// For an append that became part of its partition's log: what was at that offset before.
    pub(crate) appended: Option<Option<(RecordId, Time)>>,
}

/// What every checker is given at the end of the history.
pub(crate) struct End<'a> {
    /// The history's actor names.
    pub(crate) names: &'a [String],
    /// The partitions' logs at the end.
    pub(crate) log: &'a LogView,
    /// The transactions at the end.
    pub(crate) txns: &'a TxnView,
    /// Time of the last entry.
    pub(crate) end: Time,
}

/// One invariant's checker: a fold over history entries, in the history's order, that names
/// the anomalies of its kind at the end (or as it goes, handing them over at the end).
pub(crate) trait Invariant {
    /// Folds one entry.
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>);
    /// Adds what it found to `out` (in any order: the report sorts them).
    fn finish(self, end: &End, out: &mut Vec<Anomaly>);
}

/// The name of `actor` in `names`.
pub(crate) fn name(names: &[String], actor: ActorId) -> String {
    names[actor.index()].clone()
}

/// The entry of `group` in a per-group map, created empty on first use (without cloning the
/// name when it exists).
pub(crate) fn group_mut<'a, V: Default>(
    groups: &'a mut BTreeMap<Arc<str>, V>,
    group: &Arc<str>,
) -> &'a mut V {
    if !groups.contains_key(group) {
        groups.insert(group.clone(), V::default());
    }
    groups.get_mut(group).expect("inserted above")
}

/// An event of a consumer without a group (kafka-python's `group_id=None`), as an event of a
/// group of its own, named after the consumer: such consumers read independently, so each is
/// checked as its own group.
fn ungrouped(names: &[String], e: &TraceEntry<Event>) -> Option<TraceEntry<Event>> {
    if !e.record.group().is_some_and(|g| g.is_empty()) {
        return None;
    }
    let mut record = e.record.clone();
    *record.group_mut()? = format!("{} (no group)", name(names, e.actor)).into();
    Some(TraceEntry {
        time: e.time,
        actor: e.actor,
        record,
    })
}

/// Checks `trace` against `claim`.
pub fn check(trace: &Trace<Event>, claim: Claim) -> Report {
    let mut checker = Checker::default();
    for e in trace.entries() {
        checker.entry(trace.names(), e);
    }
    checker.finish(trace.names(), claim)
}

/// The checker's state: what it has folded of a history so far, one entry at a time, in the
/// history's order — the partitions' logs, and each invariant's checker. Clients are kept as
/// actor ids, named only in anomalies.
#[derive(Default)]
pub struct Checker {
    /// Time of the last entry.
    end: Time,
    logs: LogView,
    txns: TxnView,
    acknowledged: usize,
    appended: usize,
    consumed: usize,
    lost: lost::Lost,
    duplicate: duplicate::Duplicate,
    double_ownership: double_ownership::DoubleOwnership,
    nonmonotonic: nonmonotonic::Nonmonotonic,
    skip: skip::Skip,
    inconsistent_offsets: inconsistent_offsets::InconsistentOffsets,
    log_duplicate: log_duplicate::LogDuplicate,
    lost_write: lost_write::LostWrite,
    aborted_read: aborted_read::AbortedRead,
    uncommitted_read: uncommitted_read::UncommittedRead,
    torn_transaction: torn_transaction::TornTransaction,
    nonmonotonic_send: nonmonotonic_send::NonmonotonicSend,
    duplicate_output: duplicate_output::DuplicateOutput,
}

impl Checker {
    /// Folds one history entry; `names` are the history's actor names.
    pub fn entry(&mut self, names: &[String], e: &TraceEntry<Event>) {
        let own_group;
        let e = match ungrouped(names, e) {
            Some(entry) => {
                own_group = entry;
                &own_group
            }
            None => e,
        };
        self.end = e.time;
        match &e.record {
            Event::Produced { .. } => self.acknowledged += 1,
            Event::Appended { .. } => self.appended += 1,
            Event::Consumed { .. } => self.consumed += 1,
            _ => {}
        }
        let appended = self.logs.apply(e);
        self.txns.apply(e);
        let step = Step {
            names,
            log: &self.logs,
            txns: &self.txns,
            appended,
        };
        self.lost.entry(&step, e);
        self.duplicate.entry(&step, e);
        self.double_ownership.entry(&step, e);
        self.nonmonotonic.entry(&step, e);
        self.skip.entry(&step, e);
        self.inconsistent_offsets.entry(&step, e);
        self.log_duplicate.entry(&step, e);
        self.lost_write.entry(&step, e);
        self.aborted_read.entry(&step, e);
        self.uncommitted_read.entry(&step, e);
        self.torn_transaction.entry(&step, e);
        self.nonmonotonic_send.entry(&step, e);
        self.duplicate_output.entry(&step, e);
    }

    /// The verdict on everything folded so far, against `claim`.
    pub fn finish(self, names: &[String], claim: Claim) -> Report {
        let end = End {
            names,
            log: &self.logs,
            txns: &self.txns,
            end: self.end,
        };
        let mut anomalies = Vec::new();
        self.lost.finish(&end, &mut anomalies);
        self.duplicate.finish(&end, &mut anomalies);
        self.double_ownership.finish(&end, &mut anomalies);
        self.nonmonotonic.finish(&end, &mut anomalies);
        self.skip.finish(&end, &mut anomalies);
        self.inconsistent_offsets.finish(&end, &mut anomalies);
        self.log_duplicate.finish(&end, &mut anomalies);
        self.lost_write.finish(&end, &mut anomalies);
        let transactional = self.txns.any();
        if transactional {
            self.aborted_read.finish(&end, &mut anomalies);
            self.uncommitted_read.finish(&end, &mut anomalies);
            self.torn_transaction.finish(&end, &mut anomalies);
            self.nonmonotonic_send.finish(&end, &mut anomalies);
            self.duplicate_output.finish(&end, &mut anomalies);
        }
        anomalies.sort();
        Report {
            claim,
            anomalies,
            acknowledged: self.acknowledged,
            appended: self.appended,
            consumed: self.consumed,
            transactional,
        }
    }
}
