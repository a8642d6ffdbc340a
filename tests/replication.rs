//! Brokers and replication: what acknowledged records survive which failures.
//!
//! Each test runs a scenario of several brokers and reads the outcome from the history alone,
//! through the checker and the events the brokers, the controller and the clients wrote.

mod common;

use common::*;
use models::check::{check, final_log, AnomalyKind, Claim};
use models::history::Event;
use models::protocol::ErrorCode;
use models::scenario::Scenario;
use models::types::{RecordId, Tp};
use models::world::{run, Run};
use sim::Time;
use std::collections::{BTreeMap, BTreeSet};

fn parse(src: &str) -> Scenario {
    kafka_sim::load::parse_toml("inline", src).unwrap()
}

/// Records acknowledged (with the offset given) by any producer.
fn acknowledged(run: &Run) -> Vec<(RecordId, Tp, i64)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Produced { id, tp, offset, .. } => Some((*id, *tp, *offset)),
            _ => None,
        })
        .collect()
}

fn lost_writes(run: &Run) -> BTreeSet<RecordId> {
    check(&run.trace, Claim::AtLeastOnce)
        .of(AnomalyKind::LostWrite)
        .map(|a| a.record.expect("a record"))
        .collect()
}

/// RF 3, min.insync.replicas 2, acks=all (the Java default), two partitions led by different
/// brokers, one broker crashing somewhere in the run (drawn from the seed), perhaps for good.
fn one_broker_crash(broker: u32, restart: bool) -> Scenario {
    let restart = if restart { "restart_after_ms = 20000" } else { "" };
    parse(&format!(
        r#"
[cluster]
brokers = 3
[broker]
"group.initial.rebalance.delay.ms" = 0
"min.insync.replicas" = 2
"default.replication.factor" = 3
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p"
profile = "java"
topic = "t"
start_ms = 1000
interval_ms = 100
generate = {{ count = 300, key = "k{{i}}" }}
[[consumers]]
name = "c1"
profile = "java"
group = "g"
topics = ["t"]
config = {{ "auto.offset.reset" = "earliest" }}
[[consumers]]
name = "c2"
profile = "java"
group = "g"
topics = ["t"]
config = {{ "auto.offset.reset" = "earliest" }}
[[faults]]
kind = "crash"
broker = "broker-{broker}"
between_ms = [2000, 30000]
{restart}
[stop]
at_ms = 150000
"#
    ))
}

#[test]
fn acks_all_with_min_isr_2_of_3_loses_nothing_when_any_one_broker_crashes() {
    let mut failovers = 0;
    for broker in 1..=3 {
        for restart in [false, true] {
            for seed in 0..6 {
                let run = run(&one_broker_crash(broker, restart), seed).unwrap();
                let report = check(&run.trace, Claim::AtLeastOnce);
                for kind in [
                    AnomalyKind::LostWrite,
                    AnomalyKind::InconsistentOffsets,
                    AnomalyKind::LogDuplicate,
                    AnomalyKind::Lost,
                ] {
                    assert_eq!(
                        report.count(kind),
                        0,
                        "broker-{broker} restart={restart} seed {seed}: {:?}",
                        report.of(kind).next()
                    );
                }
                // every record acknowledged, at the offset it was acknowledged at, and the
                // offsets of each partition dense from 0
                let acks = acknowledged(&run);
                assert_eq!(acks.len(), 300, "broker-{broker} seed {seed}: all delivered");
                let log = final_log(&run.trace);
                for (tp, records) in &log {
                    let offsets: Vec<i64> = records.keys().copied().collect();
                    let dense: Vec<i64> = (0..records.len() as i64).collect();
                    assert_eq!(offsets, dense, "{tp:?} has gaps");
                }
                for (id, tp, offset) in &acks {
                    assert_eq!(log[tp].get(offset), Some(id));
                }
                assert_eq!(
                    log.values().map(BTreeMap::len).sum::<usize>(),
                    300,
                    "no duplicates"
                );
                failovers += run
                    .trace
                    .entries()
                    .iter()
                    .filter(|e| matches!(e.record, Event::LeaderElected { tp, .. } if tp.topic == 0))
                    .count();
            }
        }
    }
    assert!(
        failovers >= 18,
        "the crashes moved leaders ({failovers} elections)"
    );
}

