//! The seed document's outputs, for every seed: placements, offsets, single consumption.

use kafka_sim::load::builtin_scenario;
use models::history::Event;
use models::world::{run, Run};
use std::collections::BTreeMap;

/// (client, key, partition, offset) of every consumed record.
fn consumed(run: &Run) -> Vec<(String, String, u32, i64)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Consumed {
                tp, offset, payload, ..
            } => Some((
                run.trace.name(e.actor).to_string(),
                String::from_utf8_lossy(payload.key().unwrap()).into_owned(),
                tp.partition,
                *offset,
            )),
            _ => None,
        })
        .collect()
}

/// key → (partition, offset) of every acknowledged record.
fn produced(run: &Run) -> BTreeMap<String, (u32, i64)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Produced {
                tp, offset, payload, ..
            } => Some((
                String::from_utf8_lossy(payload.key().unwrap()).into_owned(),
                (tp.partition, *offset),
            )),
            _ => None,
        })
        .collect()
}

fn expect_placement(run: &Run, want: &[(&str, u32, i64)]) {
    let got = produced(run);
    let want: BTreeMap<String, (u32, i64)> = want.iter().map(|(k, p, o)| (k.to_string(), (*p, *o))).collect();
    assert_eq!(got, want, "seed {}", run.seed);
}

/// The records a client consumed, sorted, as (key, partition, offset).
fn of(consumed: &[(String, String, u32, i64)], client: &str) -> Vec<(String, u32, i64)> {
    let mut v: Vec<_> = consumed
        .iter()
        .filter(|c| c.0 == client)
        .map(|c| (c.1.clone(), c.2, c.3))
        .collect();
    v.sort();
    v
}

fn all_five(part_off: &[(&str, u32, i64)]) -> Vec<(String, u32, i64)> {
    let mut v: Vec<_> = part_off.iter().map(|(k, p, o)| (k.to_string(), *p, *o)).collect();
    v.sort();
    v
}

const SEEDS: u64 = 200;

#[test]
fn demo1_all_five_on_partition_zero_in_order() {
    let s = builtin_scenario("demo1").unwrap();
    let want = [
        ("msg1_key", 0, 0),
        ("msg2_key", 0, 1),
        ("msg3_key", 0, 2),
        ("msg4_key", 0, 3),
        ("msg5_key", 0, 4),
    ];
    for seed in 0..SEEDS {
        let r = run(&s, seed).unwrap();
        expect_placement(&r, &want);
        let c = consumed(&r);
        // in order, exactly these lines
        let got: Vec<(String, u32, i64)> = c.iter().map(|c| (c.1.clone(), c.2, c.3)).collect();
        assert_eq!(got, all_five(&want), "seed {seed}");
        assert!(c.iter().all(|c| c.0 == "demo1_consume"));
    }
}

/// demo1's consumer has no group (the original program passes no `group_id`): kafka-python
/// assigns itself the partition at once, with no join — so, as measured against a real
/// broker, it prints all five records even when started only 2 s before the producer (a
/// group member would still be waiting out `group.initial.rebalance.delay.ms`, then start
/// from the end of the log). It never commits, never joins.
#[test]
fn demo1_without_a_group_reads_at_once_and_never_commits() {
    let mut s = builtin_scenario("demo1").unwrap();
    assert!(s.consumers[0].group.is_empty());
    s.producers[0].start_ms = 2_000;
    for seed in 0..SEEDS {
        let r = run(&s, seed).unwrap();
        assert_eq!(consumed(&r).len(), 5, "seed {seed}");
        for e in r.trace.entries() {
            assert!(
                !matches!(
                    e.record,
                    Event::Joined { .. } | Event::Committed { .. } | Event::GenerationStarted { .. }
                ),
                "seed {seed}: a consumer without a group did {:?}",
                e.record
            );
        }
    }
    // the same start with a group: the join takes the initial rebalance delay (3 s), the
    // position is then the end of the log, and nothing is printed
    s.consumers[0].group = "demo1_group".into();
    for seed in 0..20 {
        assert_eq!(consumed(&run(&s, seed).unwrap()).len(), 0, "seed {seed}");
    }
}

