//! Each anomaly kind a scenario can produce, produced by one and named by the checker —
//! through the library and through `kafka-sim --check`. The log-level kinds come from the
//! replication scenarios (a deposed leader, an unclean election, retries without idempotence);
//! a consumer's `nonmonotonic` from the reset after an unclean election took its position
//! away, and `skip` from retention deleting records before a slow consumer read them.

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
fn lost_write_from_a_deposed_acks_1_leader() {
    detected("acks1-leader-loss", AnomalyKind::LostWrite, Claim::AtMostOnce);
}

#[test]
fn lost_write_from_an_unclean_election() {
    detected("unclean-election", AnomalyKind::LostWrite, Claim::AtLeastOnce);
}

#[test]
fn inconsistent_offsets_when_a_new_leader_reuses_acknowledged_offsets() {
    detected(
        "acks1-leader-loss",
        AnomalyKind::InconsistentOffsets,
        Claim::AtLeastOnce,
    );
}

#[test]
fn log_duplicate_from_retries_without_idempotence() {
    detected("idempotent-retry", AnomalyKind::LogDuplicate, Claim::AtLeastOnce);
}

#[test]
fn nonmonotonic_when_an_unclean_election_resets_a_consumer_back() {
    detected("unclean-election", AnomalyKind::Nonmonotonic, Claim::AtLeastOnce);
}

#[test]
fn skip_when_retention_deletes_what_a_slow_consumer_had_not_read() {
    detected("retention-skip", AnomalyKind::Skip, Claim::AtMostOnce);
    // and the group lost those records
    let run = run_builtin("retention-skip", 3);
    assert!(report(&run, Claim::AtLeastOnce).count(AnomalyKind::Lost) > 0);
}

#[test]
fn every_anomaly_kind_has_a_scenario() {
    // each kind is produced by some built-in scenario (the tests above name which); `unseen`
    // by the inline scenario of the last test. Of the transactional kinds, `aborted-read` and
    // `uncommitted-read` come from the read_uncommitted readers of `eos-pipeline` and
    // `transaction-timeout`; the others are demonstrated by the checkers' unit tests and
    // the EOS property suite
    let mut seen = std::collections::BTreeSet::new();
    for name in kafka_sim::builtin::names() {
        let r = report(&run_builtin(name, 3), Claim::ExactlyOncePerGroup);
        for k in AnomalyKind::ALL {
            if r.count(k) > 0 {
                seen.insert(k);
            }
        }
    }
    let missing: Vec<_> = AnomalyKind::ALL
        .iter()
        .filter(|k| **k != AnomalyKind::Unseen && !AnomalyKind::TRANSACTIONAL.contains(k))
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(missing.is_empty(), "no scenario produces {missing:?}");
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
