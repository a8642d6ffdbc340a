//! Property tests over many seeds, in the manner of madsim's `MADSIM_TEST_SEED`: a property
//! (a closure that gets each seed's [`Run`] and may call the checker) runs under every seed
//! of a range; the first seed it fails under is written out as a scenario file, and the
//! failure names the seed, the file and the command that replays it.
//!
//! Which seeds run comes from the environment, so a failure found in CI replays alone:
//!
//! * `KAFKA_SIM_SEED=n` runs exactly seed `n`;
//! * `KAFKA_SIM_SEEDS=N` runs seeds `0..N`, and `KAFKA_SIM_SEEDS=A..B` seeds `A..B`;
//! * neither: the test's own count, from seed 0.
//!
//! Counterexample files go to `$KAFKA_SIM_COUNTEREXAMPLES`, else `target/counterexamples`
//! ([`crate::replay::default_dir`]).
//!
//! ```
//! use kafka_sim::models::check::Claim;
//! use kafka_sim::testing::{claim, Property};
//!
//! let scenario = kafka_sim::load::builtin_scenario("demo2").unwrap();
//! Property::new("demo2", &scenario)
//!     .seeds(3)
//!     .deterministic()
//!     .run(|run| claim(run, Claim::ExactlyOncePerGroup));
//! ```

use crate::replay;
use models::check::{check, Claim};
use models::scenario::Scenario;
use models::world::{Apps, History, Prepared, Run};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// The variable naming the one seed to run.
pub const SEED_VAR: &str = "KAFKA_SIM_SEED";

/// The variable naming how many seeds to run (`N`: `0..N`), or which (`A..B`).
pub const SEEDS_VAR: &str = "KAFKA_SIM_SEEDS";

/// The seeds to run, from the values of [`SEED_VAR`] and [`SEEDS_VAR`] (`None`: unset), or
/// `0..default_count`.
pub fn seeds_from(seed: Option<&str>, seeds: Option<&str>, default_count: u64) -> Result<Vec<u64>, String> {
    let number = |var: &str, s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{var}={s:?}: expected a number"))
    };
    if let Some(s) = seed {
        return Ok(vec![number(SEED_VAR, s)?]);
    }
    match seeds {
        None => Ok((0..default_count).collect()),
        Some(s) => match s.split_once("..") {
            Some((a, b)) => Ok((number(SEEDS_VAR, a)?..number(SEEDS_VAR, b)?).collect()),
            None => Ok((0..number(SEEDS_VAR, s)?).collect()),
        },
    }
}

/// The seeds to run, from the environment (see the module documentation); panics on a
/// malformed value.
pub fn seeds_from_env(default_count: u64) -> Vec<u64> {
    let seed = std::env::var(SEED_VAR).ok();
    let seeds = std::env::var(SEEDS_VAR).ok();
    seeds_from(seed.as_deref(), seeds.as_deref(), default_count).unwrap_or_else(|e| panic!("{e}"))
}

/// Checks `run` against `claim`: `Err` with the checker's verdict table when it fails.
pub fn claim(run: &Run, claim: Claim) -> Result<(), String> {
    let report = check(&run.trace, claim);
    if report.passed() {
        Ok(())
    } else {
        Err(format!(
            "the run violates {}:\n{}",
            claim.name(),
            report.table(&run.meta)
        ))
    }
}

/// Runs `scenario` under `seed` twice and compares the JSON lines byte for byte: `Err` names
/// the first line that differs.
pub fn deterministic(scenario: &Scenario, seed: u64) -> Result<(), String> {
    let prepared = Prepared::new(scenario).map_err(|e| e.to_string())?;
    same_twice(&prepared, seed, &Apps::new())
}

fn same_twice(prepared: &Prepared<'_>, seed: u64, apps: &Apps) -> Result<(), String> {
    let run = |seed| {
        prepared
            .run_with_apps(seed, History::Full, apps)
            .map(|r| crate::render::json_lines(&r))
            .map_err(|e| e.to_string())
    };
    let a = run(seed)?;
    let b = run(seed)?;
    if a == b {
        return Ok(());
    }
    let (line, (x, y)) = a
        .lines()
        .chain(std::iter::repeat(""))
        .zip(b.lines().chain(std::iter::repeat("")))
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .expect("the outputs differ");
    Err(format!(
        "not deterministic: two runs of seed {seed} differ at JSON line {}:\n  {x}\n  {y}",
        line + 1
    ))
}

/// A property that failed: under which seed, why, and how to replay it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The property's label.
    pub label: String,
    /// The first seed it failed under.
    pub seed: u64,
    /// What the property said (its `Err`, or its panic message).
    pub message: String,
    /// The counterexample scenario file, if it could be written.
    pub file: Option<PathBuf>,
    /// The command that replays the run and prints the checker's verdict.
    pub command: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property {} failed under seed {}: {}",
            self.label, self.seed, self.message
        )?;
        if let (Some(file), Some(command)) = (&self.file, &self.command) {
            writeln!(f, "counterexample: {}", file.display())?;
            writeln!(f, "replay: {command}")?;
        }
        write!(f, "run this seed alone: {SEED_VAR}={} cargo test …", self.seed)
    }
}

