//! The event loop: the one place where virtual time advances.

use crate::net::{NetConfig, Network};
use crate::queue::{EventQueue, Handle};
use crate::rng::{self, SimRng};
use crate::time::Time;
use crate::trace::Trace;
use std::collections::BTreeMap;
use std::fmt;

/// An actor's index in its simulation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(pub u32);

impl ActorId {
    /// As a vector index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A participant of the simulation: a broker, a producer, a consumer.
///
/// `M` is the message type actors exchange, `R` the type of record they write to the trace.
pub trait Actor<M, R> {
    /// Handles one event: `msg` was sent by `from` (an actor's own timers come from itself).
    fn handle(&mut self, ctx: &mut Ctx<'_, M, R>, from: ActorId, msg: M);
}

struct Envelope<M> {
    from: ActorId,
    to: ActorId,
    /// Connection generations of both ends when it was sent; `None` for scenario inputs,
    /// which no crash can stop.
    conns: Option<(u32, u32)>,
    msg: M,
}

/// Everything but the actors: split out so an actor can borrow it while it runs.
struct Core<M, R> {
    now: Time,
    seed: u64,
    queue: EventQueue<Envelope<M>>,
    rngs: Vec<SimRng>,
    net: Network,
    trace: Trace<R>,
    handled: u64,
    dropped: u64,
    /// Per actor: bumped when it resets its connections (a crash).
    conn: Vec<u32>,
    /// Per actor, the named timers set with [`Ctx::named_timer`]: name → the pending event
    /// (or one already delivered, which the queue then no longer recognises). An actor has
    /// a handful of names at most.
    named: Vec<Vec<(u64, Handle)>>,
}

/// What an actor can see and do while it handles an event.
pub struct Ctx<'a, M, R> {
    core: &'a mut Core<M, R>,
    me: ActorId,
}

impl<M, R> Ctx<'_, M, R> {
    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.core.now
    }

    /// The actor handling this event.
    pub fn me(&self) -> ActorId {
        self.me
    }

    /// This actor's own RNG stream.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.core.rngs[self.me.index()]
    }

    /// Sends `msg` to `to` over the network (seeded latency, FIFO per link, may be dropped
    /// while the link is cut). Returns whether it was sent.
    pub fn send(&mut self, to: ActorId, msg: M) -> bool {
        let now = self.core.now;
        let rng = &mut self.core.rngs[self.me.index()];
        let at = self.core.net.route(self.me, to, now, rng);
        self.deliver(at, to, msg)
    }

    /// Like [`Ctx::send`], at exactly the network's base latency: no draw from this actor's
    /// stream, outside the link's FIFO order. Returns whether it was sent.
    pub fn send_fixed(&mut self, to: ActorId, msg: M) -> bool {
        let now = self.core.now;
        let at = self.core.net.route_fixed(self.me, to, now);
        self.deliver(at, to, msg)
    }

    /// Queues `msg` for `to` at `at` (the route's arrival), or counts it dropped (`None`: the
    /// link is cut). Returns whether it was sent.
    fn deliver(&mut self, at: Option<Time>, to: ActorId, msg: M) -> bool {
        let Some(at) = at else {
            self.core.dropped += 1;
            return false;
        };
        let conns = Some((self.core.conn[self.me.index()], self.core.conn[to.index()]));
        let from = self.me;
        self.core.queue.push(at, Envelope { from, to, conns, msg });
        true
    }

    /// The network's base latency (what [`Ctx::send_fixed`] takes).
    pub fn base_latency(&self) -> Time {
        self.core.net.config().base
    }

    /// Delivers `msg` to this actor itself after `delay` (a timer; never crosses the network).
    pub fn timer(&mut self, delay: Time, msg: M) {
        let at = self.core.now + delay;
        let c = self.core.conn[self.me.index()];
        self.core.queue.push(
            at,
            Envelope {
                from: self.me,
                to: self.me,
                conns: Some((c, c)),
                msg,
            },
        );
    }

    /// Like [`Ctx::timer`], under `name`: at most one timer of each name is pending for an
    /// actor, so a timer set under a name already pending replaces it — the earlier one is
    /// cancelled and never delivered. For a timer that would otherwise fire for nothing
    /// (superseded by a sooner one); a cancelled timer costs no event.
    pub fn named_timer(&mut self, name: u64, delay: Time, msg: M) {
        let at = self.core.now + delay;
        let c = self.core.conn[self.me.index()];
        let handle = self.core.queue.push_handle(
            at,
            Envelope {
                from: self.me,
                to: self.me,
                conns: Some((c, c)),
                msg,
            },
        );
        let named = &mut self.core.named[self.me.index()];
        match named.iter_mut().find(|(n, _)| *n == name) {
            Some((_, pending)) => {
                let replaced = std::mem::replace(pending, handle);
                self.core.queue.cancel(replaced);
            }
            None => named.push((name, handle)),
        }
    }

    /// Cancels this actor's pending timer `name` (set with [`Ctx::named_timer`]): whether
    /// one was pending.
    pub fn cancel_timer(&mut self, name: u64) -> bool {
        let named = &mut self.core.named[self.me.index()];
        match named.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                let (_, handle) = named.swap_remove(i);
                self.core.queue.cancel(handle).is_some()
            }
            None => false,
        }
    }

    /// Drops every message in flight to or from this actor and every timer it set — what a
    /// process crash does to its TCP connections and its threads. Scenario inputs scheduled
    /// with [`Sim::schedule`] (a restart) still arrive.
    pub fn reset_connections(&mut self) {
        self.core.conn[self.me.index()] += 1;
    }

    /// Appends a record to the run's trace, stamped with now and this actor.
    pub fn record(&mut self, record: R) {
        self.core.trace.push(self.core.now, self.me, record);
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }
}

