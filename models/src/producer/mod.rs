//! The producer client: bootstrap, partition, send to the leader, retry, collect
//! acknowledgements — around an application that decides what to send.
//!
//! Reproduces a producer process of the demos and of the Java, kafka-python and librdkafka
//! clients: the constructor bootstraps (one Metadata round trip — kafka-python's
//! `KafkaProducer()` returns after it, and the demo prints `link kafka ok.`), then the
//! application calls `send()` per record and gets a callback per record; when it is done
//! and every record is acknowledged (or has failed) the producer flushes and closes
//! (`produce over.`). The parts:
//! * [`app`]: the application ([`ProducerApp`]) — the scenario's scripted records
//!   ([`ScriptedProducer`]) or a consumer process's [`Companion`], which sends what an
//!   application in the consumer hands over (`Msg::AppProduce`, consume–transform–produce);
//! * [`accumulator`]: the partitioner and what waits to be sent, per partition;
//! * [`sender`]: requests in flight per broker, retries with backoff, metadata, timeouts;
//! * [`idempotence`]: producer id, epochs and sequence numbers (KIP-360);
//! * [`io`]: how the parts' outputs reach the engine, in order.
//!
//! A producer may write to several topics (records handed over name theirs); the scenario's
//! producers write to their own topic. Faults do not apply to producers: no crash, no
//! restart; `Close` changes nothing (the producer closes itself when its application is done).

pub mod accumulator;
pub mod app;
pub mod idempotence;
pub mod io;
pub mod scripted;
pub mod sender;

pub use app::{Next, OutRecord, ProducerApp, ProducerCtx, Sent};
pub use scripted::{Companion, Records, ScriptedProducer};

use crate::config::ProducerConfig;
use crate::history::Event;
use crate::protocol::{ClientTimer, Msg};
use crate::types::{Metadata, Payload, RecordId, Tp};
use accumulator::{Accumulator, Partitioner, Record};
use idempotence::Idempotence;
use io::Io;
use sender::{Sender, Settled};
use sim::{Actor, ActorId, Ctx, Time};
use std::sync::Arc;

/// Where the producer is with asking its application.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Asking {
    /// Not bootstrapped yet.
    Idle,
    /// Asking now.
    Now,
    /// A timer will ask.
    Timer,
    /// An acknowledgement, failure or handed-over record will ask.
    Wait,
    /// The application is done.
    Done,
}

/// A producer process.
pub struct Producer {
    index: u32,
    app: Box<dyn ProducerApp>,
    /// The topic of records that name none, and its index once bootstrapped.
    topic: Option<(Arc<str>, u32)>,
    meta: Option<Arc<Metadata>>,
    acc: Accumulator,
    sender: Sender,
    idempotence: Idempotence,
    asking: Asking,
    /// Records handed over before the producer was bootstrapped.
    held: Vec<OutRecord>,
    sent: u32,
    settled: u32,
    acked: u32,
    closed: bool,
}

impl Producer {
    /// Producer number `index` of the scenario, sending `records` to `topic`, one every
    /// `interval`; `brokers` is its bootstrap list (it bootstraps from the first).
    pub fn new(
        index: u32,
        cfg: ProducerConfig,
        brokers: Vec<ActorId>,
        topic: Arc<str>,
        records: Records,
        interval: Time,
    ) -> Producer {
        let app = ScriptedProducer::new(records, interval);
        Producer::with_app(index, cfg, brokers, Some(topic), Box::new(app))
    }

    /// A producer whose application is `app`; records that name no topic go to `topic`.
    /// `index` is its producer number in record ids (unique among the run's producers).
    pub fn with_app(
        index: u32,
        cfg: ProducerConfig,
        brokers: Vec<ActorId>,
        topic: Option<Arc<str>>,
        app: Box<dyn ProducerApp>,
    ) -> Producer {
        Producer {
            index,
            app,
            topic: topic.map(|t| (t, 0)),
            meta: None,
            acc: Accumulator::new(Partitioner::new(cfg.key_hash, cfg.null_key)),
            idempotence: Idempotence::new(cfg.idempotence),
            sender: Sender::new(index, cfg, brokers),
            asking: Asking::Idle,
            held: Vec::new(),
            sent: 0,
            settled: 0,
            acked: 0,
            closed: false,
        }
    }

