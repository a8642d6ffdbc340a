//! The replica manager: this broker's replicas of every partition, as leader and follower.
//!
//! Kafka's `ReplicaManager` and `Partition`: each replica's log, high watermark, ISR and
//! leader epoch; the roles a new metadata image gives (KRaft's `applyDelta`); appends as
//! leader with `acks` 0/1/all, `min.insync.replicas` (`NOT_ENOUGH_REPLICAS`, and
//! `NOT_ENOUGH_REPLICAS_AFTER_APPEND` for waiting writes whose ISR shrank) and the
//! idempotent producer's sequence check (KIP-98: a duplicate is answered with its first
//! offset); the leader side of replication — follower fetches move the high watermark (the
//! smallest log end of the ISR, never going back), a diverging follower is told the end of
//! its epoch (KIP-101/279/595), and `replica.lag.time.max.ms` shrinks and expands the ISR
//! through AlterPartition (KIP-497).

use super::delayed_produce::{DelayedProduces, Slot};
use super::effects::Effects;
use crate::cluster::{ClusterState, NodeId, PartitionState};
use crate::history::Event;
use crate::log::{Entry, Internal, PartitionLog, SeqCheck};
use crate::protocol::{Acks, ErrorCode, FetchedRecords, Msg, OffsetSpec, ProduceBatch};
use crate::types::{LogRecord, Metadata, Payload, RecordId, Tp};
use sim::{ActorId, Time};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A consumer fetch's answer: records, partitions in error, and (`read_committed`) each
/// partition's fetch position and next offset.
pub type CollectedRead = (FetchedRecords, Vec<(Tp, ErrorCode)>, Vec<(Tp, i64, i64)>);

/// What a consumer fetch collects: records per partition, and partitions it cannot serve.
pub type Collected = (FetchedRecords, Vec<(Tp, ErrorCode)>);

/// This broker's role in one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Neither (no image yet, or the partition is offline).
    None,
    /// It leads.
    Leader,
    /// It follows this leader.
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

/// What a leader knows of one follower.
#[derive(Clone, Debug)]
pub struct FollowerState {
    /// Its log end offset, as its last fetch said (−1: not heard from since we lead).
    pub leo: i64,
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

/// A write waiting for the high watermark (`acks=all`; commits of the coordinator).
#[derive(Clone, Debug)]
pub enum Waiting {
    /// A Produce request.
    Produce {
        /// Where its result goes: its request's answer ([`DelayedProduces`]).
        slot: Slot,
        /// The batch's base offset (the answer).
        base: i64,
        /// Its last record's offset (the high watermark must pass it).
        offset: i64,
    },
    /// An OffsetCommit request.
    Commit {
        /// The consumer.
        client: ActorId,
        /// Its correlation id.
        corr: u64,
        /// What it commits.
        offsets: Vec<(Tp, i64)>,
        /// The commit's offset in the offsets partition.
        offset: i64,
    },
}

impl Waiting {
    fn offset(&self) -> i64 {
        match self {
            Waiting::Produce { offset, .. } | Waiting::Commit { offset, .. } => *offset,
        }
    }

