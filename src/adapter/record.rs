//! What the real clients report, recorded as history [`Event`]s: the shared [`Recorder`],
//! topic names on the broker and back ([`Names`]), the `ksim-id` header that carries a
//! record's identity through the broker, and the librdkafka callbacks — the consumer's
//! rebalance callback (`pre_rebalance`: `onPartitionsRevoked`; `post_rebalance`:
//! `onPartitionsAssigned`) and commit callback, and the producer's delivery report.

use models::history::Event;
use models::protocol::ErrorCode;
use models::types::{Metadata, Payload, RecordId, Tp};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The shared history being recorded: µs since the start, actor, event.
pub(super) struct Recorder {
    pub(super) start: Instant,
    pub(super) entries: Mutex<Vec<(u64, u32, Event)>>,
    /// Set when the run is over: teardown (consumers leaving, topics deleted) is not part of
    /// the history, as the simulated run ends with its clients still running.
    pub(super) stopped: std::sync::atomic::AtomicBool,
}

impl Recorder {
    /// Records `e` by `actor` now, unless the run is over.
    pub(super) fn record(&self, actor: u32, e: Event) {
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let t = self.start.elapsed().as_micros() as u64;
        self.entries.lock().expect("recorder").push((t, actor, e));
    }
}

/// Topic names on the broker, and back.
pub(super) struct Names {
    /// The topics' names on the broker, by topic index.
    pub(super) real: Vec<String>,
    index: BTreeMap<String, u32>,
    /// Appended to topic and group names on the broker, so runs never share either.
    pub(super) suffix: String,
}

impl Names {
    /// The topics of `meta` under names ending in `-<suffix>`.
    pub(super) fn new(meta: &Metadata, suffix: &str) -> Names {
        let real: Vec<String> = meta
            .topics
            .iter()
            .map(|t| format!("{}-{suffix}", t.name))
            .collect();
        Names {
            index: real
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect(),
            real,
            suffix: suffix.to_string(),
        }
    }

    /// The partition `partition` of the broker's topic `topic`, if it is one of the run's.
    pub(super) fn tp(&self, topic: &str, partition: i32) -> Option<Tp> {
        self.index.get(topic).map(|t| Tp::new(*t, partition as u32))
    }
    /// The run's partitions in `tpl`, sorted.
    pub(super) fn tps(&self, tpl: &TopicPartitionList) -> Vec<Tp> {
        let mut v: Vec<Tp> = tpl
            .elements()
            .iter()
            .filter_map(|e| self.tp(e.topic(), e.partition()))
            .collect();
        v.sort();
        v
    }
}

/// The header that carries a record's (producer, sequence) identity.
pub(super) const ID_HEADER: &str = "ksim-id";

