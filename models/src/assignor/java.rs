//! Java's ordering rules, where Kafka's assignors' answers depend on them.
//!
//! * `String.compareTo` compares UTF-16 code units, not UTF-8 bytes: the two disagree when a
//!   character above U+FFFF (a surrogate pair, 0xD800–0xDFFF) meets one in U+E000–U+FFFF.
//!   [`cmp_utf16`] is Java's order.
//! * `HashMap`/`HashSet` iterate by bucket — `(h ^ (h >>> 16)) & (capacity - 1)` of the key's
//!   `hashCode` — and, within a bucket, in insertion order (a resize splits a bucket keeping
//!   the relative order; `put` adds a key at its bucket's end, `computeIfAbsent` at its head).
//!   The capacity starts at the
//!   constructor's `tableSizeFor(initialCapacity)` (16 by default) and doubles whenever the
//!   size exceeds three quarters of it, or when one bucket would hold a ninth key in a table
//!   under 64. Removals never shrink it. [`JavaHashSet`] keeps keys in insertion order with the
//!   capacity and yields them in Java's order; a `HashMap`'s key set iterates the same way.
//!   (Tree bins — nine keys in one bucket of a table of at least 64 — iterate in a different
//!   order; with the group sizes of a consumer group they do not occur, and are not modelled.)
//! * `hashCode` of the keys Kafka's assignors put in such tables: `String` (UTF-16, from
//!   [`crate::cluster::java_string_hash`]), `Integer`, `Uuid`, `TopicPartition`, and the
//!   sticky assignor's `ConsumerPair`.

use crate::cluster::java_string_hash;
use std::cmp::Ordering;

/// Java's `String.compareTo`: lexicographic over UTF-16 code units.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A key with Java's `hashCode`.
pub trait JavaHash {
    /// The key's `hashCode()`.
    fn java_hash(&self) -> i32;
}

impl JavaHash for str {
    fn java_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for String {
    fn java_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for std::sync::Arc<str> {
    fn java_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHash for u32 {
    /// `Integer.hashCode`: the value.
    fn java_hash(&self) -> i32 {
        *self as i32
    }
}

impl<T: JavaHash + ?Sized> JavaHash for &T {
    fn java_hash(&self) -> i32 {
        (**self).java_hash()
    }
}

/// Kafka's `org.apache.kafka.common.Uuid`: two signed 64-bit halves.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Uuid {
    /// `getMostSignificantBits()`.
    pub msb: i64,
    /// `getLeastSignificantBits()`.
    pub lsb: i64,
}

impl Uuid {
    /// `Uuid.compareTo`: the signed halves, most significant first.
    pub fn java_cmp(&self, other: &Uuid) -> Ordering {
        self.msb.cmp(&other.msb).then(self.lsb.cmp(&other.lsb))
    }

    /// A fixed, well-spread id for the topic at `index` in the metadata. The model has no
    /// topic ids (the broker draws them at creation); what matters to the KIP-848 assignors is
    /// that the ids are distinct and that their order and hashes are fixed.
    pub fn for_topic_index(index: u32) -> Uuid {
        let mix = |x: u64| {
            let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        let seed = u64::from(index)
            .wrapping_add(1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Uuid {
            msb: mix(seed) as i64,
            lsb: mix(seed ^ 0x5851_f42d_4c95_7f2d) as i64,
        }
    }
}

impl JavaHash for Uuid {
    /// `Uuid.hashCode`: the two halves xor-ed, folded to 32 bits.
    fn java_hash(&self) -> i32 {
        let x = self.msb ^ self.lsb;
        ((x >> 32) as i32) ^ (x as i32)
    }
}

/// `TopicPartition.hashCode` of `topic`-`partition`.
pub fn topic_partition_hash(topic: &str, partition: u32) -> i32 {
    31i32
        .wrapping_add(partition as i32)
        .wrapping_mul(31)
        .wrapping_add(java_string_hash(topic))
}

/// `HashMap.tableSizeFor`: the power of two at least `n` (at least 1).
fn table_size_for(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// Keys in insertion order, iterated as a Java `HashSet` (or a `HashMap`'s key set) holds them.
#[derive(Clone, Debug)]
pub struct JavaHashSet<K> {
    keys: Vec<(K, i32)>,
    /// Table length; 0 until the first insert allocates it.
    capacity: usize,
    /// The capacity the first insert allocates.
    initial: usize,
}

impl<K: JavaHash + PartialEq> Default for JavaHashSet<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: JavaHash + PartialEq> JavaHashSet<K> {
    /// `new HashSet<>()` / `new HashMap<>()`: 16 buckets at the first insert.
    pub fn new() -> Self {
        JavaHashSet {
            keys: Vec::new(),
            capacity: 0,
            initial: 16,
        }
    }

    /// `new HashMap<>(initialCapacity)`.
    pub fn with_capacity(initial_capacity: usize) -> Self {
        JavaHashSet {
            keys: Vec::new(),
            capacity: 0,
            initial: table_size_for(initial_capacity),
        }
    }

    /// `new HashSet<>(collection)`: `max(size / .75 + 1, 16)`, then every key in order.
    pub fn copy_of<I: IntoIterator<Item = K>>(keys: I) -> Self
    where
        I::IntoIter: ExactSizeIterator,
    {
        let it = keys.into_iter();
        let n = ((it.len() as f32 / 0.75) as usize + 1).max(16);
        let mut s = Self::with_capacity(n);
        for k in it {
            s.insert(k);
        }
        s
    }

    fn spread(h: i32) -> u32 {
        let h = h as u32;
        h ^ (h >> 16)
    }

    fn bucket(&self, spread: u32) -> usize {
        spread as usize & (self.capacity - 1)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &K) -> bool {
        self.keys.iter().any(|(k, _)| k == key)
    }

    /// `add`/`put` of a new key; false (and no change) if present.
    pub fn insert(&mut self, key: K) -> bool {
        if self.contains(&key) {
            return false;
        }
        if self.capacity == 0 {
            self.capacity = self.initial;
        }
        let spread = Self::spread(key.java_hash());
        let bucket = self.bucket(spread);
        let in_bucket = self
            .keys
            .iter()
            .filter(|(_, s)| self.bucket(*s as u32) == bucket)
            .count();
        self.keys.push((key, spread as i32));
        // treeifyBin on a small table resizes instead
        if in_bucket >= 8 && self.capacity < 64 {
            self.capacity *= 2;
        }
        if self.keys.len() > self.capacity * 3 / 4 {
            self.capacity *= 2;
        }
        true
    }

    /// `HashMap.computeIfAbsent` of a new key; false (and no change) if present. Unlike `put`,
    /// it resizes *before* inserting when the size already exceeds the threshold, puts the
    /// new key at the *head* of its bucket, and a bucket's eighth key already triggers
    /// `treeifyBin`.
    pub fn compute_if_absent(&mut self, key: K) -> bool {
        if self.capacity == 0 {
            self.capacity = self.initial;
        } else if self.keys.len() > self.capacity * 3 / 4 {
            self.capacity *= 2;
        }
        if self.contains(&key) {
            return false;
        }
        let spread = Self::spread(key.java_hash());
        let bucket = self.bucket(spread);
        let mates: Vec<usize> = (0..self.keys.len())
            .filter(|i| self.bucket(self.keys[*i].1 as u32) == bucket)
            .collect();
        match mates.first() {
            Some(&head) => self.keys.insert(head, (key, spread as i32)),
            None => self.keys.push((key, spread as i32)),
        }
        if mates.len() >= 7 && self.capacity < 64 {
            self.capacity *= 2;
        }
        true
    }

    /// `remove`; the capacity stays.
    pub fn remove(&mut self, key: &K) -> bool {
        match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => {
                self.keys.remove(i);
                true
            }
            None => false,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys in Java's iteration order.
    pub fn iter_order(&self) -> Vec<&K> {
        let mut v: Vec<(usize, usize, &K)> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, (k, s))| (self.bucket(*s as u32), i, k))
            .collect();
        v.sort_by_key(|(b, i, _)| (*b, *i));
        v.into_iter().map(|(_, _, k)| k).collect()
    }

    /// The first key Java's iterator yields.
    pub fn first(&self) -> Option<&K> {
        self.keys
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, s))| (self.bucket(*s as u32), *i))
            .map(|(_, (k, _))| k)
    }
}

impl<K: JavaHash + PartialEq + Clone> JavaHashSet<K> {
    /// The keys in Java's iteration order, cloned.
    pub fn ordered(&self) -> Vec<K> {
        self.iter_order().into_iter().cloned().collect()
    }
}

/// Java's iteration order of a `new HashMap<>()` filled with `keys` in this order.
pub fn hash_map_order<K: JavaHash + PartialEq + Clone>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    let mut s = JavaHashSet::new();
    for k in keys {
        s.insert(k);
    }
    s.ordered()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_order_differs_from_utf8_above_the_bmp() {
        // U+1F600 is the pair D83D DE00 in UTF-16, which sorts before U+FF01
        assert_eq!(cmp_utf16("\u{1F600}", "\u{FF01}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF01}"), Ordering::Greater);
        assert_eq!(cmp_utf16("a", "b"), Ordering::Less);
    }

