//! Property suites over Kafka's guarantees: proptest generates scenarios and seeds, the
//! checker judges each run, and a failure is shrunk and written out as a replayable scenario.
//!
//! CI runs a fixed number of cases from a fixed proptest seed, so it is reproducible; set
//! `PROPTEST_CASES` to run more (e.g. `PROPTEST_CASES=1000 cargo test --test properties`).

use kafka_sim::replay;
use kafka_sim::strategy::{arb_replicated, arb_scenario, Case, Durability, ScenarioShape};
use models::check::{check, AnomalyKind, Claim, Report};
use models::consumer::CommitPolicy;
use models::history::Event;
use models::world::{run, Run};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

const SEED: [u8; 32] = *b"kafka-sim property suites seed!!";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn runner() -> TestRunner {
    let config = Config {
        cases: cases(),
        max_shrink_iters: 400,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED))
}

fn counterexample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("counterexamples")
}

/// Runs `property` over `shape`; on failure writes the shrunk case and panics with the
/// command that replays it.
fn holds(
    name: &str,
    shape: ScenarioShape,
    claim: Claim,
    property: impl Fn(&Run, &Report) -> Result<(), String>,
) {
    holds_over(name, arb_scenario(shape), claim, property)
}

/// [`holds`] over any strategy of cases.
fn holds_over(
    name: &str,
    cases: impl Strategy<Value = Case>,
    claim: Claim,
    property: impl Fn(&Run, &Report) -> Result<(), String>,
) {
    let result = runner().run(&cases, |case: Case| {
        let run = run(&case.scenario, case.seed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let report = check(&run.trace, claim);
        if let Some(a) = report.violations().next() {
            return Err(TestCaseError::fail(format!(
                "{}: {}",
                a.kind.name(),
                a.describe(&run.meta)
            )));
        }
        property(&run, &report).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            let ce = replay::write(&counterexample_dir(), name, &case.scenario, case.seed, claim).unwrap();
            panic!(
                "{name}: {reason}\nshrunk counterexample: {}\nreplay: {}",
                ce.path.display(),
                ce.command()
            );
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Every group consumed every appended record of its topics exactly once.
fn every_group_sees_every_record(run: &Run, _: &Report) -> Result<(), String> {
    let appended: BTreeSet<_> = run
        .trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Appended { tp, offset, .. } => Some((*tp, *offset)),
            _ => None,
        })
        .collect();
    let mut per_group: BTreeMap<String, BTreeMap<_, usize>> = BTreeMap::new();
    for e in run.trace.entries() {
        if let Event::Consumed {
            group, tp, offset, ..
        } = &e.record
        {
            *per_group
                .entry(group.to_string())
                .or_default()
                .entry((*tp, *offset))
                .or_default() += 1;
        }
    }
    let groups: BTreeSet<String> = run.clients.iter().filter_map(|c| c.group.clone()).collect();
    for g in groups {
        let seen = per_group.remove(&g).unwrap_or_default();
        let keys: BTreeSet<_> = seen.keys().copied().collect();
        if keys != appended {
            return Err(format!(
                "group {g} consumed {} of {} records",
                keys.len(),
                appended.len()
            ));
        }
        if let Some((r, n)) = seen.iter().find(|(_, n)| **n != 1) {
            return Err(format!("group {g} consumed {r:?} {n} times"));
        }
    }
    Ok(())
}

#[test]
fn stable_membership_consumes_every_record_exactly_once_per_group() {
    holds(
        "stable-exactly-once",
        ScenarioShape::stable(),
        Claim::ExactlyOncePerGroup,
        every_group_sees_every_record,
    );
}

fn in_order(_: &Run, report: &Report) -> Result<(), String> {
    for kind in [AnomalyKind::Nonmonotonic, AnomalyKind::Skip] {
        if report.count(kind) > 0 {
            return Err(format!("{} {}", report.count(kind), kind.name()));
        }
    }
    Ok(())
}

#[test]
fn per_partition_order_holds_for_every_consumer_even_with_crashes() {
    holds(
        "order",
        ScenarioShape::crashes(CommitPolicy::Auto),
        Claim::AtLeastOnce,
        in_order,
    );
}

#[test]
fn commit_after_processing_never_loses() {
    holds(
        "after-batch-no-loss",
        ScenarioShape::crashes(CommitPolicy::AfterBatch),
        Claim::AtLeastOnce,
        in_order,
    );
    holds(
        "after-record-no-loss",
        ScenarioShape::crashes(CommitPolicy::AfterRecord),
        Claim::AtLeastOnce,
        in_order,
    );
}

#[test]
fn commit_before_processing_never_duplicates() {
    holds(
        "before-processing-no-duplicates",
        ScenarioShape::crashes(CommitPolicy::BeforeProcessing),
        Claim::AtMostOnce,
        in_order,
    );
}

#[test]
fn auto_commit_never_loses_with_java_and_kafka_python() {
    holds(
        "auto-no-loss",
        ScenarioShape::crashes(CommitPolicy::Auto),
        Claim::AtLeastOnce,
        in_order,
    );
}

fn size(case: &Case) -> (usize, u32, usize) {
    let records: u32 = case
        .scenario
        .producers
        .iter()
        .filter_map(|p| p.generate.as_ref())
        .map(|g| g.count)
        .sum();
    (case.scenario.consumers.len(), records, case.scenario.faults.len())
}

/// The control: claiming exactly-once under auto-commit with crashes is false, proptest must
/// find a counterexample and shrink it, and the written counterexample must replay through
/// the CLI with the same anomaly. This proves the checker — and the suites above — can fail.
#[test]
fn control_exactly_once_under_autocommit_crashes_is_refuted_and_shrunk() {
    let first_failure = std::cell::RefCell::new(None::<Case>);
    let result = runner().run(
        &arb_scenario(ScenarioShape::crashes(CommitPolicy::Auto)),
        |case: Case| {
            let r = run(&case.scenario, case.seed).unwrap();
            if check(&r.trace, Claim::ExactlyOncePerGroup).passed() {
                Ok(())
            } else {
                first_failure.borrow_mut().get_or_insert(case);
                Err(TestCaseError::fail("duplicates"))
            }
        },
    );
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("proptest found no counterexample to exactly-once under crashes: {result:?}");
    };
    let first = first_failure.into_inner().expect("a first failure");
    let (fc, fr, ff) = size(&first);
    let (mc, mr, mf) = size(&minimal);
    assert!(
        mc <= fc && mr <= fr && mf <= ff,
        "shrinking never grows: {:?} -> {:?}",
        size(&first),
        size(&minimal)
    );
    assert!(
        (mc, mr, mf) < (fc, fr, ff) || mr <= 2,
        "shrunk: {:?} -> {:?}",
        size(&first),
        size(&minimal)
    );
    assert_eq!(mf, 1, "one crash is enough");
    // the minimal case still fails, with duplicates
    let r = run(&minimal.scenario, minimal.seed).unwrap();
    let report = check(&r.trace, Claim::ExactlyOncePerGroup);
    assert!(report.count(AnomalyKind::Duplicate) > 0);
    // written out and replayed through the CLI: same verdict, same anomaly
    let ce = replay::write(
        &counterexample_dir(),
        "control",
        &minimal.scenario,
        minimal.seed,
        Claim::ExactlyOncePerGroup,
    )
    .unwrap();
    assert!(ce.command().starts_with("kafka-sim --scenario "));
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "--scenario",
            ce.path.to_str().unwrap(),
            "--seed",
            &minimal.seed.to_string(),
            "--check",
            "--expect",
            "exactly-once-per-group",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let dup_line = table.lines().find(|l| l.starts_with("duplicate")).unwrap();
    assert!(
        dup_line.contains(&format!(" {} ", report.count(AnomalyKind::Duplicate))),
        "{dup_line}"
    );
    assert!(table.contains("verdict: FAIL"));
}

/// The librdkafka profile's auto-commit commits the offset of the record the application
/// holds: a crash while processing it loses it. proptest must find that too.
#[test]
fn control_librdkafka_autocommit_can_lose_the_record_in_hand() {
    let mut shape = ScenarioShape::crashes(CommitPolicy::Auto);
    shape.profiles = vec![models::config::Profile::Librdkafka];
    // the window is "a timer commit landed while this record was in hand, and the crash came
    // before it was done": long processing times make it wide enough to find
    shape.max_processing_ms = 1_500;
    let result = runner().run(&arb_scenario(shape), |case: Case| {
        let r = run(&case.scenario, case.seed).unwrap();
        let report = check(&r.trace, Claim::AtLeastOnce);
        if report.count(AnomalyKind::Lost) > 0 {
            Err(TestCaseError::fail("lost"))
        } else {
            Ok(())
        }
    });
    assert!(
        matches!(result, Err(TestError::Fail(..))),
        "no loss found: {result:?}"
    );
}

/// The strategies exercise what the suites rely on: a suite over scenarios that never crash,
/// or never share a group, would pass without proving anything.
#[test]
fn strategies_exercise_crashes_rebalances_and_shared_groups() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = runner();
    let sample = |shape: ScenarioShape, runner: &mut TestRunner| -> Vec<Run> {
        let strategy = arb_scenario(shape);
        (0..60)
            .map(|_| {
                let case = strategy.new_tree(runner).unwrap().current();
                run(&case.scenario, case.seed).unwrap()
            })
            .collect()
    };
    let crashy = sample(ScenarioShape::crashes(CommitPolicy::Auto), &mut runner);
    let crashed = crashy
        .iter()
        .filter(|r| {
            r.trace
                .entries()
                .iter()
                .any(|e| matches!(e.record, Event::Crashed))
        })
        .count();
    let duplicated = crashy
        .iter()
        .filter(|r| check(&r.trace, Claim::AtLeastOnce).count(AnomalyKind::Duplicate) > 0)
        .count();
    let rebalanced = crashy
        .iter()
        .filter(|r| {
            r.trace
                .entries()
                .iter()
                .filter(|e| matches!(e.record, Event::GenerationStarted { .. }))
                .count()
                >= 3
        })
        .count();
    assert!(crashed >= 30, "{crashed}/60 crash");
    assert!(duplicated >= 10, "{duplicated}/60 show duplicates");
    assert!(
        rebalanced >= 20,
        "{rebalanced}/60 rebalance at least twice after forming"
    );
    let stable = sample(ScenarioShape::stable(), &mut runner);
    let shared = stable
        .iter()
        .filter(|r| {
            let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
            for c in &r.clients {
                if let Some(g) = &c.group {
                    *per_group.entry(g).or_default() += 1;
                }
            }
            per_group.values().any(|n| *n >= 2)
        })
        .count();
    let consumed_all = stable
        .iter()
        .filter(|r| every_group_sees_every_record(r, &check(&r.trace, Claim::AtLeastOnce)).is_ok())
        .count();
    assert!(shared >= 30, "{shared}/60 have a group of two or more");
    assert_eq!(consumed_all, 60);
}

