//! The replica manager driven directly: appends, acks, the high watermark, ISR changes and
//! the leader side of replication.

use super::*;
use crate::broker::testkit::{self, broker, follower_fetch, produce, produce_results, TP};
use crate::cluster::PartitionState;
use crate::protocol::ReplicaData;

fn image(rm: &ReplicaManager, f: impl FnOnce(&mut PartitionState)) -> Arc<ClusterState> {
    let mut c = (**rm.cluster()).clone();
    c.version += 1;
    f(c.part_mut(TP));
    Arc::new(c)
}

fn take(rm: &mut ReplicaManager, f: impl FnOnce(&mut PartitionState), fx: &mut Effects) -> RoleChange {
    let new = image(rm, f);
    let (old, all) = rm.take_image(new);
    let (tp, st) = all.into_iter().find(|(tp, _)| *tp == TP).expect("replica");
    rm.apply_partition(tp, &st, &old, Time::ms(5), fx)
}

#[test]
fn acks_all_is_answered_only_when_the_whole_isr_has_the_record() {
    let mut rm = testkit::replicas(3, 1, 2);
    let mut fx = Effects::default();
    assert_eq!(
        produce(&mut rm, Acks::All, 1, 0, Time::ZERO, &mut fx),
        ProduceCheck::Append(0)
    );
    assert!(produce_results(&fx).is_empty(), "no follower has it");
    assert_eq!(rm.part(TP).unwrap().hw, 0);
    follower_fetch(&mut rm, 2, 1, Time::ms(1), &mut fx);
    assert!(
        produce_results(&fx).is_empty(),
        "broker 3 is in the ISR and lacks it"
    );
    assert!(
        follower_fetch(&mut rm, 3, 1, Time::ms(2), &mut fx),
        "the high watermark moves"
    );
    assert_eq!(produce_results(&fx), vec![Ok(0)]);
    assert_eq!(rm.part(TP).unwrap().hw, 1);
}

#[test]
fn acks_1_is_answered_at_once_and_acks_0_never() {
    let mut rm = testkit::replicas(3, 1, 2);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    produce(&mut rm, Acks::None, 2, 0, Time::ZERO, &mut fx);
    assert_eq!(produce_results(&fx), vec![Ok(0)]);
    assert_eq!(rm.part(TP).unwrap().log.end_offset(), 2);
    assert_eq!(fx.records().len(), 2, "two appends recorded");
}

#[test]
fn acks_all_with_an_isr_below_min_insync_replicas_writes_nothing() {
    let mut rm = testkit::replicas(3, 1, 2);
    let mut fx = Effects::default();
    take(&mut rm, |p| p.isr = vec![1], &mut fx);
    let check = produce(&mut rm, Acks::All, 1, 0, Time::ZERO, &mut fx);
    assert_eq!(check, ProduceCheck::Reply(Err(ErrorCode::NotEnoughReplicas)));
    assert_eq!(rm.part(TP).unwrap().log.end_offset(), 0);
    // acks=1 does not care
    let check = produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    assert_eq!(check, ProduceCheck::Append(0));
}

#[test]
fn a_waiting_write_whose_isr_shrank_below_min_insync_fails_after_append() {
    // min.insync.replicas=3: broker 2 leaves the ISR while broker 3 still lacks the record
    let mut rm = testkit::replicas(3, 1, 3);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::All, 1, 0, Time::ZERO, &mut fx);
    let change = take(&mut rm, |p| p.isr = vec![1, 3], &mut fx);
    assert!(matches!(change, RoleChange::Kept { leader: true }));
    rm.advance_high_watermark(TP, &mut fx);
    assert_eq!(
        produce_results(&fx),
        vec![Err(ErrorCode::NotEnoughReplicasAfterAppend)]
    );
}

#[test]
fn an_idempotent_duplicate_is_answered_with_its_first_offset() {
    let mut rm = testkit::replicas(1, 1, 1);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::Leader, 7, 0, Time::ZERO, &mut fx);
    produce(&mut rm, Acks::Leader, 7, 1, Time::ZERO, &mut fx);
    let check = produce(&mut rm, Acks::Leader, 7, 0, Time::ZERO, &mut fx);
    assert_eq!(check, ProduceCheck::Reply(Ok(0)), "the retry gets offset 0");
    assert_eq!(rm.part(TP).unwrap().log.end_offset(), 2, "written once");
    let gap = produce(&mut rm, Acks::Leader, 7, 5, Time::ZERO, &mut fx);
    assert_eq!(gap, ProduceCheck::Reply(Err(ErrorCode::OutOfOrderSequenceNumber)));
}

