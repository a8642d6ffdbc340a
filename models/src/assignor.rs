//! Client-side partition assignors of the classic group protocol, as pure functions.
//!
//! The group leader runs one of these over every member's subscription (KIP-62's
//! `ConsumerPartitionAssignor`, kafka-python's `AbstractPartitionAssignor`):
//! * [`range`] — Java `RangeAssignor` / kafka-python `RangePartitionAssignor`: per topic, the
//!   subscribed members in sorted order get `n / m` consecutive partitions each, the first
//!   `n % m` one more.
//! * [`roundrobin`] — Java `RoundRobinAssignor`: all partitions sorted by topic then number,
//!   dealt round the sorted members, skipping members not subscribed to the topic.
//! * [`sticky`] — Java `StickyAssignor` (KIP-54): as balanced as the subscriptions allow
//!   (with equal subscriptions, counts differ by at most one), keeping each partition with its
//!   previous owner where balance permits. Previous owners come from the members' JoinGroup
//!   metadata (the eager sticky assignor's user data, the cooperative one's owned
//!   partitions); a partition claimed by two members stays with the claim of the higher
//!   generation.
//! * [`cooperative_sticky`] — Java `CooperativeStickyAssignor` (KIP-429): the sticky result,
//!   minus every partition that would move from one owner to another. Its owner revokes it
//!   and rejoins; the next round hands it to its new owner. So no partition has two owners at
//!   once, and partitions that keep their owner are never revoked.
//!
//! Members sort as Java's `MemberInfo` does: static members (with `group.instance.id`) by
//! instance id first, then dynamic members by member id. Member ids are `client.id-UUID`, so
//! with equal client ids the order — and so who gets which partitions — follows the UUIDs the
//! coordinator drew, which is why a seed changes demo 3's assignment.

use crate::types::{MemberId, Tp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One member's subscription as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSubscription {
    /// Member id from the coordinator.
    pub member_id: MemberId,
    /// `group.instance.id`, for static members.
    pub instance_id: Option<Arc<str>>,
    /// Subscribed topics (indices into the metadata).
    pub topics: Vec<u32>,
    /// Partitions the member owned (cooperative) or was last assigned (eager sticky).
    pub owned: Vec<Tp>,
    /// The generation `owned` is from (-1: none).
    pub generation: i32,
}

/// Partitions per member. Every member appears, possibly with none.
pub type Assignment = BTreeMap<MemberId, Vec<Tp>>;

/// Which of its owned partitions a sticky member keeps when it must give some up. The group
/// leader's client library decides: Java's `AbstractStickyAssignor` keeps the first of its
/// (ascending) owned list — `ownedPartitions.subList(0, quota)` —, librdkafka's sticky
/// assignor keeps the last (measured against Apache Kafka 4.4 with librdkafka 2.12: a member
/// owning 0–5 that must keep three keeps 3, 4, 5).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum StickyKeeps {
    /// Java, kafka-python.
    #[default]
    Lowest,
    /// librdkafka.
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

    /// Runs the assignor as a leader whose library keeps `keeps` does.
    pub fn assign_keeping(
        self,
        members: &[MemberSubscription],
        partitions_per_topic: &[u32],
        keeps: StickyKeeps,
    ) -> Assignment {
        match self {
            AssignorKind::Range => range(members, partitions_per_topic),
            AssignorKind::Roundrobin => roundrobin(members, partitions_per_topic),
            AssignorKind::Sticky => sticky_keeping(members, partitions_per_topic, keeps),
            AssignorKind::CooperativeSticky => {
                cooperative_sticky_keeping(members, partitions_per_topic, keeps)
            }
        }
    }
}

/// Java's `MemberInfo` order: static members by instance id first, then by member id.
fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

fn sorted(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by(|a, b| member_order(a, b));
    v
}

