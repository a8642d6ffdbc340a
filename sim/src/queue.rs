//! The event queue: a binary heap ordered by `(time, sequence)`.
//!
//! The sequence number is a counter incremented on every push, so two events for the same
//! instant pop in the order they were pushed. That makes the order of a run independent of
//! the heap's internal layout, and is the engine's first determinism rule.
//!
//! The heap holds only 24-byte keys `(time, seq, slot)`; payloads wait in a slab whose free
//! slots are reused, so a sift moves keys, not messages, and steady state allocates nothing.
//!
//! An event can be cancelled by its [`Handle`]: its payload leaves the slab at once and its
//! key, left in the heap, is skipped when it comes to the top (beside each slot the sequence
//! number it holds, so a key whose slot was cancelled and reused since is recognised).

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

/// Names one pushed event, to cancel it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle {
    seq: u64,
    slot: u32,
}

impl Handle {
    /// The event's sequence number.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

/// A priority queue of items keyed by virtual time, ties broken by insertion order.
pub struct EventQueue<T> {
    heap: BinaryHeap<Key>,
    slots: Vec<Option<T>>,
    /// Per slot: the sequence number of the event it holds (or held last).
    seqs: Vec<u64>,
    free: Vec<u32>,
    next_seq: u64,
    /// Keys in the heap whose event was cancelled.
    cancelled: usize,
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
            seqs: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            next_seq: 0,
            cancelled: 0,
        }
    }

    /// Schedules `item` at `time`; returns its sequence number.
    pub fn push(&mut self, time: Time, item: T) -> u64 {
        self.push_handle(time, item).seq
    }

    /// Schedules `item` at `time`; returns the handle that cancels it.
    pub fn push_handle(&mut self, time: Time, item: T) -> Handle {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none());
                self.slots[slot as usize] = Some(item);
                self.seqs[slot as usize] = seq;
                slot
            }
            None => {
                self.slots.push(Some(item));
                self.seqs.push(seq);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Key { time, seq, slot });
        Handle { seq, slot }
    }

    /// Whether `key`'s event is still in its slot (not cancelled).
    fn live(&self, key: &Key) -> bool {
        self.seqs[key.slot as usize] == key.seq && self.slots[key.slot as usize].is_some()
    }

    /// Drops the keys of cancelled events from the top of the heap (none to look for unless
    /// an event was cancelled: the common case costs one comparison).
    #[inline]
    fn skip_cancelled(&mut self) {
        if self.cancelled != 0 {
            self.skip_cancelled_keys();
        }
    }

    #[cold]
    fn skip_cancelled_keys(&mut self) {
        while self.cancelled > 0 {
            match self.heap.peek() {
                Some(key) if !self.live(key) => {
                    self.heap.pop();
                    self.cancelled -= 1;
                }
                _ => break,
            }
        }
    }

    /// Removes and returns the earliest event as `(time, seq, item)`.
    pub fn pop(&mut self) -> Option<(Time, u64, T)> {
        self.skip_cancelled();
        let key = self.heap.pop()?;
        let item = self.slots[key.slot as usize]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(key.slot);
        Some((key.time, key.seq, item))
    }

    /// Cancels the event `handle` names, if it is still pending: returns it.
    pub fn cancel(&mut self, handle: Handle) -> Option<T> {
        if self.seqs.get(handle.slot as usize) != Some(&handle.seq) {
            return None;
        }
        let item = self.slots[handle.slot as usize].take()?;
        self.free.push(handle.slot);
        self.cancelled += 1;
        Some(item)
    }

    /// The time of the earliest event.
    pub fn peek_time(&mut self) -> Option<Time> {
        self.skip_cancelled();
        self.heap.peek().map(|e| e.time)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled
    }

    /// No pending events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn a_cancelled_event_never_pops_and_its_slot_is_reused() {
        let mut q = EventQueue::new();
        let a = q.push_handle(Time::ms(1), "a");
        let b = q.push_handle(Time::ms(2), "b");
        q.push(Time::ms(3), "c");
        assert_eq!(q.cancel(a), Some("a"));
        assert_eq!(q.cancel(a), None, "cancelled once");
        assert_eq!(q.len(), 2);
        assert_eq!(q.peek_time(), Some(Time::ms(2)), "the cancelled head is skipped");
        // a's slot is reused by d; a's stale key must not take d's event with it
        let d = q.push_handle(Time::ms(1), "d");
        assert_eq!(
            q.cancel(a),
            None,
            "an old handle does not cancel the slot's new event"
        );
        assert_eq!(q.pop().map(|(t, _, x)| (t, x)), Some((Time::ms(1), "d")));
        assert_eq!(q.cancel(d), None, "popped already");
        assert_eq!(q.pop().map(|(_, _, x)| x), Some("b"));
        assert_eq!(q.cancel(b), None);
        assert_eq!(q.pop().map(|(_, _, x)| x), Some("c"));
        assert!(q.is_empty() && q.pop().is_none());
    }

    #[test]
    fn cancelling_matches_a_reference_under_random_interleaving() {
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeMap::new();
        let mut handles: Vec<Handle> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut now = 0u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 | 1 => {
                    let h = q.push_handle(Time(now + x % 1000), i);
                    reference.insert((now + x % 1000, h.seq()), i);
                    handles.push(h);
                }
                2 if !handles.is_empty() => {
                    let h = handles.swap_remove((x >> 8) as usize % handles.len());
                    let expected = reference
                        .iter()
                        .find(|((_, s), _)| *s == h.seq())
                        .map(|(k, v)| (*k, *v));
                    if let Some((k, _)) = expected {
                        reference.remove(&k);
                    }
                    assert_eq!(q.cancel(h), expected.map(|(_, v)| v));
                }
                _ => {
                    let got = q.pop().map(|(t, s, v)| ((t.0, s), v));
                    assert_eq!(got, reference.pop_first());
                    if let Some(((t, _), _)) = got {
                        now = t;
                    }
                }
            }
            assert_eq!(q.len(), reference.len());
            assert_eq!(q.peek_time().map(|t| t.0), reference.keys().next().map(|k| k.0));
        }
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
