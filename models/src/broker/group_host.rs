//! The group coordinator host: the groups whose `__consumer_offsets` partition this broker
//! leads, and their committed offsets.
//!
//! Kafka's `GroupCoordinator` / `GroupMetadataManager`: the coordinator of a group is the
//! leader of partition `abs(groupId.hashCode()) % offsets.topic.num.partitions`. It runs the
//! classic protocol's state machine ([`crate::coordinator::Group`]) and KIP-848's
//! ([`crate::consumer_group::ConsumerGroup`]) for each group, keeps the committed offsets, and writes
//! commits and a classic group's metadata (after a completed rebalance, or when it empties) as
//! entries of the offsets partition. A broker that becomes leader of an offsets partition
//! loads it (replays the commits and the last metadata of each group: same offsets, same
//! generation, no rebalance); one that stops leading it unloads its groups.
//!
//! Transactional offset commits (KIP-447's TxnOffsetCommit) are validated like OffsetCommit
//! (generation and member id) and kept pending per producer id until the transaction's
//! marker reaches the offsets partition: a commit marker makes them the group's committed
//! offsets, an abort marker drops them. An OffsetFetch with `require_stable` is answered
//! `UNSTABLE_OFFSET_COMMIT` while a partition it asks for has pending offsets.
//!
//! The host never writes to the log itself: it returns what to write, and the broker appends
//! it through the replica manager.

use super::effects::Effects;
use crate::cluster::ClusterState;
use crate::consumer_group::{self, ConsumerGroup};
use crate::coordinator::{Group, GroupConfig, Output};
use crate::group_metadata::GroupMetadata;
use crate::log::{Internal, PartitionLog, TxnBatch};
use crate::protocol::{ErrorCode, Msg};
use crate::types::{MemberId, Tp};
use sim::Time;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Offsets per partition.
type Offsets = Vec<(Tp, i64)>;

/// Transactional offsets not yet committed: (group, producer id) → offsets.
type Pending = BTreeMap<(Arc<str>, i64), Offsets>;

/// The groups this broker coordinates.
pub struct GroupHost {
    cfg: GroupConfig,
    groups: BTreeMap<Arc<str>, Group>,
    /// The metadata last written for each classic group (its persist key).
    persisted: BTreeMap<Arc<str>, (i32, usize)>,
    consumer_groups: BTreeMap<Arc<str>, ConsumerGroup>,
    offsets: BTreeMap<(Arc<str>, Tp), i64>,
    /// Transactional offsets not yet committed: (group, producer id) → offsets.
    pending: Pending,
    /// A reused buffer of the state machines' outputs.
    out: Vec<Output>,
}