    /// Answers the write: its offset, or why it failed (a commit's `NOT_LEADER_OR_FOLLOWER`
    /// is the client's `NOT_COORDINATOR`).
    pub fn answer(self, r: Result<i64, ErrorCode>, produces: &mut DelayedProduces, fx: &mut Effects) {
        match self {
            Waiting::Produce { slot, base, .. } => {
                produces.complete(slot, r.map(|_| base), fx);
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
                fx.send(
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
}

/// One replica of a partition on this broker.
pub struct Partition {
    /// Its log.
    pub log: PartitionLog,
    /// High watermark: what consumers may read.
    pub hw: i64,
    /// The leader epoch this replica is in.
    pub leader_epoch: i32,
    partition_epoch: i32,
    /// In-sync replicas (no allocation for up to four: the 50 `__consumer_offsets`
    /// partitions of every broker are built for every run).
    isr: SmallVec<[NodeId; 4]>,
    /// This broker's role.
    pub role: Role,
    followers: BTreeMap<NodeId, FollowerState>,
    alter_pending: bool,
    waiting: Vec<Waiting>,
}

impl Partition {
    fn new() -> Partition {
        Partition {
            log: PartitionLog::new(),
            hw: 0,
            leader_epoch: -1,
            partition_epoch: -1,
            isr: SmallVec::new(),
            role: Role::None,
            followers: BTreeMap::new(),
            alter_pending: false,
            waiting: Vec::new(),
        }
    }
}

/// How a new image changed one partition (see [`ReplicaManager::apply_partition`]).
#[derive(Debug)]
pub enum RoleChange {
    /// Same role, same epoch (its ISR may have changed); `leader`: it leads.
    Kept {
        /// It leads.
        leader: bool,
    },
    /// This broker now leads; `internal`: an offsets partition, to load.
    Leads {
        /// An offsets partition.
        internal: bool,
        /// Writes that waited under the previous epoch: failed.
        failed: Vec<Waiting>,
    },
    /// It follows or is offline; `unload`: it led this offsets partition until now.
    Leaves {
        /// It led this offsets partition.
        unload: bool,
        /// Writes that waited: failed.
        failed: Vec<Waiting>,
    },
}

/// What a Produce request gets before any write (see [`ReplicaManager::check_produce`]).
#[derive(Debug, PartialEq, Eq)]
pub enum ProduceCheck {
    /// Answer at once with this.
    Reply(Result<i64, ErrorCode>),
    /// A duplicate of a record not yet replicated: it waits with it.
    Waits,
    /// Append it in this leader epoch.
    Append(i32),
}

/// Every replica of this broker.
pub struct ReplicaManager {
    node: NodeId,
    meta: Arc<Metadata>,
    cluster: Arc<ClusterState>,
    parts: Vec<Vec<Option<Partition>>>,
    min_isr: Vec<u32>,
    controller: Option<ActorId>,
    replica_lag_max: Time,
    /// A reused buffer of the acks=all requests being answered.
    answered: Vec<Waiting>,
    /// The Produce requests not answered yet.
    pub produces: DelayedProduces,
}

fn slot(parts: &mut [Vec<Option<Partition>>], tp: Tp) -> Option<&mut Partition> {
    parts
        .get_mut(tp.topic as usize)
        .and_then(|t| t.get_mut(tp.partition as usize))
        .and_then(Option::as_mut)
}

impl ReplicaManager {
    /// The replicas of broker `node` in a cluster whose initial image is `cluster` (a cluster
    /// that just formed: every log empty, every follower caught up).
    pub fn new(
        node: NodeId,
        meta: Arc<Metadata>,
        cluster: Arc<ClusterState>,
        min_isr: Vec<u32>,
        controller: Option<ActorId>,
        replica_lag_max: Time,
    ) -> ReplicaManager {
        let parts = cluster
            .parts
            .iter()
            .map(|t| {
                t.iter()
                    .map(|p| p.replicas.contains(&node).then(Partition::new))
                    .collect()
            })
            .collect();
        let mut rm = ReplicaManager {
            node,
            meta,
            cluster: cluster.clone(),
            parts,
            min_isr,
            controller,
            replica_lag_max,
            answered: Vec::new(),
            produces: DelayedProduces::default(),
        };
        for (tp, st) in cluster.all() {
            if let Some(p) = rm.part_mut(tp) {
                p.role = Role::of(st.leader, node);
                p.leader_epoch = st.leader_epoch;
                p.partition_epoch = st.partition_epoch;
                p.isr = SmallVec::from_slice(&st.isr);
                if p.role == Role::Leader {
                    p.followers = followers(&st.replicas, node, 0, Time::ZERO);
                }
            }
        }
        rm
    }

    /// The topics.
    pub fn meta(&self) -> &Arc<Metadata> {
        &self.meta
    }

    /// The metadata image this broker acts on.
    pub fn cluster(&self) -> &Arc<ClusterState> {
        &self.cluster
    }

    /// This broker's replica of `tp`, if it has one.
    pub fn part(&self, tp: Tp) -> Option<&Partition> {
        self.parts
            .get(tp.topic as usize)
            .and_then(|t| t.get(tp.partition as usize))
            .and_then(Option::as_ref)
    }

    /// This broker's replica of `tp`, to change it.
    pub fn part_mut(&mut self, tp: Tp) -> Option<&mut Partition> {
        slot(&mut self.parts, tp)
    }

    /// Every replica of topic `topic`, to change them.
    pub fn topic_mut(&mut self, topic: usize) -> impl Iterator<Item = &mut Partition> {
        self.parts.get_mut(topic).into_iter().flatten().flatten()
    }

    /// Whether this broker leads `tp`.
    pub fn leads(&self, tp: Tp) -> bool {
        self.part(tp).is_some_and(|p| p.role == Role::Leader)
    }

    /// Whether this broker coordinates `group` (it leads the group's offsets partition).
    pub fn coordinates(&self, group: &str) -> bool {
        self.leads(self.cluster.offsets_tp(group))
    }

    fn is_user(&self, tp: Tp) -> bool {
        !self.meta.is_internal(tp)
    }

    fn min_isr(&self, tp: Tp) -> usize {
        self.min_isr.get(tp.topic as usize).copied().unwrap_or(1) as usize
    }

    /// The user partitions the current image has this broker lead.
    pub fn led_user_partitions(&self) -> Vec<Tp> {
        self.cluster
            .all()
            .filter(|(tp, st)| self.is_user(*tp) && st.leader == Some(self.node))
            .map(|(tp, _)| tp)
            .collect()
    }

    // ------------------------------------------------------------------ metadata image

    /// Takes image `new`; returns the old one and the partitions this broker has a replica
    /// of, to apply one at a time with [`ReplicaManager::apply_partition`].
    pub fn take_image(&mut self, new: Arc<ClusterState>) -> (Arc<ClusterState>, Vec<(Tp, PartitionState)>) {
        let all = new
            .all()
            .filter(|(tp, _)| self.part(*tp).is_some())
            .map(|(tp, s)| (tp, s.clone()))
            .collect();
        (std::mem::replace(&mut self.cluster, new), all)
    }

    /// Applies one partition's state of a new image (`old`: the previous image).
    pub fn apply_partition(
        &mut self,
        tp: Tp,
        st: &PartitionState,
        old: &ClusterState,
        now: Time,
        fx: &mut Effects,
    ) -> RoleChange {
        let me = self.node;
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
            return RoleChange::Kept {
                leader: p.role == Role::Leader,
            };
        }
        p.leader_epoch = st.leader_epoch;
        p.role = new_role.clone();
        let failed = std::mem::take(&mut p.waiting);
        if new_role != Role::Leader {
            p.followers.clear();
            return RoleChange::Leaves {
                unload: was == Role::Leader && !user,
                failed,
            };
        }
        p.followers = followers(&st.replicas, me, -1, now);
        // a new leader's high watermark is at most its log end
        p.hw = p.hw.min(p.log.end_offset());
        let log_end = p.log.end_offset();
        // offsets partitions: only those that hold something (a coordinator moved)
        if user || log_end > 0 {
            fx.record(Event::LeaderElected {
                tp,
                epoch: st.leader_epoch,
                log_end,
                unclean: !in_old_isr,
            });
        }
        RoleChange::Leads {
            internal: !user,
            failed,
        }
    }

    /// Forgets what a crash loses: roles, epochs, what leaders knew of followers, waiting
    /// writes. The logs and high watermarks stay (they are on disk).
    pub fn reset(&mut self) {
        for p in self.parts.iter_mut().flatten().flatten() {
            p.role = Role::None;
            p.leader_epoch = -1;
            p.followers.clear();
            p.waiting.clear();
            p.alter_pending = false;
        }
        self.produces.clear();
    }

    // ------------------------------------------------------------------ high watermark

    /// Recomputes the high watermark of a partition this broker leads and answers the
    /// waiting writes it unblocks (or fails them all when the ISR is below
    /// `min.insync.replicas`). Returns whether it advanced (parked fetches may now be served).
    pub fn advance_high_watermark(&mut self, tp: Tp, fx: &mut Effects) -> bool {
        let me = self.node;
        let min_isr = self.min_isr(tp);
        let Some(p) = slot(&mut self.parts, tp) else {
            return false;
        };
        if p.role != Role::Leader {
            return false;
        }
        let mut hw = p.log.end_offset();
        for r in &p.isr {
            if *r != me {
                hw = hw.min(p.followers.get(r).map_or(-1, |f| f.leo));
            }
        }
        let advanced = hw > p.hw;
        if advanced {
            p.hw = hw;
            p.log.on_high_watermark(hw);
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
            self.answered.extend(p.waiting.drain(..n));
            for w in self.answered.drain(..) {
                let r = if w.offset() < hw {
                    Ok(w.offset())
                } else {
                    Err(ErrorCode::NotEnoughReplicasAfterAppend)
                };
                w.answer(r, &mut self.produces, fx);
            }
        }
        advanced
    }

    // ------------------------------------------------------------------ appends

    /// What a Produce request's `batch` gets before anything is written:
    /// `NOT_LEADER_OR_FOLLOWER`, `NOT_ENOUGH_REPLICAS` (acks=all, ISR below
    /// `min.insync.replicas`), the idempotent sequence check of the batch (a duplicate: its
    /// base offset, waiting with it if acks=all and it is not replicated yet;
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`), or an append.
    pub fn check_produce(&mut self, slot: Slot, acks: Acks, batch: &ProduceBatch) -> ProduceCheck {
        let tp = batch.tp;
        let min_isr = self.min_isr(tp);
        let Some(p) = self.part_mut(tp).filter(|p| p.role == Role::Leader) else {
            return ProduceCheck::Reply(Err(ErrorCode::NotLeaderOrFollower));
        };
        if acks == Acks::All && p.isr.len() < min_isr {
            return ProduceCheck::Reply(Err(ErrorCode::NotEnoughReplicas));
        }
        let id = batch.first();
        match p
            .log
            .check_sequence(id.producer, batch.pepoch, batch.base_seq, batch.last_seq())
        {
            // a retry of what is written: answered with the base offset, once the whole batch
            // is replicated as far as acks asks
            SeqCheck::Duplicate(base) if acks == Acks::All && base + batch.records.len() as i64 > p.hw => {
                let offset = base + batch.records.len() as i64 - 1;
                // kept in offset order
                let at = p.waiting.partition_point(|w| w.offset() <= offset);
                p.waiting.insert(at, Waiting::Produce { slot, base, offset });
                ProduceCheck::Waits
            }
            SeqCheck::Duplicate(base) => ProduceCheck::Reply(Ok(base)),
            SeqCheck::OutOfOrder => ProduceCheck::Reply(Err(ErrorCode::OutOfOrderSequenceNumber)),
            SeqCheck::Append => ProduceCheck::Append(p.leader_epoch),
        }
    }

    /// Appends to a partition this broker leads; returns the offset.
    pub fn append(&mut self, tp: Tp, entry: Entry, now: Time, fx: &mut Effects) -> i64 {
        // a marker is a control record: the broker writes `MarkerWritten` for it
        let user = self.is_user(tp) && !entry.is_control();
        let p = self.part_mut(tp).expect("leader");
        let id = entry.record.id;
        let offset = p.log.append(entry, now);
        if user {
            fx.record(Event::Appended { id, tp, offset });
        }
        offset
    }

    /// The entry that writes `internal` to offsets partition `tp` in its leader epoch.
    pub fn internal_entry(&self, tp: Tp, internal: Internal) -> Entry {
        let epoch = self.part(tp).map_or(0, |p| p.leader_epoch);
        let seq = self.part(tp).map_or(0, |p| p.log.end_offset()) as u32;
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
            batch_seq: -1,
            pepoch: 0,
            internal: Some(Arc::new(internal)),
            txn: None,
        }
    }

    /// A write that waits for the high watermark to pass its offset.
    pub fn wait(&mut self, tp: Tp, w: Waiting) {
        self.part_mut(tp).expect("leader").waiting.push(w);
    }

    // ------------------------------------------------------------------ reads

    /// The partition a consumer may read `tp` at `pos` of, or its fetch's error for it:
    /// `NOT_LEADER_OR_FOLLOWER` unless this broker leads it, `OFFSET_OUT_OF_RANGE` outside
    /// the log.
    fn readable(&self, tp: Tp, pos: i64) -> Result<&Partition, ErrorCode> {
        let p = self
            .part(tp)
            .filter(|p| p.role == Role::Leader)
            .ok_or(ErrorCode::NotLeaderOrFollower)?;
        if pos > p.log.end_offset() || pos < p.log.start_offset() {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        Ok(p)
    }

    /// What a consumer fetch at `positions` reads now: below the high watermark of the
    /// partitions this broker leads, `max_records` in all.
    pub fn collect(&self, positions: &[(Tp, i64)], max_records: usize) -> Collected {
        let mut left = max_records;
        let mut out = FetchedRecords::new();
        let mut errors = Vec::new();
        for &(tp, pos) in positions {
            let p = match self.readable(tp, pos) {
                Ok(p) => p,
                Err(e) => {
                    errors.push((tp, e));
                    continue;
                }
            };
            if left == 0 || pos >= p.hw {
                continue;
            }
            let before = out.len();
            out.extend(p.log.read(pos, p.hw, left).map(|(o, r)| (tp, o, r.clone())));
            left -= out.len() - before;
        }
        (out, errors)
    }

    /// [`ReplicaManager::collect`] under `read`'s isolation level (markers are never handed
    /// to a consumer: both levels step over them): `read_committed` reads
    /// below each partition's last stable offset, leaves markers and aborted records out
    /// ([`crate::log::PartitionLog::read_committed`]) and says where each partition read
    /// stopped (the consumer's next position, past what was left out).
    pub fn collect_read(
        &self,
        positions: &[(Tp, i64)],
        read: crate::broker::purgatory::Read,
    ) -> CollectedRead {
        let uncommitted = read.isolation == crate::protocol::IsolationLevel::ReadUncommitted;
        let transactional = |tp: Tp| {
            self.part(tp)
                .is_some_and(|p| !p.log.transactions().ranges().is_empty())
        };
        if uncommitted && !positions.iter().any(|&(tp, _)| transactional(tp)) {
            let (records, errors) = self.collect(positions, read.max_records);
            return (records, errors, Vec::new());
        }
        let mut left = read.max_records;
        let (mut out, mut errors, mut next) = (FetchedRecords::new(), Vec::new(), Vec::new());
        for &(tp, pos) in positions {
            let p = match self.readable(tp, pos) {
                Ok(p) => p,
                Err(e) => {
                    errors.push((tp, e));
                    continue;
                }
            };
            if left == 0 {
                continue;
            }
            let (records, after) = if uncommitted {
                p.log.read_uncommitted(pos, p.hw, left)
            } else {
                p.log.read_committed(pos, p.hw, left)
            };
            left -= records.len();
            out.extend(records.into_iter().map(|(o, r)| (tp, o, r.clone())));
            if after > pos {
                next.push((tp, pos, after));
            }
        }
        (out, errors, next)
    }

    /// The last stable offset of `tp` if this broker leads it (KIP-98): the first offset of
    /// its earliest open transaction, never beyond the high watermark.
    pub fn last_stable_offset(&self, tp: Tp) -> Option<i64> {
        let p = self.part(tp).filter(|p| p.role == Role::Leader)?;
        Some(p.log.last_stable_offset(p.hw))
    }

    /// ListOffsets: the log start or the high watermark of each partition this broker leads.
    pub fn list_offsets(&self, partitions: &[Tp], spec: OffsetSpec) -> Vec<(Tp, i64)> {
        partitions
            .iter()
            .filter_map(|&tp| {
                let p = self.part(tp).filter(|p| p.role == Role::Leader)?;
                let o = match spec {
                    OffsetSpec::Earliest => p.log.start_offset(),
                    OffsetSpec::Latest => p.hw,
                };
                Some((tp, o))
            })
            .collect()
    }

    /// Whether `tp` is a user partition (not `__consumer_offsets`).
    pub fn is_user_partition(&self, tp: Tp) -> bool {
        self.is_user(tp)
    }
}

mod replication;
#[cfg(test)]
mod tests;
