//! The group coordinator of the classic consumer group protocol, as a state machine.
//!
//! Reproduces the broker side of JoinGroup / SyncGroup / Heartbeat / LeaveGroup /
//! OffsetCommit validation as Apache Kafka's `ClassicGroup` and `GroupCoordinator` do:
//!
//! * states `Empty → PreparingRebalance → CompletingRebalance → Stable`;
//! * KIP-394: a join with an empty member id is answered `MEMBER_ID_REQUIRED` with a fresh
//!   id `client.id-UUID` (`group.instance.id-UUID` for static members), and the member must
//!   join again with it before the round can complete;
//! * `group.initial.rebalance.delay.ms`: a rebalance out of `Empty` waits that long, and each
//!   new member joining during the wait extends it by the same delay, never past the
//!   rebalance timeout (Kafka's `InitialDelayedJoin`);
//! * otherwise a round completes when every known member has rejoined (and no handed-out id
//!   is still pending), or at the rebalance timeout (the largest `max.poll.interval.ms` of the
//!   members), when members that did not rejoin are removed;
//! * completing a round bumps the generation, picks the protocol every member supports with
//!   the most first-choice votes, and sends the member list to the leader only;
//! * the leader's SyncGroup carries the assignment; followers' SyncGroups wait for it;
//! * a member silent for `session.timeout.ms` is removed (not while it is waiting for a join
//!   round to complete), which triggers a rebalance; LeaveGroup removes at once;
//! * a known follower rejoining a Stable group with unchanged subscription gets the current
//!   generation back without a rebalance; the leader rejoining, or a changed subscription,
//!   starts one;
//! * static membership (KIP-345): a member with `group.instance.id` gets its member id on its
//!   first JoinGroup (no `MEMBER_ID_REQUIRED`); a new process with the same instance id
//!   joining with no member id replaces the old member — same assignment, no rebalance when
//!   the group is Stable — and the old member id is fenced (`FENCED_INSTANCE_ID`).
//!
//! Where real Kafka leaves a choice to hash-map order (a new leader after the old one left;
//! a tie in the protocol vote), this model decides deterministically: the earliest-joined
//! remaining member leads, and a tie goes to the protocol the leader prefers.
//!
//! The machine is pure: each input returns [`Output`]s (replies, timers to set, history
//! events) for the broker actor to carry out.

use crate::assignor::{AssignorKind, MemberSubscription};
use crate::group_metadata::{GroupMetadata, MemberMetadata};
use crate::history::{Event, Protocol, RemovalReason, StaticReplacement};
use crate::protocol::{ErrorCode, GroupTimer, JoinGroup, JoinOk, Msg};
use crate::types::{MemberId, Tp};
use sim::{ActorId, Time};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The group's state, as Kafka names it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment handed out.
    Stable,
}

/// What the coordinator asks its broker to do.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send `Msg` to a client.
    Reply(ActorId, Msg),
    /// Fire `GroupTimer` at the given time.
    Timer(Time, GroupTimer),
    /// Record a history event.
    Event(Event),
}

/// Broker-side group settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`, in µs.
    pub initial_rebalance_delay_us: u64,
}

#[derive(Clone, Debug)]
struct Member {
    client: ActorId,
    join_corr: u64,
    sync_corr: u64,
    owned: Vec<Tp>,
    owned_generation: i32,
    instance_id: Option<Arc<str>>,
    protocols: Vec<AssignorKind>,
    topics: Vec<u32>,
    session_timeout_us: u64,
    rebalance_timeout_us: u64,
    deadline: Time,
    awaiting_join: bool,
    awaiting_sync: bool,
    joined_at: u64,
}

/// One consumer group on the coordinator.
#[derive(Clone, Debug)]
pub struct Group {
    name: Arc<str>,
    cfg: GroupConfig,
    state: GroupState,
    generation: i32,
    protocol: Option<AssignorKind>,
    leader: Option<MemberId>,
    members: BTreeMap<MemberId, Member>,
    pending: BTreeSet<MemberId>,
    assignment: BTreeMap<MemberId, Vec<Tp>>,
    round: u64,
    initial_remaining_us: Option<u64>,
    new_member_added: bool,
    joins: u64,
    static_members: BTreeMap<Arc<str>, MemberId>,
    fenced: BTreeSet<MemberId>,
}

