//! `AbstractStickyAssignor.GeneralAssignmentBuilder`: the sticky assignor when members
//! subscribe to different topics.
//!
//! Each member keeps the claims it still subscribes to. Unassigned partitions — topics by
//! number of potential consumers then name, partitions ascending — go one by one to the
//! member with the fewest partitions (ties: member id, UTF-16) among those subscribed.
//! Topics with one potential consumer, and members that cannot take part, are set aside; then
//! partitions move, in that order, from a member that has two more than another potential
//! owner to the least loaded potential owner — or back to the member that owned it in an
//! older generation — until the assignment is balanced or no move helps; if the moves did not
//! improve the balance score (the sum of pairwise count differences), the pre-balance
//! assignment stands. `PartitionMovements` undoes a reverse move instead of adding one, picking
//! the partition from a Java `HashSet` ([`super::java`]).
//!
//! One deviation: when the member that owned a partition in an older generation has been set
//! aside (it subscribes only to topics nobody else does and holds all of them), Java's
//! `performReassignments` throws a `NullPointerException` reading its count, and the leader's
//! assignment fails; the model passes over that member and carries on.

use super::java::{topic_partition_hash, JavaHash, JavaHashSet};
use super::sticky::{Claims, Ctx};
use crate::types::Tp;
use std::collections::{BTreeMap, BTreeSet};

/// A `TopicPartition` with its Java hash.
#[derive(Clone, Copy, Debug)]
struct Key {
    tp: Tp,
    hash: i32,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.tp == other.tp
    }
}

impl JavaHash for Key {
    fn java_hash(&self) -> i32 {
        self.hash
    }
}

/// Java's `PartitionMovements`.
#[derive(Default)]
struct Movements {
    by_topic: BTreeMap<u32, BTreeMap<(usize, usize), JavaHashSet<Key>>>,
    moves: BTreeMap<Tp, (usize, usize)>,
}

impl Movements {
    fn remove_record(&mut self, key: Key) -> (usize, usize) {
        let pair = self.moves.remove(&key.tp).expect("a recorded move");
        let topic = self.by_topic.get_mut(&key.tp.topic).expect("topic moves");
        let set = topic.get_mut(&pair).expect("pair moves");
        set.remove(&key);
        if set.is_empty() {
            topic.remove(&pair);
        }
        if topic.is_empty() {
            self.by_topic.remove(&key.tp.topic);
        }
        pair
    }

    fn add_record(&mut self, key: Key, pair: (usize, usize)) {
        self.moves.insert(key.tp, pair);
        self.by_topic
            .entry(key.tp.topic)
            .or_default()
            .entry(pair)
            .or_default()
            .insert(key);
    }

    fn move_partition(&mut self, key: Key, old: usize, new: usize) {
        if self.moves.contains_key(&key.tp) {
            let (src, _) = self.remove_record(key);
            if src != new {
                self.add_record(key, (src, new));
            }
        } else {
            self.add_record(key, (old, new));
        }
    }

    fn actual_partition_to_move(&self, key: Key, mut old: usize, new: usize) -> Key {
        let Some(topic) = self.by_topic.get(&key.tp.topic) else {
            return key;
        };
        if let Some((src, _)) = self.moves.get(&key.tp) {
            old = *src;
        }
        match topic.get(&(new, old)) {
            Some(set) => *set.first().expect("non-empty"),
            None => key,
        }
    }
}

struct General<'a, 'c> {
    ctx: &'c Ctx<'a>,
    /// Active members' lists (set-aside members removed).
    current: BTreeMap<usize, Vec<Tp>>,
    owner: BTreeMap<Tp, usize>,
    /// Per member: its subscribed live topics.
    potential_topics: Vec<Vec<u32>>,
    /// Per topic index: members subscribed to it.
    potential_members: Vec<Vec<usize>>,
    prev: BTreeMap<Tp, (usize, i32)>,
    movements: Movements,
}

impl General<'_, '_> {
    fn key(&self, tp: Tp) -> Key {
        Key {
            tp,
            hash: topic_partition_hash(self.ctx.name(tp.topic), tp.partition),
        }
    }

