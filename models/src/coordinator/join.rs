//! JoinGroup: admitting members (KIP-394 member ids, KIP-345 static members), preparing a
//! rebalance, completing a join round (new generation, protocol vote, the leader's member list).

use super::*;

impl Group {
    /// Handles JoinGroup. `fresh_uuid` draws a UUID string for a new member id.
    pub fn join(
        &mut self,
        now: Time,
        from: ActorId,
        req: &JoinGroup,
        fresh_uuid: impl FnOnce() -> String,
        out: &mut Vec<Output>,
    ) {
        let corr = req.corr;
        let reply = |result| Output::Reply(from, Msg::JoinGroupResp { corr, result });
        if req.member_id.as_ref().is_some_and(|id| self.fenced.contains(id)) {
            out.push(reply(Err((ErrorCode::FencedInstanceId, None))));
            return;
        }
        if !self.members.is_empty() && !self.supports_common_protocol(&req.protocols) {
            out.push(reply(Err((ErrorCode::InconsistentGroupProtocol, None))));
            return;
        }
        let Some(id) = req.member_id.clone() else {
            let prefix = req.instance_id.as_deref().unwrap_or(&req.client_id);
            let id: MemberId = format!("{prefix}-{}", fresh_uuid()).into();
            match &req.instance_id {
                Some(instance) => self.join_static(now, from, instance, id, req, out),
                None => {
                    self.pending.insert(id.clone());
                    out.push(reply(Err((ErrorCode::MemberIdRequired, Some(id)))));
                }
            }
            return;
        };
        if self.pending.remove(&id) {
            self.add_member(now, from, id, req, out);
            match self.state {
                GroupState::PreparingRebalance => self.maybe_complete_join(now, out),
                _ => self.prepare_rebalance(now, out),
            }
            return;
        }
        let Some(m) = self.members.get_mut(&id) else {
            out.push(reply(Err((ErrorCode::UnknownMemberId, None))));
            return;
        };
        // the protocol metadata Kafka compares includes the owned partitions (KIP-429): a
        // cooperative member that revoked some rejoins with different metadata
        let changed = m.protocols != req.protocols || m.topics != req.topics || m.owned != req.owned;
        m.client = from;
        m.join_corr = corr;
        m.owned = req.owned.clone();
        m.owned_generation = req.owned_generation;
        m.protocols = req.protocols.clone();
        m.topics = req.topics.clone();
        m.session_timeout_us = req.session_timeout_us;
        m.rebalance_timeout_us = req.rebalance_timeout_us;
        m.deadline = now + Time::us(m.session_timeout_us);
        m.awaiting_join = true;
        let is_leader = self.leader.as_ref() == Some(&id);
        let needs_rebalance = changed || (is_leader && self.state == GroupState::Stable);
        match self.state {
            GroupState::PreparingRebalance => self.maybe_complete_join(now, out),
            GroupState::CompletingRebalance | GroupState::Stable if !needs_rebalance => {
                // Nothing changed: hand back the current generation.
                let m = self.members.get_mut(&id).expect("member");
                m.awaiting_join = false;
                let ok = self.join_ok(&id, self.state == GroupState::CompletingRebalance);
                out.push(reply(Ok(ok)));
            }
            _ => self.prepare_rebalance(now, out),
        }
    }

