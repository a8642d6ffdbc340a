//! Renderers of a run's history: what each process printed, or JSON lines.

use models::history::{AppValue, Event, TxnStep};
use models::types::{show_bytes, Metadata, Payload, RecordId, Tp};
use models::world::{ClientKind, Run};
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// The lines a process of the seed demos prints for an event, if any.
fn printed(meta: &Metadata, e: &Event) -> Option<String> {
    match e {
        Event::Connected => Some("link kafka ok.".into()),
        Event::Send { payload, .. } => Some(format!(
            "produce: key={}, val={}",
            show_bytes(payload.key()),
            show_bytes(payload.value())
        )),
        Event::ProducerDone { .. } => Some("produce over.".into()),
        Event::Consumed {
            tp, offset, payload, ..
        } => Some(format!(
            "{} {} topic: {}, partition: {}, offset: {}",
            show_bytes(payload.key()),
            show_bytes(payload.value()),
            meta.topic_name(tp.topic),
            tp.partition,
            offset
        )),
        Event::Fatal { error } => Some(format!("error: {error}")),
        Event::Txn(t) => Some(match &t.step {
            TxnStep::Begin => "begin transaction.".to_string(),
            TxnStep::OffsetsSent { group, offsets } => format!(
                "send offsets to transaction: group {group}, {}",
                offsets
                    .iter()
                    .map(|(tp, o)| format!("{}@{o}", meta.display(*tp)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            TxnStep::Committed => "commit transaction.".to_string(),
            TxnStep::Aborted => "abort transaction.".to_string(),
            TxnStep::Fenced(e) => format!("error: producer fenced: {e}"),
        }),
        Event::ProduceFailed { id, tp, error } => Some(format!(
            "error: record {} to {} not delivered: {error}",
            id.seq,
            meta.display(*tp)
        )),
        _ => None,
    }
}

/// One block per process (producers, then consumers, in scenario order), headed by its name,
/// holding the lines that process printed.
pub fn text(run: &Run) -> String {
    let mut out = String::new();
    for (i, c) in run.clients.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match (&c.kind, &c.group) {
            (ClientKind::Consumer, Some(g)) if g.is_empty() => {
                writeln!(out, "== {} (consumer, no group) ==", c.name)
            }
            (ClientKind::Consumer, Some(g)) => writeln!(out, "== {} (consumer, group {g}) ==", c.name),
            _ => writeln!(out, "== {} (producer) ==", c.name),
        }
        .expect("write to string");
        for e in run.trace.entries().iter().filter(|e| e.actor == c.actor) {
            if let Some(line) = printed(&run.meta, &e.record) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

fn tp_json(meta: &Metadata, tp: Tp) -> Value {
    json!([meta.topic_name(tp.topic), tp.partition])
}

/// Offsets as `[[topic, partition, offset], ...]`.
fn offsets_json(meta: &Metadata, offsets: &[(Tp, i64)]) -> Value {
    let offsets = offsets
        .iter()
        .map(|(tp, o)| json!([meta.topic_name(tp.topic), tp.partition, o]))
        .collect();
    Value::Array(offsets)
}

/// A list of partitions as `[[topic, partition], ...]`.
fn tps_json(meta: &Metadata, tps: &[Tp]) -> Value {
    Value::Array(tps.iter().map(|t| tp_json(meta, *t)).collect())
}

fn bytes_json(b: Option<&[u8]>) -> Value {
    match b {
        Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        None => Value::Null,
    }
}

/// The fields of one event's JSON object, in the order they are put.
struct Fields<'a> {
    run: &'a Run,
    meta: &'a Metadata,
    m: Map<String, Value>,
}

impl Fields<'_> {
    fn put(&mut self, k: &str, v: Value) {
        self.m.insert(k.into(), v);
    }

    /// `topic`, `partition`.
    fn tp(&mut self, tp: Tp) {
        self.put("topic", json!(self.meta.topic_name(tp.topic)));
        self.put("partition", json!(tp.partition));
    }

    /// `key`, `value`.
    fn payload(&mut self, payload: &Payload) {
        self.put("key", bytes_json(payload.key()));
        self.put("value", bytes_json(payload.value()));
    }

    /// `group`, `generation`.
    fn generation(&mut self, group: &str, generation: i32) {
        self.put("group", json!(group));
        self.put("generation", json!(generation));
    }

    /// `group`, `member_id`.
    fn member(&mut self, group: &str, member_id: &str) {
        self.put("group", json!(group));
        self.put("member_id", json!(member_id));
    }
}

/// A record as `p<producer>-<seq>`.
fn record(id: RecordId) -> Value {
    json!(format!("p{}-{}", id.producer, id.seq))
}

/// The JSON object of one history event.
pub fn event_json(run: &Run, time_us: u64, actor: sim::ActorId, e: &Event) -> Value {
    let mut f = Fields {
        run,
        meta: &run.meta,
        m: Map::new(),
    };
    f.put("t_ms", json!(time_us as f64 / 1000.0));
    f.put("client", json!(run.trace.name(actor)));
    f.put("event", json!(e.kind()));
    match e {
        Event::Connected
        | Event::Closed
        | Event::Crashed
        | Event::Restarted
        | Event::Fatal { .. }
        | Event::Stalled { .. }
        | Event::Partitioned { .. } => process_fields(&mut f, e),
        Event::Send { .. }
        | Event::Produced { .. }
        | Event::ProducerDone { .. }
        | Event::ProduceRetry { .. }
        | Event::ProduceFailed { .. } => producer_fields(&mut f, e),
        Event::Appended { .. }
        | Event::LeaderElected { .. }
        | Event::IsrChanged { .. }
        | Event::Truncated { .. }
        | Event::BrokerFenced { .. }
        | Event::BrokerUnfenced { .. }
        | Event::Injected { .. } => broker_fields(&mut f, e),
        Event::GenerationStarted { .. }
        | Event::MemberRemoved { .. }
        | Event::StaticReplaced(_)
        | Event::Joined { .. }
        | Event::Left { .. }
        | Event::PollTimeout { .. }
        | Event::Assigned { .. }
        | Event::Revoked { .. }
        | Event::Lost { .. } => group_fields(&mut f, e),
        Event::PositionSet { .. }
        | Event::Consumed { .. }
        | Event::Committed { .. }
        | Event::CommitFailed { .. } => consumption_fields(&mut f, e),
        Event::App(_) => app_fields(&mut f, e),
        Event::Txn(_) | Event::MarkerWritten { .. } | Event::TxnOffsetsCommitted { .. } => {
            txn_fields(&mut f, e)
        }
    }
    Value::Object(f.m)
}

/// A process's life: connected, closed, crashed, restarted, failed, stalled, cut off.
fn process_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::Fatal { error } => f.put("error", json!(error.name())),
        Event::Stalled { until } | Event::Partitioned { until } => {
            f.put("until_ms", json!(until.as_ms_f64()))
        }
        _ => {}
    }
}

/// A producer's records: sent, acknowledged, retried, failed.
fn producer_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::Send { id, tp, payload } => {
            f.tp(*tp);
            f.payload(payload);
            f.put("record", record(*id));
        }
        Event::Produced {
            id,
            tp,
            offset,
            payload,
            batch,
        } => {
            f.tp(*tp);
            f.put("offset", json!(offset));
            f.payload(payload);
            f.put("record", record(*id));
            if let Some(b) = batch {
                f.put("batch", record(*b));
            }
        }
        Event::ProducerDone { records } => f.put("records", json!(records)),
        Event::ProduceRetry { id, tp, error } | Event::ProduceFailed { id, tp, error } => {
            f.tp(*tp);
            f.put("record", record(*id));
            f.put("error", json!(error.name()));
        }
        _ => {}
    }
}