impl Group {
    /// A new, empty group.
    pub fn new(name: Arc<str>, cfg: GroupConfig) -> Group {
        Group {
            name,
            cfg,
            state: GroupState::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeSet::new(),
            assignment: BTreeMap::new(),
            round: 0,
            initial_remaining_us: None,
            new_member_added: false,
            joins: 0,
            static_members: BTreeMap::new(),
            fenced: BTreeSet::new(),
        }
    }

    /// What a coordinator writes to `__consumer_offsets` when it changes: `Some((generation,
    /// members))` in the states Kafka persists (Stable after a rebalance completes, Empty).
    pub fn persist_key(&self) -> Option<(i32, usize)> {
        match self.state {
            GroupState::Stable | GroupState::Empty => Some((self.generation, self.members.len())),
            _ => None,
        }
    }

    /// The metadata Kafka writes to `__consumer_offsets` for this group.
    pub fn metadata(&self) -> GroupMetadata {
        let members = self
            .members
            .iter()
            .map(|(id, m)| MemberMetadata {
                member_id: id.clone(),
                client: m.client,
                instance_id: m.instance_id.clone(),
                protocols: m.protocols.clone(),
                topics: m.topics.clone(),
                owned: m.owned.clone(),
                owned_generation: m.owned_generation,
                session_timeout_us: m.session_timeout_us,
                rebalance_timeout_us: m.rebalance_timeout_us,
                joined_at: m.joined_at,
            })
            .collect();
        GroupMetadata {
            group: self.name.clone(),
            empty: self.state == GroupState::Empty,
            generation: self.generation,
            protocol: self.protocol,
            leader: self.leader.clone(),
            members,
            assignment: self
                .assignment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            static_members: self
                .static_members
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            fenced: self.fenced.iter().cloned().collect(),
            joins: self.joins,
        }
    }

