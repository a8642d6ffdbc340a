//! The consumer's side of a classic heartbeat chain ([`crate::protocol::heartbeat_chain`]):
//! the Heartbeats of a member that would send the same one every `heartbeat.interval.ms`,
//! sent once and computed by the coordinator, with no heartbeat timer in between.
//!
//! After every input the consumer checks that it would still send the same Heartbeat at its
//! next heartbeat instant, with nothing else to do there: in a Stable generation with the
//! same member id, heartbeat timer and coordinator, no rejoin pending, the application inside
//! `poll()` (so `max.poll.interval.ms` cannot expire). The first input after which it would
//! not ends the chain: the Heartbeat sent last by then is the chain's last, and the heartbeat
//! timer is set for the next instant, where the cycle-by-cycle run has it. An answer with no
//! error is never sent (it changes nothing); an error is, at the instant it would be.
//! Only where idle long-polls park (the world decides) and only for the classic protocol
//! (a KIP-848 heartbeat's next one is set by its answer).

use super::app::State;
use super::membership::{Out, Phase};
use super::{Consumer, Cx};
use crate::protocol::heartbeat_chain::HeartbeatChain;
use crate::protocol::{ClientTimer, Msg};
use crate::types::MemberId;
use sim::{ActorId, Time};
use std::sync::Arc;

/// The chain a consumer has going: the chain, and what its Heartbeats are.
pub(super) struct Beating {
    chain: Arc<HeartbeatChain>,
    epoch: u64,
    generation: i32,
    member_id: MemberId,
    coordinator: ActorId,
}

impl Consumer {
    /// Whether the heartbeat timer's `out` (a Heartbeat, the next timer) may start a chain
    /// instead.
    fn may_chain(&self, ctx: &Cx, out: &[Out]) -> bool {
        let interval = Time::ms(self.cfg.heartbeat_interval_ms);
        self.park_idle
            && self.client.brokers.len() == 1
            && !self.cfg.group_protocol_consumer
            && self.heartbeats.is_none()
            && self.client.coordinator.is_some()
            && Time(2 * ctx.base_latency().0) < interval
            && matches!(out, [Out::Heartbeat { .. }, Out::HeartbeatTimer(..)])
            && self.member.rejoin.is_none()
            && self.app.state == State::Polling
    }

    /// The heartbeat timer fired with `out` to carry out: starts a chain if it may, else
    /// carries `out` out.
    pub(super) fn heartbeat_or_chain(&mut self, ctx: Cx, mut out: Vec<Out>) {
        if !self.may_chain(&ctx, &out) {
            return self.apply(ctx, out);
        }
        let Some(Out::Heartbeat {
            member_id,
            generation,
        }) = out.drain(..).next()
        else {
            unreachable!("checked by may_chain");
        };
        self.outs = out;
        let now = ctx.now();
        let to = self.client.coord();
        let interval = Time::ms(self.cfg.heartbeat_interval_ms);
        let chain = Arc::new(HeartbeatChain::new(now, ctx.base_latency(), interval));
        self.heartbeats = Some(Beating {
            chain: chain.clone(),
            epoch: self.member.hb_epoch,
            generation,
            member_id: member_id.clone(),
            coordinator: to,
        });
        let group = self.cfg.group_id.clone();
        ctx.send_fixed(
            to,
            Msg::HeartbeatReq {
                group,
                member_id,
                generation,
                chain: Some(chain),
            },
        );
    }

    /// After an input: ends the heartbeat chain if the consumer would no longer send the same
    /// Heartbeat at its next instant, and sets the heartbeat timer there.
    pub(super) fn check_heartbeat_chain(&mut self, ctx: Cx) {
        let Some(b) = &self.heartbeats else {
            return;
        };
        let m = &self.member;
        let same = m.phase == Phase::Stable
            && m.hb_epoch == b.epoch
            && m.generation == b.generation
            && m.member_id.as_ref() == Some(&b.member_id)
            && m.rejoin.is_none()
            && self.client.coordinator == Some(b.coordinator)
            && self.app.state == State::Polling;
        if same {
            return;
        }
        let b = self.heartbeats.take().expect("checked");
        let now = ctx.now();
        let last = b.chain.end_at(now);
        if self.member.hb_epoch == b.epoch {
            let next = b.chain.send_time(last + 1);
            ctx.timer(next - now, Msg::ClientTimer(ClientTimer::Heartbeat(b.epoch)));
        }
    }
}
