//! The KIP-848 group coordinator's `org.apache.kafka.coordinator.group.assignor.UniformAssignor`,
//! the broker's default `group.consumer.assignors` entry.
//!
//! * Equal subscriptions (`UniformHomogeneousAssignmentBuilder`): a quota of
//!   `total / members` each, `total % members` members allowed one more. Members go *in the
//!   coordinator's `HashMap` order of member ids*: each keeps its current partitions up to its
//!   quota (topics in its assignment map's order, partitions in their `HashSet` order) and
//!   gives up the rest; an extra slot goes to the next member while extra slots remain, but a
//!   member that does not fill it passes it on as long as enough members remain to take every
//!   extra slot. Then the members still under quota, in the same order, take the unassigned
//!   partitions — never-assigned ones first (topics in the
//!   `HashSet` order of topic ids, partitions ascending), then the given-up ones in the order
//!   they were given up.
//! * Different subscriptions (`UniformHeterogeneousAssignmentBuilder`,
//!   [`super::uniform_heterogeneous`]): keep what is still subscribed, deal the rest
//!   topic by topic to the least loaded subscribers, then move partitions from the most to the
//!   least loaded subscribers of each topic until no move improves the balance.
//!
//! A member's current assignment is read as the coordinator holds it: a `HashMap` from topic
//! id to a `HashSet` of partitions, filled with `computeIfAbsent(topic).add(partition)` in
//! the order of [`MemberSubscription::owned`].

use super::java::{hash_map_order, JavaHashSet, Uuid};
use super::{Assignment, MemberSubscription, Topic};
use crate::types::Tp;
use std::collections::BTreeSet;

/// A member's current assignment as Java's `Map<Uuid, Set<Integer>>` iterates it: topics (by
/// index) with their partitions, each in `HashMap`/`HashSet` order.
pub(crate) fn owned_map(m: &MemberSubscription, topics: &[Topic]) -> Vec<(u32, Vec<u32>)> {
    let mut ids: JavaHashSet<Uuid> = JavaHashSet::new();
    let mut parts: Vec<(u32, JavaHashSet<u32>)> = Vec::new();
    for tp in &m.owned {
        ids.compute_if_absent(topics[tp.topic as usize].id);
        match parts.iter_mut().find(|(t, _)| *t == tp.topic) {
            Some((_, s)) => {
                s.insert(tp.partition);
            }
            None => {
                let mut s = JavaHashSet::new();
                s.insert(tp.partition);
                parts.push((tp.topic, s));
            }
        }
    }
    ids.iter_order()
        .into_iter()
        .map(|id| {
            let (t, s) = parts
                .iter()
                .find(|(t, _)| topics[*t as usize].id == *id)
                .expect("topic of an owned partition");
            (*t, s.ordered())
        })
        .collect()
}

/// Member indices in the order of the coordinator's `HashMap` of member ids, filled in
/// `members` order.
pub(crate) fn member_order(members: &[MemberSubscription]) -> Vec<usize> {
    let ids = hash_map_order(members.iter().map(|m| m.member_id.clone()));
    ids.iter()
        .map(|id| members.iter().position(|m| m.member_id == *id).expect("member"))
        .collect()
}

/// A member's subscribed topics as a `HashSet` of topic ids iterates them.
pub(crate) fn subscribed_order(m: &MemberSubscription, topics: &[Topic]) -> Vec<u32> {
    let mut set: JavaHashSet<Uuid> = JavaHashSet::new();
    for t in &m.topics {
        set.insert(topics[*t as usize].id);
    }
    // `new HashSet<>(subscribedTopicIds)`
    let copy = JavaHashSet::copy_of(set.ordered());
    copy.iter_order()
        .into_iter()
        .map(|id| topics.iter().position(|t| t.id == *id).expect("topic") as u32)
        .collect()
}

/// Whether every member subscribes to the same set of topics (Kafka's `HOMOGENEOUS`).
pub fn is_homogeneous(members: &[MemberSubscription]) -> bool {
    let set = |m: &MemberSubscription| m.topics.iter().copied().collect::<BTreeSet<u32>>();
    members.windows(2).all(|w| set(&w[0]) == set(&w[1]))
}

/// The uniform assignment of `topics` over `members` (in the order the coordinator's
/// `HashMap` of members was filled; current assignments disjoint).
pub fn assign(members: &[MemberSubscription], topics: &[Topic]) -> Assignment {
    let mut out: Assignment = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    let assigned: Vec<Vec<(u32, u32)>> = if is_homogeneous(members) {
        homogeneous(members, topics)
    } else {
        super::uniform_heterogeneous::assign(members, topics)
    };
    for (m, parts) in members.iter().zip(assigned) {
        let mut v: Vec<Tp> = parts.into_iter().map(|(t, p)| Tp::new(t, p)).collect();
        v.sort();
        out.insert(m.member_id.clone(), v);
    }
    out
}

/// `UniformHomogeneousAssignmentBuilder`: per member (by index in `members`), its partitions.
fn homogeneous(members: &[MemberSubscription], topics: &[Topic]) -> Vec<Vec<(u32, u32)>> {
    let order = member_order(members);
    let mut result: Vec<Vec<(u32, u32)>> = vec![Vec::new(); members.len()];
    let subscribed = subscribed_order(&members[order[0]], topics);
    if subscribed.is_empty() {
        return result;
    }
    let owned_by_anyone: BTreeSet<(u32, u32)> = members
        .iter()
        .flat_map(|m| m.owned.iter().map(|tp| (tp.topic, tp.partition)))
        .collect();
    let mut unassigned: Vec<(u32, u32)> = Vec::new();
    let mut total = 0u32;
    for &t in &subscribed {
        let n = topics[t as usize].partitions;
        unassigned.extend((0..n).map(|p| (t, p)).filter(|tp| !owned_by_anyone.contains(tp)));
        total += n;
    }
    let n_members = members.len() as u32;
    let min_quota = total / n_members;
    let mut extra = total % n_members;
    let mut unfilled: Vec<(usize, u32)> = Vec::new();
    for (index, &i) in order.iter().enumerate() {
        let mut quota = min_quota;
        let mut got_extra = false;
        if extra > 0 {
            quota += 1;
            got_extra = true;
        }
        for (t, parts) in owned_map(&members[i], topics) {
            if !subscribed.contains(&t) {
                continue;
            }
            if parts.len() as u32 <= quota {
                quota -= parts.len() as u32;
                result[i].extend(parts.iter().map(|&p| (t, p)));
                continue;
            }
            for p in parts {
                if quota > 0 {
                    quota -= 1;
                    result[i].push((t, p));
                } else {
                    unassigned.push((t, p));
                }
            }
        }
        // a member that does not fill its extra slot leaves it to a later one, as long as
        // enough members remain to take every extra slot
        if quota > 0 && got_extra && (members.len() - index) as u32 > extra {
            quota -= 1;
            got_extra = false;
        }
        if quota > 0 {
            unfilled.push((i, quota));
        }
        if got_extra {
            extra -= 1;
        }
    }
    let mut next = unassigned.iter();
    for (i, quota) in unfilled {
        result[i].extend(next.by_ref().take(quota as usize));
    }
    result
}
