//! The broker actor through the engine: its dispatch consults the fault-injection rules
//! before the API handlers run.

use super::interceptor::{ApiKey, InjectRule};
use super::*;
use crate::coordinator::GroupConfig;
use crate::protocol::{ErrorCode, TxnReply};
use sim::{NetConfig, Sim};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

type Seen = Rc<RefCell<Vec<(Time, Msg)>>>;

/// Sends its next request to the broker at each `Start`, notes every answer.
struct Client {
    broker: ActorId,
    requests: VecDeque<Msg>,
    seen: Seen,
}

impl Actor<Msg, Event> for Client {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, _: ActorId, msg: Msg) {
        match msg {
            Msg::Start => {
                let req = self.requests.pop_front().expect("a request");
                ctx.send(self.broker, req);
            }
            answer => self.seen.borrow_mut().push((ctx.now(), answer)),
        }
    }
}

/// One broker with `inject`, one client sending `requests` at `at` ms each.
fn run(inject: Vec<InjectRule>, requests: Vec<(u64, Msg)>) -> Vec<(Time, Msg)> {
    let (meta, cluster) = testkit::cluster(1);
    let cfg = BrokerConfig {
        node: 1,
        group: GroupConfig {
            initial_rebalance_delay_us: 0,
        },
        controller: None,
        heartbeat_interval: Time::ms(2000),
        replica_lag_max: Time::ms(30_000),
        replica_fetch_wait: Time::ms(500),
        replica_socket_timeout: Time::ms(30_000),
        min_isr: vec![1, 1],
        retention: vec![None],
        retention_check: Time::ms(300_000),
        inject,
    };
    let net = NetConfig {
        base: Time::ms(1),
        jitter: Time::ZERO,
    };
    let mut sim: Sim<Msg, Event> = Sim::new(0, net);
    let broker = sim.add_actor("broker-1", Box::new(Broker::new(meta, cluster, cfg)));
    let seen = Seen::default();
    let times: Vec<u64> = requests.iter().map(|(at, _)| *at).collect();
    let requests = requests.into_iter().map(|(_, m)| m).collect();
    let client = Client {
        broker,
        requests,
        seen: seen.clone(),
    };
    let client = sim.add_actor("client", Box::new(client));
    sim.schedule(Time::ZERO, broker, Msg::Start);
    for at in times {
        sim.schedule(Time::ms(at), client, Msg::Start);
    }
    sim.run_until(Time::ms(10_000));
    seen.take()
}

fn offset_fetch(tag: u64) -> Msg {
    Msg::OffsetFetchReq {
        group: "g".into(),
        partitions: vec![testkit::TP],
        require_stable: false,
        tag,
    }
}

#[test]
fn an_injected_error_answers_instead_of_the_handler_then_requests_pass() {
    let load = ErrorCode::CoordinatorLoadInProgress;
    let rule = InjectRule::error(ApiKey::OffsetFetch, load);
    let seen = run(vec![rule], vec![(10, offset_fetch(1)), (20, offset_fetch(2))]);
    assert!(matches!(
        &seen[..],
        [
            (_, Msg::OffsetFetchResp { tag: 1, offsets: Err(ErrorCode::CoordinatorLoadInProgress) }),
            (_, Msg::OffsetFetchResp { tag: 2, offsets: Ok(o) }),
        ] if o == &vec![(testkit::TP, None)]
    ));
}

