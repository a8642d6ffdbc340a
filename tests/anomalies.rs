//! Each anomaly kind a scenario can produce today, produced by one and named by the checker —
//! through the library and through `kafka-sim --check`. (The log-level kinds —
//! `inconsistent-offsets`, `log-duplicate`, `lost-write` — and a consumer's `skip` or
//! `nonmonotonic` need broker faults or client bugs the model does not have yet; the checker's
//! unit tests detect each of them on hand-built histories.)

mod common;

use common::*;
use models::check::{AnomalyKind, Claim};
use std::process::Command;

fn cli_check(scenario: &str, seed: u64, claim: Claim) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "--scenario",
            scenario,
            "--seed",
            &seed.to_string(),
            "--check",
            "--expect",
            claim.name(),
        ])
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn count_in_table(table: &str, kind: AnomalyKind) -> usize {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kind.name()))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn detected(scenario: &str, kind: AnomalyKind, violates: Claim) {
    let run = run_builtin(scenario, 3);
    let n = report(&run, violates).count(kind);
    assert!(n > 0, "{scenario}: no {}", kind.name());
    let (code, table) = cli_check(scenario, 3, violates);
    assert_eq!(count_in_table(&table, kind), n, "{table}");
    let allowed = violates.allows(kind);
    assert_eq!(code, if allowed { 0 } else { 1 }, "{table}");
}

#[test]
fn lost_from_commit_before_processing() {
    detected("commit-before-processing", AnomalyKind::Lost, Claim::AtLeastOnce);
}

#[test]
fn duplicate_from_an_autocommit_crash() {
    detected(
        "crash-autocommit",
        AnomalyKind::Duplicate,
        Claim::ExactlyOncePerGroup,
    );
}

#[test]
fn double_ownership_from_a_zombie_behind_a_network_cut() {
    detected(
        "network-cut",
        AnomalyKind::DoubleOwnership,
        Claim::ExactlyOncePerGroup,
    );
}

#[test]
fn unseen_when_the_only_member_crashed_for_good() {
    // a crash with no restart and no other member leaves the tail unseen, never lost
    let s = kafka_sim::load::parse_toml(
        "inline",
        r#"
[broker]
"group.initial.rebalance.delay.ms" = 0
[[topics]]
name = "t"
partitions = 1
[[producers]]
name = "p"
topic = "t"
start_ms = 5000
interval_ms = 10
generate = { count = 100 }
[[consumers]]
name = "c"
group = "g"
topics = ["t"]
processing_ms = 20
[[faults]]
kind = "crash"
client = "c"
at_ms = 5500
"#,
    )
    .unwrap();
    let run = models::world::run(&s, 1).unwrap();
    let r = report(&run, Claim::ExactlyOncePerGroup);
    assert!(r.count(AnomalyKind::Unseen) > 0);
    assert_eq!(r.count(AnomalyKind::Lost), 0);
    assert!(r.passed());
}
