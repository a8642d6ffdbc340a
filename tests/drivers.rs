//! The real-client drivers against Apache Kafka (the broker `scripts/kafka-broker.sh`
//! starts; its address in `KAFKA_SIM_BROKER`): the seed demos and the rebalance scenarios
//! run by kafka-python 3.0.12 and by Java's kafka-clients 4.4.0, one OS process per client,
//! compared with the simulator; and `kafka-sim check --history` on what each driver
//! recorded gives the simulator's verdict. Without `KAFKA_SIM_BROKER` every test says it is
//! skipped and passes (`scripts/test.sh` sets it).

use kafka_sim::compare::compare;
use kafka_sim::driver::{self, Driver, Options};
use kafka_sim::load::builtin_scenario;
use models::check::{check, Claim};
use std::process::Command;

/// One real run per driver at a time: the clients of more runs at once compete for the
/// machine's cores, and their timing (when groups form) is what the runs measure.
static KAFKA_PYTHON: std::sync::Mutex<()> = std::sync::Mutex::new(());
static JAVA: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time(d: Driver) -> std::sync::MutexGuard<'static, ()> {
    let m = match d {
        Driver::KafkaPython => &KAFKA_PYTHON,
        Driver::Java => &JAVA,
    };
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn broker(test: &str) -> Option<String> {
    let b = std::env::var("KAFKA_SIM_BROKER").ok();
    if b.is_none() {
        eprintln!("{test}: skipped: KAFKA_SIM_BROKER is not set (scripts/kafka-broker.sh start prints a broker's address)");
    }
    b
}

