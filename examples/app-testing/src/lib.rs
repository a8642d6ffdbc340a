//! A user's own consumer applications, tested with kafka-sim through its public API only —
//! what a team would write to ask "does my consumer process each record once when the group
//! rebalances and members crash?".
//!
//! * [`SinkApp`] reads `orders`, writes each record to an external [`Sink`] and commits its
//!   offsets every `every` records (`commitSync`). The sink is a database outside the
//!   process: a crash does not wipe it. With an idempotent sink (an upsert by key) the
//!   effect of a redelivered record is nil; with an appending one it is a second row.
//! * [`TransformApp`] is a consume–transform–produce loop without transactions: it writes
//!   each record, transformed, to `enriched` through the producer of its own process, and
//!   commits every `every` records. A crash between the produce and the commit writes the
//!   output again — the case Kafka's transactions exist for.
//!
//! [`scenario`] is the cluster both run in: three consumers of one group, a producer, and
//! crashes (with restarts) at times drawn from the seed.

use kafka_sim::models::builder::ConsumerBuilder;
use kafka_sim::models::consumer::{AppCtx, ConsumedRecord, ConsumerApp};
use kafka_sim::models::history::AppValue;
use kafka_sim::models::producer::{Next, ProducerApp, ProducerCtx};
use kafka_sim::models::scenario::{FaultKind, FaultSpec, Scenario, ScenarioError};
use kafka_sim::models::types::Tp;
use kafka_sim::models::world::Apps;
use kafka_sim::sim::Time;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The consumers of the group, by scenario name.
pub const CONSUMERS: [&str; 3] = ["consumer-1", "consumer-2", "consumer-3"];

/// How many records the producer writes.
pub const RECORDS: u32 = 150;

/// What the knobs of a case are: when the crashes may happen, how often the app commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// Commit every this many records.
    pub every: u32,
    /// The window the first crash is drawn from (virtual ms).
    pub crash_between_ms: [u64; 2],
}

impl Default for Case {
    fn default() -> Self {
        Case {
            every: 20,
            crash_between_ms: [5_500, 8_000],
        }
    }
}

/// The cluster: `orders` (3 partitions) written by `writer` from 5 s, `enriched` (3
/// partitions) for the transform's output, three consumers of group `app`, two crashes and
/// restarts drawn from the seed.
pub fn scenario(case: Case) -> Result<Scenario, ScenarioError> {
    let [from, until] = case.crash_between_ms;
    let until = until.max(from);
    let consumer = |c: ConsumerBuilder| {
        c.config("enable.auto.commit", false)
            .config("auto.offset.reset", "earliest")
            .config("session.timeout.ms", 6_000)
            .config("heartbeat.interval.ms", 1_000)
    };
    let crash = |client: &str, window: [u64; 2], restart: u64| FaultSpec {
        kind: FaultKind::Crash,
        client: client.into(),
        between_ms: Some(window),
        restart_after_ms: Some(restart),
        ..FaultSpec::default()
    };
    let mut b = Scenario::builder("app-testing")
        .description("Three consumers of one group run the user's application; two crash and restart.")
        .broker(|b| b.group_initial_rebalance_delay_ms = 0)
        .topic("orders", 3)
        .topic("enriched", 3)
        .producer("writer", "orders", |p| {
            p.start_ms(5_000)
                .interval_ms(20)
                .generate(RECORDS, Some("order-{i}"), "amount-{i}")
        })
        // the producer of consumer-1's process (its records come from the application)
        .producer("enricher", "enriched", |p| {
            p.message(Some("unused"), Some("unused"))
        });
    for (i, name) in CONSUMERS.iter().enumerate() {
        b = b.consumer(*name, "app", &["orders"], |c| {
            consumer(c).start_ms(i as u64 * 200)
        });
    }
    b.fault(crash("consumer-1", [from, until], 1_500))
        .fault(crash("consumer-2", [from + 1_000, until + 1_000], 2_000))
        .stop_at_ms(40_000)
        .build()
}

/// How a sink takes a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// An upsert by key: writing a record again changes nothing.
    Idempotent,
    /// An insert: writing a record again adds a second row.
    Appending,
}

/// An external store (a database outside the consumer processes; a crash keeps it).
#[derive(Debug)]
pub struct Sink {
    kind: SinkKind,
    rows: BTreeMap<Vec<u8>, u32>,
}

/// A sink shared by every consumer of a run.
pub type SharedSink = Arc<Mutex<Sink>>;

impl Sink {
    /// An empty sink.
    pub fn new(kind: SinkKind) -> SharedSink {
        Arc::new(Mutex::new(Sink {
            kind,
            rows: BTreeMap::new(),
        }))
    }

    /// Writes `key`; returns whether it added a row.
    pub fn write(&mut self, key: &[u8]) -> bool {
        let rows = self.rows.entry(key.to_vec()).or_default();
        match (self.kind, *rows) {
            (SinkKind::Idempotent, 0) | (SinkKind::Appending, _) => {
                *rows += 1;
                true
            }
            (SinkKind::Idempotent, _) => false,
        }
    }

