//! Seed sweeps: run one scenario under many seeds, in parallel, and summarise.
//!
//! The summary is a pure function of (scenario, seed range, claim): results are keyed by
//! seed in ordered maps and merged with commutative operations (sums, minimum example
//! seed), so `--jobs 1`, `--jobs 8`, and any split into shards merged afterwards, print the
//! same bytes. A summary says which shards of which seed range it holds, so merging
//! refuses shards given twice and names the ones missing.

use models::check::{check, Claim};
use models::limits::RunError;
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
    /// Into how many shards the range was split (1: not split).
    pub shard_count: u64,
    /// Which of them this summary holds (`[0]` for a whole sweep).
    pub shards: BTreeSet<u64>,
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
    /// Adds another summary of the same sweep (another shard), or says why it is not one:
    /// another sweep, another split, or a shard this summary already holds.
    pub fn merge_shard(&mut self, other: Summary) -> Result<(), String> {
        if !self.scenario.is_empty() {
            if (&self.scenario, &self.seeds, self.claim) != (&other.scenario, &other.seeds, other.claim) {
                return Err(format!(
                    "a shard of another sweep (scenario {}, seeds {}, claim {}; expected scenario {}, seeds {}, claim {})",
                    other.scenario,
                    other.seeds,
                    claim_name(other.claim),
                    self.scenario,
                    self.seeds,
                    claim_name(self.claim)
                ));
            }
            if self.shard_count != other.shard_count {
                return Err(format!(
                    "a shard of {} where the others are shards of {}",
                    other.shard_count, self.shard_count
                ));
            }
            if let Some(k) = other.shards.iter().find(|k| self.shards.contains(k)) {
                return Err(format!("shard {k}/{} is given twice", self.shard_count));
            }
        }
        self.merge(other);
        Ok(())
    }

    /// The shards of the split this summary does not hold, as `K/N`.
    pub fn missing_shards(&self) -> Vec<String> {
        (0..self.shard_count)
            .filter(|k| !self.shards.contains(k))
            .map(|k| format!("{k}/{}", self.shard_count))
            .collect()
    }

    /// A summary holding every shard of its split, written as the summary of the whole
    /// sweep (one shard of one).
    pub fn whole(mut self) -> Summary {
        if self.missing_shards().is_empty() {
            self.shard_count = 1;
            self.shards = [0].into();
        }
        self
    }

    /// Adds another summary of the same sweep (another shard), unchecked.
    pub fn merge(&mut self, other: Summary) {
        if self.scenario.is_empty() {
            self.scenario = other.scenario;
            self.seeds = other.seeds;
            self.claim = other.claim;
            self.shard_count = other.shard_count;
        }
        self.shards.extend(other.shards);
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
        let shards = if self.shard_count > 1 {
            let held: Vec<String> = self
                .shards
                .iter()
                .map(|k| format!("{k}/{}", self.shard_count))
                .collect();
            format!(" (shard {})", held.join(", "))
        } else {
            String::new()
        };
        let mut s = format!(
            "sweep: scenario {}, seeds {}{shards}, {} runs, {} events\n",
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

fn claim_name(c: Option<Claim>) -> &'static str {
    c.map_or("none", Claim::name)
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
        let group = if group.is_empty() { "(no group)" } else { &group };
        parts.push(format!("{group}: {}", members.join(" ")));
    }
    if !anomalies.is_empty() {
        parts.push(format!("anomalies: {}", anomalies.join(", ")));
    }
    parts.join("; ")
}

/// Summarises one seed of a prepared scenario, run within `limits`.
pub fn one(
    prepared: &Prepared<'_>,
    seed: u64,
    claim: Option<Claim>,
    limits: sim::Limits,
) -> Result<Summary, sim::Stuck> {
    // the outcome is read from group events alone: without a check, the per-record events
    // need not be kept
    let history = if claim.is_some() {
        History::Full
    } else {
        History::Summary
    };
    let r = prepared.run_bounded(seed, history, limits)?;
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
    Ok(summary)
}

