//! librdkafka's sticky assignor (`rdkafka_sticky_assignor.c`), as far as the model needs it:
//! balanced and sticky like Java's, but a member over its quota keeps the *last* of its
//! owned partitions (measured against Apache Kafka 4.4 with librdkafka 2.12: a member owning
//! 0–5 that must keep three keeps 3, 4, 5). One quota for the whole group; leftovers go to the
//! subscribed member with the fewest partitions; a partition claimed twice stays with the
//! later generation (ties: the member that sorts first). Cooperative: partitions that change
//! owner are withheld for a second round.

use super::{empty_assignment, sorted, Assignment, MemberSubscription};
use crate::types::{MemberId, Tp};
use std::collections::{BTreeMap, BTreeSet};

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

/// librdkafka's sticky assignor.
pub fn sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
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
        let keep: Vec<Tp> = mine
            .iter()
            .skip(mine.len().saturating_sub(quota))
            .copied()
            .collect();
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

/// librdkafka's cooperative-sticky assignor: [`sticky`], withholding partitions that change
/// owner.
pub fn cooperative_sticky(members: &[MemberSubscription], partitions_per_topic: &[u32]) -> Assignment {
    let mut out = sticky(members, partitions_per_topic);
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
