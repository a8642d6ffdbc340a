//! A user's application inside the simulated consumer: it commits every N records and
//! writes each record to an idempotent sink (an upsert by key in its external store, which a
//! crash does not wipe). A consumer crashes and restarts: Kafka delivers the records
//! processed since the last commit again (duplicates in the history), while the sink holds
//! each record once.

use kafka_sim::{load, render};
use models::consumer::{AppCtx, ConsumedRecord, ConsumerApp};
use models::history::{AppValue, Event};
use models::types::Tp;
use models::world::{self, Apps};
use sim::Time;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const SCENARIO: &str = r#"
name = "sink-app"
description = "Two consumers run the sink application; consumer-1 crashes and restarts."

[broker]
"group.initial.rebalance.delay.ms" = 0

[[topics]]
name = "orders"
partitions = 2

[[producers]]
name = "producer"
profile = "java"
topic = "orders"
start_ms = 5000
interval_ms = 20
generate = { count = 600, key = "order-{i}", value = "amount-{i}" }

[[consumers]]
name = "consumer-1"
profile = "java"
group = "billing"
topics = ["orders"]
start_ms = 0
config = { "session.timeout.ms" = 10000, "enable.auto.commit" = false, "auto.offset.reset" = "earliest" }

[[consumers]]
name = "consumer-2"
profile = "java"
group = "billing"
topics = ["orders"]
start_ms = 1000
config = { "session.timeout.ms" = 10000, "enable.auto.commit" = false, "auto.offset.reset" = "earliest" }

[[faults]]
kind = "crash"
client = "consumer-1"
at_ms = 9400
restart_after_ms = 3000
"#;

/// The external store: key → value, written by upsert.
type Store = Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>;

/// Commits every `every` records (the offsets it processed), writes each record to the sink.
struct SinkApp {
    every: u32,
    sink: Store,
    /// In memory only: forgotten by a crash.
    since_commit: u32,
    processed: BTreeMap<Tp, i64>,
}

impl SinkApp {
    fn new(every: u32, sink: Store) -> SinkApp {
        SinkApp {
            every,
            sink,
            since_commit: 0,
            processed: BTreeMap::new(),
        }
    }
}

impl ConsumerApp for SinkApp {
    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
        ctx.process(Time::ms(2));
        let key = record.record.payload.key().unwrap_or_default().to_vec();
        let value = record.record.payload.value().unwrap_or_default().to_vec();
        let new = self.sink.lock().unwrap().insert(key, value).is_none();
        if !new {
            ctx.record(
                "sink-overwrite",
                &[
                    ("offset", AppValue::Int(record.offset)),
                    ("tp", AppValue::Tp(record.tp)),
                ],
            );
        }
        self.processed.insert(record.tp, record.offset + 1);
        self.since_commit += 1;
        if self.since_commit >= self.every {
            self.since_commit = 0;
            let offsets: Vec<(Tp, i64)> = self.processed.iter().map(|(t, o)| (*t, *o)).collect();
            ctx.commit_sync(&offsets);
        }
    }

    fn on_partitions_revoked(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        // commit what was processed of the partitions given up, then forget them
        let offsets: Vec<(Tp, i64)> = partitions
            .iter()
            .filter_map(|tp| self.processed.get(tp).map(|o| (*tp, *o)))
            .collect();
        ctx.commit_async(&offsets);
        for tp in partitions {
            self.processed.remove(tp);
        }
    }

    fn on_partitions_lost(&mut self, _ctx: &mut AppCtx, partitions: &[Tp]) {
        for tp in partitions {
            self.processed.remove(tp);
        }
    }

    fn on_restart(&mut self) {
        // the sink is an external store and survives; the rest was in the process's memory
        self.since_commit = 0;
        self.processed.clear();
    }
}

fn apps(sink: &Store) -> Apps {
    let (a, b) = (sink.clone(), sink.clone());
    Apps::new()
        .consumer("consumer-1", move || Box::new(SinkApp::new(50, a.clone())))
        .consumer("consumer-2", move || Box::new(SinkApp::new(50, b.clone())))
}

fn scenario() -> models::scenario::Scenario {
    load::parse_toml("sink-app.toml", SCENARIO).expect("scenario")
}

