//! Builds a simulation from a [`Scenario`] and runs it.
//!
//! Broker actors `broker-1` … `broker-N` (and, with more than one, the `controller`), one
//! actor per producer and consumer under its scenario name; start and close times and faults
//! become scheduled inputs. The result is the trace plus what a
//! renderer needs to name things. Same scenario and seed, same [`Run`], to the byte.
//!
//! A consumer runs the built-in application its scenario entry describes (`commit`,
//! `processing_ms`), or the user's own [`ConsumerApp`], registered by consumer name in
//! [`Apps`] and passed to [`run_with_apps`] / [`Prepared::run_with_apps`]: the user's code
//! then is the software of that consumer's process.

use crate::broker::{Broker, BrokerConfig};
use crate::cluster::ClusterState;
use crate::config::{ConsumerConfig, ProducerConfig, Profile};
use crate::consumer::{Behaviour, Consumer, ConsumerApp};
use crate::controller::{Controller, ControllerConfig};
use crate::coordinator::GroupConfig;
use crate::history::Event;
use crate::producer::{Producer, Records};
use crate::protocol::Msg;
use crate::scenario::limits::RunError;
use crate::scenario::{broker_name, Scenario, ScenarioError, CONTROLLER_NAME};
use crate::types::Metadata;
use sim::{ActorId, Limits, NetConfig, Sim, Stuck, Time, Trace};
use std::collections::BTreeMap;
use std::sync::Arc;

mod faults;
use faults::{inject_rules, schedule_faults};

/// What kind of process a client is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// A producer.
    Producer,
    /// A consumer.
    Consumer,
}

/// A client of the run.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Scenario name.
    pub name: String,
    /// Its actor.
    pub actor: ActorId,
    /// Producer or consumer.
    pub kind: ClientKind,
    /// Its group, for consumers.
    pub group: Option<String>,
}

/// A finished run.
pub struct Run {
    /// Everything that happened.
    pub trace: Trace<Event>,
    /// The cluster's topics.
    pub meta: Arc<Metadata>,
    /// Producers then consumers, in scenario order.
    pub clients: Vec<ClientInfo>,
    /// The first broker's actor.
    pub broker: ActorId,
    /// Every broker's actor, by node id − 1.
    pub brokers: Vec<ActorId>,
    /// Events the engine handled.
    pub events: u64,
    /// Virtual time at the end.
    pub end: Time,
    /// The seed.
    pub seed: u64,
}

/// A simulation built from a scenario, ready to run.
pub struct Built {
    /// The simulation, with every start and close scheduled.
    pub sim: Sim<Msg, Event>,
    /// The cluster's topics.
    pub meta: Arc<Metadata>,
    /// Producers then consumers, in scenario order.
    pub clients: Vec<ClientInfo>,
    /// The first broker's actor.
    pub broker: ActorId,
    /// Every broker's actor, by node id − 1.
    pub brokers: Vec<ActorId>,
}

/// Makes a fresh instance of a user's application (one per run: a run owns its apps).
pub type AppFactory = Arc<dyn Fn() -> Box<dyn ConsumerApp> + Send + Sync>;

/// Makes a fresh instance of a user's producer application.
pub type ProducerAppFactory = Arc<dyn Fn() -> Box<dyn crate::producer::ProducerApp> + Send + Sync>;

/// The user's applications, by the scenario name of the consumer each runs in; consumers not
/// named here run their built-in application.
///
/// ```
/// use kafka_sim_models::consumer::{AppCtx, ConsumedRecord, ConsumerApp};
/// use kafka_sim_models::world::Apps;
///
/// /// Commits each record once it is processed.
/// struct EachRecord;
/// impl ConsumerApp for EachRecord {
///     fn on_record(&mut self, ctx: &mut AppCtx, record: &ConsumedRecord) {
///         ctx.commit_sync(&[(record.tp, record.offset + 1)]);
///     }
/// }
/// let apps = Apps::new().consumer("consumer-1", || Box::new(EachRecord));
/// ```
#[derive(Clone, Default)]
pub struct Apps {
    consumers: BTreeMap<String, AppFactory>,
    producer_apps: BTreeMap<String, ProducerAppFactory>,
    producers: BTreeMap<String, String>,
    assignments: BTreeMap<String, Vec<(String, u32)>>,
}

