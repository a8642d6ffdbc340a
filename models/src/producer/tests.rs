//! The producer without the engine: its application, batching, epochs.

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
            Output::Send(_, Msg::ProduceReq { batches, .. }) => Some(batches),
            _ => None,
        })
        .flatten()
        .flat_map(|b| {
            (0..b.records.len()).map(move |i| {
                let seq = if b.base_seq < 0 { -1 } else { b.base_seq + i as i32 };
                (b.records[i].id.seq, b.tp.topic, seq, b.pepoch)
            })
        })
        .collect();
    (events, sends)
}

/// The broker's answer to a request of one batch.
fn answer(tp: Tp, id: RecordId, result: Result<i64, ErrorCode>) -> Msg {
    Msg::ProduceResp {
        results: vec![crate::protocol::ProduceResult { tp, id, result }],
    }
}

fn ack(p: &mut Producer, io: &mut Recorder, seq: u32, result: Result<i64, ErrorCode>) {
    let id = RecordId { producer: 0, seq };
    let tp = Tp::new(0, 0);
    p.on_message(io, B0, answer(tp, id, result));
}

#[test]
fn a_scripted_producer_sends_its_records_then_closes() {
    let records = Records::Generated {
        count: 2,
        key: Some("k{i}".into()),
        value: "v{i}".into(),
    };
    let cfg = ProducerConfig {
        linger_ms: 0,
        ..ProducerConfig::defaults(Profile::Java)
    };
    let mut p = Producer::new(0, cfg, vec![B0], "b".into(), records, Time::ms(10));
    let mut io = Recorder::new(0);
    connect(&mut p, &mut io);
    let out = io.take();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Timer(t, ClientTimer::SendNext) if *t == Time::ms(10))));
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
    let cfg = ProducerConfig {
        linger_ms: 0,
        ..ProducerConfig::defaults(Profile::Java)
    };
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
        p.on_message(&mut io, B0, answer(tp, id, Ok(0)));
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

/// demo3's producer: five records sent in one instant, to partitions 1 0 1 0 3 (the
/// records a kafka-python run sends to partition 1 first and third); the batches of its
/// Produce requests, as send numbers, until nothing more is sent.
fn demo3_batches(seed: u64) -> Vec<Vec<u32>> {
    let list = [1, 0, 1, 0, 3]
        .iter()
        .map(|&p| (Payload::new(Some(b"k"), Some(b"v")), Some(p)))
        .collect();
    let cfg = ProducerConfig::defaults(Profile::KafkaPython);
    let mut p = Producer::new(0, cfg, vec![B0], "a".into(), Records::List(list), Time::ZERO);
    let mut io = Recorder::new(seed);
    connect(&mut p, &mut io);
    let mut batches = Vec::new();
    loop {
        let out = io.take();
        let mut next = false;
        for o in &out {
            match o {
                Output::Send(_, Msg::ProduceReq { batches: b, .. }) => batches.extend(
                    b.iter()
                        .map(|b| b.records.iter().map(|r| r.id.seq).collect::<Vec<_>>()),
                ),
                Output::Timer(_, ClientTimer::SendNext) => next = true,
                _ => {}
            }
        }
        if !next {
            // the first requests' answers: what the muted partitions hold goes next
            for b in batches.clone() {
                let id = RecordId {
                    producer: 0,
                    seq: b[0],
                };
                let tp = Tp::new(0, 0);
                p.on_message(&mut io, B0, answer(tp, id, Ok(0)));
            }
            for o in io.take() {
                if let Output::Send(_, Msg::ProduceReq { batches: b, .. }) = o {
                    batches.extend(
                        b.iter()
                            .map(|b| b.records.iter().map(|r| r.id.seq).collect::<Vec<_>>()),
                    );
                }
            }
            return batches;
        }
        p.on_message(&mut io, ME, Msg::ClientTimer(ClientTimer::SendNext));
    }
}

#[test]
fn kafka_pythons_sender_thread_races_a_loop_of_sends() {
    let mut together = 0;
    for seed in 0..1600 {
        let batches = demo3_batches(seed);
        let mut all: Vec<u32> = batches.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, [0, 1, 2, 3, 4], "every record once: {batches:?}");
        if batches.iter().any(|b| b == &[0, 2]) {
            together += 1;
        } else {
            assert!(
                batches.contains(&vec![0]) && batches.contains(&vec![2]),
                "{batches:?}"
            );
        }
    }
    // (3/4)² of 1600 is 900; three standard deviations are about 60
    assert!((840..=960).contains(&together), "{together}");
    // Java's sender does not race: one instant's records wait out linger.ms together
    assert!(!ProducerConfig::defaults(Profile::Java).python_sender);
}
