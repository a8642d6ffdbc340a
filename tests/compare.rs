//! The cross-check against real brokers (built with `--features rdkafka`): the same scenario
//! on the simulator and through real rdkafka clients against Apache Kafka (the broker
//! `scripts/kafka-broker.sh` starts; its address in `KAFKA_SIM_BROKER`) and against
//! librdkafka's in-process mock cluster.
#![cfg(feature = "rdkafka")]

use kafka_sim::adapter::{self, Options, Target};
use kafka_sim::compare::compare;
use kafka_sim::load::builtin_scenario;
use models::check::Claim;
use std::process::Command;

fn broker() -> Target {
    let addr = std::env::var("KAFKA_SIM_BROKER").expect(
        "the cross-check tests need a broker: run `scripts/kafka-broker.sh start` and set KAFKA_SIM_BROKER to the address it prints",
    );
    Target::Brokers(addr)
}

fn cross_check(name: &str, target: &Target, opts: &Options) -> kafka_sim::compare::Comparison {
    let s = builtin_scenario(name).unwrap();
    let sim = models::world::run(&s, 7).unwrap();
    let real =
        adapter::run(&s, 7, target, opts).unwrap_or_else(|e| panic!("{name} on {}: {e}", target.label()));
    compare(&sim, &real, Claim::AtLeastOnce, &target.label())
}

fn assert_matches(name: &str, target: &Target) {
    let c = cross_check(name, target, &Options::default());
    assert!(c.matches(), "{name} against {}:\n{}", target.label(), c.table);
}

#[test]
fn demos_match_apache_kafka() {
    for demo in ["demo1", "demo2", "demo3"] {
        assert_matches(demo, &broker());
    }
}

#[test]
fn rebalance_scenarios_match_apache_kafka() {
    for name in [
        "eager-scale-out",
        "scale-in",
        "roundrobin-two-topics",
        "cooperative-scale-out-librdkafka",
    ] {
        assert_matches(name, &broker());
    }
}

#[test]
fn demos_match_the_librdkafka_mock_cluster() {
    for demo in ["demo1", "demo2", "demo3"] {
        assert_matches(demo, &Target::Mock);
    }
}

/// The wrong partitioner profile on the real side: placement must be reported different.
#[test]
fn a_wrong_partitioner_is_reported() {
    let opts = Options {
        partitioner: Some("consistent_random".into()),
        ..Options::default()
    };
    let c = cross_check("demo3", &broker(), &opts);
    assert!(
        !c.placement,
        "CRC32 placement reported equal to murmur2's:\n{}",
        c.table
    );
    assert!(!c.matches());
    assert!(c.table.contains("<- differs"));
}

/// `kafka-sim compare` through the CLI: the acceptance line of the issue.
#[test]
fn cli_compare_demo3_seed_7() {
    let Target::Brokers(addr) = broker() else {
        unreachable!()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "compare",
            "--scenario",
            "demo3",
            "--seed",
            "7",
            "--brokers",
            &addr,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "placement: ok",
        "coverage: ok",
        "assignment: ok",
        "verdict: ok",
        "result: MATCH",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    // all five records, at the seed document's partitions and offsets, on both sides
    for (key, at) in [
        ("msg1_key", "demo3-1@0"),
        ("msg2_key", "demo3-0@0"),
        ("msg3_key", "demo3-1@1"),
        ("msg4_key", "demo3-0@1"),
        ("msg5_key", "demo3-3@0"),
    ] {
        let row = text.lines().find(|l| l.contains(&format!("key={key} "))).unwrap();
        assert_eq!(row.matches(at).count(), 2, "{row}");
    }
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "compare",
            "--scenario",
            "demo1",
            "--brokers",
            "127.0.0.1:9",
            "--connect-timeout",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot reach broker 127.0.0.1:9"), "{err}");
    assert!(start.elapsed().as_secs() < 20);
}

#[test]
fn faults_are_refused_not_faked() {
    let s = builtin_scenario("crash-autocommit").unwrap();
    match adapter::run(&s, 1, &Target::Mock, &Options::default()) {
        Err(adapter::AdapterError::Unsupported(msg)) => assert!(msg.contains("faults"), "{msg}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a scenario with faults ran against a real broker"),
    }
    // several brokers cannot be staged against one
    let mut s = builtin_scenario("demo2").unwrap();
    s.cluster.brokers = 3;
    match adapter::run(&s, 1, &Target::Mock, &Options::default()) {
        Err(adapter::AdapterError::Unsupported(msg)) => assert!(msg.contains("3 brokers"), "{msg}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a three-broker scenario ran against one broker"),
    }
}

#[test]
fn rebalance_scenarios_match_the_librdkafka_mock_cluster() {
    for name in [
        "eager-scale-out",
        "scale-in",
        "roundrobin-two-topics",
        "cooperative-scale-out-librdkafka",
    ] {
        assert_matches(name, &Target::Mock);
    }
}

/// The adapter's history in the public format, read back: `check --history`'s verdicts are
/// the simulator's under every claim.
#[test]
fn librdkafka_histories_check_like_the_simulator() {
    for name in ["demo3", "scale-in"] {
        let s = builtin_scenario(name).unwrap();
        let sim = models::world::run(&s, 7).unwrap();
        let real = adapter::run(&s, 7, &broker(), &Options::default()).unwrap();
        let path = std::env::temp_dir().join(format!(
            "kafka-sim-librdkafka-{name}-{}.jsonl",
            std::process::id()
        ));
        std::fs::write(&path, kafka_sim::render::json_lines(&real)).unwrap();
        for claim in Claim::ALL {
            let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
                .args([
                    "check",
                    "--history",
                    path.to_str().unwrap(),
                    "--expect",
                    claim.name(),
                ])
                .output()
                .unwrap();
            let want = if models::check::check(&sim.trace, claim).passed() {
                0
            } else {
                1
            };
            assert_eq!(
                out.status.code(),
                Some(want),
                "{name} {}: {}",
                claim.name(),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
