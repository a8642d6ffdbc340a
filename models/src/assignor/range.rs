//! Java's `org.apache.kafka.clients.consumer.RangeAssignor` (classic protocol, no racks): per
//! topic, the members subscribed to it sorted as `MemberInfo` (static members by
//! `group.instance.id`, then member ids, UTF-16 order) get `n / m` consecutive partitions
//! each, the first `n % m` one more. Topics without partitions are skipped.

use super::{empty_assignment, sorted, Assignment, MemberSubscription, Topic};
use crate::types::{MemberId, Tp};

/// The range assignment of `topics` (indexed as [`Tp::topic`]) over `members`.
pub fn assign(members: &[MemberSubscription], topics: &[Topic]) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    for (topic, meta) in topics.iter().enumerate() {
        let topic = topic as u32;
        let n = meta.partitions;
        let subscribed: Vec<&MemberId> = order
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .map(|m| &m.member_id)
            .collect();
        if subscribed.is_empty() || n == 0 {
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
    for parts in out.values_mut() {
        parts.sort();
    }
    out
}
