//! # kafka-sim
//!
//! A deterministic discrete-event simulator of Apache Kafka semantics. The same scenario and
//! seed give byte-identical output on any machine.
//!
//! This crate is the facade over the engine ([`sim`]) and the Kafka model ([`models`]):
//! scenario files ([`load`]), the built-in scenarios ([`builtin`]), and the renderers
//! ([`render`]) of a run's history as per-process text or JSON lines.
//!
//! ```
//! let scenario = kafka_sim::load::builtin_scenario("demo2").unwrap();
//! let run = models::world::run(&scenario, 7).unwrap();
//! let text = kafka_sim::render::text(&run);
//! assert!(text.contains("link kafka ok."));
//! ```

#[cfg(feature = "rdkafka")]
pub mod adapter;
pub mod builtin;
pub mod compare;
#[cfg(feature = "cli")]
pub mod graph;
pub mod load;
pub mod render;
pub mod replay;
pub mod strategy;
pub mod sweep;
pub mod testing;
#[cfg(feature = "cli")]
pub mod timeline;

pub use models;
pub use sim;