    /// The producer of a consumer process: sends only the records an application in the
    /// consumer hands over with `Msg::AppProduce`, to the topic each names, and never closes
    /// by itself. Start it with `Msg::Start` like any producer.
    pub fn companion(index: u32, cfg: ProducerConfig, brokers: Vec<ActorId>) -> Producer {
        Producer::with_app(index, cfg, brokers, None, Box::new(Companion))
    }

    /// The first Metadata answer: the producer is connected and asks its application.
    fn connected(&mut self, io: &mut impl Io, meta: Arc<Metadata>) {
        if let Some((name, index)) = &mut self.topic {
            *index = meta
                .topic_index(name)
                .expect("scenario validation checked the topic exists");
        }
        self.meta = Some(meta);
        io.record(Event::Connected);
        for record in std::mem::take(&mut self.held) {
            self.send(io, record);
        }
        self.ask(io);
    }

    /// Asks the application until it sends nothing more now.
    fn ask(&mut self, io: &mut impl Io) {
        self.asking = Asking::Now;
        loop {
            let mut ctx = ProducerCtx::new(io.now());
            let next = self.app.next(&mut ctx);
            for record in ctx.into_sends() {
                self.send(io, record);
            }
            match next {
                Next::Send(record) => self.send(io, record),
                Next::At(at) => {
                    self.asking = Asking::Timer;
                    io.timer(at.saturating_sub(io.now()), ClientTimer::SendNext);
                    return;
                }
                Next::Wait => {
                    self.asking = Asking::Wait;
                    return;
                }
                Next::Done => {
                    self.asking = Asking::Done;
                    return self.close_if_done(io);
                }
            }
        }
    }

    /// `send()`: partitions `record`, numbers it and hands it to the sender.
    fn send(&mut self, io: &mut impl Io, record: OutRecord) {
        let meta = self.meta.clone().expect("bootstrapped");
        let topic = match &record.topic {
            Some(name) => meta
                .topic_index(name)
                .expect("scenario validation checked the topic exists"),
            None => {
                self.topic
                    .as_ref()
                    .expect("a record names its topic, or the producer has one")
                    .1
            }
        };
        let now = io.now();
        let partition = self.acc.partitioner().partition(
            io.rng(),
            now,
            topic,
            meta.partitions(topic),
            &record.payload,
            record.partition,
        );
        let tp = Tp::new(topic, partition);
        let id = RecordId {
            producer: self.index,
            seq: self.sent,
        };
        io.record(Event::Send {
            id,
            tp,
            payload: record.payload.clone(),
        });
        self.acc.append(Record {
            seq: id.seq,
            tp,
            payload: record.payload,
            stamp: self.idempotence.stamp(tp),
            first_sent: now,
            retries: 0,
            sent: false,
        });
        self.sent += 1;
        self.pump(io);
    }

    /// Sends what can go, and settles what that settled.
    fn pump(&mut self, io: &mut impl Io) {
        let mut settled = Vec::new();
        self.sender.pump(&mut self.acc, io, &mut settled);
        self.settle(io, settled);
    }

    /// Records the sender is done with: a failure bumps its partition's epoch (KIP-360),
    /// each goes back to the application, whose new records are sent; then the producer
    /// closes if that was the last.
    fn settle(&mut self, io: &mut impl Io, settled: Vec<Settled>) {
        if settled.is_empty() {
            return;
        }
        let mut ctx = ProducerCtx::new(io.now());
        for s in &settled {
            self.settled += 1;
            match s.result {
                Ok(offset) => {
                    self.acked += 1;
                    self.app.on_ack(&mut ctx, &s.sent, offset);
                }
                Err(e) => {
                    let tp = s.sent.tp;
                    self.idempotence.bump(tp, s.epoch, self.acc.unsent_stamps(tp));
                    self.app.on_failed(&mut ctx, &s.sent, e);
                }
            }
        }
        for record in ctx.into_sends() {
            self.send(io, record);
        }
        if self.asking == Asking::Wait {
            self.ask(io);
        }
        self.close_if_done(io);
    }