    /// A group restored from its last persisted metadata by a new coordinator (Kafka's
    /// `GroupMetadataManager` loading a partition): same generation, members and assignment;
    /// every member's session starts again now.
    pub fn loaded(meta: &GroupMetadata, cfg: GroupConfig, now: Time, out: &mut Vec<Output>) -> Group {
        let mut g = Group::new(meta.group.clone(), cfg);
        g.state = if meta.empty {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        g.generation = meta.generation;
        g.protocol = meta.protocol;
        g.leader = meta.leader.clone();
        g.joins = meta.joins;
        g.static_members = meta.static_members.iter().cloned().collect();
        g.fenced = meta.fenced.iter().cloned().collect();
        g.assignment = meta.assignment.iter().cloned().collect();
        for m in &meta.members {
            let deadline = now + Time::us(m.session_timeout_us);
            g.members.insert(
                m.member_id.clone(),
                Member {
                    client: m.client,
                    join_corr: 0,
                    sync_corr: 0,
                    owned: m.owned.clone(),
                    owned_generation: m.owned_generation,
                    instance_id: m.instance_id.clone(),
                    protocols: m.protocols.clone(),
                    topics: m.topics.clone(),
                    session_timeout_us: m.session_timeout_us,
                    rebalance_timeout_us: m.rebalance_timeout_us,
                    deadline,
                    awaiting_join: false,
                    awaiting_sync: false,
                    joined_at: m.joined_at,
                },
            );
            out.push(Output::Timer(deadline, GroupTimer::Session(m.member_id.clone())));
        }
        g
    }

    /// The group's id.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Current state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Current generation.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Current leader.
    pub fn leader(&self) -> Option<&MemberId> {
        self.leader.as_ref()
    }

    /// Member ids, sorted.
    pub fn member_ids(&self) -> Vec<MemberId> {
        self.members.keys().cloned().collect()
    }

    /// The assignment of the current generation, once the leader synced.
    pub fn assignment_of(&self, member: &str) -> Option<&[Tp]> {
        self.assignment.get(member).map(Vec::as_slice)
    }

    fn rebalance_timeout_us(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_us)
            .max()
            .unwrap_or(0)
    }

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
    fn join_static(
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

    fn supports_common_protocol(&self, protocols: &[AssignorKind]) -> bool {
        protocols
            .iter()
            .any(|p| self.members.values().all(|m| m.protocols.contains(p)))
    }

    fn add_member(&mut self, now: Time, from: ActorId, id: MemberId, req: &JoinGroup, out: &mut Vec<Output>) {
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

    fn prepare_rebalance(&mut self, now: Time, out: &mut Vec<Output>) {
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

    fn maybe_complete_join(&mut self, now: Time, out: &mut Vec<Output>) {
        if self.state != GroupState::PreparingRebalance || self.initial_remaining_us.is_some() {
            return;
        }
        if self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join) {
            self.complete_join(now, out);
        }
    }

    fn complete_join(&mut self, now: Time, out: &mut Vec<Output>) {
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
    fn join_ok(&self, id: &MemberId, must_assign: bool) -> JoinOk {
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
    fn select_protocol(&self) -> AssignorKind {
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

    fn remove_member(&mut self, id: &MemberId, reason: RemovalReason, out: &mut Vec<Output>) {
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

    fn after_removal(&mut self, now: Time, out: &mut Vec<Output>) {
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
        let reply = |r| Output::Reply(from, Msg::HeartbeatResp(r));
        if self.fenced.contains(member_id) {
            out.push(reply(Err(ErrorCode::FencedInstanceId)));
            return;
        }
        let Some(m) = self.members.get_mut(member_id) else {
            out.push(reply(Err(ErrorCode::UnknownMemberId)));
            return;
        };
        m.deadline = now + Time::us(m.session_timeout_us);
        let r = match self.state {
            GroupState::Empty => Err(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => Err(ErrorCode::RebalanceInProgress),
            _ if generation != self.generation => Err(ErrorCode::IllegalGeneration),
            _ => Ok(()),
        };
        out.push(reply(r));
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
                if m.awaiting_join {
                    let next = now + Time::us(m.session_timeout_us);
                    out.push(Output::Timer(next, GroupTimer::Session(id.clone())));
                } else if m.deadline <= now {
                    self.remove_member(id, RemovalReason::SessionTimeout, out);
                    self.after_removal(now, out);
                } else {
                    out.push(Output::Timer(m.deadline, GroupTimer::Session(id.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: u64 = 10_000_000;
    const REBALANCE: u64 = 300_000_000;

    fn req(member: Option<&MemberId>) -> JoinGroup {
        JoinGroup {
            group: "g".into(),
            member_id: member.cloned(),
            instance_id: None,
            client_id: "client".into(),
            session_timeout_us: SESSION,
            rebalance_timeout_us: REBALANCE,
            protocols: vec![AssignorKind::Range, AssignorKind::Roundrobin],
            topics: vec![0],
            owned: Vec::new(),
            owned_generation: -1,
            corr: 0,
        }
    }

    struct Harness {
        g: Group,
        uuids: u32,
        out: Vec<Output>,
    }

    impl Harness {
        fn new(delay_ms: u64) -> Self {
            Harness {
                g: Group::new(
                    "g".into(),
                    GroupConfig {
                        initial_rebalance_delay_us: delay_ms * 1000,
                    },
                ),
                uuids: 0,
                out: Vec::new(),
            }
        }

        fn join(&mut self, now_ms: u64, client: u32, member: Option<&MemberId>) -> Vec<Output> {
            self.uuids += 1;
            let n = self.uuids;
            self.g.join(
                Time::ms(now_ms),
                ActorId(client),
                &req(member),
                || format!("uuid{n}"),
                &mut self.out,
            );
            std::mem::take(&mut self.out)
        }

        /// First join + MEMBER_ID_REQUIRED + second join, returns the member id.
        fn join_new(&mut self, now_ms: u64, client: u32) -> (MemberId, Vec<Output>) {
            let out = self.join(now_ms, client, None);
            let id = match &out[..] {
                [Output::Reply(
                    _,
                    Msg::JoinGroupResp {
                        result: Err((ErrorCode::MemberIdRequired, Some(id))),
                        ..
                    },
                )] => id.clone(),
                other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
            };
            (id.clone(), self.join(now_ms, client, Some(&id)))
        }

        fn timer(&mut self, now_ms: u64, t: GroupTimer) -> Vec<Output> {
            self.g.on_timer(Time::ms(now_ms), &t, &mut self.out);
            std::mem::take(&mut self.out)
        }
    }

    fn join_oks(out: &[Output]) -> Vec<(u32, JoinOk)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Reply(to, Msg::JoinGroupResp { result: Ok(j), .. }) => Some((to.0, j.clone())),
                _ => None,
            })
            .collect()
    }

    fn deadline(out: &[Output]) -> Option<(Time, GroupTimer)> {
        out.iter().find_map(|o| match o {
            Output::Timer(t, g @ GroupTimer::JoinDeadline(_)) => Some((*t, g.clone())),
            _ => None,
        })
    }

    #[test]
    fn persisted_metadata_restores_the_same_group() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        let (_, t) = deadline(&out).unwrap();
        h.timer(0, t);
        let assignment = [(a.clone(), vec![Tp::new(0, 0), Tp::new(0, 1)])];
        h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &assignment, &mut h.out);
        h.out.clear();
        assert_eq!(h.g.state(), GroupState::Stable);
        let meta = h.g.metadata();
        assert_eq!(meta.generation, 1);
        assert_eq!(meta.leader.as_ref(), Some(&a));
        assert_eq!(meta.assignment, assignment.to_vec());
        let mut out = Vec::new();
        let cfg = GroupConfig {
            initial_rebalance_delay_us: 0,
        };
        let loaded = Group::loaded(&meta, cfg, Time::ms(500), &mut out);
        assert_eq!(loaded.metadata(), meta, "the record round-trips");
        assert_eq!(loaded.state(), GroupState::Stable);
        assert_eq!(loaded.assignment_of(&a), Some(&assignment[0].1[..]));
        // the member's session starts again at the load
        match &out[..] {
            [Output::Timer(at, GroupTimer::Session(id))] => {
                assert_eq!(*at, Time::ms(500) + Time::us(SESSION));
                assert_eq!(id, &a);
            }
            other => panic!("expected one session timer, got {other:?}"),
        }
    }

    #[test]
    fn member_id_required_then_join_with_initial_delay() {
        let mut h = Harness::new(3000);
        let (id, out) = h.join_new(0, 1);
        assert_eq!(&*id, "client-uuid1");
        assert_eq!(h.g.state(), GroupState::PreparingRebalance);
        assert!(join_oks(&out).is_empty(), "waits for the initial delay");
        let (at, t) = deadline(&out).expect("initial delay timer");
        assert_eq!(at, Time::ms(3000));
        let out = h.timer(3000, t);
        let oks = join_oks(&out);
        assert_eq!(oks.len(), 1);
        assert_eq!(oks[0].1.generation, 1);
        assert_eq!(oks[0].1.leader, id);
        assert_eq!(oks[0].1.members.len(), 1, "the leader gets the member list");
        assert_eq!(h.g.state(), GroupState::CompletingRebalance);
    }

    #[test]
    fn joins_during_initial_delay_extend_it() {
        let mut h = Harness::new(3000);
        let (_, out) = h.join_new(0, 1);
        let (_, t) = deadline(&out).unwrap();
        h.join_new(1000, 2);
        let out = h.timer(3000, t);
        assert!(join_oks(&out).is_empty());
        let (at, t) = deadline(&out).expect("extended");
        assert_eq!(at, Time::ms(6000));
        let out = h.timer(6000, t);
        assert_eq!(join_oks(&out).len(), 2);
        assert_eq!(h.g.generation(), 1);
    }

    #[test]
    fn sync_hands_out_the_leaders_assignment() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        let (_, t) = deadline(&out).unwrap();
        let out = h.timer(0, t);
        assert_eq!(join_oks(&out).len(), 1);
        h.g.sync(
            Time::ms(1),
            ActorId(1),
            0,
            &a,
            1,
            &[(a.clone(), vec![Tp::new(0, 0)])],
            &mut h.out,
        );
        let out = std::mem::take(&mut h.out);
        assert!(
            matches!(&out[..], [Output::Reply(ActorId(1), Msg::SyncGroupResp { result: Ok(p), .. })] if p == &vec![Tp::new(0, 0)])
        );
        assert_eq!(h.g.state(), GroupState::Stable);
    }

    /// Demo 2's shape: a second member joins a Stable group; the first learns of it from its
    /// heartbeat, rejoins, and generation 2 has both.
    #[test]
    fn second_member_triggers_rebalance_and_generation_bump() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        h.timer(0, deadline(&out).unwrap().1);
        h.g.sync(
            Time::ms(1),
            ActorId(1),
            0,
            &a,
            1,
            &[(a.clone(), vec![Tp::new(0, 0), Tp::new(0, 1)])],
            &mut h.out,
        );
        h.out.clear();
        let (b, out) = h.join_new(10_000, 2);
        assert_eq!(h.g.state(), GroupState::PreparingRebalance);
        assert!(join_oks(&out).is_empty(), "waits for the known member a");
        h.g.heartbeat(Time::ms(11_000), ActorId(1), &a, 1, &mut h.out);
        let hb = std::mem::take(&mut h.out);
        assert!(matches!(
            &hb[..],
            [Output::Reply(
                _,
                Msg::HeartbeatResp(Err(ErrorCode::RebalanceInProgress))
            )]
        ));
        let out = h.join(11_001, 1, Some(&a));
        let oks = join_oks(&out);
        assert_eq!(oks.len(), 2);
        assert!(oks.iter().all(|(_, j)| j.generation == 2));
        let leader = oks.iter().find(|(_, j)| !j.members.is_empty()).unwrap();
        assert_eq!(leader.1.member_id, a, "the first member stays leader");
        assert_eq!(leader.1.members.len(), 2);
        // a stale generation is refused
        h.g.sync(Time::ms(11_002), ActorId(2), 0, &b, 1, &[], &mut h.out);
        assert!(matches!(
            &h.out[..],
            [Output::Reply(
                _,
                Msg::SyncGroupResp {
                    result: Err(ErrorCode::IllegalGeneration),
                    ..
                }
            )]
        ));
    }

    #[test]
    fn follower_rejoin_in_stable_keeps_generation_leader_rejoin_does_not() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        h.timer(0, deadline(&out).unwrap().1);
        let (b, _) = h.join_new(1, 2);
        h.join(2, 1, Some(&a));
        h.g.sync(Time::ms(3), ActorId(2), 0, &b, 2, &[], &mut h.out);
        h.g.sync(
            Time::ms(3),
            ActorId(1),
            0,
            &a,
            2,
            &[(a.clone(), vec![]), (b.clone(), vec![])],
            &mut h.out,
        );
        h.out.clear();
        assert_eq!(h.g.state(), GroupState::Stable);
        let out = h.join(4, 2, Some(&b));
        assert_eq!(join_oks(&out)[0].1.generation, 2);
        assert_eq!(h.g.state(), GroupState::Stable);
        h.join(5, 1, Some(&a));
        assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    }

    #[test]
    fn leave_and_session_timeout_remove_members() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        h.timer(0, deadline(&out).unwrap().1);
        let (b, _) = h.join_new(1, 2);
        h.join(2, 1, Some(&a));
        h.g.sync(Time::ms(3), ActorId(1), 0, &a, 2, &[], &mut h.out);
        h.out.clear();
        // b goes silent; a heartbeats
        h.g.heartbeat(Time::ms(5_000), ActorId(1), &a, 2, &mut h.out);
        h.out.clear();
        let out = h.timer(10_003, GroupTimer::Session(b.clone()));
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Event(Event::MemberRemoved {
                reason: RemovalReason::SessionTimeout,
                ..
            })
        )));
        assert_eq!(h.g.state(), GroupState::PreparingRebalance);
        let out = h.join(10_004, 1, Some(&a));
        assert_eq!(join_oks(&out)[0].1.generation, 3);
        // a leaves: the group becomes empty with a new generation
        h.g.leave(Time::ms(10_005), ActorId(1), &a, &mut h.out);
        assert_eq!(h.g.state(), GroupState::Empty);
        assert_eq!(h.g.generation(), 4);
        assert!(h.g.member_ids().is_empty());
    }

