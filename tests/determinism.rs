//! Determinism is the product: the same scenario and seed give byte-identical output, in one
//! process and across processes.

use kafka_sim::load::builtin_scenario;
use kafka_sim::render;
use models::world::run;
use std::process::Command;

const DEMOS: [&str; 3] = ["demo1", "demo2", "demo3"];

#[test]
fn same_seed_same_bytes_in_process() {
    for name in DEMOS {
        let s = builtin_scenario(name).unwrap();
        for seed in 0..50 {
            let a = run(&s, seed).unwrap();
            let b = run(&s, seed).unwrap();
            assert_eq!(
                render::json_lines(&a),
                render::json_lines(&b),
                "{name} seed {seed}"
            );
            assert_eq!(render::text(&a), render::text(&b), "{name} seed {seed}");
        }
    }
}

#[test]
fn every_builtin_is_deterministic() {
    for name in kafka_sim::builtin::names() {
        let s = builtin_scenario(name).unwrap();
        for seed in [0, 9, 77] {
            let a = render::json_lines(&run(&s, seed).unwrap());
            let b = render::json_lines(&run(&s, seed).unwrap());
            assert_eq!(a, b, "{name} seed {seed}");
        }
    }
}

#[test]
fn seeds_change_the_interleaving() {
    let s = builtin_scenario("demo3").unwrap();
    let outputs: std::collections::BTreeSet<String> = (0..10)
        .map(|seed| render::json_lines(&run(&s, seed).unwrap()))
        .collect();
    assert_eq!(outputs.len(), 10, "ten seeds, ten different histories");
}

fn cli(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Two separate processes per (scenario, seed, format), compared byte for byte — and both
/// equal to the in-process rendering.
#[test]
fn same_seed_same_bytes_across_processes() {
    for name in DEMOS {
        let s = builtin_scenario(name).unwrap();
        for seed in [0u64, 1, 7, 42, 1234, u64::MAX] {
            let seed_s = seed.to_string();
            for format in ["text", "json"] {
                let args = ["--scenario", name, "--seed", &seed_s, "--format", format];
                let first = cli(&args);
                let second = cli(&args);
                assert_eq!(first, second, "{name} seed {seed} {format}");
                let r = run(&s, seed).unwrap();
                let here = if format == "text" {
                    render::text(&r)
                } else {
                    render::json_lines(&r)
                };
                assert_eq!(
                    first,
                    here.into_bytes(),
                    "{name} seed {seed} {format}: CLI vs library"
                );
            }
        }
    }
}

/// The replication scenarios (controller, elections, truncation, retries) across processes too.
#[test]
fn replication_scenarios_same_bytes_across_processes() {
    for name in ["acks1-leader-loss", "unclean-election", "coordinator-failover"] {
        for seed in [0u64, 9] {
            let seed_s = seed.to_string();
            let args = ["--scenario", name, "--seed", &seed_s, "--format", "json"];
            let first = cli(&args);
            assert_eq!(first, cli(&args), "{name} seed {seed}");
            let r = run(&builtin_scenario(name).unwrap(), seed).unwrap();
            assert_eq!(
                first,
                render::json_lines(&r).into_bytes(),
                "{name}: CLI vs library"
            );
        }
    }
}

/// The engine keeps no hidden state between runs in one process: interleaving runs of other
/// scenarios does not change a run's output.
#[test]
fn runs_do_not_leak_into_each_other() {
    let d2 = builtin_scenario("demo2").unwrap();
    let d3 = builtin_scenario("demo3").unwrap();
    let alone = render::json_lines(&run(&d2, 5).unwrap());
    let _ = run(&d3, 99).unwrap();
    let after = render::json_lines(&run(&d2, 5).unwrap());
    assert_eq!(alone, after);
}
