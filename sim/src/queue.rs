//! The event queue: a binary heap ordered by `(time, sequence)`.
//!
//! The sequence number is a counter incremented on every push, so two events for the same
//! instant pop in the order they were pushed. That makes the order of a run independent of
//! the heap's internal layout, and is the engine's first determinism rule.
//!
//! The heap holds only 24-byte keys `(time, seq, slot)`; payloads wait in a slab whose free
//! slots are reused, so a sift moves keys, not messages, and steady state allocates nothing.

use crate::time::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Copy, Clone)]
struct Key {
    time: Time,
    seq: u64,
    slot: u32,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)`.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of items keyed by virtual time, ties broken by insertion order.
pub struct EventQueue<T> {
    heap: BinaryHeap<Key>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Schedules `item` at `time`; returns its sequence number.
    pub fn push(&mut self, time: Time, item: T) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none());
                self.slots[slot as usize] = Some(item);
                slot
            }
            None => {
                self.slots.push(Some(item));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Key { time, seq, slot });
        seq
    }

    /// Removes and returns the earliest event as `(time, seq, item)`.
    pub fn pop(&mut self) -> Option<(Time, u64, T)> {
        let key = self.heap.pop()?;
        let item = self.slots[key.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(key.slot);
        Some((key.time, key.seq, item))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|e| e.time)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// No pending events.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Sequence numbers handed out so far (= events ever pushed).
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Time::ms(5), "c");
        q.push(Time::ms(1), "a");
        q.push(Time::ms(5), "d");
        q.push(Time::ms(1), "b");
        q.push(Time::ms(0), "first");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, _, x)| x)).collect();
        assert_eq!(order, ["first", "a", "b", "c", "d"]);
        assert!(q.is_empty());
        assert_eq!(q.pushed(), 5);
    }

    #[test]
    fn matches_a_sorted_order_under_random_interleaving() {
        // pushes at now + a pseudo-random delay (0 to ~2^40 µs) mixed with pops, against a
        // sorted reference; and pushes between a peek and the next pop
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeSet::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut now = 0u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 != 0 || reference.is_empty() {
                let delay = match x % 5 {
                    0 => 0,
                    1 => x % 100,
                    2 => x % 1_000_000,
                    _ => (x >> 20) % (1 << 40),
                };
                let seq = q.push(Time(now + delay), i);
                reference.insert((now + delay, seq, i));
            } else {
                if x % 7 == 0 {
                    let peeked = q.peek_time().unwrap();
                    assert_eq!(peeked.0, reference.first().unwrap().0);
                    // schedule at `now`, before the peeked event: it must come first
                    let seq = q.push(Time(now), i);
                    reference.insert((now, seq, i));
                }
                let (t, seq, item) = q.pop().unwrap();
                assert_eq!(reference.pop_first().unwrap(), (t.0, seq, item));
                now = t.0;
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some((t, seq, item)) = q.pop() {
            assert_eq!(reference.pop_first().unwrap(), (t.0, seq, item));
        }
        assert!(reference.is_empty() && q.is_empty());
    }

    #[test]
    fn many_ties_keep_fifo_order() {
        let mut q = EventQueue::new();
        for i in 0..1000u32 {
            q.push(Time::ms(u64::from(i % 3)), i);
        }
        let mut last: Option<(Time, u32)> = None;
        while let Some((t, _, i)) = q.pop() {
            if let Some((lt, li)) = last {
                assert!(lt < t || (lt == t && li < i), "({lt},{li}) then ({t},{i})");
            }
            last = Some((t, i));
        }
    }
}
