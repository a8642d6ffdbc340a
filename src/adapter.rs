//! The real-broker adapter (cargo feature `rdkafka`): runs a scenario's producers and
//! consumers as real `rdkafka` clients against a broker — an Apache Kafka at `HOST:PORT`, or
//! librdkafka's in-process mock cluster — and records what happened as the same history
//! [`Event`]s the simulator writes, so the renderers, the checker and [`crate::compare`]
//! read both alike.
//!
//! How a scenario maps onto real clients:
//! * topics are created under per-run names (`demo2-ksim<run id>`) with the scenario's
//!   partition counts, and deleted afterwards; groups get the same suffix, so concurrent runs
//!   never meet; the history maps both back;
//! * producers use the profile's partitioner (`murmur2_random` for Java and kafka-python,
//!   librdkafka's default `consistent_random`); every record carries a `ksim-id` header with
//!   its (producer, sequence) identity, which consumers read back;
//! * consumers get the scenario's group, assignors and offsets settings under librdkafka's
//!   names; auto-commit is librdkafka's;
//! * clients start in the scenario's order; before each start the adapter waits until every
//!   group has settled (each running member has an assignment covering its topics), as a
//!   person running the seed demos waits for `link kafka ok.`. Virtual gaps become real
//!   pauses scaled by `scale`; producer intervals too;
//! * after the last record is acknowledged, it waits until every group has consumed every
//!   record (or `drain_timeout`), closes the consumers (LeaveGroup) and deletes the topics.
//!
//! Not supported against a real broker: faults (a crash cannot be staged in-process),
//! processing times and commit policies other than `auto`. Such scenarios are refused with a
//! clear error.

use models::history::Event;
use models::scenario::Scenario;
use models::types::{Metadata, Payload, RecordId, Tp};
use models::world::{ClientInfo, ClientKind, Run};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};
use sim::{ActorId, Time, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the real run happens.
#[derive(Clone, Debug)]
pub enum Target {
    /// A broker's bootstrap address.
    Brokers(String),
    /// librdkafka's in-process mock cluster.
    Mock,
}

impl Target {
    /// `mock`, or a bootstrap address.
    pub fn parse(s: &str) -> Target {
        if s == "mock" {
            Target::Mock
        } else {
            Target::Brokers(s.to_string())
        }
    }

    /// For tables: `Apache Kafka at ...` or `librdkafka mock`.
    pub fn label(&self) -> String {
        match self {
            Target::Brokers(b) => format!("broker {b}"),
            Target::Mock => "librdkafka mock".into(),
        }
    }
}

/// Knobs of a real run.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long the broker may take to answer at all.
    pub connect_timeout: Duration,
    /// How long a group may take to settle after a member starts.
    pub settle_timeout: Duration,
    /// How long, after the last acknowledgement, the groups may take to consume everything.
    pub drain_timeout: Duration,
    /// Real seconds per virtual second for the pauses between starts and between sends.
    pub scale: f64,
    /// Override the producers' `partitioner` (to show a mismatch on purpose).
    pub partitioner: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            settle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            scale: 0.01,
            partitioner: None,
        }
    }
}

/// Why a real run could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterError {
    /// The broker did not answer within the connect timeout.
    Unreachable(String),
    /// The scenario uses something the adapter cannot stage.
    Unsupported(String),
    /// The run went wrong.
    Failed(String),
}

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterError::Unreachable(m) | AdapterError::Unsupported(m) | AdapterError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

fn failed(what: &str) -> impl Fn(rdkafka::error::KafkaError) -> AdapterError + '_ {
    move |e| AdapterError::Failed(format!("{what}: {e}"))
}

/// The shared history being recorded: µs since the start, actor, event.
struct Recorder {
    start: Instant,
    entries: Mutex<Vec<(u64, u32, Event)>>,
    /// Set when the run is over: teardown (consumers leaving, topics deleted) is not part of
    /// the history, as the simulated run ends with its clients still running.
    stopped: std::sync::atomic::AtomicBool,
}

impl Recorder {
    fn record(&self, actor: u32, e: Event) {
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let t = self.start.elapsed().as_micros() as u64;
        self.entries.lock().expect("recorder").push((t, actor, e));
    }
}