/// A record's identity as the header's value.
pub(super) fn id_bytes(id: RecordId) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&id.producer.to_be_bytes());
    b[4..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// A record's identity from the header's value.
pub(super) fn id_from(bytes: &[u8]) -> Option<RecordId> {
    (bytes.len() == 8).then(|| RecordId {
        producer: u32::from_be_bytes(bytes[..4].try_into().expect("4")),
        seq: u32::from_be_bytes(bytes[4..].try_into().expect("4")),
    })
}

/// A consumer's callbacks: they record its rebalances and commits.
pub(super) struct ConsumerCtx {
    pub(super) rec: Arc<Recorder>,
    pub(super) names: Arc<Names>,
    pub(super) actor: u32,
    pub(super) group: Arc<str>,
    /// Assignments received so far: the generation the history gives them.
    pub(super) generation: Mutex<i32>,
    /// The partitions it owns now.
    pub(super) owned: Mutex<BTreeSet<Tp>>,
    /// Partitions assigned whose start positions are not recorded yet.
    pub(super) fresh: Mutex<Vec<Tp>>,
}

impl ClientContext for ConsumerCtx {}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let partitions = self.names.tps(tpl);
            let mut owned = self.owned.lock().expect("owned");
            for tp in &partitions {
                owned.remove(tp);
            }
            let generation = *self.generation.lock().expect("generation");
            self.rec.record(
                self.actor,
                Event::Revoked {
                    group: self.group.clone(),
                    generation,
                    partitions: partitions.into(),
                },
            );
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let partitions = self.names.tps(tpl);
            let mut g = self.generation.lock().expect("generation");
            *g += 1;
            self.owned
                .lock()
                .expect("owned")
                .extend(partitions.iter().copied());
            self.fresh
                .lock()
                .expect("fresh")
                .extend(partitions.iter().copied());
            self.rec.record(
                self.actor,
                Event::Assigned {
                    group: self.group.clone(),
                    generation: *g,
                    partitions: partitions.into(),
                },
            );
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let generation = *self.generation.lock().expect("generation");
        match result {
            Ok(()) => {
                let offsets: Vec<(Tp, i64)> = offsets
                    .elements()
                    .iter()
                    .filter_map(|e| match (self.names.tp(e.topic(), e.partition()), e.offset()) {
                        (Some(tp), Offset::Offset(o)) => Some((tp, o)),
                        _ => None,
                    })
                    .collect();
                if !offsets.is_empty() {
                    self.rec.record(
                        self.actor,
                        Event::Committed {
                            group: self.group.clone(),
                            generation,
                            offsets,
                        },
                    );
                }
            }
            Err(e) => self.rec.record(
                self.actor,
                Event::CommitFailed {
                    group: self.group.clone(),
                    error: commit_error(&e),
                },
            ),
        }
    }
}

/// The model's name for why librdkafka failed a commit (a broker's answer, or the client
/// giving up); anything else is `UNKNOWN_SERVER_ERROR`.
fn commit_error(e: &rdkafka::error::KafkaError) -> ErrorCode {
    use rdkafka::types::RDKafkaErrorCode as Rd;
    match e.rdkafka_error_code() {
        Some(Rd::RebalanceInProgress) => ErrorCode::RebalanceInProgress,
        Some(Rd::IllegalGeneration) => ErrorCode::IllegalGeneration,
        Some(Rd::UnknownMemberId) => ErrorCode::UnknownMemberId,
        Some(Rd::FencedInstanceId) => ErrorCode::FencedInstanceId,
        Some(Rd::NotCoordinator) => ErrorCode::NotCoordinator,
        Some(Rd::CoordinatorNotAvailable) => ErrorCode::CoordinatorNotAvailable,
        Some(Rd::CoordinatorLoadInProgress) => ErrorCode::CoordinatorLoadInProgress,
        Some(Rd::RequestTimedOut | Rd::OperationTimedOut) => ErrorCode::RequestTimedOut,
        _ => ErrorCode::UnknownServerError,
    }
}

/// A producer's delivery callback: it records each record's send, append and
/// acknowledgement once delivered.
pub(super) struct ProducerCtx {
    pub(super) rec: Arc<Recorder>,
    pub(super) names: Arc<Names>,
    pub(super) actor: u32,
    /// Every record's payload, by identity.
    pub(super) payloads: Arc<Mutex<BTreeMap<RecordId, Payload>>>,
}

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let id = RecordId {
            producer: (opaque >> 32) as u32,
            seq: opaque as u32,
        };
        let payload = self.payloads.lock().expect("payloads").get(&id).cloned();
        if let (Ok(m), Some(payload)) = (result, payload) {
            if let Some(tp) = self.names.tp(m.topic(), m.partition()) {
                let offset = m.offset();
                // the partitioner runs inside the client: the send is known with its partition
                // only once delivered, so it is recorded here, just before the acknowledgement
                self.rec.record(
                    self.actor,
                    Event::Send {
                        id,
                        tp,
                        payload: payload.clone(),
                    },
                );
                self.rec.record(0, Event::Appended { id, tp, offset });
                self.rec.record(
                    self.actor,
                    Event::Produced {
                        id,
                        tp,
                        offset,
                        payload,
                        // the client's delivery report does not say which batch
                        batch: None,
                    },
                );
            }
        }
    }
}
