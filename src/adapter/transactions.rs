//! Transactions through rdkafka's transactional API (KIP-98, KIP-447): a scenario's
//! transactional producers (`transactional.id` and `transactions = {records, abort_every}`)
//! and its consume–transform–produce pipelines (`pipeline = {...}`), staged as Kafka's
//! documented loops, recording the history events the simulator writes.
//!
//! * A transactional producer: `init_transactions`, then per transaction
//!   `begin_transaction`, its records, `flush` and `commit_transaction` — or
//!   `abort_transaction` for every `abort_every`-th. The flush before an abort makes every
//!   record of the transaction reach the log, as the simulator's sender has them in flight
//!   when the application aborts (librdkafka's abort would purge what is still queued, which
//!   depends on timing).
//! * A pipeline: per batch of at most `max.poll.records` records polled by its consumer
//!   (`read_committed`, no auto-commit), `begin_transaction`, one copy (key and value) of
//!   each to the output topic, `send_offsets_to_transaction` with the consumer's positions
//!   and group metadata, `flush`, `commit_transaction`.
//! * History: `txn_begin`, `txn_offsets`, `txn_commit`, `txn_abort` by the producer;
//!   `txn_offsets_commit` by the broker when a commit with offsets returns. librdkafka
//!   exposes neither the producer id nor the epoch: the events carry `-1 − actor` as the id
//!   and `-1` as the epoch. Markers are control records no client sees: after the run each
//!   offset below a partition's log end that holds no record of the run is recorded as the
//!   marker of the earliest transaction that ended in that partition before it and has none
//!   yet (exact while one producer writes each partition), at the time its commit or abort
//!   returned.

use super::drive::{send_record, Driver};
use super::record::{ConsumerCtx, Names, ProducerCtx, Recorder};
use super::{failed, AdapterError};
use models::history::{Event, TxnEvent, TxnStep};
use models::types::{Payload, RecordId, Tp};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the transactions of `scenario` cannot be staged, if they cannot: a transaction held
/// open (`hang_ms`: its point is `transaction.timeout.ms` passing, which scaled real time
/// does not reproduce) or a pipeline that commits its offsets outside the transaction.
pub(super) fn unstageable(scenario: &models::scenario::Scenario) -> Option<String> {
    if let Some(p) = scenario
        .producers
        .iter()
        .find(|p| p.transactions.as_ref().is_some_and(|t| t.hang_ms > 0))
    {
        return Some(format!(
            "producer {}: transactions held open (hang_ms) are not staged against a real broker",
            p.name
        ));
    }
    scenario
        .consumers
        .iter()
        .find(|c| {
            c.pipeline
                .as_ref()
                .is_some_and(|p| p.offsets != models::scenario::PipelineOffsets::Transaction)
        })
        .map(|c| {
            format!(
                "consumer {}: only a pipeline with its offsets in the transaction is staged against a real broker",
                c.name
            )
        })
}

/// How long a transactional call may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// A transactional producer's identity in the history.
pub(super) struct TxnIds {
    actor: u32,
    transactional_id: Arc<str>,
}

impl TxnIds {
    pub(super) fn new(actor: u32, transactional_id: &str) -> TxnIds {
        TxnIds {
            actor,
            transactional_id: transactional_id.into(),
        }
    }

    /// The stand-in producer id (librdkafka does not expose the real one).
    fn producer_id(&self) -> i64 {
        -1 - self.actor as i64
    }

    fn record(&self, rec: &Recorder, step: TxnStep) {
        rec.record(
            self.actor,
            Event::Txn(Box::new(TxnEvent {
                transactional_id: self.transactional_id.clone(),
                producer_id: self.producer_id(),
                epoch: -1,
                step,
            })),
        );
    }
}

/// A transactional call's error as the adapter's.
fn txn_failed(what: &'static str) -> impl Fn(rdkafka::error::KafkaError) -> AdapterError {
    move |e| AdapterError::Failed(format!("{what}: {e}"))
}