/// The brokers' logs and the controller — appends, elections, ISR changes, truncations,
/// fencing — and the request faults brokers inject.
fn broker_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::Appended { id, tp, offset } => {
            f.tp(*tp);
            f.put("offset", json!(offset));
            f.put("record", record(*id));
        }
        Event::LeaderElected {
            tp,
            epoch,
            log_end,
            unclean,
        } => {
            f.tp(*tp);
            f.put("leader_epoch", json!(epoch));
            f.put("log_end", json!(log_end));
            f.put("unclean", json!(unclean));
        }
        Event::IsrChanged { tp, isr } => {
            f.tp(*tp);
            f.put("isr", json!(isr));
        }
        Event::Truncated { tp, offset, removed } => {
            f.tp(*tp);
            f.put("offset", json!(offset));
            let removed = removed.iter().map(|id| record(*id)).collect();
            f.put("removed", Value::Array(removed));
        }
        Event::BrokerFenced { node } | Event::BrokerUnfenced { node } => f.put("node", json!(node)),
        Event::Injected {
            api,
            from,
            error,
            delay,
        } => {
            f.put("api", json!(api.name()));
            f.put("from", json!(f.run.trace.name(*from)));
            match error {
                Some(e) => f.put("error", json!(e.name())),
                None => f.put("delay_ms", json!(delay.as_ms_f64())),
            }
        }
        _ => {}
    }
}

