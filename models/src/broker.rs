//! A broker: partition replicas (leader and follower), the group coordinator and committed
//! offsets.
//!
//! What one Kafka broker does, as far as it matters to what clients observe:
//!
//! * **Leader** of a partition: appends Produce requests in its leader epoch (after the
//!   idempotent-producer sequence check), answers `acks=1` at once and `acks=all` when the
//!   high watermark passes the record; refuses `acks=all` while the ISR is smaller than
//!   `min.insync.replicas` (`NOT_ENOUGH_REPLICAS`) and fails waiting ones whose ISR shrank
//!   below it (`NOT_ENOUGH_REPLICAS_AFTER_APPEND`). The high watermark is the smallest log end
//!   offset of the ISR and never goes back. Consumers read below it only, with long polling
//!   (`fetch.min.bytes=1`, `fetch.max.wait.ms`). Followers that have not caught up within
//!   `replica.lag.time.max.ms` are dropped from the ISR, and followers that reach the high
//!   watermark are added back, through AlterPartition to the controller.
//! * **Follower**: one fetcher per leader broker, long-polled for `replica.fetch.wait.max.ms`,
//!   sends its log end offset and last epoch; a leader whose log diverges answers with the end
//!   of that epoch and the follower truncates there (KIP-101/KIP-279, fetch-based since
//!   KIP-595) — which is how records an unclean or acks=1 leader had vanish.
//! * **Coordinator** of the groups whose `__consumer_offsets` partition it leads: the classic
//!   protocol ([`crate::coordinator`]) and KIP-848 ([`crate::consumer_group`]). Offset commits and
//!   group metadata are entries of that partition, replicated like any other and acknowledged
//!   at its high watermark (commits use `acks=all`); a new leader replays the partition and
//!   serves the same offsets and groups. Other brokers answer `NOT_COORDINATOR`.
//! * **Controller link** (several brokers only): a heartbeat every
//!   `broker.heartbeat.interval.ms`; the controller's metadata image decides who leads.
//!
//! Faults: a crash keeps the logs (they are on disk) and loses everything in memory; a stall
//! pauses the replica fetchers (the slow follower).

use crate::cluster::{ClusterState, NodeId};
use crate::consumer_group::{self, ConsumerGroup};
use crate::coordinator::{Group, GroupConfig, Output};
use crate::group_metadata::GroupMetadata;
use crate::history::Event;
use crate::log::{Entry, Internal, PartitionLog, SeqCheck};
use crate::protocol::{Acks, ErrorCode, FetchedRecords, Msg, OffsetSpec, ReplicaData, ServerTimer};
use crate::types::{LogRecord, Metadata, Payload, RecordId, Tp, VecMap};
use rand::RngCore;
use sim::{Actor, ActorId, Ctx, Time};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a consumer fetch collects: records per partition, and partitions it cannot serve.
type Collected = (FetchedRecords, Vec<(Tp, ErrorCode)>);

/// Records a follower copies per partition per fetch at most.
const REPLICA_BATCH: usize = 4096;

/// A broker's settings (Kafka's names).
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node: NodeId,
    /// Group coordinator settings.
    pub group: GroupConfig,
    /// The controller, when the cluster has one (more than one broker).
    pub controller: Option<ActorId>,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval: Time,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_max: Time,
    /// `replica.fetch.wait.max.ms`.
    pub replica_fetch_wait: Time,
    /// `replica.socket.timeout.ms`: an unanswered replica fetch is sent again after it.
    pub replica_socket_timeout: Time,
    /// `min.insync.replicas`, per topic index (the offsets topic last).
    pub min_isr: Vec<u32>,
    /// `retention.ms`, per topic index (`None`: kept for the whole run).
    pub retention: Vec<Option<Time>>,
    /// `log.retention.check.interval.ms`.
    pub retention_check: Time,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    None,
    Leader,
    Follower(NodeId),
}

impl Role {
    /// Broker `me`'s role in a partition led by `leader`.
    fn of(leader: Option<NodeId>, me: NodeId) -> Role {
        match leader {
            Some(l) if l == me => Role::Leader,
            Some(l) => Role::Follower(l),
            None => Role::None,
        }
    }
}

#[derive(Clone, Debug)]
struct FollowerState {
    /// Its log end offset, as its last fetch said (−1: not heard from since we lead).
    leo: i64,
    last_caught_up: Time,
    last_fetch: Time,
    leo_at_last_fetch: i64,
}

