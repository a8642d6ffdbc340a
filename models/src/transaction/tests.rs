//! The transaction coordinator driven without the engine: every write is "replicated" by
//! the test calling `written`, every marker set by calling `markers_written`.

use super::*;
use crate::protocol::ErrorCode;
use crate::types::Tp;
use sim::{ActorId, Time};
use std::sync::Arc;

const OLD: ActorId = ActorId(7);
const NEW: ActorId = ActorId(8);
const TIMEOUT: u64 = 60_000_000;

fn tid() -> Arc<str> {
    "pipeline-1".into()
}

fn coord() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig::default())
}

/// Writes every pending record (as the partition's ISR acknowledging it) and returns all
/// outputs, the records written included.
fn settle(c: &mut TxnCoordinator, mut out: Vec<TxnOutput>, log: &mut Vec<TxnMetadata>) -> Vec<TxnOutput> {
    let mut all = Vec::new();
    while let Some(o) = out.first().cloned() {
        out.remove(0);
        if let TxnOutput::Write(r) = &o {
            log.push(r.clone());
            c.written(&r.transactional_id, Ok(()), &mut out);
        }
        all.push(o);
    }
    all
}

fn replies(outs: &[TxnOutput]) -> Vec<(ActorId, TxnReply)> {
    outs.iter()
        .filter_map(|o| match o {
            TxnOutput::Reply(to, r) => Some((*to, r.clone())),
            _ => None,
        })
        .collect()
}

fn markers(outs: &[TxnOutput]) -> Vec<Markers> {
    outs.iter()
        .filter_map(|o| match o {
            TxnOutput::Markers(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn init(c: &mut TxnCoordinator, now: Time, from: ActorId, log: &mut Vec<TxnMetadata>) -> Vec<TxnOutput> {
    let mut out = Vec::new();
    c.init_producer_id(now, from, &tid(), TIMEOUT, &mut out);
    settle(c, out, log)
}

fn init_ok(c: &mut TxnCoordinator, now: Time, from: ActorId, log: &mut Vec<TxnMetadata>) -> (i64, i32) {
    match &replies(&init(c, now, from, log))[..] {
        [(to, TxnReply::InitProducerId(Ok(pe)))] if *to == from => *pe,
        other => panic!("InitProducerId answered {other:?}"),
    }
}

fn add(
    c: &mut TxnCoordinator,
    now: Time,
    pe: (i64, i32),
    tps: &[Tp],
    log: &mut Vec<TxnMetadata>,
) -> Vec<TxnOutput> {
    let mut out = Vec::new();
    c.add_partitions(now, OLD, &tid(), pe.0, pe.1, tps, &mut out);
    settle(c, out, log)
}

fn end(
    c: &mut TxnCoordinator,
    now: Time,
    pe: (i64, i32),
    commit: bool,
    log: &mut Vec<TxnMetadata>,
) -> Vec<TxnOutput> {
    let mut out = Vec::new();
    c.end_txn(now, OLD, &tid(), pe.0, pe.1, commit, &mut out);
    settle(c, out, log)
}

fn state(c: &TxnCoordinator) -> TxnState {
    c.state(&tid()).expect("known").state
}

#[test]
fn a_committed_transaction_goes_through_every_state_and_bumps_the_epoch() {
    let mut c = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut c, Time::ZERO, OLD, &mut log);
    assert_eq!(pe.1, 0, "the first epoch");
    assert_eq!(state(&c), TxnState::Empty);
    let outs = add(&mut c, Time::ms(1), pe, &[Tp::new(0, 1), Tp::new(0, 0)], &mut log);
    assert_eq!(replies(&outs), vec![(OLD, TxnReply::AddPartitions(Ok(())))]);
    assert_eq!(state(&c), TxnState::Ongoing);
    // a partition already in the transaction is not written again
    let outs = add(&mut c, Time::ms(2), pe, &[Tp::new(0, 0)], &mut log);
    assert!(!outs.iter().any(|o| matches!(o, TxnOutput::Write(_))));
    let outs = end(&mut c, Time::ms(3), pe, true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Ok((pe.0, 1))))],
        "TV2: the epoch is bumped at the end of the transaction"
    );
    assert_eq!(
        markers(&outs),
        vec![Markers {
            transactional_id: tid(),
            producer_id: pe.0,
            epoch: 1,
            commit: true,
            partitions: vec![Tp::new(0, 0), Tp::new(0, 1)],
        }]
    );
    assert_eq!(state(&c), TxnState::PrepareCommit);
    let mut out = Vec::new();
    c.markers_written(Time::ms(4), &tid(), &mut out);
    settle(&mut c, out, &mut log);
    assert_eq!(state(&c), TxnState::CompleteCommit);
    let states: Vec<TxnState> = log.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            TxnState::Empty,
            TxnState::Ongoing,
            TxnState::PrepareCommit,
            TxnState::CompleteCommit
        ]
    );
    // the next transaction uses the new epoch; the old one is fenced
    let outs = add(&mut c, Time::ms(5), pe, &[Tp::new(0, 0)], &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::AddPartitions(Err(ErrorCode::ProducerFenced)))]
    );
    let outs = add(&mut c, Time::ms(5), (pe.0, 1), &[Tp::new(0, 0)], &mut log);
    assert_eq!(replies(&outs), vec![(OLD, TxnReply::AddPartitions(Ok(())))]);
}

