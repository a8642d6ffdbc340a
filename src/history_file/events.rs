//! One event line of the history format, read back into a history [`Event`]: each kind's
//! fields as `render` writes them.

use super::Context;
use models::assignor::{AssignorKind, ServerAssignor};
use models::history::{
    AppEvent, AppValue, Event, LostReason, PositionSource, Protocol, RemovalReason, StaticReplacement,
    TxnStep,
};
use models::protocol::{ApiKey, ErrorCode};
use models::types::{Payload, RecordId, Tp, OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use serde_json::{Map, Value};
use sim::{ActorId, Time};
use std::sync::Arc;

/// The fields of one line, read with the context of the lines before.
struct Line<'a> {
    cx: &'a mut Context,
    m: &'a Map<String, Value>,
}

impl Line<'_> {
    fn get(&self, k: &str) -> Result<&Value, String> {
        self.m.get(k).ok_or_else(|| format!("no \"{k}\""))
    }

    fn str(&self, k: &str) -> Result<Arc<str>, String> {
        self.get(k)?
            .as_str()
            .map(Arc::from)
            .ok_or_else(|| format!("\"{k}\" is not a string"))
    }

    fn int(&self, k: &str) -> Result<i64, String> {
        self.get(k)?
            .as_i64()
            .ok_or_else(|| format!("\"{k}\" is not an integer"))
    }

    fn i32(&self, k: &str) -> Result<i32, String> {
        i32::try_from(self.int(k)?).map_err(|_| format!("\"{k}\" is out of range"))
    }

    fn u32(&self, k: &str) -> Result<u32, String> {
        u32::try_from(self.int(k)?).map_err(|_| format!("\"{k}\" is not a number from 0 to 4294967295"))
    }

    fn bool(&self, k: &str) -> Result<bool, String> {
        self.get(k)?
            .as_bool()
            .ok_or_else(|| format!("\"{k}\" is not true or false"))
    }

    /// A time in milliseconds (`t_ms`, `until_ms`, `delay_ms`).
    fn time(&self, k: &str) -> Result<Time, String> {
        let ms = self
            .get(k)?
            .as_f64()
            .ok_or_else(|| format!("\"{k}\" is not a number"))?;
        if !(0.0..=1e13).contains(&ms) {
            return Err(format!("\"{k}\" is not a time from 0 to 10^13 ms"));
        }
        Ok(Time::us((ms * 1000.0).round() as u64))
    }

    fn group(&self) -> Result<Arc<str>, String> {
        self.str("group")
    }

    /// `topic` and `partition`.
    fn tp(&self) -> Result<Tp, String> {
        let topic = self.str("topic")?;
        partition_of(self.cx, &topic, self.get("partition")?)
    }

    /// A list of `[topic, partition]`.
    fn tps(&self, k: &str) -> Result<Box<[Tp]>, String> {
        let list = self
            .get(k)?
            .as_array()
            .ok_or_else(|| format!("\"{k}\" is not a list"))?;
        list.iter()
            .map(|v| match v.as_array().map(Vec::as_slice) {
                Some([Value::String(t), p]) => partition_of(self.cx, t, p),
                _ => Err(format!("\"{k}\": {v} is not [topic, partition]")),
            })
            .collect()
    }

    fn record(&self) -> Result<RecordId, String> {
        record_id(self.get("record")?)
    }

    /// `key` and `value`: strings or null.
    fn payload(&self) -> Result<Payload, String> {
        let side = |k: &str| match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_bytes())),
            Some(_) => Err(format!("\"{k}\" is neither a string nor null")),
        };
        Ok(Payload::new(side("key")?, side("value")?))
    }

    fn error(&self) -> Result<ErrorCode, String> {
        let name = self.str("error")?;
        ErrorCode::from_name(&name).ok_or_else(|| format!("unknown Kafka error {name:?}"))
    }

    fn named<T>(&self, k: &str, parse: fn(&str) -> Option<T>) -> Result<T, String> {
        let name = self.str(k)?;
        parse(&name).ok_or_else(|| format!("\"{k}\": unknown {name:?}"))
    }
}

