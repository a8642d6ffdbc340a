//! Seed sweeps: run one scenario under many seeds, in parallel, and summarise.
//!
//! The summary is a pure function of (scenario, seed range, claim): results are keyed by
//! seed in ordered maps and merged with commutative operations (sums, minimum example
//! seed), so `--jobs 1`, `--jobs 8`, and any split into shards merged afterwards, print the
//! same bytes.

use models::check::{check, Claim};
use models::query;
use models::scenario::Scenario;
use models::types::Tp;
use models::world::{History, Prepared, Run};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The result of a sweep, or of a shard of one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name or path, as given.
    pub scenario: String,
    /// The whole seed range, `A..B` (B exclusive).
    pub seeds: String,
    /// The claim checked, if any.
    pub claim: Option<Claim>,
    /// Runs summarised.
    pub runs: u64,
    /// Engine events over all runs.
    pub events: u64,
    /// Distinct outcomes: signature → (seeds that gave it, smallest such seed).
    pub outcomes: BTreeMap<String, (u64, u64)>,
    /// Seeds that violated the claim → the anomalies they showed (`kind×count`).
    pub violations: BTreeMap<u64, Vec<String>>,
}

impl Summary {
    /// Adds another summary of the same sweep (another shard).
    pub fn merge(&mut self, other: Summary) {
        if self.scenario.is_empty() {
            self.scenario = other.scenario;
            self.seeds = other.seeds;
            self.claim = other.claim;
        }
        self.runs += other.runs;
        self.events += other.events;
        for (sig, (n, example)) in other.outcomes {
            let e = self.outcomes.entry(sig).or_insert((0, example));
            e.0 += n;
            e.1 = e.1.min(example);
        }
        self.violations.extend(other.violations);
    }

    /// Whether every run satisfied the claim.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The summary for people; `path` is what `--scenario` replays.
    pub fn text(&self) -> String {
        let mut s = format!(
            "sweep: scenario {}, seeds {}, {} runs, {} events\n",
            self.scenario, self.seeds, self.runs, self.events
        );
        s.push_str(&format!("distinct outcomes: {}\n", self.outcomes.len()));
        let mut by_count: Vec<(&String, &(u64, u64))> = self.outcomes.iter().collect();
        by_count.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
        for (sig, (n, example)) in by_count {
            s.push_str(&format!("  {n:>8} seeds (e.g. seed {example}): {sig}\n"));
        }
        if let Some(claim) = self.claim {
            if self.violations.is_empty() {
                s.push_str(&format!(
                    "claim {}: held for all {} runs\n",
                    claim.name(),
                    self.runs
                ));
            } else {
                s.push_str(&format!(
                    "claim {}: violated by {} of {} runs\n",
                    claim.name(),
                    self.violations.len(),
                    self.runs
                ));
                for (seed, anomalies) in &self.violations {
                    s.push_str(&format!(
                        "  seed {seed}: {} — replay: kafka-sim --scenario {} --seed {seed} --check --expect {}\n",
                        anomalies.join(", "),
                        self.scenario,
                        claim.name()
                    ));
                }
            }
        }
        s
    }
}

/// Which partitions each consumer owns at the end of the run, per group, by client name
/// ([`models::query::final_assignment`]).
pub fn final_assignment(run: &Run) -> BTreeMap<String, BTreeMap<String, BTreeSet<Tp>>> {
    query::final_assignment(&run.trace)
        .into_iter()
        .map(|(group, members)| {
            let members = members
                .into_iter()
                .map(|(client, tps)| (run.trace.name(client).to_string(), tps))
                .collect();
            (group.to_string(), members)
        })
        .collect()
}

/// One run's outcome signature: the final assignment of every group (and, when checking,
/// the anomaly kinds seen).
fn signature(run: &Run, anomalies: &[String]) -> String {
    let mut parts = Vec::new();
    for (group, members) in final_assignment(run) {
        let members: Vec<String> = members
            .iter()
            .map(|(client, tps)| {
                let tps: Vec<String> = tps.iter().map(|t| t.partition.to_string()).collect();
                format!("{client}=[{}]", tps.join(","))
            })
            .collect();
        parts.push(format!("{group}: {}", members.join(" ")));
    }
    if !anomalies.is_empty() {
        parts.push(format!("anomalies: {}", anomalies.join(", ")));
    }
    parts.join("; ")
}

/// Summarises one seed of a prepared scenario.
pub fn one(prepared: &Prepared<'_>, seed: u64, claim: Option<Claim>) -> Summary {
    // the outcome is read from group events alone: without a check, the per-record events
    // need not be kept
    let history = if claim.is_some() {
        History::Full
    } else {
        History::Summary
    };
    let r = prepared.run(seed, history);
    let mut summary = Summary {
        runs: 1,
        events: r.events,
        ..Summary::default()
    };
    let mut kinds = Vec::new();
    if let Some(claim) = claim {
        let report = check(&r.trace, claim);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &report.anomalies {
            *counts.entry(a.kind.name()).or_default() += 1;
        }
        kinds = counts.keys().map(|k| k.to_string()).collect();
        if !report.passed() {
            let mut v: BTreeMap<&str, usize> = BTreeMap::new();
            for a in report.violations() {
                *v.entry(a.kind.name()).or_default() += 1;
            }
            summary
                .violations
                .insert(seed, v.into_iter().map(|(k, n)| format!("{k}×{n}")).collect());
        }
    }
    summary.outcomes.insert(signature(&r, &kinds), (1, seed));
    summary
}

/// The seeds of `from..to` in shard `k` of `n` (every n-th seed, starting at `from + k`).
pub fn shard_seeds(from: u64, to: u64, shard: Option<(u64, u64)>) -> Vec<u64> {
    let (k, n) = shard.unwrap_or((0, 1));
    (from..to).filter(|s| (s - from) % n == k).collect()
}

/// Runs the sweep on `jobs` threads; `tick` is called after each run (for a progress bar).
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    label: &str,
    scenario: &Scenario,
    from: u64,
    to: u64,
    shard: Option<(u64, u64)>,
    claim: Option<Claim>,
    jobs: usize,
    tick: &(dyn Fn() + Sync),
) -> Summary {
    let seeds = shard_seeds(from, to, shard);
    // checked, and everything that does not depend on the seed built, once
    let prepared = Prepared::new(scenario).expect("validated scenario");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("thread pool");
    let mut total = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                let s = one(&prepared, seed, claim);
                tick();
                s
            })
            .reduce(Summary::default, |mut a, b| {
                a.merge(b);
                a
            })
    });
    total.scenario = label.to_string();
    total.seeds = format!("{from}..{to}");
    total.claim = claim;
    total
}
