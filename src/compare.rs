//! Comparing two histories of one scenario — the simulator's and a real broker's — on what
//! is deterministic in Kafka:
//!
//! * **placement**: the partition and offset of every keyed record (null-key placement is
//!   random by design, so for those only coverage is compared);
//! * **coverage**: which records each group consumed, and how often;
//! * **assignment**: each group's final assignment, as a multiset of partition sets — member
//!   ids are random, so who got which set is not compared, only the shape;
//! * **verdict**: the checker's pass or fail under the same claim, on both.
//!
//! Everything else (timings, member ids, the number of intermediate generations) differs
//! between any two runs and is shown, not compared.

use crate::sweep::final_assignment;
use models::check::{check, Claim, Report};
use models::history::Event;
use models::types::{show_bytes, RecordId, Tp};
use models::world::Run;
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of a comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Lines of the side-by-side table.
    pub table: String,
    /// Placement of keyed records equal.
    pub placement: bool,
    /// Per-group coverage equal.
    pub coverage: bool,
    /// Final assignments equal up to member order.
    pub assignment: bool,
    /// Checker verdicts equal.
    pub verdict: bool,
}

impl Comparison {
    /// Whether everything deterministic matched.
    pub fn matches(&self) -> bool {
        self.placement && self.coverage && self.assignment && self.verdict
    }
}

/// Per record: key as printed, whether it has a key, partition, offset.
type Placement = BTreeMap<RecordId, (String, bool, Tp, i64)>;

fn placements(run: &Run) -> Placement {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Produced {
                id,
                tp,
                offset,
                payload,
                ..
            } => Some((
                *id,
                (show_bytes(payload.key()), payload.key().is_some(), *tp, *offset),
            )),
            _ => None,
        })
        .collect()
}

fn coverage(run: &Run) -> BTreeMap<String, BTreeMap<RecordId, usize>> {
    let mut out: BTreeMap<String, BTreeMap<RecordId, usize>> = BTreeMap::new();
    for e in run.trace.entries() {
        if let Event::Consumed { group, id, .. } = &e.record {
            *out.entry(group.to_string()).or_default().entry(*id).or_default() += 1;
        }
    }
    out
}

/// Each group's final assignment as a sorted list of partition sets (member ids dropped).
fn shapes(run: &Run) -> BTreeMap<String, Vec<Vec<String>>> {
    final_assignment(run)
        .into_iter()
        .map(|(g, members)| {
            let mut sets: Vec<Vec<String>> = members
                .values()
                .map(|tps| tps.iter().map(|t| run.meta.display(*t).to_string()).collect())
                .collect();
            sets.sort();
            (g, sets)
        })
        .collect()
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "DIFFERENT"
    }
}

/// Compares the simulator's run `sim` with the recorded `real` run of the same scenario.
pub fn compare(sim: &Run, real: &Run, claim: Claim, real_name: &str) -> Comparison {
    let mut t = String::new();
    let placement = compare_placement(&mut t, sim, real, real_name);
    let coverage = compare_coverage(&mut t, sim, real);
    let assignment = compare_assignment(&mut t, sim, real, real_name);
    let verdict = compare_verdict(&mut t, sim, real, claim);
    Comparison {
        table: t,
        placement,
        coverage,
        assignment,
        verdict,
    }
}

/// The placement part of the table: every record's partition and offset on both sides (the
/// first 20, and every difference). Whether the keyed ones agree.
fn compare_placement(t: &mut String, sim: &Run, real: &Run, real_name: &str) -> bool {
    let meta = &sim.meta;
    let (ps, pr) = (placements(sim), placements(real));
    let mut placement = true;
    t.push_str(&format!(
        "placement (keyed records)          {:<22} {:<22}\n",
        "simulator", real_name
    ));
    let ids: BTreeSet<RecordId> = ps.keys().chain(pr.keys()).copied().collect();
    let fmt = |x: Option<&(String, bool, Tp, i64)>| {
        x.map_or("missing".to_string(), |(_, _, tp, o)| {
            format!("{}@{o}", meta.display(*tp))
        })
    };
    let mut shown = 0;
    for id in ids {
        let s = ps.get(&id);
        let r = pr.get(&id);
        let keyed = s.or(r).is_some_and(|x| x.1);
        let same = match (s, r) {
            (Some(a), Some(b)) => !keyed || (a.2 == b.2 && a.3 == b.3),
            _ => false,
        };
        placement &= same;
        if shown < 20 || !same {
            let key = s.or(r).map_or("?".to_string(), |x| x.0.clone());
            let mark = if !keyed {
                "(null key: not compared)"
            } else if same {
                ""
            } else {
                "<- differs"
            };
            t.push_str(&format!(
                "  p{}-{:<6} key={:<20} {:<22} {:<22} {}\n",
                id.producer,
                id.seq,
                key,
                fmt(s),
                fmt(r),
                mark
            ));
            shown += 1;
        }
    }
    if ps.len() > shown {
        t.push_str(&format!("  ... {} records in all\n", ps.len().max(pr.len())));
    }
    t.push_str(&format!("placement: {}\n\n", ok(placement)));
    placement
}