/// Kafka's documented durable configuration — RF 3, `min.insync.replicas=2`, acks=all,
/// idempotence — keeps every acknowledged write, once, at its offset, whatever up to two
/// brokers do (crash, crash and restart, cut off from the cluster, stall), and the group still
/// consumes every record at least once.
#[test]
fn durable_configuration_keeps_every_acknowledged_write_under_broker_faults() {
    holds_over(
        "replicated-durable",
        arb_replicated(Durability::safe()),
        Claim::AtLeastOnce,
        |run, _| {
            let acked = run
                .trace
                .entries()
                .iter()
                .filter(|e| matches!(e.record, Event::Produced { .. }))
                .count();
            if acked == 0 {
                return Err("nothing was acknowledged".into());
            }
            Ok(())
        },
    );
}

/// The control for the suite above: with acks=1 the same faults lose acknowledged writes;
/// proptest must find such a case and shrink it to one fault.
#[test]
fn control_acks_1_loses_acknowledged_writes_and_is_shrunk() {
    let result = runner().run(&arb_replicated(Durability::acks1()), |case: Case| {
        let r = run(&case.scenario, case.seed).unwrap();
        if check(&r.trace, Claim::AtLeastOnce).count(AnomalyKind::LostWrite) > 0 {
            Err(TestCaseError::fail("lost-write"))
        } else {
            Ok(())
        }
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("no acks=1 loss found: {result:?}");
    };
    assert_eq!(minimal.scenario.faults.len(), 1, "one fault is enough");
    let r = run(&minimal.scenario, minimal.seed).unwrap();
    assert!(check(&r.trace, Claim::AtLeastOnce).count(AnomalyKind::LostWrite) > 0);
}
