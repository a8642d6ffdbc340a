//! The sender without the engine: requests per broker, caps, backoff, timeouts, failures.

use super::super::accumulator::{Partitioner, Record};
use super::super::idempotence::Stamp;
use super::super::io::{cluster, Output, Recorder};
use super::*;
use crate::config::{NullKeyStrategy, Profile};
use crate::partitioner::KeyHash;
use crate::types::Payload;

const B0: ActorId = ActorId(0);

/// Java's defaults with two requests in flight per broker, `linger.ms=0`, and one batch per
/// request (`max.request.size` of a byte: only the first batch goes).
fn cfg() -> ProducerConfig {
    ProducerConfig {
        max_in_flight: 2,
        linger_ms: 0,
        max_request_size: 1,
        ..ProducerConfig::defaults(Profile::Java)
    }
}

/// A sender with the metadata of one broker (partitions of 4), and an empty accumulator.
fn setup(cfg: ProducerConfig) -> (Sender, Accumulator, Recorder) {
    let (_, image) = cluster(1, 4);
    let acc = accumulator(&cfg);
    let mut s = Sender::new(3, cfg, vec![B0]);
    s.on_metadata(image);
    (s, acc, Recorder::new(1))
}

fn accumulator(cfg: &ProducerConfig) -> Accumulator {
    let p = Partitioner::new(KeyHash::Murmur2, NullKeyStrategy::RandomPerRecord);
    Accumulator::new(p, cfg.batching())
}

/// Appends `record` at `io`'s time.
fn append(acc: &mut Accumulator, io: &mut Recorder, record: Record) {
    acc.append(io.now, record);
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
        sent: false,
    }
}

/// The Produce requests among `out`: each as its batches, each as its records' send numbers.
fn requests(out: &[Output]) -> Vec<Vec<Vec<u32>>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(_, Msg::ProduceReq { batches, .. }) => Some(
                batches
                    .iter()
                    .map(|b| b.records.iter().map(|r| r.id.seq).collect())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The first send number of each request among `out` (requests of one batch each).
fn produced(out: &[Output]) -> Vec<u32> {
    requests(out).iter().map(|r| r[0][0]).collect()
}

fn id(seq: u32) -> RecordId {
    RecordId { producer: 3, seq }
}

#[test]
fn in_flight_requests_are_capped_per_broker() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    for seq in 0..5 {
        append(&mut acc, &mut io, record(seq, seq % 4));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    // record 4 joined partition 0's batch
    assert_eq!(requests(&io.take()), [vec![vec![0, 4]], vec![vec![1]]]);
    assert_eq!((s.in_flight_to(B0), acc.len()), (2, 2));
    // an answer frees a slot: the round goes on from the partition after the last one sent
    assert!(s.on_response(&mut acc, &mut io, id(1), Ok(7), &mut settled));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(matches!(
        &out[0],
        Output::Event(Event::Produced { offset: 7, .. })
    ));
    assert_eq!(produced(&out), [2]);
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].result, Ok(7));
    // a batch's records take consecutive offsets from its base offset
    assert!(s.on_response(&mut acc, &mut io, id(0), Ok(20), &mut settled));
    let offsets: Vec<_> = settled[1..].iter().map(|s| (s.sent.id.seq, s.result)).collect();
    assert_eq!(offsets, [(0, Ok(20)), (4, Ok(21))]);
    // a second answer to the same request is not the answer to anything
    assert!(!s.on_response(&mut acc, &mut io, id(1), Ok(7), &mut settled));
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
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    io.now = Time::ms(5);
    assert!(s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled
    ));
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
fn kafka_python_retries_after_exactly_retry_backoff_ms() {
    // no jitter and no doubling: the second retry waits 100 ms as the first did
    let c = ProducerConfig {
        retry_jitter: false,
        retry_backoff_max_ms: 100,
        ..cfg()
    };
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    for (answered, retry) in [(5, 105), (110, 210)] {
        io.now = Time::ms(answered);
        assert!(s.on_response(
            &mut acc,
            &mut io,
            id(0),
            Err(ErrorCode::NotEnoughReplicas),
            &mut settled
        ));
        let out = io.take();
        let Some(Output::Timer(at, ClientTimer::Retry)) = out.get(1) else {
            panic!("a retry timer: {out:?}");
        };
        assert_eq!(*at, Time::ms(retry), "retry_backoff_ms after the answer");
        io.now = Time::ms(retry);
        s.on_retry_timer(&mut acc, &mut io, &mut settled);
        assert_eq!(produced(&io.take()), [0]);
    }
}