impl std::error::Error for Failure {}

/// A property over the seeds of one scenario; see the module documentation.
#[derive(Clone)]
#[must_use]
pub struct Property<'a> {
    label: String,
    scenario: &'a Scenario,
    apps: Apps,
    default_count: u64,
    seeds: Option<Vec<u64>>,
    claim: Option<Claim>,
    deterministic: bool,
    dir: Option<PathBuf>,
}

impl fmt::Debug for Property<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Property")
            .field("label", &self.label)
            .field("scenario", &self.scenario.name)
            .field("default_count", &self.default_count)
            .field("seeds", &self.seeds)
            .field("claim", &self.claim)
            .field("deterministic", &self.deterministic)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl<'a> Property<'a> {
    /// A property of `scenario`, called `label` (in messages and file names). By default it
    /// runs 100 seeds.
    pub fn new(label: impl Into<String>, scenario: &'a Scenario) -> Self {
        Property {
            label: label.into(),
            scenario,
            apps: Apps::new(),
            default_count: 100,
            seeds: None,
            claim: None,
            deterministic: false,
            dir: None,
        }
    }

    /// Runs the user's applications (consumer and producer apps, manual assignments) in
    /// every seed's run. The counterexample file then holds the scenario and seed; the CLI
    /// replays it with the built-in applications, so replay a failure of the user's own code
    /// with this property and `KAFKA_SIM_SEED` (the failure says so).
    pub fn apps(mut self, apps: Apps) -> Self {
        self.apps = apps;
        self
    }

    /// Runs seeds `0..count` unless the environment says otherwise.
    pub fn seeds(mut self, count: u64) -> Self {
        self.default_count = count;
        self
    }

    /// Runs exactly `seeds`, whatever the environment says.
    pub fn only_seeds(mut self, seeds: impl IntoIterator<Item = u64>) -> Self {
        self.seeds = Some(seeds.into_iter().collect());
        self
    }

    /// Names the claim the property checks, for the replay command's `--expect`.
    pub fn expect(mut self, claim: Claim) -> Self {
        self.claim = Some(claim);
        self
    }

    /// Also runs each seed a second time and requires byte-identical JSON lines.
    pub fn deterministic(mut self) -> Self {
        self.deterministic = true;
        self
    }

    /// Writes counterexamples into `dir` (default [`replay::default_dir`]).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Runs `property` under every seed, stopping at the first failure — an `Err` or a panic
    /// of the property, or a second run that differs. Returns the number of seeds run.
    pub fn try_run(&self, mut property: impl FnMut(&Run) -> Result<(), String>) -> Result<u64, Failure> {
        let seeds = match &self.seeds {
            Some(s) => s.clone(),
            None => seeds_from_env(self.default_count),
        };
        let prepared = Prepared::new(self.scenario).map_err(|e| Failure {
            label: self.label.clone(),
            seed: seeds.first().copied().unwrap_or(0),
            message: format!("the scenario does not validate: {e}"),
            file: None,
            command: None,
        })?;
        for &seed in &seeds {
            let run = match prepared.run_with_apps(seed, History::Full, &self.apps) {
                Ok(run) => run,
                Err(e) => {
                    return Err(self.failure(seed, format!("the applications do not fit the scenario: {e}")))
                }
            };
            let verdict = match catch_unwind(AssertUnwindSafe(|| property(&run))) {
                Ok(v) => v,
                Err(panic) => Err(panic_message(panic.as_ref())),
            };
            let verdict = verdict.and_then(|()| {
                if self.deterministic {
                    same_twice(&prepared, seed, &self.apps)
                } else {
                    Ok(())
                }
            });
            if let Err(message) = verdict {
                return Err(self.failure(seed, message));
            }
        }
        Ok(seeds.len() as u64)
    }

    /// Runs `property` like [`Property::try_run`] and panics with the [`Failure`] (seed,
    /// counterexample file, replay command) if it fails.
    pub fn run(&self, property: impl FnMut(&Run) -> Result<(), String>) {
        if let Err(f) = self.try_run(property) {
            panic!("{f}");
        }
    }

    fn failure(&self, seed: u64, message: String) -> Failure {
        let dir = self.dir.clone().unwrap_or_else(replay::default_dir);
        let what = format!(
            "A counterexample to the property {}: {}",
            self.label,
            first_line(&message)
        );
        let file = replay::write_file(&dir, &self.label, self.scenario, seed, &what, self.claim).ok();
        // the CLI runs the built-in applications: a run of the user's own code replays
        // through the property itself (KAFKA_SIM_SEED), which the message says
        let command = match self.apps.is_empty() {
            true => file.as_ref().map(|p| replay::command(p, seed, self.claim)),
            false => Some(format!(
                "{SEED_VAR}={seed} cargo test (the property runs the user's applications)"
            )),
        };
        Failure {
            label: self.label.clone(),
            seed,
            message,
            file,
            command,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}