/// What leader `me` knows of the other replicas when it takes over: their log ends `leo`
/// (−1: not heard from yet), caught up as of `now`.
fn followers(replicas: &[NodeId], me: NodeId, leo: i64, now: Time) -> BTreeMap<NodeId, FollowerState> {
    replicas
        .iter()
        .filter(|r| **r != me)
        .map(|r| {
            (
                *r,
                FollowerState {
                    leo,
                    last_caught_up: now,
                    last_fetch: now,
                    leo_at_last_fetch: leo,
                },
            )
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Waiting {
    Produce {
        client: ActorId,
        id: RecordId,
        offset: i64,
    },
    Commit {
        client: ActorId,
        corr: u64,
        offsets: Vec<(Tp, i64)>,
        offset: i64,
    },
}

impl Waiting {
    fn offset(&self) -> i64 {
        match self {
            Waiting::Produce { offset, .. } | Waiting::Commit { offset, .. } => *offset,
        }
    }
}

struct Partition {
    log: PartitionLog,
    hw: i64,
    leader_epoch: i32,
    partition_epoch: i32,
    /// In-sync replicas (no allocation for up to four: the 50 `__consumer_offsets`
    /// partitions of every broker are built for every run).
    isr: SmallVec<[NodeId; 4]>,
    role: Role,
    followers: BTreeMap<NodeId, FollowerState>,
    alter_pending: bool,
    waiting: Vec<Waiting>,
}

struct Parked {
    deadline: Time,
    client: ActorId,
    fetch_id: u64,
    positions: Arc<[(Tp, i64)]>,
    max_records: usize,
}

struct ParkedReplica {
    deadline: Time,
    follower: ActorId,
    fetch_id: u64,
    parts: Vec<(Tp, i64, i32)>,
}

/// A broker.
pub struct Broker {
    cfg: BrokerConfig,
    meta: Arc<Metadata>,
    cluster: Arc<ClusterState>,
    parts: Vec<Vec<Option<Partition>>>,
    groups: BTreeMap<Arc<str>, Group>,
    persisted: BTreeMap<Arc<str>, (i32, usize)>,
    consumer_groups: BTreeMap<Arc<str>, ConsumerGroup>,
    offsets: BTreeMap<(Arc<str>, Tp), i64>,
    parked: VecMap<u64, Parked>,
    /// The parked consumer fetches that include each partition (indexed by topic, then
    /// partition), in the order they were parked: an append wakes only those.
    parked_by_tp: Vec<Vec<Vec<u64>>>,
    /// A reused buffer of parked fetch ids.
    scratch: Vec<u64>,
    /// A reused buffer of the acks=all requests being answered.
    answered: Vec<Waiting>,
    parked_replica: VecMap<u64, ParkedReplica>,
    next_parked: u64,
    /// The fetch purgatory's one timer: when it fires, and its token. Kafka's purgatory
    /// forgets a fetch answered early; so does this — one timer for the earliest deadline,
    /// not a timer per parked fetch that would fire for nothing after most fetches were
    /// answered by new data.
    purgatory: Option<(Time, u64)>,
    next_token: u64,
    /// Leader node → the fetch in flight to it.
    fetchers: BTreeMap<NodeId, u64>,
    next_fetch: u64,
    crashed: bool,
    stalled_until: Time,
    resume_armed: bool,
    /// After a restart: the next metadata image is taken whatever its version.
    needs_image: bool,
    /// The retention check is scheduled.
    retention_armed: bool,
    /// Process incarnation: bumped by a crash, so timers of the dead process are ignored.
    incarnation: u32,
    /// Actors that sent this broker requests (they hold connections to it), by actor index.
    peers: Vec<bool>,
    out: Vec<Output>,
}

impl Broker {
    /// Broker `cfg.node` of a cluster whose initial image is `cluster`.
    pub fn new(meta: Arc<Metadata>, cluster: Arc<ClusterState>, cfg: BrokerConfig) -> Broker {
        let node = cfg.node;
        let parts = cluster
            .parts
            .iter()
            .map(|t| {
                t.iter()
                    .map(|p| {
                        p.replicas.contains(&node).then(|| Partition {
                            log: PartitionLog::new(),
                            hw: 0,
                            leader_epoch: -1,
                            partition_epoch: -1,
                            isr: SmallVec::new(),
                            role: Role::None,
                            followers: BTreeMap::new(),
                            alter_pending: false,
                            waiting: Vec::new(),
                        })
                    })
                    .collect()
            })
            .collect();
        let mut b = Broker {
            cfg,
            meta,
            cluster: cluster.clone(),
            parts,
            groups: BTreeMap::new(),
            persisted: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            offsets: BTreeMap::new(),
            parked: VecMap::default(),
            parked_by_tp: Vec::new(),
            scratch: Vec::new(),
            answered: Vec::new(),
            parked_replica: VecMap::default(),
            next_parked: 0,
            purgatory: None,
            next_token: 0,
            fetchers: BTreeMap::new(),
            next_fetch: 0,
            crashed: false,
            stalled_until: Time::ZERO,
            resume_armed: false,
            needs_image: false,
            retention_armed: false,
            incarnation: 0,
            peers: Vec::new(),
            out: Vec::new(),
        };
        // the initial image, taken before anything runs (a cluster that just formed)
        for (tp, st) in cluster.all() {
            if let Some(p) = b.part_mut(tp) {
                p.role = Role::of(st.leader, node);
                p.leader_epoch = st.leader_epoch;
                p.partition_epoch = st.partition_epoch;
                p.isr = SmallVec::from_slice(&st.isr);
                if p.role == Role::Leader {
                    // every log is empty: the followers are caught up
                    p.followers = followers(&st.replicas, node, 0, Time::ZERO);
                }
            }
        }
        b
    }

    fn part(&self, tp: Tp) -> Option<&Partition> {
        self.parts
            .get(tp.topic as usize)
            .and_then(|t| t.get(tp.partition as usize))
            .and_then(Option::as_ref)
    }

    fn part_mut(&mut self, tp: Tp) -> Option<&mut Partition> {
        self.parts
            .get_mut(tp.topic as usize)
            .and_then(|t| t.get_mut(tp.partition as usize))
            .and_then(Option::as_mut)
    }

    fn leads(&self, tp: Tp) -> bool {
        self.part(tp).is_some_and(|p| p.role == Role::Leader)
    }

    fn is_user(&self, tp: Tp) -> bool {
        !self.meta.is_internal(tp)
    }

    fn min_isr(&self, tp: Tp) -> usize {
        self.cfg.min_isr.get(tp.topic as usize).copied().unwrap_or(1) as usize
    }

    // ------------------------------------------------------------------ metadata and roles

    /// Takes the roles a metadata image gives this broker.
    fn apply_cluster(&mut self, ctx: &mut Ctx<'_, Msg, Event>, new: Arc<ClusterState>) {
        let me = self.cfg.node;
        let now = ctx.now();
        let all: Vec<(Tp, crate::cluster::PartitionState)> = new
            .all()
            .filter(|(tp, _)| self.part(*tp).is_some())
            .map(|(tp, s)| (tp, s.clone()))
            .collect();
        let old = std::mem::replace(&mut self.cluster, new);
        for (tp, st) in all {
            let user = self.is_user(tp);
            let p = self.part_mut(tp).expect("a replica");
            let was = p.role.clone();
            let new_role = Role::of(st.leader, me);
            let epoch_changed = st.leader_epoch != p.leader_epoch;
            let in_old_isr = old.part(tp).isr.contains(&me);
            p.isr = SmallVec::from_slice(&st.isr);
            p.partition_epoch = st.partition_epoch;
            p.alter_pending = false;
            if new_role == was && !epoch_changed {
                if p.role == Role::Leader {
                    self.advance_high_watermark(ctx, tp);
                }
                continue;
            }
            p.leader_epoch = st.leader_epoch;
            p.role = new_role.clone();
            let failed = std::mem::take(&mut p.waiting);
            if new_role == Role::Leader {
                p.followers = followers(&st.replicas, me, -1, now);
                // a new leader's high watermark is at most its log end
                p.hw = p.hw.min(p.log.end_offset());
                let log_end = p.log.end_offset();
                // offsets partitions: only those that hold something (a coordinator moved)
                if user || log_end > 0 {
                    ctx.record(Event::LeaderElected {
                        tp,
                        epoch: st.leader_epoch,
                        log_end,
                        unclean: !in_old_isr,
                    });
                }
                if !user {
                    self.load_offsets_partition(ctx, tp);
                }
                self.advance_high_watermark(ctx, tp);
            } else {
                p.followers.clear();
                if was == Role::Leader && !user {
                    self.unload_offsets_partition(tp);
                }
            }
            for w in failed {
                self.answer_waiting(ctx, tp, w, Err(ErrorCode::NotLeaderOrFollower));
            }
        }
        self.needs_image = false;
        self.start_fetchers(ctx);
    }

    /// Recomputes the high watermark of a partition this broker leads and answers what it
    /// unblocks.
    fn advance_high_watermark(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        let me = self.cfg.node;
        let min_isr = self.min_isr(tp);
        let Some(p) = self.part_mut(tp) else { return };
        if p.role != Role::Leader {
            return;
        }
        let leo = p.log.end_offset();
        let mut hw = leo;
        for r in &p.isr {
            if *r != me {
                hw = hw.min(p.followers.get(r).map_or(-1, |f| f.leo));
            }
        }
        let advanced = hw > p.hw;
        if advanced {
            p.hw = hw;
        }
        let hw = p.hw;
        let short = p.isr.len() < min_isr;
        if !p.waiting.is_empty() && (short || p.waiting.first().is_some_and(|w| w.offset() < hw)) {
            // waiting is in offset order: the answered ones are a prefix (all of them when the
            // ISR is too short); they move to a reused buffer, so answering allocates nothing
            let n = if short {
                p.waiting.len()
            } else {
                p.waiting.partition_point(|w| w.offset() < hw)
            };
            let mut done = std::mem::take(&mut self.answered);
            let p = self.part_mut(tp).expect("leader");
            done.extend(p.waiting.drain(..n));
            for w in done.drain(..) {
                let r = if w.offset() < hw {
                    Ok(w.offset())
                } else {
                    Err(ErrorCode::NotEnoughReplicasAfterAppend)
                };
                self.answer_waiting(ctx, tp, w, r);
            }
            self.answered = done;
        }
        if advanced {
            self.wake_parked(ctx, tp);
        }
    }

    fn answer_waiting(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        tp: Tp,
        w: Waiting,
        r: Result<i64, ErrorCode>,
    ) {
        match w {
            Waiting::Produce { client, id, .. } => {
                ctx.send(client, Msg::ProduceResp { tp, id, result: r });
            }
            Waiting::Commit {
                client,
                corr,
                offsets,
                ..
            } => {
                let result = r.map(|_| ()).map_err(|e| match e {
                    ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
                    e => e,
                });
                ctx.send(
                    client,
                    Msg::OffsetCommitResp {
                        corr,
                        offsets,
                        result,
                    },
                );
            }
        }
    }

    /// A new coordinator replays its offsets partition: committed offsets and the last
    /// metadata of each group.
    fn load_offsets_partition(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        let Some(p) = self.part(tp) else { return };
        let mut offsets = Vec::new();
        let mut groups: BTreeMap<Arc<str>, Box<GroupMetadata>> = BTreeMap::new();
        for e in p.log.all() {
            match e.internal.as_deref() {
                Some(Internal::Commit { group, offsets: o }) => {
                    offsets.extend(o.iter().map(|(t, off)| ((group.clone(), *t), *off)));
                }
                Some(Internal::Group(g)) => {
                    groups.insert(g.group.clone(), g.clone());
                }
                None => {}
            }
        }
        self.offsets.extend(offsets);
        let now = ctx.now();
        for (name, g) in groups {
            let mut out = std::mem::take(&mut self.out);
            let loaded = Group::loaded(&g, self.cfg.group, now, &mut out);
            self.out = out;
            if let Some(key) = loaded.persist_key() {
                self.persisted.insert(name.clone(), key);
            }
            self.groups.insert(name.clone(), loaded);
            self.flush(ctx, &name);
        }
    }

    fn unload_offsets_partition(&mut self, tp: Tp) {
        let cluster = self.cluster.clone();
        self.groups.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.consumer_groups.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.persisted.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.offsets.retain(|(g, _), _| cluster.offsets_tp(g) != tp);
    }

    fn coordinates(&self, group: &str) -> bool {
        self.leads(self.cluster.offsets_tp(group))
    }

    // ------------------------------------------------------------------ appends

    /// Appends to a partition this broker leads; returns the offset.
    fn append(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp, entry: Entry) -> i64 {
        let user = self.is_user(tp);
        let now = ctx.now();
        self.arm_retention(ctx, tp);
        let p = self.part_mut(tp).expect("leader");
        let id = entry.record.id;
        let offset = p.log.append(entry, now);
        if user {
            ctx.record(Event::Appended { id, tp, offset });
        }
        self.wake_parked_replicas(ctx);
        offset
    }

    fn append_internal(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp, internal: Internal) -> i64 {
        let epoch = self.part(tp).map_or(0, |p| p.leader_epoch);
        let seq = self.part(tp).map_or(0, |p| p.log.end_offset()) as u32;
        self.append(
            ctx,
            tp,
            Entry {
                record: LogRecord {
                    id: RecordId {
                        producer: u32::MAX,
                        seq,
                    },
                    payload: Payload::new(None, None),
                },
                epoch,
                pseq: -1,
                pepoch: 0,
                internal: Some(Arc::new(internal)),
            },
        )
    }

    /// Handles a Produce request (`msg` is a [`Msg::ProduceReq`]).
    fn produce(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        let Msg::ProduceReq {
            tp,
            id,
            payload,
            acks,
            pseq,
            pepoch,
        } = msg
        else {
            unreachable!("a produce request")
        };
        let reply = |ctx: &mut Ctx<'_, Msg, Event>, result| {
            if acks != Acks::None {
                ctx.send(from, Msg::ProduceResp { tp, id, result });
            }
        };
        let min_isr = self.min_isr(tp);
        let Some(p) = self.part(tp).filter(|p| p.role == Role::Leader) else {
            return reply(ctx, Err(ErrorCode::NotLeaderOrFollower));
        };
        if acks == Acks::All && p.isr.len() < min_isr {
            return reply(ctx, Err(ErrorCode::NotEnoughReplicas));
        }
        match p.log.check_sequence(id.producer, pepoch, pseq) {
            // a retry of what is written: answered with the first offset, once that is
            // replicated as far as acks asks
            SeqCheck::Duplicate(offset) if acks == Acks::All && offset >= p.hw => {
                let waiting = &mut self.part_mut(tp).expect("leader").waiting;
                // kept in offset order
                let at = waiting.partition_point(|w| w.offset() <= offset);
                waiting.insert(
                    at,
                    Waiting::Produce {
                        client: from,
                        id,
                        offset,
                    },
                );
                return;
            }
            SeqCheck::Duplicate(offset) => return reply(ctx, Ok(offset)),
            SeqCheck::OutOfOrder => return reply(ctx, Err(ErrorCode::OutOfOrderSequenceNumber)),
            SeqCheck::Append => {}
        }
        let epoch = p.leader_epoch;
        let offset = self.append(
            ctx,
            tp,
            Entry {
                record: LogRecord { id, payload },
                epoch,
                pseq,
                pepoch,
                internal: None,
            },
        );
        match acks {
            Acks::None => {}
            Acks::Leader => reply(ctx, Ok(offset)),
            Acks::All => self.part_mut(tp).expect("leader").waiting.push(Waiting::Produce {
                client: from,
                id,
                offset,
            }),
        }
        self.advance_high_watermark(ctx, tp);
    }

    // ------------------------------------------------------------------ groups

    fn group(&mut self, name: &Arc<str>) -> &mut Group {
        let cfg = self.cfg.group;
        self.groups
            .entry(name.clone())
            .or_insert_with(|| Group::new(name.clone(), cfg))
    }

    /// Runs one input through `group`'s state machine, then carries out what it asked for and
    /// writes the group's metadata when a rebalance completed or it emptied.
    fn drive_group(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        group: &Arc<str>,
        input: impl FnOnce(&mut Group, &mut Ctx<'_, Msg, Event>, &mut Vec<Output>),
    ) {
        let mut out = std::mem::take(&mut self.out);
        input(self.group(group), ctx, &mut out);
        self.out = out;
        self.flush(ctx, group);
        let g = &self.groups[group];
        if let Some(key) = g.persist_key() {
            if self.persisted.get(group) != Some(&key) {
                self.persisted.insert(group.clone(), key);
                let snapshot = Box::new(g.metadata());
                let tp = self.cluster.offsets_tp(group);
                self.append_internal(ctx, tp, Internal::Group(snapshot));
                self.advance_high_watermark(ctx, tp);
            }
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, Msg, Event>, group: &Arc<str>) {
        // the buffer is kept for the next input: answering a heartbeat allocates nothing
        let mut out = std::mem::take(&mut self.out);
        for o in out.drain(..) {
            match o {
                Output::Reply(to, msg) => {
                    ctx.send(to, msg);
                }
                Output::Timer(at, timer) => {
                    let delay = at.saturating_sub(ctx.now());
                    ctx.timer(
                        delay,
                        Msg::GroupTimer {
                            group: group.clone(),
                            timer,
                        },
                    );
                }
                Output::Event(e) => ctx.record(e),
            }
        }
        self.out = out;
    }

    // ------------------------------------------------------------------ consumer fetches

    fn collect(&self, positions: &[(Tp, i64)], max_records: usize) -> Collected {
        let mut left = max_records;
        let mut out = FetchedRecords::new();
        let mut errors = Vec::new();
        for &(tp, pos) in positions {
            let Some(p) = self.part(tp).filter(|p| p.role == Role::Leader) else {
                errors.push((tp, ErrorCode::NotLeaderOrFollower));
                continue;
            };
            if pos > p.log.end_offset() || pos < p.log.start_offset() {
                errors.push((tp, ErrorCode::OffsetOutOfRange));
                continue;
            }
            if left == 0 || pos >= p.hw {
                continue;
            }
            let before = out.len();
            out.extend(p.log.read(pos, p.hw, left).map(|(o, r)| (tp, o, r.clone())));
            left -= out.len() - before;
        }
        (out, errors)
    }

    /// Makes sure the purgatory timer fires by `deadline`.
    fn arm_purgatory(&mut self, ctx: &mut Ctx<'_, Msg, Event>, deadline: Time) {
        if self.purgatory.is_none_or(|(at, _)| deadline < at) {
            let token = self.next_token;
            self.next_token += 1;
            self.purgatory = Some((deadline, token));
            ctx.timer(deadline - ctx.now(), Msg::FetchExpired { token });
        }
    }

    /// Answers every parked fetch whose wait ran out (consumers: empty; followers: what
    /// there is), in the order they were parked, and arms the timer for the next deadline.
    fn expire_parked(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let now = ctx.now();
        // the earliest-parked due fetch first, one at a time (a handful are parked at most)
        loop {
            let client = self
                .parked
                .iter()
                .find(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id);
            let replica = self
                .parked_replica
                .iter()
                .find(|(_, p)| p.deadline <= now)
                .map(|(id, _)| *id);
            match (client, replica) {
                (Some(c), r) if r.is_none_or(|r| c < r) => {
                    let p = self.unpark(c);
                    ctx.send(
                        p.client,
                        Msg::FetchResp {
                            fetch_id: p.fetch_id,
                            records: FetchedRecords::new(),
                            errors: Vec::new(),
                        },
                    );
                }
                (_, Some(r)) => {
                    let p = self.parked_replica.remove(&r).expect("parked");
                    let parts = self.serve_replica_fetch(ctx, p.follower, &p.parts, false);
                    ctx.send(
                        p.follower,
                        Msg::ReplicaFetchResp {
                            fetch_id: p.fetch_id,
                            parts,
                        },
                    );
                }
                _ => break,
            }
        }
        let next = self
            .parked
            .values()
            .map(|p| p.deadline)
            .chain(self.parked_replica.values().map(|p| p.deadline))
            .min();
        if let Some(deadline) = next {
            self.arm_purgatory(ctx, deadline);
        }
    }

    fn wake_parked(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        let Some(hw) = self.part(tp).map(|p| p.hw) else {
            return;
        };
        let Some(ids) = self
            .parked_by_tp
            .get(tp.topic as usize)
            .and_then(|t| t.get(tp.partition as usize))
        else {
            return;
        };
        let mut ready = std::mem::take(&mut self.scratch);
        ready.extend(ids.iter().copied().filter(|id| {
            let p = self.parked.get(id).expect("parked");
            p.positions.iter().any(|&(t, pos)| t == tp && pos < hw)
        }));
        for &id in &ready {
            let p = self.unpark(id);
            let (records, errors) = self.collect(&p.positions, p.max_records);
            ctx.send(
                p.client,
                Msg::FetchResp {
                    fetch_id: p.fetch_id,
                    records,
                    errors,
                },
            );
        }
        ready.clear();
        self.scratch = ready;
    }

    fn park(&mut self, id: u64, fetch: Parked) {
        for &(tp, _) in fetch.positions.iter() {
            let (t, p) = (tp.topic as usize, tp.partition as usize);
            if self.parked_by_tp.len() <= t {
                self.parked_by_tp.resize_with(t + 1, Vec::new);
            }
            let topic = &mut self.parked_by_tp[t];
            if topic.len() <= p {
                topic.resize_with(p + 1, Vec::new);
            }
            topic[p].push(id);
        }
        self.parked.insert(id, fetch);
    }

    fn unpark(&mut self, id: u64) -> Parked {
        let p = self.parked.remove(&id).expect("parked");
        for &(tp, _) in p.positions.iter() {
            let ids = &mut self.parked_by_tp[tp.topic as usize][tp.partition as usize];
            if let Some(at) = ids.iter().position(|&i| i == id) {
                ids.remove(at);
            }
        }
        p
    }

    // ------------------------------------------------------------------ replication: leader side

    fn serve_replica_fetch(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        follower: ActorId,
        parts: &[(Tp, i64, i32)],
        record_progress: bool,
    ) -> Vec<(Tp, ReplicaData)> {
        let Some(node) = self.cluster.node_of(follower) else {
            return Vec::new();
        };
        let now = ctx.now();
        let mut answer = Vec::new();
        let mut touched = Vec::new();
        for &(tp, offset, last_epoch) in parts {
            let Some(p) = self.part_mut(tp).filter(|p| p.role == Role::Leader) else {
                answer.push((tp, ReplicaData::NotLeader));
                continue;
            };
            if last_epoch >= 0 {
                let (epoch, end) = p.log.end_offset_for_epoch(last_epoch);
                if epoch != last_epoch || end < offset {
                    answer.push((
                        tp,
                        ReplicaData::Diverging {
                            epoch,
                            end_offset: end,
                        },
                    ));
                    continue;
                }
            }
            let leo = p.log.end_offset();
            if record_progress {
                if let Some(f) = p.followers.get_mut(&node) {
                    if offset >= leo {
                        f.last_caught_up = now;
                    } else if offset >= f.leo_at_last_fetch && f.leo_at_last_fetch >= 0 {
                        f.last_caught_up = f.last_caught_up.max(f.last_fetch);
                    }
                    f.leo = offset.min(leo);
                    f.last_fetch = now;
                    f.leo_at_last_fetch = leo;
                }
                touched.push(tp);
            }
            let entries = p.log.entries(offset, REPLICA_BATCH).to_vec();
            let hw = p.hw;
            let log_start = p.log.start_offset();
            if !entries.is_empty() || !record_progress || offset < log_start {
                answer.push((
                    tp,
                    ReplicaData::Entries {
                        entries,
                        hw,
                        log_start,
                    },
                ));
            }
        }
        for tp in touched {
            self.advance_high_watermark(ctx, tp);
            self.maybe_expand_isr(ctx, tp, node);
        }
        answer
    }

    fn maybe_expand_isr(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp, node: NodeId) {
        let Some(controller) = self.cfg.controller else {
            return;
        };
        let Some(p) = self.part_mut(tp) else { return };
        if p.role != Role::Leader || p.alter_pending || p.isr.contains(&node) {
            return;
        }
        let Some(f) = p.followers.get(&node) else { return };
        if f.leo < p.hw || f.leo < 0 {
            return;
        }
        let mut isr = p.isr.to_vec();
        isr.push(node);
        isr.sort_unstable();
        p.alter_pending = true;
        let req = Msg::AlterPartitionReq {
            tp,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr,
        };
        ctx.send(controller, req);
    }

    fn isr_check(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let Some(controller) = self.cfg.controller else {
            return;
        };
        let now = ctx.now();
        let me = self.cfg.node;
        let lag = self.cfg.replica_lag_max;
        let mut requests = Vec::new();
        for (t, ps) in self.parts.iter_mut().enumerate() {
            for (i, p) in ps.iter_mut().enumerate() {
                let Some(p) = p else { continue };
                if p.role != Role::Leader || p.alter_pending {
                    continue;
                }
                let leo = p.log.end_offset();
                let keep: Vec<NodeId> = p
                    .isr
                    .iter()
                    .copied()
                    .filter(|r| {
                        *r == me
                            || p.followers
                                .get(r)
                                .is_some_and(|f| f.leo >= leo || now.saturating_sub(f.last_caught_up) <= lag)
                    })
                    .collect();
                if keep.len() < p.isr.len() {
                    p.alter_pending = true;
                    requests.push(Msg::AlterPartitionReq {
                        tp: Tp::new(t as u32, i as u32),
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                        isr: keep,
                    });
                }
            }
        }
        for r in requests {
            ctx.send(controller, r);
        }
        self.arm_isr_check(ctx);
    }

    fn wake_parked_replicas(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        if self.parked_replica.is_empty() {
            return;
        }
        let ids: Vec<u64> = self.parked_replica.keys().copied().collect();
        for id in ids {
            let p = self.parked_replica.remove(&id).expect("parked");
            let parts = self.serve_replica_fetch(ctx, p.follower, &p.parts, false);
            if parts.iter().any(|(_, d)| match d {
                ReplicaData::Entries { entries, .. } => !entries.is_empty(),
                _ => true,
            }) {
                ctx.send(
                    p.follower,
                    Msg::ReplicaFetchResp {
                        fetch_id: p.fetch_id,
                        parts,
                    },
                );
            } else {
                self.parked_replica.insert(id, p);
            }
        }
    }

    // ------------------------------------------------------------------ replication: follower side

    fn start_fetchers(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let mut leaders: Vec<NodeId> = self
            .parts
            .iter()
            .flatten()
            .flatten()
            .filter_map(|p| match p.role {
                Role::Follower(l) => Some(l),
                _ => None,
            })
            .collect();
        leaders.sort_unstable();
        leaders.dedup();
        self.fetchers.retain(|l, _| leaders.contains(l));
        for l in leaders {
            if !self.fetchers.contains_key(&l) {
                self.send_replica_fetch(ctx, l);
            }
        }
    }

    fn send_replica_fetch(&mut self, ctx: &mut Ctx<'_, Msg, Event>, leader: NodeId) {
        if ctx.now() < self.stalled_until {
            if !self.resume_armed {
                self.resume_armed = true;
                let wait = self.stalled_until.saturating_sub(ctx.now());
                ctx.timer(wait, Msg::ServerTimer(ServerTimer::FetchersResume));
            }
            return;
        }
        let mut parts = Vec::new();
        for (t, ps) in self.parts.iter().enumerate() {
            for (i, p) in ps.iter().enumerate() {
                if let Some(p) = p {
                    if p.role == Role::Follower(leader) {
                        parts.push((
                            Tp::new(t as u32, i as u32),
                            p.log.end_offset(),
                            p.log.last_epoch(),
                        ));
                    }
                }
            }
        }
        if parts.is_empty() {
            self.fetchers.remove(&leader);
            return;
        }
        self.next_fetch += 1;
        let fetch_id = self.next_fetch;
        self.fetchers.insert(leader, fetch_id);
        ctx.send(
            self.cluster.actor(leader),
            Msg::ReplicaFetchReq { fetch_id, parts },
        );
        ctx.timer(
            self.cfg.replica_socket_timeout,
            Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(fetch_id)),
        );
    }

    fn on_replica_data(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        from: ActorId,
        fetch_id: u64,
        parts: Vec<(Tp, ReplicaData)>,
    ) {
        let Some(leader) = self.cluster.node_of(from) else {
            return;
        };
        if self.fetchers.get(&leader) != Some(&fetch_id) {
            return;
        }
        self.fetchers.remove(&leader);
        if ctx.now() < self.stalled_until {
            // a slow follower: what arrives while it stalls is not applied
            return self.send_replica_fetch(ctx, leader);
        }
        for (tp, data) in parts {
            let user = self.is_user(tp);
            let Some(p) = self.part_mut(tp) else { continue };
            if p.role != Role::Follower(leader) {
                continue;
            }
            match data {
                ReplicaData::Entries {
                    entries,
                    hw,
                    log_start,
                } => {
                    if p.log.end_offset() < log_start {
                        // behind the leader's log start: start over there
                        p.log.reset_to(log_start);
                    } else {
                        p.log.advance_start(log_start);
                    }
                    let now = ctx.now();
                    for e in entries {
                        p.log.append(e, now);
                    }
                    p.hw = hw.min(p.log.end_offset()).max(p.hw.min(p.log.end_offset()));
                }
                ReplicaData::Diverging { epoch, end_offset } => {
                    let (mine, my_end) = p.log.end_offset_for_epoch(epoch);
                    let to = if mine == epoch {
                        end_offset.min(my_end)
                    } else {
                        end_offset
                    };
                    let to = to.min(p.log.end_offset());
                    let removed: Vec<RecordId> = p
                        .log
                        .entries(to, usize::MAX)
                        .iter()
                        .map(|e| e.record.id)
                        .collect();
                    p.log.truncate(to);
                    p.hw = p.hw.min(to);
                    if user && !removed.is_empty() {
                        ctx.record(Event::Truncated {
                            tp,
                            offset: to,
                            removed,
                        });
                    }
                }
                ReplicaData::NotLeader => {}
            }
        }
        self.send_replica_fetch(ctx, leader);
    }

    // ------------------------------------------------------------------ retention

    /// Schedules the retention check once a partition with `retention.ms` has data (so a run
    /// without retention has no such timer at all).
    fn arm_retention(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        if !self.retention_armed
            && self
                .cfg
                .retention
                .get(tp.topic as usize)
                .copied()
                .flatten()
                .is_some()
        {
            self.retention_armed = true;
            ctx.timer(
                self.cfg.retention_check,
                Msg::ServerTimer(ServerTimer::RetentionCheck(self.incarnation)),
            );
        }
    }

    /// Deletes what `retention.ms` lets go, on every replica of such a topic (each replica
    /// keeps its own segments, as in Kafka; followers also follow their leader's log start).
    fn apply_retention(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let now = ctx.now();
        let mut any = false;
        for (t, ps) in self.parts.iter_mut().enumerate() {
            let Some(Some(keep)) = self.cfg.retention.get(t) else {
                continue;
            };
            for p in ps.iter_mut().flatten() {
                any = true;
                p.log.retain_after(now.saturating_sub(*keep));
                p.hw = p.hw.max(p.log.start_offset());
            }
        }
        if any {
            self.retention_armed = true;
            ctx.timer(
                self.cfg.retention_check,
                Msg::ServerTimer(ServerTimer::RetentionCheck(self.incarnation)),
            );
        }
    }

    // ------------------------------------------------------------------ faults

    /// The process dies. Its host stays up: the kernel closes its connections, so every
    /// client and follower connected to it learns at once (and later requests are refused,
    /// see [`Msg::is_request`]); what it had sent is still delivered.
    fn crash(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        ctx.record(Event::Crashed);
        self.crashed = true;
        self.incarnation += 1;
        let peers: Vec<ActorId> = self
            .peers
            .iter()
            .enumerate()
            .filter(|(_, p)| **p)
            .map(|(i, _)| ActorId(i as u32))
            .collect();
        self.peers.clear();
        for p in peers {
            ctx.send(p, Msg::Disconnected);
        }
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        self.crashed = false;
        ctx.record(Event::Restarted);
        // what was in memory is gone; the logs (and their high watermarks) are on disk
        self.groups.clear();
        self.persisted.clear();
        self.consumer_groups.clear();
        self.offsets.clear();
        self.parked.clear();
        self.parked_by_tp.clear();
        self.parked_replica.clear();
        self.purgatory = None;
        self.fetchers.clear();
        self.resume_armed = false;
        self.retention_armed = false;
        self.stalled_until = Time::ZERO;
        self.needs_image = true;
        for p in self.parts.iter_mut().flatten().flatten() {
            p.role = Role::None;
            p.leader_epoch = -1;
            p.followers.clear();
            p.waiting.clear();
            p.alter_pending = false;
        }
        self.heartbeat(ctx, u64::MAX);
        self.arm_isr_check(ctx);
    }

    fn heartbeat(&mut self, ctx: &mut Ctx<'_, Msg, Event>, version: u64) {
        if let Some(c) = self.cfg.controller {
            ctx.send(c, Msg::BrokerHeartbeat { version });
            ctx.timer(
                self.cfg.heartbeat_interval,
                Msg::ServerTimer(ServerTimer::Heartbeat(self.incarnation)),
            );
        }
    }

    fn arm_isr_check(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        if self.cfg.controller.is_some() {
            ctx.timer(
                Time::us(self.cfg.replica_lag_max.as_us() / 2),
                Msg::ServerTimer(ServerTimer::IsrCheck(self.incarnation)),
            );
        }
    }
}

fn uuid_from(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl Actor<Msg, Event> for Broker {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        if self.crashed {
            match msg {
                Msg::Restart => self.restart(ctx),
                // the host is up, the process is not: the kernel resets the connection
                // (acks=0 produces would not hear it either, but they go unanswered anyway)
                m if m.is_request()
                    && from != ctx.me()
                    && !matches!(m, Msg::ProduceReq { acks: Acks::None, .. }) =>
                {
                    ctx.send(from, Msg::Disconnected);
                }
                _ => {}
            }
            return;
        }
        let now = ctx.now();
        if from != ctx.me() && msg.is_request() {
            let i = from.index();
            if self.peers.len() <= i {
                self.peers.resize(i + 1, false);
            }
            self.peers[i] = true;
        }
        match msg {
            Msg::Start => {
                // the cluster formed: say who leads what from the start
                let led: Vec<Tp> = self
                    .cluster
                    .all()
                    .filter(|(tp, st)| self.is_user(*tp) && st.leader == Some(self.cfg.node))
                    .map(|(tp, _)| tp)
                    .collect();
                for tp in led {
                    ctx.record(Event::LeaderElected {
                        tp,
                        epoch: 0,
                        log_end: 0,
                        unclean: false,
                    });
                }
                self.start_fetchers(ctx);
                self.heartbeat(ctx, 0);
                self.arm_isr_check(ctx);
            }
            Msg::Crash => self.crash(ctx),
            Msg::Restart => {}
            Msg::Partitioned(until) => ctx.record(Event::Partitioned { until }),
            Msg::Stall(d) => {
                self.stalled_until = self.stalled_until.max(now + d);
                ctx.record(Event::Stalled {
                    until: self.stalled_until,
                });
            }
            Msg::ServerTimer(ServerTimer::Heartbeat(i)) if i == self.incarnation => {
                // u64::MAX: "I have no image" (just restarted)
                let v = if self.needs_image {
                    u64::MAX
                } else {
                    self.cluster.version
                };
                self.heartbeat(ctx, v);
            }
            Msg::ServerTimer(ServerTimer::IsrCheck(i)) if i == self.incarnation => self.isr_check(ctx),
            Msg::ServerTimer(ServerTimer::Heartbeat(_) | ServerTimer::IsrCheck(_)) => {}
            Msg::ServerTimer(ServerTimer::FetchersResume) => {
                self.resume_armed = false;
                self.start_fetchers(ctx);
            }
            Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(id)) => {
                if let Some((&leader, _)) = self.fetchers.iter().find(|(_, f)| **f == id) {
                    self.fetchers.remove(&leader);
                    self.send_replica_fetch(ctx, leader);
                }
            }
            Msg::ServerTimer(ServerTimer::RetentionCheck(i)) if i == self.incarnation => {
                self.retention_armed = false;
                self.apply_retention(ctx);
            }
            Msg::ServerTimer(ServerTimer::RetentionCheck(_)) => {}
            Msg::ClusterUpdate(state) => {
                if state.version > self.cluster.version || self.needs_image {
                    self.apply_cluster(ctx, state);
                }
            }
            Msg::ReplicaFetchReq { fetch_id, parts } => {
                let answer = self.serve_replica_fetch(ctx, from, &parts, true);
                let has_data = answer.iter().any(|(_, d)| match d {
                    ReplicaData::Entries { entries, .. } => !entries.is_empty(),
                    _ => true,
                });
                if has_data || self.cfg.replica_fetch_wait == Time::ZERO {
                    ctx.send(
                        from,
                        Msg::ReplicaFetchResp {
                            fetch_id,
                            parts: answer,
                        },
                    );
                } else {
                    let parked = self.next_parked;
                    self.next_parked += 1;
                    let deadline = ctx.now() + self.cfg.replica_fetch_wait;
                    self.parked_replica.insert(
                        parked,
                        ParkedReplica {
                            deadline,
                            follower: from,
                            fetch_id,
                            parts,
                        },
                    );
                    self.arm_purgatory(ctx, deadline);
                }
            }
            Msg::ReplicaFetchResp { fetch_id, parts } => self.on_replica_data(ctx, from, fetch_id, parts),
            Msg::Disconnected => {
                // a leader's process is gone: try again after replica.fetch.backoff.ms (1 s)
                if let Some(leader) = self.cluster.node_of(from) {
                    if self.fetchers.contains_key(&leader) {
                        self.next_fetch += 1;
                        let id = self.next_fetch;
                        self.fetchers.insert(leader, id);
                        ctx.timer(
                            Time::ms(1000),
                            Msg::ServerTimer(ServerTimer::ReplicaFetchTimeout(id)),
                        );
                    }
                }
            }
            Msg::MetadataReq => {
                ctx.send(from, Msg::MetadataResp(self.meta.clone(), self.cluster.clone()));
            }
            Msg::FindCoordinatorReq { group } => {
                ctx.send(from, Msg::FindCoordinatorResp(self.cluster.coordinator(&group)));
            }
            Msg::JoinGroupReq(req) if !self.coordinates(&req.group) => {
                ctx.send(
                    from,
                    Msg::JoinGroupResp {
                        corr: req.corr,
                        result: Err((ErrorCode::NotCoordinator, None)),
                    },
                );
            }
            Msg::JoinGroupReq(req) => {
                let group = req.group.clone();
                self.drive_group(ctx, &group, |g, ctx, out| {
                    g.join(now, from, &req, || uuid_from(ctx.rng()), out)
                });
            }
            Msg::SyncGroupReq { corr, group, .. } if !self.coordinates(&group) => {
                ctx.send(
                    from,
                    Msg::SyncGroupResp {
                        corr,
                        result: Err(ErrorCode::NotCoordinator),
                    },
                );
            }
            Msg::SyncGroupReq {
                corr,
                group,
                member_id,
                generation,
                assignment,
            } => self.drive_group(ctx, &group, |g, _, out| {
                g.sync(now, from, corr, &member_id, generation, &assignment, out)
            }),
            Msg::HeartbeatReq { group, .. } if !self.coordinates(&group) => {
                ctx.send(from, Msg::HeartbeatResp(Err(ErrorCode::NotCoordinator)));
            }
            Msg::HeartbeatReq {
                group,
                member_id,
                generation,
            } => self.drive_group(ctx, &group, |g, _, out| {
                g.heartbeat(now, from, &member_id, generation, out)
            }),
            Msg::LeaveGroupReq { group, .. } if !self.coordinates(&group) => {
                ctx.send(from, Msg::LeaveGroupResp);
            }
            Msg::LeaveGroupReq { group, member_id } => {
                self.drive_group(ctx, &group, |g, _, out| g.leave(now, from, &member_id, out))
            }
            Msg::GroupTimer { group, .. } if !self.coordinates(&group) => {}
            Msg::GroupTimer { group, timer } if self.consumer_groups.contains_key(&group) => {
                let mut out = std::mem::take(&mut self.out);
                if let Some(g) = self.consumer_groups.get_mut(&group) {
                    g.on_timer(now, &timer, &mut out);
                }
                self.out = out;
                self.flush(ctx, &group);
            }
            Msg::GroupTimer { group, timer } => {
                if self.groups.contains_key(&group) {
                    self.drive_group(ctx, &group, |g, _, out| g.on_timer(now, &timer, out))
                }
            }
            Msg::ConsumerHeartbeatReq(req) if !self.coordinates(&req.group) => {
                ctx.send(
                    from,
                    Msg::ConsumerHeartbeatResp {
                        corr: req.corr,
                        result: Err(ErrorCode::NotCoordinator),
                    },
                );
            }
            Msg::ConsumerHeartbeatReq(req) => {
                let group = req.group.clone();
                let partitions: Vec<u32> = self.meta.topics.iter().map(|t| t.partitions).collect();
                let mut out = std::mem::take(&mut self.out);
                let g = self.consumer_groups.entry(group.clone()).or_insert_with(|| {
                    ConsumerGroup::new(group.clone(), consumer_group::Config::default(), partitions)
                });
                g.heartbeat(now, from, &req, || uuid_from(ctx.rng()), &mut out);
                self.out = out;
                self.flush(ctx, &group);
            }
            Msg::OffsetCommitReq {
                corr, group, offsets, ..
            } if !self.coordinates(&group) => {
                ctx.send(
                    from,
                    Msg::OffsetCommitResp {
                        corr,
                        offsets,
                        result: Err(ErrorCode::NotCoordinator),
                    },
                );
            }
            Msg::OffsetCommitReq {
                corr,
                group,
                member_id,
                generation,
                offsets,
            } => {
                let result = match self.consumer_groups.get(&group) {
                    Some(g) => g.validate_commit(member_id.as_ref(), generation),
                    None => self.group(&group).validate_commit(member_id.as_ref(), generation),
                };
                if result.is_err() {
                    ctx.send(
                        from,
                        Msg::OffsetCommitResp {
                            corr,
                            offsets,
                            result,
                        },
                    );
                    return;
                }
                for &(tp, off) in &offsets {
                    self.offsets.insert((group.clone(), tp), off);
                }
                let tp = self.cluster.offsets_tp(&group);
                let offset = self.append_internal(
                    ctx,
                    tp,
                    Internal::Commit {
                        group: group.clone(),
                        offsets: offsets.clone(),
                    },
                );
                self.part_mut(tp)
                    .expect("coordinator")
                    .waiting
                    .push(Waiting::Commit {
                        client: from,
                        corr,
                        offsets,
                        offset,
                    });
                self.advance_high_watermark(ctx, tp);
            }
            Msg::OffsetFetchReq { group, tag, .. } if !self.coordinates(&group) => {
                ctx.send(
                    from,
                    Msg::OffsetFetchResp {
                        tag,
                        offsets: Err(ErrorCode::NotCoordinator),
                    },
                );
            }
            Msg::OffsetFetchReq {
                group,
                partitions,
                tag,
            } => {
                let offsets = partitions
                    .iter()
                    .map(|&tp| (tp, self.offsets.get(&(group.clone(), tp)).copied()))
                    .collect();
                ctx.send(
                    from,
                    Msg::OffsetFetchResp {
                        tag,
                        offsets: Ok(offsets),
                    },
                );
            }
            Msg::ListOffsetsReq {
                partitions,
                spec,
                tag,
            } => {
                let offsets = partitions
                    .iter()
                    .filter_map(|&tp| {
                        let p = self.part(tp).filter(|p| p.role == Role::Leader)?;
                        let o = match spec {
                            OffsetSpec::Earliest => p.log.start_offset(),
                            OffsetSpec::Latest => p.hw,
                        };
                        Some((tp, o))
                    })
                    .collect();
                ctx.send(from, Msg::ListOffsetsResp { tag, offsets });
            }
            msg @ Msg::ProduceReq { .. } => self.produce(ctx, from, msg),
            Msg::FetchReq {
                fetch_id,
                positions,
                max_wait_us,
                max_records,
            } => {
                let (records, errors) = self.collect(&positions, max_records);
                if !records.is_empty() || !errors.is_empty() || max_wait_us == 0 {
                    ctx.send(
                        from,
                        Msg::FetchResp {
                            fetch_id,
                            records,
                            errors,
                        },
                    );
                } else {
                    let parked = self.next_parked;
                    self.next_parked += 1;
                    let deadline = ctx.now() + Time::us(max_wait_us);
                    self.park(
                        parked,
                        Parked {
                            deadline,
                            client: from,
                            fetch_id,
                            positions,
                            max_records,
                        },
                    );
                    self.arm_purgatory(ctx, deadline);
                }
            }
            Msg::FetchExpired { token } => {
                if self.purgatory.is_some_and(|(_, t)| t == token) {
                    self.purgatory = None;
                    self.expire_parked(ctx);
                }
            }
            other => panic!("broker got a message it does not serve: {other:?}"),
        }
    }
}
