//! The KIP-848 consumer group protocol (`group.protocol=consumer`), broker side, as a state
//! machine.
//!
//! There is no JoinGroup or SyncGroup: every member sends `ConsumerGroupHeartbeat` with its
//! member epoch, its subscription and the partitions it owns; the coordinator answers with
//! the member's assignment. Reproduced from KIP-848, KIP-1082 and Apache Kafka's
//! `GroupMetadataManager` / `ConsumerGroup`:
//!
//! * the **consumer generates its member id** (a random Uuid, KIP-1082) and keeps it for its
//!   process's life; a heartbeat without one is `INVALID_REQUEST` ([`validate`]). A member
//!   joins with epoch 0 — a known member id rejoining with 0 is taken back (KAFKA-19233) —
//!   and leaves with epoch −1;
//! * any change of membership or subscription bumps the **group epoch** and the broker-side
//!   assignor (`uniform` — balanced and sticky, the default — or `range`, which puts static
//!   members first by instance id) computes a new **target assignment**;
//! * a heartbeat's epoch must be the member's — or its previous one, owning no more than it
//!   was given (the answer that moved it on was lost) — else `FENCED_MEMBER_EPOCH`;
//! * **reconciliation**, per member: partitions the target takes away are revoked first (the
//!   answer leaves them out, and the member epoch stays); only once the member's heartbeat
//!   shows it no longer owns them does it move to the target epoch; a partition the target
//!   gives a member is handed over only when no other member still owns it. So no partition
//!   has two owners at any instant;
//! * **static members** (`group.instance.id`, in `static_member.rs`): leaving with epoch −2 keeps
//!   the member, its assignment and its partitions; a new member id with the same instance id
//!   then takes its place — same assignment, no group epoch bump. A live holder makes a
//!   second joiner fail with `UNRELEASED_INSTANCE_ID`, a replaced id `FENCED_INSTANCE_ID`;
//! * a member silent for `session.timeout.ms` (broker side, 45 s) is removed, which bumps the
//!   group epoch — a static member away with epoch −2 too. Heartbeats are every
//!   `group.consumer.heartbeat.interval.ms` (5 s).

mod static_member;
pub mod validate;

use crate::assignor::ServerAssignor;
use crate::assignor::{self, MemberSubscription};
use crate::coordinator::Output;
use crate::history::{Event, Protocol, RemovalReason};
use crate::protocol::{ConsumerHeartbeat, ConsumerHeartbeatOk, GroupTimer};
use crate::protocol::{ErrorCode, Msg};
use crate::types::{MemberId, Tp};
use sim::{ActorId, Time};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use validate::{LEAVE_EPOCH, LEAVE_STATIC_EPOCH};

#[derive(Clone, Debug)]
struct Member {
    client: ActorId,
    /// Member epoch; −2 while a static member is away.
    epoch: i32,
    /// The epoch before the last move (a heartbeat may still carry it: its answer was lost).
    previous_epoch: i32,
    instance_id: Option<Arc<str>>,
    topics: Vec<u32>,
    owned: BTreeSet<Tp>,
    deadline: Time,
}

/// Broker settings of KIP-848 groups.
#[derive(Copy, Clone, Debug)]
pub struct Config {
    /// `group.consumer.session.timeout.ms`, µs.
    pub session_timeout_us: u64,
    /// `group.consumer.heartbeat.interval.ms`, µs.
    pub heartbeat_interval_us: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_timeout_us: 45_000_000,
            heartbeat_interval_us: 5_000_000,
        }
    }
}

/// A heartbeat's answer.
type Answer = Result<ConsumerHeartbeatOk, ErrorCode>;

/// One KIP-848 consumer group.
pub struct ConsumerGroup {
    name: Arc<str>,
    cfg: Config,
    partitions: Vec<u32>,
    assignor: ServerAssignor,
    group_epoch: i32,
    members: BTreeMap<MemberId, Member>,
    /// `group.instance.id` → the member id holding it.
    static_members: BTreeMap<Arc<str>, MemberId>,
    target: BTreeMap<MemberId, BTreeSet<Tp>>,
}

impl ConsumerGroup {
    /// A new group over topics with `partitions[t]` partitions each.
    pub fn new(name: Arc<str>, cfg: Config, partitions: Vec<u32>) -> ConsumerGroup {
        ConsumerGroup {
            name,
            cfg,
            partitions,
            assignor: ServerAssignor::Uniform,
            group_epoch: 0,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            target: BTreeMap::new(),
        }
    }

    /// The group epoch.
    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    /// A member's epoch (−2: a static member away).
    pub fn member_epoch(&self, id: &str) -> Option<i32> {
        self.members.get(id).map(|m| m.epoch)
    }