/// Topic names on the broker, and back.
struct Names {
    real: Vec<String>,
    index: BTreeMap<String, u32>,
    /// Appended to topic and group names on the broker, so runs never share either.
    suffix: String,
}

impl Names {
    fn tp(&self, topic: &str, partition: i32) -> Option<Tp> {
        self.index.get(topic).map(|t| Tp::new(*t, partition as u32))
    }
    fn tps(&self, tpl: &TopicPartitionList) -> Vec<Tp> {
        let mut v: Vec<Tp> = tpl
            .elements()
            .iter()
            .filter_map(|e| self.tp(e.topic(), e.partition()))
            .collect();
        v.sort();
        v
    }
}

const ID_HEADER: &str = "ksim-id";

fn id_bytes(id: RecordId) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&id.producer.to_be_bytes());
    b[4..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn id_from(bytes: &[u8]) -> Option<RecordId> {
    (bytes.len() == 8).then(|| RecordId {
        producer: u32::from_be_bytes(bytes[..4].try_into().expect("4")),
        seq: u32::from_be_bytes(bytes[4..].try_into().expect("4")),
    })
}

struct ConsumerCtx {
    rec: Arc<Recorder>,
    names: Arc<Names>,
    actor: u32,
    group: Arc<str>,
    generation: Mutex<i32>,
    owned: Mutex<BTreeSet<Tp>>,
    fresh: Mutex<Vec<Tp>>,
}

impl ClientContext for ConsumerCtx {}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let partitions = self.names.tps(tpl);
            let mut owned = self.owned.lock().expect("owned");
            for tp in &partitions {
                owned.remove(tp);
            }
            let generation = *self.generation.lock().expect("generation");
            self.rec.record(
                self.actor,
                Event::Revoked {
                    group: self.group.clone(),
                    generation,
                    partitions: partitions.into(),
                },
            );
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let partitions = self.names.tps(tpl);
            let mut g = self.generation.lock().expect("generation");
            *g += 1;
            self.owned
                .lock()
                .expect("owned")
                .extend(partitions.iter().copied());
            self.fresh
                .lock()
                .expect("fresh")
                .extend(partitions.iter().copied());
            self.rec.record(
                self.actor,
                Event::Assigned {
                    group: self.group.clone(),
                    generation: *g,
                    partitions: partitions.into(),
                },
            );
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let generation = *self.generation.lock().expect("generation");
        match result {
            Ok(()) => {
                let offsets: Vec<(Tp, i64)> = offsets
                    .elements()
                    .iter()
                    .filter_map(|e| match (self.names.tp(e.topic(), e.partition()), e.offset()) {
                        (Some(tp), Offset::Offset(o)) => Some((tp, o)),
                        _ => None,
                    })
                    .collect();
                if !offsets.is_empty() {
                    self.rec.record(
                        self.actor,
                        Event::Committed {
                            group: self.group.clone(),
                            generation,
                            offsets,
                        },
                    );
                }
            }
            Err(_) => self.rec.record(
                self.actor,
                Event::CommitFailed {
                    group: self.group.clone(),
                    error: "COMMIT_FAILED",
                },
            ),
        }
    }
}

struct ProducerCtx {
    rec: Arc<Recorder>,
    names: Arc<Names>,
    actor: u32,
    payloads: Arc<Mutex<BTreeMap<RecordId, Payload>>>,
}

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let id = RecordId {
            producer: (opaque >> 32) as u32,
            seq: opaque as u32,
        };
        let payload = self.payloads.lock().expect("payloads").get(&id).cloned();
        if let (Ok(m), Some(payload)) = (result, payload) {
            if let Some(tp) = self.names.tp(m.topic(), m.partition()) {
                let offset = m.offset();
                // the partitioner runs inside the client: the send is known with its partition
                // only once delivered, so it is recorded here, just before the acknowledgement
                self.rec.record(
                    self.actor,
                    Event::Send {
                        id,
                        tp,
                        payload: payload.clone(),
                    },
                );
                self.rec.record(0, Event::Appended { id, tp, offset });
                self.rec.record(
                    self.actor,
                    Event::Produced {
                        id,
                        tp,
                        offset,
                        payload,
                    },
                );
            }
        }
    }
}

