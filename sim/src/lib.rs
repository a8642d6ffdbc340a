//! # kafka-sim's deterministic engine
//!
//! A small discrete-event simulation core that knows nothing of Kafka:
//!
//! * [`Time`] — virtual time in microseconds; nothing here reads the wall clock.
//! * [`queue::EventQueue`] — one priority queue ordered by `(time, sequence)`, so events
//!   scheduled for the same instant run in the order they were scheduled.
//! * [`rng`] — one `rand_chacha` stream per actor, derived from `(seed, actor name)`, so
//!   adding an actor never shifts another actor's random choices.
//! * [`net::Network`] — seeded per-message latency, FIFO per link (like a TCP connection),
//!   and link cuts that drop messages for a window of virtual time.
//! * [`Sim`] — the one place that owns the event loop, and [`Ctx`], what an [`Actor`] may
//!   do while it handles an event: read the clock, draw from its RNG, send messages, set
//!   timers and append to the run's [`trace::Trace`].
//!
//! The output of a run is a pure function of the actors, the scheduled inputs and the seed.
//! There is no `HashMap` iteration, no thread, and no address-dependent ordering anywhere.

pub mod engine;
pub mod net;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

pub use engine::{Actor, ActorId, Ctx, Limits, Sim, Stuck, StuckCause};
pub use net::NetConfig;
pub use time::Time;
pub use trace::{Filter, Trace, TraceEntry};
