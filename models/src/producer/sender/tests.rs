//! The sender without the engine: caps, backoff, timeouts, failures.

use super::super::accumulator::Partitioner;
use super::super::idempotence::Stamp;
use super::super::io::{cluster, Output, Recorder};
use super::*;
use crate::config::{NullKeyStrategy, Profile};
use crate::partitioner::KeyHash;
use crate::types::Payload;

const B0: ActorId = ActorId(0);

fn cfg() -> ProducerConfig {
    ProducerConfig {
        max_in_flight: 2,
        ..ProducerConfig::defaults(Profile::Java)
    }
}

/// A sender with the metadata of one broker (partitions of 4), and an empty accumulator.
fn setup(cfg: ProducerConfig) -> (Sender, Accumulator, Recorder) {
    let (_, image) = cluster(1, 4);
    let mut s = Sender::new(3, cfg, vec![B0]);
    s.on_metadata(image);
    let acc = Accumulator::new(Partitioner::new(
        KeyHash::Murmur2,
        NullKeyStrategy::RandomPerRecord,
    ));
    (s, acc, Recorder::new(1))
}

fn record(seq: u32, partition: u32) -> Record {
    Record {
        seq,
        tp: Tp::new(0, partition),
        payload: Payload::new(None, Some(b"v")),
        stamp: Stamp {
            seq: seq as i32,
            epoch: 0,
        },
        first_sent: Time::ZERO,
        retries: 0,
        sent: false,
    }
}

/// The send numbers of the Produce requests among `out`.
fn produced(out: &[Output]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(_, Msg::ProduceReq { id, .. }) => Some(id.seq),
            _ => None,
        })
        .collect()
}

fn id(seq: u32) -> RecordId {
    RecordId { producer: 3, seq }
}

#[test]
fn in_flight_requests_are_capped_per_broker() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    for seq in 0..5 {
        acc.append(record(seq, seq % 4));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [0, 1]);
    assert_eq!((s.in_flight_to(B0), acc.len()), (2, 3));
    // an answer frees a slot: the oldest waiting record goes
    assert!(s.on_response(&mut io, id(1), Ok(7), &mut settled));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(matches!(
        &out[0],
        Output::Event(Event::Produced { offset: 7, .. })
    ));
    assert_eq!(produced(&out), [2]);
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].result, Ok(7));
    // a second answer to the same request is not the answer to anything
    assert!(!s.on_response(&mut io, id(1), Ok(7), &mut settled));
}

#[test]
fn retry_backoff_doubles_up_to_its_cap() {
    let c = ProducerConfig {
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 1000,
        ..cfg()
    };
    let b: Vec<u64> = (1..=7).map(|r| backoff_ms(&c, r)).collect();
    assert_eq!(b, [100, 200, 400, 800, 1000, 1000, 1000]);
    // a cap below the base leaves the base
    let low = ProducerConfig {
        retry_backoff_max_ms: 10,
        ..c.clone()
    };
    assert_eq!(backoff_ms(&low, 5), 100);
    assert_eq!(backoff_ms(&c, u32::MAX), 1000);
}

#[test]
fn a_retry_waits_out_a_jittered_backoff_then_goes_again() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    io.now = Time::ms(5);
    assert!(s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled));
    let out = io.take();
    assert!(matches!(
        &out[0],
        Output::Event(Event::ProduceRetry {
            error: ErrorCode::NotEnoughReplicas,
            ..
        })
    ));
    let Output::Timer(at, ClientTimer::Retry) = out[1] else {
        panic!("a retry timer: {out:?}");
    };
    // 100 ms ± 20 %
    assert!(at >= Time::ms(85) && at <= Time::ms(125), "{at:?}");
    assert!(settled.is_empty() && !s.is_empty());
    // the timer fires: no metadata wanted for this error, the record goes again
    io.now = at;
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [0]);
    assert_eq!(s.in_flight_to(B0), 1);
}

#[test]
fn the_delivery_timeout_fails_a_record() {
    let c = ProducerConfig {
        delivery_timeout_ms: 1000,
        ..cfg()
    };
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    io.now = Time::ms(999);
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    assert!(settled.is_empty(), "retried within the delivery timeout");
    io.now = Time::ms(1200);
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [0]);
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    let out = io.take();
    assert!(
        matches!(
            &out[..],
            [Output::Event(Event::ProduceFailed {
                error: ErrorCode::DeliveryTimedOut,
                ..
            })]
        ),
        "{out:?}"
    );
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].result, Err(ErrorCode::DeliveryTimedOut));
    assert!(s.is_empty());
}

