//! Comparing two runs of one transactional scenario — the simulator's and a real broker's —
//! on what transactions make deterministic (KIP-98, KIP-447) when one producer writes each
//! partition and the transaction shapes are fixed:
//!
//! * **offsets**: the partition and offset of every record, and of every transaction
//!   marker (a control record takes one offset), with whether it commits or aborts;
//! * **reads**: which records (at which offsets) each group consumed — a `read_committed`
//!   group the committed ones only, a `read_uncommitted` group every one;
//! * **group offsets**: each group's committed offsets at the end that came through
//!   `sendOffsetsToTransaction` (TxnOffsetCommit), as the broker holds them;
//! * **log end offsets** of every partition of the scenario's topics.
//!
//! Timings, producer ids and epochs are not compared (a real run's depend on the clock and on
//! the broker's allocation).

use models::history::{Event, TxnStep};
use models::types::{RecordId, Tp};
use models::world::Run;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A run's transactional outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnOutcome {
    /// Record → partition and offset (from its acknowledgement).
    pub offsets: BTreeMap<RecordId, (Tp, i64)>,
    /// Partition → marker offset → commit (true) or abort.
    pub markers: BTreeMap<Tp, BTreeMap<i64, bool>>,
    /// Group → the (record, partition, offset) it consumed.
    pub reads: BTreeMap<String, BTreeSet<(RecordId, Tp, i64)>>,
    /// Group → partition → committed offset, of the groups whose offsets went with
    /// transactions.
    pub group_offsets: BTreeMap<String, BTreeMap<Tp, i64>>,
    /// Partition → log end offset.
    pub log_end: BTreeMap<Tp, i64>,
    /// Producer process → how many transactions it committed and aborted.
    pub ends: BTreeMap<String, (u32, u32)>,
    /// Topic names, by index (for the table).
    pub topics: Vec<String>,
}

