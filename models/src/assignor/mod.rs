//! Partition assignors, as pure functions that give Apache Kafka's own answer (4.4.0), tie-breaks
//! included.
//!
//! Classic group protocol: the group leader runs one of these over every member's
//! subscription (KIP-62's `ConsumerPartitionAssignor`):
//! * [`range`](mod@range) — Java `RangeAssignor`: per topic, the subscribed members in sorted
//!   order get `n / m` consecutive partitions each, the first `n % m` one more.
//! * [`roundrobin`](mod@roundrobin) — Java `RoundRobinAssignor`: all partitions sorted by topic
//!   then number, dealt round the sorted members, skipping members not subscribed to the topic.
//! * [`sticky`](mod@sticky) — Java `StickyAssignor` (KIP-54) and `CooperativeStickyAssignor`
//!   (KIP-429), both `AbstractStickyAssignor`: with equal subscriptions its
//!   `ConstrainedAssignmentBuilder`, otherwise its `GeneralAssignmentBuilder`; the cooperative
//!   one withholds every partition that changes owner for a second round.
//! * [`librdkafka`] — librdkafka's sticky variant (a member over quota keeps its *last*
//!   partitions), chosen by [`StickyKeeps::Highest`].
//!
//! KIP-848 (`group.protocol=consumer`), broker side ([`ServerAssignor`]):
//! * [`uniform`] — `UniformAssignor` with its homogeneous and heterogeneous builders;
//! * [`server_range`] — the group coordinator's `RangeAssignor`.
//!
//! Java compares strings by UTF-16 code units and iterates `HashMap`s in an order fixed by
//! the keys' hashes, the table's capacity and the insertion sequence; where its answer depends
//! on either, [`java`] reproduces it. Members sort as Java's `MemberInfo` does: static members
//! (with `group.instance.id`) by instance id first, then dynamic members by member id.
//!
//! Inputs are plain: members (id, optional instance id, subscribed topics, owned partitions and
//! their generation) in the order the caller's Java `HashMap` would have been filled, and
//! topics ([`Topic`]: name, id, partition count) indexed as [`Tp::topic`]. The functions that
//! take only partition counts give topic `i` the name `i` zero-padded (so names sort as
//! indices) and [`Uuid::for_topic_index`] as its id.

pub mod java;
pub mod librdkafka;
pub mod range;
pub mod roundrobin;
pub mod server_range;
pub mod sticky;
pub mod sticky_general;
pub mod uniform;
pub mod uniform_heterogeneous;

use crate::types::{MemberId, Tp};
use java::{cmp_utf16, Uuid};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One member's subscription as the leader (or the KIP-848 coordinator) sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSubscription {
    /// Member id from the coordinator.
    pub member_id: MemberId,
    /// `group.instance.id`, for static members.
    pub instance_id: Option<Arc<str>>,
    /// Subscribed topics (indices into the metadata), in subscription order.
    pub topics: Vec<u32>,
    /// Partitions the member owned (cooperative) or was last assigned (eager sticky).
    pub owned: Vec<Tp>,
    /// The generation `owned` is from (-1: none).
    pub generation: i32,
}

/// A topic as the assignors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    /// Its name (the classic assignors order and hash by it).
    pub name: Arc<str>,
    /// Its topic id (the KIP-848 assignors order and hash by it).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: u32,
}

/// Topics `0..counts.len()` with `counts[i]` partitions, named by their zero-padded index.
pub fn topics_from_counts(counts: &[u32]) -> Vec<Topic> {
    counts
        .iter()
        .enumerate()
        .map(|(i, &partitions)| Topic {
            name: format!("{i:06}").into(),
            id: Uuid::for_topic_index(i as u32),
            partitions,
        })
        .collect()
}

/// Partitions per member. Every member appears, possibly with none; each list is sorted.
pub type Assignment = BTreeMap<MemberId, Vec<Tp>>;

/// Which of its owned partitions a sticky member keeps when it must give some up. The group
/// leader's client library decides: Java's `AbstractStickyAssignor` keeps the first of its
/// owned list sorted by partition, then topic; librdkafka's sticky assignor keeps the last
/// (measured against Apache Kafka 4.4 with librdkafka 2.12: a member owning 0–5 that must keep
/// three keeps 3, 4, 5).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum StickyKeeps {
    /// Java, kafka-python: Kafka's `AbstractStickyAssignor`.
    #[default]
    Lowest,
    /// librdkafka: [`librdkafka`].
    Highest,
}

/// An assignment strategy, by its protocol name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssignorKind {
    /// `range`.
    Range,
    /// `roundrobin`.
    Roundrobin,
    /// `sticky`.
    Sticky,
    /// `cooperative-sticky`.
    CooperativeSticky,
}

impl AssignorKind {
    /// The protocol name members advertise in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            AssignorKind::Range => "range",
            AssignorKind::Roundrobin => "roundrobin",
            AssignorKind::Sticky => "sticky",
            AssignorKind::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether it supports the cooperative rebalance protocol (KIP-429). A consumer
    /// rebalances cooperatively only if every assignor in its list does.
    pub fn is_cooperative(self) -> bool {
        self == AssignorKind::CooperativeSticky
    }

