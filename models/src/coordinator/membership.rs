//! After the join: SyncGroup (the leader's assignment), Heartbeat, LeaveGroup, commit
//! validation, and the coordinator's timers (join deadline, session timeout).

use super::*;

impl Group {
    pub(super) fn remove_member(&mut self, id: &MemberId, reason: RemovalReason, out: &mut Vec<Output>) {
        let Some(m) = self.members.remove(id) else {
            return;
        };
        if let Some(instance) = &m.instance_id {
            if self.static_members.get(instance) == Some(id) {
                self.static_members.remove(instance);
            }
        }
        self.assignment.remove(id);
        out.push(Output::Event(Event::MemberRemoved {
            group: self.name.clone(),
            member_id: id.clone(),
            reason,
        }));
        if self.leader.as_ref() == Some(id) {
            self.leader = self
                .members
                .iter()
                .min_by_key(|(_, m)| m.joined_at)
                .map(|(mid, _)| mid.clone());
        }
    }

    pub(super) fn after_removal(&mut self, now: Time, out: &mut Vec<Output>) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now, out),
            GroupState::PreparingRebalance => self.maybe_complete_join(now, out),
            GroupState::Empty => {}
        }
    }

    /// Handles SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        now: Time,
        from: ActorId,
        corr: u64,
        member_id: &MemberId,
        generation: i32,
        assignment: &[(MemberId, Vec<Tp>)],
        out: &mut Vec<Output>,
    ) {
        let reply = |result| Output::Reply(from, Msg::SyncGroupResp { corr, result });
        if self.fenced.contains(member_id) {
            out.push(reply(Err(ErrorCode::FencedInstanceId)));
            return;
        }
        let Some(m) = self.members.get_mut(member_id) else {
            out.push(reply(Err(ErrorCode::UnknownMemberId)));
            return;
        };
        if generation != self.generation {
            out.push(reply(Err(ErrorCode::IllegalGeneration)));
            return;
        }
        m.deadline = now + Time::us(m.session_timeout_us);
        m.client = from;
        m.sync_corr = corr;
        match self.state {
            GroupState::Empty => out.push(reply(Err(ErrorCode::UnknownMemberId))),
            GroupState::PreparingRebalance => out.push(reply(Err(ErrorCode::RebalanceInProgress))),
            GroupState::CompletingRebalance => {
                m.awaiting_sync = true;
                if self.leader.as_ref() == Some(member_id) {
                    self.assignment = assignment
                        .iter()
                        .filter(|(id, _)| self.members.contains_key(id))
                        .cloned()
                        .collect();
                    self.state = GroupState::Stable;
                    for (id, m) in self.members.iter_mut().filter(|(_, m)| m.awaiting_sync) {
                        m.awaiting_sync = false;
                        let mine = self.assignment.get(id).cloned().unwrap_or_default();
                        out.push(Output::Reply(
                            m.client,
                            Msg::SyncGroupResp {
                                corr: m.sync_corr,
                                result: Ok(mine),
                            },
                        ));
                    }
                }
            }
            GroupState::Stable => {
                let mine = self.assignment.get(member_id).cloned().unwrap_or_default();
                out.push(reply(Ok(mine)));
            }
        }
    }

    /// Handles Heartbeat.
    pub fn heartbeat(
        &mut self,
        now: Time,
        from: ActorId,
        member_id: &MemberId,
        generation: i32,
        out: &mut Vec<Output>,
    ) {
        self.heartbeat_chained(now, from, member_id, generation, None, out);
    }

    /// Handles LeaveGroup.
    pub fn leave(&mut self, now: Time, from: ActorId, member_id: &MemberId, out: &mut Vec<Output>) {
        out.push(Output::Reply(from, Msg::LeaveGroupResp));
        if self.members.contains_key(member_id) {
            self.remove_member(member_id, RemovalReason::LeaveGroup, out);
            self.after_removal(now, out);
        }
    }

    /// Whether an OffsetCommit from `member_id` in `generation` may be written.
    pub fn validate_commit(&self, member_id: Option<&MemberId>, generation: i32) -> Result<(), ErrorCode> {
        match member_id {
            Some(id) if self.fenced.contains(id) => Err(ErrorCode::FencedInstanceId),
            None if generation < 0 && self.state == GroupState::Empty => Ok(()),
            None => Err(ErrorCode::UnknownMemberId),
            Some(id) if !self.members.contains_key(id) => Err(ErrorCode::UnknownMemberId),
            Some(_) if generation != self.generation => Err(ErrorCode::IllegalGeneration),
            Some(_) if self.state == GroupState::CompletingRebalance => Err(ErrorCode::RebalanceInProgress),
            Some(_) => Ok(()),
        }
    }

    /// Handles one of this group's timers.
    pub fn on_timer(&mut self, now: Time, timer: &GroupTimer, out: &mut Vec<Output>) {
        match timer {
            GroupTimer::JoinDeadline(round) => {
                if *round != self.round || self.state != GroupState::PreparingRebalance {
                    return;
                }
                if let Some(remaining) = self.initial_remaining_us {
                    if self.new_member_added && remaining > 0 {
                        let delay = self.cfg.initial_rebalance_delay_us.min(remaining);
                        self.initial_remaining_us = Some(remaining - delay);
                        self.new_member_added = false;
                        out.push(Output::Timer(
                            now + Time::us(delay),
                            GroupTimer::JoinDeadline(self.round),
                        ));
                        return;
                    }
                }
                self.complete_join(now, out);
            }
            GroupTimer::Session(id) => {
                let Some(m) = self.members.get(id) else { return };
                let deadline = self.session_deadline(now, id, m);
                if m.awaiting_join {
                    let next = now + Time::us(m.session_timeout_us);
                    out.push(Output::Timer(next, GroupTimer::Session(id.clone())));
                } else if deadline <= now {
                    self.remove_member(id, RemovalReason::SessionTimeout, out);
                    self.after_removal(now, out);
                } else {
                    out.push(Output::Timer(deadline, GroupTimer::Session(id.clone())));
                }
            }
            GroupTimer::ChainHeartbeat(id, k) => self.on_chain_heartbeat(now, id, *k, out),
        }
    }
}
