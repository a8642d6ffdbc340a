//! `UniformHeterogeneousAssignmentBuilder` of Kafka's KIP-848 `UniformAssignor`: members
//! with different subscriptions.
//!
//! Members are numbered in the coordinator's `HashMap` order of member ids. Each keeps the
//! partitions it still subscribes to. Topics are then taken most partitions per subscriber
//! first (ties: fewer subscribers, then topic id): each unassigned partition goes to the
//! subscriber with the fewest partitions (ties: lowest number), filling a "least loaded range"
//! level by level. Finally, up to 16 passes over the topics with at least two subscribers move
//! the highest-numbered partitions of the most loaded subscribers to the least loaded ones
//! until every topic's subscribers differ by at most one, or no move helps.

use super::uniform::{member_order, owned_map};
use super::{MemberSubscription, Topic};
use std::cmp::Ordering;

const MAX_ITERATION_COUNT: usize = 16;

struct Builder<'a> {
    topics: &'a [Topic],
    /// Per topic index: subscriber numbers, ascending; empty if nobody subscribes.
    subscribers: Vec<Vec<usize>>,
    /// Per topic index, per partition: owner number or -1.
    owners: Vec<Vec<i64>>,
    sizes: Vec<i64>,
}

impl Builder<'_> {
    fn topic_cmp(&self, a: u32, b: u32) -> Ordering {
        let (pa, pb) = (
            i64::from(self.topics[a as usize].partitions),
            i64::from(self.topics[b as usize].partitions),
        );
        let (sa, sb) = (
            self.subscribers[a as usize].len() as i64,
            self.subscribers[b as usize].len() as i64,
        );
        // partitions per subscriber, descending: pb/sb vs pa/sa
        (pb * sa)
            .cmp(&(pa * sb))
            .then(sa.cmp(&sb))
            .then_with(|| self.topics[a as usize].id.java_cmp(&self.topics[b as usize].id))
    }

    fn sorted_topics(&self, mut ts: Vec<u32>) -> Vec<u32> {
        ts.sort_by(|a, b| self.topic_cmp(*a, *b));
        ts
    }

    fn assign_partition(&mut self, t: u32, p: u32, member: usize) {
        let old = self.owners[t as usize][p as usize];
        if old >= 0 {
            self.sizes[old as usize] -= 1;
        }
        self.owners[t as usize][p as usize] = member as i64;
        self.sizes[member] += 1;
    }
}

/// Java's `MemberAssignmentBalancer`: ranges of least and most loaded subscribers.
struct Balancer {
    sorted: Vec<usize>,
    least_end: usize,
    least_count: i64,
    next_least: usize,
    most_start: usize,
    most_end: usize,
    most_count: i64,
    next_most: i64,
}

impl Balancer {
    fn new(members: &[usize], sizes: &[i64]) -> (Balancer, i64) {
        let mut sorted = members.to_vec();
        sorted.sort_by_key(|&m| (sizes[m], m));
        let first = sizes[sorted[0]];
        let last = sizes[*sorted.last().expect("subscribers")];
        let n = sorted.len();
        let b = Balancer {
            sorted,
            least_end: 0,
            least_count: first - 1,
            next_least: 0,
            most_start: n,
            most_end: n,
            most_count: last + 1,
            next_most: n as i64 - 1,
        };
        (b, last - first)
    }

    fn next_least_loaded(&mut self, sizes: &[i64]) -> usize {
        if self.next_least >= self.least_end {
            self.least_count += 1;
            while self.least_end < self.sorted.len() && sizes[self.sorted[self.least_end]] == self.least_count
            {
                self.least_end += 1;
            }
            self.next_least = 0;
        }
        let m = self.sorted[self.next_least];
        self.next_least += 1;
        m
    }

    fn next_most_loaded(&mut self, sizes: &[i64]) -> Option<usize> {
        if self.next_most < self.most_start as i64 {
            if self.most_end <= self.most_start && self.most_start > 0 {
                self.most_count = sizes[self.sorted[self.most_start - 1]];
            } else {
                self.most_count -= 1;
            }
            while self.most_start > 0 && sizes[self.sorted[self.most_start - 1]] == self.most_count {
                self.most_start -= 1;
            }
            self.next_most = self.most_end as i64 - 1;
        }
        if self.next_most < 0 {
            return None;
        }
        let m = self.sorted[self.next_most as usize];
        self.next_most -= 1;
        Some(m)
    }

    fn exclude_most_loaded(&mut self) {
        let at = (self.next_most + 1) as usize;
        self.sorted.swap(at, self.most_end - 1);
        self.most_end -= 1;
    }

