use super::*;
use crate::config::Profile;
use crate::producer::io::{cluster, Output, Recorder};

const B0: ActorId = ActorId(0);
const B1: ActorId = ActorId(1);
const TP: Tp = Tp {
    topic: 0,
    partition: 1,
};

fn manager() -> TransactionManager {
    let mut cfg = ProducerConfig::defaults(Profile::Java);
    cfg.transactional_id = Some("tx-1".into());
    TransactionManager::new(&cfg, vec![B0, B1])
}

/// The requests among `out`, as (broker, API name).
fn sent(out: &[Output]) -> Vec<(ActorId, &'static str)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(to, m) => crate::protocol::ApiKey::of(m)
                .map(|k| k.name())
                .or(match m {
                    Msg::InitProducerIdReq { .. } => Some("InitProducerId"),
                    Msg::AddPartitionsToTxnReq { .. } => Some("AddPartitionsToTxn"),
                    Msg::EndTxnReq { commit: true, .. } => Some("EndTxn(commit)"),
                    Msg::EndTxnReq { commit: false, .. } => Some("EndTxn(abort)"),
                    Msg::TxnOffsetCommitReq(_) => Some("TxnOffsetCommit"),
                    _ => None,
                })
                .map(|n| (*to, n)),
            _ => None,
        })
        .collect()
}

fn steps(out: &[Output]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(Event::Txn(t)) => Some(t.step.name()),
            _ => None,
        })
        .collect()
}

/// A manager past InitProducerId (producer id 7, epoch 0) with B1 as its coordinator.
fn ready(io: &mut Recorder) -> TransactionManager {
    let mut m = manager();
    m.init(io);
    assert_eq!(sent(&io.take()), [(B0, "FindCoordinator")]);
    m.on_coordinator(io, Some(B1));
    assert_eq!(sent(&io.take()), [(B1, "InitProducerId")]);
    m.on_reply(io, TxnReply::InitProducerId(Ok((7, 0))));
    assert!(m.is_ready());
    assert!(m.take_epoch_change());
    assert_eq!(m.stamp(), (7, 0));
    m
}

#[test]
fn a_transaction_adds_its_partition_before_its_records_then_commits_with_end_txn() {
    let mut io = Recorder::new(0);
    let mut m = ready(&mut io);
    m.call(&mut io, TxnCall::Begin, true, None);
    assert_eq!(m.take_done(), [(TxnCallKind::Begin, Ok(()))]);
    m.on_record(&mut io, TP);
    let out = io.take();
    assert_eq!(steps(&out), ["begin"]);
    assert_eq!(sent(&out), [(B1, "AddPartitionsToTxn")]);
    assert!(!m.may_send(TP), "not before the partition is in the transaction");
    m.on_reply(&mut io, TxnReply::AddPartitions(Ok(())));
    assert!(m.may_send(TP));
    // commit waits for the flush
    m.call(&mut io, TxnCall::Commit, false, None);
    assert!(sent(&io.take()).is_empty());
    m.flushed(&mut io, true);
    assert_eq!(sent(&io.take()), [(B1, "EndTxn(commit)")]);
    m.on_reply(&mut io, TxnReply::EndTxn(Ok((7, 1))));
    assert_eq!(steps(&io.take()), ["commit"]);
    assert_eq!(m.take_done(), [(TxnCallKind::Commit, Ok(()))]);
    // TV2: the next transaction has the bumped epoch
    assert_eq!(m.stamp(), (7, 1));
    assert!(m.take_epoch_change());
    assert_eq!(m.phase(), TxnPhase::Ready);
}

#[test]
fn a_transaction_that_added_nothing_ends_without_end_txn() {
    let mut io = Recorder::new(0);
    let mut m = ready(&mut io);
    m.call(&mut io, TxnCall::Begin, true, None);
    m.call(&mut io, TxnCall::Abort, true, None);
    let out = io.take();
    assert!(sent(&out).is_empty());
    assert_eq!(steps(&out), ["begin", "abort"]);
    assert_eq!(m.take_done()[1], (TxnCallKind::Abort, Ok(())));
}

#[test]
fn a_fenced_instance_is_fatal_and_every_later_call_fails() {
    let mut io = Recorder::new(0);
    let mut m = ready(&mut io);
    m.call(&mut io, TxnCall::Begin, true, None);
    m.on_record(&mut io, TP);
    io.take();
    m.on_reply(&mut io, TxnReply::AddPartitions(Err(ErrorCode::ProducerFenced)));
    assert_eq!(steps(&io.take()), ["fenced"]);
    assert_eq!(m.phase(), TxnPhase::Fatal(ErrorCode::ProducerFenced));
    m.call(&mut io, TxnCall::Commit, true, None);
    m.take_done();
    m.call(&mut io, TxnCall::Begin, true, None);
    assert_eq!(
        m.take_done(),
        [(TxnCallKind::Begin, Err(ErrorCode::ProducerFenced))]
    );
    assert!(sent(&io.take()).is_empty());
}

