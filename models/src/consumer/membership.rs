//! Group membership of a consumer, as a pure state machine: what Java's
//! `ConsumerCoordinator` / `AbstractCoordinator` (and its KIP-848 `MembershipManager`),
//! kafka-python's `ConsumerCoordinator` and librdkafka's `rdkafka_cgrp` do.
//!
//! Classic protocol: JoinGroup — first with no member id, answered `MEMBER_ID_REQUIRED`
//! (KIP-394); static members (`group.instance.id`, KIP-345) get theirs at once — then
//! SyncGroup, the leader running the elected assignor over every member's subscription (with
//! the partitions each owned, for the sticky assignors). Heartbeats every
//! `heartbeat.interval.ms`; a rebalance they learn of is joined at the next `poll()`. Eager
//! protocols revoke every partition before rejoining; the cooperative protocol (KIP-429)
//! keeps its partitions, revokes only those the new assignment takes away and rejoins at once
//! so they can move. `max.poll.interval.ms` without a `poll()`: LeaveGroup (dynamic members)
//! and the partitions are lost at the next `poll()`. `UNKNOWN_MEMBER_ID` drops the member id,
//! `ILLEGAL_GENERATION` keeps it; both lose the partitions; `FENCED_INSTANCE_ID` is fatal.
//!
//! KIP-848 (`group.protocol = "consumer"`, Java's `ConsumerMembershipManager`):
//! `ConsumerGroupHeartbeat` with the member id the consumer generated when it started (kept
//! for the process's life, KIP-1082), the member epoch (0 joins, −1 leaves; a static member
//! leaves with −2, so a new process with its `group.instance.id` can take its place) and the
//! partitions owned; reconciliation gives up what the answer leaves out — and says so at once,
//! so the partitions can move — before taking what it adds. `UNKNOWN_MEMBER_ID` and
//! `FENCED_MEMBER_EPOCH` lose the partitions and rejoin with epoch 0 and the same id;
//! retriable errors retry after `retry.backoff.ms`; `FENCED_INSTANCE_ID`,
//! `UNRELEASED_INSTANCE_ID` and any other error are fatal.
//!
//! Input in (an answer, a timer, the application's `poll()`), outputs out ([`Out`]: requests,
//! history events, timers, and what the rest of the consumer must do) in the order they
//! happen.

use crate::assignor::Topic;
use crate::config::ConsumerConfig;
use crate::history::{Event, LostReason};
use crate::protocol::{
    ConsumerHeartbeat as Heartbeat, ConsumerHeartbeatOk as HeartbeatOk, ErrorCode, JoinGroup, JoinOk,
};
use crate::types::{MemberId, Tp};
use sim::Time;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Where the consumer is in its life and in its group.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Waiting for its first Metadata answer.
    Bootstrapping,
    /// Looking for the group's coordinator before joining.
    FindingCoordinator,
    /// Not in a generation: after a poll timeout, waiting for the application to poll.
    Unjoined,
    /// JoinGroup (or the joining ConsumerGroupHeartbeat) sent.
    Joining,
    /// SyncGroup sent.
    Syncing,
    /// In a generation, with an assignment.
    Stable,
    /// Closed by the application.
    Closed,
    /// The process crashed.
    Crashed,
    /// A fatal error ended it.
    Failed,
}

/// Why the consumer must rejoin at its next poll.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rejoin {
    /// A rebalance is in progress; membership is intact.
    Rebalance,
    /// Membership is gone; partitions are lost.
    Lost(LostReason),
}