/// The most seeds one sweep (or shard) runs: 10^9, days of CPU for the smallest scenario.
pub const MAX_SEEDS: u64 = 1_000_000_000;

/// How many seeds of `from..to` shard `k` of `n` holds (every n-th seed, starting at
/// `from + k`).
pub fn shard_len(from: u64, to: u64, shard: Option<(u64, u64)>) -> u64 {
    let (k, n) = shard.unwrap_or((0, 1));
    let span = to.saturating_sub(from);
    if span <= k {
        0
    } else {
        (span - k - 1) / n + 1
    }
}

/// The seeds of `from..to` in shard `k` of `n`, as a list (for small ranges and tests).
pub fn shard_seeds(from: u64, to: u64, shard: Option<(u64, u64)>) -> Vec<u64> {
    let (k, n) = shard.unwrap_or((0, 1));
    (0..shard_len(from, to, shard))
        .map(|i| from + k + i * n)
        .collect()
}

/// A seed whose run hit its limits, and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedStuck {
    /// The seed (the smallest of those that got stuck in the part of the sweep run).
    pub seed: u64,
    /// What the engine said.
    pub stuck: sim::Stuck,
}

impl std::fmt::Display for SeedStuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {}: {}", self.seed, self.stuck)
    }
}

/// What a sweep runs: a range of seeds, one shard of it, a claim, each run's limits.
#[derive(Copy, Clone, Debug)]
pub struct Plan {
    /// First seed.
    pub from: u64,
    /// One past the last seed.
    pub to: u64,
    /// `(K, N)`: every N-th seed from the K-th.
    pub shard: Option<(u64, u64)>,
    /// The claim each run is checked against, if any.
    pub claim: Option<Claim>,
    /// Each run's bounds.
    pub limits: sim::Limits,
}

/// Why a sweep gave no summary.
#[derive(Clone, Debug)]
pub enum SweepError {
    /// The scenario cannot run, or the worker threads cannot start.
    Setup(String),
    /// A run hit its limits.
    Stuck(SeedStuck),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::Setup(m) => f.write_str(m),
            SweepError::Stuck(s) => s.fmt(f),
        }
    }
}

/// Runs the sweep on `jobs` threads; `tick` is called after each run (for a progress bar).
/// A run that hits its limits fails the sweep, named by the smallest such seed (every seed
/// still runs, so that the seed named does not depend on the threads).
pub fn sweep(
    label: &str,
    scenario: &Scenario,
    plan: Plan,
    jobs: usize,
    tick: &(dyn Fn() + Sync),
) -> Result<Summary, SweepError> {
    let (k, n) = plan.shard.unwrap_or((0, 1));
    let count = shard_len(plan.from, plan.to, plan.shard);
    // checked, and everything that does not depend on the seed built, once
    let prepared = Prepared::new(scenario).map_err(|e| SweepError::Setup(RunError::from(e).to_string()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| SweepError::Setup(format!("cannot start {jobs} threads: {e}")))?;
    let total = pool.install(|| {
        (0..count)
            .into_par_iter()
            .map(|i| {
                let seed = plan.from + k + i * n;
                let s =
                    one(&prepared, seed, plan.claim, plan.limits).map_err(|stuck| SeedStuck { seed, stuck });
                tick();
                s
            })
            .reduce(
                || Ok(Summary::default()),
                |a, b| match (a, b) {
                    (Ok(mut a), Ok(b)) => {
                        a.merge(b);
                        Ok(a)
                    }
                    // the smallest stuck seed, whichever thread found it first
                    (Err(a), Err(b)) => Err(if a.seed <= b.seed { a } else { b }),
                    (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
                },
            )
    });
    let mut total = total.map_err(SweepError::Stuck)?;
    total.scenario = label.to_string();
    total.seeds = format!("{}..{}", plan.from, plan.to);
    total.claim = plan.claim;
    total.shard_count = n;
    total.shards = [k].into();
    Ok(total)
}