impl Apps {
    /// No user applications.
    pub fn new() -> Apps {
        Apps::default()
    }

    /// Whether it names no application, producer or assignment (every client runs its
    /// built-in application).
    pub fn is_empty(&self) -> bool {
        self.consumers.is_empty()
            && self.producer_apps.is_empty()
            && self.producers.is_empty()
            && self.assignments.is_empty()
    }

    /// Runs the application `make` builds in the consumer named `consumer`. The scenario's
    /// `commit` and `processing_ms` for it no longer apply; auto-commit follows its
    /// `enable.auto.commit`.
    pub fn consumer(
        mut self,
        consumer: &str,
        make: impl Fn() -> Box<dyn ConsumerApp> + Send + Sync + 'static,
    ) -> Apps {
        self.consumers.insert(consumer.to_string(), Arc::new(make));
        self
    }

    /// Runs the producer application `make` builds in the producer named `producer`: it
    /// decides what to send and when, and how to react to acknowledgements and failures
    /// (see [`crate::producer::ProducerApp`]). The scenario's `messages`, `generate` and
    /// `interval_ms` for it no longer apply; its `topic` is where records that name none go.
    pub fn producer_app(
        mut self,
        producer: &str,
        make: impl Fn() -> Box<dyn crate::producer::ProducerApp> + Send + Sync + 'static,
    ) -> Apps {
        self.producer_apps.insert(producer.to_string(), Arc::new(make));
        self
    }

    /// The producer named `producer` shares a process with the consumer named `consumer`:
    /// what its application hands over with `AppCtx::produce` goes to that producer.
    pub fn producer(mut self, consumer: &str, producer: &str) -> Apps {
        self.producers.insert(consumer.to_string(), producer.to_string());
        self
    }

    /// The consumer named `consumer` reads `partitions` (topic, partition) by Kafka's
    /// `assign()`, with no group membership, instead of subscribing to its topics (see
    /// [`Consumer::assign`]); its application, built-in or the user's, runs as usual.
    pub fn assign(mut self, consumer: &str, partitions: &[(&str, u32)]) -> Apps {
        let partitions = partitions.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        self.assignments.insert(consumer.to_string(), partitions);
        self
    }

    /// Every name must be one of `scenario`'s consumers (and producers, topics, partitions).
    fn check(&self, scenario: &Scenario) -> Result<(), ScenarioError> {
        let unknown = |path: String, message: String| Err(ScenarioError { path, message });
        let consumer = |name: &str| scenario.consumers.iter().any(|c| c.name == name);
        for (c, tps) in &self.assignments {
            if !consumer(c) {
                return unknown(
                    format!("apps.{c}"),
                    format!("the scenario has no consumer named `{c}`"),
                );
            }
            for (topic, partition) in tps {
                if scenario.topic(topic).is_none_or(|t| *partition >= t.partitions) {
                    let message = format!("the scenario has no partition {partition} of a topic `{topic}`");
                    return unknown(format!("apps.{c}.assign"), message);
                }
            }
        }
        for name in self.consumers.keys() {
            if !consumer(name) {
                return unknown(
                    format!("apps.{name}"),
                    format!("the scenario has no consumer named `{name}`"),
                );
            }
        }
        for p in self.producer_apps.keys() {
            if !scenario.producers.iter().any(|q| &q.name == p) {
                return unknown(
                    format!("apps.{p}"),
                    format!("the scenario has no producer named `{p}`"),
                );
            }
        }
        for (c, p) in &self.producers {
            if !consumer(c) {
                return unknown(
                    format!("apps.{c}"),
                    format!("the scenario has no consumer named `{c}`"),
                );
            }
            if !scenario.producers.iter().any(|q| &q.name == p) {
                return unknown(
                    format!("apps.{c}.producer"),
                    format!("the scenario has no producer named `{p}`"),
                );
            }
        }
        Ok(())
    }
}

/// A scenario checked and turned into what every seed's run starts from — metadata, the
/// cluster image, each actor's configuration — so that a sweep does this once, not per seed.
/// Nothing here depends on the seed.
pub struct Prepared<'a> {
    scenario: &'a Scenario,
    meta: Arc<Metadata>,
    cluster: Arc<ClusterState>,
    brokers: Vec<BrokerConfig>,
    /// The controller's actor and configuration, with more than one broker.
    controller: Option<(ActorId, ControllerConfig)>,
    producers: Vec<(ProducerConfig, Records)>,
    consumers: Vec<ConsumerConfig>,
    idle: IdleMode,
}