/// What membership asks of the rest of the consumer, in order.
#[derive(Debug)]
pub enum Out {
    /// Send a JoinGroup (its correlation id is the client's to fill in).
    Join(Box<JoinGroup>),
    /// Send a KIP-848 ConsumerGroupHeartbeat (id filled in by the client).
    CgHeartbeat(Box<Heartbeat>),
    /// Send a SyncGroup.
    Sync {
        /// Member.
        member_id: MemberId,
        /// Generation.
        generation: i32,
        /// The leader's assignment (empty for followers).
        assignment: Vec<(MemberId, Vec<Tp>)>,
    },
    /// Send a classic Heartbeat (if the coordinator is known and answering).
    Heartbeat {
        /// Member.
        member_id: MemberId,
        /// Generation.
        generation: i32,
    },
    /// Send a LeaveGroup.
    Leave {
        /// Member.
        member_id: MemberId,
    },
    /// Write this to the history.
    Record(Event),
    /// Arm the heartbeat timer: `Heartbeat(epoch)` after the delay.
    HeartbeatTimer(Time, u64),
    /// Partitions given up in a rebalance: commit them first (auto-commit), then the
    /// `revoked` event and listener, then forget their positions.
    Revoke {
        /// Partitions.
        partitions: Vec<Tp>,
        /// Generation they were owned in.
        generation: i32,
        /// The member id commits go under.
        member_id: Option<MemberId>,
    },
    /// Partitions lost (membership ended under the consumer): the `lost` event and listener,
    /// no commit.
    Lose {
        /// Partitions (may be empty: nothing is written then).
        partitions: Vec<Tp>,
        /// Generation they were owned in.
        generation: i32,
        /// Why.
        reason: LostReason,
    },
    /// Partitions added to the assignment: the `assign` event and listener.
    Assigned {
        /// Generation.
        generation: i32,
        /// Partitions added (may be empty on the classic protocol).
        partitions: Vec<Tp>,
    },
    /// Forget the positions of these, without an event (a fatal error).
    Forget(Vec<Tp>),
    /// Look up the positions of assigned partitions that have none.
    LookupPositions,
    /// Arm the JoinGroup retry timer of this join attempt (`retry.backoff.ms`).
    RetryJoin(u64),
    /// If the application is inside `poll()`: poll again (a rejoin may be due).
    Poll,
    /// If the application is inside `poll()`: fetch.
    Fetch,
    /// Forget the Fetches in flight (their answers are for an older assignment).
    ClearFetches,
    /// The coordinator moved or stopped answering: find it again.
    CoordinatorLost,
}

/// The membership state of one consumer process.
pub struct Membership {
    cfg: Arc<ConsumerConfig>,
    cooperative: bool,
    /// Where it is.
    pub phase: Phase,
    /// Its member id: the coordinator's (classic), or the one it generated (KIP-848).
    pub member_id: Option<MemberId>,
    /// Generation (classic) or member epoch (KIP-848); −1 outside one.
    pub generation: i32,
    /// Partitions it owns.
    pub owned: BTreeSet<Tp>,
    prev_owned: Vec<Tp>,
    prev_generation: i32,
    /// Subscribed topics (indices in metadata) and every topic of the metadata as the
    /// leader's assignor sees it (Java orders and hashes topics by their names).
    topics: Vec<u32>,
    all_topics: Vec<Topic>,
    /// The partition counts this member last assigned from as the group's leader (Java's and
    /// kafka-python's `assignmentSnapshot`): metadata that differs makes it rejoin.
    assigned_from: Option<Vec<u32>>,
    /// A rejoin due at the next poll.
    pub rejoin: Option<Rejoin>,
    /// The heartbeat timers' epoch: a timer of an older epoch is stale.
    pub hb_epoch: u64,
    /// Manually assigned (`assign()`): no group membership at all.
    pub manual: bool,
    /// Counts JoinGroups sent, so a retry timer of an earlier attempt is stale.
    join_attempt: u64,
}

impl Membership {
    /// Membership under `cfg`; heartbeat timers start at epoch `hb_epoch`.
    pub fn new(cfg: Arc<ConsumerConfig>, hb_epoch: u64) -> Membership {
        let cooperative = cfg.assignors.iter().all(|a| a.is_cooperative());
        Membership {
            cfg,
            cooperative,
            phase: Phase::Idle,
            member_id: None,
            generation: -1,
            owned: BTreeSet::new(),
            prev_owned: Vec::new(),
            prev_generation: -1,
            topics: Vec::new(),
            all_topics: Vec::new(),
            assigned_from: None,
            rejoin: None,
            hb_epoch,
            manual: false,
            join_attempt: 0,
        }
    }

    /// The group.
    pub fn group(&self) -> Arc<str> {
        self.cfg.group_id.clone()
    }

    /// Subscribes to `topics` (sorted metadata indices); `all` is every topic of the
    /// metadata, by index, with its real name.
    pub fn subscribe(&mut self, mut topics: Vec<u32>, all: Vec<Topic>) {
        topics.sort_unstable();
        self.topics = topics;
        self.all_topics = all;
    }