fn check_supported(s: &Scenario) -> Result<(), AdapterError> {
    if s.cluster.brokers > 1 {
        return Err(AdapterError::Unsupported(format!(
            "the scenario has {} brokers; the cross-check runs against one broker",
            s.cluster.brokers
        )));
    }
    if !s.faults.is_empty() {
        return Err(AdapterError::Unsupported(
            "faults cannot be staged against a real broker".into(),
        ));
    }
    for c in &s.consumers {
        if c.processing_ms != 0 || c.commit != models::consumer::CommitPolicy::Auto {
            return Err(AdapterError::Unsupported(format!(
                "consumer {}: only processing_ms = 0 and commit = \"auto\" are staged against a real broker",
                c.name
            )));
        }
    }
    Ok(())
}

fn partitioner_for(profile: models::config::Profile) -> &'static str {
    match profile {
        models::config::Profile::Librdkafka => "consistent_random",
        _ => "murmur2_random",
    }
}

/// Runs `scenario` against `target` and returns its history as a [`Run`].
pub fn run(scenario: &Scenario, seed: u64, target: &Target, opts: &Options) -> Result<Run, AdapterError> {
    scenario
        .validate()
        .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
    check_supported(scenario)?;
    // a mock cluster lives inside a client that must outlive the run
    let mut _mock_owner: Option<BaseProducer> = None;
    let mut mock: Option<*mut rdkafka::bindings::rd_kafka_mock_cluster_t> = None;
    let bootstrap = match target {
        Target::Brokers(b) => b.clone(),
        Target::Mock => {
            let owner: BaseProducer = ClientConfig::new()
                .set("test.mock.num.brokers", "1")
                .create()
                .map_err(failed("cannot create the librdkafka mock cluster"))?;
            let bootstrap = unsafe {
                let mc = rdkafka::bindings::rd_kafka_handle_mock_cluster(owner.client().native_ptr());
                if mc.is_null() {
                    return Err(AdapterError::Failed(
                        "librdkafka did not create a mock cluster".into(),
                    ));
                }
                rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
                mock = Some(mc);
                std::ffi::CStr::from_ptr(rdkafka::bindings::rd_kafka_mock_cluster_bootstraps(mc))
                    .to_string_lossy()
                    .into_owned()
            };
            _mock_owner = Some(owner);
            bootstrap
        }
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set(
            "socket.connection.setup.timeout.ms",
            // librdkafka's range: 1000 to 2147483647 ms
            opts.connect_timeout
                .as_millis()
                .clamp(1_000, i32::MAX as u128)
                .to_string(),
        )
        .create()
        .map_err(failed("cannot create an admin client"))?;
    admin
        .inner()
        .fetch_metadata(None, opts.connect_timeout)
        .map_err(|e| {
            AdapterError::Unreachable(format!(
                "cannot reach {} within {:?}: {e}",
                target.label(),
                opts.connect_timeout
            ))
        })?;

    // topics under per-run names
    let run_id = format!(
        "ksim{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ seed
    );
    let meta = Arc::new(scenario.metadata());
    let real: Vec<String> = meta
        .topics
        .iter()
        .map(|t| format!("{}-{run_id}", t.name))
        .collect();
    let names = Arc::new(Names {
        index: real
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect(),
        real: real.clone(),
        suffix: run_id.clone(),
    });
    let new_topics: Vec<NewTopic> = meta
        .topics
        .iter()
        .zip(&real)
        .map(|(t, n)| NewTopic::new(n, t.partitions as i32, TopicReplication::Fixed(1)))
        .collect();
    let admin_opts = AdminOptions::new().operation_timeout(Some(opts.connect_timeout));
    match mock {
        // the mock cluster does not serve CreateTopics: its own API creates them
        Some(mc) => {
            for (t, n) in meta.topics.iter().zip(&real) {
                let name = std::ffi::CString::new(n.as_str()).expect("topic names have no NUL");
                let err = unsafe {
                    rdkafka::bindings::rd_kafka_mock_topic_create(mc, name.as_ptr(), t.partitions as i32, 1)
                };
                if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    return Err(AdapterError::Failed(format!("create mock topic {n}: {err:?}")));
                }
            }
        }
        None => {
            for r in futures_executor::block_on(admin.create_topics(&new_topics, &admin_opts))
                .map_err(failed("create topics"))?
            {
                r.map_err(|(t, e)| AdapterError::Failed(format!("create topic {t}: {e}")))?;
            }
        }
    }
    // a new topic is usable once every partition has a leader in the metadata
    let deadline = Instant::now() + opts.connect_timeout;
    loop {
        let md = admin
            .inner()
            .fetch_metadata(None, opts.connect_timeout)
            .map_err(failed("metadata"))?;
        let ready = real.iter().zip(&meta.topics).all(|(name, t)| {
            md.topics().iter().find(|mt| mt.name() == name).is_some_and(|mt| {
                mt.error().is_none()
                    && mt.partitions().len() == t.partitions as usize
                    && mt
                        .partitions()
                        .iter()
                        .all(|p| p.leader() >= 0 && p.error().is_none())
            })
        });
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err(AdapterError::Failed(
                "the new topics got no leaders in time".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = drive(scenario, seed, &bootstrap, &meta, &names, opts, mock.is_some());
    if mock.is_none() {
        let _ = futures_executor::block_on(
            admin.delete_topics(&real.iter().map(String::as_str).collect::<Vec<_>>(), &admin_opts),
        );
    }
    result
}

struct LiveConsumer {
    actor: u32,
    group: String,
    topics: Vec<u32>,
    consumer: BaseConsumer<ConsumerCtx>,
    reset: models::protocol::OffsetSpec,
}

fn drive(
    scenario: &Scenario,
    seed: u64,
    bootstrap: &str,
    meta: &Arc<Metadata>,
    names: &Arc<Names>,
    opts: &Options,
    mock: bool,
) -> Result<Run, AdapterError> {
    let rec = Arc::new(Recorder {
        start: Instant::now(),
        entries: Mutex::new(Vec::new()),
        stopped: std::sync::atomic::AtomicBool::new(false),
    });
    // actors: 0 is the broker, then producers, then consumers (as in the simulator)
    let mut actor_names = vec![models::scenario::BROKER_NAME.to_string()];
    let mut clients = Vec::new();
    for p in &scenario.producers {
        clients.push(ClientInfo {
            name: p.name.clone(),
            actor: ActorId(actor_names.len() as u32),
            kind: ClientKind::Producer,
            group: None,
        });
        actor_names.push(p.name.clone());
    }
    for c in &scenario.consumers {
        clients.push(ClientInfo {
            name: c.name.clone(),
            actor: ActorId(actor_names.len() as u32),
            kind: ClientKind::Consumer,
            group: Some(c.group.clone()),
        });
        actor_names.push(c.name.clone());
    }
    // starts (and clean closes) in virtual-time order, consumers before producers at equal
    // times
    let mut starts: Vec<(u64, u8, usize)> = scenario
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.start_ms, 0, i))
        .chain(
            scenario
                .producers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.start_ms, 1, i)),
        )
        .chain(
            scenario
                .consumers
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.close_ms.map(|t| (t, 2, i))),
        )
        .collect();
    starts.sort();
    let mut live: Vec<LiveConsumer> = Vec::new();
    let payloads: Arc<Mutex<BTreeMap<RecordId, Payload>>> = Arc::default();
    let mut expected: BTreeSet<RecordId> = BTreeSet::new();
    let mut last_virtual = 0u64;
    for (at, kind, i) in starts {
        settle(&mut live, meta, names, &rec, opts.settle_timeout)?;
        pause(
            &mut live,
            names,
            &rec,
            scaled(at - last_virtual.min(at), opts.scale),
        )?;
        last_virtual = at;
        if kind == 2 {
            // a clean close: the consumer commits, revokes and leaves the group
            let actor = 1 + scenario.producers.len() as u32 + i as u32;
            if let Some(pos) = live.iter().position(|c| c.actor == actor) {
                let c = live.remove(pos);
                drop(c.consumer);
                rec.record(actor, Event::Closed);
            }
            continue;
        }
        if kind == 0 {
            let c = &scenario.consumers[i];
            let cfg = scenario
                .consumer_config(i)
                .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
            let actor = 1 + scenario.producers.len() as u32 + i as u32;
            let ctx = ConsumerCtx {
                rec: rec.clone(),
                names: names.clone(),
                actor,
                group: c.group.as_str().into(),
                generation: Mutex::new(0),
                owned: Mutex::default(),
                fresh: Mutex::default(),
            };
            // librdkafka refuses a list that mixes eager and cooperative assignors (Java accepts
            // it, elects the first, and rebalances eagerly): give it the eager ones, which is
            // what such a group runs
            let eager_only = cfg.assignors.iter().any(|a| !a.is_cooperative());
            let assignors: Vec<&str> = cfg
                .assignors
                .iter()
                .filter(|a| !eager_only || !a.is_cooperative())
                .map(|a| a.name())
                .collect();
            let mut config = ClientConfig::new();
            config
                .set("bootstrap.servers", bootstrap)
                .set("group.id", format!("{}-{}", cfg.group_id, names.suffix))
                .set("client.id", &*cfg.client_id)
                .set("enable.auto.commit", cfg.enable_auto_commit.to_string())
                .set("auto.commit.interval.ms", cfg.auto_commit_interval_ms.to_string())
                .set(
                    "auto.offset.reset",
                    match cfg.auto_offset_reset {
                        models::protocol::OffsetSpec::Earliest => "earliest",
                        models::protocol::OffsetSpec::Latest => "latest",
                    },
                )
                // the mock cluster completes a rebalance only when the session timeout runs
                // out: shorter timeouts there keep the run short (outcomes are unaffected)
                .set(
                    "session.timeout.ms",
                    if mock {
                        cfg.session_timeout_ms.min(6_000)
                    } else {
                        cfg.session_timeout_ms
                    }
                    .to_string(),
                )
                .set(
                    "heartbeat.interval.ms",
                    if mock {
                        cfg.heartbeat_interval_ms.min(1_000)
                    } else {
                        cfg.heartbeat_interval_ms
                    }
                    .to_string(),
                )
                .set("max.poll.interval.ms", cfg.max_poll_interval_ms.to_string())
                .set("fetch.wait.max.ms", cfg.fetch_max_wait_ms.to_string())
                .set("partition.assignment.strategy", assignors.join(","));
            if let Some(inst) = &cfg.group_instance_id {
                config.set("group.instance.id", &**inst);
            }
            let consumer: BaseConsumer<ConsumerCtx> = config
                .create_with_context(ctx)
                .map_err(failed("create a consumer"))?;
            let topics: Vec<u32> = c
                .topics
                .iter()
                .map(|t| meta.topic_index(t).expect("validated"))
                .collect();
            let subscribe: Vec<&str> = topics.iter().map(|t| names.real[*t as usize].as_str()).collect();
            consumer.subscribe(&subscribe).map_err(failed("subscribe"))?;
            consumer
                .fetch_metadata(None, opts.connect_timeout)
                .map_err(failed("consumer metadata"))?;
            rec.record(actor, Event::Connected);
            live.push(LiveConsumer {
                actor,
                group: c.group.clone(),
                topics,
                consumer,
                reset: cfg.auto_offset_reset,
            });
        } else {
            let p = &scenario.producers[i];
            let actor = 1 + i as u32;
            let ctx = ProducerCtx {
                rec: rec.clone(),
                names: names.clone(),
                actor,
                payloads: payloads.clone(),
            };
            let partitioner = opts
                .partitioner
                .clone()
                .unwrap_or_else(|| partitioner_for(p.profile).to_string());
            let producer: BaseProducer<ProducerCtx> = ClientConfig::new()
                .set("bootstrap.servers", bootstrap)
                .set("partitioner", &partitioner)
                .set("linger.ms", "0")
                .create_with_context(ctx)
                .map_err(failed("create a producer"))?;
            producer
                .client()
                .fetch_metadata(None, opts.connect_timeout)
                .map_err(failed("producer metadata"))?;
            rec.record(actor, Event::Connected);
            let topic = &names.real[meta.topic_index(&p.topic).expect("validated") as usize];
            let records = models::producer::Records::from_spec(p);
            let count = records.len();
            for seq in 0..count {
                let id = RecordId {
                    producer: i as u32,
                    seq,
                };
                let (payload, partition) = records.get(seq);
                payloads.lock().expect("payloads").insert(id, payload.clone());
                expected.insert(id);
                let idb = id_bytes(id);
                let headers = OwnedHeaders::new().insert(Header {
                    key: ID_HEADER,
                    value: Some(&idb[..]),
                });
                let mut record: BaseRecord<'_, [u8], [u8], usize> =
                    BaseRecord::with_opaque_to(topic, (i << 32) | seq as usize).headers(headers);
                if let Some(k) = payload.key() {
                    record = record.key(k);
                }
                if let Some(v) = payload.value() {
                    record = record.payload(v);
                }
                if let Some(part) = partition {
                    record = record.partition(part as i32);
                }
                producer
                    .send(record)
                    .map_err(|(e, _)| AdapterError::Failed(format!("send: {e}")))?;
                producer.poll(Duration::ZERO);
                pump(&mut live, names, &rec)?;
                if p.interval_ms > 0 {
                    pause(&mut live, names, &rec, scaled(p.interval_ms, opts.scale))?;
                }
            }
            producer.flush(Duration::from_secs(30)).map_err(failed("flush"))?;
            rec.record(actor, Event::ProducerDone { records: count });
            rec.record(actor, Event::Closed);
        }
    }
    // the last start may have set off a rebalance: let it finish, then drain
    settle(&mut live, meta, names, &rec, opts.settle_timeout)?;
    // drain: every group consumes every record (or the timeout)
    let deadline = Instant::now() + opts.drain_timeout;
    let groups: BTreeSet<String> = live.iter().map(|c| c.group.clone()).collect();
    loop {
        pump(&mut live, names, &rec)?;
        let entries = rec.entries.lock().expect("recorder");
        let done = groups.iter().all(|g| {
            let seen: BTreeSet<RecordId> = entries
                .iter()
                .filter_map(|(_, _, e)| match e {
                    Event::Consumed { group, id, .. } if &**group == g => Some(*id),
                    _ => None,
                })
                .collect();
            expected.is_subset(&seen)
        });
        drop(entries);
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let end = rec.start.elapsed().as_micros() as u64;
    rec.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in live.drain(..) {
        drop(c.consumer);
    }
    let mut entries = std::mem::take(&mut *rec.entries.lock().expect("recorder"));
    entries.sort_by_key(|(t, _, _)| *t);
    let mut trace = Trace::new(actor_names);
    for (t, a, e) in entries {
        trace.push(Time::us(t), ActorId(a), e);
    }
    Ok(Run {
        trace,
        meta: meta.clone(),
        clients,
        broker: ActorId(0),
        brokers: vec![ActorId(0)],
        events: 0,
        end: Time::us(end),
        seed,
    })
}

