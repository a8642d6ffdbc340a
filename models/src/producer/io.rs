//! What the producer's components do to the world, in the order they do it.
//!
//! The components are state machines that never see the engine: they take an input and
//! emit their outputs — requests to brokers, timers, history events — through [`Io`], which
//! the engine's context implements and tests replace with a recorder. Outputs go out
//! through one sink rather than as a returned list because the network draws each message's
//! latency from the same seeded stream the partitioner and the retry jitter draw from: the
//! order of sends and draws is part of a run's output, and a sink keeps it.

use crate::history::Event;
use crate::protocol::{ClientTimer, Msg};
use sim::rng::SimRng;
use sim::{ActorId, Ctx, Time};

/// Where a producer component's outputs go.
pub trait Io {
    /// The current virtual time.
    fn now(&self) -> Time;
    /// The producer's seeded random stream.
    fn rng(&mut self) -> &mut SimRng;
    /// Sends `msg` to broker `to` (over the network).
    fn send(&mut self, to: ActorId, msg: Msg);
    /// Fires `timer` at the producer after `delay`.
    fn timer(&mut self, delay: Time, timer: ClientTimer);
    /// Appends `event` to the history.
    fn record(&mut self, event: Event);
}

impl Io for Ctx<'_, Msg, Event> {
    fn now(&self) -> Time {
        Ctx::now(self)
    }

    fn rng(&mut self) -> &mut SimRng {
        Ctx::rng(self)
    }

    fn send(&mut self, to: ActorId, msg: Msg) {
        Ctx::send(self, to, msg);
    }

    fn timer(&mut self, delay: Time, timer: ClientTimer) {
        Ctx::timer(self, delay, Msg::ClientTimer(timer));
    }

    fn record(&mut self, event: Event) {
        Ctx::record(self, event);
    }
}

/// One output, as a [`Recorder`] keeps it.
#[cfg(test)]
#[derive(Debug)]
pub enum Output {
    /// A message to a broker.
    Send(ActorId, Msg),
    /// A timer, with the time it fires.
    Timer(Time, ClientTimer),
    /// A history event.
    Event(Event),
}

/// An [`Io`] for tests: a clock the test moves, a seeded stream, and every output in order.
#[cfg(test)]
pub struct Recorder {
    /// The current time.
    pub now: Time,
    /// The random stream.
    pub rng: SimRng,
    /// Outputs so far.
    pub out: Vec<Output>,
}

#[cfg(test)]
impl Recorder {
    /// At time zero, with the stream of `seed` for the actor named `producer`.
    pub fn new(seed: u64) -> Recorder {
        Recorder {
            now: Time::ZERO,
            rng: sim::rng::stream(seed, "producer"),
            out: Vec::new(),
        }
    }

    /// The outputs so far, handed over.
    pub fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
impl Io for Recorder {
    fn now(&self) -> Time {
        self.now
    }

    fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    fn send(&mut self, to: ActorId, msg: Msg) {
        self.out.push(Output::Send(to, msg));
    }

    fn timer(&mut self, delay: Time, timer: ClientTimer) {
        self.out.push(Output::Timer(self.now + delay, timer));
    }

    fn record(&mut self, event: Event) {
        self.out.push(Output::Event(event));
    }
}

/// A cluster of `brokers` brokers (actors 0..) with topics `a` and `b` of `partitions`
/// partitions each, replication factor 1: its metadata and its image.
#[cfg(test)]
pub fn cluster(
    brokers: u32,
    partitions: u32,
) -> (
    std::sync::Arc<crate::types::Metadata>,
    std::sync::Arc<crate::cluster::ClusterState>,
) {
    use crate::types::{Metadata, TopicMeta};
    let meta = Metadata::new(
        ["a", "b"]
            .iter()
            .map(|n| TopicMeta {
                name: (*n).into(),
                partitions,
            })
            .collect(),
    );
    let ids = (0..brokers).map(ActorId).collect();
    let image = crate::cluster::ClusterState::initial(ids, &[(partitions, 1), (partitions, 1)], 1, 1);
    (meta.into(), image.into())
}