/// How idle long-polls (`fetch.max.wait.ms` with nothing to read) and classic heartbeats are
/// simulated. Both give the same history (`tests/idle.rs`); they differ in the events taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IdleMode {
    /// Every cycle (a Fetch, its expiry, the empty answer) and every Heartbeat and answer.
    Cycles,
    /// Fetches parked across their expiries and heartbeat chains, computed (the default, on a
    /// one-broker cluster in a scenario without faults; elsewhere [`IdleMode::Cycles`]).
    Parked,
}

impl<'a> Prepared<'a> {
    /// Checks `scenario` and prepares it.
    pub fn new(scenario: &'a Scenario) -> Result<Prepared<'a>, ScenarioError> {
        scenario.validate()?;
        let meta = Arc::new(scenario.metadata());
        let group_cfg = GroupConfig {
            initial_rebalance_delay_us: Time::ms(scenario.broker.group_initial_rebalance_delay_ms).as_us(),
        };
        let b = &scenario.broker;
        let n = scenario.cluster.brokers;
        // brokers are the first actors: ids 0..n
        let broker_ids: Vec<ActorId> = (0..n).map(ActorId).collect();
        let controller_id = (n > 1).then_some(ActorId(n));
        // per topic in metadata order, then the offsets topic
        let specs: Vec<&crate::scenario::TopicSpec> = meta
            .topics
            .iter()
            .map(|t| scenario.topic(&t.name).expect("metadata comes from the topics"))
            .collect();
        let layout: Vec<(u32, u32)> = specs
            .iter()
            .map(|t| (t.partitions, scenario.replication_factor(t)))
            .collect();
        let mut cluster = ClusterState::initial(
            broker_ids,
            &layout,
            b.offsets_topic_num_partitions,
            b.offsets_topic_replication_factor,
        );
        let mut min_isr: Vec<u32> = specs.iter().map(|t| scenario.min_insync_replicas(t)).collect();
        min_isr.push(b.min_insync_replicas);
        let mut retention: Vec<Option<Time>> = specs
            .iter()
            .map(|t| scenario.retention_ms(t).map(Time::ms))
            .collect();
        retention.push(None);
        let mut unclean: Vec<bool> = specs
            .iter()
            .map(|t| scenario.unclean_leader_election(t))
            .collect();
        unclean.push(false);
        if scenario.has_transactions() {
            // `__transaction_state`: transaction.state.log.num.partitions=50,
            // .replication.factor=3 and .min.isr=2 (capped at the brokers)
            let rf = 3.min(n);
            cluster = cluster.with_transaction_state(50, rf);
            min_isr.push(2.min(rf));
            retention.push(None);
            unclean.push(false);
        }
        let cluster = Arc::new(cluster);
        let brokers = (1..=n)
            .map(|node| BrokerConfig {
                node,
                group: group_cfg,
                controller: controller_id,
                heartbeat_interval: Time::ms(b.broker_heartbeat_interval_ms),
                replica_lag_max: Time::ms(b.replica_lag_time_max_ms),
                replica_fetch_wait: Time::ms(b.replica_fetch_wait_max_ms),
                replica_socket_timeout: Time::ms(b.replica_socket_timeout_ms),
                min_isr: min_isr.clone(),
                retention: retention.clone(),
                retention_check: Time::ms(b.log_retention_check_interval_ms),
                inject: inject_rules(scenario, &meta, &cluster, node),
            })
            .collect();
        let controller = controller_id.map(|cid| {
            let cfg = ControllerConfig {
                session_timeout: Time::ms(b.broker_session_timeout_ms),
                check_interval: Time::ms((b.broker_heartbeat_interval_ms / 2).max(1)),
                unclean,
            };
            (cid, cfg)
        });
        let producers = (0..scenario.producers.len())
            .map(|i| {
                Ok((
                    scenario.producer_config(i)?,
                    Records::from_spec(&scenario.producers[i]),
                ))
            })
            .collect::<Result<_, ScenarioError>>()?;
        let consumers = (0..scenario.consumers.len())
            .map(|i| scenario.consumer_config(i))
            .collect::<Result<_, ScenarioError>>()?;
        let parkable = n == 1 && scenario.faults.is_empty();
        Ok(Prepared {
            scenario,
            meta,
            cluster,
            brokers,
            controller,
            producers,
            consumers,
            idle: if parkable {
                IdleMode::Parked
            } else {
                IdleMode::Cycles
            },
        })
    }

    /// Simulates idle long-polls cycle by cycle (`Cycles`) or parked (`Parked`, only where
    /// the default allows it: a one-broker cluster, no faults).
    pub fn with_idle(mut self, mode: IdleMode) -> Prepared<'a> {
        let parkable = self.scenario.cluster.brokers == 1 && self.scenario.faults.is_empty();
        self.idle = if parkable { mode } else { IdleMode::Cycles };
        self
    }