impl GroupHost {
    /// No group yet; classic groups get `cfg`.
    pub fn new(cfg: GroupConfig) -> GroupHost {
        GroupHost {
            cfg,
            groups: BTreeMap::new(),
            persisted: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            offsets: BTreeMap::new(),
            pending: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// Forgets everything (a crash: it was all in memory).
    pub fn clear(&mut self) {
        self.groups.clear();
        self.persisted.clear();
        self.consumer_groups.clear();
        self.offsets.clear();
        self.pending.clear();
    }

    /// Whether `group` is a KIP-848 group here.
    pub fn is_consumer_group(&self, group: &str) -> bool {
        self.consumer_groups.contains_key(group)
    }

    /// Whether `group` is a classic group here.
    pub fn is_classic_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// The classic group `name`, created empty if new.
    fn group(&mut self, name: &Arc<str>) -> &mut Group {
        let cfg = self.cfg;
        self.groups
            .entry(name.clone())
            .or_insert_with(|| Group::new(name.clone(), cfg))
    }

    /// Runs one input through classic group `group`'s state machine (created if new) and
    /// carries out what it asked for. Returns the group's metadata to write to its offsets
    /// partition when a rebalance completed or it emptied since the last write.
    pub fn drive(
        &mut self,
        now: Time,
        group: &Arc<str>,
        input: impl FnOnce(&mut Group, &mut Vec<Output>),
        fx: &mut Effects,
    ) -> Option<Internal> {
        let mut out = std::mem::take(&mut self.out);
        let g = self.group(group);
        input(g, &mut out);
        g.probe_chains(now, &mut out);
        self.out = out;
        self.flush(now, group, fx);
        let g = &self.groups[group];
        let key = g.persist_key()?;
        if self.persisted.get(group) == Some(&key) {
            return None;
        }
        self.persisted.insert(group.clone(), key);
        Some(Internal::Group(Box::new(g.metadata())))
    }

    /// Runs one input through KIP-848 group `group`'s state machine (created if new, over
    /// topics of `partitions` partitions each) and carries out what it asked for.
    pub fn drive_consumer_group(
        &mut self,
        now: Time,
        group: &Arc<str>,
        partitions: impl FnOnce() -> Vec<u32>,
        input: impl FnOnce(&mut ConsumerGroup, &mut Vec<Output>),
        fx: &mut Effects,
    ) {
        let mut out = std::mem::take(&mut self.out);
        let g = self.consumer_groups.entry(group.clone()).or_insert_with(|| {
            ConsumerGroup::new(group.clone(), consumer_group::Config::default(), partitions())
        });
        input(g, &mut out);
        self.out = out;
        self.flush(now, group, fx);
    }

    /// Carries out the state machine's outputs for `group`.
    fn flush(&mut self, now: Time, group: &Arc<str>, fx: &mut Effects) {
        // the buffer is kept for the next input: answering a heartbeat allocates nothing
        for o in self.out.drain(..) {
            match o {
                Output::Reply(to, msg) => fx.send(to, msg),
                Output::Timer(at, timer) => {
                    let group = group.clone();
                    fx.timer(at.saturating_sub(now), Msg::GroupTimer { group, timer });
                }
                Output::Event(e) => fx.record(e),
            }
        }
    }

    /// Whether member `member_id` of `generation` (a KIP-848 member epoch) may commit for
    /// `group` (a classic group is created empty if new, as Kafka's simple consumers commit).
    pub fn validate_commit(
        &mut self,
        group: &Arc<str>,
        member_id: Option<&MemberId>,
        generation: i32,
    ) -> Result<(), ErrorCode> {
        match self.consumer_groups.get(group) {
            Some(g) => g.validate_commit(member_id, generation),
            None => self.group(group).validate_commit(member_id, generation),
        }
    }

    /// Stores a commit of `group` (before it is replicated, as Kafka's pending offsets are
    /// served once written) and returns the entry to write to its offsets partition.
    pub fn commit(&mut self, group: &Arc<str>, offsets: &[(Tp, i64)]) -> Internal {
        for &(tp, off) in offsets {
            self.offsets.insert((group.clone(), tp), off);
        }
        Internal::Commit {
            group: group.clone(),
            offsets: offsets.to_vec(),
        }
    }

    /// Stores a TxnOffsetCommit of `group` by transactional producer `producer_id` (pending
    /// until its marker) and returns the entry to write to its offsets partition. The caller
    /// validated the generation and member first ([`GroupHost::validate_commit`]).
    pub fn txn_commit(&mut self, group: &Arc<str>, producer_id: i64, offsets: &[(Tp, i64)]) -> Internal {
        let p = self.pending.entry((group.clone(), producer_id)).or_default();
        for &(tp, off) in offsets {
            p.retain(|(t, _)| *t != tp);
            p.push((tp, off));
        }
        p.sort_unstable();
        Internal::TxnCommit {
            group: group.clone(),
            producer_id,
            offsets: offsets.to_vec(),
        }
    }

    /// The marker of `producer_id`'s transaction reached offsets partition `tp`: its pending
    /// offsets there become committed (`commit`) or are dropped. Returns what was committed,
    /// per group.
    pub fn complete_txn(
        &mut self,
        tp: Tp,
        producer_id: i64,
        commit: bool,
        cluster: &ClusterState,
    ) -> Vec<(Arc<str>, Offsets)> {
        let keys: Vec<(Arc<str>, i64)> = self
            .pending
            .keys()
            .filter(|(g, p)| *p == producer_id && cluster.offsets_tp(g) == tp)
            .cloned()
            .collect();
        let mut done = Vec::new();
        for key in keys {
            let offsets = self.pending.remove(&key).expect("listed");
            if commit {
                for &(t, off) in &offsets {
                    self.offsets.insert((key.0.clone(), t), off);
                }
                done.push((key.0, offsets));
            }
        }
        done
    }

    /// OffsetFetch with `require_stable` (KIP-447): `UNSTABLE_OFFSET_COMMIT` while a
    /// transaction holds pending offsets for one of `partitions`, else the committed ones.
    pub fn committed_stable(
        &self,
        group: &Arc<str>,
        partitions: &[Tp],
    ) -> Result<Vec<(Tp, Option<i64>)>, ErrorCode> {
        let unstable = self
            .pending
            .iter()
            .filter(|((g, _), _)| g == group)
            .any(|(_, offs)| offs.iter().any(|(t, _)| partitions.contains(t)));
        if unstable {
            return Err(ErrorCode::UnstableOffsetCommit);
        }
        Ok(self.committed(group, partitions))
    }

    /// OffsetFetch: the committed offset of each partition (`None`: none).
    pub fn committed(&self, group: &Arc<str>, partitions: &[Tp]) -> Vec<(Tp, Option<i64>)> {
        partitions
            .iter()
            .map(|&tp| (tp, self.offsets.get(&(group.clone(), tp)).copied()))
            .collect()
    }

    /// This broker now leads an offsets partition whose log is `log`: replays its commits
    /// and restores the last metadata of each group in it, in name order.
    pub fn load(&mut self, now: Time, log: &PartitionLog, fx: &mut Effects) {
        let mut offsets = Vec::new();
        let mut groups: BTreeMap<Arc<str>, Box<GroupMetadata>> = BTreeMap::new();
        // this partition's pending transactional offsets, decided by its markers
        let mut pending = Pending::new();
        for e in log.all() {
            if let Some(TxnBatch::Marker {
                producer_id, commit, ..
            }) = e.txn
            {
                let keys: Vec<_> = pending.keys().filter(|k| k.1 == producer_id).cloned().collect();
                for key in keys {
                    let done = pending.remove(&key).expect("listed");
                    if commit {
                        offsets.extend(done.into_iter().map(|(t, off)| ((key.0.clone(), t), off)));
                    }
                }
            }
            match e.internal.as_deref() {
                Some(Internal::TxnCommit {
                    group,
                    producer_id,
                    offsets: o,
                }) => {
                    let p = pending.entry((group.clone(), *producer_id)).or_default();
                    p.retain(|(t, _)| !o.iter().any(|(n, _)| n == t));
                    p.extend(o.iter().copied());
                    p.sort_unstable();
                }
                Some(Internal::Commit { group, offsets: o }) => {
                    offsets.extend(o.iter().map(|(t, off)| ((group.clone(), *t), *off)));
                }
                Some(Internal::Group(g)) => {
                    groups.insert(g.group.clone(), g.clone());
                }
                Some(Internal::Txn(_)) | None => {}
            }
        }
        self.offsets.extend(offsets);
        self.pending.extend(pending);
        for (name, g) in groups {
            let mut out = std::mem::take(&mut self.out);
            let loaded = Group::loaded(&g, self.cfg, now, &mut out);
            self.out = out;
            if let Some(key) = loaded.persist_key() {
                self.persisted.insert(name.clone(), key);
            }
            self.groups.insert(name.clone(), loaded);
            self.flush(now, &name, fx);
        }
    }

    /// This broker no longer leads offsets partition `tp`: forgets its groups and offsets.
    pub fn unload(&mut self, tp: Tp, cluster: &ClusterState) {
        self.groups.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.consumer_groups.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.persisted.retain(|g, _| cluster.offsets_tp(g) != tp);
        self.offsets.retain(|(g, _), _| cluster.offsets_tp(g) != tp);
        self.pending.retain(|(g, _), _| cluster.offsets_tp(g) != tp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignor::AssignorKind;
    use crate::log::Entry;
    use crate::protocol::GroupTimer;
    use crate::protocol::JoinGroup;
    use crate::types::{LogRecord, Payload, RecordId};
    use sim::ActorId;

    const MEMBER: ActorId = ActorId(10);

    fn host() -> GroupHost {
        GroupHost::new(GroupConfig {
            initial_rebalance_delay_us: 0,
        })
    }

    fn join(member_id: Option<MemberId>) -> JoinGroup {
        JoinGroup {
            corr: 0,
            group: "g".into(),
            member_id,
            instance_id: None,
            client_id: "c".into(),
            session_timeout_us: 10_000_000,
            rebalance_timeout_us: 300_000_000,
            protocols: vec![AssignorKind::Range],
            topics: vec![0],
            owned: Vec::new(),
            owned_generation: -1,
        }
    }

    fn group_timers(fx: &Effects) -> Vec<GroupTimer> {
        fx.timers()
            .into_iter()
            .filter_map(|(_, m)| match m {
                Msg::GroupTimer { timer, .. } => Some(timer.clone()),
                _ => None,
            })
            .collect()
    }

    fn internal(seq: u32, i: Internal) -> Entry {
        Entry {
            record: LogRecord {
                id: RecordId {
                    producer: u32::MAX,
                    seq,
                },
                payload: Payload::new(None, None),
            },
            epoch: 0,
            pseq: -1,
            batch_seq: -1,
            pepoch: 0,
            internal: Some(Arc::new(i)),
            txn: None,
        }
    }

    /// One member joins and syncs group `g`: returns its id and what the host wrote.
    fn stable(h: &mut GroupHost, fx: &mut Effects) -> (MemberId, Vec<Internal>) {
        let g: Arc<str> = "g".into();
        let mut written = Vec::new();
        let now = Time::ZERO;
        written.extend(h.drive(
            now,
            &g,
            |g, out| g.join(now, MEMBER, &join(None), || "u1".into(), out),
            fx,
        ));
        let id: MemberId = "c-u1".into();
        written.extend(h.drive(
            now,
            &g,
            |g, out| g.join(now, MEMBER, &join(Some(id.clone())), || unreachable!(), out),
            fx,
        ));
        let t = group_timers(fx).pop().expect("the join deadline");
        written.extend(h.drive(now, &g, |g, out| g.on_timer(now, &t, out), fx));
        let assignment = [(id.clone(), vec![Tp::new(0, 0)])];
        written.extend(h.drive(
            now,
            &g,
            |g, out| g.sync(now, MEMBER, 0, &id, 1, &assignment, out),
            fx,
        ));
        (id, written)
    }

    #[test]
    fn metadata_is_written_when_a_rebalance_completes_and_only_then() {
        let mut h = host();
        let mut fx = Effects::default();
        let (id, written) = stable(&mut h, &mut fx);
        // created empty (written), then stable in generation 1 (written)
        assert_eq!(written.len(), 2);
        assert!(matches!(&written[1], Internal::Group(g) if g.generation == 1));
        let g: Arc<str> = "g".into();
        let again = h.drive(
            Time::ms(1),
            &g,
            |g, out| g.heartbeat(Time::ms(1), MEMBER, &id, 1, out),
            &mut fx,
        );
        assert!(again.is_none(), "a heartbeat changes nothing to persist");
    }

    #[test]
    fn a_new_coordinator_loads_the_groups_and_offsets_of_the_offsets_log() {
        let mut old = host();
        let mut fx = Effects::default();
        let (id, written) = stable(&mut old, &mut fx);
        let g: Arc<str> = "g".into();
        assert_eq!(old.validate_commit(&g, Some(&id), 1), Ok(()));
        let commit = old.commit(&g, &[(Tp::new(0, 0), 42)]);
        let mut log = PartitionLog::new();
        for (i, e) in written.into_iter().chain([commit]).enumerate() {
            log.append(internal(i as u32, e), Time::ZERO);
        }

        let mut new = host();
        let mut fx = Effects::default();
        new.load(Time::ms(100), &log, &mut fx);
        assert_eq!(
            new.committed(&g, &[Tp::new(0, 0), Tp::new(0, 1)]),
            vec![(Tp::new(0, 0), Some(42)), (Tp::new(0, 1), None)]
        );
        assert!(
            matches!(group_timers(&fx)[..], [GroupTimer::Session(_)]),
            "the member's session restarts"
        );
        assert_eq!(
            new.validate_commit(&g, Some(&id), 1),
            Ok(()),
            "same generation, no rebalance"
        );
        assert_eq!(
            new.validate_commit(&g, Some(&id), 0),
            Err(ErrorCode::IllegalGeneration)
        );
        let mut fx = Effects::default();
        let again = new.drive(
            Time::ms(101),
            &g,
            |g, out| g.heartbeat(Time::ms(101), MEMBER, &id, 1, out),
            &mut fx,
        );
        assert!(again.is_none(), "loaded metadata counts as written");
        assert!(matches!(fx.sent()[..], [(MEMBER, Msg::HeartbeatResp(Ok(())))]));
    }

    #[test]
    fn unloading_an_offsets_partition_forgets_its_groups() {
        let (_, cluster) = crate::broker::testkit::cluster(1);
        let mut h = host();
        let mut fx = Effects::default();
        stable(&mut h, &mut fx);
        let g: Arc<str> = "g".into();
        h.commit(&g, &[(Tp::new(0, 0), 7)]);
        h.unload(cluster.offsets_tp("g"), &cluster);
        assert!(!h.is_classic_group("g"));
        assert_eq!(h.committed(&g, &[Tp::new(0, 0)]), vec![(Tp::new(0, 0), None)]);
    }

    #[test]
    fn transactional_offsets_wait_for_the_commit_marker_and_an_abort_drops_them() {
        let (_, cluster) = crate::broker::testkit::cluster(1);
        let mut h = host();
        let g: Arc<str> = "g".into();
        let otp = cluster.offsets_tp("g");
        let (a, b) = (Tp::new(0, 0), Tp::new(0, 1));
        h.commit(&g, &[(a, 3)]);
        let written = h.txn_commit(&g, 7, &[(a, 10)]);
        assert!(matches!(written, Internal::TxnCommit { producer_id: 7, .. }));
        assert_eq!(
            h.committed(&g, &[a]),
            vec![(a, Some(3))],
            "not visible before the marker"
        );
        assert_eq!(
            h.committed_stable(&g, &[a, b]),
            Err(ErrorCode::UnstableOffsetCommit)
        );
        assert_eq!(
            h.committed_stable(&g, &[b]),
            Ok(vec![(b, None)]),
            "another partition is stable"
        );
        assert_eq!(
            h.complete_txn(otp, 7, true, &cluster),
            vec![(g.clone(), vec![(a, 10)])]
        );
        assert_eq!(h.committed_stable(&g, &[a]), Ok(vec![(a, Some(10))]));
        h.txn_commit(&g, 7, &[(a, 20)]);
        assert!(h.complete_txn(otp, 7, false, &cluster).is_empty());
        assert_eq!(
            h.committed_stable(&g, &[a]),
            Ok(vec![(a, Some(10))]),
            "the abort dropped 20"
        );
    }

    #[test]
    fn a_new_coordinator_replays_transactional_offsets_and_their_markers() {
        let mut log = PartitionLog::new();
        let g: Arc<str> = "g".into();
        let a = Tp::new(0, 0);
        let mut old = host();
        let e1 = old.txn_commit(&g, 7, &[(a, 10)]);
        log.append(internal(0, e1), Time::ZERO);
        let mut marker = internal(
            1,
            Internal::Commit {
                group: g.clone(),
                offsets: Vec::new(),
            },
        );
        marker.internal = None;
        marker.txn = Some(TxnBatch::Marker {
            producer_id: 7,
            epoch: 1,
            commit: true,
        });
        log.append(marker, Time::ZERO);
        let e2 = old.txn_commit(&g, 7, &[(a, 15)]);
        log.append(internal(2, e2), Time::ZERO);
        let mut new = host();
        new.load(Time::ms(1), &log, &mut Effects::default());
        assert_eq!(new.committed(&g, &[a]), vec![(a, Some(10))]);
        assert_eq!(
            new.committed_stable(&g, &[a]),
            Err(ErrorCode::UnstableOffsetCommit),
            "15 is pending"
        );
    }
}
