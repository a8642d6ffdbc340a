//! The consumers' side of a real run: polling every running consumer (recording what it
//! consumes, and the positions each new assignment starts from; a pipeline consumer's batch
//! goes through its transaction), waiting for groups to settle, and a group-less consumer's
//! `assign()`.

use super::record::{id_from, ConsumerCtx, Names, Recorder, ID_HEADER};
use super::transactions::Pipeline;
use super::{failed, AdapterError};
use models::history::{Event, PositionSource};
use models::types::{Metadata, Payload, Tp};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A running consumer.
pub(super) struct LiveConsumer {
    pub(super) actor: u32,
    pub(super) group: String,
    pub(super) topics: Vec<u32>,
    pub(super) consumer: BaseConsumer<ConsumerCtx>,
    pub(super) reset: models::protocol::OffsetSpec,
    /// `isolation.level=read_committed`.
    pub(super) read_committed: bool,
    /// The transactional side of a pipeline consumer.
    pub(super) pipeline: Option<Pipeline>,
}

/// Polls every consumer until it has nothing more right now; records what they consume and,
/// after each new assignment, the positions they start from. A pipeline consumer's poll
/// returns at most `max.poll.records` records — what its fetches hold, gathered until none
/// comes for 50 ms — and the batch is copied in one transaction.
pub(super) fn pump(live: &mut [LiveConsumer], names: &Names, rec: &Recorder) -> Result<(), AdapterError> {
    for c in live.iter_mut() {
        let limit = c.pipeline.as_ref().map_or(usize::MAX, |p| p.max_poll_records);
        let mut batch: Vec<(Tp, Payload)> = Vec::new();
        let mut quiet_since: Option<Instant> = None;
        for _ in 0..10_000 {
            if batch.len() >= limit {
                break;
            }
            match c.consumer.poll(Duration::ZERO) {
                None if c.pipeline.is_none() || batch.is_empty() => break,
                None => {
                    if quiet_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(50) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Some(Err(_)) => continue,
                Some(Ok(m)) => {
                    quiet_since = None;
                    if let Some(got) = consumed(c, &m, names, rec) {
                        if c.pipeline.is_some() {
                            batch.push(got);
                        }
                    }
                }
            }
        }
        if let (Some(p), false) = (c.pipeline.as_mut(), batch.is_empty()) {
            p.transact(&c.consumer, &batch, names, rec)?;
        }
        let fresh: Vec<Tp> = std::mem::take(&mut *c.consumer.context().fresh.lock().expect("fresh"));
        if !fresh.is_empty() {
            record_positions(c, &fresh, names, rec)?;
        }
    }
    Ok(())
}

/// Records a message `c` consumed, if it is a record of the run: its partition and payload.
fn consumed(
    c: &LiveConsumer,
    m: &rdkafka::message::BorrowedMessage<'_>,
    names: &Names,
    rec: &Recorder,
) -> Option<(Tp, Payload)> {
    let tp = names.tp(m.topic(), m.partition())?;
    let id = m.headers().and_then(|h| {
        h.iter()
            .find(|h| h.key == ID_HEADER)
            .and_then(|h| h.value.and_then(id_from))
    })?;
    let payload = Payload::new(m.key(), m.payload());
    let generation = *c.consumer.context().generation.lock().expect("generation");
    rec.record(
        c.actor,
        Event::Consumed {
            group: c.group.as_str().into(),
            generation,
            tp,
            offset: m.offset(),
            id,
            payload: payload.clone(),
        },
    );
    Some((tp, payload))
}

/// Retries a broker look-up that can fail while leadership settles (`NotLeaderForPartition`,
/// metadata not yet propagated): up to 5 s.
pub(super) fn retrying<T>(what: &str, mut f: impl FnMut() -> KafkaResult<T>) -> Result<T, AdapterError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(AdapterError::Failed(format!("{what}: {e}"))),
        }
    }
}

fn record_positions(c: &LiveConsumer, tps: &[Tp], names: &Names, rec: &Recorder) -> Result<(), AdapterError> {
    let mut tpl = TopicPartitionList::new();
    for tp in tps {
        tpl.add_partition(&names.real[tp.topic as usize], tp.partition as i32);
    }
    let committed = retrying("committed offsets", || {
        c.consumer.committed_offsets(tpl.clone(), Duration::from_secs(10))
    })?;
    for e in committed.elements() {
        let Some(tp) = names.tp(e.topic(), e.partition()) else {
            continue;
        };
        let (offset, from) = match e.offset() {
            Offset::Offset(o) => (o, PositionSource::Committed),
            _ => {
                let (lo, hi) = retrying("watermarks", || {
                    c.consumer
                        .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(10))
                })?;
                match c.reset {
                    models::protocol::OffsetSpec::Earliest => (lo, PositionSource::Earliest),
                    models::protocol::OffsetSpec::Latest => (hi, PositionSource::Latest),
                }
            }
        };
        rec.record(
            c.actor,
            Event::PositionSet {
                group: c.group.as_str().into(),
                tp,
                offset,
                from,
            },
        );
    }
    Ok(())
}