    /// How this run simulates idle long-polls.
    pub fn idle(&self) -> IdleMode {
        self.idle
    }

    /// Builds the simulation under `seed`, without running it.
    pub fn build(&self, seed: u64) -> Built {
        self.build_apps(seed, &Apps::default())
    }

    /// Builds the simulation under `seed` with the user's `apps`, without running it.
    pub fn build_with_apps(&self, seed: u64, apps: &Apps) -> Result<Built, ScenarioError> {
        apps.check(self.scenario)?;
        Ok(self.build_apps(seed, apps))
    }

    fn build_apps(&self, seed: u64, apps: &Apps) -> Built {
        let scenario = self.scenario;
        let meta = self.meta.clone();
        let cluster = &self.cluster;
        let mut sim = Sim::new(
            seed,
            NetConfig {
                base: Time::us(scenario.network.latency_us),
                jitter: Time::us(scenario.network.jitter_us),
            },
        );
        let broker_ids = cluster.brokers.clone();
        let controller_id = self.controller.as_ref().map(|(cid, _)| *cid);
        for cfg in &self.brokers {
            let node = cfg.node;
            let id = sim.add_actor(
                &broker_name(node),
                Box::new(Broker::new(meta.clone(), cluster.clone(), cfg.clone())),
            );
            assert_eq!(id, broker_ids[(node - 1) as usize]);
            if controller_id.is_some() {
                sim.schedule(Time::ZERO, id, Msg::Start);
            }
        }
        if let Some((cid, cfg)) = &self.controller {
            let cid = *cid;
            let id = sim.add_actor(
                CONTROLLER_NAME,
                Box::new(Controller::new(cluster.clone(), cfg.clone())),
            );
            assert_eq!(id, cid);
            sim.schedule(Time::ZERO, id, Msg::Start);
        }
        let broker = broker_ids[0];
        let mut clients = Vec::new();
        for (i, (p, (cfg, records))) in scenario.producers.iter().zip(&self.producers).enumerate() {
            let builtin: Option<Box<dyn crate::producer::ProducerApp>> = match &p.transactions {
                _ if scenario.pipeline_of(&p.name).is_some() => Some(Box::new(crate::producer::Companion)),
                Some(t) => Some(Box::new(
                    crate::producer::transactional::TransactionalProducer::new(
                        records.clone(),
                        Time::ms(p.interval_ms),
                        t.clone(),
                    ),
                )),
                None => None,
            };
            let actor = match apps.producer_apps.get(&p.name).map(|make| make()).or(builtin) {
                Some(app) => Producer::with_app(
                    i as u32,
                    cfg.clone(),
                    broker_ids.clone(),
                    Some(p.topic.as_str().into()),
                    app,
                ),
                None => Producer::new(
                    i as u32,
                    cfg.clone(),
                    broker_ids.clone(),
                    p.topic.as_str().into(),
                    records.clone(),
                    Time::ms(p.interval_ms),
                ),
            };
            let id = sim.add_actor(&p.name, Box::new(actor));
            sim.schedule(Time::ms(p.start_ms), id, Msg::Start);
            clients.push(ClientInfo {
                name: p.name.clone(),
                actor: id,
                kind: ClientKind::Producer,
                group: None,
            });
        }
        for (c, cfg) in scenario.consumers.iter().zip(&self.consumers) {
            let consumer = consumer_actor(c, cfg, &broker_ids, &clients, apps, (&scenario.topics, seed))
                .park_idle_fetches(self.idle == IdleMode::Parked);
            let id = sim.add_actor(&c.name, Box::new(consumer));
            sim.schedule(Time::ms(c.start_ms), id, Msg::Start);
            if let Some(close) = c.close_ms {
                sim.schedule(Time::ms(close), id, Msg::Close);
            }
            clients.push(ClientInfo {
                name: c.name.clone(),
                actor: id,
                kind: ClientKind::Consumer,
                group: Some(c.group.clone()),
            });
        }
        schedule_faults(&mut sim, scenario, seed, &clients, &broker_ids, controller_id);
        Built {
            sim,
            meta,
            clients,
            broker,
            brokers: broker_ids,
        }
    }