    /// A static member's join with no member id: a first join, or a restart replacing the
    /// member that had this instance id.
    pub(super) fn join_static(
        &mut self,
        now: Time,
        from: ActorId,
        instance: &Arc<str>,
        id: MemberId,
        req: &JoinGroup,
        out: &mut Vec<Output>,
    ) {
        let Some(old) = self.static_members.get(instance).cloned() else {
            self.static_members.insert(instance.clone(), id.clone());
            self.add_member(now, from, id, req, out);
            match self.state {
                GroupState::PreparingRebalance => self.maybe_complete_join(now, out),
                _ => self.prepare_rebalance(now, out),
            }
            return;
        };
        let mut m = self.members.remove(&old).expect("static member present");
        self.fenced.insert(old.clone());
        m.client = from;
        m.join_corr = req.corr;
        m.session_timeout_us = req.session_timeout_us;
        m.rebalance_timeout_us = req.rebalance_timeout_us;
        m.deadline = now + Time::us(m.session_timeout_us);
        m.awaiting_sync = false;
        let unchanged = m.protocols == req.protocols && m.topics == req.topics;
        self.members.insert(id.clone(), m);
        self.static_members.insert(instance.clone(), id.clone());
        if self.leader.as_ref() == Some(&old) {
            self.leader = Some(id.clone());
        }
        if let Some(parts) = self.assignment.remove(&old) {
            self.assignment.insert(id.clone(), parts);
        }
        out.push(Output::Event(Event::StaticReplaced(Box::new(
            StaticReplacement {
                group: self.name.clone(),
                instance_id: instance.clone(),
                old,
                new: id.clone(),
            },
        ))));
        out.push(Output::Timer(
            now + Time::us(req.session_timeout_us),
            GroupTimer::Session(id.clone()),
        ));
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance if unchanged => {
                let ok = self.join_ok(&id, self.state == GroupState::CompletingRebalance);
                out.push(Output::Reply(
                    from,
                    Msg::JoinGroupResp {
                        corr: req.corr,
                        result: Ok(ok),
                    },
                ));
            }
            GroupState::PreparingRebalance => {
                self.members.get_mut(&id).expect("member").awaiting_join = true;
                self.maybe_complete_join(now, out);
            }
            _ => {
                self.members.get_mut(&id).expect("member").awaiting_join = true;
                self.prepare_rebalance(now, out);
            }
        }
    }

    pub(super) fn supports_common_protocol(&self, protocols: &[AssignorKind]) -> bool {
        protocols
            .iter()
            .any(|p| self.members.values().all(|m| m.protocols.contains(p)))
    }

    pub(super) fn add_member(
        &mut self,
        now: Time,
        from: ActorId,
        id: MemberId,
        req: &JoinGroup,
        out: &mut Vec<Output>,
    ) {
        self.joins += 1;
        let deadline = now + Time::us(req.session_timeout_us);
        self.members.insert(
            id.clone(),
            Member {
                client: from,
                join_corr: req.corr,
                sync_corr: 0,
                owned: req.owned.clone(),
                owned_generation: req.owned_generation,
                instance_id: req.instance_id.clone(),
                protocols: req.protocols.clone(),
                topics: req.topics.clone(),
                session_timeout_us: req.session_timeout_us,
                rebalance_timeout_us: req.rebalance_timeout_us,
                deadline,
                awaiting_join: true,
                awaiting_sync: false,
                joined_at: self.joins,
            },
        );
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.new_member_added = true;
        out.push(Output::Timer(deadline, GroupTimer::Session(id)));
    }

    pub(super) fn prepare_rebalance(&mut self, now: Time, out: &mut Vec<Output>) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut().filter(|m| m.awaiting_sync) {
                m.awaiting_sync = false;
                out.push(Output::Reply(
                    m.client,
                    Msg::SyncGroupResp {
                        corr: m.sync_corr,
                        result: Err(ErrorCode::RebalanceInProgress),
                    },
                ));
            }
        }
        self.assignment.clear();
        self.round += 1;
        let timeout = self.rebalance_timeout_us();
        let wait = if self.state == GroupState::Empty {
            let delay = self.cfg.initial_rebalance_delay_us.min(timeout);
            self.initial_remaining_us = Some(timeout - delay);
            self.new_member_added = false;
            delay
        } else {
            self.initial_remaining_us = None;
            timeout
        };
        self.state = GroupState::PreparingRebalance;
        out.push(Output::Timer(
            now + Time::us(wait),
            GroupTimer::JoinDeadline(self.round),
        ));
        self.maybe_complete_join(now, out);
    }

    pub(super) fn maybe_complete_join(&mut self, now: Time, out: &mut Vec<Output>) {
        if self.state != GroupState::PreparingRebalance || self.initial_remaining_us.is_some() {
            return;
        }
        if self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join) {
            self.complete_join(now, out);
        }
    }

    pub(super) fn complete_join(&mut self, now: Time, out: &mut Vec<Output>) {
        let gone: Vec<MemberId> = self
            .members
            .iter()
            .filter(|(_, m)| !m.awaiting_join)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id, RemovalReason::RebalanceTimeout, out);
        }
        self.pending.clear();
        self.initial_remaining_us = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        let protocol = self.select_protocol();
        self.protocol = Some(protocol);
        self.state = GroupState::CompletingRebalance;
        let ids = self.member_ids();
        for m in self.members.values_mut() {
            m.awaiting_join = false;
            m.deadline = now + Time::us(m.session_timeout_us);
        }
        out.push(Output::Event(Event::GenerationStarted {
            group: self.name.clone(),
            generation: self.generation,
            protocol: Protocol::Classic(protocol),
            leader: self.leader.clone().expect("a non-empty group has a leader"),
            members: ids.clone().into(),
        }));
        for id in ids {
            let ok = self.join_ok(&id, true);
            let m = &self.members[&id];
            out.push(Output::Reply(
                m.client,
                Msg::JoinGroupResp {
                    corr: m.join_corr,
                    result: Ok(ok),
                },
            ));
        }
    }

    /// The JoinGroup answer for `id`; the leader gets the member list when `must_assign`.
    pub(super) fn join_ok(&self, id: &MemberId, must_assign: bool) -> JoinOk {
        let leader = self.leader.clone().expect("leader");
        let members = if *id == leader && must_assign {
            self.members
                .iter()
                .map(|(mid, m)| MemberSubscription {
                    member_id: mid.clone(),
                    instance_id: m.instance_id.clone(),
                    topics: m.topics.clone(),
                    owned: m.owned.clone(),
                    generation: m.owned_generation,
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinOk {
            generation: self.generation,
            protocol: self.protocol.expect("protocol chosen"),
            leader,
            member_id: id.clone(),
            members,
        }
    }

    /// The protocol every member supports with the most first-choice votes.
    pub(super) fn select_protocol(&self) -> AssignorKind {
        let leader = &self.members[self.leader.as_ref().expect("leader")];
        let candidates: Vec<AssignorKind> = leader
            .protocols
            .iter()
            .copied()
            .filter(|p| self.members.values().all(|m| m.protocols.contains(p)))
            .collect();
        assert!(
            !candidates.is_empty(),
            "members were admitted only with a common protocol"
        );
        let votes = |p: AssignorKind| {
            self.members
                .values()
                .filter(|m| m.protocols.iter().find(|q| candidates.contains(q)) == Some(&p))
                .count()
        };
        let mut best = candidates[0];
        for &c in &candidates[1..] {
            if votes(c) > votes(best) {
                best = c;
            }
        }
        best
    }
}
