//! Shared vocabulary: topic-partitions, cluster metadata, records.

use std::fmt;
use std::sync::Arc;
use triomphe::ThinArc;

/// A topic-partition. `topic` indexes [`Metadata::topics`], which is sorted by name, so
/// ordering `Tp`s orders them as Kafka does (by topic name, then partition).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tp {
    /// Index of the topic in the cluster's metadata.
    pub topic: u32,
    /// Partition number.
    pub partition: u32,
}

impl Tp {
    /// `Tp { topic, partition }`.
    pub const fn new(topic: u32, partition: u32) -> Tp {
        Tp { topic, partition }
    }
}

/// A group member id as the coordinator hands it out (`client.id-UUID`).
pub type MemberId = Arc<str>;

/// One topic as the cluster describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMeta {
    /// Topic name.
    pub name: Arc<str>,
    /// Number of partitions (≥ 1).
    pub partitions: u32,
}

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The internal topic holding the transaction coordinators' state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// What a Metadata response tells a client: the topics, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Sorted by name.
    pub topics: Vec<TopicMeta>,
}

impl Metadata {
    /// Builds metadata from `(name, partitions)`, sorting by name.
    pub fn new(mut topics: Vec<TopicMeta>) -> Metadata {
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        for w in topics.windows(2) {
            assert!(w[0].name != w[1].name, "duplicate topic {}", w[0].name);
        }
        Metadata { topics }
    }

    /// The index of topic `name`.
    pub fn topic_index(&self, name: &str) -> Option<u32> {
        self.topics
            .binary_search_by(|t| t.name.as_ref().cmp(name))
            .ok()
            .map(|i| i as u32)
    }

    /// The name of topic `index`; the index after the last user topic is Kafka's internal
    /// `__consumer_offsets`, the next one `__transaction_state`.
    pub fn topic_name(&self, index: u32) -> &str {
        match self.topics.get(index as usize) {
            Some(t) => &t.name,
            None if index as usize == self.topics.len() => OFFSETS_TOPIC,
            None => TRANSACTION_STATE_TOPIC,
        }
    }

    /// Whether `tp` is a partition of the internal offsets topic.
    pub fn is_internal(&self, tp: Tp) -> bool {
        tp.topic as usize >= self.topics.len()
    }

    /// Partition count of topic `index`.
    pub fn partitions(&self, index: u32) -> u32 {
        self.topics[index as usize].partitions
    }

    /// Every partition of every topic, in order.
    pub fn all_partitions(&self) -> impl Iterator<Item = Tp> + '_ {
        self.topics
            .iter()
            .enumerate()
            .flat_map(|(t, m)| (0..m.partitions).map(move |p| Tp::new(t as u32, p)))
    }

    /// `topic-partition` as Kafka prints it.
    pub fn display(&self, tp: Tp) -> TpDisplay<'_> {
        TpDisplay { meta: self, tp }
    }
}

/// Displays a [`Tp`] as `name-partition`.
pub struct TpDisplay<'a> {
    meta: &'a Metadata,
    tp: Tp,
}

impl fmt::Display for TpDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.meta.topic_name(self.tp.topic), self.tp.partition)
    }
}

/// Identity of a produced record: which producer, and its send number there. Lets checkers
/// tell one record written twice (a retry) from two records with equal payloads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    /// Index of the producer in the scenario.
    pub producer: u32,
    /// 0-based send number at that producer.
    pub seq: u32,
}

/// Lengths of a payload's key and value; `NULL` for a null key or value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Lengths {
    key: u32,
    value: u32,
}

const NULL: u32 = u32::MAX;

/// A record's key and value as the producer sent them, in one shared allocation: a pointer
/// to a reference count, the two lengths and the bytes. Every copy of the record — the
/// producer's, each replica's log, each fetch, each history event — is that one pointer, and
/// a record costs 24 bytes of heap beyond its key and value.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(ThinArc<Lengths, u8>);

impl Payload {
    /// A payload of `key` and `value` (`None`: null key, or a tombstone).
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>) -> Payload {
        let len = |b: Option<&[u8]>| {
            b.map_or(NULL, |b| {
                u32::try_from(b.len())
                    .ok()
                    .filter(|&n| n != NULL)
                    .expect("payload under 4 GiB")
            })
        };
        let lengths = Lengths {
            key: len(key),
            value: len(value),
        };
        let (k, v) = (key.unwrap_or_default(), value.unwrap_or_default());
        Payload(ThinArc::from_header_and_iter(lengths, Concat(k, v)))
    }

    fn lengths(&self) -> Lengths {
        self.0.header.header
    }

    /// The key (`None` = null key).
    pub fn key(&self) -> Option<&[u8]> {
        match self.lengths().key {
            NULL => None,
            k => Some(&self.0.slice[..k as usize]),
        }
    }

    /// The value (`None` = tombstone).
    pub fn value(&self) -> Option<&[u8]> {
        let l = self.lengths();
        let start = if l.key == NULL { 0 } else { l.key as usize };
        match l.value {
            NULL => None,
            _ => Some(&self.0.slice[start..]),
        }
    }

    /// Bytes the record occupies in a batch, as the producer estimates it (key + value + a
    /// fixed per-record overhead of the v2 record format).
    pub fn size_estimate(&self) -> usize {
        const OVERHEAD: usize = 21;
        OVERHEAD + self.0.slice.len()
    }
}