fn empty_assignment(members: &[MemberSubscription]) -> Assignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// The range assignor. `partitions_per_topic[t]` is topic `t`'s partition count.
pub fn range(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    for (topic, &n) in partitions_per_topic.iter().enumerate() {
        let topic = topic as u32;
        let subscribed: Vec<&MemberId> = order
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .map(|m| &m.member_id)
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let m = subscribed.len() as u32;
        let (per, extra) = (n / m, n % m);
        for (i, member) in subscribed.into_iter().enumerate() {
            let i = i as u32;
            let start = per * i + i.min(extra);
            let len = per + u32::from(i < extra);
            let parts = out.get_mut(member).expect("member present");
            parts.extend((start..start + len).map(|p| Tp::new(topic, p)));
        }
    }
    out
}

/// The round-robin assignor.
pub fn roundrobin(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    if order.is_empty() {
        return out;
    }
    let mut next = 0usize;
    for (topic, &n) in partitions_per_topic.iter().enumerate() {
        let topic = topic as u32;
        if !order.iter().any(|m| m.topics.contains(&topic)) {
            continue;
        }
        for p in 0..n {
            while !order[next % order.len()].topics.contains(&topic) {
                next += 1;
            }
            let member = &order[next % order.len()].member_id;
            out.get_mut(member)
                .expect("member present")
                .push(Tp::new(topic, p));
            next += 1;
        }
    }
    out
}

/// Each partition's valid previous owner: subscribed to its topic, the partition exists, and
/// no other member claims it from a later generation (ties: the member that sorts first).
fn previous_owners(order: &[&MemberSubscription], partitions_per_topic: &[u32]) -> BTreeMap<Tp, MemberId> {
    let mut owner: BTreeMap<Tp, (i32, MemberId)> = BTreeMap::new();
    for m in order {
        for tp in &m.owned {
            let exists = partitions_per_topic
                .get(tp.topic as usize)
                .is_some_and(|&n| tp.partition < n);
            if !exists || !m.topics.contains(&tp.topic) {
                continue;
            }
            match owner.get(tp) {
                Some((g, _)) if *g >= m.generation => {}
                _ => {
                    owner.insert(*tp, (m.generation, m.member_id.clone()));
                }
            }
        }
    }
    owner.into_iter().map(|(tp, (_, m))| (tp, m)).collect()
}

/// The sticky assignor, as Java runs it.
pub fn sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    sticky_keeping(members, partitions_per_topic, StickyKeeps::Lowest)
}

/// The sticky assignor, keeping `keeps` of a member's owned partitions.
pub fn sticky_keeping(
    members: &[MemberSubscription],
    partitions_per_topic: &[u32],
    keeps: StickyKeeps,
) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    if order.is_empty() {
        return out;
    }
    let subscribed = |t: u32| order.iter().any(|m| m.topics.contains(&t));
    let all: Vec<Tp> = partitions_per_topic
        .iter()
        .enumerate()
        .filter(|(t, _)| subscribed(*t as u32))
        .flat_map(|(t, &n)| (0..n).map(move |p| Tp::new(t as u32, p)))
        .collect();
    let owners = previous_owners(&order, partitions_per_topic);
    let m = order.len();
    let (min_quota, extra) = (all.len() / m, all.len() % m);
    let max_quota = min_quota + usize::from(extra > 0);
    // 1. Each member keeps what it owned, up to its quota; only `extra` members may keep
    //    `max_quota`. Members that owned more go first, as in Java's constrained assign.
    let mut by_owned: Vec<&&MemberSubscription> = order.iter().collect();
    let owned_count = |id: &MemberId| owners.values().filter(|o| *o == id).count();
    by_owned.sort_by_key(|m| std::cmp::Reverse(owned_count(&m.member_id)));
    let mut max_slots = extra;
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    for member in by_owned {
        let quota = if max_slots > 0 { max_quota } else { min_quota };
        let mine: Vec<Tp> = owners
            .iter()
            .filter(|(_, o)| **o == member.member_id)
            .map(|(tp, _)| *tp)
            .collect();
        let keep: Vec<Tp> = match keeps {
            StickyKeeps::Lowest => mine.iter().take(quota).copied().collect(),
            StickyKeeps::Highest => mine
                .iter()
                .skip(mine.len().saturating_sub(quota))
                .copied()
                .collect(),
        };
        if keep.len() == max_quota && max_quota > min_quota {
            max_slots -= 1;
        }
        taken.extend(keep.iter().copied());
        out.get_mut(&member.member_id).expect("member").extend(keep);
    }
    // 2. Every other partition goes to the subscribed member with the fewest partitions.
    for tp in all.into_iter().filter(|tp| !taken.contains(tp)) {
        let target = order
            .iter()
            .filter(|m| m.topics.contains(&tp.topic))
            .min_by_key(|m| out[&m.member_id].len())
            .expect("some member is subscribed");
        out.get_mut(&target.member_id).expect("member").push(tp);
    }
    for parts in out.values_mut() {
        parts.sort();
    }
    out
}

