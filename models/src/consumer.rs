//! The consumer client of the classic group protocol, with its application loop.
//!
//! Reproduces the life of a `KafkaConsumer` subscribed to topics in a group, as the Java
//! client, kafka-python and librdkafka run it, together with the application around it:
//!
//! 1. bootstrap (Metadata: the demos print `link kafka ok.`), FindCoordinator, JoinGroup —
//!    first with no member id, answered `MEMBER_ID_REQUIRED` (KIP-394); static members
//!    (`group.instance.id`, KIP-345) get theirs at once;
//! 2. the leader runs the elected assignor over every member's subscription (with the
//!    partitions each owned, for the sticky assignors) and sends it in SyncGroup;
//! 3. positions: OffsetFetch for committed offsets, ListOffsets with `auto.offset.reset` for
//!    partitions without one;
//! 4. the application loop: `poll()` fetches (one Fetch in flight, long-polled by the broker
//!    for `fetch.max.wait.ms`) and returns a batch; the application processes it record by
//!    record (`processing` time each — a [`Event::Consumed`] when a record is done) and polls
//!    again. The [`CommitPolicy`] decides when offsets are committed;
//! 5. heartbeats from a background thread every `heartbeat.interval.ms`. A rebalance the
//!    heartbeat learns of is joined at the next `poll()` — so a slow batch delays it, as in
//!    Java. Eager protocols first commit (auto-commit) and revoke every partition;
//!    the cooperative protocol (KIP-429) keeps its partitions and keeps fetching, then
//!    revokes only those the new assignment takes away, and rejoins at once so they can
//!    move;
//! 6. `max.poll.interval.ms` without a `poll()` (a stall, a slow batch): the heartbeat thread
//!    sends LeaveGroup and forgets its member id; the partitions are *lost* at the next
//!    `poll()`, which rejoins as a new member;
//! 7. errors that end membership (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`) lose the
//!    partitions without a commit and rejoin; `FENCED_INSTANCE_ID` is fatal;
//! 8. a request unanswered within `request.timeout.ms` (a cut link) is retried;
//! 9. close: a final commit (auto-commit), revocation, LeaveGroup (dynamic members only —
//!    static members leave it to the session timeout); crash: nothing at all, the process
//!    and its connections vanish; restart: a new process with the same configuration.
//!
//! Auto-commit follows the profile: Java and kafka-python commit inside `poll()` the
//! positions of the records already returned (so, with synchronous processing, records that
//! are processed); librdkafka commits on a timer the offsets of records handed to the
//! application — including the one it is processing.

use crate::cluster::ClusterState;
use crate::config::ConsumerConfig;
use crate::history::{Event, LostReason, PositionSource};
use crate::protocol::{ClientTimer, ErrorCode, FetchedRecords, JoinGroup, JoinOk, Msg, OffsetSpec};
pub use crate::scenario::CommitPolicy;
use crate::types::{LogRecord, MemberId, Metadata, Tp, VecMap};
use sim::{Actor, ActorId, Ctx, Time};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// What the application around the consumer does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Commit policy.
    pub commit: CommitPolicy,
    /// Time to process one record.
    pub processing: Time,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Bootstrapping,
    FindingCoordinator,
    /// Not in a generation: after a poll timeout, waiting for the application to poll.
    Unjoined,
    Joining,
    Syncing,
    Stable,
    Closed,
    Crashed,
    Failed,
}

/// What to do once a synchronous commit returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Then {
    Process,
    Poll,
}

/// The application thread.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum App {
    /// Inside `poll()`, waiting for records.
    Polling,
    /// Processing the record at the front of the buffer.
    Processing,
    /// Blocked in `commitSync()`.
    Committing(u64, Then),
    /// Blocked in `commitSync()`, waiting for the coordinator to be found again (it moved or
    /// its broker died) to send the same commit again — until `default.api.timeout.ms`.
    CommitRetry(Then),
    /// Stalled until `stalled_until`.
    Stalled,
}

/// Why the consumer must rejoin at its next poll.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Rejoin {
    /// A rebalance is in progress; membership is intact.
    Rebalance,
    /// Membership is gone; partitions are lost.
    Lost(LostReason),
}

/// `retry.backoff.ms` (100 in every client) between looking the cluster up again.
const RETRY_BACKOFF_MS: u64 = 100;

/// `default.api.timeout.ms`: how long `commitSync()` keeps retrying a commit whose
/// coordinator moved.
const API_TIMEOUT_MS: u64 = 60_000;

/// A request's correlation id and when it times out.
type Deadline = (u64, Time);

struct Fetched {
    tp: Tp,
    offset: i64,
    record: LogRecord,
    generation: i32,
}

/// A consumer process.
pub struct Consumer {
    cfg: ConsumerConfig,
    behaviour: Behaviour,
    cooperative: bool,
    brokers: Vec<ActorId>,
    cluster: Option<Arc<ClusterState>>,
    coordinator: Option<ActorId>,
    /// FindCoordinator in flight (its watchdog id).
    find_corr: Option<u64>,
    /// Metadata refresh in flight (its watchdog id).
    meta_corr: Option<u64>,
    /// Where the FindCoordinator, Metadata and OffsetFetch/ListOffsets in flight went.
    find_to: Option<ActorId>,
    meta_to: Option<ActorId>,
    offsets_to: Option<ActorId>,
    /// Which broker the next FindCoordinator goes to (moves on when one fails).
    next_bootstrap: usize,
    /// Which broker the next Metadata refresh goes to (round robin).
    meta_rr: usize,
    rediscover_armed: bool,
    /// When the oldest unanswered heartbeat was sent.
    hb_sent: Option<Time>,
    /// Partitions whose position must be reset by `auto.offset.reset` (out of range).
    to_reset: BTreeSet<Tp>,
    topic_names: Vec<Arc<str>>,
    meta: Option<Arc<Metadata>>,
    topics: Vec<u32>,
    phase: Phase,
    member_id: Option<MemberId>,
    generation: i32,
    owned: BTreeSet<Tp>,
    prev_owned: Vec<Tp>,
    prev_generation: i32,
    positions: VecMap<Tp, i64>,
    /// The positions of the last Fetch sent on a one-broker cluster (shared with the
    /// request while the broker holds it).
    last_positions: Option<Arc<[(Tp, i64)]>>,
    stored: VecMap<Tp, i64>,
    corr: u64,
    join_corr: Option<u64>,
    sync_corr: Option<u64>,
    offsets_corr: Option<u64>,
    /// The Fetch in flight to each leader.
    fetches: VecMap<ActorId, u64>,
    buffer: VecDeque<Fetched>,
    app: App,
    stalled_until: Time,
    rejoin: Option<Rejoin>,
    commit_due: bool,
    last_poll: Time,
    hb_epoch: u64,
    /// Outstanding requests and when they time out (a handful at most).
    deadlines: Vec<Deadline>,
    /// The offsets of the `commitSync()` in progress and when it gives up.
    sync_commit: Option<(Vec<(Tp, i64)>, Time)>,
    watchdog_armed: bool,
}