/// The bytes of two slices, one after the other, with their exact length known.
struct Concat<'a>(&'a [u8], &'a [u8]);

impl Iterator for Concat<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (first, rest) = match self.0.split_first() {
            Some(x) => x,
            None => {
                let (first, rest) = self.1.split_first()?;
                self.1 = rest;
                return Some(*first);
            }
        };
        self.0 = rest;
        Some(*first)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() + self.1.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Concat<'_> {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("key", &self.key().map(String::from_utf8_lossy))
            .field("value", &self.value().map(String::from_utf8_lossy))
            .finish()
    }
}

/// A record in a partition's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The producer's identity for it.
    pub id: RecordId,
    /// Key and value.
    pub payload: Payload,
}

/// Formats optional bytes as Python's `bytes.decode()` would print them, `None` for null.
pub fn show_bytes(b: Option<&[u8]>) -> String {
    match b {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => "None".to_string(),
    }
}

/// A small map kept as a vector sorted by key: for the few entries a client or broker keeps
/// per request (a consumer's positions, a broker's parked fetches), where a `BTreeMap`'s
/// nodes cost more than they save. Iterates in key order, as a `BTreeMap` would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { entries: Vec::new() }
    }
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// Sets `key` to `value`; returns the value it had.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().map(|at| &mut self.entries[at].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    /// Entries in key order.
    pub fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Entries in key order, as a slice.
    pub fn as_slice(&self) -> &[(K, V)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_map_behaves_like_a_btree_map() {
        let mut m = VecMap::default();
        let mut r = std::collections::BTreeMap::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..2_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 37) as u32;
            match x % 4 {
                0 => assert_eq!(m.remove(&k), r.remove(&k)),
                1 => {
                    if let (Some(a), Some(b)) = (m.get_mut(&k), r.get_mut(&k)) {
                        *a += 1;
                        *b += 1;
                    }
                }
                _ => assert_eq!(m.insert(k, i), r.insert(k, i)),
            }
            assert_eq!(m.get(&k), r.get(&k));
            assert_eq!(m.contains_key(&k), r.contains_key(&k));
            assert_eq!(m.len(), r.len());
        }
        assert!(m.iter().eq(r.iter()));
        assert!(m.keys().eq(r.keys()));
        assert!(m.values().eq(r.values()));
        m.clear();
        assert!(m.is_empty());
    }

    #[test]
    fn long_payloads_keep_their_bytes() {
        let key = vec![7u8; 100];
        let value: Vec<u8> = (0..=255).collect();
        let p = Payload::new(Some(&key), Some(&value));
        assert_eq!(p.key(), Some(&key[..]));
        assert_eq!(p.value(), Some(&value[..]));
        let short = Payload::new(Some(&key[..60]), Some(&value[..68]));
        assert_eq!(short.key(), Some(&key[..60]));
        assert_eq!(short.value(), Some(&value[..68]));
    }

    #[test]
    fn payload_keeps_key_and_value_apart() {
        let p = Payload::new(Some(b"msg1_key"), Some(b"hello"));
        assert_eq!(
            (p.key(), p.value()),
            (Some(&b"msg1_key"[..]), Some(&b"hello"[..]))
        );
        assert_eq!(p.size_estimate(), 21 + 13);
        let null_key = Payload::new(None, Some(b"v"));
        assert_eq!((null_key.key(), null_key.value()), (None, Some(&b"v"[..])));
        let tombstone = Payload::new(Some(b"k"), None);
        assert_eq!((tombstone.key(), tombstone.value()), (Some(&b"k"[..]), None));
        let empty = Payload::new(Some(b""), Some(b""));
        assert_eq!((empty.key(), empty.value()), (Some(&b""[..]), Some(&b""[..])));
        let nothing = Payload::new(None, None);
        assert_eq!((nothing.key(), nothing.value()), (None, None));
        // an empty key is not a null key, and equality sees the split
        assert_ne!(
            Payload::new(Some(b""), Some(b"ab")),
            Payload::new(None, Some(b"ab"))
        );
        assert_ne!(
            Payload::new(Some(b"a"), Some(b"b")),
            Payload::new(Some(b"ab"), Some(b""))
        );
        assert_eq!(p.clone(), p);
        assert_eq!(std::mem::size_of::<Payload>(), 8);
    }
}
