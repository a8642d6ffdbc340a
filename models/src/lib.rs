//! # kafka-sim's Kafka model
//!
//! Kafka semantics on top of the [`sim`] engine. Each module is named after the Kafka concept
//! it models and says in its doc comment which behaviour (KIP, config, client) it reproduces.
//!
//! The vocabulary sits below everything that uses it (`tests/architecture.rs` checks it):
//!
//! * The wire: [`protocol`] (requests and responses as Kafka names them, [`protocol::ApiKey`],
//!   [`protocol::ErrorCode`], timers) and [`types`].
//! * Output: [`history`] — the typed records every actor writes; renderers and checkers read
//!   only these; [`query`] answers what several of them ask (partition ownership,
//!   consumptions, acknowledged records), and [`check`] judges a history against a claim,
//!   one checker per invariant.
//! * Input: [`scenario`] (what a run contains, within its [`limits`]; [`builder`] puts one together in Rust) and
//!   [`config`], with per-client [`config::Profile`] defaults (kafka-python, Java,
//!   librdkafka).
//! * Pure algorithms: [`partitioner`], [`assignor`] (Kafka's six assignors, exactly).
//! * State machines, input in and outputs out: [`log`] (a replica's log, epochs, producer
//!   state), [`coordinator`] (the classic group protocol), [`consumer_group`] (KIP-848),
//!   [`group_metadata`] (what a coordinator persists), [`transaction`] (the transaction
//!   coordinator, KIP-98/890), [`txn_metadata`] (what it persists), [`cluster`] (placement, leaders, ISRs:
//!   the metadata image).
//!
//! Above them the actors, each a thin shell over components that own their state:
//! [`broker`] (replica manager, fetch purgatory, replica fetcher, group host, retention,
//! request-level fault injection, one handler per Kafka API), [`controller`] (liveness,
//! elections, ISR changes), [`consumer`] (network client, membership, fetcher, the
//! [`consumer::ConsumerApp`] the user's code implements) and [`producer`] (accumulator,
//! sender, idempotence, [`producer::ProducerApp`]); [`world`] builds and runs a scenario,
//! with the user's applications ([`world::Apps`]).

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
pub mod transaction;
pub mod txn_metadata;
pub mod types;
pub mod world;

pub use scenario::limits;