#[test]
fn a_delayed_request_is_handled_after_the_delay() {
    let rule = InjectRule::delay(ApiKey::OffsetFetch, Time::ms(250));
    let seen = run(vec![rule], vec![(10, offset_fetch(1)), (20, offset_fetch(2))]);
    let at: Vec<(u64, Time)> = seen
        .iter()
        .map(|(t, m)| match m {
            Msg::OffsetFetchResp { tag, offsets: Ok(_) } => (*tag, *t),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // sent at 10 ms, arrives at 11, held 250 ms, answered at 262; the second is not held
    assert_eq!(at, vec![(2, Time::ms(22)), (1, Time::ms(262))]);
}

#[test]
fn without_rules_requests_are_handled_at_once() {
    let seen = run(Vec::new(), vec![(10, offset_fetch(1))]);
    assert!(matches!(seen[..], [(t, Msg::OffsetFetchResp { tag: 1, offsets: Ok(_) })] if t == Time::ms(12)));
}

/// One broker of a cluster with `__transaction_state`, one client sending `requests` at `at`
/// ms each: what the client saw, and the broker's history.
fn run_txn(requests: Vec<(u64, Msg)>) -> (Vec<(Time, Msg)>, Vec<Event>) {
    let (meta, cluster) = testkit::cluster(1);
    let cluster = Arc::new((*cluster).clone().with_transaction_state(50, 3));
    let cfg = BrokerConfig {
        node: 1,
        group: GroupConfig {
            initial_rebalance_delay_us: 0,
        },
        controller: None,
        heartbeat_interval: Time::ms(2000),
        replica_lag_max: Time::ms(30_000),
        replica_fetch_wait: Time::ms(500),
        replica_socket_timeout: Time::ms(30_000),
        min_isr: vec![1, 1],
        retention: vec![None],
        retention_check: Time::ms(300_000),
        inject: Vec::new(),
    };
    let net = NetConfig {
        base: Time::ms(1),
        jitter: Time::ZERO,
    };
    let mut sim: Sim<Msg, Event> = Sim::new(0, net);
    let broker = sim.add_actor("broker-1", Box::new(Broker::new(meta, cluster, cfg)));
    let seen = Seen::default();
    let times: Vec<u64> = requests.iter().map(|(at, _)| *at).collect();
    let client = Client {
        broker,
        requests: requests.into_iter().map(|(_, m)| m).collect(),
        seen: seen.clone(),
    };
    let client = sim.add_actor("client", Box::new(client));
    sim.schedule(Time::ZERO, broker, Msg::Start);
    for at in times {
        sim.schedule(Time::ms(at), client, Msg::Start);
    }
    sim.run_until(Time::ms(100_000));
    let events = sim
        .trace()
        .entries()
        .iter()
        .filter(|e| e.actor == broker)
        .map(|e| e.record.clone())
        .collect();
    (seen.take(), events)
}

fn tid() -> Arc<str> {
    "pipeline-1".into()
}

#[test]
fn a_transaction_commits_through_the_coordinator_and_its_marker_takes_an_offset() {
    // InitProducerId hands out epoch 0 of a producer id numbered in the id's partition
    let p = crate::cluster::coordinator_partition("pipeline-1", 50);
    let pid = i64::from(p) << 32;
    let requests = vec![
        (
            10,
            Msg::InitProducerIdReq {
                transactional_id: tid(),
                timeout_us: 60_000_000,
            },
        ),
        (
            20,
            Msg::AddPartitionsToTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                partitions: vec![testkit::TP],
            },
        ),
        (
            30,
            Msg::EndTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                commit: true,
            },
        ),
        // the old epoch is fenced now
        (
            40,
            Msg::AddPartitionsToTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                partitions: vec![testkit::TP],
            },
        ),
    ];
    let (seen, events) = run_txn(requests);
    let replies: Vec<TxnReply> = seen
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::TxnResp(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            TxnReply::InitProducerId(Ok((pid, 0))),
            TxnReply::AddPartitions(Ok(())),
            TxnReply::EndTxn(Ok((pid, 1))),
            TxnReply::AddPartitions(Err(ErrorCode::ProducerFenced)),
        ]
    );
    let markers: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::MarkerWritten { .. }))
        .collect();
    assert_eq!(
        markers,
        vec![&Event::MarkerWritten {
            tp: testkit::TP,
            offset: 0,
            producer_id: pid,
            commit: true,
        }]
    );
}

