//! The timeline picture: valid XML, one lane per consumer, one mark per consumed record,
//! byte-identical for the same seed; and the HTML page is self-contained.

mod common;

use common::*;
use models::world::ClientKind;
use std::process::Command;

fn check_svg(name: &str, seed: u64) {
    let run = run_builtin(name, seed);
    let svg = kafka_sim::timeline::svg(&run, name);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: not XML: {e}"));
    let class_has =
        |n: &roxmltree::Node, c: &str| n.attribute("class").is_some_and(|v| v.split(' ').any(|x| x == c));
    let lanes: Vec<_> = doc.descendants().filter(|n| class_has(n, "lane")).collect();
    let consumers: Vec<&str> = run
        .clients
        .iter()
        .filter(|c| c.kind == ClientKind::Consumer)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(lanes.len(), consumers.len(), "{name}: one lane per consumer");
    let lane_names: Vec<&str> = lanes
        .iter()
        .map(|l| l.attribute("data-client").unwrap())
        .collect();
    for c in &consumers {
        assert!(lane_names.contains(c), "{name}: no lane for {c}");
        // the lane is labelled with the consumer's name
        let lane = lanes
            .iter()
            .find(|l| l.attribute("data-client") == Some(c))
            .unwrap();
        assert!(
            lane.descendants().any(|n| n.is_text() && n.text() == Some(c)),
            "{name}: lane {c} unlabelled"
        );
    }
    let consumed = models::query::consumptions(&run.trace).count();
    let dots = doc.descendants().filter(|n| class_has(n, "consume")).count();
    assert_eq!(dots, consumed, "{name}: one mark per consumed record");
    assert!(consumed > 0);
    let owned = models::query::ownership(&run.trace).len();
    let bars = doc.descendants().filter(|n| class_has(n, "owned")).count();
    assert_eq!(bars, owned, "{name}: one bar per ownership of a partition");
    // every dot says which record it is
    for dot in doc.descendants().filter(|n| class_has(n, "consume")) {
        let title = dot
            .children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap();
        assert!(title.contains("key=") && title.contains('@'), "{title}");
    }
    let again = kafka_sim::timeline::svg(&run_builtin(name, seed), name);
    assert_eq!(svg, again, "{name}: byte-identical for the same seed");
}

#[test]
fn demos_render() {
    for demo in ["demo1", "demo2", "demo3"] {
        check_svg(demo, 7);
    }
}

#[test]
fn rebalance_scenarios_render_with_anomalies_marked() {
    for name in [
        "crash-autocommit",
        "cooperative-scale-out",
        "stall-poll-timeout",
        "network-cut",
        "commit-before-processing",
    ] {
        check_svg(name, 1);
    }
    let run = run_builtin("crash-autocommit", 1);
    let svg = kafka_sim::timeline::svg(&run, "x");
    assert!(svg.contains("class=\"consume anomaly\""), "duplicates are red");
    assert!(svg.contains("mark crash"));
    let run = run_builtin("commit-before-processing", 3);
    assert!(
        kafka_sim::timeline::svg(&run, "x").contains("lost-record"),
        "lost records are marked"
    );
}

