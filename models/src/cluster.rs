//! The cluster's shape and its metadata: brokers, replica placement, leaders, ISRs, epochs, and
//! where each group's coordinator lives.
//!
//! * **Placement** follows Kafka's rack-unaware replica assignment
//!   (`AdminUtils.assignReplicasToBrokersRackUnaware`) with its start index and replica shift
//!   fixed at 0, so a scenario author knows which broker holds what: partition `p`'s first
//!   replica is broker `p mod N` (counting from the first), the others follow with the
//!   algorithm's shift. The first replica is the preferred and initial leader; every replica
//!   starts in the ISR at leader epoch 0.
//! * **`__consumer_offsets`** (`offsets.topic.num.partitions`, default 50;
//!   `offsets.topic.replication.factor`, default 3 — here capped at the number of brokers) is
//!   placed the same way; a group's coordinator is the leader of partition
//!   `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions` (Java's `String.hashCode`).
//! * **`__transaction_state`** (`transaction.state.log.num.partitions`, default 50;
//!   `transaction.state.log.replication.factor`, default 3, capped likewise) exists only in
//!   clusters with transactional producers ([`ClusterState::with_transaction_state`]), after
//!   `__consumer_offsets`, placed the same way; a `transactional.id`'s coordinator is the
//!   leader of partition `abs(transactionalId.hashCode()) % partitions`.
//! * [`ClusterState`] is what the controller publishes (KRaft's metadata log, reduced to its
//!   latest image) and what brokers answer Metadata requests with.

use crate::types::Tp;
use sim::ActorId;
use std::sync::Arc;

/// A broker's node id (1-based, as `broker-1`, `broker-2`, …).
pub type NodeId = u32;

/// One partition's replication state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    /// Replica brokers, preferred leader first.
    pub replicas: Arc<[NodeId]>,
    /// The leader, if the partition is online.
    pub leader: Option<NodeId>,
    /// Leader epoch: bumped at each leader change.
    pub leader_epoch: i32,
    /// In-sync replicas.
    pub isr: Vec<NodeId>,
    /// Bumped at every change (leader or ISR); an AlterPartition names the one it saw.
    pub partition_epoch: i32,
}

/// The cluster metadata image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterState {
    /// Bumped at every published change.
    pub version: u64,
    /// Actor of each broker, by node id − 1.
    pub brokers: Vec<ActorId>,
    /// Per topic index (the internal offsets topic last), per partition.
    pub parts: Vec<Vec<PartitionState>>,
    /// Number of user topics (the index of `__consumer_offsets`).
    pub user_topics: u32,
}

impl ClusterState {
    /// The initial image: every partition led by its first replica, full ISR, epoch 0.
    pub fn initial(
        brokers: Vec<ActorId>,
        user_partitions: &[(u32, u32)],
        offsets_partitions: u32,
        offsets_rf: u32,
    ) -> ClusterState {
        let n = brokers.len() as u32;
        let mut parts: Vec<Vec<PartitionState>> = user_partitions
            .iter()
            .map(|&(count, rf)| {
                placement(n, count, rf)
                    .into_iter()
                    .map(PartitionState::new)
                    .collect()
            })
            .collect();
        let user_topics = parts.len() as u32;
        parts.push(
            placement(n, offsets_partitions, offsets_rf.min(n))
                .into_iter()
                .map(PartitionState::new)
                .collect(),
        );
        ClusterState {
            version: 0,
            brokers,
            parts,
            user_topics,
        }
    }

    /// Number of brokers.
    pub fn broker_count(&self) -> u32 {
        self.brokers.len() as u32
    }

    /// The actor of broker `node`.
    pub fn actor(&self, node: NodeId) -> ActorId {
        self.brokers[(node - 1) as usize]
    }

    /// The node id of broker actor `actor`.
    pub fn node_of(&self, actor: ActorId) -> Option<NodeId> {
        self.brokers
            .iter()
            .position(|a| *a == actor)
            .map(|i| i as NodeId + 1)
    }