    /// `flush()` and `close()` once the application is done and nothing is outstanding.
    fn close_if_done(&mut self, io: &mut impl Io) {
        if self.asking == Asking::Done && self.settled == self.sent && !self.closed {
            self.closed = true;
            io.record(Event::ProducerDone { records: self.acked });
            io.record(Event::Closed);
        }
    }

    /// A record handed over by an application of the same process.
    fn handed_over(&mut self, io: &mut impl Io, topic: Arc<str>, payload: Payload) {
        let record = OutRecord {
            topic: Some(topic),
            payload,
            partition: None,
        };
        if self.meta.is_none() {
            return self.held.push(record);
        }
        self.send(io, record);
        if self.asking == Asking::Wait {
            self.ask(io);
        }
    }

    fn on_message(&mut self, io: &mut impl Io, from: ActorId, msg: Msg) {
        let mut settled = Vec::new();
        match msg {
            Msg::Start => self.sender.refresh_metadata(io),
            Msg::MetadataResp(meta, cluster) => {
                self.sender.on_metadata(cluster);
                if self.meta.is_none() {
                    return self.connected(io, meta);
                }
                self.sender.retry_waiting(&mut self.acc, io, &mut settled);
            }
            Msg::ClientTimer(ClientTimer::SendNext) => {
                if self.asking == Asking::Timer {
                    self.ask(io);
                }
            }
            Msg::ClientTimer(ClientTimer::Retry) => {
                self.sender.on_retry_timer(&mut self.acc, io, &mut settled)
            }
            Msg::ClientTimer(ClientTimer::ProduceWatchdog) => self.sender.on_watchdog(io, &mut settled),
            Msg::Disconnected => self.sender.on_disconnected(io, from, &mut settled),
            Msg::ProduceResp { id, result, .. } => {
                if self.sender.on_response(io, id, result, &mut settled) {
                    self.settle(io, std::mem::take(&mut settled));
                    // a slot is free
                    self.pump(io);
                }
            }
            Msg::AppProduce { topic, payload } => self.handed_over(io, topic, payload),
            Msg::Close => {}
            other => panic!("producer got an unexpected message: {other:?}"),
        }
        self.settle(io, settled);
    }
}