    /// Parses a protocol name or a Java class name
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`).
    pub fn parse(s: &str) -> Option<AssignorKind> {
        match s.trim().rsplit('.').next().unwrap_or(s) {
            "range" | "RangeAssignor" => Some(AssignorKind::Range),
            "roundrobin" | "RoundRobinAssignor" => Some(AssignorKind::Roundrobin),
            "sticky" | "StickyAssignor" => Some(AssignorKind::Sticky),
            "cooperative-sticky" | "CooperativeStickyAssignor" => Some(AssignorKind::CooperativeSticky),
            _ => None,
        }
    }

    /// Runs the assignor as Java does.
    pub fn assign(self, members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
        self.assign_keeping(members, partitions_per_topic, StickyKeeps::Lowest)
    }

    /// Runs the assignor over named topics, as a leader whose library keeps `keeps` does;
    /// with the real topic names, Java's topic order (by name, UTF-16) and hashes apply.
    /// `members` in the JoinGroup response's order (the order the leader fills its
    /// `HashMap` of subscriptions in).
    pub fn assign_topics(
        self,
        members: &[MemberSubscription],
        topics: &[Topic],
        keeps: StickyKeeps,
    ) -> Assignment {
        let counts = || topics.iter().map(|t| t.partitions).collect::<Vec<u32>>();
        match (self, keeps) {
            (AssignorKind::Range, _) => range::assign(members, topics),
            (AssignorKind::Roundrobin, _) => roundrobin::assign(members, topics),
            (AssignorKind::Sticky, StickyKeeps::Lowest) => sticky::assign(members, topics, false),
            (AssignorKind::CooperativeSticky, StickyKeeps::Lowest) => sticky::assign(members, topics, true),
            (AssignorKind::Sticky, StickyKeeps::Highest) => librdkafka::sticky(members, &counts()),
            (AssignorKind::CooperativeSticky, StickyKeeps::Highest) => {
                librdkafka::cooperative_sticky(members, &counts())
            }
        }
    }

    /// Runs the assignor as a leader whose library keeps `keeps` does, over topics given by
    /// partition counts (named by their zero-padded index: [`topics_from_counts`]).
    pub fn assign_keeping(
        self,
        members: &[MemberSubscription],
        partitions_per_topic: &[u32],
        keeps: StickyKeeps,
    ) -> Assignment {
        self.assign_topics(members, &topics_from_counts(partitions_per_topic), keeps)
    }
}

/// Java's `MemberInfo` order: static members by instance id first, then by member id, both
/// as `String.compareTo` (UTF-16).
pub(crate) fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => cmp_utf16(x, y).then_with(|| cmp_utf16(&a.member_id, &b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => cmp_utf16(&a.member_id, &b.member_id),
    }
}

pub(crate) fn sorted(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by(|a, b| member_order(a, b));
    v
}

pub(crate) fn empty_assignment(members: &[MemberSubscription]) -> Assignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// [`range::assign`] over topics given by partition counts.
pub fn range(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    range::assign(members, &topics_from_counts(partitions_per_topic))
}

/// [`roundrobin::assign`] over topics given by partition counts.
pub fn roundrobin(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    roundrobin::assign(members, &topics_from_counts(partitions_per_topic))
}

/// Java's `StickyAssignor` over topics given by partition counts.
pub fn sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    sticky_keeping(members, partitions_per_topic, StickyKeeps::Lowest)
}

/// The sticky assignor of the library that keeps `keeps`.
pub fn sticky_keeping(
    members: &[MemberSubscription],
    partitions_per_topic: &[u32],
    keeps: StickyKeeps,
) -> Assignment {
    match keeps {
        StickyKeeps::Lowest => sticky::assign(members, &topics_from_counts(partitions_per_topic), false),
        StickyKeeps::Highest => librdkafka::sticky(members, partitions_per_topic),
    }
}

/// Java's `CooperativeStickyAssignor` over topics given by partition counts.
pub fn cooperative_sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    cooperative_sticky_keeping(members, partitions_per_topic, StickyKeeps::Lowest)
}

/// The cooperative sticky assignor of the library that keeps `keeps`.
pub fn cooperative_sticky_keeping(
    members: &[MemberSubscription],
    partitions_per_topic: &[u32],
    keeps: StickyKeeps,
) -> Assignment {
    match keeps {
        StickyKeeps::Lowest => sticky::assign(members, &topics_from_counts(partitions_per_topic), true),
        StickyKeeps::Highest => librdkafka::cooperative_sticky(members, partitions_per_topic),
    }
}

/// Broker-side assignors of KIP-848.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ServerAssignor {
    /// `uniform`: balanced, keeping partitions with their current owner where it can.
    Uniform,
    /// `range`: per topic, consecutive ranges to members sorted by id.
    Range,
}

impl ServerAssignor {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ServerAssignor::Uniform => "uniform",
            ServerAssignor::Range => "range",
        }
    }

    /// Parses `uniform` or `range`.
    pub fn parse(s: &str) -> Option<ServerAssignor> {
        match s {
            "uniform" => Some(ServerAssignor::Uniform),
            "range" => Some(ServerAssignor::Range),
            _ => None,
        }
    }
}

impl ServerAssignor {
    /// Runs it as the group coordinator does. `members` in the order the coordinator's
    /// `HashMap` of member ids was filled; `owned` is each member's current target assignment
    /// (disjoint); `generation` is not read.
    pub fn assign(self, members: &[MemberSubscription], topics: &[Topic]) -> Assignment {
        match self {
            ServerAssignor::Uniform => uniform::assign(members, topics),
            ServerAssignor::Range => server_range::assign(members, topics),
        }
    }
}

#[cfg(test)]
mod tests;