/// `virtual_ms` of virtual time as real time at `scale` real seconds per virtual second:
/// zero for a scale that is not a non-negative number, at most an hour.
pub(super) fn scaled(virtual_ms: u64, scale: f64) -> Duration {
    let secs = virtual_ms as f64 / 1000.0 * scale;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs.min(3600.0)).unwrap_or(Duration::ZERO)
}

pub(super) fn pause(
    live: &mut [LiveConsumer],
    names: &Names,
    rec: &Recorder,
    d: Duration,
) -> Result<(), AdapterError> {
    let until = Instant::now() + d;
    loop {
        pump(live, names, rec)?;
        if Instant::now() >= until {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2).min(until - Instant::now()));
    }
}

/// Waits until every running consumer has an assignment and each group's assignments cover
/// every partition of its topics.
pub(super) fn settle(
    live: &mut [LiveConsumer],
    meta: &Metadata,
    names: &Names,
    rec: &Recorder,
    (timeout, quiet): (Duration, Duration),
) -> Result<(), AdapterError> {
    if live.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut settled_since: Option<Instant> = None;
    loop {
        pump(live, names, rec)?;
        let mut ok = live
            .iter()
            .all(|c| *c.consumer.context().generation.lock().expect("generation") > 0);
        let groups: BTreeSet<&str> = live.iter().map(|c| c.group.as_str()).collect();
        for g in groups {
            let members: Vec<&LiveConsumer> = live.iter().filter(|c| c.group == g).collect();
            let owned: BTreeSet<Tp> = members
                .iter()
                .flat_map(|c| c.consumer.context().owned.lock().expect("owned").clone())
                .collect();
            let wanted: BTreeSet<Tp> = members
                .iter()
                .flat_map(|c| {
                    c.topics
                        .iter()
                        .flat_map(|t| (0..meta.partitions(*t)).map(|p| Tp::new(*t, p)))
                })
                .collect();
            ok &= owned == wanted;
        }
        // settled, and still settled a moment later (no rebalance or revocation about to start)
        match (ok, settled_since) {
            (true, Some(since)) if since.elapsed() > quiet => return Ok(()),
            (true, None) => settled_since = Some(Instant::now()),
            (false, _) => settled_since = None,
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(AdapterError::Failed(format!(
                "the groups did not settle within {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A consumer without a group (kafka-python's `group_id=None`): `assign()` of every partition
/// of its topics from `auto.offset.reset`, recorded as the simulator records it (one
/// assignment, generation −1); it counts as settled at once. `group.id` is set (librdkafka
/// wants one) but never joined.
pub(super) fn assign_all(
    consumer: &BaseConsumer<ConsumerCtx>,
    meta: &Metadata,
    names: &Names,
    topics: &[u32],
    (actor, reset): (u32, models::protocol::OffsetSpec),
    rec: &Recorder,
) -> Result<(), AdapterError> {
    // from auto.offset.reset, as kafka-python does without a group (no committed offsets)
    let from = match reset {
        models::protocol::OffsetSpec::Earliest => Offset::Beginning,
        models::protocol::OffsetSpec::Latest => Offset::End,
    };
    let tps: Vec<Tp> = topics
        .iter()
        .flat_map(|t| (0..meta.partitions(*t)).map(move |p| Tp::new(*t, p)))
        .collect();
    let mut tpl = TopicPartitionList::new();
    for tp in &tps {
        tpl.add_partition_offset(&names.real[tp.topic as usize], tp.partition as i32, from)
            .map_err(failed("assign"))?;
    }
    consumer.assign(&tpl).map_err(failed("assign"))?;
    let ctx = consumer.context();
    *ctx.generation.lock().expect("generation") = 1;
    ctx.owned.lock().expect("owned").extend(tps.iter().copied());
    ctx.fresh.lock().expect("fresh").extend(tps.iter().copied());
    rec.record(
        actor,
        Event::Assigned {
            group: ctx.group.clone(),
            generation: -1,
            partitions: tps.into(),
        },
    );
    Ok(())
}