    #[test]
    fn heartbeat_and_commit_validation() {
        let mut h = Harness::new(0);
        assert_eq!(
            h.g.validate_commit(None, -1),
            Ok(()),
            "simple commit to an empty group"
        );
        let (a, out) = h.join_new(0, 1);
        h.timer(0, deadline(&out).unwrap().1);
        assert_eq!(
            h.g.validate_commit(Some(&a), 1),
            Err(ErrorCode::RebalanceInProgress)
        );
        h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
        assert_eq!(h.g.validate_commit(Some(&a), 1), Ok(()));
        assert_eq!(
            h.g.validate_commit(Some(&a), 0),
            Err(ErrorCode::IllegalGeneration)
        );
        assert_eq!(
            h.g.validate_commit(Some(&"x".into()), 1),
            Err(ErrorCode::UnknownMemberId)
        );
        h.out.clear();
        h.g.heartbeat(Time::ms(2), ActorId(9), &"nobody".into(), 1, &mut h.out);
        assert!(matches!(
            &h.out[..],
            [Output::Reply(
                _,
                Msg::HeartbeatResp(Err(ErrorCode::UnknownMemberId))
            )]
        ));
    }

    #[test]
    fn rebalance_timeout_removes_members_that_did_not_rejoin() {
        let mut h = Harness::new(0);
        let (a, out) = h.join_new(0, 1);
        h.timer(0, deadline(&out).unwrap().1);
        h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
        h.out.clear();
        let (_b, out) = h.join_new(1_000, 2);
        let (at, t) = deadline(&out).unwrap();
        assert_eq!(at, Time::ms(1_000) + Time::us(REBALANCE));
        // a keeps heartbeating but never rejoins (a stalled poll loop)
        let out = h.timer(at.as_ms(), t);
        let oks = join_oks(&out);
        assert_eq!(oks.len(), 1);
        assert_eq!(oks[0].0, 2);
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Event(Event::MemberRemoved {
                reason: RemovalReason::RebalanceTimeout,
                ..
            })
        )));
    }

    #[test]
    fn protocol_vote_and_inconsistent_protocol() {
        let mut h = Harness::new(0);
        let (_a, out) = h.join_new(0, 1);
        let mut r = req(None);
        r.protocols = vec![AssignorKind::Sticky];
        h.g.join(Time::ms(0), ActorId(3), &r, || "u".into(), &mut h.out);
        assert!(matches!(
            &h.out[..],
            [Output::Reply(
                _,
                Msg::JoinGroupResp {
                    result: Err((ErrorCode::InconsistentGroupProtocol, _)),
                    ..
                }
            )]
        ));
        h.out.clear();
        // b prefers roundrobin; a prefers range: tie goes to the leader's preference
        let mut r = req(None);
        r.protocols = vec![AssignorKind::Roundrobin, AssignorKind::Range];
        h.g.join(Time::ms(0), ActorId(2), &r, || "v".into(), &mut h.out);
        let id = match &h.out[0] {
            Output::Reply(
                _,
                Msg::JoinGroupResp {
                    result: Err((_, Some(id))),
                    ..
                },
            ) => id.clone(),
            o => panic!("{o:?}"),
        };
        h.out.clear();
        r.member_id = Some(id);
        h.g.join(Time::ms(0), ActorId(2), &r, || "w".into(), &mut h.out);
        // the first deadline sees that b joined during the (zero) initial delay and re-arms
        let out = h.timer(0, deadline(&out).unwrap().1);
        assert!(join_oks(&out).is_empty());
        let out = h.timer(0, deadline(&out).unwrap().1);
        let oks = join_oks(&out);
        assert_eq!(oks.len(), 2);
        assert!(oks.iter().all(|(_, j)| j.protocol == AssignorKind::Range));
    }

    #[test]
    fn static_member_restart_replaces_and_fences_without_rebalance() {
        let mut h = Harness::new(0);
        let mut r = req(None);
        r.instance_id = Some("inst-a".into());
        // a static member gets its id at once: no MEMBER_ID_REQUIRED round
        h.g.join(Time::ms(0), ActorId(1), &r, || "u1".into(), &mut h.out);
        let out = std::mem::take(&mut h.out);
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::Reply(_, Msg::JoinGroupResp { result: Err(_), .. }))));
        h.timer(0, deadline(&out).unwrap().1);
        let a: MemberId = "inst-a-u1".into();
        h.g.sync(
            Time::ms(1),
            ActorId(1),
            0,
            &a,
            1,
            &[(a.clone(), vec![Tp::new(0, 0)])],
            &mut h.out,
        );
        h.out.clear();
        assert_eq!(h.g.state(), GroupState::Stable);
        // the process restarts: same instance id, no member id
        h.g.join(Time::ms(5_000), ActorId(1), &r, || "u2".into(), &mut h.out);
        let out = std::mem::take(&mut h.out);
        let oks = join_oks(&out);
        assert_eq!(oks.len(), 1);
        assert_eq!(&*oks[0].1.member_id, "inst-a-u2");
        assert_eq!(oks[0].1.generation, 1, "no new generation");
        assert_eq!(h.g.state(), GroupState::Stable);
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Event(Event::StaticReplaced(_)))));
        let b: MemberId = "inst-a-u2".into();
        assert_eq!(
            h.g.assignment_of(&b),
            Some(&[Tp::new(0, 0)][..]),
            "keeps the assignment"
        );
        // the old id is fenced everywhere
        h.g.heartbeat(Time::ms(5_001), ActorId(9), &a, 1, &mut h.out);
        assert!(matches!(
            &h.out[..],
            [Output::Reply(
                _,
                Msg::HeartbeatResp(Err(ErrorCode::FencedInstanceId))
            )]
        ));
        assert_eq!(h.g.validate_commit(Some(&a), 1), Err(ErrorCode::FencedInstanceId));
    }
}