#[test]
fn an_unreplicated_duplicate_waits_with_the_original_for_acks_all() {
    let mut rm = testkit::replicas(2, 1, 1);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::All, 7, 0, Time::ZERO, &mut fx);
    assert_eq!(
        produce(&mut rm, Acks::All, 7, 0, Time::ZERO, &mut fx),
        ProduceCheck::Waits
    );
    assert!(produce_results(&fx).is_empty());
    follower_fetch(&mut rm, 2, 1, Time::ms(1), &mut fx);
    assert_eq!(
        produce_results(&fx),
        vec![Ok(0), Ok(0)],
        "both answered with offset 0"
    );
}

#[test]
fn a_follower_is_not_leader_and_a_lost_lead_fails_waiting_writes() {
    let mut follower = testkit::replicas(3, 2, 1);
    let mut fx = Effects::default();
    let check = produce(&mut follower, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    assert_eq!(check, ProduceCheck::Reply(Err(ErrorCode::NotLeaderOrFollower)));

    let mut rm = testkit::replicas(3, 1, 1);
    produce(&mut rm, Acks::All, 1, 0, Time::ZERO, &mut fx);
    let new = |p: &mut PartitionState| {
        p.leader = Some(2);
        p.leader_epoch = 1;
    };
    let RoleChange::Leaves { unload, failed } = take(&mut rm, new, &mut fx) else {
        panic!("it follows now")
    };
    assert!(!unload, "a user partition");
    assert_eq!(failed.len(), 1);
    assert_eq!(rm.part(TP).unwrap().role, Role::Follower(2));
    assert_eq!(rm.leaders_followed(), vec![2]);
}

#[test]
fn a_new_leader_records_its_election_and_loads_offsets_partitions() {
    let mut rm = testkit::replicas(2, 2, 1);
    let mut fx = Effects::default();
    let mut c = (**rm.cluster()).clone();
    c.version = 1;
    for t in 0..2 {
        let p = c.part_mut(Tp::new(t, 0));
        p.leader = Some(2);
        p.leader_epoch = 1;
        p.isr = vec![2];
    }
    let (old, all) = rm.take_image(Arc::new(c));
    let changes: Vec<RoleChange> = all
        .iter()
        .map(|(tp, st)| rm.apply_partition(*tp, st, &old, Time::ms(5), &mut fx))
        .collect();
    assert!(matches!(changes[0], RoleChange::Leads { internal: false, .. }));
    assert!(matches!(changes[1], RoleChange::Leads { internal: true, .. }));
    // the empty offsets partition is not reported; the user partition is, as clean
    assert!(matches!(
        fx.records()[..],
        [Event::LeaderElected {
            epoch: 1,
            log_end: 0,
            unclean: false,
            ..
        }]
    ));
    assert!(rm.coordinates("any-group"));
}

#[test]
fn a_diverging_follower_is_told_where_its_epoch_ends() {
    let mut rm = testkit::replicas(2, 1, 1);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    // the follower has 3 records of epoch 0; the leader only 1
    let (answer, _) = rm.serve_replica_fetch(broker(2), &[(TP, 3, 0)], Time::ms(1), true);
    assert!(matches!(
        answer[..],
        [(
            TP,
            ReplicaData::Diverging {
                epoch: 0,
                end_offset: 1
            }
        )]
    ));
    // in step: the entries from its position
    let (answer, _) = rm.serve_replica_fetch(broker(2), &[(TP, 0, -1)], Time::ms(1), true);
    assert!(
        matches!(&answer[..], [(TP, ReplicaData::Entries { entries, hw: 0, log_start: 0 })] if entries.len() == 1)
    );
}

#[test]
fn a_lagging_follower_leaves_the_isr_and_joins_again_when_caught_up() {
    let mut rm = testkit::replicas(2, 1, 1);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    follower_fetch(&mut rm, 2, 0, Time::ms(50), &mut fx);
    rm.shrink_isrs(Time::ms(60), &mut fx);
    assert!(
        fx.sent()
            .iter()
            .all(|(_, m)| !matches!(m, Msg::AlterPartitionReq { .. })),
        "within the lag"
    );
    rm.shrink_isrs(Time::ms(150), &mut fx);
    let alters: Vec<Vec<NodeId>> = fx
        .sent()
        .into_iter()
        .filter_map(|(to, m)| match m {
            Msg::AlterPartitionReq { isr, .. } if to == ActorId(99) => Some(isr.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(alters, vec![vec![1]]);
    let shrunk = |p: &mut PartitionState| {
        p.isr = vec![1];
        p.partition_epoch = 1;
    };
    take(&mut rm, shrunk, &mut fx);
    let mut fx = Effects::default();
    follower_fetch(&mut rm, 2, 1, Time::ms(160), &mut fx);
    assert!(matches!(
        fx.sent()[..],
        [(_, Msg::AlterPartitionReq { ref isr, partition_epoch: 1, .. })] if *isr == vec![1, 2]
    ));
}

#[test]
fn consumers_read_below_the_high_watermark_only() {
    let mut rm = testkit::replicas(2, 1, 1);
    let mut fx = Effects::default();
    produce(&mut rm, Acks::Leader, 1, 0, Time::ZERO, &mut fx);
    produce(&mut rm, Acks::Leader, 1, 1, Time::ZERO, &mut fx);
    follower_fetch(&mut rm, 2, 1, Time::ms(1), &mut fx);
    let (records, errors) = rm.collect(&[(TP, 0)], 10);
    assert_eq!(records.len(), 1, "offset 1 is not replicated");
    assert!(errors.is_empty());
    let (_, errors) = rm.collect(&[(TP, 5)], 10);
    assert_eq!(errors, vec![(TP, ErrorCode::OffsetOutOfRange)]);
    assert_eq!(rm.list_offsets(&[TP], OffsetSpec::Latest), vec![(TP, 1)]);
}

#[test]
fn the_last_stable_offset_stops_at_an_open_transaction_and_follows_the_high_watermark() {
    use crate::log::TxnBatch;
    let mut rm = testkit::replicas(3, 1, 2);
    let mut fx = Effects::default();
    let pid = 5 << 32;
    let txn_entry = |rm: &mut ReplicaManager, seq: i32, batch: TxnBatch| {
        let mut e = testkit::entry(1, seq, 0);
        e.txn = Some(batch);
        rm.append(TP, e, Time::ZERO, &mut Effects::default())
    };
    assert_eq!(rm.last_stable_offset(TP), Some(0));
    produce(&mut rm, Acks::All, 2, 0, Time::ZERO, &mut Effects::default());
    txn_entry(
        &mut rm,
        0,
        TxnBatch::Data {
            producer_id: pid,
            epoch: 0,
        },
    );
    txn_entry(
        &mut rm,
        1,
        TxnBatch::Data {
            producer_id: pid,
            epoch: 0,
        },
    );
    assert_eq!(rm.last_stable_offset(TP), Some(0), "the high watermark is 0");
    follower_fetch(&mut rm, 2, 3, Time::ms(1), &mut fx);
    follower_fetch(&mut rm, 3, 3, Time::ms(1), &mut fx);
    assert_eq!(rm.part(TP).unwrap().hw, 3);
    assert_eq!(rm.last_stable_offset(TP), Some(1), "the transaction began at 1");
    let marker = TxnBatch::Marker {
        producer_id: pid,
        epoch: 1,
        commit: true,
    };
    assert_eq!(txn_entry(&mut rm, 2, marker), 3, "the marker takes an offset");
    assert_eq!(
        rm.last_stable_offset(TP),
        Some(1),
        "until the marker is replicated"
    );
    follower_fetch(&mut rm, 2, 4, Time::ms(2), &mut fx);
    follower_fetch(&mut rm, 3, 4, Time::ms(2), &mut fx);
    assert_eq!(rm.last_stable_offset(TP), Some(4));
    assert!(rm.part(TP).unwrap().log.entry(3).unwrap().is_control());
}