impl Actor<Msg, Event> for Producer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        self.on_message(ctx, from, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::io::{cluster, Output, Recorder};
    use super::*;
    use crate::config::Profile;
    use crate::protocol::ErrorCode;

    const B0: ActorId = ActorId(0);
    const ME: ActorId = ActorId(9);

    fn connect(p: &mut Producer, io: &mut Recorder) {
        p.on_message(io, ME, Msg::Start);
        assert!(matches!(io.out[0], Output::Send(B0, Msg::MetadataReq)));
        let (meta, image) = cluster(1, 4);
        p.on_message(io, B0, Msg::MetadataResp(meta, image));
    }

    /// A Produce request: send number, topic, sequence number, epoch.
    type Request = (u32, u32, i32, i32);

    /// The history events among `out`, by kind, and the Produce requests as (send number,
    /// topic, sequence, epoch).
    fn split(out: &[Output]) -> (Vec<&'static str>, Vec<Request>) {
        let events = out
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.kind()),
                _ => None,
            })
            .collect();
        let sends = out
            .iter()
            .filter_map(|o| match o {
                Output::Send(
                    _,
                    Msg::ProduceReq {
                        id, tp, pseq, pepoch, ..
                    },
                ) => Some((id.seq, tp.topic, *pseq, *pepoch)),
                _ => None,
            })
            .collect();
        (events, sends)
    }

    fn ack(p: &mut Producer, io: &mut Recorder, seq: u32, result: Result<i64, ErrorCode>) {
        let id = RecordId { producer: 0, seq };
        let tp = Tp::new(0, 0);
        p.on_message(io, B0, Msg::ProduceResp { tp, id, result });
    }

    #[test]
    fn a_scripted_producer_sends_its_records_then_closes() {
        let records = Records::Generated {
            count: 2,
            key: Some("k{i}".into()),
            value: "v{i}".into(),
        };
        let cfg = ProducerConfig::defaults(Profile::Java);
        let mut p = Producer::new(0, cfg, vec![B0], "b".into(), records, Time::ms(10));
        let mut io = Recorder::new(0);
        connect(&mut p, &mut io);
        let out = io.take();
        assert!(matches!(out.last(), Some(Output::Timer(t, ClientTimer::SendNext)) if *t == Time::ms(10)));
        // topic "b" is index 1
        assert_eq!(split(&out), (vec!["connected", "send"], vec![(0, 1, 0, 0)]));
        io.now = Time::ms(10);
        p.on_message(&mut io, ME, Msg::ClientTimer(ClientTimer::SendNext));
        let out = io.take();
        assert_eq!(split(&out).0, ["send"]);
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::Timer(_, ClientTimer::SendNext))));
        ack(&mut p, &mut io, 0, Ok(0));
        assert_eq!(split(&io.take()).0, ["produce"]);
        ack(&mut p, &mut io, 1, Ok(1));
        assert_eq!(split(&io.take()).0, ["produce", "producer_done", "close"]);
    }

    #[test]
    fn a_companion_sends_what_is_handed_over_and_stays_open() {
        let cfg = ProducerConfig::defaults(Profile::Java);
        let mut p = Producer::companion(4, cfg, vec![B0]);
        let mut io = Recorder::new(0);
        let hand = |topic: &str, v: &[u8]| Msg::AppProduce {
            topic: topic.into(),
            payload: Payload::new(Some(b"k"), Some(v)),
        };
        // before it is bootstrapped, records wait
        p.on_message(&mut io, ME, hand("b", b"x"));
        assert!(io.out.is_empty());
        connect(&mut p, &mut io);
        let out = io.take();
        assert_eq!(split(&out), (vec!["connected", "send"], vec![(0, 1, 0, 0)]));
        p.on_message(&mut io, ME, hand("a", b"y"));
        let out = io.take();
        assert_eq!(split(&out), (vec!["send"], vec![(1, 0, 0, 0)]));
        let Some(Output::Event(Event::Send { id, .. })) = out.first() else {
            panic!("{out:?}")
        };
        assert_eq!(id.producer, 4);
        for seq in [0, 1] {
            let id = RecordId { producer: 4, seq };
            let tp = Tp::new(1 - seq, 0);
            p.on_message(
                &mut io,
                B0,
                Msg::ProduceResp {
                    tp,
                    id,
                    result: Ok(0),
                },
            );
        }
        assert_eq!(split(&io.take()).0, ["produce", "produce"], "no producer_done");
    }

    /// Sends one record; sends a failed record again (at-least-once).
    struct AtLeastOnce(bool);

    impl ProducerApp for AtLeastOnce {
        fn next(&mut self, _ctx: &mut ProducerCtx) -> Next {
            if std::mem::replace(&mut self.0, true) {
                return Next::Done;
            }
            Next::Send(OutRecord {
                topic: None,
                payload: Payload::new(None, Some(b"once")),
                partition: Some(0),
            })
        }

        fn on_failed(&mut self, ctx: &mut ProducerCtx, sent: &Sent, _error: ErrorCode) {
            ctx.send(OutRecord {
                topic: None,
                payload: sent.payload.clone(),
                partition: Some(sent.tp.partition),
            });
        }
    }

    #[test]
    fn an_application_sends_a_failed_record_again_in_a_new_epoch() {
        let cfg = ProducerConfig {
            retries: 0,
            ..ProducerConfig::defaults(Profile::Java)
        };
        let mut p = Producer::with_app(0, cfg, vec![B0], Some("a".into()), Box::new(AtLeastOnce(false)));
        let mut io = Recorder::new(0);
        connect(&mut p, &mut io);
        assert_eq!(split(&io.take()).1, [(0, 0, 0, 0)]);
        ack(&mut p, &mut io, 0, Err(ErrorCode::NotEnoughReplicas));
        // failed for good: the epoch of the partition is bumped, the copy numbered from 0
        let out = io.take();
        assert_eq!(split(&out), (vec!["produce_failed", "send"], vec![(1, 0, 0, 1)]));
        ack(&mut p, &mut io, 1, Ok(3));
        assert_eq!(split(&io.take()).0, ["produce", "producer_done", "close"]);
        assert_eq!((p.sent, p.acked), (2, 1));
    }
}
