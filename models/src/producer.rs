//! The producer client: bootstrap, partition, send, collect acknowledgements.
//!
//! Reproduces what a producer process of the demos does: the constructor bootstraps (one
//! Metadata round trip — kafka-python's `KafkaProducer()` returns after it, and the demo
//! prints `link kafka ok.`), then `send()` per record, every `interval` apart, each choosing
//! its partition with the profile's partitioner ([`crate::partitioner`] for keys, a
//! [`NullKeyStrategy`] for null keys; an explicit partition always wins), and `flush()`: when
//! every record is acknowledged the process is done (`produce over.`). `linger.ms=0`, so each
//! record travels in its own Produce request; one connection keeps them in order.

use crate::config::{NullKeyStrategy, ProducerConfig};
use crate::history::Event;
use crate::protocol::{ClientTimer, Msg};
use crate::types::{Metadata, Payload, RecordId, Tp};
use bytes::Bytes;
use rand::Rng;
use sim::{Actor, ActorId, Ctx, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a producer's records come from.
#[derive(Clone, Debug)]
pub enum Records {
    /// An explicit list: payload and optional explicit partition.
    List(Vec<(Payload, Option<u32>)>),
    /// `count` records; `{i}` in the templates is replaced by the record number (0-based).
    Generated {
        /// Number of records.
        count: u32,
        /// Key template; `None` = null keys.
        key: Option<String>,
        /// Value template.
        value: String,
    },
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> u32 {
        match self {
            Records::List(v) => v.len() as u32,
            Records::Generated { count, .. } => *count,
        }
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records a scenario's producer sends: its `messages`, or its `generate` templates.
    pub fn from_spec(p: &crate::scenario::ProducerSpec) -> Records {
        match &p.generate {
            Some(g) => Records::Generated {
                count: g.count,
                key: g.key.clone(),
                value: g.value.clone(),
            },
            None => Records::List(
                p.messages
                    .iter()
                    .map(|m| {
                        let bytes = |s: &Option<String>| s.as_ref().map(|s| Bytes::from(s.clone()));
                        (
                            Payload {
                                key: bytes(&m.key),
                                value: bytes(&m.value),
                            },
                            m.partition,
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Record `i` (0-based): its payload, and its explicit partition if it has one.
    pub fn get(&self, i: u32) -> (Payload, Option<u32>) {
        match self {
            Records::List(v) => v[i as usize].clone(),
            Records::Generated { key, value, .. } => {
                let fill = |t: &str| Bytes::from(t.replace("{i}", &i.to_string()));
                (
                    Payload {
                        key: key.as_deref().map(fill),
                        value: Some(fill(value)),
                    },
                    None,
                )
            }
        }
    }
}

/// A producer process.
pub struct Producer {
    index: u32,
    cfg: ProducerConfig,
    broker: ActorId,
    topic_name: Arc<str>,
    topic: u32,
    meta: Option<Arc<Metadata>>,
    records: Records,
    interval: Time,
    sent: u32,
    acked: u32,
    /// Payloads sent and not yet acknowledged, so the acknowledgement records the very
    /// bytes that were sent (shared, not generated again).
    in_flight: BTreeMap<u32, Payload>,
    sticky: Option<(u32, usize, Time)>,
}

impl Producer {
    /// Producer number `index` of the scenario, sending `records` to `topic`.
    pub fn new(
        index: u32,
        cfg: ProducerConfig,
        broker: ActorId,
        topic: Arc<str>,
        records: Records,
        interval: Time,
    ) -> Producer {
        Producer {
            index,
            cfg,
            broker,
            topic_name: topic,
            topic: 0,
            meta: None,
            records,
            interval,
            sent: 0,
            acked: 0,
            in_flight: BTreeMap::new(),
            sticky: None,
        }
    }

    fn partition(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        payload: &Payload,
        explicit: Option<u32>,
        n: u32,
    ) -> u32 {
        if let Some(p) = explicit {
            return p;
        }
        if let Some(key) = &payload.key {
            return self.cfg.key_hash.partition(key, n);
        }
        let now = ctx.now();
        match self.cfg.null_key {
            NullKeyStrategy::RandomPerRecord => ctx.rng().random_range(0..n),
            NullKeyStrategy::UniformSticky { batch_size } => {
                let size = payload.size_estimate();
                match &mut self.sticky {
                    Some((p, bytes, _)) if *bytes < batch_size => {
                        *bytes += size;
                        *p
                    }
                    _ => {
                        let p = ctx.rng().random_range(0..n);
                        self.sticky = Some((p, size, now));
                        p
                    }
                }
            }
            NullKeyStrategy::StickyLinger { linger_ms } => match self.sticky {
                Some((p, _, since)) if now < since + Time::ms(linger_ms) => p,
                _ => {
                    let p = ctx.rng().random_range(0..n);
                    self.sticky = Some((p, 0, now));
                    p
                }
            },
        }
    }

    fn send_next(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        let meta = self.meta.clone().expect("bootstrapped");
        let (payload, explicit) = self.records.get(self.sent);
        let p = self.partition(ctx, &payload, explicit, meta.partitions(self.topic));
        let tp = Tp::new(self.topic, p);
        let id = RecordId {
            producer: self.index,
            seq: self.sent,
        };
        ctx.record(Event::Send {
            id,
            tp,
            payload: payload.clone(),
        });
        self.in_flight.insert(id.seq, payload.clone());
        ctx.send(self.broker, Msg::ProduceReq { tp, id, payload });
        self.sent += 1;
        if self.sent < self.records.len() {
            ctx.timer(self.interval, Msg::ClientTimer(ClientTimer::SendNext));
        }
    }
}

impl Actor<Msg, Event> for Producer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, _from: ActorId, msg: Msg) {
        match msg {
            Msg::Start => {
                ctx.send(self.broker, Msg::MetadataReq);
            }
            Msg::MetadataResp(meta) => {
                self.topic = meta
                    .topic_index(&self.topic_name)
                    .expect("scenario validation checked the topic exists");
                self.meta = Some(meta);
                ctx.record(Event::Connected);
                if self.records.is_empty() {
                    ctx.record(Event::ProducerDone { records: 0 });
                    ctx.record(Event::Closed);
                } else {
                    self.send_next(ctx);
                }
            }
            Msg::ClientTimer(ClientTimer::SendNext) => self.send_next(ctx),
            Msg::ProduceResp { tp, id, offset } => {
                let payload = self
                    .in_flight
                    .remove(&id.seq)
                    .expect("an acknowledgement answers a send");
                ctx.record(Event::Produced {
                    id,
                    tp,
                    offset,
                    payload,
                });
                self.acked += 1;
                if self.acked == self.records.len() {
                    ctx.record(Event::ProducerDone { records: self.acked });
                    ctx.record(Event::Closed);
                }
            }
            Msg::Close => {}
            other => panic!("producer got an unexpected message: {other:?}"),
        }
    }
}
