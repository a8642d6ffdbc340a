//! # kafka-sim
//!
//! A deterministic discrete-event simulator of Apache Kafka semantics. The same scenario and
//! seed give byte-identical output on any machine.
//!
//! This crate is the facade over the engine ([`sim`], published as `kafka-sim-engine`) and
//! the Kafka model ([`models`], published as `kafka-sim-models`), re-exported here so that
//! `kafka_sim::sim` and `kafka_sim::models` are all a user names: scenario files ([`load`]),
//! the built-in scenarios ([`builtin`]), the renderers ([`render`]) of a run's history as
//! per-process text or JSON lines, seed sweeps ([`sweep`]), and properties over seeds
//! ([`testing`]). Scenarios can also be built in Rust:
//! [`models::scenario::Scenario::builder`].
//!
//! The feature `cli` (on by default) adds the command line's dependencies and the modules
//! only it needs (`timeline`, `graph`); `default-features = false` leaves them out.
//!
//! ```
//! let scenario = kafka_sim::load::builtin_scenario("demo2").unwrap();
//! let run = kafka_sim::models::world::run(&scenario, 7).unwrap();
//! let text = kafka_sim::render::text(&run);
//! assert!(text.contains("link kafka ok."));
//! ```

#[cfg(feature = "rdkafka")]
pub mod adapter;
pub mod builtin;
pub mod compare;
pub mod driver;
pub mod fault_compare;
#[cfg(feature = "cli")]
pub mod graph;
pub mod history_file;
pub mod load;
pub mod render;
pub mod replay;
pub mod shard_env;
pub mod strategy;
pub mod sweep;
pub mod testing;
#[cfg(feature = "cli")]
pub mod timeline;
pub mod txn_compare;

pub use models;
pub use sim;

/// The README's Rust snippets, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