type Cx<'a, 'b> = &'a mut Ctx<'b, Msg, Event>;

impl Consumer {
    /// A consumer of `topics` with settings `cfg`, inside an application that `behaviour`
    /// describes.
    pub fn new(
        cfg: ConsumerConfig,
        behaviour: Behaviour,
        brokers: Vec<ActorId>,
        topics: Vec<Arc<str>>,
    ) -> Consumer {
        let cooperative = cfg.assignors.iter().all(|a| a.is_cooperative());
        Consumer {
            cfg,
            behaviour,
            cooperative,
            brokers,
            cluster: None,
            coordinator: None,
            find_corr: None,
            meta_corr: None,
            find_to: None,
            meta_to: None,
            offsets_to: None,
            next_bootstrap: 0,
            meta_rr: 0,
            rediscover_armed: false,
            hb_sent: None,
            to_reset: BTreeSet::new(),
            topic_names: topics,
            meta: None,
            topics: Vec::new(),
            phase: Phase::Idle,
            member_id: None,
            generation: -1,
            owned: BTreeSet::new(),
            prev_owned: Vec::new(),
            prev_generation: -1,
            positions: VecMap::default(),
            last_positions: None,
            stored: VecMap::default(),
            corr: 0,
            join_corr: None,
            sync_corr: None,
            offsets_corr: None,
            fetches: VecMap::default(),
            buffer: VecDeque::new(),
            app: App::Polling,
            stalled_until: Time::ZERO,
            rejoin: None,
            commit_due: false,
            last_poll: Time::ZERO,
            hb_epoch: 0,
            deadlines: Vec::new(),
            sync_commit: None,
            watchdog_armed: false,
        }
    }

    fn group(&self) -> Arc<str> {
        self.cfg.group_id.clone()
    }

    fn auto_commit(&self) -> bool {
        self.behaviour.commit == CommitPolicy::Auto && self.cfg.enable_auto_commit
    }

    fn next_corr(&mut self, ctx: Cx) -> u64 {
        self.corr += 1;
        self.watch(ctx, self.corr);
        self.corr
    }

    fn is_outstanding(&self, corr: u64) -> bool {
        self.join_corr == Some(corr)
            || self.sync_corr == Some(corr)
            || self.offsets_corr == Some(corr)
            || self.find_corr == Some(corr)
            || self.meta_corr == Some(corr)
            || self.fetches.values().any(|c| *c == corr)
            || matches!(self.app, App::Committing(c, _) if c == corr)
    }

    /// Starts the `request.timeout.ms` clock for request `corr`. One watchdog timer per
    /// client, armed for the earliest deadline, instead of a timer per request: answered
    /// requests then cost nothing.
    fn watch(&mut self, ctx: Cx, corr: u64) {
        let deadlines = std::mem::take(&mut self.deadlines);
        self.deadlines = deadlines
            .into_iter()
            .filter(|(c, _)| self.is_outstanding(*c))
            .collect();
        let timeout = Time::ms(self.cfg.request_timeout_ms);
        self.deadlines.push((corr, ctx.now() + timeout));
        if !self.watchdog_armed {
            self.watchdog_armed = true;
            ctx.timer(timeout, Msg::ClientTimer(ClientTimer::Watchdog));
        }
    }

    fn on_watchdog(&mut self, ctx: Cx) {
        self.watchdog_armed = false;
        let now = ctx.now();
        let (due, later): (Vec<Deadline>, Vec<Deadline>) = std::mem::take(&mut self.deadlines)
            .into_iter()
            .partition(|(_, d)| *d <= now);
        self.deadlines = later;
        for (corr, _) in due {
            self.on_request_timeout(ctx, corr);
        }
        let deadlines = std::mem::take(&mut self.deadlines);
        self.deadlines = deadlines
            .into_iter()
            .filter(|(c, _)| self.is_outstanding(*c))
            .collect();
        if let Some(next) = self.deadlines.iter().map(|(_, d)| *d).min() {
            if !self.watchdog_armed {
                self.watchdog_armed = true;
                ctx.timer(next.saturating_sub(now), Msg::ClientTimer(ClientTimer::Watchdog));
            }
        }
    }

    /// Resets everything a process holds in memory (a restart starts from here).
    fn reset_state(&mut self) {
        let fresh = Consumer::new(
            self.cfg.clone(),
            self.behaviour,
            self.brokers.clone(),
            self.topic_names.clone(),
        );
        let corr = self.corr;
        let hb = self.hb_epoch;
        *self = fresh;
        // the crash reset the connections, which dropped the armed watchdog with them
        // correlation ids and timer epochs keep counting across incarnations
        self.corr = corr;
        self.hb_epoch = hb + 1;
    }

    fn start(&mut self, ctx: Cx) {
        self.phase = Phase::Bootstrapping;
        self.last_poll = ctx.now();
        let corr = self.next_corr(ctx);
        self.meta_corr = Some(corr);
        self.meta_to = Some(self.brokers[0]);
        ctx.send(self.brokers[0], Msg::MetadataReq);
        if self.auto_commit() {
            let every = Time::ms(self.cfg.auto_commit_interval_ms);
            ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
        }
    }

    // ---------------------------------------------------------------- group membership

