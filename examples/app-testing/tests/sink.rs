//! The sink application over 1,000 seeds of crashes and rebalances: Kafka delivers records
//! again (the checker finds duplicates at the Kafka level), yet an idempotent sink holds
//! every record exactly once. The same application with an appending sink is refuted:
//! proptest finds a case, shrinks it, kafka-sim writes it out, and the file replays.

use app_testing::{scenario, sink_apps, Case, SinkKind, RECORDS};
use kafka_sim::models::check::{check, AnomalyKind, Claim};
use kafka_sim::models::world::{run_with_apps, Prepared};
use kafka_sim::testing::{seeds_from_env, Property};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

#[test]
fn an_idempotent_sink_is_exactly_once_while_kafka_delivers_twice() {
    let case = Case::default();
    let s = scenario(case).expect("valid");
    let prepared = Prepared::new(&s).expect("valid");
    let seeds = seeds_from_env(1_000);
    let mut redelivered = 0;
    for &seed in &seeds {
        let (apps, sink) = sink_apps(case.every, SinkKind::Idempotent);
        let run = prepared
            .run_with_apps(seed, Default::default(), &apps)
            .expect("the apps fit");
        let report = check(&run.trace, Claim::AtLeastOnce);
        assert!(
            report.passed(),
            "seed {seed}: Kafka lost records\n{}",
            report.table(&run.meta)
        );
        if report.count(AnomalyKind::Duplicate) > 0 {
            redelivered += 1;
        }
        let sink = sink.lock().unwrap();
        assert_eq!(sink.duplicates(), Vec::<String>::new(), "seed {seed}");
        assert_eq!(sink.keys(), RECORDS as usize, "seed {seed}: every record, once");
    }
    // the crashes do make Kafka deliver again: the sink's idempotence is what holds
    eprintln!(
        "{redelivered} of {} seeds had Kafka-level duplicates; the sink none",
        seeds.len()
    );
    assert!(
        redelivered * 4 >= seeds.len(),
        "only {redelivered} of {} seeds redelivered anything",
        seeds.len()
    );
}

/// Whether an appending sink ends with each record once, for one case and seed.
fn appending_sink_is_exactly_once(every: u32, from: u64, seed: u64) -> Result<(), String> {
    let case = Case {
        every,
        crash_between_ms: [from, from + 500],
    };
    let s = scenario(case).map_err(|e| e.to_string())?;
    let (apps, sink) = sink_apps(every, SinkKind::Appending);
    run_with_apps(&s, seed, &apps).map_err(|e| e.to_string())?;
    let dups = sink.lock().unwrap().duplicates();
    match dups.is_empty() {
        true => Ok(()),
        false => Err(format!("{} records written twice, e.g. {}", dups.len(), dups[0])),
    }
}

#[test]
fn an_appending_sink_is_refuted_shrunk_and_replayed() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (1u32..60, 5_200u64..9_000, 0u64..1_000);
    let outcome = runner.run(&strategy, |(every, from, seed)| {
        appending_sink_is_exactly_once(every, from, seed).map_err(TestCaseError::fail)
    });
    let (every, from, seed) = match outcome {
        Err(TestError::Fail(_, minimal)) => minimal,
        other => panic!("an appending sink must be refuted, got {other:?}"),
    };
    eprintln!("minimal counterexample: every = {every}, crash from {from} ms, seed {seed}");
    // shrunk: the smallest commit interval that still shows it is small
    assert!(every <= 10, "shrunk to every = {every}");
    // kafka-sim writes the counterexample and names the seed
    let case = Case {
        every,
        crash_between_ms: [from, from + 500],
    };
    let s = scenario(case).expect("valid");
    let dir = std::env::temp_dir().join(format!("app-testing-{}", std::process::id()));
    let (apps, sink) = sink_apps(every, SinkKind::Appending);
    let failure = Property::new("appending-sink", &s)
        .apps(apps)
        .only_seeds([seed])
        .dir(&dir)
        .try_run(|_| {
            let dups = sink.lock().unwrap().duplicates();
            match dups.is_empty() {
                true => Ok(()),
                false => Err(format!("{} records written twice", dups.len())),
            }
        })
        .expect_err("the same case fails under kafka-sim's property runner");
    assert_eq!(failure.seed, seed);
    let file = failure.file.clone().expect("a counterexample file");
    assert!(failure.to_string().contains(&format!("KAFKA_SIM_SEED={seed}")));
    // the file replays: loaded back, the same seed gives the same duplicates
    let replayed = kafka_sim::load::scenario(file.to_str().unwrap()).expect("the file loads");
    let (apps, sink) = sink_apps(every, SinkKind::Appending);
    run_with_apps(&replayed, seed, &apps).expect("runs");
    assert!(
        !sink.lock().unwrap().duplicates().is_empty(),
        "replayed: {}",
        file.display()
    );
    let _ = std::fs::remove_dir_all(dir);
}
