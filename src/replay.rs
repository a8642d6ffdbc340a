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
        format!(
            "kafka-sim --scenario {} --seed {} --check --expect {}",
            self.path.display(),
            self.seed,
            self.claim.name()
        )
    }
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
    let header = format!(
        "# A shrunk counterexample to the claim {}.\n# Replay: kafka-sim --scenario {} --seed {seed} --check --expect {}\n\n",
        claim.name(),
        path.display(),
        claim.name()
    );
    std::fs::write(&path, header + &text)?;
    Ok(Counterexample { path, seed, claim })
}

/// Where counterexamples go: `$KAFKA_SIM_COUNTEREXAMPLES`, else `target/counterexamples`
/// under the current directory.
pub fn default_dir() -> PathBuf {
    std::env::var_os("KAFKA_SIM_COUNTEREXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target").join("counterexamples"))
}