    fn send_join(&mut self, ctx: Cx) {
        self.phase = Phase::Joining;
        if self.cfg.group_protocol_consumer {
            let epoch = if self.member_id.is_some() {
                self.generation.max(0)
            } else {
                0
            };
            return self.send_cg_heartbeat(ctx, epoch);
        }
        let corr = self.next_corr(ctx);
        self.join_corr = Some(corr);
        let (owned, owned_generation) = if self.cooperative {
            (self.owned.iter().copied().collect(), self.generation)
        } else {
            (self.prev_owned.clone(), self.prev_generation)
        };
        let req = JoinGroup {
            corr,
            group: self.group(),
            member_id: self.member_id.clone(),
            instance_id: self.cfg.group_instance_id.clone(),
            client_id: self.cfg.client_id.clone(),
            session_timeout_us: Time::ms(self.cfg.session_timeout_ms).as_us(),
            rebalance_timeout_us: Time::ms(self.cfg.max_poll_interval_ms).as_us(),
            protocols: self.cfg.assignors.clone(),
            topics: self.topics.clone(),
            owned,
            owned_generation,
        };
        ctx.send(self.coord(), Msg::JoinGroupReq(Box::new(req)));
    }

    /// KIP-848: a `ConsumerGroupHeartbeat` with `epoch` (0 joins, -1 leaves) and what the
    /// member owns.
    fn send_cg_heartbeat(&mut self, ctx: Cx, epoch: i32) {
        let corr = self.next_corr(ctx);
        self.join_corr = Some(corr);
        let req = crate::protocol::ConsumerHeartbeat {
            corr,
            group: self.group(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            client_id: self.cfg.client_id.clone(),
            topics: self.topics.clone(),
            owned: self.owned.iter().copied().collect(),
            assignor: self.cfg.group_remote_assignor,
        };
        ctx.send(self.coord(), Msg::ConsumerHeartbeatReq(Box::new(req)));
    }

    /// KIP-848 reconciliation on the client: give up what the answer leaves out (then say so
    /// at once, so the partitions can move), take what it adds.
    fn on_cg_answer(&mut self, ctx: Cx, r: crate::protocol::ConsumerHeartbeatOk) {
        if self.member_id.as_ref() != Some(&r.member_id) {
            ctx.record(Event::Joined {
                group: self.group(),
                member_id: r.member_id.clone(),
                generation: r.member_epoch,
                leader: false,
            });
        }
        self.member_id = Some(r.member_id);
        self.generation = r.member_epoch;
        self.phase = Phase::Stable;
        let new: BTreeSet<Tp> = r.assignment.into_iter().collect();
        let revoked: Vec<Tp> = self.owned.difference(&new).copied().collect();
        let added: Vec<Tp> = new.difference(&self.owned).copied().collect();
        self.revoke(ctx, &revoked);
        if !added.is_empty() {
            self.owned.extend(added.iter().copied());
            ctx.record(Event::Assigned {
                group: self.group(),
                generation: self.generation,
                partitions: added.into(),
            });
            self.lookup_positions(ctx);
        }
        self.hb_epoch += 1;
        if revoked.is_empty() {
            let every = Time::us(r.heartbeat_interval_us);
            ctx.timer(every, Msg::ClientTimer(ClientTimer::Heartbeat(self.hb_epoch)));
        } else {
            self.send_cg_heartbeat(ctx, self.generation);
        }
        if self.app == App::Polling {
            self.maybe_fetch(ctx);
        }
    }

    fn on_join(&mut self, ctx: Cx, j: JoinOk) {
        self.generation = j.generation;
        self.member_id = Some(j.member_id.clone());
        let leader = j.leader == j.member_id;
        ctx.record(Event::Joined {
            group: self.group(),
            member_id: j.member_id.clone(),
            generation: j.generation,
            leader,
        });
        let assignment = if leader && !j.members.is_empty() {
            let meta = self.meta.as_ref().expect("bootstrapped");
            let counts: Vec<u32> = meta.topics.iter().map(|t| t.partitions).collect();
            j.protocol
                .assign_keeping(&j.members, &counts, self.cfg.sticky_keeps)
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        self.phase = Phase::Syncing;
        let corr = self.next_corr(ctx);
        self.sync_corr = Some(corr);
        ctx.send(
            self.coord(),
            Msg::SyncGroupReq {
                corr,
                group: self.group(),
                member_id: j.member_id,
                generation: j.generation,
                assignment,
            },
        );
    }

    fn on_assignment(&mut self, ctx: Cx, partitions: Vec<Tp>) {
        self.phase = Phase::Stable;
        let new: BTreeSet<Tp> = partitions.into_iter().collect();
        let revoked: Vec<Tp> = self.owned.difference(&new).copied().collect();
        let added: Vec<Tp> = new.difference(&self.owned).copied().collect();
        if !revoked.is_empty() {
            // only the cooperative protocol can get here: eager members own nothing now
            self.revoke(ctx, &revoked);
            self.rejoin = Some(Rejoin::Rebalance);
        }
        self.owned = new;
        self.prev_owned = self.owned.iter().copied().collect();
        self.prev_generation = self.generation;
        ctx.record(Event::Assigned {
            group: self.group(),
            generation: self.generation,
            partitions: added.into(),
        });
        self.hb_epoch += 1;
        let hb = Time::ms(self.cfg.heartbeat_interval_ms);
        ctx.timer(hb, Msg::ClientTimer(ClientTimer::Heartbeat(self.hb_epoch)));
        self.lookup_positions(ctx);
        if self.app == App::Polling {
            self.poll(ctx);
        }
    }

    /// Revokes `tps` (commit first under auto-commit, then the listener's `revoked`).
    fn revoke(&mut self, ctx: Cx, tps: &[Tp]) {
        if tps.is_empty() {
            return;
        }
        if self.auto_commit() {
            let offsets: Vec<(Tp, i64)> = tps
                .iter()
                .filter_map(|tp| self.commit_offset(*tp).map(|o| (*tp, o)))
                .collect();
            self.send_commit(ctx, offsets);
        }
        ctx.record(Event::Revoked {
            group: self.group(),
            generation: self.generation,
            partitions: tps.into(),
        });
        self.drop_partitions(tps);
    }

    fn drop_partitions(&mut self, tps: &[Tp]) {
        for tp in tps {
            self.owned.remove(tp);
            self.positions.remove(tp);
            self.stored.remove(tp);
        }
    }

    /// Loses every owned partition: membership ended under the consumer.
    fn lose_all(&mut self, ctx: Cx, reason: LostReason) {
        let tps: Vec<Tp> = self.owned.iter().copied().collect();
        if !tps.is_empty() {
            ctx.record(Event::Lost {
                group: self.group(),
                generation: self.generation,
                partitions: tps.as_slice().into(),
                reason,
            });
        }
        self.drop_partitions(&tps);
        self.generation = -1;
    }

    fn do_rejoin(&mut self, ctx: Cx, why: Rejoin) {
        match why {
            Rejoin::Rebalance if self.cooperative => {}
            Rejoin::Rebalance => {
                let all: Vec<Tp> = self.owned.iter().copied().collect();
                self.revoke(ctx, &all);
                self.fetches.clear();
            }
            Rejoin::Lost(reason) => {
                self.lose_all(ctx, reason);
                // the member id survives an illegal generation, and a static member's poll
                // timeout (it sent no LeaveGroup); otherwise the consumer joins as a new member
                let static_poll_timeout =
                    self.cfg.group_instance_id.is_some() && reason == LostReason::PollTimeout;
                if reason != LostReason::IllegalGeneration && !static_poll_timeout {
                    self.member_id = None;
                }
                self.fetches.clear();
            }
        }
        self.send_join(ctx);
    }

    fn fatal(&mut self, ctx: Cx, e: ErrorCode) {
        ctx.record(Event::Fatal { error: e });
        let tps: Vec<Tp> = self.owned.iter().copied().collect();
        self.drop_partitions(&tps);
        self.phase = Phase::Failed;
        ctx.record(Event::Closed);
    }

    // ---------------------------------------------------------------- positions and fetching

    fn lookup_positions(&mut self, ctx: Cx) {
        let (owned, positions) = (&self.owned, &self.positions);
        self.to_reset
            .retain(|tp| owned.contains(tp) && !positions.contains_key(tp));
        if !self.to_reset.is_empty() {
            let tps = self.to_reset.iter().copied().collect();
            return self.list_offsets(ctx, tps);
        }
        let missing: Vec<Tp> = self
            .owned
            .iter()
            .filter(|tp| !self.positions.contains_key(tp))
            .copied()
            .collect();
        if missing.is_empty() {
            return;
        }
        let corr = self.next_corr(ctx);
        self.offsets_corr = Some(corr);
        self.offsets_to = Some(self.coord());
        ctx.send(
            self.coord(),
            Msg::OffsetFetchReq {
                group: self.group(),
                partitions: missing,
                tag: corr,
            },
        );
    }

    /// ListOffsets (`auto.offset.reset`) for `missing`, to the leader of the first that has
    /// one and for the partitions it leads; the others come in the next round.
    fn list_offsets(&mut self, ctx: Cx, missing: Vec<Tp>) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let Some(leader) = missing.iter().find_map(|tp| cluster.leader_actor(*tp)) else {
            return self.schedule_rediscover(ctx);
        };
        let partitions: Vec<Tp> = missing
            .into_iter()
            .filter(|tp| cluster.leader_actor(*tp) == Some(leader))
            .collect();
        let corr = self.next_corr(ctx);
        self.offsets_corr = Some(corr);
        self.offsets_to = Some(leader);
        ctx.send(
            leader,
            Msg::ListOffsetsReq {
                partitions,
                spec: self.cfg.auto_offset_reset,
                tag: corr,
            },
        );
    }

    fn set_position(&mut self, ctx: Cx, tp: Tp, offset: i64, from: PositionSource) {
        if self.owned.contains(&tp) && !self.positions.contains_key(&tp) {
            self.positions.insert(tp, offset);
            ctx.record(Event::PositionSet {
                group: self.group(),
                tp,
                offset,
                from,
            });
        }
    }

    fn can_fetch(&self) -> bool {
        match self.phase {
            Phase::Stable => true,
            Phase::Joining | Phase::Syncing => self.cooperative,
            _ => false,
        }
    }

    fn maybe_fetch(&mut self, ctx: Cx) {
        if self.app != App::Polling || !self.can_fetch() || self.positions.is_empty() {
            return;
        }
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        // one Fetch in flight per leader, for the partitions it leads
        if cluster.broker_count() == 1 {
            // one broker leads everything (the common case, without a look-up per partition)
            let b = cluster.brokers[0];
            if !self.fetches.contains_key(&b) {
                // the position list of the last Fetch is reused (written over in place, the
                // broker having let go of it) rather than allocated for every Fetch
                let fresh = self.positions.as_slice();
                match &mut self.last_positions {
                    Some(last) if last.len() == fresh.len() => match Arc::get_mut(last) {
                        Some(slots) => slots.copy_from_slice(fresh),
                        None => *last = fresh.into(),
                    },
                    _ => self.last_positions = Some(fresh.into()),
                }
                let positions = self.last_positions.clone().expect("just set");
                self.send_fetch(ctx, b, positions);
            }
            return;
        }
        let mut by_leader: Vec<(ActorId, Vec<(Tp, i64)>)> = Vec::new();
        let mut leaderless = false;
        for (tp, o) in &self.positions {
            match cluster.leader_actor(*tp) {
                Some(l) => match by_leader.iter_mut().find(|(b, _)| *b == l) {
                    Some((_, v)) => v.push((*tp, *o)),
                    None => by_leader.push((l, vec![(*tp, *o)])),
                },
                None => leaderless = true,
            }
        }
        by_leader.sort_by_key(|(b, _)| *b);
        if leaderless {
            self.schedule_rediscover(ctx);
        }
        for (leader, positions) in by_leader {
            if !self.fetches.contains_key(&leader) {
                self.send_fetch(ctx, leader, positions.into());
            }
        }
    }

    fn send_fetch(&mut self, ctx: Cx, leader: ActorId, positions: Arc<[(Tp, i64)]>) {
        let corr = self.next_corr(ctx);
        self.fetches.insert(leader, corr);
        ctx.send(
            leader,
            Msg::FetchReq {
                fetch_id: corr,
                positions,
                max_wait_us: Time::ms(self.cfg.fetch_max_wait_ms).as_us(),
                max_records: self.cfg.max_poll_records,
            },
        );
    }

    fn on_fetch(
        &mut self,
        ctx: Cx,
        from: ActorId,
        fetch_id: u64,
        records: FetchedRecords,
        errors: Vec<(Tp, ErrorCode)>,
    ) {
        if self.fetches.get(&from) != Some(&fetch_id) {
            return;
        }
        self.fetches.remove(&from);
        let mut reset = false;
        for (tp, e) in errors {
            match e {
                ErrorCode::OffsetOutOfRange if self.positions.contains_key(&tp) => {
                    // the log is shorter than the position (a truncation): auto.offset.reset
                    self.positions.remove(&tp);
                    self.to_reset.insert(tp);
                    reset = true;
                }
                _ => self.schedule_rediscover(ctx),
            }
        }
        if reset {
            self.lookup_positions(ctx);
        }
        if self.can_fetch() {
            for (tp, offset, record) in records {
                let Some(pos) = self.positions.get_mut(&tp) else {
                    continue;
                };
                if *pos != offset {
                    continue;
                }
                *pos = offset + 1;
                self.buffer.push_back(Fetched {
                    tp,
                    offset,
                    record,
                    generation: self.generation,
                });
            }
        }
        if self.app == App::Polling {
            if self.buffer.is_empty() {
                self.maybe_fetch(ctx);
            } else {
                self.on_batch(ctx);
            }
        }
    }

    // ---------------------------------------------------------------- finding the cluster

    /// Where group requests go: the coordinator, or (not known yet) the bootstrap broker.
    fn coord(&self) -> ActorId {
        self.coordinator.unwrap_or(self.brokers[0])
    }

    fn find_coordinator(&mut self, ctx: Cx) {
        if self.find_corr.is_some() {
            return;
        }
        let corr = self.next_corr(ctx);
        self.find_corr = Some(corr);
        let to = self.brokers[self.next_bootstrap % self.brokers.len()];
        self.find_to = Some(to);
        ctx.send(to, Msg::FindCoordinatorReq { group: self.group() });
    }

    /// The coordinator answered `NOT_COORDINATOR` or stopped answering: find it again, then
    /// carry on with what was interrupted.
    fn coordinator_lost(&mut self, ctx: Cx) {
        self.coordinator = None;
        self.next_bootstrap += 1;
        self.schedule_rediscover(ctx);
    }

    /// A broker's process is gone: every request in flight to it failed.
    fn on_disconnected(&mut self, ctx: Cx, from: ActorId) {
        if self.coordinator == Some(from) {
            self.join_corr = None;
            self.sync_corr = None;
            self.hb_sent = None;
            if let App::Committing(_, then) = self.app {
                ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: ErrorCode::NetworkException,
                });
                self.commit_moved(ctx, then);
            }
            self.coordinator_lost(ctx);
        }
        if self.offsets_to == Some(from) && self.offsets_corr.is_some() {
            self.offsets_corr = None;
            self.schedule_rediscover(ctx);
        }
        if self.fetches.remove(&from).is_some() {
            self.schedule_rediscover(ctx);
        }
        if self.meta_to == Some(from) && self.meta_corr.is_some() {
            self.meta_corr = None;
            self.schedule_rediscover(ctx);
        }
        if self.find_to == Some(from) && self.find_corr.is_some() {
            self.find_corr = None;
            self.next_bootstrap += 1;
            self.schedule_rediscover(ctx);
        }
    }

    fn on_coordinator(&mut self, ctx: Cx, c: Option<ActorId>) {
        self.find_corr = None;
        let Some(c) = c else {
            // COORDINATOR_NOT_AVAILABLE: ask again after retry.backoff.ms
            return self.schedule_rediscover(ctx);
        };
        self.coordinator = Some(c);
        self.resume_commit(ctx);
        match self.phase {
            Phase::FindingCoordinator => self.send_join(ctx),
            Phase::Joining | Phase::Syncing if self.join_corr.is_none() && self.sync_corr.is_none() => {
                self.send_join(ctx)
            }
            Phase::Stable if self.cfg.group_protocol_consumer && self.join_corr.is_none() => {
                self.send_cg_heartbeat(ctx, self.generation)
            }
            _ => {}
        }
        if self.offsets_corr.is_none() {
            self.lookup_positions(ctx);
        }
    }

    fn refresh_metadata(&mut self, ctx: Cx) {
        if self.meta_corr.is_some() {
            return;
        }
        let corr = self.next_corr(ctx);
        self.meta_corr = Some(corr);
        self.meta_rr += 1;
        let to = self.brokers[self.meta_rr % self.brokers.len()];
        self.meta_to = Some(to);
        ctx.send(to, Msg::MetadataReq);
    }

    /// Looks the cluster up again after `retry.backoff.ms` (a partition without a leader, a
    /// group without a coordinator).
    fn schedule_rediscover(&mut self, ctx: Cx) {
        if !self.rediscover_armed {
            self.rediscover_armed = true;
            ctx.timer(
                Time::ms(RETRY_BACKOFF_MS),
                Msg::ClientTimer(ClientTimer::Rediscover),
            );
        }
    }

    fn on_rediscover(&mut self, ctx: Cx) {
        self.rediscover_armed = false;
        if matches!(self.app, App::CommitRetry(_))
            && self.sync_commit.as_ref().is_some_and(|(_, d)| ctx.now() >= *d)
        {
            self.resume_commit(ctx);
        }
        self.refresh_metadata(ctx);
        if self.coordinator.is_none() && !matches!(self.phase, Phase::Bootstrapping | Phase::Idle) {
            self.find_coordinator(ctx);
        }
    }

    // ---------------------------------------------------------------- the application loop

    fn stalled(&mut self, ctx: Cx) -> bool {
        if ctx.now() < self.stalled_until {
            if self.app != App::Stalled {
                self.app = App::Stalled;
                let wait = self.stalled_until.saturating_sub(ctx.now());
                ctx.timer(wait, Msg::ClientTimer(ClientTimer::Resume));
            }
            return true;
        }
        false
    }

    /// The application calls `poll()`.
    fn poll(&mut self, ctx: Cx) {
        if self.stalled(ctx) {
            return;
        }
        self.app = App::Polling;
        self.last_poll = ctx.now();
        if matches!(self.phase, Phase::Stable | Phase::Unjoined) {
            if let Some(why) = self.rejoin.take() {
                self.do_rejoin(ctx, why);
            }
        }
        if self.commit_due && self.phase == Phase::Stable {
            self.commit_due = false;
            let offsets: Vec<(Tp, i64)> = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
            self.send_commit(ctx, offsets);
        }
        self.maybe_fetch(ctx);
    }

    /// `poll()` returned a batch.
    fn on_batch(&mut self, ctx: Cx) {
        self.last_poll = ctx.now();
        if self.behaviour.commit == CommitPolicy::BeforeProcessing {
            let offsets = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
            self.commit_sync(ctx, offsets, Then::Process);
        } else {
            self.process_next(ctx);
        }
    }

    fn process_next(&mut self, ctx: Cx) {
        if self.stalled(ctx) {
            return;
        }
        let Some(front) = self.buffer.front() else {
            // the batch is done
            if self.behaviour.commit == CommitPolicy::AfterBatch && !self.positions.is_empty() {
                let offsets = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
                self.commit_sync(ctx, offsets, Then::Poll);
            } else {
                self.poll(ctx);
            }
            return;
        };
        // handed to the application: librdkafka's stored offset moves past it now
        self.stored.insert(front.tp, front.offset + 1);
        if self.behaviour.processing == Time::ZERO {
            self.finish_record(ctx);
        } else {
            self.app = App::Processing;
            ctx.timer(
                self.behaviour.processing,
                Msg::ClientTimer(ClientTimer::ProcessDone),
            );
        }
    }

    fn finish_record(&mut self, ctx: Cx) {
        let f = self.buffer.pop_front().expect("a record in hand");
        ctx.record(Event::Consumed {
            group: self.group(),
            generation: f.generation,
            tp: f.tp,
            offset: f.offset,
            id: f.record.id,
            payload: f.record.payload,
        });
        if self.behaviour.commit == CommitPolicy::AfterRecord {
            self.commit_sync(ctx, vec![(f.tp, f.offset + 1)], Then::Process);
        } else {
            self.process_next(ctx);
        }
    }

    /// What a commit of `tp` would write now: the position for commits in `poll()`, the
    /// stored offset for librdkafka's timer.
    fn commit_offset(&self, tp: Tp) -> Option<i64> {
        if self.cfg.auto_commit_on_timer {
            self.stored.get(&tp).copied()
        } else {
            self.positions.get(&tp).copied()
        }
    }

    fn send_commit(&mut self, ctx: Cx, offsets: Vec<(Tp, i64)>) -> Option<u64> {
        if offsets.is_empty() || self.member_id.is_none() {
            return None;
        }
        self.corr += 1;
        let corr = self.corr;
        ctx.send(
            self.coord(),
            Msg::OffsetCommitReq {
                corr,
                group: self.group(),
                member_id: self.member_id.clone(),
                generation: self.generation,
                offsets,
            },
        );
        Some(corr)
    }

    fn commit_sync(&mut self, ctx: Cx, offsets: Vec<(Tp, i64)>, then: Then) {
        if self.sync_commit.is_none() {
            let deadline = ctx.now() + Time::ms(API_TIMEOUT_MS);
            self.sync_commit = Some((offsets.clone(), deadline));
        }
        match self.send_commit(ctx, offsets) {
            Some(corr) => {
                self.app = App::Committing(corr, then);
                self.watch(ctx, corr);
            }
            None => {
                ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: ErrorCode::UnknownMemberId,
                });
                self.app = App::Polling;
                self.commit_failed(ctx, then);
            }
        }
    }

    /// The coordinator of the `commitSync()` in progress moved: wait for it and send the
    /// commit again, unless `default.api.timeout.ms` ran out.
    fn commit_moved(&mut self, ctx: Cx, then: Then) {
        match &self.sync_commit {
            Some((_, deadline)) if ctx.now() < *deadline => self.app = App::CommitRetry(then),
            _ => {
                self.app = App::Polling;
                self.commit_failed(ctx, then);
            }
        }
    }

    /// The coordinator is known again: a `commitSync()` waiting for it sends its commit.
    fn resume_commit(&mut self, ctx: Cx) {
        if let App::CommitRetry(then) = self.app {
            match self.sync_commit.clone() {
                Some((offsets, deadline)) if ctx.now() < deadline => {
                    self.commit_sync(ctx, offsets, then);
                }
                _ => {
                    self.app = App::Polling;
                    self.commit_failed(ctx, then);
                }
            }
        }
    }

    /// A `commitSync()` failed: the exception aborts the loop iteration. Before processing
    /// (at-most-once) that means the batch is not processed at all.
    fn commit_failed(&mut self, ctx: Cx, then: Then) {
        self.sync_commit = None;
        if then == Then::Process && self.behaviour.commit == CommitPolicy::BeforeProcessing {
            self.buffer.clear();
            self.poll(ctx);
        } else {
            self.continue_after(ctx, then);
        }
    }

    fn continue_after(&mut self, ctx: Cx, then: Then) {
        self.app = App::Polling;
        match then {
            Then::Process => self.process_next(ctx),
            Then::Poll => self.poll(ctx),
        }
    }

    // ---------------------------------------------------------------- lifecycle

    fn close(&mut self, ctx: Cx) {
        if matches!(self.phase, Phase::Stable) {
            let all: Vec<Tp> = self.owned.iter().copied().collect();
            self.revoke(ctx, &all);
        }
        if let (true, Some(member_id)) = (self.cfg.group_instance_id.is_none(), self.member_id.clone()) {
            self.send_leave(ctx, member_id.clone());
            ctx.record(Event::Left {
                group: self.group(),
                member_id,
            });
        }
        self.phase = Phase::Closed;
        ctx.record(Event::Closed);
    }

    /// Leaves the group: LeaveGroup, or a KIP-848 heartbeat with epoch −1.
    fn send_leave(&mut self, ctx: Cx, member_id: MemberId) {
        if self.cfg.group_protocol_consumer {
            self.send_cg_heartbeat(ctx, -1);
        } else {
            ctx.send(
                self.coord(),
                Msg::LeaveGroupReq {
                    group: self.group(),
                    member_id,
                },
            );
        }
    }

    fn on_heartbeat_timer(&mut self, ctx: Cx, epoch: u64) {
        if epoch != self.hb_epoch || self.phase != Phase::Stable {
            return;
        }
        let idle = ctx.now().saturating_sub(self.last_poll);
        if self.app != App::Polling && idle > Time::ms(self.cfg.max_poll_interval_ms) {
            // the heartbeat thread gives up the membership (Java's "poll timeout has expired")
            let member_id = self.member_id.clone().expect("member");
            ctx.record(Event::PollTimeout {
                group: self.group(),
                member_id: member_id.clone(),
            });
            if self.cfg.group_instance_id.is_none() {
                self.send_leave(ctx, member_id);
            }
            self.phase = Phase::Unjoined;
            self.rejoin = Some(Rejoin::Lost(LostReason::PollTimeout));
            return;
        }
        if self.cfg.group_protocol_consumer {
            // the answer sets the next heartbeat
            return self.send_cg_heartbeat(ctx, self.generation);
        }
        if let Some(since) = self.hb_sent {
            if self.brokers.len() > 1
                && ctx.now().saturating_sub(since) > Time::ms(self.cfg.request_timeout_ms)
            {
                // the coordinator stopped answering: look for it again
                self.hb_sent = None;
                self.coordinator_lost(ctx);
            }
        }
        if self.coordinator.is_some() {
            ctx.send(
                self.coord(),
                Msg::HeartbeatReq {
                    group: self.group(),
                    member_id: self.member_id.clone().expect("member"),
                    generation: self.generation,
                },
            );
            self.hb_sent.get_or_insert(ctx.now());
        }
        let hb = Time::ms(self.cfg.heartbeat_interval_ms);
        ctx.timer(hb, Msg::ClientTimer(ClientTimer::Heartbeat(epoch)));
    }

    fn on_request_timeout(&mut self, ctx: Cx, corr: u64) {
        if self.app == App::Committing(corr, Then::Process) || self.app == App::Committing(corr, Then::Poll) {
            let App::Committing(_, then) = self.app else {
                unreachable!()
            };
            ctx.record(Event::CommitFailed {
                group: self.group(),
                error: ErrorCode::RequestTimedOut,
            });
            self.app = App::Polling;
            self.commit_failed(ctx, then);
        } else if self.join_corr == Some(corr) || self.sync_corr == Some(corr) {
            self.join_corr = None;
            self.sync_corr = None;
            if self.brokers.len() > 1 {
                return self.coordinator_lost(ctx);
            }
            self.send_join(ctx);
        } else if let Some(leader) = self.fetches.iter().find(|(_, c)| **c == corr).map(|(l, _)| *l) {
            self.fetches.remove(&leader);
            if self.brokers.len() > 1 {
                self.refresh_metadata(ctx);
            }
            self.maybe_fetch(ctx);
        } else if self.offsets_corr == Some(corr) {
            self.offsets_corr = None;
            if self.brokers.len() > 1 {
                return self.coordinator_lost(ctx);
            }
            self.lookup_positions(ctx);
        } else if self.find_corr == Some(corr) {
            self.find_corr = None;
            self.next_bootstrap += 1;
            self.find_coordinator(ctx);
        } else if self.meta_corr == Some(corr) {
            self.meta_corr = None;
            self.refresh_metadata(ctx);
        }
    }
}

