//! # kafka-sim's Kafka model
//!
//! Kafka semantics on top of the [`sim`] engine. Each module is named after the Kafka concept
//! it models and says in its doc comment which behaviour (KIP, config, client) it reproduces.
//!
//! * Pure algorithms: [`partitioner`], [`assignor`].
//! * State: [`log`] (a replica's log, epochs, producer state), [`coordinator`] (the classic
//!   group protocol's state machine), [`cluster`] (placement, leaders, ISRs: the metadata
//!   image), [`broker`] (replicas as leader and follower, the coordinator, committed offsets)
//!   and [`controller`] (liveness, elections, ISR changes).
//! * Clients: [`producer`], [`consumer`], configured by [`config`] with per-client
//!   [`config::Profile`] defaults (kafka-python, Java, librdkafka).
//! * The wire: [`protocol`] (requests and responses, as Kafka names them).
//! * Output: [`history`] — the typed records every actor writes; renderers and checkers read
//!   only these; [`query`] answers what several of them ask (partition ownership,
//!   consumptions, acknowledged records), and [`check`] judges a history against a claim.
//! * Input: [`scenario`] (what a run contains, within its [`limits`]; [`builder`] puts one together in Rust) and
//!   [`world`] (builds and runs it).

pub mod assignor;
pub mod broker;
pub mod builder;
pub mod check;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod consumer_group;
pub mod controller;
pub mod coordinator;
pub mod group_metadata;
pub mod history;
pub mod log;
pub mod partitioner;
pub mod producer;
pub mod protocol;
pub mod query;
pub mod scenario;
pub mod types;
pub mod world;

pub use scenario::limits;
