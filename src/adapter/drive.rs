//! Driving the real clients through a scenario: consumers and producers start (and consumers
//! close) in the scenario's order, each start after every group settled, virtual gaps played
//! as scaled real pauses; then every group drains what was produced, and what the clients
//! reported becomes the run's history.

use super::poll::{assign_all, pause, pump, scaled, settle, LiveConsumer};
use super::record::{id_bytes, ConsumerCtx, Names, ProducerCtx, Recorder, ID_HEADER};
use super::transactions::{self, EndState, Pipeline, TxnIds};
use super::{failed, AdapterError, Options};
use models::history::Event;
use models::scenario::Scenario;
use models::types::{Metadata, Payload, RecordId, Tp};
use models::world::{ClientInfo, ClientKind, Run};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use sim::{ActorId, Time, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What happens next in the scenario, in virtual-time order; at equal times consumers start
/// before producers, and closes come last (the derived order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// Consumer `i` starts.
    Consumer(usize),
    /// Producer `i` starts and sends all its records.
    Producer(usize),
    /// Consumer `i` closes cleanly.
    Close(usize),
}

/// The scenario's steps, sorted by virtual time (ms).
fn steps(scenario: &Scenario) -> Vec<(u64, Step)> {
    let mut steps: Vec<(u64, Step)> = scenario
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.start_ms, Step::Consumer(i)))
        .chain(
            scenario
                .producers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.start_ms, Step::Producer(i))),
        )
        .chain(
            scenario
                .consumers
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.close_ms.map(|t| (t, Step::Close(i)))),
        )
        .collect();
    steps.sort();
    steps
}

/// The actors' names — 0 is the broker, then producers, then consumers (as in the
/// simulator) — and the clients.
fn actors(scenario: &Scenario) -> (Vec<String>, Vec<ClientInfo>) {
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
    (actor_names, clients)
}

/// The partitioner of a client profile.
fn partitioner_for(profile: models::config::Profile) -> &'static str {
    match profile {
        models::config::Profile::Librdkafka => "consistent_random",
        _ => "murmur2_random",
    }
}

/// One real run in progress.
pub(super) struct Driver<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) bootstrap: &'a str,
    pub(super) meta: &'a Arc<Metadata>,
    pub(super) names: &'a Arc<Names>,
    pub(super) opts: &'a Options,
    /// Against librdkafka's mock cluster.
    pub(super) mock: bool,
}