/// Transactions: a producer's steps, markers, transactional offsets made visible.
fn txn_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::Txn(t) => {
            f.put("transactional_id", json!(&*t.transactional_id));
            f.put("producer_id", json!(t.producer_id));
            f.put("producer_epoch", json!(t.epoch));
            match &t.step {
                TxnStep::OffsetsSent { group, offsets } => {
                    f.put("group", json!(&**group));
                    f.put("offsets", offsets_json(f.meta, offsets));
                }
                TxnStep::Fenced(error) => f.put("error", json!(error.name())),
                TxnStep::Begin | TxnStep::Committed | TxnStep::Aborted => {}
            }
        }
        Event::MarkerWritten {
            tp,
            offset,
            producer_id,
            commit,
        } => {
            f.tp(*tp);
            f.put("offset", json!(offset));
            f.put("producer_id", json!(producer_id));
            f.put("marker", json!(if *commit { "COMMIT" } else { "ABORT" }));
        }
        Event::TxnOffsetsCommitted {
            group,
            producer_id,
            offsets,
        } => {
            f.put("group", json!(&**group));
            f.put("producer_id", json!(producer_id));
            f.put("offsets", offsets_json(f.meta, offsets));
        }
        _ => {}
    }
}

/// An application's own event: its name and fields.
fn app_fields(f: &mut Fields, e: &Event) {
    if let Event::App(a) = e {
        f.put("name", json!(&*a.name));
        let meta = f.meta;
        let fields = a.fields.iter().map(|(k, v)| {
            let v = match v {
                AppValue::Int(i) => json!(i),
                AppValue::Text(t) => json!(&**t),
                AppValue::Tp(tp) => json!([meta.topic_name(tp.topic), tp.partition]),
            };
            (k.to_string(), v)
        });
        f.put("fields", Value::Object(fields.collect()));
    }
}

/// The group protocol: generations, members joining, leaving and removed, assignments.
fn group_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::GenerationStarted {
            group,
            generation,
            protocol,
            leader,
            members,
        } => {
            f.generation(group, *generation);
            f.put("protocol", json!(protocol.name()));
            f.put("leader", json!(&**leader));
            f.put("members", json!(members.iter().map(|m| &**m).collect::<Vec<_>>()));
        }
        Event::MemberRemoved {
            group,
            member_id,
            reason,
        } => {
            f.member(group, member_id);
            f.put("reason", json!(reason.name()));
        }
        Event::StaticReplaced(r) => {
            f.put("group", json!(&*r.group));
            f.put("instance_id", json!(&*r.instance_id));
            f.put("old_member_id", json!(&*r.old));
            f.put("member_id", json!(&*r.new));
        }
        Event::Joined {
            group,
            member_id,
            generation,
            leader,
        } => {
            f.member(group, member_id);
            f.put("generation", json!(generation));
            f.put("leader", json!(leader));
        }
        Event::Left { group, member_id } | Event::PollTimeout { group, member_id } => {
            f.member(group, member_id)
        }
        Event::Assigned {
            group,
            generation,
            partitions,
        }
        | Event::Revoked {
            group,
            generation,
            partitions,
        } => {
            f.generation(group, *generation);
            f.put("partitions", tps_json(f.meta, partitions));
        }
        Event::Lost {
            group,
            generation,
            partitions,
            reason,
        } => {
            f.generation(group, *generation);
            f.put("partitions", tps_json(f.meta, partitions));
            f.put("reason", json!(reason.name()));
        }
        _ => {}
    }
}