/// Bounds that make every run finite, for [`Sim::run_bounded`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events a run may handle in all.
    pub events: u64,
    /// Events at one virtual instant: more means virtual time has stopped advancing (a
    /// zero-delay loop between actors, a zero interval).
    pub per_instant: u64,
}

impl Default for Limits {
    /// A billion events in all (the million-record scenario takes eight million); a million
    /// at one instant.
    fn default() -> Self {
        Limits {
            events: 1_000_000_000,
            per_instant: 1_000_000,
        }
    }
}

/// How many events pass between two calls of [`Sim::run_observed`]'s progress callback.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Which bound a run hit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StuckCause {
    /// More events than this at one virtual instant.
    Instant(u64),
    /// More events than this in all.
    Budget(u64),
}

/// A run ended early by [`Limits`]: when, why, and the actors and message kinds that kept
/// it busy (from a sample of the events that followed, most frequent first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Virtual time when the bound was hit.
    pub at: Time,
    /// Which bound.
    pub cause: StuckCause,
    /// `(actor, message kind, events in the sample)`.
    pub busiest: Vec<(String, String, u64)>,
}

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            StuckCause::Instant(n) => write!(
                f,
                "virtual time stopped advancing at {} ms: more than {n} events at one instant",
                self.at.as_ms_f64()
            )?,
            StuckCause::Budget(n) => write!(
                f,
                "the run used its budget of {n} events by {} ms (raise it with --max-events)",
                self.at.as_ms_f64()
            )?,
        }
        let busy: Vec<String> = self
            .busiest
            .iter()
            .map(|(actor, kind, n)| format!("{kind} to {actor} ({n})"))
            .collect();
        if !busy.is_empty() {
            write!(f, "; busiest in a sample of what followed: {}", busy.join(", "))?;
        }
        Ok(())
    }
}

/// A simulation: actors, the event queue, the network and the trace.
pub struct Sim<M, R> {
    actors: Vec<Box<dyn Actor<M, R>>>,
    core: Core<M, R>,
}

impl<M, R> Sim<M, R> {
    /// An empty simulation for `seed`.
    pub fn new(seed: u64, net: NetConfig) -> Self {
        Sim {
            actors: Vec::new(),
            core: Core {
                now: Time::ZERO,
                seed,
                queue: EventQueue::with_capacity(64),
                rngs: Vec::new(),
                net: Network::new(net),
                trace: Trace::new(Vec::new()),
                handled: 0,
                dropped: 0,
                conn: Vec::new(),
                named: Vec::new(),
            },
        }
    }

    /// Registers an actor. Its RNG stream is derived from `(seed, name)`; names must be unique.
    pub fn add_actor(&mut self, name: &str, actor: Box<dyn Actor<M, R>>) -> ActorId {
        assert!(
            !self.core.trace.names().iter().any(|n| n == name),
            "duplicate actor name {name:?}"
        );
        let id = ActorId(u32::try_from(self.actors.len()).expect("too many actors"));
        self.actors.push(actor);
        self.core.rngs.push(rng::stream(self.core.seed, name));
        self.core.conn.push(0);
        self.core.named.push(Vec::new());
        self.core.trace.add_name(name.to_string());
        self.core.net.resize(self.actors.len());
        id
    }

    /// Injects `msg` for `to` at virtual time `at` (from `to` itself, as a timer).
    pub fn schedule(&mut self, at: Time, to: ActorId, msg: M) {
        assert!(at >= self.core.now, "cannot schedule in the past");
        assert!(to.index() < self.actors.len(), "unknown actor {to:?}");
        self.core.queue.push(
            at,
            Envelope {
                from: to,
                to,
                conns: None,
                msg,
            },
        );
    }

