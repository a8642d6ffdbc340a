//! The KIP-848 group coordinator's `org.apache.kafka.coordinator.group.assignor.RangeAssignor`:
//! members sorted with static ones first by `group.instance.id`, then dynamic ones by member
//! id (UTF-16 order); per topic, each subscriber in that order takes the next
//! `n / m` partitions, the first `n % m` subscribers one more. Not sticky: the current
//! assignment is not read. With equal subscriptions the quota of every topic counts all
//! members (Java's homogeneous path), which is the same as counting its subscribers.

use super::{empty_assignment, sorted, Assignment, MemberSubscription, Topic};
use crate::types::Tp;

/// The server-side range assignment of `topics` over `members`.
pub fn assign(members: &[MemberSubscription], topics: &[Topic]) -> Assignment {
    let mut out = empty_assignment(members);
    let order = sorted(members);
    for (t, meta) in topics.iter().enumerate() {
        let t = t as u32;
        let subscribers: Vec<_> = order.iter().filter(|m| m.topics.contains(&t)).collect();
        if subscribers.is_empty() {
            continue;
        }
        let m = subscribers.len() as u32;
        let (quota, mut extra) = (meta.partitions / m, meta.partitions % m);
        let mut next = 0;
        for member in subscribers {
            let mut q = quota;
            if extra > 0 {
                q += 1;
                extra -= 1;
            }
            let end = (next + q).min(meta.partitions);
            let parts = out.get_mut(&member.member_id).expect("member");
            parts.extend((next..end).map(|p| Tp::new(t, p)));
            next = end;
        }
    }
    for parts in out.values_mut() {
        parts.sort();
    }
    out
}