#[test]
fn retries_run_out_and_out_of_order_fails_at_once() {
    let c = ProducerConfig { retries: 1, ..cfg() };
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    acc.append(record(1, 1));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(
        &mut io,
        id(1),
        Err(ErrorCode::OutOfOrderSequenceNumber),
        &mut settled,
    );
    assert_eq!(settled[0].result, Err(ErrorCode::OutOfOrderSequenceNumber));
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    assert_eq!(settled.len(), 1, "one retry left");
    io.now = Time::ms(1000);
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    assert_eq!(settled[1].result, Err(ErrorCode::NotEnoughReplicas));
}

#[test]
fn idempotence_keeps_a_partition_behind_its_record_in_backoff() {
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        max_in_flight: 5,
        ..cfg()
    });
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    io.take();
    acc.append(record(1, 0));
    acc.append(record(2, 1));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [2], "partition 0 waits for record 0");
    // without idempotence it does not wait
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        idempotence: false,
        ..cfg()
    });
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(&mut io, id(0), Err(ErrorCode::NotEnoughReplicas), &mut settled);
    io.take();
    acc.append(record(1, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [1]);
}

#[test]
fn a_request_timeout_retries_after_a_metadata_refresh() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(matches!(out[1], Output::Timer(t, ClientTimer::ProduceWatchdog) if t == Time::ms(30_000)));
    io.now = Time::ms(30_000);
    s.on_watchdog(&mut io, &mut settled);
    let out = io.take();
    assert!(matches!(
        &out[0],
        Output::Event(Event::ProduceRetry {
            error: ErrorCode::RequestTimedOut,
            ..
        })
    ));
    assert_eq!(s.in_flight_to(B0), 0);
    // the retry asks for metadata first; its answer sends the record
    let Output::Timer(at, ClientTimer::Retry) = out[1] else {
        panic!("{out:?}");
    };
    io.now = at;
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    assert!(matches!(
        &io.take()[..],
        [Output::Send(B0, Msg::MetadataReq), Output::Timer(..)]
    ));
    let (_, image) = cluster(1, 4);
    s.on_metadata(image);
    s.retry_waiting(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [0]);
}

#[test]
fn acks_0_settles_when_sent_and_a_broken_connection_fails_requests() {
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        acks: Acks::None,
        idempotence: false,
        ..cfg()
    });
    let mut settled = Vec::new();
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!((settled[0].result, s.is_empty()), (Ok(-1), true));
    let (mut s, mut acc, mut io) = setup(cfg());
    acc.append(record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    s.on_disconnected(&mut io, B0, &mut settled);
    assert!(matches!(
        &io.take()[0],
        Output::Event(Event::ProduceRetry {
            error: ErrorCode::NetworkException,
            ..
        })
    ));
    assert_eq!(s.in_flight_to(B0), 0);
}

#[test]
fn the_cap_of_one_broker_does_not_hold_back_another() {
    let (_, image) = cluster(2, 4);
    let leader = |p| image.leader_actor(Tp::new(0, p)).expect("led");
    let (on_b0, on_b1): (Vec<u32>, Vec<u32>) = (0..4).partition(|p| leader(*p) == B0);
    assert!(!on_b0.is_empty() && !on_b1.is_empty());
    let mut s = Sender::new(3, cfg(), vec![B0, ActorId(1)]);
    s.on_metadata(image.clone());
    let mut acc = Accumulator::new(Partitioner::new(
        KeyHash::Murmur2,
        NullKeyStrategy::RandomPerRecord,
    ));
    let mut io = Recorder::new(1);
    // three records for broker 0, then one for broker 1
    for seq in 0..3 {
        acc.append(record(seq, on_b0[0]));
    }
    acc.append(record(3, on_b1[0]));
    s.pump(&mut acc, &mut io, &mut Vec::new());
    assert_eq!(produced(&io.take()), [0, 1, 3]);
    assert_eq!((s.in_flight_to(B0), s.in_flight_to(ActorId(1))), (2, 1));
}