/// Two consumers without a group read independently: each reads every record, and the
/// checker checks each as a group of its own (no duplicates between them).
#[test]
fn consumers_without_a_group_are_checked_each_as_its_own_group() {
    use models::check::{check, AnomalyKind, Claim};
    let mut s = builtin_scenario("demo1").unwrap();
    let mut second = s.consumers[0].clone();
    second.name = "demo1_consume_again".into();
    s.consumers.push(second);
    for seed in 0..20 {
        let r = run(&s, seed).unwrap();
        let c = consumed(&r);
        assert_eq!(of(&c, "demo1_consume").len(), 5, "seed {seed}");
        assert_eq!(of(&c, "demo1_consume_again").len(), 5, "seed {seed}");
        let report = check(&r.trace, Claim::ExactlyOncePerGroup);
        assert!(report.passed(), "seed {seed}: {:?}", report.anomalies);
        assert!(!report.anomalies.iter().any(|a| a.kind == AnomalyKind::Duplicate));
    }
    // and a record one of them misses is its loss alone: drop the second's last read
    let r = run(&s, 0).unwrap();
    let last = r
        .trace
        .entries()
        .iter()
        .rposition(|e| {
            matches!(e.record, Event::Consumed { .. }) && r.trace.name(e.actor) == "demo1_consume_again"
        })
        .unwrap();
    let mut trace = sim::Trace::new(r.trace.names().to_vec());
    for (_, e) in r.trace.entries().iter().enumerate().filter(|(i, _)| *i != last) {
        trace.push(e.time, e.actor, e.record.clone());
    }
    let report = check(&trace, Claim::AtLeastOnce);
    let kinds: Vec<_> = report
        .anomalies
        .iter()
        .map(|a| (a.kind, a.group.as_deref().map(str::to_string)))
        .collect();
    assert!(
        kinds.contains(&(AnomalyKind::Unseen, Some("demo1_consume_again (no group)".into()))),
        "{kinds:?}"
    );
}

#[test]
fn demo2_each_record_once_one_partition_per_consumer() {
    let s = builtin_scenario("demo2").unwrap();
    let want = [
        ("msg1_key", 1, 0),
        ("msg2_key", 0, 0),
        ("msg3_key", 1, 1),
        ("msg4_key", 0, 1),
        ("msg5_key", 1, 2),
    ];
    let mut owners_of_p0 = BTreeMap::new();
    for seed in 0..SEEDS {
        let r = run(&s, seed).unwrap();
        expect_placement(&r, &want);
        let c = consumed(&r);
        let a = of(&c, "demo2_consume_1");
        let b = of(&c, "demo2_consume_2");
        let mut both = [a.clone(), b.clone()].concat();
        both.sort();
        assert_eq!(both, all_five(&want), "seed {seed}: every record exactly once");
        // one partition each
        let parts =
            |v: &[(String, u32, i64)]| v.iter().map(|x| x.1).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(parts(&a).len(), 1, "seed {seed}");
        assert_eq!(parts(&b).len(), 1, "seed {seed}");
        assert_ne!(parts(&a), parts(&b), "seed {seed}");
        let p0_owner = if parts(&a).contains(&0) {
            "consume_1"
        } else {
            "consume_2"
        };
        *owners_of_p0.entry(p0_owner).or_insert(0) += 1;
    }
    // which consumer gets partition 0 depends on the member ids the seed drew
    assert_eq!(owners_of_p0.len(), 2, "{owners_of_p0:?}");
}

#[test]
fn demo3_group1_splits_group2_sees_all() {
    let s = builtin_scenario("demo3").unwrap();
    let want = [
        ("msg1_key", 1, 0),
        ("msg2_key", 0, 0),
        ("msg3_key", 1, 1),
        ("msg4_key", 0, 1),
        ("msg5_key", 3, 0),
    ];
    for seed in 0..SEEDS {
        let r = run(&s, seed).unwrap();
        expect_placement(&r, &want);
        let c = consumed(&r);
        let mut g1 = [of(&c, "demo3_g1_consume1"), of(&c, "demo3_g1_consume2")].concat();
        g1.sort();
        assert_eq!(
            g1,
            all_five(&want),
            "seed {seed}: group 1 consumes all five exactly once"
        );
        assert_eq!(
            of(&c, "demo3_g2_consume1"),
            all_five(&want),
            "seed {seed}: group 2 sees all five"
        );
    }
}

