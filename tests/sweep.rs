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

/// Shards given twice, shards of different splits and missing shards are refused with the
/// shard named; a summary says which shard it holds.
#[test]
fn merging_refuses_overlaps_and_names_missing_shards() {
    let shard = |spec: &str| {
        let (code, json) = kafka_sim(&[
            "sweep",
            "--scenario",
            "demo1",
            "--seeds",
            "0..12",
            "--shard",
            spec,
            "--format",
            "json",
        ]);
        assert_eq!(code, 0);
        let f = dir().join(format!("demo1-{}.json", spec.replace('/', "of")));
        std::fs::write(&f, json).unwrap();
        f.to_string_lossy().into_owned()
    };
    let (s0of2, s1of2, s0of3) = (shard("0/2"), shard("1/2"), shard("0/3"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&s1of2).unwrap()).unwrap();
    assert_eq!(json["seeds"], "0..12");
    assert_eq!(json["shard_count"], 2);
    assert_eq!(json["shards"], serde_json::json!([1]));
    let (code, text) = kafka_sim(&[
        "sweep",
        "--scenario",
        "demo1",
        "--seeds",
        "0..12",
        "--shard",
        "1/2",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("sweep: scenario demo1, seeds 0..12 (shard 1/2), 6 runs"),
        "{text}"
    );
    let merge_err = |files: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
            .arg("sweep-merge")
            .args(files)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{files:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    assert!(merge_err(&[&s0of2, &s0of2]).contains("shard 0/2 is given twice"));
    assert!(merge_err(&[&s0of2, &s0of3]).contains("a shard of 3 where the others are shards of 2"));
    assert!(merge_err(&[&s0of2]).contains("shards missing: 1/2"));
    let (code, whole) = kafka_sim(&["sweep-merge", &s1of2, &s0of2]);
    assert_eq!(code, 0);
    assert_eq!(
        whole,
        kafka_sim(&["sweep", "--scenario", "demo1", "--seeds", "0..12"]).1
    );
}

#[test]
fn shard_lengths_are_counted_without_listing_the_seeds() {
    use kafka_sim::sweep::{shard_len, shard_seeds};
    for (from, to) in [(0, 10), (5, 6), (3, 17)] {
        for n in 1..5 {
            for k in 0..n {
                let listed: Vec<u64> = (from..to).filter(|s| (s - from) % n == k).collect();
                assert_eq!(shard_seeds(from, to, Some((k, n))), listed);
                assert_eq!(shard_len(from, to, Some((k, n))), listed.len() as u64);
            }
        }
    }
    assert_eq!(shard_len(0, u64::MAX, None), u64::MAX);
}

/// Every variable `--shard env` reads, removed from each child's environment so the test
/// does not depend on the CI service it runs on.
const SHARD_VARS: [&str; 14] = [
    "KAFKA_SIM_SHARD_INDEX",
    "KAFKA_SIM_SHARD_COUNT",
    "JOB_COMPLETION_INDEX",
    "JOB_COMPLETIONS",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
];

fn sweep_with_env(args: &[&str], vars: &[(String, String)]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-sim"));
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for v in SHARD_VARS {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    cmd.spawn().unwrap()
}

/// The shards of a batch system, each its own process started at once with only that
/// system's variables set (as a Kubernetes Indexed Job, a Slurm array or a CI matrix starts
/// them), merged by `sweep-merge` into exactly the summary of the sweep on one machine.
#[test]
fn shards_named_by_the_environment_merge_into_the_one_machine_summary() {
    let sweep = [
        "sweep",
        "--scenario",
        "demo3",
        "--seeds",
        "0..60",
        "--check",
        "--jobs",
        "1",
    ];
    let (code, whole) = kafka_sim(&sweep);
    assert_eq!(code, 0, "{whole}");
    type Env = fn(u64) -> Vec<(&'static str, String)>;
    let systems: [(&str, u64, Env); 4] = [
        ("kubernetes", 4, |i| {
            vec![
                ("JOB_COMPLETION_INDEX", i.to_string()),
                ("JOB_COMPLETIONS", "4".into()),
            ]
        }),
        ("slurm", 3, |i| {
            vec![
                ("SLURM_ARRAY_TASK_ID", (i + 1).to_string()),
                ("SLURM_ARRAY_TASK_MIN", "1".into()),
                ("SLURM_ARRAY_TASK_COUNT", "3".into()),
            ]
        }),
        ("gitlab", 2, |i| {
            vec![
                ("CI_NODE_INDEX", (i + 1).to_string()),
                ("CI_NODE_TOTAL", "2".into()),
            ]
        }),
        ("matrix", 5, |i| {
            vec![
                ("KAFKA_SIM_SHARD_INDEX", i.to_string()),
                ("KAFKA_SIM_SHARD_COUNT", "5".into()),
            ]
        }),
    ];
    for (system, count, vars) in systems {
        let mut args = sweep.to_vec();
        args.extend(["--shard", "env", "--format", "json"]);
        let children: Vec<_> = (0..count)
            .map(|i| {
                let env: Vec<(String, String)> =
                    vars(i).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                sweep_with_env(&args, &env)
            })
            .collect();
        let mut files = Vec::new();
        for (i, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{system} shard {i}: {stderr}");
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(json["shard_count"], count, "{system} shard {i}");
            assert_eq!(json["shards"], serde_json::json!([i]), "{system} shard {i}");
            let f = dir().join(format!("env-{system}-{i}.json"));
            std::fs::write(&f, &out.stdout).unwrap();
            files.push(f.to_string_lossy().into_owned());
        }
        let mut merge = vec!["sweep-merge"];
        merge.extend(files.iter().map(String::as_str));
        assert_eq!(
            kafka_sim(&merge),
            (0, whole.clone()),
            "{system}: merged shards differ"
        );
    }
}

/// `--shard env` with no shard, or a broken one, in the environment: one line, exit 2.
#[test]
fn a_missing_or_broken_environment_shard_is_refused() {
    let run = |vars: &[(&str, &str)]| {
        let env: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let out = sweep_with_env(
            &[
                "sweep",
                "--scenario",
                "demo1",
                "--seeds",
                "0..4",
                "--shard",
                "env",
            ],
            &env,
        )
        .wait_with_output()
        .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no shard in the environment"), "{err}");
    let (code, err) = run(&[("JOB_COMPLETION_INDEX", "4"), ("JOB_COMPLETIONS", "4")]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("JOB_COMPLETION_INDEX=4 is outside the 4 shards"),
        "{err}"
    );
}
