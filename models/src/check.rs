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
//!
//! "The log" of a partition is its leader's: each [`Event::LeaderElected`] of a newer leader
//! epoch makes the new leader's log the partition's — what lay beyond its log end is gone —
//! and appends by any other broker from then on (a deposed leader that does not know it yet,
//! or one that learns of an older epoch late) never become part of it.
//!
//! A [`Claim`] says which kinds a run may show and still pass: `exactly-once-per-group`
//! allows none; `at-least-once` allows duplicates (and the double ownership that causes them
//! when a zombie member keeps fetching); `at-most-once` allows losses.

use crate::history::Event;
use crate::query::{Owners, Ownership};
use crate::types::{Metadata, RecordId, Tp};
use serde::{Deserialize, Serialize};
use sim::{ActorId, Time, Trace};
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The delivery guarantee a run is claimed to give.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Every group consumes every record exactly once.
    ExactlyOncePerGroup,
    /// Every group consumes every record at least once.
    AtLeastOnce,
    /// Every group consumes every record at most once.
    AtMostOnce,
}

impl Claim {
    /// All claims.
    pub const ALL: [Claim; 3] = [Claim::ExactlyOncePerGroup, Claim::AtLeastOnce, Claim::AtMostOnce];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Claim::ExactlyOncePerGroup => "exactly-once-per-group",
            Claim::AtLeastOnce => "at-least-once",
            Claim::AtMostOnce => "at-most-once",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Claim> {
        Claim::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Whether a run with an anomaly of `kind` can still satisfy this claim.
    pub fn allows(self, kind: AnomalyKind) -> bool {
        if kind == AnomalyKind::Unseen {
            return true;
        }
        match self {
            Claim::ExactlyOncePerGroup => false,
            Claim::AtLeastOnce => matches!(kind, AnomalyKind::Duplicate | AnomalyKind::DoubleOwnership),
            Claim::AtMostOnce => kind == AnomalyKind::Lost,
        }
    }
}

/// What kind of anomaly.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// See the module table.
    Lost,
    /// See the module table.
    Unseen,
    /// See the module table.
    Duplicate,
    /// See the module table.
    DoubleOwnership,
    /// See the module table.
    Nonmonotonic,
    /// See the module table.
    Skip,
    /// See the module table.
    InconsistentOffsets,
    /// See the module table.
    LogDuplicate,
    /// See the module table.
    LostWrite,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 9] = [
        AnomalyKind::Lost,
        AnomalyKind::Unseen,
        AnomalyKind::Duplicate,
        AnomalyKind::DoubleOwnership,
        AnomalyKind::Nonmonotonic,
        AnomalyKind::Skip,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::LogDuplicate,
        AnomalyKind::LostWrite,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Lost => "lost",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::DoubleOwnership => "double-ownership",
            AnomalyKind::Nonmonotonic => "nonmonotonic",
            AnomalyKind::Skip => "skip",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::LogDuplicate => "log-duplicate",
            AnomalyKind::LostWrite => "lost-write",
        }
    }
}

/// One anomaly, with what it involves.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    /// Kind.
    pub kind: AnomalyKind,
    /// Group, for group anomalies.
    pub group: Option<Arc<str>>,
    /// Partition.
    pub tp: Tp,
    /// Offset, where one is involved.
    pub offset: Option<i64>,
    /// Record, where one is involved.
    pub record: Option<RecordId>,
    /// When it became visible.
    pub time: Time,
    /// Clients involved.
    pub clients: Vec<String>,
    /// A sentence for people.
    pub detail: String,
}

/// The checker's verdict on one history.
#[derive(Clone, Debug)]
pub struct Report {
    /// The claim judged.
    pub claim: Claim,
    /// Every anomaly found, sorted.
    pub anomalies: Vec<Anomaly>,
    /// Records acknowledged to producers.
    pub acknowledged: usize,
    /// Records appended to logs.
    pub appended: usize,
    /// Consumptions (record × consumer).
    pub consumed: usize,
}