    /// The network, to cut links before or between steps.
    pub fn network(&mut self) -> &mut Network {
        &mut self.core.net
    }

    /// Takes the earliest event off the queue and moves the clock to it: `Some(None)` when it
    /// was bound to a connection a crash has reset since (dropped), `None` when the queue is
    /// empty.
    fn pop_live(&mut self) -> Option<Option<Envelope<M>>> {
        let (time, _seq, env) = self.core.queue.pop()?;
        assert!(time >= self.core.now, "event queue went back in time");
        self.core.now = time;
        if let Some((from, to)) = env.conns {
            if from != self.core.conn[env.from.index()] || to != self.core.conn[env.to.index()] {
                self.core.dropped += 1;
                return Some(None);
            }
        }
        Some(Some(env))
    }

    fn deliver(&mut self, env: Envelope<M>) {
        self.core.handled += 1;
        let actor = &mut self.actors[env.to.index()];
        let mut ctx = Ctx {
            core: &mut self.core,
            me: env.to,
        };
        actor.handle(&mut ctx, env.from, env.msg);
    }

    /// Runs the earliest event. Returns `false` when the queue is empty.
    pub fn step(&mut self) -> bool {
        match self.pop_live() {
            None => false,
            Some(None) => true,
            Some(Some(env)) => {
                self.deliver(env);
                true
            }
        }
    }

    /// Runs every event up to and including `end`, then sets the clock to `end`.
    pub fn run_until(&mut self, end: Time) {
        while let Some(t) = self.core.queue.peek_time() {
            if t > end {
                break;
            }
            self.step();
        }
        self.core.now = self.core.now.max(end);
    }

    /// Like [`Sim::run_until`], but a run that stops advancing virtual time — more than
    /// `limits.per_instant` events at one instant — or spends more than `limits.events`
    /// events ends early with a [`Stuck`] that names what kept it busy.
    pub fn run_bounded(&mut self, end: Time, limits: Limits) -> Result<(), Stuck>
    where
        M: fmt::Debug,
    {
        self.run_observed(end, limits, &mut |_| {})
    }

    /// Like [`Sim::run_bounded`], calling `progress` with the virtual time every
    /// [`PROGRESS_EVERY`] events (a progress display; it cannot change the run).
    pub fn run_observed(
        &mut self,
        end: Time,
        limits: Limits,
        progress: &mut dyn FnMut(Time),
    ) -> Result<(), Stuck>
    where
        M: fmt::Debug,
    {
        let start = self.core.handled;
        let mut instant = self.core.now;
        let mut at_instant = 0u64;
        while let Some(t) = self.core.queue.peek_time() {
            if t > end {
                break;
            }
            if t != instant {
                instant = t;
                at_instant = 0;
            }
            at_instant += 1;
            if at_instant > limits.per_instant {
                return Err(self.stuck(StuckCause::Instant(limits.per_instant)));
            }
            if self.core.handled - start >= limits.events {
                return Err(self.stuck(StuckCause::Budget(limits.events)));
            }
            if self.core.handled % PROGRESS_EVERY == 0 {
                progress(t);
            }
            self.step();
        }
        self.core.now = self.core.now.max(end);
        Ok(())
    }

    /// Runs a sample of the events that follow and says which actors and messages they were.
    fn stuck(&mut self, cause: StuckCause) -> Stuck
    where
        M: fmt::Debug,
    {
        const SAMPLE: usize = 1_000;
        let at = self.core.now;
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for _ in 0..SAMPLE {
            let Some(next) = self.pop_live() else { break };
            let Some(env) = next else { continue };
            let to = self.core.trace.names()[env.to.index()].clone();
            let debug = format!("{:?}", env.msg);
            let kind: String = debug
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            *counts.entry((to, kind)).or_default() += 1;
            self.deliver(env);
        }
        let mut busiest: Vec<(String, String, u64)> =
            counts.into_iter().map(|((a, k), n)| (a, k, n)).collect();
        busiest.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        busiest.truncate(4);
        Stuck { at, cause, busiest }
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.core.now
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.core.handled
    }

    /// Messages dropped by cut links so far.
    pub fn messages_dropped(&self) -> u64 {
        self.core.dropped
    }

    /// Events still pending.
    pub fn pending(&self) -> usize {
        self.core.queue.len()
    }

    /// From now on, the trace counts the records `filter` names instead of keeping them.
    pub fn set_trace_filter(&mut self, filter: crate::trace::Filter<R>) {
        self.core.trace.set_filter(filter);
    }

    /// The history recorded so far.
    pub fn trace(&self) -> &Trace<R> {
        &self.core.trace
    }

    /// Ends the simulation, keeping its trace.
    pub fn into_trace(self) -> Trace<R> {
        self.core.trace
    }
}

#[cfg(test)]
mod tests;