impl Driver<'_> {
    /// Runs the scenario's clients and returns what they reported as a [`Run`], with what
    /// the broker holds at the end (for a scenario with transactions).
    pub(super) fn drive(&self, seed: u64) -> Result<(Run, EndState), AdapterError> {
        let (scenario, opts) = (self.scenario, self.opts);
        let quiet = crate::compare::settle_quiet(scenario);
        let rec = Arc::new(Recorder {
            start: Instant::now(),
            entries: Mutex::new(Vec::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        });
        let (actor_names, clients) = actors(scenario);
        let mut live: Vec<LiveConsumer> = Vec::new();
        let payloads: Arc<Mutex<BTreeMap<RecordId, Payload>>> = Arc::default();
        let mut last_virtual = 0u64;
        for (at, step) in steps(scenario) {
            settle(
                &mut live,
                self.meta,
                self.names,
                &rec,
                (opts.settle_timeout, quiet),
            )?;
            let gap = scaled(at - last_virtual.min(at), opts.scale);
            pause(&mut live, self.names, &rec, gap)?;
            last_virtual = at;
            match step {
                Step::Close(i) => {
                    // a clean close: the consumer commits, revokes and leaves the group
                    let actor = 1 + scenario.producers.len() as u32 + i as u32;
                    if let Some(pos) = live.iter().position(|c| c.actor == actor) {
                        let c = live.remove(pos);
                        drop(c.consumer);
                        rec.record(actor, Event::Closed);
                    }
                }
                Step::Consumer(i) => live.push(self.start_consumer(i, &rec, &payloads)?),
                Step::Producer(i) => self.produce(i, &rec, &payloads, &mut live)?,
            }
        }
        // the last start may have set off a rebalance: let it finish, then drain
        settle(
            &mut live,
            self.meta,
            self.names,
            &rec,
            (opts.settle_timeout, quiet),
        )?;
        self.drain(&mut live, &rec)?;
        let end = rec.start.elapsed().as_micros() as u64;
        let state = self.end_state(&live)?;
        rec.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in live.drain(..) {
            drop(c.consumer);
        }
        let mut entries = std::mem::take(&mut *rec.entries.lock().expect("recorder"));
        entries.sort_by_key(|(t, _, _)| *t);
        entries.extend(transactions::markers(&entries, &state.log_end));
        entries.sort_by_key(|(t, _, _)| *t);
        let mut trace = Trace::new(actor_names);
        for (t, a, e) in entries {
            trace.push(Time::us(t), ActorId(a), e);
        }
        let run = Run {
            trace,
            meta: self.meta.clone(),
            clients,
            broker: ActorId(0),
            brokers: vec![ActorId(0)],
            events: 0,
            end: Time::us(end),
            seed,
        };
        Ok((run, state))
    }

    /// For a scenario with transactions: every partition's log end offset, and each
    /// pipeline group's committed offsets, as the broker answers them.
    fn end_state(&self, live: &[LiveConsumer]) -> Result<EndState, AdapterError> {
        let mut state = EndState::default();
        if !self.scenario.has_transactions() {
            return Ok(state);
        }
        state.log_end = transactions::log_ends(self.bootstrap, self.meta, self.names)?;
        for c in live.iter().filter(|c| c.pipeline.is_some()) {
            let tps: Vec<Tp> = c
                .topics
                .iter()
                .flat_map(|t| (0..self.meta.partitions(*t)).map(|p| Tp::new(*t, p)))
                .collect();
            let got = transactions::committed(&c.consumer, &tps, self.names)?;
            state.committed.entry(c.group.clone()).or_default().extend(got);
        }
        Ok(state)
    }

    /// Starts consumer `i`: creates it, subscribes it and waits for its metadata.
    fn start_consumer(
        &self,
        i: usize,
        rec: &Arc<Recorder>,
        payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
    ) -> Result<LiveConsumer, AdapterError> {
        let (scenario, meta, names) = (self.scenario, self.meta, self.names);
        let c = &scenario.consumers[i];
        let mut cfg = scenario
            .consumer_config(i)
            .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
        if c.pipeline.is_some() {
            // its offsets go with the transactions
            cfg.enable_auto_commit = false;
        }
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
        let consumer: BaseConsumer<ConsumerCtx> = self
            .consumer_config(&cfg)
            .create_with_context(ctx)
            .map_err(failed("create a consumer"))?;
        let topics: Vec<u32> = c
            .topics
            .iter()
            .map(|t| meta.topic_index(t).expect("validated"))
            .collect();
        if c.group.is_empty() {
            assign_all(
                &consumer,
                meta,
                names,
                &topics,
                (actor, cfg.auto_offset_reset),
                rec,
            )?;
        } else {
            let subscribe: Vec<&str> = topics.iter().map(|t| names.real[*t as usize].as_str()).collect();
            consumer.subscribe(&subscribe).map_err(failed("subscribe"))?;
        }
        consumer
            .fetch_metadata(None, self.opts.connect_timeout)
            .map_err(failed("consumer metadata"))?;
        rec.record(actor, Event::Connected);
        let pipeline = match &c.pipeline {
            Some(spec) => Some(self.pipeline(spec, cfg.max_poll_records, rec, payloads)?),
            None => None,
        };
        Ok(LiveConsumer {
            actor,
            group: c.group.clone(),
            topics,
            consumer,
            reset: cfg.auto_offset_reset,
            read_committed: cfg.isolation_level == models::protocol::IsolationLevel::ReadCommitted,
            pipeline,
        })
    }

    /// The transactional producer of a pipeline consumer's process, initialised.
    fn pipeline(
        &self,
        spec: &models::scenario::PipelineSpec,
        max_poll_records: usize,
        rec: &Arc<Recorder>,
        payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
    ) -> Result<Pipeline, AdapterError> {
        let j = self
            .scenario
            .producers
            .iter()
            .position(|p| p.name == spec.producer)
            .expect("validated");
        let tid = self
            .scenario
            .producer_config(j)
            .map_err(|e| AdapterError::Unsupported(e.to_string()))?
            .transactional_id
            .ok_or_else(|| {
                AdapterError::Unsupported(format!("producer {}: no transactional.id", spec.producer))
            })?;
        let producer = self.producer(j, rec, payloads, Some(&tid))?;
        rec.record(1 + j as u32, Event::Connected);
        Ok(Pipeline {
            producer,
            ids: TxnIds::new(1 + j as u32, &tid),
            producer_index: j as u32,
            output: self.names.real[self.meta.topic_index(&spec.output).expect("validated") as usize].clone(),
            next_seq: 0,
            max_poll_records,
            payloads: payloads.clone(),
        })
    }

    /// The consumer's configuration under librdkafka's names.
    fn consumer_config(&self, cfg: &models::config::ConsumerConfig) -> ClientConfig {
        let mock = self.mock;
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
        // librdkafka's assign() needs a group.id too; a consumer without a group gets one
        // of its own that it never joins nor commits to
        let group = if cfg.group_id.is_empty() {
            &*cfg.client_id
        } else {
            &*cfg.group_id
        };
        config.set("group.id", format!("{group}-{}", self.names.suffix));
        config
            .set("bootstrap.servers", self.bootstrap)
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
            // librdkafka's default is read_committed; Kafka's (and the model's) read_uncommitted
            .set(
                "isolation.level",
                match cfg.isolation_level {
                    models::protocol::IsolationLevel::ReadCommitted => "read_committed",
                    models::protocol::IsolationLevel::ReadUncommitted => "read_uncommitted",
                },
            )
            .set("partition.assignment.strategy", assignors.join(","));
        if let Some(inst) = &cfg.group_instance_id {
            config.set("group.instance.id", &**inst);
        }
        config
    }

    /// Starts producer `i` and sends its records (each identified by the `ksim-id` header),
    /// pausing between them and keeping the consumers polled — in transactions when it has
    /// `transactions` — then flushes and closes it. The producer of a pipeline's process
    /// starts with its consumer instead.
    fn produce(
        &self,
        i: usize,
        rec: &Arc<Recorder>,
        payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
        live: &mut [LiveConsumer],
    ) -> Result<(), AdapterError> {
        let (p, names, opts) = (&self.scenario.producers[i], self.names, self.opts);
        if self.scenario.pipeline_of(&p.name).is_some() {
            return Ok(());
        }
        let cfg = self
            .scenario
            .producer_config(i)
            .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
        if cfg.transactional_id.is_some() && p.transactions.is_none() {
            return Err(AdapterError::Unsupported(format!(
                "producer {}: a transactional.id without transactions or a pipeline is not staged",
                p.name
            )));
        }
        let actor = 1 + i as u32;
        let producer = self.producer(i, rec, payloads, cfg.transactional_id.as_deref())?;
        rec.record(actor, Event::Connected);
        let count = if p.transactions.is_some() {
            self.produce_transactions(i, &producer, rec, payloads, live)?
        } else {
            let topic = &names.real[self.meta.topic_index(&p.topic).expect("validated") as usize];
            let records = models::producer::Records::from_spec(p);
            for seq in 0..records.len() {
                let id = RecordId {
                    producer: i as u32,
                    seq,
                };
                let (payload, partition) = records.get(seq);
                send_record(&producer, topic, id, &payload, partition, payloads)?;
                pump(live, names, rec)?;
                if p.interval_ms > 0 {
                    let gap = scaled(p.interval_ms, opts.scale);
                    pause(live, names, rec, gap)?;
                }
            }
            records.len()
        };
        producer.flush(Duration::from_secs(30)).map_err(failed("flush"))?;
        rec.record(actor, Event::ProducerDone { records: count });
        rec.record(actor, Event::Closed);
        Ok(())
    }

    /// Producer `i`, with its profile's partitioner (or the one the options force), once it
    /// has the cluster's metadata.
    fn producer(
        &self,
        i: usize,
        rec: &Arc<Recorder>,
        payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
        transactional_id: Option<&str>,
    ) -> Result<BaseProducer<ProducerCtx>, AdapterError> {
        let p = &self.scenario.producers[i];
        let ctx = ProducerCtx {
            rec: rec.clone(),
            names: self.names.clone(),
            actor: 1 + i as u32,
            payloads: payloads.clone(),
        };
        let partitioner = self
            .opts
            .partitioner
            .clone()
            .unwrap_or_else(|| partitioner_for(p.profile).to_string());
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap)
            .set("partitioner", &partitioner)
            .set("linger.ms", "0");
        if let Some(tid) = transactional_id {
            // per run, as topics and groups are
            config
                .set("transactional.id", format!("{tid}-{}", self.names.suffix))
                .set("enable.idempotence", "true");
        }
        let producer: BaseProducer<ProducerCtx> = config
            .create_with_context(ctx)
            .map_err(failed("create a producer"))?;
        producer
            .client()
            .fetch_metadata(None, self.opts.connect_timeout)
            .map_err(failed("producer metadata"))?;
        if transactional_id.is_some() {
            producer
                .init_transactions(self.opts.connect_timeout.max(Duration::from_secs(30)))
                .map_err(failed("init_transactions"))?;
        }
        Ok(producer)
    }

    /// Polls until every group has consumed every record acknowledged on its topics (a
    /// `read_committed` group: but those of aborted transactions), or the drain timeout.
    fn drain(&self, live: &mut [LiveConsumer], rec: &Recorder) -> Result<(), AdapterError> {
        let deadline = Instant::now() + self.opts.drain_timeout;
        let mut groups: BTreeMap<String, (BTreeSet<u32>, bool)> = BTreeMap::new();
        for c in live.iter() {
            let g = groups.entry(c.group.clone()).or_default();
            g.0.extend(c.topics.iter().copied());
            g.1 |= c.read_committed;
        }
        loop {
            pump(live, self.names, rec)?;
            let entries = rec.entries.lock().expect("recorder");
            let aborted = aborted_records(&entries);
            let done = groups.iter().all(|(g, (topics, read_committed))| {
                let seen: BTreeSet<RecordId> = entries
                    .iter()
                    .filter_map(|(_, _, e)| match e {
                        Event::Consumed { group, id, .. } if &**group == g => Some(*id),
                        _ => None,
                    })
                    .collect();
                entries.iter().all(|(_, _, e)| match e {
                    Event::Produced { id, tp, .. } if topics.contains(&tp.topic) => {
                        seen.contains(id) || (*read_committed && aborted.contains(id))
                    }
                    _ => true,
                })
            });
            drop(entries);
            if done || Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The records acknowledged in transactions that were aborted.
fn aborted_records(entries: &[(u64, u32, Event)]) -> BTreeSet<RecordId> {
    let mut open: BTreeMap<u32, Vec<RecordId>> = BTreeMap::new();
    let mut aborted = BTreeSet::new();
    for (_, actor, e) in entries {
        match e {
            Event::Txn(t) if t.step == models::history::TxnStep::Begin => {
                open.insert(*actor, Vec::new());
            }
            Event::Txn(t) if t.step == models::history::TxnStep::Aborted => {
                aborted.extend(open.remove(actor).unwrap_or_default());
            }
            Event::Txn(t) if t.step == models::history::TxnStep::Committed => {
                open.remove(actor);
            }
            Event::Produced { id, .. } => {
                if let Some(txn) = open.get_mut(actor) {
                    txn.push(*id);
                }
            }
            _ => {}
        }
    }
    aborted
}

/// Sends record `id` to `topic` (its identity in the `ksim-id` header, its payload kept for
/// the delivery report) and serves the producer's callbacks.
pub(super) fn send_record(
    producer: &BaseProducer<ProducerCtx>,
    topic: &str,
    id: RecordId,
    payload: &Payload,
    partition: Option<u32>,
    payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
) -> Result<(), AdapterError> {
    payloads.lock().expect("payloads").insert(id, payload.clone());
    let idb = id_bytes(id);
    let headers = OwnedHeaders::new().insert(Header {
        key: ID_HEADER,
        value: Some(&idb[..]),
    });
    let opaque = ((id.producer as usize) << 32) | id.seq as usize;
    let mut record: BaseRecord<'_, [u8], [u8], usize> =
        BaseRecord::with_opaque_to(topic, opaque).headers(headers);
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
    Ok(())
}