/// The coverage part: per group, distinct and total records consumed on both sides. Whether
/// every group consumed the same records as often.
/// A group's name in the tables; consumers without a group are listed as one.
fn group_label(g: &str) -> &str {
    if g.is_empty() {
        "(no group)"
    } else {
        g
    }
}

fn compare_coverage(t: &mut String, sim: &Run, real: &Run) -> bool {
    let (cs, cr) = (coverage(sim), coverage(real));
    let mut covered = true;
    t.push_str("coverage per group                 consumed (distinct / total)\n");
    let groups: BTreeSet<&String> = cs.keys().chain(cr.keys()).collect();
    for g in groups {
        let a = cs.get(g).cloned().unwrap_or_default();
        let b = cr.get(g).cloned().unwrap_or_default();
        let same = a == b;
        covered &= same;
        let fmt = |m: &BTreeMap<RecordId, usize>| format!("{} / {}", m.len(), m.values().sum::<usize>());
        t.push_str(&format!(
            "  {:<32} {:<22} {:<22} {}\n",
            group_label(g),
            fmt(&a),
            fmt(&b),
            if same { "" } else { "<- differs" }
        ));
    }
    t.push_str(&format!("coverage: {}\n\n", ok(covered)));
    covered
}

/// The assignment part: each group's final assignment on both sides. Whether they have the
/// same shape.
fn compare_assignment(t: &mut String, sim: &Run, real: &Run, real_name: &str) -> bool {
    let (ss, sr) = (shapes(sim), shapes(real));
    let assignment = ss == sr;
    t.push_str("final assignment per group (up to member order)\n");
    let groups: BTreeSet<&String> = ss.keys().chain(sr.keys()).collect();
    let fmt = |sets: Option<&Vec<Vec<String>>>| {
        sets.map_or("-".to_string(), |sets| {
            sets.iter()
                .map(|s| format!("[{}]", s.join(" ")))
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    for g in groups {
        t.push_str(&format!(
            "  {}\n    simulator: {}\n    {real_name}: {}\n",
            group_label(g),
            fmt(ss.get(g)),
            fmt(sr.get(g))
        ));
    }
    t.push_str(&format!("assignment: {}\n\n", ok(assignment)));
    assignment
}

/// The verdict part: the checker's verdict under `claim` on both sides. Whether they agree.
fn compare_verdict(t: &mut String, sim: &Run, real: &Run, claim: Claim) -> bool {
    let (vs, vr) = (check(&sim.trace, claim), check(&real.trace, claim));
    let verdict = vs.passed() == vr.passed();
    let v = |r: &Report| {
        if r.passed() {
            "PASS".to_string()
        } else {
            format!("FAIL ({} not allowed)", r.violations().count())
        }
    };
    t.push_str(&format!(
        "checker verdict ({})             {:<22} {:<22}\n",
        claim.name(),
        v(&vs),
        v(&vr)
    ));
    t.push_str(&format!("verdict: {}\n", ok(verdict)));
    verdict
}

/// How long a real group must keep owning every partition before a driver calls it settled.
///
/// Half a second for classic groups: their members all move to a new generation together.
/// Under the KIP-848 consumer protocol (`group.protocol=consumer`) a joining member is handed
/// its partitions only after their owners revoked them, which they learn on their next
/// heartbeat: until then the old owners still cover every partition, so the quiet time must
/// outlast the broker's `group.consumer.heartbeat.interval.ms` (5 s, the default the
/// simulator's broker uses too).
pub fn settle_quiet(s: &models::scenario::Scenario) -> std::time::Duration {
    let kip848 =
        (0..s.consumers.len()).any(|i| s.consumer_config(i).is_ok_and(|c| c.group_protocol_consumer));
    let heartbeat = if kip848 {
        models::consumer_group::Config::default().heartbeat_interval_us / 1000
    } else {
        0
    };
    std::time::Duration::from_millis(500 + heartbeat)
}

/// Why `scenario` cannot be staged against one real broker by `who` (the rdkafka adapter or
/// a driver), if it cannot: several brokers, faults, processing times, manual commits.
pub fn unstageable(s: &models::scenario::Scenario, who: &str) -> Option<String> {
    if s.cluster.brokers > 1 {
        return Some(format!(
            "the scenario has {} brokers; {who} runs against one broker",
            s.cluster.brokers
        ));
    }
    if !s.faults.is_empty() {
        return Some("faults cannot be staged against a real broker".into());
    }
    s.consumers
        .iter()
        .find(|c| c.processing_ms != 0 || c.commit != models::consumer::CommitPolicy::Auto)
        .map(|c| {
            format!(
                "consumer {}: only processing_ms = 0 and commit = \"auto\" are staged against a real broker",
                c.name
            )
        })
}
