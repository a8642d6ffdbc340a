//! Replayable counterexamples: a failing case written out as a scenario file plus the exact
//! command that replays it.

use models::check::Claim;
use models::scenario::Scenario;
use std::path::{Path, PathBuf};

/// A written counterexample.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The scenario file.
    pub path: PathBuf,
    /// The seed.
    pub seed: u64,
    /// The claim it violates.
    pub claim: Claim,
}

impl Counterexample {
    /// The command that replays it and prints the verdict.
    pub fn command(&self) -> String {
        command(&self.path, self.seed, Some(self.claim))
    }
}

/// The command that replays the scenario file `path` under `seed` and prints the checker's
/// verdict (on `claim`, or the CLI's default claim).
pub fn command(path: &Path, seed: u64, claim: Option<Claim>) -> String {
    let mut s = format!("kafka-sim --scenario {} --seed {seed} --check", path.display());
    if let Some(claim) = claim {
        s.push_str(" --expect ");
        s.push_str(claim.name());
    }
    s
}

/// Writes `scenario` as TOML into `dir` (created if needed), named after `label` and the
/// seed, and returns where.
pub fn write(
    dir: &Path,
    label: &str,
    scenario: &Scenario,
    seed: u64,
    claim: Claim,
) -> std::io::Result<Counterexample> {
    let what = format!("A shrunk counterexample to the claim {}.", claim.name());
    let path = write_file(dir, label, scenario, seed, &what, Some(claim))?;
    Ok(Counterexample { path, seed, claim })
}

/// Writes `scenario` as TOML into `dir` (created if needed) as `<label>-seed<seed>.toml`,
/// headed by the comment `what` and the replay command, and returns its path.
pub fn write_file(
    dir: &Path,
    label: &str,
    scenario: &Scenario,
    seed: u64,
    what: &str,
    claim: Option<Claim>,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let text = toml::to_string(scenario).map_err(|e| std::io::Error::other(e.to_string()))?;
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let path = dir.join(format!("{safe}-seed{seed}.toml"));
    let header = format!("# {what}\n# Replay: {}\n\n", command(&path, seed, claim));
    std::fs::write(&path, header + &text)?;
    Ok(path)
}

/// Where counterexamples go: `$KAFKA_SIM_COUNTEREXAMPLES`, else `target/counterexamples`
/// under the current directory.
pub fn default_dir() -> PathBuf {
    std::env::var_os("KAFKA_SIM_COUNTEREXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target").join("counterexamples"))
}
