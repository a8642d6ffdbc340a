//! Sweeps: the summary does not depend on the number of threads, and merging shards gives
//! the summary of the whole sweep.

use std::process::Command;

fn kafka_sim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn dir() -> std::path::PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sweep-test");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn same_for_jobs_and_shards(scenario: &str, seeds: &str, extra: &[&str]) {
    let base = |more: &[&str]| {
        let mut a = vec!["sweep", "--scenario", scenario, "--seeds", seeds];
        a.extend_from_slice(extra);
        a.extend_from_slice(more);
        kafka_sim(&a)
    };
    let one = base(&["--jobs", "1"]);
    let two = base(&["--jobs", "2"]);
    assert_eq!(one, two, "{scenario}: --jobs 1 and --jobs 2 differ");
    let json_all = base(&["--jobs", "2", "--format", "json"]);
    let mut files = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let (code, json) = base(&["--jobs", "2", "--shard", &shard, "--format", "json"]);
        assert!(code == 0 || code == 1);
        let f = dir().join(format!("{scenario}-{k}.json"));
        std::fs::write(&f, json).unwrap();
        files.push(f.to_string_lossy().into_owned());
    }
    let mut merge = vec!["sweep-merge"];
    merge.extend(files.iter().map(String::as_str));
    assert_eq!(
        kafka_sim(&merge),
        one,
        "{scenario}: merged shards differ from the whole sweep"
    );
    merge.extend(["--format", "json"]);
    assert_eq!(kafka_sim(&merge), json_all, "{scenario}: merged JSON differs");
}

#[test]
fn demo3_summary_is_the_same_for_any_jobs_and_shards() {
    same_for_jobs_and_shards("demo3", "0..300", &[]);
    let (code, text) = kafka_sim(&["sweep", "--scenario", "demo3", "--seeds", "0..300"]);
    assert_eq!(code, 0);
    assert!(text.contains("300 runs"));
    assert!(text.contains("distinct outcomes: 2"), "{text}");
}

#[test]
fn violations_are_listed_with_replay_commands_and_merge() {
    same_for_jobs_and_shards(
        "crash-autocommit",
        "0..40",
        &["--check", "--expect", "exactly-once-per-group"],
    );
    let (code, text) = kafka_sim(&[
        "sweep",
        "--scenario",
        "crash-autocommit",
        "--seeds",
        "0..10",
        "--check",
        "--expect",
        "exactly-once-per-group",
    ]);
    assert_eq!(code, 1);
    assert!(text.contains("violated by 10 of 10 runs"), "{text}");
    assert!(text.contains(
        "replay: kafka-sim --scenario crash-autocommit --seed 3 --check --expect exactly-once-per-group"
    ));
    let (code, _) = kafka_sim(&[
        "sweep",
        "--scenario",
        "crash-autocommit",
        "--seeds",
        "0..10",
        "--check",
    ]);
    assert_eq!(code, 0, "at-least-once holds");
}

#[test]
fn bad_sweep_arguments() {
    for args in [
        vec!["sweep", "--scenario", "demo3", "--seeds", "5..5"],
        vec!["sweep", "--scenario", "demo3", "--seeds", "x..5"],
        vec![
            "sweep",
            "--scenario",
            "demo3",
            "--seeds",
            "0..5",
            "--shard",
            "3/3",
        ],
        vec!["sweep", "--scenario", "demo3", "--seeds", "0..5", "--jobs", "0"],
        vec!["sweep", "--scenario", "nope", "--seeds", "0..5"],
        vec!["sweep-merge", "/nonexistent/file.json"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
    }
}

#[test]
fn a_sweep_without_check_reads_the_same_outcome_from_the_summary_history() {
    // sweeps without --check keep only the group events; the outcome (final assignment) and
    // the event count must be those of the full history
    use models::world::{run_with, History};
    for name in ["rebalance-storm", "cooperative-scale-out", "coordinator-failover"] {
        let scenario = kafka_sim::load::builtin_scenario(name).unwrap();
        for seed in 0..4 {
            let full = run_with(&scenario, seed, History::Full).unwrap();
            let summary = run_with(&scenario, seed, History::Summary).unwrap();
            assert_eq!(full.events, summary.events, "{name} seed {seed}");
            assert!(summary.trace.len() < full.trace.len(), "{name} seed {seed}");
            let assignment = kafka_sim::sweep::final_assignment(&full);
            assert!(!assignment.is_empty(), "{name} seed {seed}");
            assert_eq!(
                assignment,
                kafka_sim::sweep::final_assignment(&summary),
                "{name} seed {seed}"
            );
        }
    }
}

/// The outcome's final assignment lists every member that was assigned, a crashed one with
/// nothing, and agrees with the ownerships still open at the end.
#[test]
fn final_assignment_keeps_crashed_members_with_nothing() {
    let scenario = kafka_sim::load::builtin_scenario("crash-autocommit").unwrap();
    let run = kafka_sim::models::world::run(&scenario, 0).unwrap();
    let end = kafka_sim::sweep::final_assignment(&run);
    let billing = &end["billing"];
    assert!(billing["consumer-1"].is_empty(), "{end:?}");
    let open: std::collections::BTreeSet<_> = kafka_sim::models::query::ownership(&run.trace)
        .into_iter()
        .filter(|o| o.end.is_none())
        .map(|o| (run.trace.name(o.client).to_string(), o.tp))
        .collect();
    let listed: std::collections::BTreeSet<_> = billing
        .iter()
        .flat_map(|(c, tps)| tps.iter().map(move |tp| (c.clone(), *tp)))
        .collect();
    assert_eq!(open, listed);
    assert_eq!(billing["consumer-2"].len(), 2);
}