    fn is_balanced(&self) -> bool {
        self.most_count - self.least_count <= 1
    }
}

/// Per member (by index in `members`), its partitions.
pub(crate) fn assign(members: &[MemberSubscription], topics: &[Topic]) -> Vec<Vec<(u32, u32)>> {
    let order = member_order(members);
    let mut b = Builder {
        topics,
        subscribers: vec![Vec::new(); topics.len()],
        owners: topics.iter().map(|t| vec![-1; t.partitions as usize]).collect(),
        sizes: vec![0; members.len()],
    };
    for (number, &i) in order.iter().enumerate() {
        for &t in &members[i].topics {
            if !b.subscribers[t as usize].contains(&number) {
                b.subscribers[t as usize].push(number);
            }
        }
    }
    let subscribed: Vec<u32> = (0..topics.len() as u32)
        .filter(|t| !b.subscribers[*t as usize].is_empty())
        .collect();
    if !subscribed.is_empty() {
        // keep what is still subscribed
        for (number, &i) in order.iter().enumerate() {
            for (t, parts) in owned_map(&members[i], topics) {
                if members[i].topics.contains(&t) {
                    for p in parts {
                        b.owners[t as usize][p as usize] = number as i64;
                        b.sizes[number] += 1;
                    }
                }
            }
        }
        assign_remaining(&mut b, &subscribed);
        let movable: Vec<u32> = subscribed
            .iter()
            .copied()
            .filter(|t| b.subscribers[*t as usize].len() >= 2)
            .collect();
        if !movable.is_empty() {
            balance_topics(&mut b, movable);
        }
    }
    let mut result = vec![Vec::new(); members.len()];
    for (t, owners) in b.owners.iter().enumerate() {
        for (p, &o) in owners.iter().enumerate() {
            if o >= 0 {
                result[order[o as usize]].push((t as u32, p as u32));
            }
        }
    }
    result
}

fn assign_remaining(b: &mut Builder, subscribed: &[u32]) {
    let with_unassigned: Vec<u32> = subscribed
        .iter()
        .copied()
        .filter(|t| b.owners[*t as usize].contains(&-1))
        .collect();
    for t in b.sorted_topics(with_unassigned) {
        let (mut balancer, _) = Balancer::new(&b.subscribers[t as usize], &b.sizes);
        let free: Vec<u32> = (0..topics_len(b, t))
            .filter(|p| b.owners[t as usize][*p as usize] == -1)
            .collect();
        for p in free {
            let m = balancer.next_least_loaded(&b.sizes);
            b.assign_partition(t, p, m);
        }
    }
}

fn topics_len(b: &Builder, t: u32) -> u32 {
    b.topics[t as usize].partitions
}

fn balance_topics(b: &mut Builder, topics: Vec<u32>) {
    let sorted = b.sorted_topics(topics);
    let mut last_rebalanced: Option<usize> = None;
    for _ in 0..MAX_ITERATION_COUNT {
        for (index, &t) in sorted.iter().enumerate() {
            if last_rebalanced == Some(index) {
                return;
            }
            let moved = balance_topic(b, t);
            if moved > 0 || last_rebalanced.is_none() {
                last_rebalanced = Some(index);
            }
        }
    }
}

fn balance_topic(b: &mut Builder, t: u32) -> usize {
    let (mut balancer, imbalance) = Balancer::new(&b.subscribers[t as usize], &b.sizes);
    if imbalance <= 1 {
        return 0;
    }
    let owners = b.owners[t as usize].clone();
    let mut partitions: Vec<u32> = (0..topics_len(b, t)).collect();
    partitions.sort_by_key(|&p| (owners[p as usize], p));
    let mut start: std::collections::BTreeMap<i64, usize> = Default::default();
    let mut end: std::collections::BTreeMap<i64, usize> = Default::default();
    for (i, &p) in partitions.iter().enumerate() {
        let o = owners[p as usize];
        start.entry(o).or_insert(i);
        end.insert(o, i + 1);
    }
    let mut moved = 0;
    while !balancer.is_balanced() {
        let mut most = None;
        while let Some(m) = balancer.next_most_loaded(&b.sizes) {
            let key = m as i64;
            match end.get(&key) {
                Some(&e) if e > start[&key] => {
                    most = Some(m);
                    break;
                }
                _ => balancer.exclude_most_loaded(),
            }
        }
        let Some(most) = most else { break };
        let key = most as i64;
        let e = end[&key];
        let p = partitions[e - 1];
        end.insert(key, e - 1);
        let least = balancer.next_least_loaded(&b.sizes);
        if balancer.is_balanced() {
            break;
        }
        b.assign_partition(t, p, least);
        moved += 1;
    }
    moved
}
