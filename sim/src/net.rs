//! The simulated network between actors.
//!
//! Every message crosses one directed link `(from, to)`. Its latency is
//! `base + uniform(0..=jitter)`, drawn from the *sender's* RNG stream, so the seed decides the
//! interleaving of concurrent clients. A link is FIFO, as a TCP connection is: a message is
//! never delivered before one sent earlier on the same link. A link can be cut for a window
//! of virtual time; a message sent while its link is cut is dropped (recorded by the engine
//! as a drop, so checkers can see it).

use crate::engine::ActorId;
use crate::rng::SimRng;
use crate::time::Time;
use rand::Rng;

/// Latency settings of the simulated network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Fixed one-way latency of every message.
    pub base: Time,
    /// Upper bound of the uniform jitter added to `base`.
    pub jitter: Time,
}

impl Default for NetConfig {
    /// 0.5 ms ± 0.5 ms: a loopback-ish data-centre link.
    fn default() -> Self {
        NetConfig {
            base: Time::us(500),
            jitter: Time::us(500),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Cut {
    a: ActorId,
    b: ActorId,
    from: Time,
    until: Time,
}

/// Link state: last delivery time per directed link, and the cuts in force.
#[derive(Debug)]
pub struct Network {
    cfg: NetConfig,
    /// `last[from * n + to]`: the delivery time of the last message on that link.
    last: Vec<Time>,
    n: usize,
    cuts: Vec<Cut>,
}

impl Network {
    /// A network of no actors yet.
    pub fn new(cfg: NetConfig) -> Self {
        Network {
            cfg,
            last: Vec::new(),
            n: 0,
            cuts: Vec::new(),
        }
    }

    /// The latency settings.
    pub fn config(&self) -> NetConfig {
        self.cfg
    }

    /// Grows the link table to `n` actors.
    pub(crate) fn resize(&mut self, n: usize) {
        let mut last = vec![Time::ZERO; n * n];
        for from in 0..self.n {
            for to in 0..self.n {
                last[from * n + to] = self.last[from * self.n + to];
            }
        }
        self.last = last;
        self.n = n;
    }

    /// Cuts the link between `a` and `b`, both directions, for `[from, until)`.
    pub fn cut(&mut self, a: ActorId, b: ActorId, from: Time, until: Time) {
        assert!(from <= until, "a cut must end after it starts");
        self.cuts.push(Cut { a, b, from, until });
    }

    /// Whether the link `from → to` is cut at `now`.
    pub fn is_cut(&self, from: ActorId, to: ActorId, now: Time) -> bool {
        self.cuts.iter().any(|c| {
            ((c.a == from && c.b == to) || (c.a == to && c.b == from)) && c.from <= now && now < c.until
        })
    }

    /// The delivery time of a message sent now on `from → to` at exactly the base latency,
    /// or `None` if it is dropped: no draw from any stream and outside the link's FIFO order
    /// (it neither waits for nor holds back the link's other messages). For messages whose
    /// timing must be a function of when they were sent alone, such as an idle long-poll's.
    pub(crate) fn route_fixed(&self, from: ActorId, to: ActorId, now: Time) -> Option<Time> {
        if self.is_cut(from, to, now) {
            return None;
        }
        if from == to {
            return Some(now);
        }
        Some(now + self.cfg.base)
    }

    /// The delivery time of a message sent now on `from → to`, or `None` if it is dropped.
    pub(crate) fn route(&mut self, from: ActorId, to: ActorId, now: Time, rng: &mut SimRng) -> Option<Time> {
        if self.is_cut(from, to, now) {
            return None;
        }
        if from == to {
            return Some(now);
        }
        let jitter = if self.cfg.jitter.0 == 0 {
            0
        } else {
            rng.random_range(0..=self.cfg.jitter.0)
        };
        let at = now + self.cfg.base + Time(jitter);
        let slot = &mut self.last[from.index() * self.n + to.index()];
        let at = at.max(*slot);
        *slot = at;
        Some(at)
    }
}
