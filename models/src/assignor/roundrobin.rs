//! Java's `org.apache.kafka.clients.consumer.RoundRobinAssignor`: every partition of every
//! subscribed topic, topics in name order (`String.compareTo`, UTF-16) and partitions by
//! number, dealt in turn round the members sorted as `MemberInfo`; a member not subscribed
//! to the partition's topic is skipped (Java's `CircularIterator`).

use super::java::cmp_utf16;
use super::{empty_assignment, sorted, Assignment, MemberSubscription, Topic};
use crate::types::Tp;

/// The round-robin assignment of `topics` (indexed as [`Tp::topic`]) over `members`.
pub fn assign(members: &[MemberSubscription], topics: &[Topic]) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    if order.is_empty() {
        return out;
    }
    let mut by_name: Vec<u32> = (0..topics.len() as u32)
        .filter(|t| order.iter().any(|m| m.topics.contains(t)))
        .collect();
    by_name.sort_by(|a, b| cmp_utf16(&topics[*a as usize].name, &topics[*b as usize].name));
    let mut next = 0usize;
    for topic in by_name {
        for p in 0..topics[topic as usize].partitions {
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
    for parts in out.values_mut() {
        parts.sort();
    }
    out
}