#[test]
fn acks_all_refuses_writes_while_the_isr_is_below_min_insync() {
    let run = run_builtin("acks-all-minisr", 1);
    let p = events_of(&run, "payer");
    let refused = p
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::ProduceRetry {
                    error: ErrorCode::NotEnoughReplicas,
                    ..
                }
            )
        })
        .count();
    let failed = p
        .iter()
        .filter(|(_, e)| matches!(e, Event::ProduceFailed { .. }))
        .count();
    assert!(refused > 0 && failed > 0, "refused {refused}, failed {failed}");
    let report = check(&run.trace, Claim::AtLeastOnce);
    assert!(report.passed(), "{}", report.table(&run.meta));
    assert_eq!(report.count(AnomalyKind::LostWrite), 0);
    // what failed is not in the log; what was acknowledged is
    let log = final_log(&run.trace);
    let in_log: BTreeSet<RecordId> = log.values().flat_map(|r| r.values().copied()).collect();
    for (_, e) in &p {
        match e {
            Event::ProduceFailed { id, .. } => assert!(!in_log.contains(id)),
            Event::Produced { id, .. } => assert!(in_log.contains(id)),
            _ => {}
        }
    }
}

#[test]
fn acks_1_leader_loss_loses_acknowledged_records_and_the_history_names_them() {
    let run = run_builtin("acks1-leader-loss", 1);
    let lost = lost_writes(&run);
    assert!(!lost.is_empty());
    // exactly the acknowledged records broker-1 truncated when it came back
    let truncated: BTreeSet<RecordId> = events_of(&run, "broker-1")
        .iter()
        .flat_map(|(_, e)| match e {
            Event::Truncated { removed, .. } => removed.clone(),
            _ => Vec::new(),
        })
        .collect();
    let acked: BTreeSet<RecordId> = acknowledged(&run).iter().map(|a| a.0).collect();
    let expected: BTreeSet<RecordId> = truncated.intersection(&acked).copied().collect();
    assert_eq!(lost, expected);
    // consumers read only below the high watermark: none of them ever saw a truncated record
    // (the deposed leader's followers never fetched them, so its high watermark stood still)
    let read: BTreeSet<RecordId> = run
        .trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Consumed { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert!(!read.is_empty());
    assert!(
        read.is_disjoint(&truncated),
        "{:?}",
        read.intersection(&truncated).next()
    );
    // the new leader was elected cleanly, from the ISR
    assert!(events_of(&run, "broker-2")
        .iter()
        .any(|(_, e)| matches!(e, Event::LeaderElected { unclean: false, .. })));
    // and the same scenario with acks=all loses nothing
    let mut s = builtin_scenario_named("acks1-leader-loss");
    s.producers[0].config.clear();
    let safe = models::world::run(&s, 1).unwrap();
    assert!(lost_writes(&safe).is_empty());
    assert_eq!(check(&safe.trace, Claim::AtLeastOnce).count(AnomalyKind::Lost), 0);
}

fn builtin_scenario_named(name: &str) -> Scenario {
    kafka_sim::load::builtin_scenario(name).unwrap()
}

#[test]
fn unclean_election_loses_records_and_is_reported_as_such() {
    for seed in 0..5 {
        let run = run_builtin("unclean-election", seed);
        let elected = events_of(&run, "broker-2");
        assert!(elected
            .iter()
            .any(|(_, e)| matches!(e, Event::LeaderElected { unclean: true, .. })));
        let lost = lost_writes(&run);
        assert!(lost.len() > 10, "seed {seed}: {lost:?}");
        let report = check(&run.trace, Claim::AtLeastOnce);
        assert!(report.count(AnomalyKind::InconsistentOffsets) > 0);
        assert!(!report.passed());
    }
    // without unclean elections the partition waits for broker-1 and loses nothing
    let mut s = builtin_scenario_named("unclean-election");
    s.topics[0].config.clear();
    let clean = run(&s, 0).unwrap();
    assert!(lost_writes(&clean).is_empty());
    assert!(!clean
        .trace
        .entries()
        .iter()
        .any(|e| matches!(e.record, Event::LeaderElected { unclean: true, .. })));
}

#[test]
fn retries_duplicate_records_without_idempotence_and_never_with_it() {
    for seed in 0..5 {
        let run = run_builtin("idempotent-retry", seed);
        let report = check(&run.trace, Claim::AtLeastOnce);
        let dup_topics: BTreeSet<&str> = report
            .of(AnomalyKind::LogDuplicate)
            .map(|a| run.meta.topic_name(a.tp.topic))
            .collect();
        assert_eq!(dup_topics, BTreeSet::from(["plain"]), "seed {seed}");
        // both producers did retry: the idempotent one's retries were recognised
        for p in ["plain", "idempotent"] {
            let retries = events_of(&run, p)
                .iter()
                .filter(|(_, e)| matches!(e, Event::ProduceRetry { .. }))
                .count();
            assert!(retries > 0, "{p} never retried");
        }
        let log = final_log(&run.trace);
        let idem = run.meta.topic_index("idempotent").unwrap();
        assert_eq!(log[&Tp::new(idem, 0)].len(), 30, "each idempotent record once");
    }
}

#[test]
fn coordinator_failover_keeps_committed_offsets_and_the_generation() {
    let run = run_builtin("coordinator-failover", 1);
    // the group's offsets partition got a new leader after broker-1 died
    let moved = run.trace.entries().iter().find_map(|e| match e.record {
        Event::LeaderElected { tp, .. } if run.meta.is_internal(tp) => {
            Some((e.time, run.trace.name(e.actor)))
        }
        _ => None,
    });
    let (at, to) = moved.expect("the coordinator moved");
    assert!(at > Time::ms(12_000) && to != "broker-1", "{at} {to}");
    // no rebalance from the broker crash until consumer b crashes at 30 s
    assert!(generations(&run, "billing")
        .iter()
        .all(|(t, _)| *t < Time::ms(12_000) || *t > Time::ms(30_000)));
    // commits went on through the new coordinator
    let committed_after: Vec<Time> = run
        .trace
        .entries()
        .iter()
        .filter(|e| e.time > at && matches!(e.record, Event::Committed { .. }))
        .map(|e| e.time)
        .collect();
    assert!(!committed_after.is_empty());
    // every position taken from a committed offset is the last offset committed before it
    let mut last: BTreeMap<Tp, i64> = BTreeMap::new();
    let mut checked = 0;
    for e in run.trace.entries() {
        match &e.record {
            Event::Committed { offsets, .. } => {
                for (tp, o) in offsets {
                    last.insert(*tp, *o);
                }
            }
            Event::PositionSet {
                tp,
                offset,
                from: models::history::PositionSource::Committed,
                ..
            } if e.time > at => {
                assert_eq!(Some(offset), last.get(tp), "{tp:?} at {}", e.time);
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 3, "positions read after the failover: {checked}");
    let report = check(&run.trace, Claim::AtLeastOnce);
    assert!(report.passed(), "{}", report.table(&run.meta));
    assert_eq!(report.count(AnomalyKind::Lost), 0);
}

#[test]
fn a_slow_follower_leaves_the_isr_and_comes_back() {
    let run = run_builtin("unclean-election", 0);
    let isr: Vec<(Time, Vec<u32>)> = run
        .trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::IsrChanged { isr, .. } => Some((e.time, isr.clone())),
            _ => None,
        })
        .collect();
    // broker-2 stalls at 2 s; dropped after replica.lag.time.max.ms (checked every 15 s)
    let (dropped, first) = &isr[0];
    assert_eq!(first, &vec![1]);
    assert!(
        *dropped >= Time::ms(32_000) && *dropped <= Time::ms(47_000),
        "{dropped}"
    );
    // after broker-1 comes back it catches up with broker-2 and rejoins
    assert!(
        isr.iter().any(|(t, i)| *t > Time::ms(80_000) && i.len() == 2),
        "{isr:?}"
    );
}

#[test]
fn one_broker_is_the_default_and_runs_no_controller() {
    let run = run_builtin("demo3", 7);
    assert_eq!(run.brokers.len(), 1);
    assert!(!run.trace.names().iter().any(|n| n == "controller"));
    assert!(!run.trace.entries().iter().any(|e| matches!(
        e.record,
        Event::LeaderElected { .. } | Event::IsrChanged { .. } | Event::ProduceRetry { .. }
    )));
}

#[test]
fn commit_sync_in_flight_when_the_coordinator_moves_is_retried_on_the_new_one() {
    let mut s = builtin_scenario_named("coordinator-failover");
    for c in &mut s.consumers {
        c.commit = models::consumer::CommitPolicy::AfterRecord;
    }
    let mut retried = 0;
    for seed in 0..5 {
        let run = run(&s, seed).unwrap();
        for client in ["a", "b"] {
            let evs = events_of(&run, client);
            for (i, (t, e)) in evs.iter().enumerate() {
                let Event::CommitFailed { error, .. } = e else {
                    continue;
                };
                if !matches!(*error, ErrorCode::NotCoordinator | ErrorCode::NetworkException) {
                    continue;
                }
                // the application's next commit outcome is a success, after the failover
                let next = evs[i + 1..]
                    .iter()
                    .find(|(_, e)| matches!(e, Event::Committed { .. } | Event::CommitFailed { .. }));
                assert!(
                    matches!(next, Some((at, Event::Committed { .. })) if at > t),
                    "seed {seed} {client}: {next:?}"
                );
                retried += 1;
            }
        }
        let report = check(&run.trace, Claim::AtLeastOnce);
        assert!(report.passed(), "seed {seed}: {}", report.table(&run.meta));
    }
    assert!(retried > 0, "no commit was caught by the failover");
}