#[test]
fn a_retried_end_txn_of_the_epoch_before_the_bump_is_recognised() {
    let mut c = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut c, Time::ZERO, OLD, &mut log);
    add(&mut c, Time::ms(1), pe, &[Tp::new(0, 0)], &mut log);
    end(&mut c, Time::ms(2), pe, true, &mut log);
    let outs = end(&mut c, Time::ms(3), pe, true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::ConcurrentTransactions)))],
        "still writing markers"
    );
    let mut out = Vec::new();
    c.markers_written(Time::ms(4), &tid(), &mut out);
    settle(&mut c, out, &mut log);
    let outs = end(&mut c, Time::ms(5), pe, true, &mut log);
    assert_eq!(replies(&outs), vec![(OLD, TxnReply::EndTxn(Ok((pe.0, 1))))]);
    let outs = end(&mut c, Time::ms(5), pe, false, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::InvalidTxnState)))]
    );
    let outs = end(&mut c, Time::ms(5), (pe.0, pe.1 - 1), true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::ProducerFenced)))]
    );
}

#[test]
fn a_new_instance_fences_the_old_and_aborts_its_open_transaction() {
    let mut c = coord();
    let mut log = Vec::new();
    let old = init_ok(&mut c, Time::ZERO, OLD, &mut log);
    add(
        &mut c,
        Time::ms(1),
        old,
        &[Tp::new(0, 0), Tp::new(1, 0)],
        &mut log,
    );
    // the restarted process initialises the same transactional.id
    let outs = init(&mut c, Time::ms(2), NEW, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(
            NEW,
            TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions))
        )],
        "retry once the abort is complete"
    );
    let m = markers(&outs);
    assert_eq!(m.len(), 1);
    assert!(!m[0].commit, "the open transaction is aborted");
    assert_eq!(m[0].partitions, vec![Tp::new(0, 0), Tp::new(1, 0)]);
    assert_eq!(m[0].epoch, 2, "fenced (one bump) then aborted (TV2's bump)");
    assert_eq!(state(&c), TxnState::PrepareAbort);
    // the old instance can neither commit nor add
    let outs = end(&mut c, Time::ms(3), old, true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::ProducerFenced)))]
    );
    // still aborting: the new instance waits
    let outs = init(&mut c, Time::ms(3), NEW, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(
            NEW,
            TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions))
        )]
    );
    let mut out = Vec::new();
    c.markers_written(Time::ms(4), &tid(), &mut out);
    settle(&mut c, out, &mut log);
    assert_eq!(state(&c), TxnState::CompleteAbort);
    let new = init_ok(&mut c, Time::ms(5), NEW, &mut log);
    assert_eq!(
        new,
        (old.0, 3),
        "same producer id, an epoch above every fenced one"
    );
    let outs = add(&mut c, Time::ms(6), old, &[Tp::new(0, 0)], &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::AddPartitions(Err(ErrorCode::ProducerFenced)))]
    );
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let mut c = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut c, Time::ZERO, OLD, &mut log);
    add(&mut c, Time::ms(1_000), pe, &[Tp::new(0, 0)], &mut log);
    let mut out = Vec::new();
    // not yet: 60 s after it began
    assert!(c.abort_timed_out(Time::ms(61_000), &mut out).is_empty());
    assert!(out.is_empty());
    let aborted = c.abort_timed_out(Time::ms(61_001), &mut out);
    assert_eq!(aborted, vec![tid()]);
    let outs = settle(&mut c, out, &mut log);
    let m = markers(&outs);
    assert!(m.len() == 1 && !m[0].commit);
    assert!(replies(&outs).is_empty(), "nobody is waiting");
    assert_eq!(state(&c), TxnState::PrepareAbort);
    let outs = end(&mut c, Time::ms(61_002), pe, true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::ProducerFenced)))]
    );
    // an idle id is never aborted
    let mut out = Vec::new();
    c.markers_written(Time::ms(61_003), &tid(), &mut out);
    settle(&mut c, out, &mut log);
    let mut out = Vec::new();
    assert!(c.abort_timed_out(Time::ms(999_999), &mut out).is_empty());
}

#[test]
fn a_timeout_above_the_maximum_is_refused() {
    let mut c = coord();
    let mut out = Vec::new();
    c.init_producer_id(Time::ZERO, OLD, &tid(), 900_000_001, &mut out);
    assert_eq!(
        out,
        vec![TxnOutput::Reply(
            OLD,
            TxnReply::InitProducerId(Err(ErrorCode::InvalidTransactionTimeout))
        )]
    );
    c.init_producer_id(Time::ZERO, OLD, &tid(), 900_000_000, &mut out);
    assert!(matches!(out.last(), Some(TxnOutput::Write(_))));
}