#[test]
fn kafka_delivers_duplicates_the_idempotent_sink_holds_each_record_once() {
    let sink = Store::default();
    let run = world::run_with_apps(&scenario(), 1, &apps(&sink)).expect("runs");
    let mut deliveries: BTreeMap<(Tp, i64), u32> = BTreeMap::new();
    let mut crashed = false;
    for e in run.trace.entries() {
        match &e.record {
            Event::Consumed { tp, offset, .. } => *deliveries.entry((*tp, *offset)).or_default() += 1,
            Event::Crashed => crashed = true,
            _ => {}
        }
    }
    assert!(crashed);
    let duplicates = deliveries.values().filter(|n| **n > 1).count();
    assert!(duplicates > 0, "the crash makes Kafka deliver records again");
    let sink = sink.lock().unwrap();
    assert_eq!(sink.len(), deliveries.len(), "one sink entry per distinct record");
    assert_eq!(sink.len(), 600, "every record produced reached the sink");
    let overwrites = run
        .trace
        .entries()
        .iter()
        .filter(|e| matches!(&e.record, Event::App(a) if &*a.name == "sink-overwrite"))
        .count();
    assert_eq!(
        overwrites, duplicates,
        "each duplicate was an idempotent overwrite"
    );
    let json = render::json_lines(&run);
    assert!(json.contains(r#""event":"app""#) && json.contains(r#""name":"sink-overwrite""#));
    let commits = run
        .trace
        .entries()
        .iter()
        .filter(|e| matches!(e.record, Event::Committed { .. }))
        .count();
    assert!(commits >= 600 / 50, "the app commits every 50 records: {commits}");
}

#[test]
fn a_run_with_apps_is_deterministic() {
    let (s1, s2) = (Store::default(), Store::default());
    let a = world::run_with_apps(&scenario(), 7, &apps(&s1)).expect("runs");
    let b = world::run_with_apps(&scenario(), 7, &apps(&s2)).expect("runs");
    assert_eq!(render::json_lines(&a), render::json_lines(&b));
    assert_eq!(*s1.lock().unwrap(), *s2.lock().unwrap());
}

#[test]
fn an_app_for_a_consumer_the_scenario_lacks_is_an_error() {
    let sink = Store::default();
    let apps = Apps::new().consumer("consumer-9", move || Box::new(SinkApp::new(1, sink.clone())));
    let err = world::run_with_apps(&scenario(), 1, &apps)
        .err()
        .expect("an error");
    assert!(err.message.contains("consumer-9"), "{err}");
    let err = world::run_with_apps(&scenario(), 1, &Apps::new().producer("consumer-1", "nobody"))
        .err()
        .expect("an error");
    assert!(err.message.contains("nobody"), "{err}");
}

#[test]
fn closing_from_the_app_ends_the_consumer() {
    struct CloseAfter(u32);
    impl ConsumerApp for CloseAfter {
        fn on_record(&mut self, ctx: &mut AppCtx, _record: &ConsumedRecord) {
            self.0 -= 1;
            if self.0 == 0 {
                ctx.close();
            }
        }
    }
    let apps = Apps::new().consumer("consumer-2", || Box::new(CloseAfter(10)));
    let run = world::run_with_apps(&scenario(), 3, &apps).expect("runs");
    let c2 = run.clients.iter().find(|c| c.name == "consumer-2").unwrap().actor;
    let mine: Vec<&Event> = run
        .trace
        .entries()
        .iter()
        .filter(|e| e.actor == c2)
        .map(|e| &e.record)
        .collect();
    let consumed = mine
        .iter()
        .filter(|e| matches!(e, Event::Consumed { .. }))
        .count();
    assert_eq!(consumed, 10);
    assert!(matches!(mine.last(), Some(Event::Closed)));
}

#[test]
fn a_manually_assigned_consumer_reads_its_partition_without_a_group() {
    let apps = Apps::new().assign("consumer-2", &[("orders", 0)]);
    let mut scenario = scenario();
    scenario.faults.clear();
    let run = world::run_with_apps(&scenario, 2, &apps).expect("runs");
    let actor = |name: &str| run.clients.iter().find(|c| c.name == name).unwrap().actor;
    let (c1, c2) = (actor("consumer-1"), actor("consumer-2"));
    let of = |a| {
        run.trace
            .entries()
            .iter()
            .filter(move |e| e.actor == a)
            .map(|e| &e.record)
    };
    assert!(!of(c2).any(|e| matches!(e, Event::Joined { .. } | Event::Committed { .. })));
    let p0: Vec<i64> = of(c2)
        .filter_map(|e| match e {
            Event::Consumed { tp, offset, .. } => {
                assert_eq!(tp.partition, 0);
                Some(*offset)
            }
            _ => None,
        })
        .collect();
    let produced_p0 = run
        .trace
        .entries()
        .iter()
        .filter(|e| matches!(&e.record, Event::Produced { tp, .. } if tp.partition == 0))
        .count();
    assert_eq!(
        p0,
        (0..produced_p0 as i64).collect::<Vec<_>>(),
        "all of partition 0, in order"
    );
    // the group is consumer-1 alone: it owns both partitions
    let c1_partitions: std::collections::BTreeSet<u32> = of(c1)
        .filter_map(|e| match e {
            Event::Consumed { tp, .. } => Some(tp.partition),
            _ => None,
        })
        .collect();
    assert_eq!(c1_partitions.len(), 2);
    let bad = Apps::new().assign("consumer-2", &[("orders", 5)]);
    assert!(world::run_with_apps(&scenario, 2, &bad).is_err());
}
