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

mod heartbeat_chain;
mod join;
mod membership;
#[cfg(test)]
mod tests;

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
    /// Members' heartbeat chains (`heartbeat_chain`), kept after a member is removed so that
    /// the chain's next Heartbeat is answered `UNKNOWN_MEMBER_ID`.
    chains: BTreeMap<MemberId, heartbeat_chain::Chain>,
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
            chains: BTreeMap::new(),
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
}