/// A consumer's positions, the records it consumed, its commits.
fn consumption_fields(f: &mut Fields, e: &Event) {
    match e {
        Event::PositionSet {
            group,
            tp,
            offset,
            from,
        } => {
            f.put("group", json!(&**group));
            f.tp(*tp);
            f.put("offset", json!(offset));
            f.put("from", json!(from.name()));
        }
        Event::Consumed {
            group,
            generation,
            tp,
            offset,
            id,
            payload,
        } => {
            f.generation(group, *generation);
            f.tp(*tp);
            f.put("offset", json!(offset));
            f.payload(payload);
            f.put("record", record(*id));
        }
        Event::Committed {
            group,
            generation,
            offsets,
        } => {
            f.generation(group, *generation);
            let meta = f.meta;
            let offsets = offsets
                .iter()
                .map(|(tp, o)| json!([meta.topic_name(tp.topic), tp.partition, o]))
                .collect();
            f.put("offsets", Value::Array(offsets));
        }
        Event::CommitFailed { group, error } => {
            f.put("group", json!(&**group));
            f.put("error", json!(error.name()));
        }
        _ => {}
    }
}

/// The first line of a history in the JSON-lines format: the format's name and version,
/// the topics, every process a `client` field can name (in the order the run numbered
/// them) and the clients (README, "The history format").
pub fn header_json(run: &Run) -> Value {
    let topics: Vec<Value> = run
        .meta
        .topics
        .iter()
        .map(|t| json!({"name": &*t.name, "partitions": t.partitions}))
        .collect();
    let clients: Vec<Value> = run
        .clients
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("name".into(), json!(c.name));
            let kind = match c.kind {
                ClientKind::Producer => "producer",
                ClientKind::Consumer => "consumer",
            };
            m.insert("kind".into(), json!(kind));
            if let Some(g) = &c.group {
                m.insert("group".into(), json!(g));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "format": crate::history_file::FORMAT,
        "version": crate::history_file::VERSION,
        "seed": run.seed,
        "topics": topics,
        "processes": run.trace.names(),
        "clients": clients,
    })
}

/// The history as JSON lines: the [`header_json`] line, then one JSON object per history
/// event, one per line, in virtual-time order.
pub fn json_lines(run: &Run) -> String {
    let mut out = header_json(run).to_string();
    out.push('\n');
    for e in run.trace.entries() {
        out.push_str(&event_json(run, e.time.as_us(), e.actor, &e.record).to_string());
        out.push('\n');
    }
    out
}

/// One line of counts: virtual end time, engine events, history entries, records appended
/// and consumed.
pub fn stats(run: &Run) -> String {
    let (mut appended, mut consumed) = (0u64, 0u64);
    for e in run.trace.entries() {
        match e.record {
            Event::Appended { .. } => appended += 1,
            Event::Consumed { .. } => consumed += 1,
            _ => {}
        }
    }
    let dropped_by_kind = run.trace.dropped();
    let dropped = |kind: &str| dropped_by_kind.get(kind).copied().unwrap_or(0);
    appended += dropped("append");
    consumed += dropped("consume");
    format!(
        "virtual_ms={} events={} history_entries={} appended={} consumed={}\n",
        run.end.as_ms(),
        run.events,
        run.trace.len(),
        appended,
        consumed
    )
}