/// Polls every consumer until it has nothing more right now; records what they consume and,
/// after each new assignment, the positions they start from.
fn pump(live: &mut [LiveConsumer], names: &Names, rec: &Recorder) -> Result<(), AdapterError> {
    for c in live.iter_mut() {
        for _ in 0..10_000 {
            match c.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(_)) => continue,
                Some(Ok(m)) => {
                    let Some(tp) = names.tp(m.topic(), m.partition()) else {
                        continue;
                    };
                    let id = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == ID_HEADER)
                            .and_then(|h| h.value.and_then(id_from))
                    });
                    let Some(id) = id else { continue };
                    let payload = Payload::new(m.key(), m.payload());
                    let generation = *c.consumer.context().generation.lock().expect("generation");
                    rec.record(
                        c.actor,
                        Event::Consumed {
                            group: c.group.as_str().into(),
                            generation,
                            tp,
                            offset: m.offset(),
                            id,
                            payload,
                        },
                    );
                }
            }
        }
        let fresh: Vec<Tp> = std::mem::take(&mut *c.consumer.context().fresh.lock().expect("fresh"));
        if !fresh.is_empty() {
            record_positions(c, &fresh, names, rec)?;
        }
    }
    Ok(())
}

/// Retries a broker look-up that can fail while leadership settles (`NotLeaderForPartition`,
/// metadata not yet propagated): up to 5 s.
fn retrying<T>(what: &str, mut f: impl FnMut() -> KafkaResult<T>) -> Result<T, AdapterError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(AdapterError::Failed(format!("{what}: {e}"))),
        }
    }
}

