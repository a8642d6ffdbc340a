//! Classic heartbeat chains on the coordinator ([`crate::protocol::heartbeat_chain`]): a
//! member's Heartbeats computed from the first one instead of handled one by one.
//!
//! While a chain's Heartbeats would be answered with no error, the coordinator answers none
//! of them (an answer with no error changes nothing on the consumer) and computes the
//! member's session deadline from the chain's last arrival (`session.timeout.ms` after it),
//! as Kafka's `GroupCoordinator.completeAndScheduleNextHeartbeatExpiration` would after each
//! one. After every input to the group it checks what the chain's next Heartbeat would be
//! answered: an error (`REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`,
//! `FENCED_INSTANCE_ID`) makes that Heartbeat a real one, handled at its computed arrival.

use super::*;
use crate::protocol::heartbeat_chain::HeartbeatChain;

/// A member's chain as the coordinator holds it.
#[derive(Clone, Debug)]
pub(super) struct Chain {
    beats: Arc<HeartbeatChain>,
    client: ActorId,
    generation: i32,
    /// The Heartbeat to be handled as a real one at its arrival (a timer is set).
    probe: Option<u64>,
}

impl Group {
    /// How a Heartbeat of `member_id` in `generation` is answered now.
    fn heartbeat_answer(&self, member_id: &MemberId, generation: i32) -> Result<(), ErrorCode> {
        if self.fenced.contains(member_id) {
            return Err(ErrorCode::FencedInstanceId);
        }
        if !self.members.contains_key(member_id) {
            return Err(ErrorCode::UnknownMemberId);
        }
        match self.state {
            GroupState::Empty => Err(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => Err(ErrorCode::RebalanceInProgress),
            _ if generation != self.generation => Err(ErrorCode::IllegalGeneration),
            _ => Ok(()),
        }
    }

    /// Handles a Heartbeat: the member's session starts again (unless it is fenced or
    /// unknown), and the answer goes back — unless this is the first of a `chain` answered
    /// with no error, which the coordinator then keeps instead.
    pub fn heartbeat_chained(
        &mut self,
        now: Time,
        from: ActorId,
        member_id: &MemberId,
        generation: i32,
        chain: Option<Arc<HeartbeatChain>>,
        out: &mut Vec<Output>,
    ) {
        let r = self.heartbeat_answer(member_id, generation);
        if !self.fenced.contains(member_id) {
            if let Some(m) = self.members.get_mut(member_id) {
                m.deadline = now + Time::us(m.session_timeout_us);
            }
        }
        // a member's Heartbeat outside its chain comes after the chain ended
        self.chains.remove(member_id);
        match (chain, r) {
            (Some(beats), Ok(())) => {
                let chain = Chain {
                    beats,
                    client: from,
                    generation,
                    probe: None,
                };
                self.chains.insert(member_id.clone(), chain);
            }
            (_, r) => out.push(Output::Reply(from, Msg::HeartbeatResp(r))),
        }
    }

    /// The member's session deadline at `now`: `session.timeout.ms` after its last
    /// Heartbeat (or join, or sync), counting its chain's.
    pub(super) fn session_deadline(&self, now: Time, id: &MemberId, m: &Member) -> Time {
        let chained = self.chains.get(id).and_then(|c| {
            let k = c.beats.last_arrived(now)?;
            Some(c.beats.arrival(k) + Time::us(m.session_timeout_us))
        });
        chained.map_or(m.deadline, |d| d.max(m.deadline))
    }

    /// After every input: a chain whose next Heartbeat would now be answered with an error
    /// gets that Heartbeat handled as a real one at its arrival.
    pub fn probe_chains(&mut self, now: Time, out: &mut Vec<Output>) {
        let mut due = Vec::new();
        for (id, c) in &self.chains {
            if c.probe.is_some() || self.heartbeat_answer(id, c.generation).is_ok() {
                continue;
            }
            if let Some(k) = c.beats.next_arrival(now) {
                due.push((id.clone(), k));
            }
        }
        for (id, k) in due {
            let c = self.chains.get_mut(&id).expect("collected above");
            c.probe = Some(k);
            out.push(Output::Timer(
                c.beats.arrival(k),
                GroupTimer::ChainHeartbeat(id, k),
            ));
        }
    }

    /// Heartbeat `k` of `id`'s chain arrives, to be answered with an error (if the chain
    /// still has it and the answer is still one).
    pub(super) fn on_chain_heartbeat(&mut self, now: Time, id: &MemberId, k: u64, out: &mut Vec<Output>) {
        let Some(c) = self.chains.get_mut(id) else {
            return;
        };
        if c.probe != Some(k) || c.beats.arrival(k) != now {
            return;
        }
        c.probe = None;
        if !c.beats.exists(k) {
            return;
        }
        let (client, generation) = (c.client, c.generation);
        if self.heartbeat_answer(id, generation).is_ok() {
            // answered with no error: it keeps the session, as the chain does
            return;
        }
        self.heartbeat_chained(now, client, id, generation, None, out);
    }
}
