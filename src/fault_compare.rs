//! Comparing a simulated and a real run of a scenario with faults. Fault timings, client
//! start-up and batching make exact equality of coverage impossible, so each row says what
//! must agree and how:
//!
//! * **presence**: each anomaly kind the checker finds (over both histories) — present on
//!   both sides or on neither; also whether the producers were told of failed records;
//! * **bound**: what Kafka promises, judged on each side — records redelivered to a group
//!   only among those a faulty member consumed since its last commit before the fault; lost
//!   writes only under `acks` 0 or 1 or an unclean election (none under `acks=all` with
//!   `min.insync.replicas`); lost records only when a group commits before processing or
//!   a write was lost — the row agrees when both sides keep it (or both break it);
//! * **event**: after each fault, the first assignment in the group to a member other than
//!   the faulty one (a rebalance) — on both sides or on neither, and when both, at delays
//!   within [`tolerance_ms`] (a crash is noticed after `session.timeout.ms`, a stall after
//!   `max.poll.interval.ms`, a static member back within its session timeout causes none);
//! * **verdict**: the checker's pass or fail under the claim;
//! * **shown**: records acknowledged and consumed, not compared.

use models::check::{check, AnomalyKind, Claim, Report};
use models::consumer::CommitPolicy;
use models::history::Event;
use models::scenario::{FaultKind, Scenario};
use models::types::Tp;
use models::world::{ClientKind, Run};
use sim::{ActorId, Time};
use std::collections::BTreeMap;

/// What a row compares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Present on both sides or on neither.
    Presence,
    /// A promise each side must keep.
    Bound,
    /// A group event after a fault, with its delay.
    Event,
    /// The checker's verdict.
    Verdict,
    /// Shown, not compared.
    Shown,
}

