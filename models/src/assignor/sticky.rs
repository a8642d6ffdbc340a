//! Java's `AbstractStickyAssignor` (kafka-clients), under its two names: `StickyAssignor`
//! (KIP-54, eager) and `CooperativeStickyAssignor` (KIP-429). Rack awareness is not modelled
//! (members carry no `client.rack`).
//!
//! 1. **Claims** (`allSubscriptionsEqual`), members in the leader's `HashMap` order of member
//!    ids: a partition claimed by two members of different generations stays with the later
//!    one; claimed by two of the *same* generation, neither keeps it (and, cooperative, nobody
//!    gets it this round).
//! 2. Equal subscriptions — `ConstrainedAssignmentBuilder`: quotas `⌊P/M⌋` and `⌈P/M⌉`, the
//!    first `P % M` members (in that `HashMap` order) that owned at least `⌈P/M⌉` keeping that
//!    many; each member keeps the first of its claims sorted by partition, then topic; the
//!    rest (topics by name, partitions ascending) go round the under-quota members in id
//!    order, then to members at exactly `⌊P/M⌋`.
//! 3. Different subscriptions — `GeneralAssignmentBuilder` ([`super::sticky_general`]).
//! 4. Cooperative: every partition that would move from one member to another is withheld
//!    (its owner revokes it and rejoins).
//!
//! A Kafka quirk kept as Java has it: with different subscriptions, a partition can go back to
//! a member that claimed it from an *older* generation even when that member no longer
//! subscribes to its topic (`performReassignments` reads `prevAssignment` without checking the
//! subscription).

use super::java::{cmp_utf16, hash_map_order};
use super::{Assignment, MemberSubscription, Topic};
use crate::types::Tp;
use std::collections::{BTreeMap, BTreeSet};

/// What every sticky builder starts from.
pub(crate) struct Ctx<'a> {
    pub(crate) topics: &'a [Topic],
    pub(crate) members: &'a [MemberSubscription],
    /// Member indices in the leader's `HashMap` order.
    pub(crate) order: Vec<usize>,
    /// Topics in `partitionsPerTopic`: subscribed by someone, with partitions.
    pub(crate) live: BTreeSet<u32>,
}

impl Ctx<'_> {
    pub(crate) fn id_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        cmp_utf16(&self.members[a].member_id, &self.members[b].member_id)
    }

    pub(crate) fn name(&self, t: u32) -> &str {
        &self.topics[t as usize].name
    }

    pub(crate) fn total(&self) -> usize {
        self.live
            .iter()
            .map(|t| self.topics[*t as usize].partitions as usize)
            .sum()
    }

    /// Live topics by name, partitions ascending.
    fn all_by_name(&self) -> Vec<Tp> {
        let mut ts: Vec<u32> = self.live.iter().copied().collect();
        ts.sort_by(|a, b| cmp_utf16(self.name(*a), self.name(*b)));
        ts.into_iter()
            .flat_map(|t| (0..self.topics[t as usize].partitions).map(move |p| Tp::new(t, p)))
            .collect()
    }

    /// `memberData.generation`: present once the member had an assignment.
    pub(crate) fn generation(&self, m: usize) -> Option<i32> {
        let g = self.members[m].generation;
        (g >= 0).then_some(g)
    }
}

/// Result of the claims step.
pub(crate) struct Claims {
    pub(crate) equal: bool,
    /// Per member index, the claims it keeps, in its owned order.
    pub(crate) owned: Vec<Vec<Tp>>,
    /// Partitions claimed by two members of one generation.
    pub(crate) multi: BTreeSet<Tp>,
    pub(crate) max_generation: i32,
}

fn claims(ctx: &Ctx) -> Claims {
    let mut equal = true;
    let mut reference: BTreeSet<u32> = BTreeSet::new();
    let mut owned: Vec<Vec<Tp>> = vec![Vec::new(); ctx.members.len()];
    let mut multi = BTreeSet::new();
    let mut max_generation = -1;
    let mut previous: BTreeMap<Tp, usize> = BTreeMap::new();
    for &m in &ctx.order {
        let member = &ctx.members[m];
        let topics: BTreeSet<u32> = member.topics.iter().copied().collect();
        if reference.is_empty() {
            reference = topics;
        } else if equal && !(member.topics.len() == reference.len() && topics.is_subset(&reference)) {
            equal = false;
        }
        let generation = ctx.generation(m).unwrap_or(-1);
        max_generation = max_generation.max(generation);
        for tp in &member.owned {
            if !ctx.live.contains(&tp.topic) {
                continue;
            }
            let Some(&other) = previous.get(tp) else {
                owned[m].push(*tp);
                previous.insert(*tp, m);
                continue;
            };
            let other_generation = ctx.generation(other).unwrap_or(-1);
            if generation >= other_generation {
                if generation == other_generation {
                    multi.insert(*tp);
                } else {
                    owned[m].push(*tp);
                }
                if let Some(i) = owned[other].iter().position(|x| x == tp) {
                    owned[other].remove(i);
                }
                previous.insert(*tp, m);
            }
        }
    }
    Claims {
        equal,
        owned,
        multi,
        max_generation,
    }
}