#[test]
fn cli_writes_svg_and_html() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for ext in ["svg", "html"] {
        let path = dir.join(format!("timeline-test.{ext}"));
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
            .args([
                "timeline",
                "--scenario",
                "demo2",
                "--seed",
                "7",
                "-o",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&path).unwrap();
        if ext == "html" {
            assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<svg"));
            assert!(
                !text.contains("src=\"http") && !text.contains("href=\"http"),
                "self-contained"
            );
        } else {
            roxmltree::Document::parse(&text).unwrap();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(["timeline", "--scenario", "demo2", "-o", "x.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The pictures in the README are what the current code draws.
#[test]
fn committed_pictures_are_current() {
    for (name, seed, file) in [
        ("demo3", 7, "docs/demo3.svg"),
        ("crash-autocommit", 1, "docs/crash-autocommit.svg"),
        ("acks1-leader-loss", 1, "docs/acks1-leader-loss.svg"),
    ] {
        let run = run_builtin(name, seed);
        let svg = kafka_sim::timeline::svg(&run, &format!("kafka-sim: {name}, seed {seed}"));
        let committed =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_string() + file).unwrap();
        assert_eq!(
            svg, committed,
            "{file} is stale: run `kafka-sim timeline --scenario {name} --seed {seed} -o {file}`"
        );
    }
}

#[test]
fn several_brokers_get_a_lane_each_with_leadership_and_lost_writes() {
    let run = run_builtin("acks1-leader-loss", 1);
    let svg = kafka_sim::timeline::svg(&run, "acks1-leader-loss");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let class_has =
        |n: &roxmltree::Node, c: &str| n.attribute("class").is_some_and(|v| v.split(' ').any(|x| x == c));
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| class_has(n, "broker-lane"))
        .map(|n| n.attribute("data-broker").unwrap())
        .collect();
    assert_eq!(lanes, ["broker-1", "broker-2", "broker-3"]);
    // broker-1 led orders-0 until the election, broker-2 since
    let leads = |b: &str| {
        doc.descendants()
            .filter(|n| class_has(n, "broker-lane") && n.attribute("data-broker") == Some(b))
            .flat_map(|n| {
                n.descendants()
                    .filter(|d| class_has(d, "leads"))
                    .collect::<Vec<_>>()
            })
            .count()
    };
    assert_eq!(
        (leads("broker-1"), leads("broker-2"), leads("broker-3")),
        (1, 1, 0)
    );
    let report = models::check::check(&run.trace, models::check::Claim::AtLeastOnce);
    let crosses = doc.descendants().filter(|n| class_has(n, "lost-write")).count();
    assert_eq!(crosses, report.count(models::check::AnomalyKind::LostWrite));
    assert!(crosses > 0);
    assert_eq!(doc.descendants().filter(|n| class_has(n, "truncate")).count(), 1);
    // a one-broker run has no broker section
    let demo = kafka_sim::timeline::svg(&run_builtin("demo3", 7), "demo3");
    assert!(!demo.contains("broker-lane"));
}

#[test]
fn transactions_get_a_span_each_coloured_by_their_end() {
    use models::history::{Event, TxnStep};
    for (name, seed) in [
        ("transaction-timeout", 1),
        ("eos-pipeline", 1),
        ("zombie-fencing", 1),
    ] {
        let run = run_builtin(name, seed);
        let svg = kafka_sim::timeline::svg(&run, name);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let class_has =
            |n: &roxmltree::Node, c: &str| n.attribute("class").is_some_and(|v| v.split(' ').any(|x| x == c));
        let count = |c: &str| {
            doc.descendants()
                .filter(|n| class_has(n, "txn") && class_has(n, c))
                .count()
        };
        let steps = |f: &dyn Fn(&TxnStep) -> bool| {
            run.trace
                .entries()
                .iter()
                .filter(|e| matches!(&e.record, Event::Txn(t) if f(&t.step)))
                .count()
        };
        let begun = steps(&|s| matches!(s, TxnStep::Begin));
        assert!(begun > 0, "{name}: transactions");
        assert_eq!(
            doc.descendants().filter(|n| class_has(n, "txn")).count(),
            begun,
            "{name}: a span per begin"
        );
        assert_eq!(
            count("committed"),
            steps(&|s| matches!(s, TxnStep::Committed)),
            "{name}"
        );
        assert_eq!(
            count("aborted"),
            steps(&|s| matches!(s, TxnStep::Aborted)),
            "{name}"
        );
        assert!(
            count("fenced") <= steps(&|s| matches!(s, TxnStep::Fenced(_))),
            "{name}"
        );
        assert_eq!(
            doc.descendants().filter(|n| class_has(n, "txn-offsets")).count(),
            steps(&|s| matches!(s, TxnStep::OffsetsSent { .. })),
            "{name}: a tick per sendOffsetsToTransaction"
        );
        let producers: std::collections::BTreeSet<&str> = run
            .trace
            .entries()
            .iter()
            .filter(|e| matches!(e.record, Event::Txn(_)))
            .map(|e| run.trace.name(e.actor))
            .collect();
        let lanes: std::collections::BTreeSet<&str> = doc
            .descendants()
            .filter(|n| class_has(n, "txn-lane"))
            .map(|n| n.attribute("data-producer").unwrap())
            .collect();
        assert_eq!(lanes, producers, "{name}: a lane per transactional producer");
    }
    // transaction-timeout's slow writer: its second transaction ends fenced (the coordinator
    // aborted it at transaction.timeout.ms)
    let svg = kafka_sim::timeline::svg(&run_builtin("transaction-timeout", 1), "x");
    assert!(svg.contains("class=\"txn fenced\""));
    assert!(!kafka_sim::timeline::svg(&run_builtin("demo3", 7), "demo3").contains("txn-lane"));
}