impl Actor<Msg, Event> for Consumer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        match (&self.phase, &msg) {
            (Phase::Crashed, Msg::Restart) => {
                self.reset_state();
                ctx.record(Event::Restarted);
                self.start(ctx);
                return;
            }
            (Phase::Closed | Phase::Crashed | Phase::Failed, _) => return,
            _ => {}
        }
        match msg {
            Msg::Start => self.start(ctx),
            Msg::Close => self.close(ctx),
            Msg::Crash => {
                ctx.reset_connections();
                ctx.record(Event::Crashed);
                self.phase = Phase::Crashed;
            }
            Msg::Restart => {}
            Msg::Stall(d) => {
                self.stalled_until = self.stalled_until.max(ctx.now() + d);
                ctx.record(Event::Stalled {
                    until: self.stalled_until,
                });
                if self.app == App::Polling {
                    self.stalled(ctx);
                }
            }
            Msg::MetadataResp(meta, cluster) => {
                if self.cluster.as_ref().is_none_or(|c| c.version <= cluster.version) {
                    self.cluster = Some(cluster);
                }
                self.meta_corr = None;
                if self.phase != Phase::Bootstrapping {
                    if self.offsets_corr.is_none() {
                        self.lookup_positions(ctx);
                    }
                    return self.maybe_fetch(ctx);
                }
                self.topics = self
                    .topic_names
                    .iter()
                    .map(|n| {
                        meta.topic_index(n)
                            .expect("scenario validation checked the topic exists")
                    })
                    .collect();
                self.topics.sort_unstable();
                self.meta = Some(meta);
                ctx.record(Event::Connected);
                self.phase = Phase::FindingCoordinator;
                self.find_coordinator(ctx);
            }
            Msg::FindCoordinatorResp(c) => {
                if self.find_corr.is_some() {
                    self.on_coordinator(ctx, c);
                }
            }
            Msg::ClientTimer(ClientTimer::Rediscover) => self.on_rediscover(ctx),
            Msg::Disconnected => self.on_disconnected(ctx, from),
            Msg::JoinGroupResp { corr, result } => {
                if self.join_corr != Some(corr) {
                    return;
                }
                self.join_corr = None;
                match result {
                    Ok(j) => self.on_join(ctx, j),
                    Err((ErrorCode::MemberIdRequired, Some(id))) => {
                        self.member_id = Some(id);
                        self.send_join(ctx);
                    }
                    Err((ErrorCode::UnknownMemberId, _)) => {
                        self.member_id = None;
                        self.generation = -1;
                        self.send_join(ctx);
                    }
                    Err((ErrorCode::NotCoordinator, _)) => self.coordinator_lost(ctx),
                    Err((e, _)) => self.fatal(ctx, e),
                }
            }
            Msg::ConsumerHeartbeatResp { corr, result } => {
                if self.join_corr != Some(corr) {
                    return;
                }
                self.join_corr = None;
                if self.phase == Phase::Unjoined {
                    return;
                }
                match result {
                    Ok(r) => self.on_cg_answer(ctx, r),
                    Err(ErrorCode::NotCoordinator) => self.coordinator_lost(ctx),
                    Err(_) => {
                        self.lose_all(ctx, LostReason::UnknownMember);
                        self.member_id = None;
                        self.send_join(ctx);
                    }
                }
            }
            Msg::SyncGroupResp { corr, result } => {
                if self.sync_corr != Some(corr) {
                    return;
                }
                self.sync_corr = None;
                match result {
                    Ok(partitions) => self.on_assignment(ctx, partitions),
                    Err(ErrorCode::RebalanceInProgress) => self.send_join(ctx),
                    Err(ErrorCode::NotCoordinator) => self.coordinator_lost(ctx),
                    Err(ErrorCode::FencedInstanceId) => self.fatal(ctx, ErrorCode::FencedInstanceId),
                    Err(ErrorCode::IllegalGeneration) => {
                        self.lose_all(ctx, LostReason::IllegalGeneration);
                        self.send_join(ctx);
                    }
                    Err(_) => {
                        self.lose_all(ctx, LostReason::UnknownMember);
                        self.member_id = None;
                        self.send_join(ctx);
                    }
                }
            }
            Msg::ClientTimer(ClientTimer::Heartbeat(epoch)) => self.on_heartbeat_timer(ctx, epoch),
            Msg::HeartbeatResp(result) => {
                self.hb_sent = None;
                if self.phase != Phase::Stable {
                    return;
                }
                match result {
                    Ok(()) => return,
                    Err(ErrorCode::NotCoordinator) => return self.coordinator_lost(ctx),
                    Err(ErrorCode::RebalanceInProgress) => self.rejoin = Some(Rejoin::Rebalance),
                    Err(ErrorCode::FencedInstanceId) => return self.fatal(ctx, ErrorCode::FencedInstanceId),
                    Err(ErrorCode::IllegalGeneration) => {
                        self.rejoin = Some(Rejoin::Lost(LostReason::IllegalGeneration))
                    }
                    Err(_) => self.rejoin = Some(Rejoin::Lost(LostReason::UnknownMember)),
                }
                self.hb_epoch += 1;
                if self.app == App::Polling {
                    self.poll(ctx);
                }
            }
            Msg::ClientTimer(ClientTimer::AutoCommit) => {
                let every = Time::ms(self.cfg.auto_commit_interval_ms);
                ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
                if self.phase != Phase::Stable {
                    return;
                }
                if self.cfg.auto_commit_on_timer {
                    let offsets = self.stored.iter().map(|(t, o)| (*t, *o)).collect();
                    self.send_commit(ctx, offsets);
                } else if self.app == App::Polling {
                    let offsets = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
                    self.send_commit(ctx, offsets);
                } else {
                    self.commit_due = true;
                }
            }
            Msg::OffsetCommitResp {
                corr,
                offsets,
                result,
            } => {
                let ok = result.is_ok();
                let moved = matches!(
                    result,
                    Err(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
                );
                if moved {
                    self.coordinator_lost(ctx);
                }
                match result {
                    Ok(()) => ctx.record(Event::Committed {
                        group: self.group(),
                        generation: self.generation,
                        offsets,
                    }),
                    Err(e) => ctx.record(Event::CommitFailed {
                        group: self.group(),
                        error: e,
                    }),
                }
                if let App::Committing(c, then) = self.app {
                    if c == corr {
                        self.app = App::Polling;
                        if ok {
                            self.sync_commit = None;
                            self.continue_after(ctx, then);
                        } else if moved {
                            self.commit_moved(ctx, then);
                        } else {
                            self.commit_failed(ctx, then);
                        }
                    }
                }
            }
            Msg::OffsetFetchResp { tag, offsets } => {
                if self.offsets_corr != Some(tag) {
                    return;
                }
                self.offsets_corr = None;
                let Ok(offsets) = offsets else {
                    return self.coordinator_lost(ctx);
                };
                let mut missing = Vec::new();
                for (tp, committed) in offsets {
                    match committed {
                        Some(o) => self.set_position(ctx, tp, o, PositionSource::Committed),
                        None if self.owned.contains(&tp) => missing.push(tp),
                        None => {}
                    }
                }
                if !missing.is_empty() {
                    self.list_offsets(ctx, missing);
                }
                self.maybe_fetch(ctx);
            }
            Msg::ListOffsetsResp { tag, offsets } => {
                if self.offsets_corr != Some(tag) {
                    return;
                }
                self.offsets_corr = None;
                let earliest = self.cfg.auto_offset_reset == OffsetSpec::Earliest;
                for (tp, o) in offsets {
                    // a position the log no longer had (OFFSET_OUT_OF_RANGE), reset mid-assignment
                    let from = match (self.to_reset.remove(&tp), earliest) {
                        (true, true) => PositionSource::OutOfRangeEarliest,
                        (true, false) => PositionSource::OutOfRangeLatest,
                        (false, true) => PositionSource::Earliest,
                        (false, false) => PositionSource::Latest,
                    };
                    self.set_position(ctx, tp, o, from);
                }
                self.lookup_positions(ctx);
                self.maybe_fetch(ctx);
            }
            Msg::FetchResp {
                fetch_id,
                records,
                errors,
            } => self.on_fetch(ctx, from, fetch_id, records, errors),
            Msg::ClientTimer(ClientTimer::ProcessDone) => {
                if self.app == App::Processing {
                    self.finish_record(ctx);
                }
            }
            Msg::ClientTimer(ClientTimer::Resume) => {
                if self.app == App::Stalled && ctx.now() < self.stalled_until {
                    // the stall was extended while it lasted
                    let wait = self.stalled_until.saturating_sub(ctx.now());
                    ctx.timer(wait, Msg::ClientTimer(ClientTimer::Resume));
                } else if self.app == App::Stalled {
                    self.app = App::Polling;
                    if self.buffer.is_empty() {
                        self.poll(ctx);
                    } else {
                        self.process_next(ctx);
                    }
                }
            }
            Msg::ClientTimer(ClientTimer::Watchdog) => self.on_watchdog(ctx),
            Msg::LeaveGroupResp => {}
            other => panic!("consumer got an unexpected message: {other:?}"),
        }
    }
}