#[test]
fn a_transaction_left_open_is_aborted_after_its_timeout() {
    let p = crate::cluster::coordinator_partition("pipeline-1", 50);
    let pid = i64::from(p) << 32;
    let requests = vec![
        (
            10,
            Msg::InitProducerIdReq {
                transactional_id: tid(),
                timeout_us: 15_000_000,
            },
        ),
        (
            20,
            Msg::AddPartitionsToTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                partitions: vec![testkit::TP],
            },
        ),
        // after the abort: the producer was fenced
        (
            40_000,
            Msg::EndTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                commit: true,
            },
        ),
    ];
    let (seen, events) = run_txn(requests);
    let abort = events.iter().any(|e| {
        matches!(
            e,
            Event::MarkerWritten {
                commit: false,
                offset: 0,
                ..
            }
        )
    });
    assert!(
        abort,
        "the check at 20 s aborts it (begun at 21 ms, 15 s timeout): {events:?}"
    );
    assert!(matches!(
        seen.last(),
        Some((_, Msg::TxnResp(TxnReply::EndTxn(Err(ErrorCode::ProducerFenced)))))
    ));
}

#[test]
fn a_broker_that_does_not_lead_the_partition_is_not_the_coordinator() {
    let seen = run(
        Vec::new(),
        vec![(
            10,
            Msg::InitProducerIdReq {
                transactional_id: tid(),
                timeout_us: 60_000_000,
            },
        )],
    );
    assert!(matches!(
        seen[..],
        [(
            _,
            Msg::TxnResp(TxnReply::InitProducerId(Err(ErrorCode::NotCoordinator)))
        )]
    ));
}