#[test]
fn a_state_changes_only_once_its_record_is_written() {
    let mut c = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut c, Time::ZERO, OLD, &mut log);
    let mut out = Vec::new();
    c.add_partitions(Time::ms(1), OLD, &tid(), pe.0, pe.1, &[Tp::new(0, 0)], &mut out);
    assert_eq!(state(&c), TxnState::Empty, "pending");
    let mut more = Vec::new();
    c.end_txn(Time::ms(1), OLD, &tid(), pe.0, pe.1, true, &mut more);
    assert_eq!(
        more,
        vec![TxnOutput::Reply(
            OLD,
            TxnReply::EndTxn(Err(ErrorCode::ConcurrentTransactions))
        )]
    );
    // the write fails: the client hears the coordinator error, the state is unchanged
    let mut out = Vec::new();
    c.written(&tid(), Err(ErrorCode::NotEnoughReplicas), &mut out);
    assert_eq!(
        out,
        vec![TxnOutput::Reply(
            OLD,
            TxnReply::AddPartitions(Err(ErrorCode::CoordinatorNotAvailable))
        )]
    );
    assert_eq!(state(&c), TxnState::Empty);
}

#[test]
fn a_new_leader_resumes_a_transaction_in_prepare_commit_and_finishes_it() {
    let mut old = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut old, Time::ZERO, OLD, &mut log);
    add(
        &mut old,
        Time::ms(1),
        pe,
        &[Tp::new(0, 0), Tp::new(2, 3)],
        &mut log,
    );
    let outs = end(&mut old, Time::ms(2), pe, true, &mut log);
    assert_eq!(markers(&outs).len(), 1);
    // the leader dies before any marker is acknowledged; another broker takes over
    let mut new = coord();
    let mut out = Vec::new();
    new.load(&log, &mut out);
    let m = markers(&out);
    assert_eq!(m.len(), 1, "the markers are written again");
    assert!(m[0].commit);
    assert_eq!(m[0].epoch, 1);
    assert_eq!(m[0].partitions, vec![Tp::new(0, 0), Tp::new(2, 3)]);
    assert_eq!(state(&new), TxnState::PrepareCommit);
    // the producer's retried EndTxn is answered once the commit is complete
    let outs = end(&mut new, Time::ms(3), pe, true, &mut log);
    assert_eq!(
        replies(&outs),
        vec![(OLD, TxnReply::EndTxn(Err(ErrorCode::ConcurrentTransactions)))]
    );
    let mut out = Vec::new();
    new.markers_written(Time::ms(4), &tid(), &mut out);
    settle(&mut new, out, &mut log);
    assert_eq!(state(&new), TxnState::CompleteCommit);
    let outs = end(&mut new, Time::ms(5), pe, true, &mut log);
    assert_eq!(replies(&outs), vec![(OLD, TxnReply::EndTxn(Ok((pe.0, 1))))]);
    // a fresh id on the new leader gets a producer id not used before
    let mut out = Vec::new();
    let same_partition = (0..1000)
        .map(|i| format!("t{i}"))
        .find(|t| new.partition_of(t) == new.partition_of(&tid()))
        .expect("some id shares the partition");
    new.init_producer_id(
        Time::ms(6),
        NEW,
        &same_partition.as_str().into(),
        TIMEOUT,
        &mut out,
    );
    let TxnOutput::Write(r) = &out[0] else {
        panic!("{out:?}")
    };
    assert_ne!(r.producer_id, pe.0);
}

#[test]
fn a_completed_transaction_is_not_resumed_and_unload_forgets_the_partition() {
    let mut old = coord();
    let mut log = Vec::new();
    let pe = init_ok(&mut old, Time::ZERO, OLD, &mut log);
    add(&mut old, Time::ms(1), pe, &[Tp::new(0, 0)], &mut log);
    end(&mut old, Time::ms(2), pe, false, &mut log);
    let mut out = Vec::new();
    old.markers_written(Time::ms(3), &tid(), &mut out);
    settle(&mut old, out, &mut log);
    let mut new = coord();
    let mut out = Vec::new();
    new.load(&log, &mut out);
    assert!(out.is_empty());
    assert_eq!(state(&new), TxnState::CompleteAbort);
    new.unload(new.partition_of(&tid()));
    assert!(new.state(&tid()).is_none());
}

#[test]
fn every_state_has_kafkas_previous_states() {
    use TxnState::*;
    assert_eq!(PrepareCommit.valid_previous(), &[Ongoing]);
    assert_eq!(PrepareAbort.valid_previous(), &[Ongoing, PrepareEpochFence]);
    assert!(CompleteCommit.valid_previous() == [PrepareCommit]);
    assert!(Ongoing.valid_previous().contains(&CompleteAbort));
    assert!(!Empty.valid_previous().contains(&Ongoing));
}
