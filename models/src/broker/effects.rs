//! What a broker component asks the actor to do: messages to send, timers to set and history
//! records to write, in the order it asked. Components push effects here instead of touching
//! the engine, so each is driven and checked in a unit test without one; the broker actor
//! hands them to its [`sim::Ctx`] in that order once the input is handled.

use crate::history::Event;
use crate::protocol::Msg;
use sim::{ActorId, Ctx, Time};

/// One thing a component asks for.
#[derive(Debug)]
pub enum Effect {
    /// Send a message over the network.
    Send(ActorId, Msg),
    /// Deliver a message to this broker after a delay.
    Timer(Time, Msg),
    /// The same under a name, replacing a pending timer of that name ([`Ctx::named_timer`]).
    NamedTimer(u64, Time, Msg),
    /// Write a history record.
    Record(Event),
}

/// The effects of one input, in order.
#[derive(Debug, Default)]
pub struct Effects {
    list: Vec<Effect>,
}

impl Effects {
    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: ActorId, msg: Msg) {
        self.list.push(Effect::Send(to, msg));
    }

    /// Delivers `msg` to this broker after `delay`.
    pub fn timer(&mut self, delay: Time, msg: Msg) {
        self.list.push(Effect::Timer(delay, msg));
    }

    /// Delivers `msg` to this broker after `delay`, replacing the pending timer `name`.
    pub fn named_timer(&mut self, name: u64, delay: Time, msg: Msg) {
        self.list.push(Effect::NamedTimer(name, delay, msg));
    }

    /// Writes a history record.
    pub fn record(&mut self, event: Event) {
        self.list.push(Effect::Record(event));
    }

    /// The effects so far.
    pub fn as_slice(&self) -> &[Effect] {
        &self.list
    }

    /// Takes the effects so far, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.list)
    }

    /// Carries the effects out on `ctx`, in order, and empties the buffer (keeping its room).
    pub fn apply(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        for e in self.list.drain(..) {
            match e {
                Effect::Send(to, msg) if msg.travels_fixed() => {
                    ctx.send_fixed(to, msg);
                }
                Effect::Send(to, msg) => {
                    ctx.send(to, msg);
                }
                Effect::Timer(delay, msg) => ctx.timer(delay, msg),
                Effect::NamedTimer(name, delay, msg) => ctx.named_timer(name, delay, msg),
                Effect::Record(event) => ctx.record(event),
            }
        }
    }
}

#[cfg(test)]
impl Effects {
    /// The messages sent so far, to whom.
    pub fn sent(&self) -> Vec<(ActorId, &Msg)> {
        self.list
            .iter()
            .filter_map(|e| match e {
                Effect::Send(to, m) => Some((*to, m)),
                _ => None,
            })
            .collect()
    }

    /// The timers set so far.
    pub fn timers(&self) -> Vec<(Time, &Msg)> {
        self.list
            .iter()
            .filter_map(|e| match e {
                Effect::Timer(d, m) | Effect::NamedTimer(_, d, m) => Some((*d, m)),
                _ => None,
            })
            .collect()
    }

    /// The history records so far.
    pub fn records(&self) -> Vec<&Event> {
        self.list
            .iter()
            .filter_map(|e| match e {
                Effect::Record(ev) => Some(ev),
                _ => None,
            })
            .collect()
    }
}
