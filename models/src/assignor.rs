//! Client-side partition assignors of the classic group protocol, as pure functions.
//!
//! The group leader runs one of these over every member's subscription (KIP-62's
//! `ConsumerPartitionAssignor`, kafka-python's `AbstractPartitionAssignor`):
//! * [`range`] — Java `RangeAssignor` / kafka-python `RangePartitionAssignor`: per topic, the
//!   subscribed members in sorted order get `n / m` consecutive partitions each, the first
//!   `n % m` one more.
//! * [`roundrobin`] — Java `RoundRobinAssignor`: all partitions sorted by topic then number,
//!   dealt round the sorted members, skipping members not subscribed to the topic.
//!
//! Members sort as Java's `MemberInfo` does: static members (with `group.instance.id`) by
//! instance id first, then dynamic members by member id. Member ids are `client.id-UUID`, so
//! with equal client ids the order — and so who gets which partitions — follows the UUIDs the
//! coordinator drew, which is why a seed changes demo 3's assignment.

use crate::types::{MemberId, Tp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
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
}

/// Partitions per member. Every member appears, possibly with none.
pub type Assignment = BTreeMap<MemberId, Vec<Tp>>;

/// An assignment strategy, by its protocol name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssignorKind {
    /// `range`.
    Range,
    /// `roundrobin`.
    Roundrobin,
}

impl AssignorKind {
    /// The protocol name members advertise in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            AssignorKind::Range => "range",
            AssignorKind::Roundrobin => "roundrobin",
        }
    }

    /// Parses a protocol name or a Java class name
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`).
    pub fn parse(s: &str) -> Option<AssignorKind> {
        match s.trim().rsplit('.').next().unwrap_or(s) {
            "range" | "RangeAssignor" => Some(AssignorKind::Range),
            "roundrobin" | "RoundRobinAssignor" => Some(AssignorKind::Roundrobin),
            _ => None,
        }
    }

    /// Runs the assignor.
    pub fn assign(self, members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
        match self {
            AssignorKind::Range => range(members, partitions_per_topic),
            AssignorKind::Roundrobin => roundrobin(members, partitions_per_topic),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[u32]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            instance_id: None,
            topics: topics.to_vec(),
        }
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
        for kind in [AssignorKind::Range, AssignorKind::Roundrobin] {
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
        assert_eq!(AssignorKind::parse("sticky"), None);
    }
}