    /// Java: `new HashSet<>(List.of(17, 3, 1, 40))` iterates 17, 1, 3, 40 (16 buckets:
    /// 17 and 1 share bucket 1, in insertion order; 40 & 15 = 8).
    #[test]
    fn integer_set_order() {
        let s = JavaHashSet::copy_of(vec![17u32, 3, 1, 40]);
        assert_eq!(s.ordered(), vec![17, 1, 3, 40]);
        let mut s: JavaHashSet<u32> = JavaHashSet::new();
        for i in 0..13 {
            s.insert(i * 16);
        }
        // the 13th key resized the table to 32: odd multiples of 16 move to bucket 16
        assert_eq!(s.capacity, 32);
        assert_eq!(s.ordered()[..3], [0, 32, 64]);
    }

    /// Java: two `Uuid`s in one bucket, put with `computeIfAbsent`, iterate newest first.
    #[test]
    fn compute_if_absent_puts_at_the_bucket_head() {
        let t0 = Uuid {
            msb: 5851409648613214225,
            lsb: 3417234552736429857,
        };
        let t1 = Uuid {
            msb: 5138852007415445406,
            lsb: -7361292680691379640,
        };
        let mut s = JavaHashSet::new();
        s.compute_if_absent(t0);
        s.compute_if_absent(t1);
        assert_eq!(s.ordered(), vec![t1, t0]);
        let mut s = JavaHashSet::new();
        s.insert(t0);
        s.insert(t1);
        assert_eq!(s.ordered(), vec![t0, t1]);
    }

    #[test]
    fn uuid_hash_and_order() {
        let u = Uuid { msb: 1 << 32, lsb: 3 };
        assert_eq!(u.java_hash(), 1 ^ 3);
        assert_eq!(
            Uuid { msb: -1, lsb: 0 }.java_cmp(&Uuid { msb: 1, lsb: 0 }),
            Ordering::Less
        );
        assert_eq!(topic_partition_hash("a", 0), 31 * 31 + 97);
    }
}
