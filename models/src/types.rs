//! Shared vocabulary: topic-partitions, cluster metadata, records.

use bytes::Bytes;
use std::fmt;
use std::sync::Arc;

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
    /// `__consumer_offsets`.
    pub fn topic_name(&self, index: u32) -> &str {
        match self.topics.get(index as usize) {
            Some(t) => &t.name,
            None => OFFSETS_TOPIC,
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

/// A record's key and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadData {
    /// The record's key (`None` = null key).
    pub key: Option<Bytes>,
    /// The record's value (`None` = tombstone).
    pub value: Option<Bytes>,
}

/// A record's payload as the producer sent it: shared by every copy of the record — the
/// producer's, the logs', each fetch's and the history's — so a copy costs one reference
/// count, and a history event holding it stays small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload(Arc<PayloadData>);

impl std::ops::Deref for Payload {
    type Target = PayloadData;

    fn deref(&self) -> &PayloadData {
        &self.0
    }
}

impl Payload {
    /// A payload of `key` and `value`.
    pub fn new(key: Option<Bytes>, value: Option<Bytes>) -> Payload {
        Payload(Arc::new(PayloadData { key, value }))
    }

    /// Bytes the record occupies in a batch, as the producer estimates it (key + value + a
    /// fixed per-record overhead of the v2 record format).
    pub fn size_estimate(&self) -> usize {
        const OVERHEAD: usize = 21;
        OVERHEAD + self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len)
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
pub fn show_bytes(b: &Option<Bytes>) -> String {
    match b {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => "None".to_string(),
    }
}