impl Driver<'_> {
    /// Producer `i`'s records in transactions as its `transactions` spec says; the producer
    /// has been through `init_transactions`.
    pub(super) fn produce_transactions(
        &self,
        i: usize,
        producer: &BaseProducer<ProducerCtx>,
        rec: &Arc<Recorder>,
        payloads: &Arc<Mutex<BTreeMap<RecordId, Payload>>>,
        live: &mut [super::poll::LiveConsumer],
    ) -> Result<u32, AdapterError> {
        let p = &self.scenario.producers[i];
        let spec = p.transactions.clone().expect("a transactional producer");
        let cfg = self
            .scenario
            .producer_config(i)
            .map_err(|e| AdapterError::Unsupported(e.to_string()))?;
        let ids = TxnIds::new(1 + i as u32, cfg.transactional_id.as_deref().unwrap_or_default());
        let topic = &self.names.real[self.meta.topic_index(&p.topic).expect("validated") as usize];
        let records = models::producer::Records::from_spec(p);
        let (mut seq, mut count) = (0u32, 0u32);
        while seq < records.len() {
            producer
                .begin_transaction()
                .map_err(txn_failed("begin_transaction"))?;
            ids.record(rec, TxnStep::Begin);
            for _ in 0..spec.records.max(1) {
                if seq == records.len() {
                    break;
                }
                let (payload, partition) = records.get(seq);
                let id = RecordId {
                    producer: i as u32,
                    seq,
                };
                send_record(producer, topic, id, &payload, partition, payloads)?;
                seq += 1;
                super::poll::pump(live, self.names, rec)?;
                if p.interval_ms > 0 {
                    let gap = super::poll::scaled(p.interval_ms, self.opts.scale);
                    super::poll::pause(live, self.names, rec, gap)?;
                }
            }
            producer.flush(TXN_TIMEOUT).map_err(failed("flush"))?;
            count += 1;
            if spec.abort_every > 0 && count % spec.abort_every == 0 {
                producer
                    .abort_transaction(TXN_TIMEOUT)
                    .map_err(txn_failed("abort_transaction"))?;
                ids.record(rec, TxnStep::Aborted);
            } else {
                producer
                    .commit_transaction(TXN_TIMEOUT)
                    .map_err(txn_failed("commit_transaction"))?;
                ids.record(rec, TxnStep::Committed);
            }
        }
        Ok(records.len())
    }
}

/// A pipeline consumer's transactional side: the producer of its process and where it writes.
pub(super) struct Pipeline {
    pub(super) producer: BaseProducer<ProducerCtx>,
    pub(super) ids: TxnIds,
    /// The scenario index of the producer (the first part of its records' identities).
    pub(super) producer_index: u32,
    /// The output topic's name on the broker.
    pub(super) output: String,
    /// Records written so far.
    pub(super) next_seq: u32,
    /// `max.poll.records`: the most records one transaction copies.
    pub(super) max_poll_records: usize,
    pub(super) payloads: Arc<Mutex<BTreeMap<RecordId, Payload>>>,
}

impl Pipeline {
    /// One transaction of the loop: the batch copied, the consumer's positions sent with the
    /// transaction, committed.
    pub(super) fn transact(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        batch: &[(Tp, Payload)],
        names: &Names,
        rec: &Recorder,
    ) -> Result<(), AdapterError> {
        let producer = &self.producer;
        producer
            .begin_transaction()
            .map_err(txn_failed("begin_transaction"))?;
        self.ids.record(rec, TxnStep::Begin);
        for (_, payload) in batch {
            let id = RecordId {
                producer: self.producer_index,
                seq: self.next_seq,
            };
            self.next_seq += 1;
            send_record(producer, &self.output, id, payload, None, &self.payloads)?;
        }
        let read: BTreeSet<Tp> = batch.iter().map(|(tp, _)| *tp).collect();
        let positions = consumer.position().map_err(failed("position"))?;
        let mut tpl = TopicPartitionList::new();
        let mut offsets = Vec::new();
        for e in positions.elements() {
            if let (Some(tp), Offset::Offset(o)) = (names.tp(e.topic(), e.partition()), e.offset()) {
                if read.contains(&tp) {
                    tpl.add_partition_offset(e.topic(), e.partition(), Offset::Offset(o))
                        .map_err(failed("offsets"))?;
                    offsets.push((tp, o));
                }
            }
        }
        let group = consumer
            .group_metadata()
            .ok_or_else(|| AdapterError::Failed("the pipeline consumer has no group metadata".into()))?;
        producer
            .send_offsets_to_transaction(&tpl, &group, TXN_TIMEOUT)
            .map_err(txn_failed("send_offsets_to_transaction"))?;
        let group_name = consumer.context().group.clone();
        self.ids.record(
            rec,
            TxnStep::OffsetsSent {
                group: group_name.clone(),
                offsets: offsets.clone(),
            },
        );
        producer.flush(TXN_TIMEOUT).map_err(failed("flush"))?;
        producer
            .commit_transaction(TXN_TIMEOUT)
            .map_err(txn_failed("commit_transaction"))?;
        self.ids.record(rec, TxnStep::Committed);
        rec.record(
            0,
            Event::TxnOffsetsCommitted {
                group: group_name,
                producer_id: self.ids.producer_id(),
                offsets,
            },
        );
        Ok(())
    }
}

/// A transaction that ended in a partition: the offset of its last record there, how it
/// ended, when, and its producer's id.
struct Ended {
    last: i64,
    commit: bool,
    time: u64,
    producer_id: i64,
}