    /// The member id holding `group.instance.id` `instance`.
    pub fn static_member(&self, instance: &str) -> Option<&MemberId> {
        self.static_members.get(instance)
    }

    /// A member's target assignment.
    pub fn target_of(&self, id: &str) -> Vec<Tp> {
        self.target
            .get(id)
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default()
    }

    fn bump(&mut self, out: &mut Vec<Output>) {
        self.group_epoch += 1;
        let subs: Vec<MemberSubscription> = self
            .members
            .iter()
            .map(|(id, m)| MemberSubscription {
                member_id: id.clone(),
                instance_id: m.instance_id.clone(),
                topics: m.topics.clone(),
                owned: self.target_of(id),
                generation: 0,
            })
            .collect();
        let topics = assignor::topics_from_counts(&self.partitions);
        let assignment = self.assignor.assign(&subs, &topics);
        self.target = assignment
            .into_iter()
            .map(|(m, tps)| (m, tps.into_iter().collect()))
            .collect();
        if !self.members.is_empty() {
            out.push(Output::Event(Event::GenerationStarted {
                group: self.name.clone(),
                generation: self.group_epoch,
                protocol: Protocol::Server(self.assignor),
                leader: self.members.keys().next().expect("a member").clone(),
                members: self.members.keys().cloned().collect(),
            }));
        }
    }

    /// What `id` may own now, and its epoch: the reconciliation step.
    fn reconcile(&mut self, id: &MemberId) -> ConsumerHeartbeatOk {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let owned_by_others: BTreeSet<Tp> = self
            .members
            .iter()
            .filter(|(other, _)| *other != id)
            .flat_map(|(_, m)| m.owned.iter().copied())
            .collect();
        let m = self.members.get_mut(id).expect("member");
        let revoking: Vec<Tp> = m.owned.difference(&target).copied().collect();
        let assignment: Vec<Tp> = if revoking.is_empty() {
            if m.epoch != self.group_epoch {
                m.previous_epoch = m.epoch;
                m.epoch = self.group_epoch;
            }
            let assignment: Vec<Tp> = target
                .iter()
                .filter(|tp| !owned_by_others.contains(tp))
                .copied()
                .collect();
            m.owned = assignment.iter().copied().collect();
            assignment
        } else {
            // first give up what moves; the epoch waits for the acknowledgement
            m.owned.intersection(&target).copied().collect()
        };
        ConsumerHeartbeatOk {
            member_id: id.clone(),
            member_epoch: m.epoch,
            assignment,
            heartbeat_interval_us: self.cfg.heartbeat_interval_us,
        }
    }

    /// Handles one heartbeat.
    pub fn heartbeat(&mut self, now: Time, from: ActorId, req: &ConsumerHeartbeat, out: &mut Vec<Output>) {
        let answer = match validate::check(req) {
            Err(e) => Err(e),
            Ok(()) => {
                if let Some(a) = req.assignor {
                    self.assignor = a;
                }
                match req.member_epoch {
                    LEAVE_EPOCH | LEAVE_STATIC_EPOCH => self.leave(req, out),
                    0 => self.join(now, from, req, out),
                    _ => self.beat(now, from, req, out),
                }
            }
        };
        let (corr, result) = (req.corr, answer);
        out.push(Output::Reply(from, Msg::ConsumerHeartbeatResp { corr, result }));
    }

    /// The member a heartbeat of an existing member (epoch > 0, −1, −2) names: by member id, or
    /// for a static member by instance id, which must still be held by that member id.
    fn existing(&self, req: &ConsumerHeartbeat) -> Result<MemberId, ErrorCode> {
        match &req.instance_id {
            None if self.members.contains_key(&req.member_id) => Ok(req.member_id.clone()),
            None => Err(ErrorCode::UnknownMemberId),
            Some(instance) => self.static_holder(instance, &req.member_id),
        }
    }

    /// Epoch 0: a new member, a known member id rejoining, or a static member returning.
    fn join(&mut self, now: Time, from: ActorId, req: &ConsumerHeartbeat, out: &mut Vec<Output>) -> Answer {
        let id = req.member_id.clone();
        let replaced = req
            .instance_id
            .as_ref()
            .and_then(|i| self.static_members.get(i))
            .cloned();
        let mut bump = match &req.instance_id {
            Some(instance) => self.join_static(instance, &id, out)?,
            None => !self.members.contains_key(&id),
        };
        let fresh = !self.members.contains_key(&id) || replaced.is_some_and(|old| old != id);
        let m = self.members.entry(id.clone()).or_insert_with(|| Member {
            client: from,
            epoch: 0,
            previous_epoch: 0,
            instance_id: None,
            topics: req.topics.clone(),
            owned: BTreeSet::new(),
            deadline: now,
        });
        // a member rejoining starts from nothing: it owns what it reports (none)
        m.epoch = 0;
        m.previous_epoch = 0;
        m.instance_id = req.instance_id.clone();
        bump |= self.update(now, from, &id, req);
        if fresh {
            let deadline = self.members[&id].deadline;
            out.push(Output::Timer(deadline, GroupTimer::Session(id.clone())));
        }
        if bump {
            self.bump(out);
        }
        Ok(self.reconcile(&id))
    }

