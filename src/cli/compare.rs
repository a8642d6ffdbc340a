//! `kafka-sim compare`: a scenario on the simulator beside the same scenario run by real
//! clients (the rdkafka adapter, or a driver's client processes) or a recorded real history,
//! with the fault-free table, the transactions table or the per-row fault comparison.

use super::{fail, write_out};
use clap::Args;
use kafka_sim::{load, render};
use models::check::Claim;
use std::process::ExitCode;

/// What `compare` was asked.
#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    /// A built-in scenario or a path.
    #[arg(long, short)]
    scenario: String,
    /// The seed of the simulated run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `HOST:PORT` of a Kafka broker, or `mock` for librdkafka's in-process mock cluster.
    #[arg(long, required_unless_present = "real_history", default_value = "")]
    brokers: String,
    /// The claim both histories are checked against.
    #[arg(long, default_value = "at-least-once", value_parser = super::parse_claim)]
    expect: Claim,
    /// Override the real producers' partitioner (e.g. `consistent_random`).
    #[arg(long)]
    partitioner: Option<String>,
    /// Real seconds per virtual second for the pauses between client starts and sends
    /// (0 to 100).
    #[arg(long, default_value_t = 0.01, value_parser = super::parse_scale)]
    scale: f64,
    /// Seconds to wait for the broker to answer (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    connect_timeout: u64,
    /// The real clients: `librdkafka` (rdkafka, in this process; needs the rdkafka
    /// feature), `kafka-python` or `java` (one OS process per client,
    /// `scripts/drivers/`).
    #[arg(long, default_value = "librdkafka", value_parser = ["librdkafka", "kafka-python", "java"])]
    driver: String,
    /// Also write the real run's history (the JSON-lines format) to this file.
    #[arg(long)]
    history_out: Option<std::path::PathBuf>,
    /// Compare with this recorded history (a `--history-out` of an earlier run) instead of
    /// running the real clients; `--brokers` is then not used.
    #[arg(long)]
    real_history: Option<std::path::PathBuf>,
    /// The state directory of a three-node cluster (`scripts/kafka-cluster.sh dir`): broker
    /// faults are staged through it (`--driver kafka-python|java`).
    #[arg(long)]
    cluster: Option<std::path::PathBuf>,
}

pub(crate) fn compare(a: CompareArgs) -> ExitCode {
    let sc = match load::scenario(&a.scenario) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let sim_run = match models::world::run(&sc, a.seed) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", a.scenario)),
    };
    let real = match (&a.real_history, kafka_sim::driver::Driver::parse(&a.driver)) {
        (Some(path), _) => recorded(path),
        (None, Some(d)) => driven(&sc, d, &a),
        (None, None) => rdkafka_run(&sc, &a),
    };
    let (real, label, recorded) = match real {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(path) = &a.history_out {
        // a driver's history as it wrote it (its header says what recorded it)
        let text = recorded.unwrap_or_else(|| render::json_lines(&real));
        if let Err(e) = std::fs::write(path, text) {
            return fail(format!("{}: {e}", path.display()));
        }
    }
    let header = format!(
        "compare: scenario {}, simulator seed {} vs {label}\n\n",
        a.scenario, a.seed
    );
    let (table, matches) = if sc.faults.is_empty() {
        let c = kafka_sim::compare::compare(&sim_run, &real, a.expect, &label);
        let (mut table, mut matches) = (c.table.clone(), c.matches());
        if sc.has_transactions() {
            // offsets with markers, reads per isolation level, transactional group offsets
            use kafka_sim::txn_compare::{compare_txn, TxnOutcome};
            let t = compare_txn(&TxnOutcome::of(&sim_run), &TxnOutcome::of(&real), &label);
            table.push_str("\ntransactions\n");
            table.push_str(&t.table);
            matches &= t.matches();
        }
        (table, matches)
    } else {
        let c = kafka_sim::fault_compare::compare(&sc, &sim_run, &real, a.expect, &label);
        (c.table.clone(), c.matches())
    };
    let verdict = if matches { "MATCH" } else { "MISMATCH" };
    let code = write_out(&format!("{header}{table}\nresult: {verdict}\n"));
    if matches {
        code
    } else {
        ExitCode::from(1)
    }
}

/// A real run recorded earlier, labelled with its header's `recorded_by`.
fn recorded(path: &std::path::Path) -> Result<(models::world::Run, String, Option<String>), ExitCode> {
    let text = kafka_sim::history_file::read_text(path).map_err(fail)?;
    let run =
        kafka_sim::history_file::parse(&text).map_err(|e| fail(format!("{}: line {e}", path.display())))?;
    let header: serde_json::Value = text
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let label = header["recorded_by"]
        .as_str()
        .unwrap_or("the recorded run")
        .to_string();
    Ok((run, label, Some(text)))
}

/// The real run through a driver's client processes, read back from its history.
fn driven(
    sc: &models::scenario::Scenario,
    d: kafka_sim::driver::Driver,
    a: &CompareArgs,
) -> Result<(models::world::Run, String, Option<String>), ExitCode> {
    use kafka_sim::driver::{self, DriverError, Options};
    if a.brokers == "mock" {
        return Err(fail(
            "--brokers mock is librdkafka's mock cluster: use it with --driver librdkafka",
        ));
    }
    if a.partitioner.is_some() {
        return Err(fail(
            "--partitioner overrides rdkafka's partitioner: use it with --driver librdkafka",
        ));
    }
    let opts = Options {
        connect_timeout: std::time::Duration::from_secs(a.connect_timeout),
        scale: a.scale,
        cluster: a.cluster.clone(),
        ..Options::default()
    };
    let history = match driver::run(sc, a.seed, d, &a.brokers, &opts) {
        Ok(h) => h,
        Err(e @ (DriverError::Unreachable(_) | DriverError::Unsupported(_))) => return Err(fail(e)),
        Err(e) => return Err(fail(format!("the real run failed: {e}"))),
    };
    let run = kafka_sim::history_file::parse(&history).map_err(|e| {
        fail(format!(
            "the {} driver wrote a malformed history: line {e}",
            d.name()
        ))
    })?;
    Ok((run, format!("{} at {}", d.label(), a.brokers), Some(history)))
}

#[cfg(feature = "rdkafka")]
fn rdkafka_run(
    sc: &models::scenario::Scenario,
    a: &CompareArgs,
) -> Result<(models::world::Run, String, Option<String>), ExitCode> {
    use kafka_sim::adapter::{self, AdapterError, Options, Target};
    let target = Target::parse(&a.brokers);
    let opts = Options {
        connect_timeout: std::time::Duration::from_secs(a.connect_timeout),
        scale: a.scale,
        partitioner: a.partitioner.clone(),
        ..Options::default()
    };
    match adapter::run(sc, a.seed, &target, &opts) {
        Ok(r) => Ok((r, target.label(), None)),
        Err(e @ (AdapterError::Unreachable(_) | AdapterError::Unsupported(_))) => Err(fail(e)),
        Err(e) => Err(fail(format!("the real run failed: {e}"))),
    }
}

#[cfg(not(feature = "rdkafka"))]
fn rdkafka_run(
    _: &models::scenario::Scenario,
    _: &CompareArgs,
) -> Result<(models::world::Run, String, Option<String>), ExitCode> {
    Err(fail("--driver librdkafka needs a kafka-sim built with the rdkafka feature (`cargo build --release --features rdkafka`); --driver kafka-python and --driver java need no feature"))
}