/// The markers of `entries` (sorted by time) below each partition's log end in `log_end`:
/// see the module documentation.
pub(super) fn markers(entries: &[(u64, u32, Event)], log_end: &BTreeMap<Tp, i64>) -> Vec<(u64, u32, Event)> {
    let mut data: BTreeMap<Tp, BTreeSet<i64>> = BTreeMap::new();
    // producer process → its open transaction's partitions and last offset in each
    let mut open: BTreeMap<u32, BTreeMap<Tp, i64>> = BTreeMap::new();
    let mut ended: BTreeMap<Tp, Vec<Ended>> = BTreeMap::new();
    for (t, actor, e) in entries {
        match e {
            Event::Txn(x) => match x.step {
                TxnStep::Begin => {
                    open.insert(*actor, BTreeMap::new());
                }
                TxnStep::Committed | TxnStep::Aborted => {
                    for (tp, last) in open.remove(actor).unwrap_or_default() {
                        ended.entry(tp).or_default().push(Ended {
                            last,
                            commit: x.step == TxnStep::Committed,
                            time: *t,
                            producer_id: x.producer_id,
                        });
                    }
                }
                _ => {}
            },
            Event::Produced { tp, offset, .. } => {
                data.entry(*tp).or_default().insert(*offset);
                if let Some(txn) = open.get_mut(actor) {
                    let last = txn.entry(*tp).or_insert(*offset);
                    *last = (*last).max(*offset);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (tp, txns) in &ended {
        let held = data.get(tp);
        let mut taken = vec![false; txns.len()];
        let end = log_end.get(tp).copied().unwrap_or(0);
        for gap in (0..end).filter(|o| !held.is_some_and(|h| h.contains(o))) {
            let Some(k) = (0..txns.len()).find(|&k| !taken[k] && txns[k].last < gap) else {
                continue;
            };
            taken[k] = true;
            out.push((
                txns[k].time,
                0,
                Event::MarkerWritten {
                    tp: *tp,
                    offset: gap,
                    producer_id: txns[k].producer_id,
                    commit: txns[k].commit,
                },
            ));
        }
    }
    out
}

/// What the broker holds at the end of a real run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndState {
    /// Partition → log end offset (the high watermark of a single broker).
    pub log_end: BTreeMap<Tp, i64>,
    /// Pipeline group → partition → committed offset (OffsetFetch, `require_stable`).
    pub committed: BTreeMap<String, BTreeMap<Tp, i64>>,
}

/// The log end offsets of every partition of the run's topics, read by a `read_uncommitted`
/// client (a `read_committed` one's ListOffsets answers the last stable offset).
pub(super) fn log_ends(
    bootstrap: &str,
    meta: &models::types::Metadata,
    names: &Names,
) -> Result<BTreeMap<Tp, i64>, AdapterError> {
    let c: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("isolation.level", "read_uncommitted")
        .create()
        .map_err(failed("create a watermark client"))?;
    let mut out = BTreeMap::new();
    for (t, topic) in meta.topics.iter().enumerate() {
        for p in 0..topic.partitions {
            let (_, hi) = super::poll::retrying("watermarks", || {
                c.fetch_watermarks(&names.real[t], p as i32, Duration::from_secs(10))
            })?;
            out.insert(Tp::new(t as u32, p), hi);
        }
    }
    Ok(out)
}

/// A pipeline group's committed offsets for `tps`, as the broker answers them.
pub(super) fn committed(
    consumer: &BaseConsumer<ConsumerCtx>,
    tps: &[Tp],
    names: &Names,
) -> Result<BTreeMap<Tp, i64>, AdapterError> {
    let mut tpl = TopicPartitionList::new();
    for tp in tps {
        tpl.add_partition(&names.real[tp.topic as usize], tp.partition as i32);
    }
    let got = super::poll::retrying("committed offsets", || {
        consumer.committed_offsets(tpl.clone(), Duration::from_secs(10))
    })?;
    Ok(got
        .elements()
        .iter()
        .filter_map(|e| match (names.tp(e.topic(), e.partition()), e.offset()) {
            (Some(tp), Offset::Offset(o)) => Some((tp, o)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::types::Payload;

    const TP: Tp = Tp {
        topic: 0,
        partition: 0,
    };

    fn txn(step: TxnStep) -> Event {
        Event::Txn(Box::new(TxnEvent {
            transactional_id: "t".into(),
            producer_id: -2,
            epoch: -1,
            step,
        }))
    }

    fn produced(seq: u32, offset: i64) -> Event {
        Event::Produced {
            id: RecordId { producer: 0, seq },
            tp: TP,
            offset,
            payload: Payload::new(None, Some(b"v")),
            batch: None,
        }
    }

    #[test]
    fn each_offset_without_a_record_is_the_marker_of_the_transaction_before_it() {
        let entries = vec![
            (1, 1, txn(TxnStep::Begin)),
            (2, 1, produced(0, 0)),
            (3, 1, produced(1, 1)),
            (10, 1, txn(TxnStep::Aborted)),
            (11, 1, txn(TxnStep::Begin)),
            (12, 1, produced(2, 3)),
            (20, 1, txn(TxnStep::Committed)),
        ];
        let log_end = BTreeMap::from([(TP, 5)]);
        let got: Vec<(u64, i64, bool)> = markers(&entries, &log_end)
            .into_iter()
            .map(|(t, actor, e)| {
                assert_eq!(actor, 0, "written by the broker");
                match e {
                    Event::MarkerWritten { offset, commit, .. } => (t, offset, commit),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(got, [(10, 2, false), (20, 4, true)]);
        // a log end that holds no marker yet: none is made up
        assert_eq!(markers(&entries, &BTreeMap::from([(TP, 4)])).len(), 1);
    }
}