#[test]
fn transactional_offsets_become_committed_with_the_commit_marker() {
    let p = crate::cluster::coordinator_partition("pipeline-1", 50);
    let pid = i64::from(p) << 32;
    let (_, cluster) = testkit::cluster(1);
    let otp = cluster.offsets_tp("g");
    let g: Arc<str> = "g".into();
    let requests = vec![
        (
            10,
            Msg::InitProducerIdReq {
                transactional_id: tid(),
                timeout_us: 60_000_000,
            },
        ),
        // AddOffsetsToTxn: the group's offsets partition joins the transaction
        (
            20,
            Msg::AddPartitionsToTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                partitions: vec![otp],
            },
        ),
        (
            30,
            Msg::TxnOffsetCommitReq(Box::new(crate::protocol::TxnOffsetCommit {
                corr: 7,
                producer_id: pid,
                group: g.clone(),
                member_id: None,
                generation: -1,
                offsets: vec![(testkit::TP, 5)],
            })),
        ),
        (40, offset_fetch(1)),
        (
            50,
            Msg::EndTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                commit: true,
            },
        ),
        (60, offset_fetch(2)),
    ];
    let (seen, events) = run_txn(requests);
    let fetched: Vec<(u64, Option<i64>)> = seen
        .iter()
        .filter_map(|(_, m)| match m {
            Msg::OffsetFetchResp { tag, offsets: Ok(o) } => Some((*tag, o[0].1)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fetched,
        vec![(1, None), (2, Some(5))],
        "visible at the commit only"
    );
    assert!(seen.iter().any(|(_, m)| matches!(
        m,
        Msg::OffsetCommitResp {
            corr: 7,
            result: Ok(()),
            ..
        }
    )));
    assert!(events.contains(&Event::TxnOffsetsCommitted {
        group: g,
        producer_id: pid,
        offsets: vec![(testkit::TP, 5)],
    }));
}

/// A one-record Produce of producer `pid`'s transaction in `epoch`, to [`testkit::TP`].
fn txn_produce(pid: i64, seq: u32, epoch: i32) -> Msg {
    Msg::ProduceReq {
        batches: vec![crate::protocol::ProduceBatch {
            tp: testkit::TP,
            records: vec![crate::types::LogRecord {
                id: crate::types::RecordId { producer: 0, seq },
                payload: crate::types::Payload::new(None, Some(b"v")),
            }],
            base_seq: -1,
            pepoch: epoch,
        }],
        acks: Acks::All,
        txn: Some(pid),
    }
}

#[test]
fn a_transactional_record_is_followed_by_its_marker_and_an_older_epoch_is_fenced() {
    let p = crate::cluster::coordinator_partition("pipeline-1", 50);
    let pid = i64::from(p) << 32;
    let produce = |seq: u32, epoch: i32| txn_produce(pid, seq, epoch);
    let add = Msg::AddPartitionsToTxnReq {
        transactional_id: tid(),
        producer_id: pid,
        epoch: 0,
        partitions: vec![testkit::TP],
    };
    let requests = vec![
        (
            10,
            Msg::InitProducerIdReq {
                transactional_id: tid(),
                timeout_us: 60_000_000,
            },
        ),
        (20, add),
        (30, produce(0, 0)),
        (
            40,
            Msg::EndTxnReq {
                transactional_id: tid(),
                producer_id: pid,
                epoch: 0,
                commit: false,
            },
        ),
        // a zombie of epoch 0 writes after the abort marker (epoch 1)
        (50, produce(1, 0)),
    ];
    let (seen, events) = run_txn(requests);
    let produced: Vec<Result<i64, ErrorCode>> = seen
        .iter()
        .flat_map(|(_, m)| match m {
            Msg::ProduceResp { results } => results.iter().map(|r| r.result).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(produced, vec![Ok(0), Err(ErrorCode::InvalidProducerEpoch)]);
    assert!(events.contains(&Event::MarkerWritten {
        tp: testkit::TP,
        offset: 1,
        producer_id: pid,
        commit: false,
    }));
}

/// A `read_committed` Fetch through the broker (KIP-98): an aborted transaction (offsets 0–1,
/// its marker at 2), a committed one (3, marker 4) and an open one (5). The answer holds only
/// the committed record, stops at the last stable offset (5, the open transaction's first
/// offset), and moves the position over the markers and the aborted records (`next`: from 0
/// to 5); a `read_uncommitted` Fetch gets every data record and no marker, its position
/// moved past the last record (6).
#[test]
fn a_read_committed_fetch_stops_at_the_lso_and_steps_over_markers_and_aborted_records() {
    let p = crate::cluster::coordinator_partition("pipeline-1", 50);
    let pid = i64::from(p) << 32;
    let produce = |seq: u32, epoch: i32| txn_produce(pid, seq, epoch);
    let add = |epoch: i32| Msg::AddPartitionsToTxnReq {
        transactional_id: tid(),
        producer_id: pid,
        epoch,
        partitions: vec![testkit::TP],
    };
    let end = |epoch: i32, commit: bool| Msg::EndTxnReq {
        transactional_id: tid(),
        producer_id: pid,
        epoch,
        commit,
    };
    let fetch = |fetch_id: u64, isolation: crate::protocol::IsolationLevel| Msg::FetchReq {
        fetch_id,
        positions: vec![(testkit::TP, 0)].into(),
        max_wait_us: 0,
        max_records: 100,
        isolation,
        long_poll: None,
    };
    let init = Msg::InitProducerIdReq {
        transactional_id: tid(),
        timeout_us: 60_000_000,
    };
    let requests = vec![
        (100, init),
        (200, add(0)),
        (300, produce(0, 0)),
        (400, produce(1, 0)),
        (500, end(0, false)),
        (600, add(1)),
        (700, produce(2, 1)),
        (800, end(1, true)),
        (900, add(2)),
        (1000, produce(3, 2)),
        (1100, fetch(1, crate::protocol::IsolationLevel::ReadCommitted)),
        (1200, fetch(2, crate::protocol::IsolationLevel::ReadUncommitted)),
    ];
    let (seen, events) = run_txn(requests);
    let markers: Vec<(i64, bool)> = events
        .iter()
        .filter_map(|e| match e {
            Event::MarkerWritten {
                tp, offset, commit, ..
            } if *tp == testkit::TP => Some((*offset, *commit)),
            _ => None,
        })
        .collect();
    // the third: the open transaction aborted at its timeout (60 s), long after the fetches
    assert_eq!(markers, [(2, false), (4, true), (6, false)]);
    // (fetch id, offsets answered, where each partition's position moves)
    type Answer = (u64, Vec<i64>, Vec<(Tp, i64, i64)>);
    let fetched: Vec<Answer> = seen
        .iter()
        .filter_map(|(_, m)| match m {
            Msg::FetchResp {
                fetch_id,
                records,
                next,
                ..
            } => Some((
                *fetch_id,
                records.iter().map(|(_, o, _)| *o).collect(),
                next.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        fetched,
        [
            (1, vec![3], vec![(testkit::TP, 0, 5)]),
            (2, vec![0, 1, 3, 5], vec![(testkit::TP, 0, 6)]),
        ]
    );
}