    /// Records a heartbeat of member `id`: who sent it, its session, what it owns, its
    /// subscription. Returns whether the subscription changed.
    fn update(&mut self, now: Time, from: ActorId, id: &MemberId, req: &ConsumerHeartbeat) -> bool {
        let m = self.members.get_mut(id).expect("member");
        m.client = from;
        m.deadline = now + Time::us(self.cfg.session_timeout_us);
        // the member's report is the truth about what it owns
        m.owned = req.owned.iter().copied().collect();
        let changed = m.topics != req.topics;
        m.topics = req.topics.clone();
        changed
    }

    /// A heartbeat of a member in the group (epoch > 0).
    fn beat(&mut self, now: Time, from: ActorId, req: &ConsumerHeartbeat, out: &mut Vec<Output>) -> Answer {
        let id = self.existing(req)?;
        self.check_epoch(&id, req)?;
        if self.update(now, from, &id, req) {
            self.bump(out);
        }
        Ok(self.reconcile(&id))
    }

    /// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: an epoch ahead of the member's is
    /// `FENCED_MEMBER_EPOCH`; one behind it too, unless it is the previous epoch and the member
    /// owns no more than it was given (the answer that moved it on was lost).
    fn check_epoch(&self, id: &MemberId, req: &ConsumerHeartbeat) -> Result<(), ErrorCode> {
        let m = &self.members[id];
        let e = req.member_epoch;
        let lost_answer = e == m.previous_epoch && req.owned.iter().all(|tp| m.owned.contains(tp));
        if e > m.epoch || (e < m.epoch && !lost_answer) {
            return Err(ErrorCode::FencedMemberEpoch);
        }
        Ok(())
    }

    /// Epoch −1 (the member leaves: removed, the group epoch moves) or −2 (a static member
    /// leaves for now: kept, with its assignment, until its session times out).
    fn leave(&mut self, req: &ConsumerHeartbeat, out: &mut Vec<Output>) -> Answer {
        let id = self.existing(req)?;
        if req.member_epoch == LEAVE_STATIC_EPOCH {
            self.members.get_mut(&id).expect("member").epoch = LEAVE_STATIC_EPOCH;
        } else {
            self.remove(&id, RemovalReason::LeaveGroup, out);
        }
        Ok(ConsumerHeartbeatOk {
            member_id: id,
            member_epoch: req.member_epoch,
            assignment: Vec::new(),
            heartbeat_interval_us: self.cfg.heartbeat_interval_us,
        })
    }

    /// Removes member `id` and bumps the group epoch.
    fn remove(&mut self, id: &MemberId, reason: RemovalReason, out: &mut Vec<Output>) {
        let Some(m) = self.members.remove(id) else { return };
        if let Some(instance) = &m.instance_id {
            if self.static_members.get(instance) == Some(id) {
                self.static_members.remove(instance);
            }
        }
        self.target.remove(id);
        out.push(Output::Event(Event::MemberRemoved {
            group: self.name.clone(),
            member_id: id.clone(),
            reason,
        }));
        self.bump(out);
    }

    /// Whether a commit from `member` at `epoch` is accepted.
    pub fn validate_commit(&self, member: Option<&MemberId>, epoch: i32) -> Result<(), ErrorCode> {
        match member.and_then(|m| self.members.get(m)) {
            // a member commits with the epoch it knows; the broker may have moved it on since
            Some(m) if epoch <= m.epoch => Ok(()),
            Some(_) => Err(ErrorCode::IllegalGeneration),
            None if member.is_none() && self.members.is_empty() => Ok(()),
            None => Err(ErrorCode::UnknownMemberId),
        }
    }

    /// A session timer fired.
    pub fn on_timer(&mut self, now: Time, timer: &GroupTimer, out: &mut Vec<Output>) {
        let GroupTimer::Session(id) = timer else { return };
        let Some(m) = self.members.get(id) else { return };
        if m.deadline <= now {
            self.remove(id, RemovalReason::SessionTimeout, out);
        } else {
            out.push(Output::Timer(m.deadline, GroupTimer::Session(id.clone())));
        }
    }
}

#[cfg(test)]
mod tests;