fn record_positions(c: &LiveConsumer, tps: &[Tp], names: &Names, rec: &Recorder) -> Result<(), AdapterError> {
    let mut tpl = TopicPartitionList::new();
    for tp in tps {
        tpl.add_partition(&names.real[tp.topic as usize], tp.partition as i32);
    }
    let committed = retrying("committed offsets", || {
        c.consumer.committed_offsets(tpl.clone(), Duration::from_secs(10))
    })?;
    for e in committed.elements() {
        let Some(tp) = names.tp(e.topic(), e.partition()) else {
            continue;
        };
        let (offset, from) = match e.offset() {
            Offset::Offset(o) => (o, "committed"),
            _ => {
                let (lo, hi) = retrying("watermarks", || {
                    c.consumer
                        .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(10))
                })?;
                match c.reset {
                    models::protocol::OffsetSpec::Earliest => (lo, "earliest"),
                    models::protocol::OffsetSpec::Latest => (hi, "latest"),
                }
            }
        };
        rec.record(
            c.actor,
            Event::PositionSet {
                group: c.group.as_str().into(),
                tp,
                offset,
                from,
            },
        );
    }
    Ok(())
}

/// `virtual_ms` of virtual time as real time at `scale` real seconds per virtual second:
/// zero for a scale that is not a non-negative number, at most an hour.
fn scaled(virtual_ms: u64, scale: f64) -> Duration {
    let secs = virtual_ms as f64 / 1000.0 * scale;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs.min(3600.0)).unwrap_or(Duration::ZERO)
}