#[test]
fn concurrent_transactions_is_retried_after_the_backoff_and_a_moved_coordinator_is_looked_up() {
    let mut io = Recorder::new(0);
    let mut m = manager();
    m.init(&mut io);
    m.on_coordinator(&mut io, Some(B1));
    io.take();
    m.on_reply(
        &mut io,
        TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions)),
    );
    let out = io.take();
    assert!(sent(&out).is_empty());
    let Some(Output::Timer(at, ClientTimer::TxnRetry(token))) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(*at, Time::ms(100), "retry.backoff.ms");
    m.on_timer(&mut io, *token);
    assert_eq!(sent(&io.take()), [(B1, "InitProducerId")]);
    m.on_reply(&mut io, TxnReply::InitProducerId(Err(ErrorCode::NotCoordinator)));
    let out = io.take();
    let Some(Output::Timer(_, ClientTimer::TxnRetry(token))) = out.last() else {
        panic!("{out:?}")
    };
    m.on_timer(&mut io, *token);
    assert_eq!(
        sent(&io.take()),
        [(B1, "FindCoordinator")],
        "the next bootstrap broker"
    );
    m.on_coordinator(&mut io, Some(B0));
    assert_eq!(sent(&io.take()), [(B0, "InitProducerId")]);
}

#[test]
fn an_unanswered_request_is_sent_again_after_the_request_timeout() {
    let mut io = Recorder::new(0);
    let mut m = manager();
    m.init(&mut io);
    let out = io.take();
    let Some(Output::Timer(at, ClientTimer::TxnRetry(token))) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(*at, Time::ms(30_000));
    m.on_timer(&mut io, *token);
    // a late answer to the abandoned request is ignored
    m.on_coordinator(&mut io, Some(B1));
    assert!(sent(&io.take()).is_empty());
}

#[test]
fn offsets_go_with_the_transaction_through_the_group_coordinator() {
    let (_, image) = cluster(2, 2);
    let mut io = Recorder::new(0);
    let mut m = ready(&mut io);
    m.call(&mut io, TxnCall::Begin, true, None);
    let call = TxnCall::SendOffsets {
        group: "g".into(),
        member_id: None,
        generation: 3,
        offsets: vec![(TP, 5)],
    };
    m.call(&mut io, call, true, Some(&image));
    assert_eq!(sent(&io.take()), [(B1, "AddPartitionsToTxn")], "AddOffsetsToTxn");
    m.on_reply(&mut io, TxnReply::AddPartitions(Ok(())));
    assert_eq!(sent(&io.take()), [(B1, "FindCoordinator")]);
    m.on_coordinator(&mut io, Some(B0));
    let out = io.take();
    let Some(Output::Send(B0, Msg::TxnOffsetCommitReq(req))) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(
        (req.producer_id, req.generation, req.offsets.clone()),
        (7, 3, vec![(TP, 5)])
    );
    m.on_offsets_answer(&mut io, req.corr, Ok(()));
    assert_eq!(steps(&io.take()), ["offsets"]);
    assert_eq!(m.take_done()[1], (TxnCallKind::SendOffsets, Ok(())));
    // the offsets partition is in the transaction: the abort sends EndTxn
    m.call(&mut io, TxnCall::Abort, true, None);
    assert_eq!(sent(&io.take()), [(B1, "EndTxn(abort)")]);
}

#[test]
fn a_failed_record_makes_commit_fail_and_only_abort_possible() {
    let mut io = Recorder::new(0);
    let mut m = ready(&mut io);
    m.call(&mut io, TxnCall::Begin, true, None);
    m.on_record(&mut io, TP);
    m.on_reply(&mut io, TxnReply::AddPartitions(Ok(())));
    m.on_record_failed(&mut io, ErrorCode::NotEnoughReplicas);
    m.call(&mut io, TxnCall::Commit, true, None);
    assert_eq!(
        m.take_done().last(),
        Some(&(TxnCallKind::Commit, Err(ErrorCode::NotEnoughReplicas)))
    );
    m.call(&mut io, TxnCall::Abort, true, None);
    assert!(sent(&io.take()).contains(&(B1, "EndTxn(abort)")));
}