impl TxnOutcome {
    /// What `run`'s history says: the log end offsets are one past the highest record or
    /// marker offset of each partition (every partition of the scenario's topics; internal
    /// topics are left out).
    pub fn of(run: &Run) -> TxnOutcome {
        let mut o = TxnOutcome {
            topics: run.meta.topics.iter().map(|t| t.name.to_string()).collect(),
            ..TxnOutcome::default()
        };
        let scenario_topic = |tp: &Tp| {
            run.meta
                .topics
                .get(tp.topic as usize)
                .is_some_and(|t| !t.name.starts_with("__"))
        };
        for (t, topic) in run.meta.topics.iter().enumerate() {
            if !topic.name.starts_with("__") {
                for p in 0..topic.partitions {
                    o.log_end.insert(Tp::new(t as u32, p), 0);
                }
            }
        }
        let bump = |log_end: &mut BTreeMap<Tp, i64>, tp: Tp, offset: i64| {
            let e = log_end.entry(tp).or_insert(0);
            *e = (*e).max(offset + 1);
        };
        for e in run.trace.entries() {
            match &e.record {
                Event::Produced { id, tp, offset, .. } if scenario_topic(tp) => {
                    o.offsets.insert(*id, (*tp, *offset));
                    bump(&mut o.log_end, *tp, *offset);
                }
                Event::MarkerWritten {
                    tp, offset, commit, ..
                } if scenario_topic(tp) => {
                    o.markers.entry(*tp).or_default().insert(*offset, *commit);
                    bump(&mut o.log_end, *tp, *offset);
                }
                Event::Consumed {
                    group,
                    id,
                    tp,
                    offset,
                    ..
                } => {
                    o.reads
                        .entry(group.to_string())
                        .or_default()
                        .insert((*id, *tp, *offset));
                }
                Event::TxnOffsetsCommitted { group, offsets, .. } => {
                    let g = o.group_offsets.entry(group.to_string()).or_default();
                    g.extend(offsets.iter().copied());
                }
                Event::Txn(t) => {
                    let name = run.trace.name(e.actor).to_string();
                    let ends = o.ends.entry(name).or_default();
                    match t.step {
                        TxnStep::Committed => ends.0 += 1,
                        TxnStep::Aborted => ends.1 += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        o
    }
}

/// The result of [`compare_txn`]: a table of every part, and whether each matched.
#[derive(Clone, Debug)]
pub struct TxnComparison {
    /// Lines of the table.
    pub table: String,
    /// Record and marker offsets equal.
    pub offsets: bool,
    /// Every group read the same records at the same offsets.
    pub reads: bool,
    /// The transactional groups' committed offsets equal.
    pub group_offsets: bool,
    /// Log end offsets equal.
    pub log_end: bool,
    /// The same number of commits and aborts per producer.
    pub ends: bool,
}

impl TxnComparison {
    /// Whether everything compared matched.
    pub fn matches(&self) -> bool {
        self.offsets && self.reads && self.group_offsets && self.log_end && self.ends
    }
}

fn mark(b: bool) -> &'static str {
    if b {
        "same"
    } else {
        "DIFFERS"
    }
}

/// `topic-partition`.
fn tp_name(o: &TxnOutcome, tp: Tp) -> String {
    let topic = o.topics.get(tp.topic as usize).map_or("?", String::as_str);
    format!("{topic}-{}", tp.partition)
}

/// `topic-partition=offset ...`.
fn offsets_text(o: &TxnOutcome, m: &BTreeMap<Tp, i64>) -> String {
    let v: Vec<String> = m
        .iter()
        .map(|(tp, x)| format!("{}={x}", tp_name(o, *tp)))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

/// One line per part, and the first differences of each. The outcomes compared are equal
/// except for `topics`, which only names partitions.
pub fn compare_txn(sim: &TxnOutcome, real: &TxnOutcome, real_name: &str) -> TxnComparison {
    let mut t = String::new();
    let offsets = offsets_part(&mut t, sim, real, real_name);
    let reads = sim.reads == real.reads;
    let _ = writeln!(t, "records read per group: {}", mark(reads));
    let groups: BTreeSet<&String> = sim.reads.keys().chain(real.reads.keys()).collect();
    for g in groups {
        let (s, r) = (sim.reads.get(g), real.reads.get(g));
        let _ = writeln!(
            t,
            "  {g}: {} in the simulator, {} on {real_name}{}",
            s.map_or(0, BTreeSet::len),
            r.map_or(0, BTreeSet::len),
            if s == r { "" } else { "  <- differs" }
        );
    }
    let group_offsets = sim.group_offsets == real.group_offsets;
    let _ = writeln!(t, "transactional group offsets: {}", mark(group_offsets));
    let groups: BTreeSet<&String> = sim
        .group_offsets
        .keys()
        .chain(real.group_offsets.keys())
        .collect();
    let none = BTreeMap::new();
    for g in groups {
        let (s, r) = (
            sim.group_offsets.get(g).unwrap_or(&none),
            real.group_offsets.get(g).unwrap_or(&none),
        );
        let _ = writeln!(
            t,
            "  {g}: {} in the simulator, {} on {real_name}",
            offsets_text(sim, s),
            offsets_text(sim, r)
        );
    }
    let log_end = sim.log_end == real.log_end;
    let _ = writeln!(
        t,
        "log end offsets: {}  {} in the simulator, {} on {real_name}",
        mark(log_end),
        offsets_text(sim, &sim.log_end),
        offsets_text(sim, &real.log_end)
    );
    let ends = ends_part(&mut t, sim, real, real_name);
    TxnComparison {
        table: t,
        offsets,
        reads,
        group_offsets,
        log_end,
        ends,
    }
}

/// The record and marker offsets part: whether they are equal, and the first differences.
fn offsets_part(t: &mut String, sim: &TxnOutcome, real: &TxnOutcome, real_name: &str) -> bool {
    let offsets = sim.offsets == real.offsets && sim.markers == real.markers;
    let _ = writeln!(
        t,
        "record and marker offsets: {} ({} records, {} markers in the simulator; {} records, {} markers on {real_name})",
        mark(offsets),
        sim.offsets.len(),
        sim.markers.values().map(BTreeMap::len).sum::<usize>(),
        real.offsets.len(),
        real.markers.values().map(BTreeMap::len).sum::<usize>(),
    );
    let show = |x: Option<&(Tp, i64)>| x.map_or("-".into(), |(tp, o)| format!("{}@{o}", tp_name(sim, *tp)));
    let ids: BTreeSet<&RecordId> = sim.offsets.keys().chain(real.offsets.keys()).collect();
    for id in ids
        .into_iter()
        .filter(|id| sim.offsets.get(id) != real.offsets.get(id))
        .take(10)
    {
        let (a, b) = (show(sim.offsets.get(id)), show(real.offsets.get(id)));
        let _ = writeln!(
            t,
            "  record p{}-{}: {a} in the simulator, {b} on {real_name}",
            id.producer, id.seq
        );
    }
    let tps: BTreeSet<&Tp> = sim.markers.keys().chain(real.markers.keys()).collect();
    let markers = |o: &TxnOutcome, tp: &Tp| {
        let v: Vec<String> = o
            .markers
            .get(tp)
            .into_iter()
            .flatten()
            .map(|(x, c)| format!("{x}:{}", if *c { "COMMIT" } else { "ABORT" }))
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    for tp in tps
        .into_iter()
        .filter(|tp| sim.markers.get(tp) != real.markers.get(tp))
    {
        let _ = writeln!(
            t,
            "  markers of {}: {} in the simulator, {} on {real_name}",
            tp_name(sim, *tp),
            markers(sim, tp),
            markers(real, tp)
        );
    }
    offsets
}

/// The commits and aborts per producer part: whether they are equal.
fn ends_part(t: &mut String, sim: &TxnOutcome, real: &TxnOutcome, real_name: &str) -> bool {
    let ends = sim.ends == real.ends;
    let _ = writeln!(t, "transactions committed / aborted: {}", mark(ends));
    let names: BTreeSet<&String> = sim.ends.keys().chain(real.ends.keys()).collect();
    for n in names {
        let (s, r) = (
            sim.ends.get(n).copied().unwrap_or_default(),
            real.ends.get(n).copied().unwrap_or_default(),
        );
        let _ = writeln!(
            t,
            "  {n}: {} / {} in the simulator, {} / {} on {real_name}",
            s.0, s.1, r.0, r.1
        );
    }
    ends
}