/// Partition `p` of topic `topic`: one of the header's topics, or `__consumer_offsets`.
fn partition_of(cx: &Context, topic: &str, p: &Value) -> Result<Tp, String> {
    let p = p
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| format!("partition {p} is not a partition number"))?;
    if topic == OFFSETS_TOPIC {
        return Ok(Tp::new(cx.meta.topics.len() as u32, p));
    }
    if topic == TRANSACTION_STATE_TOPIC {
        return Ok(Tp::new(cx.meta.topics.len() as u32 + 1, p));
    }
    let t = cx
        .meta
        .topic_index(topic)
        .ok_or_else(|| format!("topic {topic:?} is not in the header's topics"))?;
    if p >= cx.meta.partitions(t) {
        return Err(format!(
            "topic {topic:?} has {} partitions: there is no partition {p}",
            cx.meta.partitions(t)
        ));
    }
    Ok(Tp::new(t, p))
}

/// A record's identity, `p<producer>-<sequence>`.
fn record_id(v: &Value) -> Result<RecordId, String> {
    let bad = || format!("record {v} is not p<producer>-<sequence> (e.g. \"p0-3\")");
    let s = v.as_str().ok_or_else(bad)?;
    let (p, q) = s
        .strip_prefix('p')
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(p) || !digits(q) {
        return Err(bad());
    }
    Ok(RecordId {
        producer: p.parse().map_err(|_| bad())?,
        seq: q.parse().map_err(|_| bad())?,
    })
}

/// One event line: its time, its process and the event.
pub(super) fn entry(cx: &mut Context, m: &Map<String, Value>) -> Result<(Time, ActorId, Event), String> {
    let kind = m
        .get("event")
        .and_then(Value::as_str)
        .ok_or("no \"event\" (every line after the header is an event)")?
        .to_string();
    let client = m
        .get("client")
        .and_then(Value::as_str)
        .ok_or("no \"client\" naming the process")?
        .to_string();
    let mut l = Line { cx, m };
    let t = l.time("t_ms")?;
    let e = event(&mut l, &kind).map_err(|e| format!("{kind}: {e}"))?;
    Ok((t, l.cx.actor(&client), e))
}

fn event(l: &mut Line, kind: &str) -> Result<Event, String> {
    Ok(match kind {
        "connected" => Event::Connected,
        "close" => Event::Closed,
        "crash" => Event::Crashed,
        "restart" => Event::Restarted,
        "fatal" => Event::Fatal { error: l.error()? },
        "stall" => Event::Stalled {
            until: l.time("until_ms")?,
        },
        "partitioned" => Event::Partitioned {
            until: l.time("until_ms")?,
        },
        "send" | "produce" | "producer_done" | "produce_retry" | "produce_failed" => producer(l, kind)?,
        "append" | "leader" | "isr" | "truncate" | "fenced" | "unfenced" | "injected" => broker(l, kind)?,
        "generation" | "member_removed" | "static_replace" | "join" | "leave" | "poll_timeout" | "assign"
        | "revoke" | "lost" => group(l, kind)?,
        "position" | "consume" | "commit" | "commit_failed" => consumption(l, kind)?,
        "app" => app(l)?,
        "txn_begin" | "txn_offsets" | "txn_commit" | "txn_abort" | "txn_fenced" | "marker"
        | "txn_offsets_commit" => transaction(l, kind)?,
        other => return Err(format!("unknown event kind {other:?}")),
    })
}

fn producer(l: &Line, kind: &str) -> Result<Event, String> {
    Ok(match kind {
        "send" => Event::Send {
            id: l.record()?,
            tp: l.tp()?,
            payload: l.payload()?,
        },
        "produce" => Event::Produced {
            id: l.record()?,
            tp: l.tp()?,
            offset: l.int("offset")?,
            payload: l.payload()?,
            // absent in histories written before batching, and in real clients'
            batch: match l.m.get("batch") {
                None | Some(Value::Null) => None,
                Some(v) => Some(record_id(v)?),
            },
        },
        "producer_done" => Event::ProducerDone {
            records: l.u32("records")?,
        },
        "produce_retry" => Event::ProduceRetry {
            id: l.record()?,
            tp: l.tp()?,
            error: l.error()?,
        },
        _ => Event::ProduceFailed {
            id: l.record()?,
            tp: l.tp()?,
            error: l.error()?,
        },
    })
}