    /// One partition's state.
    pub fn part(&self, tp: Tp) -> &PartitionState {
        &self.parts[tp.topic as usize][tp.partition as usize]
    }

    /// One partition's state, to change it.
    pub fn part_mut(&mut self, tp: Tp) -> &mut PartitionState {
        &mut self.parts[tp.topic as usize][tp.partition as usize]
    }

    /// The leader's actor for `tp`, if it has one.
    pub fn leader_actor(&self, tp: Tp) -> Option<ActorId> {
        self.parts
            .get(tp.topic as usize)
            .and_then(|t| t.get(tp.partition as usize))
            .and_then(|p| p.leader)
            .map(|n| self.actor(n))
    }

    /// The same image with a `__transaction_state` topic of `partitions` partitions of
    /// `rf` replicas (capped at the number of brokers) after `__consumer_offsets`.
    pub fn with_transaction_state(mut self, partitions: u32, rf: u32) -> ClusterState {
        let n = self.broker_count();
        self.parts.truncate(self.user_topics as usize + 1);
        self.parts.push(
            placement(n, partitions, rf.min(n))
                .into_iter()
                .map(PartitionState::new)
                .collect(),
        );
        self
    }

    /// The `__transaction_state` partition of `transactional_id`, if the cluster has the
    /// topic.
    pub fn txn_tp(&self, transactional_id: &str) -> Option<Tp> {
        let topic = self.user_topics + 1;
        let n = self.parts.get(topic as usize)?.len() as u32;
        Some(Tp::new(topic, coordinator_partition(transactional_id, n)))
    }

    /// The broker coordinating `transactional_id`: the leader of its `__transaction_state`
    /// partition.
    pub fn txn_coordinator(&self, transactional_id: &str) -> Option<ActorId> {
        self.leader_actor(self.txn_tp(transactional_id)?)
    }

    /// Whether `tp` is a `__transaction_state` partition.
    pub fn is_txn_state(&self, tp: Tp) -> bool {
        tp.topic == self.user_topics + 1
    }

    /// The `__consumer_offsets` partition of `group`.
    pub fn offsets_tp(&self, group: &str) -> Tp {
        let n = self.parts[self.user_topics as usize].len() as u32;
        Tp::new(self.user_topics, coordinator_partition(group, n))
    }

    /// The broker coordinating `group`: the leader of its offsets partition.
    pub fn coordinator(&self, group: &str) -> Option<ActorId> {
        self.leader_actor(self.offsets_tp(group))
    }

    /// Every partition, internal ones included.
    pub fn all(&self) -> impl Iterator<Item = (Tp, &PartitionState)> + '_ {
        self.parts.iter().enumerate().flat_map(|(t, ps)| {
            ps.iter()
                .enumerate()
                .map(move |(p, s)| (Tp::new(t as u32, p as u32), s))
        })
    }
}

impl PartitionState {
    fn new(replicas: Vec<NodeId>) -> PartitionState {
        PartitionState {
            leader: replicas.first().copied(),
            leader_epoch: 0,
            isr: replicas.clone(),
            replicas: replicas.into(),
            partition_epoch: 0,
        }
    }
}

/// Kafka's rack-unaware replica assignment with start index and shift 0: `partitions`
/// partitions of `rf` replicas over brokers `1..=n`.
pub fn placement(n: u32, partitions: u32, rf: u32) -> Vec<Vec<NodeId>> {
    assert!(
        n >= 1 && rf >= 1 && rf <= n,
        "replication factor {rf} with {n} brokers"
    );
    let mut shift = 0;
    (0..partitions)
        .map(|p| {
            if p > 0 && p % n == 0 {
                shift += 1;
            }
            let first = p % n;
            let mut replicas = vec![first + 1];
            for j in 0..rf - 1 {
                let s = 1 + (shift + j) % (n - 1).max(1);
                replicas.push((first + s) % n + 1);
            }
            replicas
        })
        .collect()
}

