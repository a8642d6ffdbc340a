//! Exactly-once properties of transactional pipelines (KIP-98, KIP-447): proptest draws a
//! consume–transform–produce run — the `eos-pipeline` scenario with a drawn seed, a drawn
//! crash of a pipeline member (and its restart) and optionally a drawn broker crash — under
//! safe settings (acks=all, idempotence, read_committed), and the checker judges it.
//!
//! CI runs a fixed number of cases from a fixed proptest seed; `EOS_CASES=n` runs more
//! (`EOS_CASES=2000 cargo test --release --test eos_properties`). The controls must be
//! refuted: a read_uncommitted reader reads aborted records, and a pipeline that commits
//! its offsets outside the transaction writes some output twice.

use kafka_sim::load::builtin_scenario;
use models::check::{check, AnomalyKind, Claim};
use models::scenario::{FaultKind, FaultSpec, PipelineOffsets, Scenario};
use models::world::run;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

const SEED: [u8; 32] = *b"kafka-sim eos property suite !!!";

fn cases() -> u32 {
    std::env::var("EOS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        max_shrink_iters: 40,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED))
}

/// One drawn run: the seed, when pipeline-1 crashes and how long until it restarts, and a
/// broker crash (node, time) or none.
#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    crash_at: u64,
    restart_after: u64,
    broker: Option<(u32, u64)>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        0u64..1_000_000,
        3_500u64..7_000,
        500u64..4_000,
        proptest::option::of((1u32..=3, 3_500u64..8_000)),
    )
        .prop_map(|(seed, crash_at, restart_after, broker)| Case {
            seed,
            crash_at,
            restart_after,
            broker,
        })
}

/// The `eos-pipeline` scenario with the case's faults; `offsets` for both pipeline members.
fn scenario(case: &Case, offsets: PipelineOffsets) -> Scenario {
    let mut s = builtin_scenario("eos-pipeline").expect("built-in");
    s.faults = vec![FaultSpec {
        kind: FaultKind::Crash,
        client: "pipeline-1".into(),
        at_ms: Some(case.crash_at),
        restart_after_ms: Some(case.restart_after),
        ..FaultSpec::default()
    }];
    if let Some((node, at)) = case.broker {
        s.faults.push(FaultSpec {
            kind: FaultKind::Crash,
            client: format!("broker-{node}"),
            at_ms: Some(at),
            restart_after_ms: Some(20_000),
            ..FaultSpec::default()
        });
    }
    if offsets == PipelineOffsets::Outside {
        // a slow group coordinator widens the window between the two commits
        s.faults.push(FaultSpec {
            kind: FaultKind::Delay,
            api: Some(models::protocol::ApiKey::OffsetCommit),
            delay_ms: Some(400),
            at_ms: Some(0),
            duration_ms: Some(60_000),
            ..FaultSpec::default()
        });
    }
    for c in &mut s.consumers {
        if let Some(p) = &mut c.pipeline {
            p.offsets = offsets;
        }
    }
    s.stop.at_ms = Some(80_000);
    s
}

/// The anomalies of `kind` a run of `case` shows in group `group` (every group: `None`).
fn count(case: &Case, offsets: PipelineOffsets, kind: AnomalyKind, group: Option<&str>) -> usize {
    let run = run(&scenario(case, offsets), case.seed).expect("runs");
    let report = check(&run.trace, Claim::ExactlyOncePipeline);
    report
        .anomalies
        .iter()
        .filter(|a| a.kind == kind && group.is_none_or(|g| a.group.as_deref() == Some(g)))
        .count()
}

#[test]
fn exactly_once_pipeline_holds_for_read_committed_readers() {
    let n = cases();
    let result = runner(n).run(&arb_case(), |case| {
        let run = run(&scenario(&case, PipelineOffsets::Transaction), case.seed).expect("runs");
        let report = check(&run.trace, Claim::ExactlyOncePipeline);
        // the raw group reads uncommitted on purpose: everything else must hold
        let bad: Vec<_> = report
            .anomalies
            .iter()
            .filter(|a| a.group.as_deref() != Some("raw") && !Claim::ExactlyOncePipeline.allows(a.kind))
            .collect();
        prop_assert!(bad.is_empty(), "{case:?}: {bad:?}");
        let audit = run
            .trace
            .entries()
            .iter()
            .filter(|e| {
                matches!(&e.record, models::history::Event::Consumed { group, .. } if &**group == "audit")
            })
            .count();
        prop_assert_eq!(audit, 200, "{:?}: the audit reader reads every input once", case);
        Ok(())
    });
    result.unwrap();
    eprintln!("exactly-once-pipeline held over {n} generated runs");
}

/// Cases proptest may draw to refute a control. The outside-offsets control's duplicate
/// output came, in the runs tried by hand, only with a broker crash as well as a pipeline
/// crash between the two commits; with batching's timing the fixed proptest seed draws no
/// such case within 64.
const CONTROL_CASES: u32 = 256;

/// The control `kind` in `group` is found by proptest and shrunk.
fn refuted(offsets: PipelineOffsets, kind: AnomalyKind, group: Option<&'static str>) -> Case {
    let result = runner(CONTROL_CASES).run(&arb_case(), |case| {
        prop_assert_eq!(count(&case, offsets, kind, group), 0, "{:?}", case);
        Ok(())
    });
    match result {
        Err(TestError::Fail(_, shrunk)) => shrunk,
        other => panic!("the control was not refuted: {other:?}"),
    }
}

#[test]
fn a_read_uncommitted_reader_reads_aborted_records() {
    let case = refuted(
        PipelineOffsets::Transaction,
        AnomalyKind::AbortedRead,
        Some("raw"),
    );
    assert!(
        count(
            &case,
            PipelineOffsets::Transaction,
            AnomalyKind::AbortedRead,
            Some("raw")
        ) > 0
    );
    // the read_committed reader of the same run does not
    assert_eq!(
        count(
            &case,
            PipelineOffsets::Transaction,
            AnomalyKind::AbortedRead,
            Some("audit")
        ),
        0
    );
}

#[test]
fn offsets_committed_outside_the_transaction_duplicate_output() {
    let case = refuted(PipelineOffsets::Outside, AnomalyKind::DuplicateOutput, None);
    assert!(
        count(
            &case,
            PipelineOffsets::Outside,
            AnomalyKind::DuplicateOutput,
            None
        ) > 0
    );
    // the same faults with the offsets in the transaction write each input once
    assert_eq!(
        count(
            &case,
            PipelineOffsets::Transaction,
            AnomalyKind::DuplicateOutput,
            None
        ),
        0
    );
}
