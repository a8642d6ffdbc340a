//! The group coordinator host: the groups whose `__consumer_offsets` partition this broker
//! leads, and their committed offsets.
//!
//! Kafka's `GroupCoordinator` / `GroupMetadataManager`: the coordinator of a group is the
//! leader of partition `abs(groupId.hashCode()) % offsets.topic.num.partitions`. It runs the
//! classic protocol's state machine ([`crate::coordinator::Group`]) and KIP-848's
//! ([`crate::kip848::ConsumerGroup`]) for each group, keeps the committed offsets, and writes
//! commits and a classic group's metadata (after a completed rebalance, or when it empties) as
//! entries of the offsets partition. A broker that becomes leader of an offsets partition
//! loads it (replays the commits and the last metadata of each group: same offsets, same
//! generation, no rebalance); one that stops leading it unloads its groups.
//!
//! The host never writes to the log itself: it returns what to write, and the broker appends
//! it through the replica manager.

use super::effects::Effects;
use crate::cluster::ClusterState;
use crate::coordinator::{Group, GroupConfig, Output};
use crate::kip848::{self, ConsumerGroup};
use crate::log::{Internal, PartitionLog};
use crate::protocol::{ErrorCode, Msg};
use crate::types::{MemberId, Tp};
use sim::Time;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The groups this broker coordinates.
pub struct GroupHost {
    cfg: GroupConfig,
    groups: BTreeMap<Arc<str>, Group>,
    /// The metadata last written for each classic group (its persist key).
    persisted: BTreeMap<Arc<str>, (i32, usize)>,
    consumer_groups: BTreeMap<Arc<str>, ConsumerGroup>,
    offsets: BTreeMap<(Arc<str>, Tp), i64>,
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
            out: Vec::new(),
        }
    }

    /// Forgets everything (a crash: it was all in memory).
    pub fn clear(&mut self) {
        self.groups.clear();
        self.persisted.clear();
        self.consumer_groups.clear();
        self.offsets.clear();
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
        input(self.group(group), &mut out);
        self.out = out;
        self.flush(now, group, fx);
        let g = &self.groups[group];
        let key = g.persist_key()?;
        if self.persisted.get(group) == Some(&key) {
            return None;
        }
        self.persisted.insert(group.clone(), key);
        Some(Internal::Group(Box::new(g.clone())))
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
        let g = self
            .consumer_groups
            .entry(group.clone())
            .or_insert_with(|| ConsumerGroup::new(group.clone(), kip848::Config::default(), partitions()));
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
        let mut groups: BTreeMap<Arc<str>, Group> = BTreeMap::new();
        for e in log.all() {
            match e.internal.as_deref() {
                Some(Internal::Commit { group, offsets: o }) => {
                    offsets.extend(o.iter().map(|(t, off)| ((group.clone(), *t), *off)));
                }
                Some(Internal::Group(g)) => {
                    groups.insert(g.name().clone(), (**g).clone());
                }
                None => {}
            }
        }
        self.offsets.extend(offsets);
        for (name, g) in groups {
            let mut out = std::mem::take(&mut self.out);
            let loaded = g.loaded(now, &mut out);
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
    }
}