#[test]
fn the_delivery_timeout_fails_a_record() {
    let c = ProducerConfig {
        delivery_timeout_ms: 1000,
        ..cfg()
    };
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    io.now = Time::ms(999);
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
    assert!(settled.is_empty(), "retried within the delivery timeout");
    io.now = Time::ms(1200);
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [0]);
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
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
    append(&mut acc, &mut io, record(0, 0));
    append(&mut acc, &mut io, record(1, 1));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(
        &mut acc,
        &mut io,
        id(1),
        Err(ErrorCode::OutOfOrderSequenceNumber),
        &mut settled,
    );
    assert_eq!(settled[0].result, Err(ErrorCode::OutOfOrderSequenceNumber));
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
    assert_eq!(settled.len(), 1, "one retry left");
    io.now = Time::ms(1000);
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
    assert_eq!(settled[1].result, Err(ErrorCode::NotEnoughReplicas));
}

#[test]
fn idempotence_keeps_a_partition_behind_its_record_in_backoff() {
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        max_in_flight: 5,
        ..cfg()
    });
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
    io.take();
    append(&mut acc, &mut io, record(1, 0));
    append(&mut acc, &mut io, record(2, 1));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(
        produced(&io.take()),
        [2],
        "partition 0 waits for record 0's batch"
    );
    // without idempotence it does not wait
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        idempotence: false,
        ..cfg()
    });
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled,
    );
    io.take();
    append(&mut acc, &mut io, record(1, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(produced(&io.take()), [1]);
}

#[test]
fn a_request_timeout_retries_after_a_metadata_refresh() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(matches!(out[1], Output::Timer(t, ClientTimer::ProduceWatchdog) if t == Time::ms(30_000)));
    io.now = Time::ms(30_000);
    s.on_watchdog(&mut acc, &mut io, &mut settled);
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
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!((settled[0].result, s.is_empty()), (Ok(-1), true));
    let (mut s, mut acc, mut io) = setup(cfg());
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    s.on_disconnected(&mut acc, &mut io, B0, &mut settled);
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
    let mut io = Recorder::new(1);
    // three single-record batches for broker 0 (batch.num.messages 1), one for broker 1
    let mut acc = Accumulator::new(
        Partitioner::new(KeyHash::Murmur2, NullKeyStrategy::RandomPerRecord),
        ProducerConfig {
            batch_num_messages: 1,
            ..cfg()
        }
        .batching(),
    );
    for seq in 0..3 {
        append(&mut acc, &mut io, record(seq, on_b0[0]));
    }
    append(&mut acc, &mut io, record(3, on_b1[0]));
    s.pump(&mut acc, &mut io, &mut Vec::new());
    let mut firsts = produced(&io.take());
    firsts.sort();
    assert_eq!(firsts, [0, 1, 3]);
    assert_eq!((s.in_flight_to(B0), s.in_flight_to(ActorId(1))), (2, 1));
}

#[test]
fn one_request_per_broker_carries_a_batch_of_each_ready_partition() {
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        max_request_size: 1_048_576,
        ..cfg()
    });
    let mut settled = Vec::new();
    for seq in 0..6 {
        append(&mut acc, &mut io, record(seq, seq % 3));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert_eq!(requests(&out), [vec![vec![0, 3], vec![1, 4], vec![2, 5]]]);
    let Some(Output::Send(_, Msg::ProduceReq { batches, .. })) = out.first() else {
        panic!("{out:?}")
    };
    // sequence numbers: the batch's base and last
    assert_eq!((batches[1].base_seq, batches[1].last_seq()), (1, 2));
    assert_eq!(s.in_flight_to(B0), 1);
    // the partitions' next batches wait for the next request; a request whose every batch is
    // answered frees its slot
    for first in [0, 1] {
        assert!(s.on_response(&mut acc, &mut io, id(first), Ok(0), &mut settled));
    }
    assert_eq!(s.in_flight_to(B0), 1);
    assert!(s.on_response(&mut acc, &mut io, id(2), Ok(0), &mut settled));
    assert_eq!(s.in_flight_to(B0), 0);
    assert_eq!(settled.len(), 6);
}