impl Report {
    /// Anomalies of `kind`.
    pub fn of(&self, kind: AnomalyKind) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(move |a| a.kind == kind)
    }

    /// How many of `kind`.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.of(kind).count()
    }

    /// Anomalies the claim does not allow.
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| !self.claim.allows(a.kind))
    }

    /// Whether the history satisfies the claim.
    pub fn passed(&self) -> bool {
        self.violations().next().is_none()
    }

    /// The verdict as a table: anomaly, count, allowed, first example.
    pub fn table(&self, meta: &Metadata) -> String {
        let mut s = format!(
            "{:<22} {:>6}  {:<8} first example\n",
            "anomaly", "count", "allowed"
        );
        for kind in AnomalyKind::ALL {
            let n = self.count(kind);
            let first = self
                .of(kind)
                .next()
                .map_or_else(|| "-".to_string(), |a| a.describe(meta));
            let allowed = if self.claim.allows(kind) { "yes" } else { "no" };
            s.push_str(&format!(
                "{:<22} {:>6}  {:<8} {}\n",
                kind.name(),
                n,
                allowed,
                first
            ));
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        s.push_str(&format!(
            "verdict: {verdict} for claim {} ({} acknowledged, {} appended, {} consumed, {} anomalies, {} not allowed)\n",
            self.claim.name(),
            self.acknowledged,
            self.appended,
            self.consumed,
            self.anomalies.len(),
            self.violations().count()
        ));
        s
    }
}

impl Anomaly {
    /// One line: where, what, who.
    pub fn describe(&self, meta: &Metadata) -> String {
        let mut s = format!("t={} {}", self.time, meta.display(self.tp));
        if let Some(o) = self.offset {
            s.push_str(&format!("@{o}"));
        }
        if let Some(r) = self.record {
            s.push_str(&format!(" record p{}-{}", r.producer, r.seq));
        }
        if let Some(g) = &self.group {
            s.push_str(&format!(" group {g}"));
        }
        if !self.clients.is_empty() {
            s.push_str(&format!(" [{}]", self.clients.join(", ")));
        }
        s.push_str(": ");
        s.push_str(&self.detail);
        s
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One consumption: by which client, when, of which record.
type Consumption = (ActorId, Time, RecordId);

/// Per open ownership: (previous offset read, highest offset read) in this assignment.
type Open = Owners<Option<(i64, i64)>>;

#[derive(Default)]
struct GroupView {
    /// tp → (time, offset) of the first position the group had in it.
    first_position: BTreeMap<Tp, (Time, i64)>,
    /// (tp, offset) → consumptions (almost always one: no allocation for it).
    consumed: BTreeMap<(Tp, i64), SmallVec<[Consumption; 1]>>,
    /// Members' clients, and whether each has ended (closed, crashed).
    members: BTreeMap<ActorId, Option<Time>>,
    /// tp → the furthest offset the group committed.
    committed: BTreeMap<Tp, i64>,
    /// tp → ownership intervals (client, start, end).
    owned: BTreeMap<Tp, Vec<(ActorId, Time, Time)>>,
}

/// The view of `group`, created empty on first use (without cloning the name when it exists).
fn group_mut<'a>(groups: &'a mut BTreeMap<Arc<str>, GroupView>, group: &Arc<str>) -> &'a mut GroupView {
    if !groups.contains_key(group) {
        groups.insert(group.clone(), GroupView::default());
    }
    groups.get_mut(group).expect("inserted above")
}

/// Files an ownership under its group and partition (`Time::MAX`: until the end).
fn file_ownership(groups: &mut BTreeMap<Arc<str>, GroupView>, o: Ownership) {
    group_mut(groups, &o.group)
        .owned
        .entry(o.tp)
        .or_default()
        .push((o.client, o.start, o.end_or(Time::MAX)));
}

/// The log of each partition as the history tells it: appends by the partition's leader,
/// each election cutting the log to the new leader's end.
#[derive(Default)]
struct LogView {
    log: BTreeMap<(Tp, i64), (RecordId, Time)>,
    /// tp → the broker whose log is the partition's (after the first election), and its epoch
    leader_of: BTreeMap<Tp, (sim::ActorId, i32)>,
}