/// Java's `String.hashCode` over the UTF-16 code units of `s`.
pub fn java_string_hash(s: &str) -> i32 {
    let step = |h: i32, c: i32| h.wrapping_mul(31).wrapping_add(c);
    if s.is_ascii() {
        // an ASCII byte is its own UTF-16 code unit
        s.bytes().fold(0, |h, b| step(h, i32::from(b)))
    } else {
        s.encode_utf16().fold(0, |h, c| step(h, i32::from(c)))
    }
}

/// `Utils.abs(groupId.hashCode()) % partitions`: the `__consumer_offsets` partition of a group.
pub fn coordinator_partition(group: &str, partitions: u32) -> u32 {
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs as u32 % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_code_vectors() {
        // values of "…".hashCode() in Java
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // outside ASCII the UTF-16 code units count: "é" is U+00E9, "日本" U+65E5 U+672C,
        // "😀" the surrogate pair D83D DE00
        assert_eq!(java_string_hash("é"), 233);
        assert_eq!(java_string_hash("日本"), 0x65E5 * 31 + 0x672C);
        assert_eq!(java_string_hash("😀"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("demo2_group"), {
            let mut h: i32 = 0;
            for b in "demo2_group".bytes() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(b));
            }
            h
        });
        // overflowing: "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(coordinator_partition("polygenelubricants", 50), 0);
        // non-ASCII goes by UTF-16 code units: "é" is 0xE9
        assert_eq!(java_string_hash("é"), 0xE9);
    }

    #[test]
    fn placement_is_kafkas_rack_unaware_with_fixed_start() {
        assert_eq!(placement(1, 3, 1), vec![vec![1], vec![1], vec![1]]);
        assert_eq!(
            placement(3, 4, 3),
            vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2], vec![1, 3, 2]]
        );
        assert_eq!(placement(3, 2, 2), vec![vec![1, 2], vec![2, 3]]);
        // every replica set has distinct brokers
        for n in 1..6 {
            for rf in 1..=n {
                for r in placement(n, 20, rf) {
                    let mut s = r.clone();
                    s.sort_unstable();
                    s.dedup();
                    assert_eq!(s.len(), rf as usize, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn the_transaction_state_topic_follows_the_offsets_topic() {
        let brokers: Vec<ActorId> = (0..3).map(ActorId).collect();
        let plain = ClusterState::initial(brokers.clone(), &[(2, 3)], 50, 3);
        assert_eq!(plain.txn_tp("t"), None, "no transactional producer, no topic");
        let c = plain.clone().with_transaction_state(50, 3);
        let tp = c.txn_tp("pipeline-1").expect("the topic");
        assert_eq!(tp.topic, 2, "after the user topic and __consumer_offsets");
        assert_eq!(tp.partition, coordinator_partition("pipeline-1", 50));
        assert!(c.is_txn_state(tp) && !c.is_txn_state(c.offsets_tp("g")));
        assert_eq!(c.txn_coordinator("pipeline-1"), c.leader_actor(tp));
        assert_eq!(
            c.offsets_tp("g"),
            plain.offsets_tp("g"),
            "groups stay where they were"
        );
    }

    #[test]
    fn coordinator_is_the_offsets_partition_leader() {
        let brokers = vec![ActorId(0), ActorId(1), ActorId(2)];
        let c = ClusterState::initial(brokers, &[(2, 3)], 50, 3);
        let tp = c.offsets_tp("demo2_group");
        assert_eq!(tp.topic, 1);
        assert_eq!(tp.partition, coordinator_partition("demo2_group", 50));
        let leader = c.part(tp).leader.unwrap();
        assert_eq!(c.coordinator("demo2_group"), Some(ActorId(leader - 1)));
    }
}
