//! proptest strategies for scenarios, so property suites over Kafka's guarantees take a few
//! lines:
//!
//! ```no_run
//! use kafka_sim::strategy::{arb_scenario, ScenarioShape};
//! use models::check::{check, Claim};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #[test]
//!     fn every_group_gets_every_record(case in arb_scenario(ScenarioShape::stable())) {
//!         let run = models::world::run(&case.scenario, case.seed).unwrap();
//!         prop_assert!(check(&run.trace, Claim::ExactlyOncePerGroup).passed());
//!     }
//! }
//! ```
//!
//! A generated [`Case`] is a scenario plus a seed; both shrink (fewer records, consumers,
//! groups, partitions and faults; earlier times).

use models::config::{ConfigValue, Profile};
use models::consumer::CommitPolicy;
use models::scenario::{
    BrokerSpec, ConsumerSpec, FaultKind, FaultSpec, GenerateSpec, NetworkSpec, ProducerSpec, Scenario,
    StopSpec, TopicSpec,
};
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::BTreeMap;

/// A scenario and the seed to run it with.
#[derive(Clone, Debug)]
pub struct Case {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
}

/// What kinds of scenario to generate.
#[derive(Clone, Debug)]
pub struct ScenarioShape {
    /// Most topics.
    pub max_topics: usize,
    /// Most partitions per topic.
    pub max_partitions: u32,
    /// Most groups.
    pub max_groups: usize,
    /// Most consumers per group.
    pub max_consumers: usize,
    /// Most records per producer.
    pub max_records: u32,
    /// Client profiles to draw from.
    pub profiles: Vec<Profile>,
    /// Assignor lists to draw from (one per group).
    pub assignors: Vec<&'static str>,
    /// Commit policies to draw from (one per consumer).
    pub commits: Vec<CommitPolicy>,
    /// Most crash faults (with or without restart) — 0 keeps membership stable.
    pub max_crashes: usize,
    /// Processing time per record is drawn from `0..=max_processing_ms`.
    pub max_processing_ms: u64,
}

impl ScenarioShape {
    /// Stable membership: every consumer is in its group before the first record, and nobody
    /// leaves. Any profile, assignor, partition and group count.
    pub fn stable() -> ScenarioShape {
        ScenarioShape {
            max_topics: 2,
            max_partitions: 6,
            max_groups: 3,
            max_consumers: 4,
            max_records: 40,
            profiles: vec![Profile::KafkaPython, Profile::Java, Profile::Librdkafka],
            assignors: vec![
                "range",
                "roundrobin",
                "sticky",
                "cooperative-sticky",
                "range,roundrobin",
            ],
            commits: vec![CommitPolicy::Auto],
            max_crashes: 0,
            max_processing_ms: 0,
        }
    }

    /// One group whose members crash (and maybe restart) while records flow, all with
    /// `commit`.
    pub fn crashes(commit: CommitPolicy) -> ScenarioShape {
        ScenarioShape {
            max_topics: 1,
            max_partitions: 4,
            max_groups: 1,
            max_consumers: 3,
            max_records: 120,
            profiles: vec![Profile::Java, Profile::KafkaPython],
            assignors: vec!["range", "roundrobin", "cooperative-sticky"],
            commits: vec![commit],
            max_crashes: 2,
            max_processing_ms: 15,
        }
    }
}

fn consumer_config(assignors: &str) -> BTreeMap<String, ConfigValue> {
    let mut c = BTreeMap::new();
    c.insert(
        "partition.assignment.strategy".into(),
        ConfigValue::Str(assignors.into()),
    );
    c.insert("session.timeout.ms".into(), ConfigValue::Int(10_000));
    c
}

/// Topics `t0..`: `(count, partitions each)`.
pub fn arb_topics(max_topics: usize, max_partitions: u32) -> impl Strategy<Value = Vec<TopicSpec>> {
    prop::collection::vec(1..=max_partitions, 1..=max_topics).prop_map(|parts| {
        parts
            .into_iter()
            .enumerate()
            .map(|(i, partitions)| TopicSpec {
                name: format!("t{i}"),
                partitions,
                replication_factor: None,
                config: Default::default(),
            })
            .collect()
    })
}

/// A group of consumers: its assignor list, and per member (start ms, profile, commit,
/// processing ms).
pub fn arb_group(
    shape: &ScenarioShape,
) -> impl Strategy<Value = (&'static str, Vec<(u64, Profile, CommitPolicy, u64)>)> {
    let member = (
        0..10_000u64,
        select(shape.profiles.clone()),
        select(shape.commits.clone()),
        0..=shape.max_processing_ms,
    );
    (
        select(shape.assignors.clone()),
        prop::collection::vec(member, 1..=shape.max_consumers),
    )
}