/// Over seeds 0..100, both outcomes of group 1's range assignment occur: consumer 1 owning
/// partitions 0–1 in some seeds and 2–3 in others, because member ids are seeded UUIDs.
#[test]
fn demo3_seeds_decide_group1_assignment() {
    let s = builtin_scenario("demo3").unwrap();
    let mut outcomes = BTreeMap::new();
    for seed in 0..100 {
        let r = run(&s, seed).unwrap();
        let c1 = r
            .clients
            .iter()
            .find(|c| c.name == "demo3_g1_consume1")
            .unwrap()
            .actor;
        let last_assignment = r
            .trace
            .entries()
            .iter()
            .filter(|e| e.actor == c1)
            .filter_map(|e| match &e.record {
                Event::Assigned { partitions, .. } => {
                    Some(partitions.iter().map(|t| t.partition).collect::<Vec<_>>())
                }
                _ => None,
            })
            .next_back()
            .unwrap();
        *outcomes.entry(last_assignment).or_insert(0) += 1;
    }
    assert_eq!(
        outcomes.keys().cloned().collect::<Vec<_>>(),
        vec![vec![0, 1], vec![2, 3]],
        "{outcomes:?}"
    );
}

#[test]
fn text_output_uses_the_seed_documents_line_formats() {
    let s = builtin_scenario("demo2").unwrap();
    let text = kafka_sim::render::text(&run(&s, 7).unwrap());
    let producer: Vec<&str> = text
        .split("\n\n")
        .find(|b| b.starts_with("== demo2_produce"))
        .unwrap()
        .lines()
        .skip(1)
        .collect();
    assert_eq!(
        producer,
        vec![
            "link kafka ok.",
            "produce: key=msg1_key, val=msg1_val",
            "produce: key=msg2_key, val=msg2_val",
            "produce: key=msg3_key, val=msg3_val",
            "produce: key=msg4_key, val=msg4_val",
            "produce: key=msg5_key, val=msg5_val",
            "produce over.",
        ]
    );
    assert!(text.contains("msg2_key msg2_val topic: demo2, partition: 0, offset: 0\nmsg4_key msg4_val topic: demo2, partition: 0, offset: 1\n"));
    assert!(text.contains("msg1_key msg1_val topic: demo2, partition: 1, offset: 0\nmsg3_key msg3_val topic: demo2, partition: 1, offset: 1\nmsg5_key msg5_val topic: demo2, partition: 1, offset: 2\n"));
}

#[test]
fn json_output_has_the_promised_fields() {
    let s = builtin_scenario("demo3").unwrap();
    let json = kafka_sim::render::json_lines(&run(&s, 3).unwrap());
    let mut last_t = 0.0;
    let mut kinds = std::collections::BTreeSet::new();
    let mut lines = json.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "kafka-sim-history");
    assert_eq!(header["version"], 1);
    assert_eq!(header["topics"][0]["name"], "demo3");
    assert_eq!(header["topics"][0]["partitions"], 4);
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = v["t_ms"].as_f64().unwrap();
        assert!(t >= last_t, "virtual-time order");
        last_t = t;
        assert!(v["client"].is_string());
        let kind = v["event"].as_str().unwrap().to_string();
        match kind.as_str() {
            "consume" => {
                for f in ["group", "topic", "partition", "offset", "key", "value"] {
                    assert!(!v[f].is_null(), "consume lacks {f}: {line}");
                }
            }
            "produce" => {
                for f in ["topic", "partition", "offset", "key"] {
                    assert!(!v[f].is_null(), "produce lacks {f}: {line}");
                }
            }
            "assign" => {
                assert!(v["group"].is_string() && v["generation"].is_i64());
                assert!(v["partitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p[0].is_string() && p[1].is_u64()));
            }
            _ => {}
        }
        kinds.insert(kind);
    }
    for k in [
        "consume",
        "produce",
        "assign",
        "revoke",
        "join",
        "generation",
        "commit",
        "connected",
    ] {
        assert!(kinds.contains(k), "no {k} event in demo3");
    }
}