    /// Runs the scenario under `seed` to its stop time, keeping `history` of it, within
    /// [`Limits::default`].
    ///
    /// # Panics
    ///
    /// When the run hits those limits; [`Prepared::run_bounded`] returns them instead.
    pub fn run(&self, seed: u64, history: History) -> Run {
        self.run_bounded(seed, history, Limits::default())
            .unwrap_or_else(|stuck| panic!("seed {seed}: {stuck}"))
    }

    /// Runs the scenario under `seed` to its stop time, or until it hits `limits`.
    pub fn run_bounded(&self, seed: u64, history: History, limits: Limits) -> Result<Run, Stuck> {
        self.run_built(self.build(seed), seed, history, limits, &mut |_| {})
    }

    /// Like [`Prepared::run_bounded`], telling `progress` the virtual time now and then (for
    /// a progress display of a long run; the run is the same).
    pub fn run_observed(
        &self,
        seed: u64,
        history: History,
        limits: Limits,
        progress: &mut dyn FnMut(Time),
    ) -> Result<Run, Stuck> {
        self.run_built(self.build(seed), seed, history, limits, progress)
    }

    /// When the scenario's run stops (virtual time).
    pub fn stop(&self) -> Time {
        Time::ms(self.scenario.stop_ms())
    }

    /// Runs the scenario under `seed` with the user's `apps`, keeping `history` of it. An
    /// app for a consumer (or a producer) the scenario does not have is an error.
    ///
    /// # Panics
    ///
    /// When the run hits [`Limits::default`].
    pub fn run_with_apps(&self, seed: u64, history: History, apps: &Apps) -> Result<Run, ScenarioError> {
        let built = self.build_with_apps(seed, apps)?;
        Ok(self
            .run_built(built, seed, history, Limits::default(), &mut |_| {})
            .unwrap_or_else(|stuck| panic!("seed {seed}: {stuck}")))
    }

    fn run_built(
        &self,
        built: Built,
        seed: u64,
        history: History,
        limits: Limits,
        progress: &mut dyn FnMut(Time),
    ) -> Result<Run, Stuck> {
        let Built {
            mut sim,
            meta,
            clients,
            broker,
            brokers,
        } = built;
        if history == History::Summary {
            sim.set_trace_filter(per_record);
        }
        sim.run_observed(Time::ms(self.scenario.stop_ms()), limits, progress)?;
        Ok(Run {
            events: sim.events_handled(),
            end: sim.now(),
            trace: sim.into_trace(),
            meta,
            clients,
            broker,
            brokers,
            seed,
        })
    }
}

/// The consumer of scenario entry `c`: running the user's app if `apps` has one for it,
/// else the built-in application the entry describes.
fn consumer_with_app(
    c: &crate::scenario::ConsumerSpec,
    cfg: &ConsumerConfig,
    broker_ids: &[ActorId],
    clients: &[ClientInfo],
    apps: &Apps,
) -> Consumer {
    let topics = c.topics.iter().map(|t| t.as_str().into()).collect();
    let producer_named = |p: &str| {
        let q = clients
            .iter()
            .find(|q| q.name == p && q.kind == ClientKind::Producer);
        q.expect("checked").actor
    };
    if let (Some(pipeline), None) = (&c.pipeline, apps.consumers.get(&c.name)) {
        // the pipeline commits with its transactions: no auto-commit
        let cfg = ConsumerConfig {
            enable_auto_commit: false,
            ..cfg.clone()
        };
        let app = crate::consumer::PipelineApp::new(
            pipeline.output.as_str().into(),
            pipeline.offsets,
            Time::ms(c.processing_ms),
        );
        let producer = Some(producer_named(&pipeline.producer));
        return Consumer::with_app(cfg, broker_ids.to_vec(), topics, Box::new(app), producer);
    }
    let Some(make) = apps.consumers.get(&c.name) else {
        let behaviour = Behaviour {
            commit: c.commit,
            processing: Time::ms(c.processing_ms),
        };
        return Consumer::new(cfg.clone(), behaviour, broker_ids.to_vec(), topics);
    };
    let producer = apps
        .producers
        .get(&c.name)
        .or(c.pipeline.as_ref().map(|p| &p.producer))
        .map(|p| producer_named(p));
    Consumer::with_app(cfg.clone(), broker_ids.to_vec(), topics, make(), producer)
}