/// The cooperative sticky assignor, as Java runs it: [`sticky`], withholding partitions that
/// change owner.
pub fn cooperative_sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    cooperative_sticky_keeping(members, partitions_per_topic, StickyKeeps::Lowest)
}

/// The cooperative sticky assignor, keeping `keeps` of a member's owned partitions.
pub fn cooperative_sticky_keeping(
    members: &[MemberSubscription],
    partitions_per_topic: &[u32],
    keeps: StickyKeeps,
) -> Assignment {
    let mut out = sticky_keeping(members, partitions_per_topic, keeps);
    let order = sorted(members);
    let owners = previous_owners(&order, partitions_per_topic);
    // a partition owned by someone else is not handed over this round
    let owned_anywhere: BTreeMap<Tp, &MemberId> = members
        .iter()
        .flat_map(|m| m.owned.iter().map(move |tp| (*tp, &m.member_id)))
        .collect();
    for (member, parts) in out.iter_mut() {
        parts.retain(|tp| match owners.get(tp).or(owned_anywhere.get(tp).copied()) {
            Some(owner) => owner == member,
            None => true,
        });
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[u32]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            instance_id: None,
            topics: topics.to_vec(),
            owned: Vec::new(),
            generation: -1,
        }
    }

    fn owning(id: &str, topics: &[u32], owned: &[(u32, u32)], generation: i32) -> MemberSubscription {
        let mut m = member(id, topics);
        m.owned = owned.iter().map(|(t, p)| Tp::new(*t, *p)).collect();
        m.generation = generation;
        m
    }

    /// StickyAssignor javadoc: C0, C1, C2 on t0..t3 with 2 partitions each; C1 leaves.
    /// Round robin would reshuffle; sticky keeps every partition C0 and C2 had.
    #[test]
    fn sticky_javadoc_example_keeps_surviving_owners() {
        let first = sticky(
            &[
                member("C0", &[0, 1, 2, 3]),
                member("C1", &[0, 1, 2, 3]),
                member("C2", &[0, 1, 2, 3]),
            ],
            &[2, 2, 2, 2],
        );
        assert!(first.values().all(|p| p.len() == 2 || p.len() == 3));
        let c0: Vec<(u32, u32)> = first[&MemberId::from("C0")]
            .iter()
            .map(|t| (t.topic, t.partition))
            .collect();
        let c2: Vec<(u32, u32)> = first[&MemberId::from("C2")]
            .iter()
            .map(|t| (t.topic, t.partition))
            .collect();
        let second = sticky(
            &[
                owning("C0", &[0, 1, 2, 3], &c0, 1),
                owning("C2", &[0, 1, 2, 3], &c2, 1),
            ],
            &[2, 2, 2, 2],
        );
        assert_eq!(second[&MemberId::from("C0")].len(), 4);
        assert_eq!(second[&MemberId::from("C2")].len(), 4);
        for tp in &first[&MemberId::from("C0")] {
            assert!(second[&MemberId::from("C0")].contains(tp), "C0 keeps {tp:?}");
        }
        for tp in &first[&MemberId::from("C2")] {
            assert!(second[&MemberId::from("C2")].contains(tp), "C2 keeps {tp:?}");
        }
    }

    #[test]
    fn sticky_balances_a_new_member_and_moves_only_what_it_must() {
        let a = owning("a", &[0], &[(0, 0), (0, 1), (0, 2), (0, 3)], 1);
        let got = sticky(&[a.clone(), member("b", &[0])], &[4]);
        assert_eq!(got[&MemberId::from("a")].len(), 2);
        assert_eq!(got[&MemberId::from("b")].len(), 2);
        // cooperative: the two that move are withheld for a second round
        let got = cooperative_sticky(&[a, member("b", &[0])], &[4]);
        assert_eq!(got[&MemberId::from("a")].len(), 2);
        assert!(got[&MemberId::from("b")].is_empty());
    }

    /// The scale-out measured against Apache Kafka with librdkafka clients: 0–5 on one member,
    /// a second joins (librdkafka keeps 3, 4, 5), a third joins (each gives up its lowest).
    #[test]
    fn librdkafka_keeps_the_highest_java_the_lowest() {
        let ids = |a: &Assignment, m: &str| {
            a[&MemberId::from(m)]
                .iter()
                .map(|t| t.partition)
                .collect::<Vec<_>>()
        };
        let all: Vec<(u32, u32)> = (0..6).map(|p| (0, p)).collect();
        let two = cooperative_sticky_keeping(
            &[owning("a", &[0], &all, 1), member("b", &[0])],
            &[6],
            StickyKeeps::Highest,
        );
        assert_eq!(ids(&two, "a"), vec![3, 4, 5]);
        let three = sticky_keeping(
            &[
                owning("a", &[0], &[(0, 3), (0, 4), (0, 5)], 2),
                owning("b", &[0], &[(0, 0), (0, 1), (0, 2)], 2),
                member("c", &[0]),
            ],
            &[6],
            StickyKeeps::Highest,
        );
        assert_eq!(
            (ids(&three, "a"), ids(&three, "b"), ids(&three, "c")),
            (vec![4, 5], vec![1, 2], vec![0, 3])
        );
        let java = cooperative_sticky(&[owning("a", &[0], &all, 1), member("b", &[0])], &[6]);
        assert_eq!(ids(&java, "a"), vec![0, 1, 2]);
    }

    #[test]
    fn conflicting_claims_go_to_the_later_generation() {
        let a = owning("a", &[0], &[(0, 0)], 3);
        let b = owning("b", &[0], &[(0, 0)], 5);
        let got = sticky(&[a, b], &[2]);
        assert_eq!(got[&MemberId::from("b")], vec![Tp::new(0, 0)]);
        assert_eq!(got[&MemberId::from("a")], vec![Tp::new(0, 1)]);
    }

    fn show(a: &Assignment) -> Vec<(String, Vec<(u32, u32)>)> {
        a.iter()
            .map(|(m, tps)| {
                (
                    m.to_string(),
                    tps.iter().map(|t| (t.topic, t.partition)).collect(),
                )
            })
            .collect()
    }

    /// Kafka's RangeAssignor javadoc: C0, C1; t0, t1 with 3 partitions each.
    #[test]
    fn range_javadoc_example() {
        let a = range(&[member("C1", &[0, 1]), member("C0", &[0, 1])], &[3, 3]);
        assert_eq!(
            show(&a),
            vec![
                ("C0".into(), vec![(0, 0), (0, 1), (1, 0), (1, 1)]),
                ("C1".into(), vec![(0, 2), (1, 2)]),
            ]
        );
    }

    /// Kafka's RoundRobinAssignor javadoc, equal subscriptions.
    #[test]
    fn roundrobin_javadoc_example() {
        let a = roundrobin(&[member("C0", &[0, 1]), member("C1", &[0, 1])], &[3, 3]);
        assert_eq!(
            show(&a),
            vec![
                ("C0".into(), vec![(0, 0), (0, 2), (1, 1)]),
                ("C1".into(), vec![(0, 1), (1, 0), (1, 2)]),
            ]
        );
    }

    /// Kafka's RoundRobinAssignor javadoc, unequal subscriptions: t0, t1, t2 with 1, 2, 3
    /// partitions; C0 on t0, C1 on t0 and t1, C2 on all three.
    #[test]
    fn roundrobin_javadoc_unequal_subscriptions() {
        let a = roundrobin(
            &[
                member("C2", &[0, 1, 2]),
                member("C0", &[0]),
                member("C1", &[0, 1]),
            ],
            &[1, 2, 3],
        );
        assert_eq!(
            show(&a),
            vec![
                ("C0".into(), vec![(0, 0)]),
                ("C1".into(), vec![(1, 0)]),
                ("C2".into(), vec![(1, 1), (2, 0), (2, 1), (2, 2)]),
            ]
        );
    }

    /// Demo 3's group 1: 4 partitions over 2 members → 0–1 to the smaller member id.
    #[test]
    fn range_demo3_shape() {
        let a = range(
            &[member("kafka-python-b", &[0]), member("kafka-python-a", &[0])],
            &[4],
        );
        assert_eq!(
            show(&a),
            vec![
                ("kafka-python-a".into(), vec![(0, 0), (0, 1)]),
                ("kafka-python-b".into(), vec![(0, 2), (0, 3)]),
            ]
        );
    }

    #[test]
    fn range_uneven_and_more_members_than_partitions() {
        let ms = [member("a", &[0]), member("b", &[0]), member("c", &[0])];
        let a = range(&ms, &[7]);
        assert_eq!(show(&a)[0].1, vec![(0, 0), (0, 1), (0, 2)]);
        assert_eq!(show(&a)[1].1, vec![(0, 3), (0, 4)]);
        assert_eq!(show(&a)[2].1, vec![(0, 5), (0, 6)]);
        let a = range(&ms, &[2]);
        assert_eq!(a.values().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 0]);
    }

    #[test]
    fn static_members_sort_first() {
        let mut s = member("zzz", &[0]);
        s.instance_id = Some("instance-1".into());
        let a = range(&[member("aaa", &[0]), s], &[2]);
        assert_eq!(a[&MemberId::from("zzz")], vec![Tp::new(0, 0)]);
        assert_eq!(a[&MemberId::from("aaa")], vec![Tp::new(0, 1)]);
    }

    #[test]
    fn every_partition_assigned_once() {
        for kind in [
            AssignorKind::Range,
            AssignorKind::Roundrobin,
            AssignorKind::Sticky,
            AssignorKind::CooperativeSticky,
        ] {
            for n_members in 1..6 {
                let ms: Vec<_> = (0..n_members)
                    .map(|i| member(&format!("m{i}"), &[0, 1]))
                    .collect();
                let a = kind.assign(&ms, &[5, 3]);
                let mut all: Vec<Tp> = a.values().flatten().copied().collect();
                all.sort();
                let want: Vec<Tp> = (0..5)
                    .map(|p| Tp::new(0, p))
                    .chain((0..3).map(|p| Tp::new(1, p)))
                    .collect();
                assert_eq!(all, want, "{kind:?} with {n_members} members");
            }
        }
    }

    #[test]
    fn parse_names() {
        assert_eq!(AssignorKind::parse("range"), Some(AssignorKind::Range));
        assert_eq!(
            AssignorKind::parse("org.apache.kafka.clients.consumer.RoundRobinAssignor"),
            Some(AssignorKind::Roundrobin)
        );
        assert_eq!(AssignorKind::parse("sticky"), Some(AssignorKind::Sticky));
        assert_eq!(
            AssignorKind::parse("cooperative-sticky"),
            Some(AssignorKind::CooperativeSticky)
        );
        assert_eq!(AssignorKind::parse("uniform"), None);
    }
}
