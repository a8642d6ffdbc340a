//! Renderers of a run's history: what each process printed, or JSON lines.

use models::history::{AppValue, Event};
use models::types::{show_bytes, Metadata, Tp};
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

/// The JSON object of one history event.
pub fn event_json(run: &Run, time_us: u64, actor: sim::ActorId, e: &Event) -> Value {
    let meta = &*run.meta;
    let mut m = Map::new();
    m.insert("t_ms".into(), json!(time_us as f64 / 1000.0));
    m.insert("client".into(), json!(run.trace.name(actor)));
    m.insert("event".into(), json!(e.kind()));
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    let record = |id: models::types::RecordId| json!(format!("p{}-{}", id.producer, id.seq));
    match e {
        Event::Connected | Event::Closed => {}
        Event::Send { id, tp, payload } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("key", bytes_json(payload.key()));
            put("value", bytes_json(payload.value()));
            put("record", record(*id));
        }
        Event::Produced {
            id,
            tp,
            offset,
            payload,
        } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("offset", json!(offset));
            put("key", bytes_json(payload.key()));
            put("value", bytes_json(payload.value()));
            put("record", record(*id));
        }
        Event::ProducerDone { records } => put("records", json!(records)),
        Event::Appended { id, tp, offset } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("offset", json!(offset));
            put("record", record(*id));
        }
        Event::GenerationStarted {
            group,
            generation,
            protocol,
            leader,
            members,
        } => {
            put("group", json!(&**group));
            put("generation", json!(generation));
            put("protocol", json!(protocol.name()));
            put("leader", json!(&**leader));
            put("members", json!(members.iter().map(|m| &**m).collect::<Vec<_>>()));
        }
        Event::MemberRemoved {
            group,
            member_id,
            reason,
        } => {
            put("group", json!(&**group));
            put("member_id", json!(&**member_id));
            put("reason", json!(reason.name()));
        }
        Event::Joined {
            group,
            member_id,
            generation,
            leader,
        } => {
            put("group", json!(&**group));
            put("member_id", json!(&**member_id));
            put("generation", json!(generation));
            put("leader", json!(leader));
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
            put("group", json!(&**group));
            put("generation", json!(generation));
            put("partitions", tps_json(meta, partitions));
        }
        Event::PositionSet {
            group,
            tp,
            offset,
            from,
        } => {
            put("group", json!(&**group));
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("offset", json!(offset));
            put("from", json!(from.name()));
        }
        Event::Consumed {
            group,
            generation,
            tp,
            offset,
            id,
            payload,
        } => {
            put("group", json!(&**group));
            put("generation", json!(generation));
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("offset", json!(offset));
            put("key", bytes_json(payload.key()));
            put("value", bytes_json(payload.value()));
            put("record", record(*id));
        }
        Event::Committed {
            group,
            generation,
            offsets,
        } => {
            put("group", json!(&**group));
            put("generation", json!(generation));
            put(
                "offsets",
                Value::Array(
                    offsets
                        .iter()
                        .map(|(tp, o)| json!([meta.topic_name(tp.topic), tp.partition, o]))
                        .collect(),
                ),
            );
        }
        Event::CommitFailed { group, error } => {
            put("group", json!(&**group));
            put("error", json!(error.name()));
        }
        Event::Left { group, member_id } => {
            put("group", json!(&**group));
            put("member_id", json!(&**member_id));
        }
        Event::Fatal { error } => put("error", json!(error.name())),
        Event::Lost {
            group,
            generation,
            partitions,
            reason,
        } => {
            put("group", json!(&**group));
            put("generation", json!(generation));
            put("partitions", tps_json(meta, partitions));
            put("reason", json!(reason.name()));
        }
        Event::StaticReplaced(r) => {
            put("group", json!(&*r.group));
            put("instance_id", json!(&*r.instance_id));
            put("old_member_id", json!(&*r.old));
            put("member_id", json!(&*r.new));
        }
        Event::Stalled { until } | Event::Partitioned { until } => put("until_ms", json!(until.as_ms_f64())),
        Event::PollTimeout { group, member_id } => {
            put("group", json!(&**group));
            put("member_id", json!(&**member_id));
        }
        Event::Crashed | Event::Restarted => {}
        Event::ProduceRetry { id, tp, error } | Event::ProduceFailed { id, tp, error } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("record", record(*id));
            put("error", json!(error.name()));
        }
        Event::LeaderElected {
            tp,
            epoch,
            log_end,
            unclean,
        } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("leader_epoch", json!(epoch));
            put("log_end", json!(log_end));
            put("unclean", json!(unclean));
        }
        Event::IsrChanged { tp, isr } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("isr", json!(isr));
        }
        Event::Truncated { tp, offset, removed } => {
            put("topic", json!(meta.topic_name(tp.topic)));
            put("partition", json!(tp.partition));
            put("offset", json!(offset));
            put(
                "removed",
                Value::Array(removed.iter().map(|id| record(*id)).collect()),
            );
        }
        Event::BrokerFenced { node } | Event::BrokerUnfenced { node } => put("node", json!(node)),
        Event::Injected {
            api,
            from,
            error,
            delay,
        } => {
            put("api", json!(api.name()));
            put("from", json!(run.trace.name(*from)));
            match error {
                Some(e) => put("error", json!(e.name())),
                None => put("delay_ms", json!(delay.as_ms_f64())),
            }
        }
        Event::App(a) => {
            put("name", json!(&*a.name));
            let fields = a.fields.iter().map(|(k, v)| {
                let v = match v {
                    AppValue::Int(i) => json!(i),
                    AppValue::Text(t) => json!(&**t),
                    AppValue::Tp(tp) => json!([meta.topic_name(tp.topic), tp.partition]),
                };
                (k.to_string(), v)
            });
            put("fields", Value::Object(fields.collect()));
        }
    }
    Value::Object(m)
}

/// One JSON object per history event, one per line, in virtual-time order.
pub fn json_lines(run: &Run) -> String {
    let mut out = String::new();
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