impl LogView {
    /// Applies a `LeaderElected` or `Appended` entry. For an append that counts, returns
    /// `Some(what was at that offset before)`; `None` for a deposed leader's write (never part
    /// of the partition's log) and for other events.
    fn apply(&mut self, e: &sim::TraceEntry<Event>) -> Option<Option<(RecordId, Time)>> {
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

/// An `inconsistent-offsets` anomaly: record `id` at `(tp, offset)` where another was.
fn inconsistent_offsets(
    group: Option<Arc<str>>,
    (tp, offset, id): (Tp, i64, RecordId),
    time: Time,
    clients: Vec<String>,
    detail: String,
) -> Anomaly {
    Anomaly {
        kind: AnomalyKind::InconsistentOffsets,
        group,
        tp,
        offset: Some(offset),
        record: Some(id),
        time,
        clients,
        detail,
    }
}

/// Notes that a client saw record `id` at `(tp, offset)`; a different record seen there before
/// is an `inconsistent-offsets` anomaly.
#[allow(clippy::too_many_arguments)]
fn observe(
    observed: &mut BTreeMap<(Tp, i64), (RecordId, ActorId)>,
    inconsistent: &mut BTreeSet<(Tp, i64, RecordId)>,
    anomalies: &mut Vec<Anomaly>,
    names: &[String],
    (tp, offset, id): (Tp, i64, RecordId),
    t: Time,
    client: ActorId,
    group: Option<&Arc<str>>,
) {
    match observed.get(&(tp, offset)) {
        None => {
            observed.insert((tp, offset), (id, client));
        }
        Some(&(other, who)) if other != id && inconsistent.insert((tp, offset, id)) => {
            let (who, client) = (&names[who.index()], &names[client.index()]);
            anomalies.push(inconsistent_offsets(
                group.cloned(),
                (tp, offset, id),
                t,
                vec![who.clone(), client.clone()],
                format!(
                    "{client} saw p{}-{} where {who} saw p{}-{}",
                    id.producer, id.seq, other.producer, other.seq
                ),
            ));
        }
        Some(_) => {}
    }
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
/// history's order. Clients are kept as actor ids, named only in anomalies.
#[derive(Default)]
pub struct Checker {
    anomalies: Vec<Anomaly>,
    /// Time of the last entry.
    end: Time,
    // ---- per partition: what the log holds ----
    logs: LogView,
    /// (tp, offset) → the first record seen there by a client (acknowledged or consumed).
    observed: BTreeMap<(Tp, i64), (RecordId, ActorId)>,
    inconsistent: BTreeSet<(Tp, i64, RecordId)>,
    acks: Vec<(RecordId, Tp, i64, Time, ActorId)>,
    appended: usize,
    // ---- per group ----
    groups: BTreeMap<Arc<str>, GroupView>,
    /// consumer → group (a client is in one group).
    group_of: BTreeMap<ActorId, Arc<str>>,
    /// Open ownerships, with the offsets read in each.
    open: Open,
    consumed_total: usize,
}

impl Checker {
    /// Folds one history entry; `names` are the history's actor names.
    pub fn entry(&mut self, names: &[String], e: &sim::TraceEntry<Event>) {
        let client = e.actor;
        let t = e.time;
        self.end = t;
        let anomalies = &mut self.anomalies;
        let groups = &mut self.groups;
        let open = &mut self.open;
        match &e.record {
            Event::LeaderElected { .. } => {
                self.logs.apply(e);
            }
            Event::Appended { id, tp, offset } => {
                self.appended += 1;
                let Some(Some((other, _))) = self.logs.apply(e) else {
                    return;
                };
                if other != *id && self.inconsistent.insert((*tp, *offset, *id)) {
                    anomalies.push(inconsistent_offsets(
                        None,
                        (*tp, *offset, *id),
                        t,
                        vec![names[client.index()].clone()],
                        format!(
                            "offset written twice: p{}-{} then p{}-{}",
                            other.producer, other.seq, id.producer, id.seq
                        ),
                    ));
                }
            }
            Event::Produced { id, tp, offset, .. } => {
                self.acks.push((*id, *tp, *offset, t, client));
                if *offset >= 0 {
                    observe(
                        &mut self.observed,
                        &mut self.inconsistent,
                        anomalies,
                        names,
                        (*tp, *offset, *id),
                        t,
                        client,
                        None,
                    );
                }
            }
            Event::Assigned { group, .. } => {
                self.group_of.insert(client, group.clone());
                group_mut(groups, group).members.entry(client).or_insert(None);
                open.apply(e, |o| file_ownership(groups, o));
            }
            Event::Revoked { .. } | Event::Lost { .. } => {
                open.apply(e, |o| file_ownership(groups, o));
            }
            Event::Joined { group, .. } => {
                self.group_of.insert(client, group.clone());
                group_mut(groups, group).members.entry(client).or_insert(None);
            }
            Event::Closed | Event::Fatal { .. } | Event::Crashed => {
                open.apply(e, |o| file_ownership(groups, o));
                if let Some(group) = self.group_of.get(&client) {
                    group_mut(groups, group).members.insert(client, Some(t));
                }
            }
            Event::Restarted => {
                if let Some(group) = self.group_of.get(&client) {
                    group_mut(groups, group).members.insert(client, None);
                }
            }
            Event::PositionSet {
                group,
                tp,
                offset,
                from,
            } => {
                let g = group_mut(groups, group);
                g.first_position.entry(*tp).or_insert((t, *offset));
                // where an assignment starts; a reset inside one (the log changed under the
                // consumer) is what the consumer then sees: going back, or skipping ahead
                if !from.is_out_of_range_reset() {
                    if let Some(last) = open.state_mut(client, *tp) {
                        *last = Some((offset - 1, offset - 1));
                    }
                }
            }
            Event::Committed { group, offsets, .. } => {
                let g = group_mut(groups, group);
                for (tp, o) in offsets {
                    let c = g.committed.entry(*tp).or_insert(*o);
                    *c = (*c).max(*o);
                }
            }
            Event::Consumed {
                group,
                tp,
                offset,
                id,
                ..
            } => {
                self.consumed_total += 1;
                observe(
                    &mut self.observed,
                    &mut self.inconsistent,
                    anomalies,
                    names,
                    (*tp, *offset, *id),
                    t,
                    client,
                    Some(group),
                );
                if let Some((other, _)) = self.logs.log.get(&(*tp, *offset)) {
                    if other != id && self.inconsistent.insert((*tp, *offset, *id)) {
                        anomalies.push(inconsistent_offsets(
                            Some(group.clone()),
                            (*tp, *offset, *id),
                            t,
                            vec![names[client.index()].clone()],
                            format!(
                                "consumed p{}-{} where the log has p{}-{}",
                                id.producer, id.seq, other.producer, other.seq
                            ),
                        ));
                    }
                }
                if let Some(last) = open.state_mut(client, *tp) {
                    if let Some((prev, mark)) = *last {
                        let (kind, detail) = if *offset <= prev {
                            (
                                Some(AnomalyKind::Nonmonotonic),
                                format!("offset {offset} after {prev}"),
                            )
                        } else if *offset > prev + 1 && *offset > mark + 1 {
                            (
                                Some(AnomalyKind::Skip),
                                format!("offset {offset} after {prev}: skipped {}", offset - prev - 1),
                            )
                        } else {
                            (None, String::new())
                        };
                        if let Some(kind) = kind {
                            anomalies.push(Anomaly {
                                kind,
                                group: Some(group.clone()),
                                tp: *tp,
                                offset: Some(*offset),
                                record: Some(*id),
                                time: t,
                                clients: vec![names[client.index()].clone()],
                                detail,
                            });
                        }
                    }
                    // order is judged against the previous read; a step back does not lower the
                    // mark a later skip is measured from
                    *last = Some((*offset, last.map_or(*offset, |(_, mark)| mark.max(*offset))));
                }
                group_mut(groups, group)
                    .consumed
                    .entry((*tp, *offset))
                    .or_default()
                    .push((client, t, *id));
            }
            _ => {}
        }
    }

    /// The verdict on everything folded so far, against `claim`.
    pub fn finish(self, names: &[String], claim: Claim) -> Report {
        let Checker {
            mut anomalies,
            end,
            logs,
            acks,
            appended,
            mut groups,
            open,
            consumed_total,
            ..
        } = self;
        // close what is still open at the end of the run, in the order of the clients' names
        for o in open.finish(names) {
            file_ownership(&mut groups, o);
        }
        let client_name = |a: ActorId| names[a.index()].clone();

        // ---- log duplicates: one record at two offsets of the log at the end ----
        let mut at: BTreeMap<RecordId, Vec<(Tp, i64, Time)>> = BTreeMap::new();
        for (&(tp, offset), &(id, t)) in &logs.log {
            at.entry(id).or_default().push((tp, offset, t));
        }
        for (id, places) in &at {
            for &(tp, offset, t) in places.iter().skip(1) {
                anomalies.push(Anomaly {
                    kind: AnomalyKind::LogDuplicate,
                    group: None,
                    tp,
                    offset: Some(offset),
                    record: Some(*id),
                    time: t,
                    clients: Vec::new(),
                    detail: format!("record already at offset {}", places[0].1),
                });
            }
        }

        // ---- lost writes: acknowledged, not in the log at that offset ----
        for (id, tp, offset, t, client) in &acks {
            let kept = if *offset < 0 {
                at.contains_key(id)
            } else {
                logs.log.get(&(*tp, *offset)).map(|(r, _)| r) == Some(id)
            };
            if !kept {
                anomalies.push(Anomaly {
                    kind: AnomalyKind::LostWrite,
                    group: None,
                    tp: *tp,
                    offset: Some(*offset),
                    record: Some(*id),
                    time: *t,
                    clients: vec![client_name(*client)],
                    detail: "acknowledged but not in the log at the end".into(),
                });
            }
        }

        // ---- per group: lost, duplicate, double ownership ----
        for (name, g) in &groups {
            let all_ended = g.members.values().all(Option::is_some) && !g.members.is_empty();
            let group_end = if all_ended {
                g.members.values().flatten().max().copied()
            } else {
                None
            };
            for (&(tp, offset), &(id, written)) in &logs.log {
                let Some(&(_, first)) = g.first_position.get(&tp) else {
                    continue;
                };
                let expected = offset >= first && group_end.is_none_or(|e| written < e);
                if expected && !g.consumed.contains_key(&(tp, offset)) {
                    let consumed_past = g
                        .consumed
                        .range((tp, offset + 1)..)
                        .next()
                        .is_some_and(|((t, _), _)| *t == tp);
                    let committed_past = g.committed.get(&tp).is_some_and(|c| *c > offset);
                    let (kind, detail) = if consumed_past || committed_past {
                        (
                            AnomalyKind::Lost,
                            format!(
                                "never consumed by the group, which {} past it",
                                if committed_past { "committed" } else { "consumed" }
                            ),
                        )
                    } else {
                        (
                            AnomalyKind::Unseen,
                            "not consumed by the end of the run; the group is not past it".to_string(),
                        )
                    };
                    anomalies.push(Anomaly {
                        kind,
                        group: Some(name.clone()),
                        tp,
                        offset: Some(offset),
                        record: Some(id),
                        time: end,
                        clients: Vec::new(),
                        detail,
                    });
                }
            }
            for (&(tp, offset), uses) in &g.consumed {
                if uses.len() > 1 {
                    anomalies.push(Anomaly {
                        kind: AnomalyKind::Duplicate,
                        group: Some(name.clone()),
                        tp,
                        offset: Some(offset),
                        record: Some(uses[0].2),
                        time: uses[1].1,
                        clients: uses.iter().map(|u| client_name(u.0)).collect(),
                        detail: format!("consumed {} times", uses.len()),
                    });
                }
            }
            for (&tp, intervals) in &g.owned {
                for (i, a) in intervals.iter().enumerate() {
                    for b in &intervals[i + 1..] {
                        if a.0 != b.0 && a.1 < b.2 && b.1 < a.2 {
                            anomalies.push(Anomaly {
                                kind: AnomalyKind::DoubleOwnership,
                                group: Some(name.clone()),
                                tp,
                                offset: None,
                                record: None,
                                time: a.1.max(b.1),
                                clients: vec![client_name(a.0), client_name(b.0)],
                                detail: format!(
                                    "owned by both from {} to {}",
                                    a.1.max(b.1),
                                    if a.2.min(b.2) == Time::MAX {
                                        "the end".to_string()
                                    } else {
                                        a.2.min(b.2).to_string()
                                    }
                                ),
                            });
                        }
                    }
                }
            }
        }
        anomalies.sort();
        Report {
            claim,
            anomalies,
            acknowledged: acks.len(),
            appended,
            consumed: consumed_total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Payload;
    use sim::ActorId;

    const BROKER: ActorId = ActorId(0);
    const PROD: ActorId = ActorId(1);
    const C1: ActorId = ActorId(2);
    const C2: ActorId = ActorId(3);

    fn tp(p: u32) -> Tp {
        Tp::new(0, p)
    }

    fn id(seq: u32) -> RecordId {
        RecordId { producer: 0, seq }
    }

    fn g() -> Arc<str> {
        "g".into()
    }

    fn empty() -> Payload {
        Payload::new(None, None)
    }

    struct H(Trace<Event>);

    impl H {
        fn new() -> H {
            H(Trace::new(vec![
                "broker-1".into(),
                "p".into(),
                "c1".into(),
                "c2".into(),
            ]))
        }
        fn at(&mut self, ms: u64, who: ActorId, e: Event) -> &mut Self {
            self.0.push(Time::ms(ms), who, e);
            self
        }
        /// Record `seq` appended at `offset` of partition 0 and acknowledged.
        fn write(&mut self, ms: u64, seq: u32, offset: i64) -> &mut Self {
            self.at(
                ms,
                BROKER,
                Event::Appended {
                    id: id(seq),
                    tp: tp(0),
                    offset,
                },
            );
            self.at(
                ms,
                PROD,
                Event::Produced {
                    id: id(seq),
                    tp: tp(0),
                    offset,
                    payload: empty(),
                },
            )
        }
        fn assign(&mut self, ms: u64, who: ActorId, parts: &[u32]) -> &mut Self {
            let partitions = parts.iter().map(|p| tp(*p)).collect();
            self.at(
                ms,
                who,
                Event::Assigned {
                    group: g(),
                    generation: 1,
                    partitions,
                },
            )
        }
        fn revoke(&mut self, ms: u64, who: ActorId, parts: &[u32]) -> &mut Self {
            let partitions = parts.iter().map(|p| tp(*p)).collect();
            self.at(
                ms,
                who,
                Event::Revoked {
                    group: g(),
                    generation: 1,
                    partitions,
                },
            )
        }
        fn position(&mut self, ms: u64, who: ActorId, offset: i64) -> &mut Self {
            self.at(
                ms,
                who,
                Event::PositionSet {
                    group: g(),
                    tp: tp(0),
                    offset,
                    from: crate::history::PositionSource::Latest,
                },
            )
        }
        fn consume(&mut self, ms: u64, who: ActorId, seq: u32, offset: i64) -> &mut Self {
            self.at(
                ms,
                who,
                Event::Consumed {
                    group: g(),
                    generation: 1,
                    tp: tp(0),
                    offset,
                    id: id(seq),
                    payload: empty(),
                },
            )
        }
        fn check(&self, claim: Claim) -> Report {
            check(&self.0, claim)
        }
    }

    fn kinds(r: &Report) -> Vec<AnomalyKind> {
        r.anomalies.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn a_clean_history_passes_every_claim() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .write(2, 1, 1)
            .consume(3, C1, 0, 0)
            .consume(4, C1, 1, 1);
        for claim in Claim::ALL {
            let r = h.check(claim);
            assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
            assert!(r.passed());
        }
        let r = h.check(Claim::AtLeastOnce);
        assert_eq!((r.acknowledged, r.appended, r.consumed), (2, 2, 2));
    }

    #[test]
    fn lost_only_when_the_group_was_positioned_before_the_record() {
        let mut h = H::new();
        // record 0 written before the group had a position past it; record 1 after
        h.write(0, 0, 0)
            .assign(1, C1, &[0])
            .position(1, C1, 1)
            .write(2, 1, 1)
            .write(3, 2, 2);
        h.consume(4, C1, 1, 1);
        // committed past offset 2 without consuming it (a commit before processing)
        h.at(
            5,
            C1,
            Event::Committed {
                group: g(),
                generation: 1,
                offsets: vec![(tp(0), 3)],
            },
        );
        let r = h.check(Claim::AtLeastOnce);
        assert_eq!(kinds(&r), vec![AnomalyKind::Lost]);
        assert_eq!(r.anomalies[0].offset, Some(2));
        assert!(!r.passed());
        assert!(h.check(Claim::AtMostOnce).passed(), "at-most-once allows losses");
    }

    #[test]
    fn a_record_the_group_never_got_past_is_unseen_not_lost() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .write(1, 1, 1)
            .consume(2, C1, 0, 0);
        let r = h.check(Claim::ExactlyOncePerGroup);
        assert_eq!(kinds(&r), vec![AnomalyKind::Unseen]);
        assert!(r.passed(), "unseen violates no claim");
        // committing past it makes it lost
        h.at(
            3,
            C1,
            Event::Committed {
                group: g(),
                generation: 1,
                offsets: vec![(tp(0), 2)],
            },
        );
        assert_eq!(kinds(&h.check(Claim::AtLeastOnce)), vec![AnomalyKind::Lost]);
    }

    #[test]
    fn records_written_after_the_whole_group_closed_are_not_lost() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .at(5, C1, Event::Closed)
            .write(6, 0, 0);
        assert!(h.check(Claim::ExactlyOncePerGroup).anomalies.is_empty());
    }

    #[test]
    fn duplicates_are_allowed_only_at_least_once() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .consume(2, C1, 0, 0)
            .revoke(3, C1, &[0]);
        h.assign(4, C2, &[0]).position(4, C2, 0).consume(5, C2, 0, 0);
        let r = h.check(Claim::ExactlyOncePerGroup);
        assert_eq!(kinds(&r), vec![AnomalyKind::Duplicate]);
        assert_eq!(r.anomalies[0].clients, vec!["c1".to_string(), "c2".to_string()]);
        assert!(!r.passed());
        assert!(h.check(Claim::AtLeastOnce).passed());
        assert!(!h.check(Claim::AtMostOnce).passed());
    }

    #[test]
    fn double_ownership_is_an_overlap_of_two_members() {
        let mut h = H::new();
        h.assign(0, C1, &[0, 1])
            .assign(5, C2, &[1])
            .revoke(7, C1, &[0, 1]);
        let r = h.check(Claim::ExactlyOncePerGroup);
        assert_eq!(kinds(&r), vec![AnomalyKind::DoubleOwnership]);
        assert_eq!(r.anomalies[0].tp, tp(1));
        assert_eq!(r.anomalies[0].time, Time::ms(5));
        // a hand-over at the same instant is not an overlap
        let mut h = H::new();
        h.assign(0, C1, &[0]).revoke(5, C1, &[0]).assign(5, C2, &[0]);
        assert!(h.check(Claim::ExactlyOncePerGroup).anomalies.is_empty());
    }

    #[test]
    fn nonmonotonic_and_skip_inside_one_assignment() {
        let mut h = H::new();
        h.assign(0, C1, &[0]).position(0, C1, 0);
        for (i, o) in [0, 1, 2, 3].iter().enumerate() {
            h.write(1, i as u32, *o);
        }
        h.consume(2, C1, 0, 0)
            .consume(2, C1, 2, 2)
            .consume(2, C1, 1, 1)
            .consume(2, C1, 3, 3);
        let r = h.check(Claim::AtLeastOnce);
        assert_eq!(kinds(&r), vec![AnomalyKind::Nonmonotonic, AnomalyKind::Skip]);
        // a new assignment may start anywhere
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .write(1, 1, 1)
            .consume(2, C1, 0, 0);
        h.revoke(3, C1, &[0])
            .assign(4, C1, &[0])
            .position(4, C1, 0)
            .consume(5, C1, 0, 0)
            .consume(5, C1, 1, 1);
        assert_eq!(kinds(&h.check(Claim::AtLeastOnce)), vec![AnomalyKind::Duplicate]);
    }

    #[test]
    fn a_first_record_past_the_position_is_a_skip() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .write(1, 1, 1)
            .consume(2, C1, 1, 1);
        assert_eq!(
            kinds(&h.check(Claim::AtMostOnce)),
            vec![AnomalyKind::Lost, AnomalyKind::Skip]
        );
        assert!(!h.check(Claim::AtMostOnce).passed(), "a skip is never allowed");
    }

    #[test]
    fn log_anomalies() {
        // two records at one offset, one record at two offsets, an ack the log lost
        let mut h = H::new();
        h.write(0, 0, 0);
        h.at(
            1,
            BROKER,
            Event::Appended {
                id: id(1),
                tp: tp(0),
                offset: 0,
            },
        );
        h.at(
            2,
            BROKER,
            Event::Appended {
                id: id(1),
                tp: tp(0),
                offset: 1,
            },
        );
        let r = h.check(Claim::AtLeastOnce);
        assert_eq!(
            kinds(&r),
            vec![
                AnomalyKind::InconsistentOffsets,
                AnomalyKind::LogDuplicate,
                AnomalyKind::LostWrite
            ]
        );
        assert_eq!(r.of(AnomalyKind::LostWrite).next().unwrap().record, Some(id(0)));
        for claim in Claim::ALL {
            assert!(!h.check(claim).passed());
        }
    }

    #[test]
    fn the_log_follows_the_newest_leader_epoch() {
        let elected = |epoch, log_end| Event::LeaderElected {
            tp: tp(0),
            epoch,
            log_end,
            unclean: false,
        };
        let appended = |seq, offset| Event::Appended {
            id: id(seq),
            tp: tp(0),
            offset,
        };
        let acked = |seq, offset| Event::Produced {
            id: id(seq),
            tp: tp(0),
            offset,
            payload: empty(),
        };
        let (b1, b2, b3) = (ActorId(0), ActorId(2), ActorId(3));
        let mut h = H::new();
        h.at(0, b1, elected(0, 0))
            .at(1, b1, appended(0, 0))
            .at(1, PROD, acked(0, 0))
            .at(2, b1, appended(1, 1)) // never replicated: gone at the next election
            .at(5, b3, elected(2, 1))
            .at(6, b2, elected(1, 1)) // heard late: not the leader
            .at(7, b2, appended(2, 1)) // a stale leader's write: never the partition's
            .at(8, b3, appended(3, 1))
            .at(8, PROD, acked(3, 1));
        let r = h.check(Claim::AtLeastOnce);
        assert!(r.passed(), "{:?}", r.anomalies);
        let log = final_log(&h.0);
        assert_eq!(
            log[&tp(0)].values().copied().collect::<Vec<_>>(),
            vec![id(0), id(3)]
        );
    }

    #[test]
    fn consuming_what_the_log_does_not_hold_is_inconsistent() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .consume(2, C1, 7, 0);
        assert_eq!(
            kinds(&h.check(Claim::AtLeastOnce)),
            vec![AnomalyKind::InconsistentOffsets]
        );
    }

    #[test]
    fn table_names_every_kind_and_the_verdict() {
        let mut h = H::new();
        h.assign(0, C1, &[0])
            .position(0, C1, 0)
            .write(1, 0, 0)
            .write(1, 1, 1)
            .consume(2, C1, 1, 1);
        let r = h.check(Claim::AtLeastOnce);
        let meta = Metadata::new(vec![crate::types::TopicMeta {
            name: "t".into(),
            partitions: 2,
        }]);
        let table = r.table(&meta);
        for k in AnomalyKind::ALL {
            assert!(table.contains(k.name()));
        }
        assert!(
                        table.contains("lost                        1  no       t=2.000ms t-0@0 record p0-0 group g: never consumed by the group, which consumed past it"),
            "{table}"
        );
        assert!(table.ends_with("2 not allowed)\n"), "{table}");
        assert!(table.contains("verdict: FAIL"));
    }
}