#[test]
fn max_request_size_cuts_a_request_and_the_round_moves_on() {
    // a batch of one record of 1 byte is 61 + 21 + 1 bytes: two fit in 200
    let (mut s, mut acc, mut io) = setup(ProducerConfig {
        max_request_size: 200,
        max_in_flight: 5,
        ..cfg()
    });
    let mut settled = Vec::new();
    for seq in 0..4 {
        append(&mut acc, &mut io, record(seq, seq));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(
        requests(&io.take()),
        [vec![vec![0], vec![1]], vec![vec![2], vec![3]]]
    );
    // the next round starts after partition 3: at partition 0 again, then 1
    for seq in 4..8 {
        append(&mut acc, &mut io, record(seq, 3 - (seq - 4)));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(
        requests(&io.take()),
        [vec![vec![7], vec![6]], vec![vec![5], vec![4]]]
    );
}

#[test]
fn linger_holds_a_batch_until_it_expires_or_fills_and_one_timer_wakes_the_sender() {
    let c = ProducerConfig {
        linger_ms: 5,
        batch_size: 61 + 2 * 22,
        ..cfg()
    };
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    io.now = Time::ms(1);
    append(&mut acc, &mut io, record(1, 1));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(requests(&out).is_empty(), "nothing ready before linger.ms");
    // one timer, for the first batch to be ready
    assert!(
        matches!(&out[..], [Output::Timer(t, ClientTimer::Linger)] if *t == Time::ms(5)),
        "{out:?}"
    );
    // the second record of partition 0 fills its batch: ready at once, no new timer
    io.now = Time::ms(2);
    append(&mut acc, &mut io, record(2, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert_eq!(requests(&out), [vec![vec![0, 2]]]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Timer(_, ClientTimer::Linger))));
    // the timer fires at 5 ms: partition 1's batch waits until 6 ms, and a timer for it
    io.now = Time::ms(5);
    s.on_linger_timer(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert!(requests(&out).is_empty());
    assert!(
        matches!(&out[..], [Output::Timer(t, ClientTimer::Linger)] if *t == Time::ms(6)),
        "{out:?}"
    );
    io.now = Time::ms(6);
    s.on_linger_timer(&mut acc, &mut io, &mut settled);
    assert_eq!(requests(&io.take()), [vec![vec![1]]]);
    // a flush makes every batch ready (once a request slot is free)
    assert!(s.on_response(&mut acc, &mut io, id(0), Ok(0), &mut settled));
    append(&mut acc, &mut io, record(3, 2));
    acc.set_flushing(true);
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(requests(&io.take()), [vec![vec![3]]]);
}

#[test]
fn a_batch_is_retried_whole_under_the_same_sequence_numbers() {
    let (mut s, mut acc, mut io) = setup(cfg());
    let mut settled = Vec::new();
    for seq in 0..3 {
        append(&mut acc, &mut io, record(seq, 0));
    }
    s.pump(&mut acc, &mut io, &mut settled);
    io.take();
    // a record sent meanwhile starts a batch of its own: the one in flight is closed
    append(&mut acc, &mut io, record(3, 0));
    assert!(s.on_response(
        &mut acc,
        &mut io,
        id(0),
        Err(ErrorCode::NotEnoughReplicas),
        &mut settled
    ));
    let retries = io
        .take()
        .iter()
        .filter(|o| matches!(o, Output::Event(Event::ProduceRetry { .. })))
        .count();
    assert_eq!(retries, 3, "one retry event per record of the batch");
    io.now = Time::ms(1000);
    s.on_retry_timer(&mut acc, &mut io, &mut settled);
    let out = io.take();
    assert_eq!(requests(&out), [vec![vec![0, 1, 2]], vec![vec![3]]]);
    let Some(Output::Send(_, Msg::ProduceReq { batches, .. })) =
        out.iter().find(|o| matches!(o, Output::Send(..)))
    else {
        panic!()
    };
    assert_eq!((batches[0].base_seq, batches[0].last_seq()), (0, 2));
}

#[test]
fn kafka_python_mutes_a_partition_while_its_batch_is_in_flight() {
    let c = ProducerConfig {
        max_in_flight: 5,
        ..ProducerConfig::defaults(Profile::KafkaPython)
    };
    assert!(c.mutes_partitions());
    let (mut s, mut acc, mut io) = setup(c);
    let mut settled = Vec::new();
    append(&mut acc, &mut io, record(0, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    io.now = Time::ms(1);
    // partition 0 is muted: its records gather in one batch behind the one in flight
    append(&mut acc, &mut io, record(1, 0));
    append(&mut acc, &mut io, record(2, 1));
    append(&mut acc, &mut io, record(3, 0));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(requests(&io.take()), [vec![vec![0]], vec![vec![2]]]);
    assert!(s.on_response(&mut acc, &mut io, id(0), Ok(0), &mut settled));
    s.pump(&mut acc, &mut io, &mut settled);
    assert_eq!(requests(&io.take()), [vec![vec![1, 3]]]);
    // Java with five in flight does not mute
    assert!(!ProducerConfig::defaults(Profile::Java).mutes_partitions());
}