impl RowKind {
    fn name(self) -> &'static str {
        match self {
            RowKind::Presence => "presence",
            RowKind::Bound => "bound",
            RowKind::Event => "event",
            RowKind::Verdict => "verdict",
            RowKind::Shown => "shown",
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What it is about.
    pub what: String,
    /// How it is compared.
    pub kind: RowKind,
    /// The simulator's figure.
    pub sim: String,
    /// The real run's figure.
    pub real: String,
    /// Whether the two agree (always for shown rows).
    pub agrees: bool,
}

/// The outcome of a comparison under faults.
#[derive(Clone, Debug)]
pub struct FaultComparison {
    /// Every row.
    pub rows: Vec<Row>,
    /// The table.
    pub table: String,
}

impl FaultComparison {
    /// Whether every compared row agrees.
    pub fn matches(&self) -> bool {
        self.rows.iter().all(|r| r.agrees)
    }
}

/// How far apart two delays may be and still agree: 2 s, or a quarter of the simulator's.
pub fn tolerance_ms(sim_ms: f64) -> f64 {
    (sim_ms / 4.0).max(2000.0)
}

/// Compares the simulator's `sim` with the recorded `real` run of scenario `s`.
pub fn compare(s: &Scenario, sim: &Run, real: &Run, claim: Claim, real_name: &str) -> FaultComparison {
    let (rs, rr) = (check(&sim.trace, claim), check(&real.trace, claim));
    let mut rows = Vec::new();
    anomaly_rows(&mut rows, &rs, &rr);
    rows.push(presence(
        "producer told of failed records",
        failed(sim),
        failed(real),
    ));
    bound_rows(&mut rows, s, (sim, &rs), (real, &rr));
    event_rows(&mut rows, s, sim, real);
    let v = |r: &Report| {
        if r.passed() {
            "PASS".to_string()
        } else {
            "FAIL".to_string()
        }
    };
    rows.push(Row {
        what: format!("checker verdict ({})", claim.name()),
        kind: RowKind::Verdict,
        sim: v(&rs),
        real: v(&rr),
        agrees: rs.passed() == rr.passed(),
    });
    let shown = |what: &str, f: &dyn Fn(&Run) -> String| Row {
        what: what.into(),
        kind: RowKind::Shown,
        sim: f(sim),
        real: f(real),
        agrees: true,
    };
    rows.push(shown("records acknowledged", &|r| {
        count(r, |e| matches!(e, Event::Produced { .. })).to_string()
    }));
    rows.push(shown("consumed (distinct / total)", &|r| {
        let (d, t) = consumed(r);
        format!("{d} / {t}")
    }));
    let table = table(&rows, real_name);
    FaultComparison { rows, table }
}

fn table(rows: &[Row], real_name: &str) -> String {
    let mut t = format!(
        "under faults: what must agree (rows of kind shown are not compared)\n{:<58} {:<9} {:<22} {:<22}\n",
        "row", "kind", "simulator", real_name
    );
    for r in rows {
        let mark = match (r.kind, r.agrees) {
            (RowKind::Shown, _) => "",
            (_, true) => "ok",
            (_, false) => "DIFFERENT",
        };
        t.push_str(&format!(
            "  {:<56} {:<9} {:<22} {:<22} {mark}\n",
            r.what,
            r.kind.name(),
            r.sim,
            r.real
        ));
    }
    let all = rows.iter().all(|r| r.agrees);
    t.push_str(&format!("faults: {}\n", if all { "ok" } else { "DIFFERENT" }));
    t
}

fn presence(what: &str, s: usize, r: usize) -> Row {
    Row {
        what: what.into(),
        kind: RowKind::Presence,
        sim: s.to_string(),
        real: r.to_string(),
        agrees: (s > 0) == (r > 0),
    }
}

fn count(run: &Run, f: impl Fn(&Event) -> bool) -> usize {
    run.trace.entries().iter().filter(|e| f(&e.record)).count()
}

fn failed(run: &Run) -> usize {
    count(run, |e| matches!(e, Event::ProduceFailed { .. }))
}

/// Distinct records consumed (per group, summed) and all consumptions.
fn consumed(run: &Run) -> (usize, usize) {
    let mut per: BTreeMap<(String, models::types::RecordId), usize> = BTreeMap::new();
    for e in run.trace.entries() {
        if let Event::Consumed { group, id, .. } = &e.record {
            *per.entry((group.to_string(), *id)).or_default() += 1;
        }
    }
    (per.len(), per.values().sum())
}

/// Offsets a group consumed again (a record the log holds twice, a retried write, is two
/// offsets: not a redelivery).
fn redelivered(run: &Run) -> usize {
    let mut per: BTreeMap<(String, Tp, i64), usize> = BTreeMap::new();
    for e in run.trace.entries() {
        if let Event::Consumed {
            group, tp, offset, ..
        } = &e.record
        {
            *per.entry((group.to_string(), *tp, *offset)).or_default() += 1;
        }
    }
    per.values().map(|n| n - 1).sum()
}

/// A row per anomaly kind either side shows (`unseen` shown only: it depends on when the
/// run stopped).
fn anomaly_rows(rows: &mut Vec<Row>, rs: &Report, rr: &Report) {
    for kind in AnomalyKind::ALL {
        let (s, r) = (rs.count(kind), rr.count(kind));
        if s == 0 && r == 0 && AnomalyKind::TRANSACTIONAL.contains(&kind) {
            continue;
        }
        let mut row = presence(&format!("anomaly {}", kind.name()), s, r);
        if kind == AnomalyKind::Unseen {
            row.kind = RowKind::Shown;
            row.agrees = true;
        }
        rows.push(row);
    }
}

/// Whether `s` allows lost writes: a producer with `acks` 0 or 1, or an unclean election.
fn writes_may_be_lost(s: &Scenario) -> bool {
    let weak_acks = (0..s.producers.len()).any(|i| {
        s.producer_config(i)
            .is_ok_and(|c| c.acks != models::protocol::Acks::All)
    });
    weak_acks || s.topics.iter().any(|t| s.unclean_leader_election(t))
}

fn bound_rows(rows: &mut Vec<Row>, s: &Scenario, sim: (&Run, &Report), real: (&Run, &Report)) {
    let bound = |what: String, keep: &dyn Fn(&Run, &Report) -> (bool, String)| {
        let ((ks, fs), (kr, fr)) = (keep(sim.0, sim.1), keep(real.0, real.1));
        Row {
            what,
            kind: RowKind::Bound,
            sim: format!("{fs} {}", if ks { "(kept)" } else { "(BROKEN)" }),
            real: format!("{fr} {}", if kr { "(kept)" } else { "(BROKEN)" }),
            agrees: ks == kr,
        }
    };
    // a diverged log (unclean election, acks below all) is read again where it diverged
    let allowed = writes_may_be_lost(s);
    let what = if allowed { " (or lost writes)" } else { "" };
    rows.push(bound(
        format!("offsets redelivered <= uncommitted at consumer faults{what}"),
        &|run, r| {
            let (n, w) = (redelivered(run), window(s, run));
            let diverged = allowed && r.count(AnomalyKind::LostWrite) > 0;
            (n <= w || diverged, format!("{n} <= {w}"))
        },
    ));
    rows.push(bound(
        format!("lost writes only if acks<all/unclean (allowed: {})", yes(allowed)),
        &|_, r| {
            let n = r.count(AnomalyKind::LostWrite);
            (allowed || n == 0, n.to_string())
        },
    ));
    let early = s
        .consumers
        .iter()
        .any(|c| c.commit == CommitPolicy::BeforeProcessing);
    rows.push(bound(
        format!(
            "lost records only if committed early (allowed: {})",
            yes(early || allowed)
        ),
        &|_, r| {
            let n = r.count(AnomalyKind::Lost);
            (early || allowed || n == 0, n.to_string())
        },
    ));
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The actor of consumer `name` in `run`.
fn actor_of(run: &Run, name: &str) -> Option<ActorId> {
    run.clients
        .iter()
        .find(|c| c.kind == ClientKind::Consumer && c.name == name)
        .map(|c| c.actor)
}

/// The time of the first `Crashed` (or, for a stall, `Stalled`; for a close, `Closed`) of
/// `actor` — the fault as it happened in `run`.
fn fault_time(run: &Run, actor: ActorId, kind: FaultKind) -> Option<Time> {
    run.trace
        .entries()
        .iter()
        .find(|e| {
            e.actor == actor
                && match kind {
                    FaultKind::Crash => matches!(e.record, Event::Crashed),
                    FaultKind::Stall => matches!(e.record, Event::Stalled { .. }),
                    FaultKind::Close => matches!(e.record, Event::Closed),
                    _ => false,
                }
        })
        .map(|e| e.time)
}

/// Records each faulty consumer had consumed since its last commit before the fault (in
/// the partitions it consumed), summed over the consumer faults.
fn window(s: &Scenario, run: &Run) -> usize {
    let mut total = 0;
    for f in &s.faults {
        let Some(actor) = actor_of(run, &f.client) else {
            continue;
        };
        // a client cut leaves no event of its own: it starts at its scheduled time, on both
        // sides (a timed run plays virtual time on the wall clock)
        let at = match f.kind {
            FaultKind::Cut => f.at_ms.map(Time::ms),
            _ => fault_time(run, actor, f.kind),
        };
        let Some(at) = at else {
            continue;
        };
        // a stalled member finishes the batch it holds before it learns that it lost its
        // partitions: what it consumes until then is uncommitted too
        let learns = run
            .trace
            .entries()
            .iter()
            .filter(|e| e.actor == actor && e.time > at)
            .find(|e| {
                matches!(
                    e.record,
                    Event::Assigned { .. } | Event::Revoked { .. } | Event::Lost { .. }
                )
            })
            .map_or(at, |e| e.time);
        let mut committed: BTreeMap<Tp, i64> = BTreeMap::new();
        let mut since: BTreeMap<Tp, Vec<i64>> = BTreeMap::new();
        for e in run
            .trace
            .entries()
            .iter()
            .filter(|e| e.actor == actor && e.time <= learns)
        {
            match &e.record {
                Event::Committed { offsets, .. } if e.time <= at => committed.extend(offsets.iter().copied()),
                Event::Consumed { tp, offset, .. } => since.entry(*tp).or_default().push(*offset),
                _ => {}
            }
        }
        total += since
            .iter()
            .map(|(tp, offs)| {
                offs.iter()
                    .filter(|o| **o >= committed.get(tp).copied().unwrap_or(0))
                    .count()
            })
            .sum::<usize>();
    }
    total
}

/// Delay from `at` to the first assignment in `group` to a consumer other than `except`
/// that had one before `at` (a rebalance; a group's first assignments are not), before
/// `until`.
fn rebalance_after(run: &Run, group: &str, except: Option<ActorId>, at: Time, until: Time) -> Option<Time> {
    let assigned =
        |e: &&sim::TraceEntry<Event>| matches!(&e.record, Event::Assigned { group: g, .. } if &**g == group);
    let entries = run.trace.entries();
    let before: std::collections::BTreeSet<ActorId> = entries
        .iter()
        .filter(|e| e.time <= at)
        .filter(assigned)
        .map(|e| e.actor)
        .collect();
    entries
        .iter()
        .filter(|e| e.time > at && e.time < until && Some(e.actor) != except && before.contains(&e.actor))
        .find(assigned)
        .map(|e| e.time.saturating_sub(at))
}

/// When broker `name`'s fault happened in `run`: its `Crashed`, else the scheduled time.
fn broker_fault_time(run: &Run, name: &str, scheduled: u64) -> Time {
    let idx: Option<usize> = name.strip_prefix("broker-").and_then(|n| n.parse::<usize>().ok());
    let actor = idx.and_then(|n| run.brokers.get(n.wrapping_sub(1)).copied());
    actor
        .and_then(|a| {
            run.trace
                .entries()
                .iter()
                .find(|e| e.actor == a && matches!(e.record, Event::Crashed))
                .map(|e| e.time)
        })
        .unwrap_or(Time::ms(scheduled))
}

fn event_rows(rows: &mut Vec<Row>, s: &Scenario, sim: &Run, real: &Run) {
    let groups: Vec<String> = {
        let mut g: Vec<String> = s
            .consumers
            .iter()
            .map(|c| c.group.clone())
            .filter(|g| !g.is_empty())
            .collect();
        g.sort();
        g.dedup();
        g
    };
    for (i, f) in s.faults.iter().enumerate() {
        let at_ms = f.at_ms.unwrap_or(0);
        let next = s
            .faults
            .iter()
            .filter_map(|g| g.at_ms)
            .filter(|t| *t > at_ms)
            .min();
        let consumer = s.consumers.iter().find(|c| c.name == f.client);
        let delay = |run: &Run, group: &str| -> Option<Time> {
            let (except, at) = match consumer {
                Some(c) => {
                    let a = actor_of(run, &c.name);
                    (
                        a,
                        a.and_then(|a| fault_time(run, a, f.kind))
                            .unwrap_or(Time::ms(at_ms)),
                    )
                }
                None => (None, broker_fault_time(run, &f.client, at_ms)),
            };
            let until = next.map_or(Time::MAX, |n| at + Time::ms(n - at_ms));
            rebalance_after(run, group, except, at, until)
        };
        let of_group: Vec<&String> = match consumer {
            Some(c) => groups.iter().filter(|g| **g == c.group).collect(),
            None => groups.iter().collect(),
        };
        for g in of_group {
            let (ds, dr) = (delay(sim, g), delay(real, g));
            let agrees = match (ds, dr) {
                (None, None) => true,
                (Some(a), Some(b)) => (a.as_ms_f64() - b.as_ms_f64()).abs() <= tolerance_ms(a.as_ms_f64()),
                _ => false,
            };
            let fmt = |d: Option<Time>| {
                d.map_or("none".to_string(), |d| {
                    format!("after {:.1} s", d.as_ms_f64() / 1000.0)
                })
            };
            rows.push(Row {
                what: format!(
                    "rebalance of {g} after faults[{i}] ({} {})",
                    f.kind.name(),
                    f.client
                ),
                kind: RowKind::Event,
                sim: fmt(ds),
                real: fmt(dr),
                agrees,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::builtin_scenario;

    #[test]
    fn a_run_agrees_with_itself() {
        let s = builtin_scenario("crash-autocommit").unwrap();
        let run = models::world::run(&s, 1).unwrap();
        let c = compare(&s, &run, &run, Claim::AtLeastOnce, "same");
        assert!(c.matches(), "{}", c.table);
        assert!(
            c.table
                .contains("rebalance of billing after faults[0] (crash consumer-1)"),
            "{}",
            c.table
        );
        // the crash is noticed after session.timeout.ms (10 s)
        let row = c.rows.iter().find(|r| r.kind == RowKind::Event).unwrap();
        assert!(row.sim.starts_with("after 1"), "{}", c.table);
    }

    #[test]
    fn a_missing_rebalance_and_a_broken_bound_are_differences() {
        let s = builtin_scenario("crash-autocommit").unwrap();
        let sim = models::world::run(&s, 1).unwrap();
        // a "real" run of the same scenario with no crash at all: no rebalance after it
        let mut calm = s.clone();
        calm.faults.clear();
        let real = models::world::run(&calm, 1).unwrap();
        let c = compare(&s, &sim, &real, Claim::AtLeastOnce, "calm");
        assert!(!c.matches(), "{}", c.table);
        let row = c.rows.iter().find(|r| r.kind == RowKind::Event).unwrap();
        assert_eq!(row.real, "none", "{}", c.table);
        assert!(!row.agrees);
    }

    /// The simulator keeps every bound on the staged fault scenarios, over seeds.
    #[test]
    fn the_simulator_keeps_the_bounds() {
        for name in [
            "crash-autocommit",
            "commit-before-processing",
            "commit-after-processing",
            "static-restart",
            "stall-poll-timeout",
            "acks-all-minisr",
            "unclean-election",
            "coordinator-failover",
            "idempotent-retry",
            "network-cut",
            "acks1-leader-loss",
        ] {
            let s = builtin_scenario(name).unwrap();
            for seed in 0..4 {
                let run = models::world::run(&s, seed).unwrap();
                let c = compare(&s, &run, &run, Claim::AtLeastOnce, "same");
                for r in c.rows.iter().filter(|r| r.kind == RowKind::Bound) {
                    assert!(r.sim.ends_with("(kept)"), "{name} seed {seed}:\n{}", c.table);
                }
            }
        }
    }

    #[test]
    fn lost_writes_are_allowed_only_under_weak_acks_or_unclean_elections() {
        assert!(writes_may_be_lost(
            &builtin_scenario("acks1-leader-loss").unwrap()
        ));
        assert!(writes_may_be_lost(&builtin_scenario("unclean-election").unwrap()));
        assert!(!writes_may_be_lost(&builtin_scenario("acks-all-minisr").unwrap()));
        assert_eq!(tolerance_ms(1000.0), 2000.0);
        assert_eq!(tolerance_ms(40_000.0), 10_000.0);
    }
}