    fn size(&self, m: usize) -> usize {
        self.current.get(&m).map_or(0, Vec::len)
    }

    /// `sortedCurrentSubscriptions`: active members by count, then id.
    fn sorted(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.current.keys().copied().collect();
        v.sort_by(|a, b| {
            self.size(*a)
                .cmp(&self.size(*b))
                .then_with(|| self.ctx.id_cmp(*a, *b))
        });
        v
    }

    fn max_size(&self, m: usize) -> usize {
        self.potential_topics[m]
            .iter()
            .map(|t| self.ctx.topics[*t as usize].partitions as usize)
            .sum()
    }

    fn is_balanced(&self) -> bool {
        let sorted = self.sorted();
        let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
            return true;
        };
        if self.size(*first) + 1 >= self.size(*last) {
            return true;
        }
        for &m in &sorted {
            let count = self.size(m);
            if count == self.max_size(m) {
                continue;
            }
            for &t in &self.potential_topics[m] {
                for p in 0..self.ctx.topics[t as usize].partitions {
                    let tp = Tp::new(t, p);
                    if self.current[&m].contains(&tp) {
                        continue;
                    }
                    let Some(other) = self.owner.get(&tp).filter(|o| self.current.contains_key(o)) else {
                        continue;
                    };
                    if count + 1 < self.size(*other) {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn can_take_part(&self, m: usize) -> bool {
        if self.size(m) < self.max_size(m) {
            return true;
        }
        self.current[&m]
            .iter()
            .any(|tp| self.potential_members[tp.topic as usize].len() >= 2)
    }

    fn move_to(&mut self, tp: Tp, new: usize) {
        let old = self.owner[&tp];
        let key = self.key(tp);
        let moved = self.movements.actual_partition_to_move(key, old, new);
        let from = self.owner[&moved.tp];
        self.movements.move_partition(moved, from, new);
        if let Some(list) = self.current.get_mut(&from) {
            if let Some(i) = list.iter().position(|x| *x == moved.tp) {
                list.remove(i);
            }
        }
        self.current.entry(new).or_default().push(moved.tp);
        self.owner.insert(moved.tp, new);
    }

    fn move_to_least_loaded(&mut self, tp: Tp) {
        let new = self
            .sorted()
            .into_iter()
            .find(|m| self.potential_topics[*m].contains(&tp.topic))
            .expect("a potential consumer");
        self.move_to(tp, new);
    }

    fn perform_reassignments(&mut self, partitions: &[Tp]) -> bool {
        let mut performed = false;
        loop {
            let mut modified = false;
            for &tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(&owner) = self.owner.get(&tp) else {
                    continue;
                };
                // Java reads the count of a set-aside previous owner and throws a
                // NullPointerException; the model passes over that owner instead
                let prev = self
                    .prev
                    .get(&tp)
                    .map(|p| p.0)
                    .filter(|p| self.current.contains_key(p));
                if let Some(prev) = prev {
                    if self.size(owner) > self.size(prev) + 1 {
                        self.move_to(tp, prev);
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                let count = self.size(owner);
                if self.potential_members[tp.topic as usize]
                    .iter()
                    .any(|o| count > self.size(*o) + 1)
                {
                    self.move_to_least_loaded(tp);
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return performed;
            }
        }
    }

    fn score(lists: &BTreeMap<usize, Vec<Tp>>) -> usize {
        let sizes: Vec<usize> = lists.values().map(Vec::len).collect();
        let mut s = 0;
        for i in 0..sizes.len() {
            for j in i + 1..sizes.len() {
                s += sizes[i].abs_diff(sizes[j]);
            }
        }
        s
    }
}

/// Per member index, its partitions.
pub(crate) fn build(ctx: &Ctx, claims: &Claims) -> Vec<Vec<Tp>> {
    let n = ctx.members.len();
    let potential_topics: Vec<Vec<u32>> = ctx
        .members
        .iter()
        .map(|m| {
            m.topics
                .iter()
                .copied()
                .filter(|t| ctx.live.contains(t))
                .collect()
        })
        .collect();
    let mut potential_members: Vec<Vec<usize>> = vec![Vec::new(); ctx.topics.len()];
    for &m in &ctx.order {
        for &t in &potential_topics[m] {
            potential_members[t as usize].push(m);
        }
    }
    let mut g = General {
        ctx,
        current: (0..n).map(|m| (m, claims.owned[m].clone())).collect(),
        owner: BTreeMap::new(),
        potential_topics,
        potential_members,
        prev: BTreeMap::new(),
        movements: Movements::default(),
    };
    for (&m, list) in &g.current {
        for tp in list {
            g.owner.insert(*tp, m);
        }
    }
    // topics by potential consumers, then name
    let mut topics: Vec<u32> = ctx.live.iter().copied().collect();
    topics.sort_by(|a, b| {
        g.potential_members[*a as usize]
            .len()
            .cmp(&g.potential_members[*b as usize].len())
            .then_with(|| super::java::cmp_utf16(ctx.name(*a), ctx.name(*b)))
    });
    let mut all: Vec<Tp> = topics
        .iter()
        .flat_map(|&t| (0..ctx.topics[t as usize].partitions).map(move |p| Tp::new(t, p)))
        .collect();
    // prepopulateCurrentAssignments: claims of older generations
    for &m in &ctx.order {
        let generation = match ctx.generation(m) {
            Some(gen) if gen < claims.max_generation => gen,
            None if claims.max_generation > -1 => -1,
            _ => continue,
        };
        for tp in &ctx.members[m].owned {
            match g.prev.get(tp) {
                Some((_, old)) if generation <= *old => {}
                _ => {
                    g.prev.insert(*tp, (m, generation));
                }
            }
        }
    }
    // assignOwnedPartitions
    let mut revocation_required = false;
    let mut assigned: BTreeSet<Tp> = BTreeSet::new();
    for m in 0..n {
        let subscribed = &ctx.members[m].topics;
        let list = g.current.get_mut(&m).expect("member");
        list.retain(|tp| {
            let keep = subscribed.contains(&tp.topic);
            revocation_required |= !keep;
            keep
        });
        assigned.extend(list.iter().copied());
    }
    let mut unassigned: Vec<Tp> = all.iter().copied().filter(|tp| !assigned.contains(tp)).collect();
    balance(&mut g, &mut all, &mut unassigned, revocation_required);
    (0..n).map(|m| g.current.remove(&m).unwrap_or_default()).collect()
}

fn balance(g: &mut General, all: &mut Vec<Tp>, unassigned: &mut Vec<Tp>, revocation_required: bool) {
    let sorted = g.sorted();
    let initializing = sorted.last().is_none_or(|m| g.size(*m) == 0);
    for &tp in unassigned.iter() {
        if g.potential_members[tp.topic as usize].is_empty() {
            continue;
        }
        if let Some(m) = g
            .sorted()
            .into_iter()
            .find(|m| g.potential_topics[*m].contains(&tp.topic))
        {
            g.current.get_mut(&m).expect("member").push(tp);
            g.owner.insert(tp, m);
        }
    }
    let fixed_topics: BTreeSet<u32> = g
        .ctx
        .live
        .iter()
        .copied()
        .filter(|t| g.potential_members[*t as usize].len() < 2)
        .collect();
    all.retain(|tp| !fixed_topics.contains(&tp.topic));
    unassigned.retain(|tp| !fixed_topics.contains(&tp.topic));
    let mut fixed: BTreeMap<usize, Vec<Tp>> = BTreeMap::new();
    for m in 0..g.ctx.members.len() {
        if !g.can_take_part(m) {
            let list = g.current.remove(&m).expect("member");
            fixed.insert(m, list);
        }
    }
    let before = g.current.clone();
    let before_owner = g.owner.clone();
    if !revocation_required {
        g.perform_reassignments(unassigned);
    }
    let performed = g.perform_reassignments(all);
    if !initializing && performed && General::score(&g.current) >= General::score(&before) {
        g.current = before;
        g.owner = before_owner;
    }
    g.current.extend(fixed);
}
