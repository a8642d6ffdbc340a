//! The KIP-848 consumer group protocol (`group.protocol=consumer`), broker side, as a state
//! machine.
//!
//! There is no JoinGroup or SyncGroup: every member sends `ConsumerGroupHeartbeat` with its
//! member epoch, its subscription and the partitions it owns; the coordinator answers with
//! the member's assignment. Reproduced from KIP-848 and Apache Kafka's `ConsumerGroup`:
//!
//! * a member joins with epoch 0 and gets a member id; it leaves with epoch -1;
//! * any change of membership or subscription bumps the **group epoch** and the broker-side
//!   assignor (`uniform` — balanced and sticky, the default — or `range`) computes a new
//!   **target assignment**;
//! * **reconciliation**, per member: partitions the target takes away are revoked first (the
//!   answer leaves them out, and the member epoch stays); only once the member's heartbeat
//!   shows it no longer owns them does it move to the target epoch; a partition the target
//!   gives a member is handed over only when no other member still owns it. So no partition
//!   has two owners at any instant;
//! * a member silent for `session.timeout.ms` (broker side, 45 s) is removed, which bumps the
//!   group epoch. Heartbeats are every `group.consumer.heartbeat.interval.ms` (5 s).

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

#[derive(Clone, Debug)]
struct Member {
    client: ActorId,
    epoch: i32,
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

/// One KIP-848 consumer group.
pub struct ConsumerGroup {
    name: Arc<str>,
    cfg: Config,
    partitions: Vec<u32>,
    assignor: ServerAssignor,
    group_epoch: i32,
    members: BTreeMap<MemberId, Member>,
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
            target: BTreeMap::new(),
        }
    }

    /// The group epoch.
    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    /// A member's epoch.
    pub fn member_epoch(&self, id: &str) -> Option<i32> {
        self.members.get(id).map(|m| m.epoch)
    }

    fn bump(&mut self, out: &mut Vec<Output>) {
        self.group_epoch += 1;
        let subs: Vec<MemberSubscription> = self
            .members
            .iter()
            .map(|(id, m)| MemberSubscription {
                member_id: id.clone(),
                instance_id: None,
                topics: m.topics.clone(),
                owned: self
                    .target
                    .get(id)
                    .map(|t| t.iter().copied().collect())
                    .unwrap_or_default(),
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
    fn reconcile(&mut self, id: &MemberId) -> (i32, Vec<Tp>) {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let owned_by_others: BTreeSet<Tp> = self
            .members
            .iter()
            .filter(|(other, _)| *other != id)
            .flat_map(|(_, m)| m.owned.iter().copied())
            .collect();
        let m = self.members.get_mut(id).expect("member");
        let revoking: Vec<Tp> = m.owned.difference(&target).copied().collect();
        if !revoking.is_empty() {
            // first give up what moves; the epoch waits for the acknowledgement
            return (m.epoch, m.owned.intersection(&target).copied().collect());
        }
        m.epoch = self.group_epoch;
        let assignment: Vec<Tp> = target
            .iter()
            .filter(|tp| !owned_by_others.contains(tp))
            .copied()
            .collect();
        m.owned = assignment.iter().copied().collect();
        (m.epoch, assignment)
    }

    /// Handles one heartbeat. `fresh_uuid` draws a member id suffix.
    pub fn heartbeat(
        &mut self,
        now: Time,
        from: ActorId,
        req: &ConsumerHeartbeat,
        fresh_uuid: impl FnOnce() -> String,
        out: &mut Vec<Output>,
    ) {
        let corr = req.corr;
        let reply = |result| Output::Reply(from, Msg::ConsumerHeartbeatResp { corr, result });
        if let Some(a) = req.assignor {
            self.assignor = a;
        }
        match (req.member_epoch, &req.member_id) {
            (-1, Some(id)) => {
                if self.members.remove(id).is_some() {
                    out.push(Output::Event(Event::MemberRemoved {
                        group: self.name.clone(),
                        member_id: id.clone(),
                        reason: RemovalReason::LeaveGroup,
                    }));
                    self.target.remove(id);
                    self.bump(out);
                }
                // the member is gone: nothing to assign it (the client ignores this answer)
                out.push(reply(Err(ErrorCode::UnknownMemberId)));
            }
            (0, _) => {
                let id: MemberId = format!("{}-{}", req.client_id, fresh_uuid()).into();
                let deadline = now + Time::us(self.cfg.session_timeout_us);
                self.members.insert(
                    id.clone(),
                    Member {
                        client: from,
                        epoch: 0,
                        topics: req.topics.clone(),
                        owned: BTreeSet::new(),
                        deadline,
                    },
                );
                out.push(Output::Timer(deadline, GroupTimer::Session(id.clone())));
                self.bump(out);
                let (epoch, assignment) = self.reconcile(&id);
                out.push(reply(Ok(ConsumerHeartbeatOk {
                    member_id: id,
                    member_epoch: epoch,
                    assignment,
                    heartbeat_interval_us: self.cfg.heartbeat_interval_us,
                })));
            }
            (_, Some(id)) if self.members.contains_key(id) => {
                let m = self.members.get_mut(id).expect("member");
                m.client = from;
                m.deadline = now + Time::us(self.cfg.session_timeout_us);
                // the member's report is the truth about what it owns
                m.owned = req.owned.iter().copied().collect();
                let changed = m.topics != req.topics;
                m.topics = req.topics.clone();
                if changed {
                    self.bump(out);
                }
                let (epoch, assignment) = self.reconcile(id);
                out.push(reply(Ok(ConsumerHeartbeatOk {
                    member_id: id.clone(),
                    member_epoch: epoch,
                    assignment,
                    heartbeat_interval_us: self.cfg.heartbeat_interval_us,
                })));
            }
            _ => out.push(reply(Err(ErrorCode::UnknownMemberId))),
        }
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
            self.members.remove(id);
            self.target.remove(id);
            out.push(Output::Event(Event::MemberRemoved {
                group: self.name.clone(),
                member_id: id.clone(),
                reason: RemovalReason::SessionTimeout,
            }));
            self.bump(out);
        } else {
            out.push(Output::Timer(m.deadline, GroupTimer::Session(id.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(corr: u64, member: Option<&MemberId>, epoch: i32, owned: &[Tp]) -> ConsumerHeartbeat {
        ConsumerHeartbeat {
            corr,
            group: "g".into(),
            member_id: member.cloned(),
            member_epoch: epoch,
            client_id: "c".into(),
            topics: vec![0],
            owned: owned.to_vec(),
            assignor: None,
        }
    }

    fn ok(out: &mut Vec<Output>) -> ConsumerHeartbeatOk {
        let o = std::mem::take(out);
        o.into_iter()
            .find_map(|o| match o {
                Output::Reply(_, Msg::ConsumerHeartbeatResp { result: Ok(r), .. }) => Some(r),
                _ => None,
            })
            .expect("an answer")
    }

    /// Scale out: the new member gets partitions only after the old owner acknowledged their
    /// revocation — never two owners at once — and the old owner keeps what does not move.
    #[test]
    fn revoke_before_assign() {
        let mut g = ConsumerGroup::new("g".into(), Config::default(), vec![4]);
        let mut out = Vec::new();
        g.heartbeat(
            Time::ms(0),
            ActorId(1),
            &hb(1, None, 0, &[]),
            || "a".into(),
            &mut out,
        );
        let a = ok(&mut out);
        assert_eq!(a.assignment.len(), 4);
        assert_eq!(a.member_epoch, 1);
        let all: Vec<Tp> = a.assignment.clone();
        g.heartbeat(
            Time::ms(1),
            ActorId(2),
            &hb(2, None, 0, &[]),
            || "b".into(),
            &mut out,
        );
        let b = ok(&mut out);
        assert!(
            b.assignment.is_empty(),
            "a still owns everything: {:?}",
            b.assignment
        );
        assert_eq!(g.group_epoch(), 2);
        // a heartbeats, still owning all four: told to keep two; epoch unchanged
        g.heartbeat(
            Time::ms(2),
            ActorId(1),
            &hb(3, Some(&a.member_id), 1, &all),
            || unreachable!(),
            &mut out,
        );
        let a2 = ok(&mut out);
        assert_eq!(a2.assignment.len(), 2);
        assert_eq!(a2.member_epoch, 1);
        assert!(
            a2.assignment.iter().all(|tp| all.contains(tp)),
            "keeps what does not move"
        );
        // b asks again before a acknowledged: still nothing
        g.heartbeat(
            Time::ms(3),
            ActorId(2),
            &hb(4, Some(&b.member_id), b.member_epoch, &[]),
            || unreachable!(),
            &mut out,
        );
        assert!(ok(&mut out).assignment.is_empty());
        // a acknowledges: epoch 2
        g.heartbeat(
            Time::ms(4),
            ActorId(1),
            &hb(5, Some(&a.member_id), 1, &a2.assignment),
            || unreachable!(),
            &mut out,
        );
        assert_eq!(ok(&mut out).member_epoch, 2);
        // now b gets the other two
        g.heartbeat(
            Time::ms(5),
            ActorId(2),
            &hb(6, Some(&b.member_id), b.member_epoch, &[]),
            || unreachable!(),
            &mut out,
        );
        let b2 = ok(&mut out);
        assert_eq!(b2.assignment.len(), 2);
        assert!(b2.assignment.iter().all(|tp| !a2.assignment.contains(tp)));
        assert_eq!(b2.member_epoch, 2);
    }

    #[test]
    fn leave_and_session_timeout_bump_the_group_epoch() {
        let mut g = ConsumerGroup::new("g".into(), Config::default(), vec![2]);
        let mut out = Vec::new();
        g.heartbeat(
            Time::ms(0),
            ActorId(1),
            &hb(1, None, 0, &[]),
            || "a".into(),
            &mut out,
        );
        let a = ok(&mut out);
        g.heartbeat(
            Time::ms(0),
            ActorId(2),
            &hb(2, None, 0, &[]),
            || "b".into(),
            &mut out,
        );
        let b = ok(&mut out);
        g.heartbeat(
            Time::ms(1),
            ActorId(2),
            &hb(3, Some(&b.member_id), -1, &[]),
            || unreachable!(),
            &mut out,
        );
        out.clear();
        assert_eq!(g.group_epoch(), 3);
        g.on_timer(
            Time::ms(45_001),
            &GroupTimer::Session(a.member_id.clone()),
            &mut out,
        );
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Event(Event::MemberRemoved {
                reason: RemovalReason::SessionTimeout,
                ..
            })
        )));
        assert_eq!(g.group_epoch(), 4);
        assert_eq!(
            g.validate_commit(Some(&a.member_id), 1),
            Err(ErrorCode::UnknownMemberId)
        );
    }
}