    /// Keys with more than one row.
    pub fn duplicates(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    /// How many distinct keys it holds.
    pub fn keys(&self) -> usize {
        self.rows.len()
    }
}

/// Writes each record to the sink, commits every `every` records.
pub struct SinkApp {
    every: u32,
    sink: SharedSink,
    /// In the process's memory: a crash forgets them.
    since_commit: u32,
    processed: BTreeMap<Tp, i64>,
}

impl SinkApp {
    /// The application of one consumer process.
    pub fn new(every: u32, sink: SharedSink) -> SinkApp {
        SinkApp {
            every,
            sink,
            since_commit: 0,
            processed: BTreeMap::new(),
        }
    }

    fn commit(&mut self, ctx: &mut AppCtx) {
        self.since_commit = 0;
        let offsets: Vec<(Tp, i64)> = self.processed.iter().map(|(t, o)| (*t, *o)).collect();
        ctx.commit_sync(&offsets);
    }
}

impl ConsumerApp for SinkApp {
    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
        ctx.process(Time::ms(1));
        let key = record.record.payload.key().unwrap_or_default();
        let added = self.sink.lock().expect("sink").write(key);
        ctx.record(
            "sink-write",
            &[
                ("key", AppValue::Text(String::from_utf8_lossy(key).into())),
                ("added", AppValue::Int(added as i64)),
            ],
        );
        self.processed.insert(record.tp, record.offset + 1);
        self.since_commit += 1;
        if self.since_commit >= self.every {
            self.commit(ctx);
        }
    }

    fn on_partitions_revoked(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        commit_revoked(ctx, &mut self.processed, partitions);
    }

    fn on_partitions_lost(&mut self, _ctx: &mut AppCtx, partitions: &[Tp]) {
        for tp in partitions {
            self.processed.remove(tp);
        }
    }

    fn on_restart(&mut self) {
        // a new process: what it had in memory is gone; the sink, outside, stays
        self.since_commit = 0;
        self.processed.clear();
    }
}

/// Reads `orders`, writes `enriched`: the same key, the value upper-cased.
pub struct TransformApp {
    every: u32,
    since_commit: u32,
    processed: BTreeMap<Tp, i64>,
}

impl TransformApp {
    /// The application of one consumer process.
    pub fn new(every: u32) -> TransformApp {
        TransformApp {
            every,
            since_commit: 0,
            processed: BTreeMap::new(),
        }
    }
}

impl ConsumerApp for TransformApp {
    fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
        ctx.process(Time::ms(1));
        let value = record
            .record
            .payload
            .value()
            .unwrap_or_default()
            .to_ascii_uppercase();
        ctx.produce("enriched", record.record.payload.key(), Some(&value));
        self.processed.insert(record.tp, record.offset + 1);
        self.since_commit += 1;
        if self.since_commit >= self.every {
            self.since_commit = 0;
            let offsets: Vec<(Tp, i64)> = self.processed.iter().map(|(t, o)| (*t, *o)).collect();
            ctx.commit_sync(&offsets);
        }
    }

    fn on_partitions_revoked(&mut self, ctx: &mut AppCtx, partitions: &[Tp]) {
        commit_revoked(ctx, &mut self.processed, partitions);
    }

    fn on_restart(&mut self) {
        self.since_commit = 0;
        self.processed.clear();
    }
}

/// A rebalance listener's duty: commit what was processed of the partitions given up, then
/// forget them.
fn commit_revoked(ctx: &mut AppCtx, processed: &mut BTreeMap<Tp, i64>, partitions: &[Tp]) {
    let offsets: Vec<(Tp, i64)> = partitions
        .iter()
        .filter_map(|tp| processed.get(tp).map(|o| (*tp, *o)))
        .collect();
    ctx.commit_sync(&offsets);
    for tp in partitions {
        processed.remove(tp);
    }
}

/// A producer that sends only what its process's consumer hands it.
pub struct HandedOver;

impl ProducerApp for HandedOver {
    fn next(&mut self, _ctx: &mut ProducerCtx) -> Next {
        Next::Wait
    }
}

/// The sink application in every consumer, writing to one fresh sink of `kind`.
pub fn sink_apps(every: u32, kind: SinkKind) -> (Apps, SharedSink) {
    let sink = Sink::new(kind);
    let mut apps = Apps::new();
    for name in CONSUMERS {
        let sink = sink.clone();
        apps = apps.consumer(name, move || Box::new(SinkApp::new(every, sink.clone())));
    }
    (apps, sink)
}

/// The transform in every consumer, each process handing its output to the `enricher`
/// producer.
pub fn transform_apps(every: u32) -> Apps {
    let mut apps = Apps::new().producer_app("enricher", || Box::new(HandedOver));
    for name in CONSUMERS {
        apps = apps
            .consumer(name, move || Box::new(TransformApp::new(every)))
            .producer(name, "enricher");
    }
    apps
}