fn broker(l: &mut Line, kind: &str) -> Result<Event, String> {
    Ok(match kind {
        "append" => Event::Appended {
            id: l.record()?,
            tp: l.tp()?,
            offset: l.int("offset")?,
        },
        "leader" => Event::LeaderElected {
            tp: l.tp()?,
            epoch: l.i32("leader_epoch")?,
            log_end: l.int("log_end")?,
            unclean: l.bool("unclean")?,
        },
        "isr" => {
            let isr = l.get("isr")?.as_array().ok_or("\"isr\" is not a list")?;
            let isr = isr
                .iter()
                .map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect::<Option<Vec<u32>>>()
                .ok_or("\"isr\" is not a list of node ids")?;
            Event::IsrChanged { tp: l.tp()?, isr }
        }
        "truncate" => {
            let removed = l.get("removed")?.as_array().ok_or("\"removed\" is not a list")?;
            Event::Truncated {
                tp: l.tp()?,
                offset: l.int("offset")?,
                removed: removed.iter().map(record_id).collect::<Result<_, _>>()?,
            }
        }
        "fenced" => Event::BrokerFenced { node: l.u32("node")? },
        "unfenced" => Event::BrokerUnfenced { node: l.u32("node")? },
        _ => {
            let api = l.named("api", ApiKey::from_name)?;
            let from = l.str("from")?;
            let (error, delay) = match l.m.get("error") {
                Some(_) => (Some(l.error()?), Time::ZERO),
                None => (None, l.time("delay_ms")?),
            };
            Event::Injected {
                api,
                from: l.cx.actor(&from),
                error,
                delay,
            }
        }
    })
}

fn protocol(name: &str) -> Option<Protocol> {
    AssignorKind::parse(name)
        .map(Protocol::Classic)
        .or_else(|| ServerAssignor::parse(name).map(Protocol::Server))
}

fn removal(name: &str) -> Option<RemovalReason> {
    [
        RemovalReason::SessionTimeout,
        RemovalReason::RebalanceTimeout,
        RemovalReason::LeaveGroup,
    ]
    .into_iter()
    .find(|r| r.name() == name)
}

fn lost_reason(name: &str) -> Option<LostReason> {
    [
        LostReason::PollTimeout,
        LostReason::IllegalGeneration,
        LostReason::UnknownMember,
    ]
    .into_iter()
    .find(|r| r.name() == name)
}

fn position_source(name: &str) -> Option<PositionSource> {
    [
        PositionSource::Committed,
        PositionSource::Earliest,
        PositionSource::Latest,
        PositionSource::OutOfRangeEarliest,
        PositionSource::OutOfRangeLatest,
    ]
    .into_iter()
    .find(|r| r.name() == name)
}

fn group(l: &Line, kind: &str) -> Result<Event, String> {
    let group = l.group()?;
    Ok(match kind {
        "generation" => {
            let members = l.get("members")?.as_array().ok_or("\"members\" is not a list")?;
            let members = members
                .iter()
                .map(|m| m.as_str().map(Arc::from))
                .collect::<Option<Vec<Arc<str>>>>()
                .ok_or("\"members\" is not a list of member ids")?;
            Event::GenerationStarted {
                group,
                generation: l.i32("generation")?,
                protocol: l.named("protocol", protocol)?,
                leader: l.str("leader")?,
                members: members.into(),
            }
        }
        "member_removed" => Event::MemberRemoved {
            group,
            member_id: l.str("member_id")?,
            reason: l.named("reason", removal)?,
        },
        "static_replace" => Event::StaticReplaced(Box::new(StaticReplacement {
            group,
            instance_id: l.str("instance_id")?,
            old: l.str("old_member_id")?,
            new: l.str("member_id")?,
        })),
        "join" => Event::Joined {
            group,
            member_id: l.str("member_id")?,
            generation: l.i32("generation")?,
            leader: l.bool("leader")?,
        },
        "leave" => Event::Left {
            group,
            member_id: l.str("member_id")?,
        },
        "poll_timeout" => Event::PollTimeout {
            group,
            member_id: l.str("member_id")?,
        },
        "assign" => Event::Assigned {
            group,
            generation: l.i32("generation")?,
            partitions: l.tps("partitions")?,
        },
        "revoke" => Event::Revoked {
            group,
            generation: l.i32("generation")?,
            partitions: l.tps("partitions")?,
        },
        _ => Event::Lost {
            group,
            generation: l.i32("generation")?,
            partitions: l.tps("partitions")?,
            reason: l.named("reason", lost_reason)?,
        },
    })
}

