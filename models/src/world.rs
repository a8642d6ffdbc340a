//! Builds a simulation from a [`Scenario`] and runs it.
//!
//! Broker actors `broker-1` … `broker-N` (and, with more than one, the `controller`), one
//! actor per producer and consumer under its scenario name; start and close times and faults
//! become scheduled inputs. The result is the trace plus what a
//! renderer needs to name things. Same scenario and seed, same [`Run`], to the byte.

use crate::broker::{Broker, BrokerConfig};
use crate::cluster::ClusterState;
use crate::config::{ConsumerConfig, ProducerConfig};
use crate::consumer::{Behaviour, Consumer};
use crate::controller::{Controller, ControllerConfig};
use crate::coordinator::GroupConfig;
use crate::history::Event;
use crate::producer::{Producer, Records};
use crate::protocol::Msg;
use crate::scenario::{broker_name, FaultKind, Scenario, ScenarioError, CONTROLLER_NAME};
use crate::types::Metadata;
use rand::Rng;
use sim::{ActorId, NetConfig, Sim, Time, Trace};
use std::sync::Arc;

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
        let cluster = Arc::new(ClusterState::initial(
            broker_ids,
            &layout,
            b.offsets_topic_num_partitions,
            b.offsets_topic_replication_factor,
        ));
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
                inject: Vec::new(),
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
        Ok(Prepared {
            scenario,
            meta,
            cluster,
            brokers,
            controller,
            producers,
            consumers,
        })
    }

    /// Builds the simulation under `seed`, without running it.
    pub fn build(&self, seed: u64) -> Built {
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
            let actor = Producer::new(
                i as u32,
                cfg.clone(),
                broker_ids.clone(),
                p.topic.as_str().into(),
                records.clone(),
                Time::ms(p.interval_ms),
            );
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
            let topics = c.topics.iter().map(|t| t.as_str().into()).collect();
            let behaviour = Behaviour {
                commit: c.commit,
                processing: Time::ms(c.processing_ms),
            };
            let id = sim.add_actor(
                &c.name,
                Box::new(Consumer::new(cfg.clone(), behaviour, broker_ids.clone(), topics)),
            );
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
        let mut fault_rng = sim::rng::stream(seed, "faults");
        for f in &scenario.faults {
            let target_broker = (1..=scenario.cluster.brokers).find(|node| broker_name(*node) == f.client);
            let actor = match target_broker {
                Some(node) => broker_ids[(node - 1) as usize],
                None => {
                    clients
                        .iter()
                        .find(|c| c.name == f.client)
                        .expect("validated")
                        .actor
                }
            };
            let at = match (f.at_ms, f.between_ms) {
                (Some(at), _) => Time::ms(at),
                (None, Some([a, b])) => Time::ms(fault_rng.random_range(a..=b)),
                (None, None) => unreachable!("validated"),
            };
            let duration = Time::ms(f.duration_ms.unwrap_or(0));
            match f.kind {
                FaultKind::Crash => {
                    sim.schedule(at, actor, Msg::Crash);
                    if let Some(after) = f.restart_after_ms {
                        sim.schedule(at + Time::ms(after), actor, Msg::Restart);
                    }
                }
                FaultKind::Stall => sim.schedule(at, actor, Msg::Stall(duration)),
                FaultKind::Close => sim.schedule(at, actor, Msg::Close),
                FaultKind::Cut if target_broker.is_some() => {
                    sim.schedule(at, actor, Msg::Partitioned(at + duration));
                    for other in broker_ids.iter().copied().chain(controller_id) {
                        if other != actor {
                            sim.network().cut(actor, other, at, at + duration);
                        }
                    }
                }
                FaultKind::Cut => {
                    for b in &broker_ids {
                        sim.network().cut(actor, *b, at, at + duration);
                    }
                }
            }
        }
        Built {
            sim,
            meta,
            clients,
            broker,
            brokers: broker_ids,
        }
    }

    /// Runs the scenario under `seed` to its stop time, keeping `history` of it.
    pub fn run(&self, seed: u64, history: History) -> Run {
        let Built {
            mut sim,
            meta,
            clients,
            broker,
            brokers,
        } = self.build(seed);
        if history == History::Summary {
            sim.set_trace_filter(per_record);
        }
        sim.run_until(Time::ms(self.scenario.stop_ms()));
        Run {
            events: sim.events_handled(),
            end: sim.now(),
            trace: sim.into_trace(),
            meta,
            clients,
            broker,
            brokers,
            seed,
        }
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

/// Runs `scenario` under `seed` to its stop time.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Run, ScenarioError> {
    run_with(scenario, seed, History::Full)
}

/// Runs `scenario` under `seed` to its stop time, keeping `history` of it.
pub fn run_with(scenario: &Scenario, seed: u64, history: History) -> Result<Run, ScenarioError> {
    Ok(Prepared::new(scenario)?.run(seed, history))
}