/// A crash: (which consumer, index modulo the count), when (ms after production starts),
/// restart after (ms), if any.
pub fn arb_crash() -> impl Strategy<Value = (usize, u64, Option<u64>)> {
    (0..8usize, 0..6_000u64, prop::option::of(500..8_000u64))
}

/// A group as [`arb_group`] draws it.
type GroupDraw = (&'static str, Vec<(u64, Profile, CommitPolicy, u64)>);

/// The producers' records as [`arb_scenario`] draws them: count per producer, keyed or not,
/// interval (ms), profile.
type RecordsDraw = (u32, bool, u64, Profile);

/// When generated producers start (ms): after every consumer has joined.
const PRODUCE_AT: u64 = 20_000;

/// A whole case: a scenario of `shape` and a seed.
pub fn arb_scenario(shape: ScenarioShape) -> impl Strategy<Value = Case> {
    let topics = arb_topics(shape.max_topics, shape.max_partitions);
    let groups = prop::collection::vec(arb_group(&shape), 1..=shape.max_groups);
    let records = (
        1..=shape.max_records,
        prop::bool::weighted(0.8),
        0..20u64,
        select(shape.profiles.clone()),
    );
    let crashes = prop::collection::vec(arb_crash(), 0..=shape.max_crashes);
    let delay = select(vec![0u64, 3_000]);
    (topics, groups, records, crashes, delay, any::<u64>()).prop_map(
        |(topics, groups, records, crashes, delay, seed)| {
            let consumers = consumers(&topics, groups);
            let producers = producers(&topics, records);
            let faults = crash_faults(crashes, &consumers);
            Case {
                scenario: Scenario {
                    name: Some("generated".into()),
                    description: None,
                    cluster: Default::default(),
                    broker: BrokerSpec {
                        group_initial_rebalance_delay_ms: delay,
                        ..BrokerSpec::default()
                    },
                    network: NetworkSpec::default(),
                    topics,
                    producers,
                    consumers,
                    faults,
                    stop: StopSpec::default(),
                },
                seed,
            }
        },
    )
}

/// The consumers of the drawn groups: `g<group>-c<member>` in `group-<group>`, each reading
/// every topic, so each record has a reader in each group.
fn consumers(topics: &[TopicSpec], groups: Vec<GroupDraw>) -> Vec<ConsumerSpec> {
    let mut consumers = Vec::new();
    for (g, (assignors, members)) in groups.into_iter().enumerate() {
        for (m, (start_ms, profile, commit, processing_ms)) in members.into_iter().enumerate() {
            consumers.push(ConsumerSpec {
                name: format!("g{g}-c{m}"),
                profile,
                group: format!("group-{g}"),
                topics: topics.iter().map(|t| t.name.clone()).collect(),
                start_ms,
                close_ms: None,
                commit,
                processing_ms,
                config: consumer_config(assignors),
                pipeline: None,
            });
        }
    }
    consumers
}

/// One producer for each of the first two topics, writing the drawn records from
/// [`PRODUCE_AT`] on.
fn producers(topics: &[TopicSpec], records: RecordsDraw) -> Vec<ProducerSpec> {
    let (count, keyed, interval_ms, producer_profile) = records;
    (0..topics.len().min(2))
        .map(|t| ProducerSpec {
            name: format!("producer-{t}"),
            profile: producer_profile,
            topic: topics[t].name.clone(),
            start_ms: PRODUCE_AT,
            interval_ms,
            messages: Vec::new(),
            generate: Some(GenerateSpec {
                count,
                key: keyed.then(|| "key-{i}".to_string()),
                value: "value-{i}".into(),
            }),
            config: BTreeMap::new(),
            linger_ms: None,
            batch_size: None,
            batch_num_messages: None,
            transactions: None,
        })
        .collect()
}

/// The drawn crashes as faults of `consumers`, one per consumer (a second would hit a dead
/// process).
fn crash_faults(crashes: Vec<(usize, u64, Option<u64>)>, consumers: &[ConsumerSpec]) -> Vec<FaultSpec> {
    let mut faults = Vec::<FaultSpec>::new();
    for (who, after, restart) in crashes {
        let client = &consumers[who % consumers.len()].name;
        if faults.iter().any(|x| &x.client == client) {
            continue;
        }
        faults.push(FaultSpec {
            kind: FaultKind::Crash,
            client: client.clone(),
            at_ms: Some(PRODUCE_AT + after),
            between_ms: None,
            duration_ms: None,
            restart_after_ms: restart,
            ..FaultSpec::default()
        });
    }
    faults
}

/// How the producers and topics of a replicated case trade durability for availability.
#[derive(Clone, Debug)]
pub struct Durability {
    /// Brokers in the cluster.
    pub brokers: u32,
    /// Replication factor of every topic.
    pub replication_factor: u32,
    /// `min.insync.replicas` of every topic.
    pub min_insync_replicas: u32,
    /// The producers' `acks` (`"0"`, `"1"`, `"all"`).
    pub acks: &'static str,
    /// The producers' `enable.idempotence`.
    pub idempotence: bool,
    /// `unclean.leader.election.enable` of every topic.
    pub unclean: bool,
    /// Most broker faults (crash, cut, stall), on different brokers.
    pub max_faults: usize,
}

impl Durability {
    /// The configuration Kafka documents for not losing acknowledged writes: three brokers,
    /// RF 3, `min.insync.replicas=2`, acks=all, idempotence, no unclean elections.
    pub fn safe() -> Durability {
        Durability {
            brokers: 3,
            replication_factor: 3,
            min_insync_replicas: 2,
            acks: "all",
            idempotence: true,
            unclean: false,
            max_faults: 2,
        }
    }

    /// acks=1 without idempotence: fast, and an acknowledged write can be lost with its leader.
    pub fn acks1() -> Durability {
        Durability {
            acks: "1",
            idempotence: false,
            min_insync_replicas: 1,
            ..Durability::safe()
        }
    }
}

/// A broker fault: which broker (1-based, modulo the cluster), what (0 crash, 1 crash with
/// restart, 2 cut from the cluster, 3 replica-fetcher stall), when (ms after production starts)
/// and for how long (ms).
pub fn arb_broker_fault() -> impl Strategy<Value = (u32, u8, u64, u64)> {
    (1..=8u32, 0..4u8, 0..12_000u64, 1_000..25_000u64)
}

/// A case on a cluster: one topic, one group (stable membership), producers writing for about
/// 20 s with `durability`, and broker faults meanwhile. Shrinks to fewer faults, records and
/// consumers.
pub fn arb_replicated(durability: Durability) -> impl Strategy<Value = Case> {
    let shape = ScenarioShape {
        max_topics: 1,
        max_partitions: 4,
        max_groups: 1,
        max_consumers: 3,
        max_records: 100,
        profiles: vec![Profile::Java, Profile::KafkaPython, Profile::Librdkafka],
        assignors: vec!["range", "roundrobin", "cooperative-sticky"],
        commits: vec![CommitPolicy::Auto, CommitPolicy::AfterRecord],
        max_crashes: 0,
        max_processing_ms: 5,
    };
    let faults = prop::collection::vec(arb_broker_fault(), 0..=durability.max_faults);
    (arb_scenario(shape), faults).prop_map(move |(mut case, faults)| {
        let d = &durability;
        let s = &mut case.scenario;
        s.cluster.brokers = d.brokers;
        for t in &mut s.topics {
            t.replication_factor = Some(d.replication_factor);
            t.config.insert(
                "min.insync.replicas".into(),
                ConfigValue::Int(i64::from(d.min_insync_replicas)),
            );
            t.config.insert(
                "unclean.leader.election.enable".into(),
                ConfigValue::Bool(d.unclean),
            );
        }
        let produce_at = s.producers.first().map_or(PRODUCE_AT, |p| p.start_ms);
        for p in &mut s.producers {
            p.interval_ms = 200;
            p.config.insert("acks".into(), ConfigValue::Str(d.acks.into()));
            p.config
                .insert("enable.idempotence".into(), ConfigValue::Bool(d.idempotence));
        }
        for c in &mut s.consumers {
            c.config
                .insert("auto.offset.reset".into(), ConfigValue::Str("earliest".into()));
        }
        let mut used = Vec::new();
        for (broker, kind, after, duration) in faults {
            let broker = (broker - 1) % d.brokers + 1;
            if used.contains(&broker) {
                continue;
            }
            used.push(broker);
            let (kind, duration_ms, restart_after_ms) = match kind {
                0 => (FaultKind::Crash, None, None),
                1 => (FaultKind::Crash, None, Some(duration)),
                2 => (FaultKind::Cut, Some(duration), None),
                _ => (FaultKind::Stall, Some(duration), None),
            };
            s.faults.push(FaultSpec {
                kind,
                client: models::scenario::broker_name(broker),
                at_ms: Some(produce_at + after),
                between_ms: None,
                duration_ms,
                restart_after_ms,
                ..FaultSpec::default()
            });
        }
        s.stop.at_ms = Some(produce_at + 100 * 200 + 90_000);
        case
    })
}