fn consumption(l: &Line, kind: &str) -> Result<Event, String> {
    let group = l.group()?;
    Ok(match kind {
        "position" => Event::PositionSet {
            group,
            tp: l.tp()?,
            offset: l.int("offset")?,
            from: l.named("from", position_source)?,
        },
        "consume" => Event::Consumed {
            group,
            generation: l.i32("generation")?,
            tp: l.tp()?,
            offset: l.int("offset")?,
            id: l.record()?,
            payload: l.payload()?,
        },
        "commit" => Event::Committed {
            group,
            generation: l.i32("generation")?,
            offsets: offsets(l)?,
        },
        _ => Event::CommitFailed {
            group,
            error: l.error()?,
        },
    })
}

/// `offsets`: a list of `[topic, partition, offset]`.
fn offsets(l: &Line) -> Result<Vec<(Tp, i64)>, String> {
    let list = l.get("offsets")?.as_array().ok_or("\"offsets\" is not a list")?;
    list.iter()
        .map(|v| match v.as_array().map(Vec::as_slice) {
            Some([Value::String(t), p, o]) => {
                let o = o
                    .as_i64()
                    .ok_or_else(|| format!("\"offsets\": {v}: the offset is not an integer"))?;
                Ok((partition_of(l.cx, t, p)?, o))
            }
            _ => Err(format!("\"offsets\": {v} is not [topic, partition, offset]")),
        })
        .collect()
}

/// A transactional producer's step, a marker, transactional offsets made visible.
fn transaction(l: &Line, kind: &str) -> Result<Event, String> {
    let step = match kind {
        "marker" => {
            let commit = match &*l.str("marker")? {
                "COMMIT" => true,
                "ABORT" => false,
                other => return Err(format!("\"marker\" {other:?} is neither COMMIT nor ABORT")),
            };
            return Ok(Event::MarkerWritten {
                tp: l.tp()?,
                offset: l.int("offset")?,
                producer_id: l.int("producer_id")?,
                commit,
            });
        }
        "txn_offsets_commit" => {
            return Ok(Event::TxnOffsetsCommitted {
                group: l.group()?,
                producer_id: l.int("producer_id")?,
                offsets: offsets(l)?,
            })
        }
        "txn_begin" => TxnStep::Begin,
        "txn_offsets" => TxnStep::OffsetsSent {
            group: l.group()?,
            offsets: offsets(l)?,
        },
        "txn_commit" => TxnStep::Committed,
        "txn_abort" => TxnStep::Aborted,
        _ => TxnStep::Fenced(l.error()?),
    };
    Ok(Event::Txn(Box::new(models::history::TxnEvent {
        transactional_id: l.str("transactional_id")?,
        producer_id: l.int("producer_id")?,
        epoch: l.i32("producer_epoch")?,
        step,
    })))
}

fn app(l: &Line) -> Result<Event, String> {
    let name = l.str("name")?;
    let fields = l
        .get("fields")?
        .as_object()
        .ok_or("\"fields\" is not an object")?;
    let fields = fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => AppValue::Text(s.as_str().into()),
                Value::Number(n) => AppValue::Int(
                    n.as_i64()
                        .ok_or_else(|| format!("\"fields\".{k}: not an integer"))?,
                ),
                Value::Array(a) => match a.as_slice() {
                    [Value::String(t), p] => AppValue::Tp(partition_of(l.cx, t, p)?),
                    _ => return Err(format!("\"fields\".{k}: {v} is not [topic, partition]")),
                },
                _ => {
                    return Err(format!(
                        "\"fields\".{k}: {v} is not a string, an integer or a partition"
                    ))
                }
            };
            Ok((Arc::from(k.as_str()), v))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Event::App(Box::new(AppEvent { name, fields })))
}