/// The consumer of scenario entry `c`, manually assigned if `apps` says so.
fn consumer_actor(
    c: &crate::scenario::ConsumerSpec,
    cfg: &ConsumerConfig,
    broker_ids: &[ActorId],
    clients: &[ClientInfo],
    apps: &Apps,
    (topics, seed): (&[crate::scenario::TopicSpec], u64),
) -> Consumer {
    let mut consumer = consumer_with_app(c, cfg, broker_ids, clients, apps);
    if c.profile == Profile::KafkaPython && !apps.assignments.contains_key(&c.name) {
        // assign_from_subscribed shuffles new partitions (a stream of its own, so the
        // consumer's other draws are those of a run without the shuffle)
        consumer = consumer
            .fetch_in_assignment_order(sim::rng::stream(seed, &format!("{}/assignment-order", c.name)));
    }
    match apps.assignments.get(&c.name) {
        Some(tps) => consumer.assign(tps.iter().map(|(t, p)| (t.as_str().into(), *p)).collect()),
        // no group (kafka-python's group_id=None): every partition of its topics
        None if c.group.is_empty() => consumer.assign(
            c.topics
                .iter()
                .flat_map(|t| {
                    let partitions = topics.iter().find(|s| &s.name == t).map_or(0, |s| s.partitions);
                    (0..partitions).map(move |p| (t.as_str().into(), p))
                })
                .collect(),
        ),
        None => consumer,
    }
}

/// Builds the simulation for `scenario` under `seed`, without running it.
pub fn build(scenario: &Scenario, seed: u64) -> Result<Built, ScenarioError> {
    Ok(Prepared::new(scenario)?.build(seed))
}

/// How much of a run's history to keep.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum History {
    /// Every event: what the renderers print and the checker reads.
    #[default]
    Full,
    /// Everything but the per-record events (`send`, `append`, `produce`, `consume`), which
    /// are only counted ([`Trace::dropped`]): group, broker and fault events stay. The run is
    /// the same run; its memory is then the model's — the logs — not the history's.
    Summary,
}

fn per_record(e: &Event) -> Option<&'static str> {
    match e {
        Event::Send { .. } | Event::Appended { .. } | Event::Produced { .. } | Event::Consumed { .. } => {
            Some(e.kind())
        }
        _ => None,
    }
}

/// Runs `scenario` under `seed` to its stop time, within [`Limits::default`].
pub fn run(scenario: &Scenario, seed: u64) -> Result<Run, RunError> {
    run_with(scenario, seed, History::Full)
}

/// Runs `scenario` under `seed` to its stop time, keeping `history` of it, within
/// [`Limits::default`].
pub fn run_with(scenario: &Scenario, seed: u64, history: History) -> Result<Run, RunError> {
    run_limited(scenario, seed, history, Limits::default())
}

/// Runs `scenario` under `seed` to its stop time, keeping `history` of it, or until the
/// run hits `limits` (virtual time stopped advancing, the event budget used up).
pub fn run_limited(
    scenario: &Scenario,
    seed: u64,
    history: History,
    limits: Limits,
) -> Result<Run, RunError> {
    Ok(Prepared::new(scenario)?.run_bounded(seed, history, limits)?)
}

/// Runs `scenario` under `seed` to its stop time, with the user's `apps` in the consumers
/// they name.
pub fn run_with_apps(scenario: &Scenario, seed: u64, apps: &Apps) -> Result<Run, ScenarioError> {
    Prepared::new(scenario)?.run_with_apps(seed, History::Full, apps)
}