/// The sticky assignment of `topics` over `members` (in the order the leader's `HashMap` of
/// subscriptions was filled); `cooperative` for `CooperativeStickyAssignor`.
pub fn assign(members: &[MemberSubscription], topics: &[Topic], cooperative: bool) -> Assignment {
    let mut out: Assignment = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    let order: Vec<usize> = hash_map_order(members.iter().map(|m| m.member_id.clone()))
        .iter()
        .map(|id| members.iter().position(|m| m.member_id == *id).expect("member"))
        .collect();
    let live = (0..topics.len() as u32)
        .filter(|t| topics[*t as usize].partitions > 0 && members.iter().any(|m| m.topics.contains(t)))
        .collect();
    let ctx = Ctx {
        topics,
        members,
        order,
        live,
    };
    let claims = claims(&ctx);
    let (mut lists, transferring) = if claims.equal {
        let (lists, transferring) = constrained(&ctx, &claims);
        (lists, Some(transferring))
    } else {
        (super::sticky_general::build(&ctx, &claims), None)
    };
    if cooperative {
        let transferring = transferring.unwrap_or_else(|| moving(members, &lists));
        for (tp, m) in transferring {
            if let Some(i) = lists[m].iter().position(|x| *x == tp) {
                lists[m].remove(i);
            }
        }
    }
    for (m, mut parts) in lists.into_iter().enumerate() {
        parts.sort();
        out.insert(members[m].member_id.clone(), parts);
    }
    out
}

/// `computePartitionsTransferringOwnership`: partitions added to one member that another
/// member owned and loses.
fn moving(members: &[MemberSubscription], lists: &[Vec<Tp>]) -> Vec<(Tp, usize)> {
    let mut revoked: BTreeSet<Tp> = BTreeSet::new();
    let mut added: Vec<(Tp, usize)> = Vec::new();
    for (m, list) in lists.iter().enumerate() {
        let owned = &members[m].owned;
        added.extend(list.iter().filter(|tp| !owned.contains(tp)).map(|tp| (*tp, m)));
        revoked.extend(owned.iter().filter(|tp| !list.contains(tp)));
    }
    added.retain(|(tp, _)| revoked.contains(tp));
    added
}

/// `ConstrainedAssignmentBuilder`: per member index, its partitions; and the partitions that
/// change owner.
fn constrained(ctx: &Ctx, claims: &Claims) -> (Vec<Vec<Tp>>, Vec<(Tp, usize)>) {
    let n = ctx.members.len();
    let total = ctx.total();
    let (min_quota, max_quota) = (total / n, total.div_ceil(n));
    let expected_over = total % n;
    let mut over = 0;
    let mut lists: Vec<Vec<Tp>> = vec![Vec::new(); n];
    let mut maybe_revoked: BTreeMap<Tp, usize> = BTreeMap::new();
    let mut under: Vec<usize> = Vec::new();
    let mut exact: std::collections::VecDeque<usize> = Default::default();
    let mut assigned: BTreeSet<Tp> = BTreeSet::new();
    for &m in &ctx.order {
        let mut owned = claims.owned[m].clone();
        owned.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then_with(|| cmp_utf16(ctx.name(a.topic), ctx.name(b.topic)))
        });
        owned.retain(|tp| !claims.multi.contains(tp));
        if owned.len() < min_quota {
            lists[m].extend(owned.iter().copied());
            assigned.extend(owned.iter().copied());
            under.push(m);
        } else if owned.len() >= max_quota && over < expected_over {
            over += 1;
            if over == expected_over {
                exact.clear();
            }
            lists[m].extend(owned[..max_quota].iter().copied());
            assigned.extend(owned[..max_quota].iter().copied());
            maybe_revoked.extend(owned[max_quota..].iter().map(|tp| (*tp, m)));
        } else {
            lists[m].extend(owned[..min_quota].iter().copied());
            assigned.extend(owned[..min_quota].iter().copied());
            maybe_revoked.extend(owned[min_quota..].iter().map(|tp| (*tp, m)));
            if over < expected_over {
                exact.push_back(m);
            }
        }
    }
    let unassigned: Vec<Tp> = ctx
        .all_by_name()
        .into_iter()
        .filter(|tp| !assigned.contains(tp))
        .collect();
    under.sort_by(|a, b| ctx.id_cmp(*a, *b));
    exact.make_contiguous().sort_by(|a, b| ctx.id_cmp(*a, *b));
    let mut transferring = Vec::new();
    let mut cursor = 0usize;
    for tp in unassigned {
        let (m, from_under) = if cursor < under.len() {
            cursor += 1;
            (under[cursor - 1], true)
        } else if under.is_empty() {
            match exact.pop_front() {
                Some(m) => (m, false),
                None => break, // Java throws "No more unfilled consumers to be assigned."
            }
        } else {
            cursor = 1;
            (under[0], true)
        };
        lists[m].push(tp);
        if maybe_revoked.get(&tp).is_some_and(|o| *o != m) || claims.multi.contains(&tp) {
            transferring.push((tp, m));
        }
        let count = lists[m].len();
        if count == min_quota && from_under {
            cursor -= 1;
            under.remove(cursor);
            exact.push_back(m);
        }
    }
    (lists, transferring)
}