fn pause(live: &mut [LiveConsumer], names: &Names, rec: &Recorder, d: Duration) -> Result<(), AdapterError> {
    let until = Instant::now() + d;
    loop {
        pump(live, names, rec)?;
        if Instant::now() >= until {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2).min(until - Instant::now()));
    }
}

/// Waits until every running consumer has an assignment and each group's assignments cover
/// every partition of its topics.
fn settle(
    live: &mut [LiveConsumer],
    meta: &Metadata,
    names: &Names,
    rec: &Recorder,
    timeout: Duration,
) -> Result<(), AdapterError> {
    if live.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut settled_since: Option<Instant> = None;
    loop {
        pump(live, names, rec)?;
        let mut ok = live
            .iter()
            .all(|c| *c.consumer.context().generation.lock().expect("generation") > 0);
        let groups: BTreeSet<&str> = live.iter().map(|c| c.group.as_str()).collect();
        for g in groups {
            let members: Vec<&LiveConsumer> = live.iter().filter(|c| c.group == g).collect();
            let owned: BTreeSet<Tp> = members
                .iter()
                .flat_map(|c| c.consumer.context().owned.lock().expect("owned").clone())
                .collect();
            let wanted: BTreeSet<Tp> = members
                .iter()
                .flat_map(|c| {
                    c.topics
                        .iter()
                        .flat_map(|t| (0..meta.partitions(*t)).map(|p| Tp::new(*t, p)))
                })
                .collect();
            ok &= owned == wanted;
        }
        // settled, and still settled a moment later (no rebalance about to start)
        match (ok, settled_since) {
            (true, Some(since)) if since.elapsed() > Duration::from_millis(500) => return Ok(()),
            (true, None) => settled_since = Some(Instant::now()),
            (false, _) => settled_since = None,
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(AdapterError::Failed(format!(
                "the groups did not settle within {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