/// Runs `name` through `driver`, compares it with the simulator's seed 7, and re-checks the
/// recorded history through the CLI: its verdict must be the simulator's.
fn matches(name: &str, d: Driver, broker: &str) {
    let _one = one_at_a_time(d);
    let s = builtin_scenario(name).unwrap();
    let sim = models::world::run(&s, 7).unwrap();
    // a kafka-python consumer now and then gets no partitions for more than a minute (README,
    // "Known differences"): such a run is tried once more, and said so
    let history = match driver::run(&s, 7, d, broker, &Options::default()) {
        Err(driver::DriverError::Failed(e)) if e.contains("did not settle") => {
            eprintln!("{name} with {}: {e}; running it once more", d.name());
            driver::run(&s, 7, d, broker, &Options::default())
        }
        r => r,
    }
    .unwrap_or_else(|e| panic!("{name} with {}: {e}", d.name()));
    let real = kafka_sim::history_file::parse(&history)
        .unwrap_or_else(|e| panic!("{name} with {}: line {e}", d.name()));
    let c = compare(&sim, &real, Claim::AtLeastOnce, d.label());
    assert!(c.matches(), "{name} with {}:\n{}", d.name(), c.table);
    let dir = std::env::temp_dir().join(format!("kafka-sim-drivers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.jsonl", d.name()));
    std::fs::write(&path, &history).unwrap();
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
        let want = if check(&sim.trace, claim).passed() { 0 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{name} with {}, {}: {}",
            d.name(),
            claim.name(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

const DEMOS: [&str; 3] = ["demo1", "demo2", "demo3"];
/// The rebalance scenarios `tests/compare.rs` runs with librdkafka, with
/// `cooperative-scale-out` (Java's sticky assignor: the adapter's librdkafka clients differ
/// there) instead of `cooperative-scale-out-librdkafka`, whose clients are librdkafka's
/// (its producer partitions by CRC32, which neither driver's client does; README, "Known
/// differences").
const REBALANCE: [&str; 4] = [
    "eager-scale-out",
    "scale-in",
    "roundrobin-two-topics",
    "cooperative-scale-out",
];

#[test]
fn demos_match_kafka_python() {
    let Some(b) = broker("demos_match_kafka_python") else {
        return;
    };
    for demo in DEMOS {
        matches(demo, Driver::KafkaPython, &b);
    }
}

#[test]
fn rebalance_scenarios_match_kafka_python() {
    let Some(b) = broker("rebalance_scenarios_match_kafka_python") else {
        return;
    };
    for name in REBALANCE {
        matches(name, Driver::KafkaPython, &b);
    }
}

#[test]
fn demos_match_java() {
    let Some(b) = broker("demos_match_java") else {
        return;
    };
    for demo in DEMOS {
        matches(demo, Driver::Java, &b);
    }
}

#[test]
fn rebalance_scenarios_match_java() {
    let Some(b) = broker("rebalance_scenarios_match_java") else {
        return;
    };
    for name in REBALANCE {
        matches(name, Driver::Java, &b);
    }
}

/// A KIP-848 group must stay whole past a heartbeat interval before a driver moves on; a
/// classic group half a second.
#[test]
fn kip848_groups_wait_a_heartbeat_to_settle() {
    use kafka_sim::compare::settle_quiet;
    let quiet = |n| settle_quiet(&builtin_scenario(n).unwrap()).as_millis();
    assert_eq!(quiet("kip848-scale-out"), 5_500);
    assert_eq!(quiet("demo3"), 500);
    assert_eq!(quiet("cooperative-scale-out"), 500);
}

/// The KIP-848 consumer protocol with Java's client (kafka-python has none): a third member
/// joins and is handed partitions one by one as their owners revoke them on their next
/// heartbeats; the real run must be followed until that reconciliation ends.
#[test]
fn kip848_scale_out_matches_java() {
    let Some(b) = broker("kip848_scale_out_matches_java") else {
        return;
    };
    matches("kip848-scale-out", Driver::Java, &b);
}

/// `kafka-sim compare --driver kafka-python` through the CLI, with the history it writes.
#[test]
fn cli_compare_with_a_driver() {
    let Some(b) = broker("cli_compare_with_a_driver") else {
        return;
    };
    let _one = one_at_a_time(Driver::KafkaPython);
    let path = std::env::temp_dir().join(format!("kafka-sim-cli-driver-{}.jsonl", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "compare",
            "--driver",
            "kafka-python",
            "--scenario",
            "demo3",
            "--seed",
            "7",
            "--brokers",
            &b,
        ])
        .arg("--history-out")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("vs kafka-python 3.0.12 at") && text.contains("result: MATCH"),
        "{text}"
    );
    let history = std::fs::read_to_string(&path).unwrap();
    assert!(
        history.starts_with(r#"{"format":"kafka-sim-history","version":1"#),
        "{history}"
    );
    assert!(history.contains(r#""recorded_by":"kafka-python 3.0.12 against"#));
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    if broker("an_unreachable_broker_is_a_clear_error").is_none() {
        return; // the driver's set-up comes with the broker's (scripts/test.sh)
    }
    for d in ["kafka-python", "java"] {
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
            .args([
                "compare",
                "--driver",
                d,
                "--scenario",
                "demo1",
                "--brokers",
                "127.0.0.1:9",
                "--connect-timeout",
                "3",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{d}: {err}");
        assert_eq!(err.lines().count(), 1, "{d}: {err}");
        assert!(err.contains("cannot reach broker 127.0.0.1:9"), "{d}: {err}");
    }
}

/// What cannot be staged is refused before any process starts (no broker needed): network
/// cuts and broker faults without a cluster (whose proxy stages cuts), request-level faults.
#[test]
fn faults_that_cannot_be_staged_are_refused_not_faked() {
    let cases = [
        ("network-cut", "a network cut needs the cluster's TCP proxy"),
        ("acks1-leader-loss", "a network cut needs the cluster's TCP proxy"),
        ("error-produce", "request-level error fault"),
        ("acks-all-minisr", "a broker crash needs a cluster"),
        ("coordinator-failover", "a broker crash needs a cluster"),
    ];
    for (name, why) in cases {
        let s = builtin_scenario(name).unwrap();
        for d in [Driver::KafkaPython, Driver::Java] {
            match driver::run(&s, 1, d, "127.0.0.1:9", &Options::default()) {
                Err(driver::DriverError::Unsupported(m)) => assert!(m.contains(why), "{name}: {m}"),
                Err(e) => panic!("{name}: wrong error: {e}"),
                Ok(_) => panic!("{name} ran"),
            }
        }
    }
}

/// Consumer faults staged on the one broker by the Java driver — a crash between two
/// auto-commits, a static member's restart within its session timeout — and compared row
/// by row (`src/fault_compare.rs`): anomaly kinds, bounds, the rebalance (or none) after the
/// fault, the verdict.
#[test]
fn consumer_faults_agree_with_java() {
    let Some(b) = broker("consumer_faults_agree_with_java") else {
        return;
    };
    let _one = one_at_a_time(Driver::Java);
    let dir = std::env::temp_dir().join(format!("kafka-sim-drivers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in FAULTS {
        let s = builtin_scenario(name).unwrap();
        let sim = models::world::run(&s, 0).unwrap();
        let staged = |attempt: u32| {
            let history = driver::run(&s, 0, Driver::Java, &b, &Options::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let path = dir.join(format!("{name}-java-{attempt}.jsonl"));
            std::fs::write(&path, &history).unwrap();
            assert!(
                history.contains(r#""event":"crash""#),
                "{name}: no crash recorded"
            );
            let real =
                kafka_sim::history_file::parse(&history).unwrap_or_else(|e| panic!("{name}: line {e}"));
            let c =
                kafka_sim::fault_compare::compare(&s, &sim, &real, Claim::AtLeastOnce, Driver::Java.label());
            (c, path)
        };
        // whether a crash redelivers anything depends on where it falls between two commits
        // (a commit just before it leaves nothing to redeliver): a disagreement is tried once
        // more, and said so
        let (mut c, mut path) = staged(0);
        if !c.matches() {
            eprintln!(
                "{name}: the real run disagreed ({}); running it once more:\n{}",
                path.display(),
                c.table
            );
            (c, path) = staged(1);
        }
        assert!(c.matches(), "{name} ({}):\n{}", path.display(), c.table);
    }
}

/// The fault scenarios `consumer_faults_agree_with_java` stages in the test command.
const FAULTS: [&str; 2] = ["crash-autocommit", "static-restart"];

/// A broker cut staged through the cluster's proxy (`acks1-leader-loss`: broker-1 cut off
/// from its peers and the controller while the acks=1 producer still reaches it) by the
/// Java driver, compared row by row: the lost writes and the inconsistent offsets on both
/// sides. Needs `KAFKA_SIM_CLUSTER_DIR` naming a started `scripts/kafka-cluster.sh`
/// cluster; skipped without it.
#[test]
fn a_broker_cut_agrees_with_java_on_a_cluster() {
    let Some(dir) = std::env::var_os("KAFKA_SIM_CLUSTER_DIR").map(std::path::PathBuf::from) else {
        eprintln!("a_broker_cut_agrees_with_java_on_a_cluster: skipped (no KAFKA_SIM_CLUSTER_DIR)");
        return;
    };
    let _one = one_at_a_time(Driver::Java);
    let cluster = kafka_sim::driver::cluster::Cluster::open(&dir).unwrap();
    let bootstrap = cluster.bootstrap().unwrap();
    let s = builtin_scenario("acks1-leader-loss").unwrap();
    let sim = models::world::run(&s, 0).unwrap();
    let opts = Options {
        cluster: Some(dir),
        ..Options::default()
    };
    let history = driver::run(&s, 0, Driver::Java, &bootstrap, &opts).unwrap_or_else(|e| panic!("{e}"));
    let real = kafka_sim::history_file::parse(&history).unwrap_or_else(|e| panic!("line {e}"));
    let c = kafka_sim::fault_compare::compare(&s, &sim, &real, Claim::AtLeastOnce, Driver::Java.label());
    assert!(c.matches(), "{}", c.table);
}