    /// New metadata: `all` is every topic with its real name and partition count now. A
    /// leader whose last assignment was made from other partition counts rejoins at its
    /// next poll (`ConsumerCoordinator.rejoinNeededOrPending`: the metadata snapshot no
    /// longer equals the assignment snapshot).
    pub fn update_topics(&mut self, all: Vec<Topic>, out: &mut Vec<Out>) {
        let counts: Vec<u32> = all.iter().map(|t| t.partitions).collect();
        self.all_topics = all;
        if self.assigned_from.as_ref().is_some_and(|from| *from != counts) {
            self.assigned_from = None;
            self.rejoin.get_or_insert(Rejoin::Rebalance);
            out.push(Out::Poll);
        }
    }

    /// Whether the consumer may fetch: in a generation, or — cooperative protocol — keeping
    /// its partitions through a rebalance.
    pub fn can_fetch(&self) -> bool {
        match self.phase {
            Phase::Stable => true,
            Phase::Joining | Phase::Syncing => self.cooperative,
            _ => false,
        }
    }

    /// Whether the process is gone (closed, crashed, failed).
    pub fn ended(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Crashed | Phase::Failed)
    }

    /// Joins (or rejoins) the group.
    pub fn send_join(&mut self, out: &mut Vec<Out>) {
        self.phase = Phase::Joining;
        self.join_attempt += 1;
        if self.cfg.group_protocol_consumer {
            let epoch = if self.member_id.is_some() {
                self.generation.max(0)
            } else {
                0
            };
            return self.cg_heartbeat(epoch, out);
        }
        let (owned, owned_generation) = if self.cooperative {
            (self.owned.iter().copied().collect(), self.generation)
        } else {
            (self.prev_owned.clone(), self.prev_generation)
        };
        let cfg = &self.cfg;
        out.push(Out::Join(Box::new(JoinGroup {
            corr: 0,
            group: self.group(),
            member_id: self.member_id.clone(),
            instance_id: cfg.group_instance_id.clone(),
            client_id: cfg.client_id.clone(),
            session_timeout_us: Time::ms(cfg.session_timeout_ms).as_us(),
            rebalance_timeout_us: Time::ms(cfg.max_poll_interval_ms).as_us(),
            protocols: cfg.assignors.clone(),
            topics: self.topics.clone(),
            owned,
            owned_generation,
        })));
    }

    /// KIP-848: a `ConsumerGroupHeartbeat` with `epoch` (0 joins, −1 leaves) and what the
    /// member owns.
    pub fn cg_heartbeat(&mut self, epoch: i32, out: &mut Vec<Out>) {
        out.push(Out::CgHeartbeat(Box::new(Heartbeat {
            corr: 0,
            group: self.group(),
            member_id: self.member_id.clone().unwrap_or_else(|| "".into()),
            member_epoch: epoch,
            instance_id: self.cfg.group_instance_id.clone(),
            client_id: self.cfg.client_id.clone(),
            topics: self.topics.clone(),
            owned: self.owned.iter().copied().collect(),
            assignor: self.cfg.group_remote_assignor,
        })));
    }

    /// A JoinGroup answer.
    pub fn on_join_answer(
        &mut self,
        result: Result<JoinOk, (ErrorCode, Option<MemberId>)>,
        out: &mut Vec<Out>,
    ) {
        match result {
            Ok(j) => self.on_join(j, out),
            Err((ErrorCode::MemberIdRequired, Some(id))) => {
                self.member_id = Some(id);
                self.send_join(out);
            }
            Err((ErrorCode::UnknownMemberId, _)) => {
                self.member_id = None;
                self.generation = -1;
                self.send_join(out);
            }
            Err((ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable, _)) => {
                out.push(Out::CoordinatorLost)
            }
            // retriable (Java's JoinGroupResponseHandler): join again after retry.backoff.ms
            Err((ErrorCode::CoordinatorLoadInProgress | ErrorCode::RebalanceInProgress, _)) => {
                out.push(Out::RetryJoin(self.join_attempt))
            }
            Err((e, _)) => self.fatal(e, out),
        }
    }

    /// The retry timer of join attempt `attempt` fired: join again if nothing else did since.
    pub fn on_retry_join(&mut self, attempt: u64, out: &mut Vec<Out>) {
        if attempt == self.join_attempt && self.phase == Phase::Joining {
            self.send_join(out);
        }
    }

    fn on_join(&mut self, j: JoinOk, out: &mut Vec<Out>) {
        self.generation = j.generation;
        self.member_id = Some(j.member_id.clone());
        let leader = j.leader == j.member_id;
        out.push(Out::Record(Event::Joined {
            group: self.group(),
            member_id: j.member_id.clone(),
            generation: j.generation,
            leader,
        }));
        let assignment = if leader && !j.members.is_empty() {
            self.assigned_from = Some(self.all_topics.iter().map(|t| t.partitions).collect());
            j.protocol
                .assign_topics(&j.members, &self.all_topics, self.cfg.sticky_keeps)
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        self.phase = Phase::Syncing;
        out.push(Out::Sync {
            member_id: j.member_id,
            generation: j.generation,
            assignment,
        });
    }

    /// A SyncGroup answer.
    pub fn on_sync_answer(&mut self, result: Result<Vec<Tp>, ErrorCode>, out: &mut Vec<Out>) {
        match result {
            Ok(partitions) => self.on_assignment(partitions, out),
            Err(ErrorCode::RebalanceInProgress) => self.send_join(out),
            Err(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                out.push(Out::CoordinatorLost)
            }
            Err(ErrorCode::FencedInstanceId) => self.fatal(ErrorCode::FencedInstanceId, out),
            Err(ErrorCode::IllegalGeneration) => {
                self.lose_all(LostReason::IllegalGeneration, out);
                self.send_join(out);
            }
            Err(_) => {
                self.lose_all(LostReason::UnknownMember, out);
                self.member_id = None;
                self.send_join(out);
            }
        }
    }

    fn on_assignment(&mut self, partitions: Vec<Tp>, out: &mut Vec<Out>) {
        self.phase = Phase::Stable;
        let new: BTreeSet<Tp> = partitions.into_iter().collect();
        let revoked: Vec<Tp> = self.owned.difference(&new).copied().collect();
        let added: Vec<Tp> = new.difference(&self.owned).copied().collect();
        if !revoked.is_empty() {
            // only the cooperative protocol can get here: eager members own nothing now
            self.revoke(&revoked, out);
            self.rejoin = Some(Rejoin::Rebalance);
        }
        self.owned = new;
        self.prev_owned = self.owned.iter().copied().collect();
        self.prev_generation = self.generation;
        out.push(Out::Assigned {
            generation: self.generation,
            partitions: added,
        });
        self.hb_epoch += 1;
        let hb = Time::ms(self.cfg.heartbeat_interval_ms);
        out.push(Out::HeartbeatTimer(hb, self.hb_epoch));
        out.push(Out::LookupPositions);
        out.push(Out::Poll);
    }

    /// A KIP-848 ConsumerGroupHeartbeat answer.
    pub fn on_cg_answer(&mut self, result: Result<HeartbeatOk, ErrorCode>, out: &mut Vec<Out>) {
        // after a poll timeout; or the answer to a leave (epoch −1 or −2), which ends nothing
        // more: the membership ended when it was sent
        let leave_answer = matches!(&result, Ok(r) if r.member_epoch < 0);
        if self.phase == Phase::Unjoined || leave_answer {
            return;
        }
        match result {
            Ok(r) => self.reconcile(r, out),
            Err(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                out.push(Out::CoordinatorLost)
            }
            // fenced: give up the partitions, rejoin with epoch 0 under the same member id
            Err(ErrorCode::UnknownMemberId | ErrorCode::FencedMemberEpoch) => {
                self.lose_all(LostReason::UnknownMember, out);
                self.send_join(out);
            }
            Err(e) if e.is_retriable() => self.retry_cg_heartbeat(out),
            Err(e) => self.fatal(e, out),
        }
    }

    /// KIP-848: a retriable error — the same heartbeat again after `retry.backoff.ms`.
    fn retry_cg_heartbeat(&mut self, out: &mut Vec<Out>) {
        if self.phase == Phase::Stable {
            self.hb_epoch += 1;
            let backoff = Time::ms(super::client::RETRY_BACKOFF_MS);
            out.push(Out::HeartbeatTimer(backoff, self.hb_epoch));
        } else {
            out.push(Out::RetryJoin(self.join_attempt));
        }
    }

    /// KIP-848 reconciliation on the client: give up what the answer leaves out (then say so
    /// at once, so the partitions can move), take what it adds.
    fn reconcile(&mut self, r: HeartbeatOk, out: &mut Vec<Out>) {
        if self.generation < 0 {
            out.push(Out::Record(Event::Joined {
                group: self.group(),
                member_id: r.member_id.clone(),
                generation: r.member_epoch,
                leader: false,
            }));
        }
        self.member_id = Some(r.member_id);
        self.generation = r.member_epoch;
        self.phase = Phase::Stable;
        let new: BTreeSet<Tp> = r.assignment.into_iter().collect();
        let revoked: Vec<Tp> = self.owned.difference(&new).copied().collect();
        let added: Vec<Tp> = new.difference(&self.owned).copied().collect();
        self.revoke(&revoked, out);
        if !added.is_empty() {
            self.owned.extend(added.iter().copied());
            out.push(Out::Assigned {
                generation: self.generation,
                partitions: added,
            });
            out.push(Out::LookupPositions);
        }
        self.hb_epoch += 1;
        if revoked.is_empty() {
            let every = Time::us(r.heartbeat_interval_us);
            out.push(Out::HeartbeatTimer(every, self.hb_epoch));
        } else {
            self.cg_heartbeat(self.generation, out);
        }
        out.push(Out::Fetch);
    }

    /// A classic Heartbeat answer.
    pub fn on_heartbeat_answer(&mut self, result: Result<(), ErrorCode>, out: &mut Vec<Out>) {
        if self.phase != Phase::Stable {
            return;
        }
        match result {
            Ok(()) => return,
            Err(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable) => {
                return out.push(Out::CoordinatorLost)
            }
            Err(ErrorCode::RebalanceInProgress) => self.rejoin = Some(Rejoin::Rebalance),
            Err(ErrorCode::FencedInstanceId) => return self.fatal(ErrorCode::FencedInstanceId, out),
            Err(ErrorCode::IllegalGeneration) => {
                self.rejoin = Some(Rejoin::Lost(LostReason::IllegalGeneration))
            }
            Err(ErrorCode::UnknownMemberId) => self.rejoin = Some(Rejoin::Lost(LostReason::UnknownMember)),
            // any other error fails this heartbeat only: the next one goes out as usual
            // (Java's heartbeat thread: failHeartbeat, then retry)
            Err(_) => return,
        }
        self.hb_epoch += 1;
        out.push(Out::Poll);
    }

    /// The heartbeat timer of `epoch` fired; `poll_overdue`: the application has been out
    /// of `poll()` longer than `max.poll.interval.ms`.
    pub fn on_heartbeat_timer(&mut self, epoch: u64, poll_overdue: bool, out: &mut Vec<Out>) {
        if epoch != self.hb_epoch || self.phase != Phase::Stable {
            return;
        }
        if poll_overdue {
            // the heartbeat thread gives up the membership (Java's "poll timeout has expired")
            let member_id = self.member_id.clone().expect("member");
            out.push(Out::Record(Event::PollTimeout {
                group: self.group(),
                member_id: member_id.clone(),
            }));
            // classic static members send no LeaveGroup; KIP-848 ones leave with epoch −2
            if self.cfg.group_instance_id.is_none() || self.cfg.group_protocol_consumer {
                self.send_leave(member_id, out);
            }
            self.phase = Phase::Unjoined;
            self.rejoin = Some(Rejoin::Lost(LostReason::PollTimeout));
            return;
        }
        if self.cfg.group_protocol_consumer {
            // the answer sets the next heartbeat
            return self.cg_heartbeat(self.generation, out);
        }
        out.push(Out::Heartbeat {
            member_id: self.member_id.clone().expect("member"),
            generation: self.generation,
        });
        let hb = Time::ms(self.cfg.heartbeat_interval_ms);
        out.push(Out::HeartbeatTimer(hb, epoch));
    }

    /// The coordinator is known (again); `awaiting`: a JoinGroup or SyncGroup is in flight.
    pub fn on_coordinator(&mut self, awaiting: bool, out: &mut Vec<Out>) {
        match self.phase {
            Phase::FindingCoordinator => self.send_join(out),
            Phase::Joining | Phase::Syncing if !awaiting => self.send_join(out),
            Phase::Stable if self.cfg.group_protocol_consumer && !awaiting => {
                self.cg_heartbeat(self.generation, out)
            }
            _ => {}
        }
    }

    /// The application called `poll()`: a rejoin due now happens.
    pub fn on_poll(&mut self, out: &mut Vec<Out>) {
        if matches!(self.phase, Phase::Stable | Phase::Unjoined) {
            if let Some(why) = self.rejoin.take() {
                self.rejoin_now(why, out);
            }
        }
    }

    fn rejoin_now(&mut self, why: Rejoin, out: &mut Vec<Out>) {
        match why {
            Rejoin::Rebalance if self.cooperative => {}
            Rejoin::Rebalance => {
                let all: Vec<Tp> = self.owned.iter().copied().collect();
                self.revoke(&all, out);
                out.push(Out::ClearFetches);
            }
            Rejoin::Lost(reason) => {
                self.lose_all(reason, out);
                // the member id survives an illegal generation, and a static member's poll
                // timeout (it sent no LeaveGroup); otherwise the consumer joins as a new member
                // — except under KIP-848, where the consumer keeps the id it generated
                let static_poll_timeout =
                    self.cfg.group_instance_id.is_some() && reason == LostReason::PollTimeout;
                let keeps = reason == LostReason::IllegalGeneration
                    || static_poll_timeout
                    || self.cfg.group_protocol_consumer;
                if !keeps {
                    self.member_id = None;
                }
                out.push(Out::ClearFetches);
            }
        }
        self.send_join(out);
    }

    fn revoke(&mut self, tps: &[Tp], out: &mut Vec<Out>) {
        if tps.is_empty() {
            return;
        }
        out.push(Out::Revoke {
            partitions: tps.to_vec(),
            generation: self.generation,
            member_id: self.member_id.clone(),
        });
        for tp in tps {
            self.owned.remove(tp);
        }
    }

    fn lose_all(&mut self, reason: LostReason, out: &mut Vec<Out>) {
        let partitions: Vec<Tp> = std::mem::take(&mut self.owned).into_iter().collect();
        out.push(Out::Lose {
            partitions,
            generation: self.generation,
            reason,
        });
        self.generation = -1;
    }

    fn fatal(&mut self, e: ErrorCode, out: &mut Vec<Out>) {
        out.push(Out::Record(Event::Fatal { error: e }));
        let tps: Vec<Tp> = std::mem::take(&mut self.owned).into_iter().collect();
        out.push(Out::Forget(tps));
        self.phase = Phase::Failed;
        out.push(Out::Record(Event::Closed));
    }

    /// `assign(partitions)` (Kafka's manual assignment): the consumer owns `partitions` with
    /// no group — no JoinGroup, no heartbeats, no rebalance, no listener on close.
    pub fn assign(&mut self, partitions: Vec<Tp>, out: &mut Vec<Out>) {
        self.manual = true;
        self.phase = Phase::Stable;
        self.owned = partitions.iter().copied().collect();
        out.push(Out::Assigned {
            generation: self.generation,
            partitions,
        });
        out.push(Out::LookupPositions);
        out.push(Out::Poll);
    }

    /// The application closes the consumer: revocation, LeaveGroup (dynamic members only —
    /// classic static members leave it to the session timeout; KIP-848 static members send
    /// epoch −2, which keeps their place for it).
    pub fn close(&mut self, out: &mut Vec<Out>) {
        if self.phase == Phase::Stable && !self.manual {
            let all: Vec<Tp> = self.owned.iter().copied().collect();
            self.revoke(&all, out);
        }
        let is_static = self.cfg.group_instance_id.is_some();
        if let Some(member_id) = self.joined_id() {
            if !is_static || self.cfg.group_protocol_consumer {
                self.send_leave(member_id.clone(), out);
            }
            if !is_static {
                out.push(Out::Record(Event::Left {
                    group: self.group(),
                    member_id,
                }));
            }
        }
        self.phase = Phase::Closed;
        out.push(Out::Record(Event::Closed));
    }

    /// The member id, if the consumer is (or was) in the group: classic members get theirs
    /// from the coordinator; a KIP-848 one generated its own, and counts once it joined.
    fn joined_id(&self) -> Option<MemberId> {
        let joined = !self.cfg.group_protocol_consumer || self.generation >= 0;
        self.member_id.clone().filter(|_| joined)
    }

    /// Leaves the group: LeaveGroup, or a KIP-848 heartbeat with epoch −1 (−2: static).
    fn send_leave(&mut self, member_id: MemberId, out: &mut Vec<Out>) {
        if self.cfg.group_protocol_consumer {
            let epoch = if self.cfg.group_instance_id.is_some() {
                -2
            } else {
                -1
            };
            self.cg_heartbeat(epoch, out);
        } else {
            out.push(Out::Leave { member_id });
        }
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
