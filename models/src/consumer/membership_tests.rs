//! Membership alone: answers in, outputs out, no engine.

use super::*;
use crate::assignor::{AssignorKind, MemberSubscription};
use crate::config::Profile;

fn tp(p: u32) -> Tp {
    Tp {
        topic: 0,
        partition: p,
    }
}

fn member(assignors: Vec<AssignorKind>) -> Membership {
    let mut cfg = ConsumerConfig::defaults(Profile::Java, "g");
    cfg.assignors = assignors;
    let mut m = Membership::new(Arc::new(cfg), 0);
    m.subscribe(vec![0], crate::assignor::topics_from_counts(&[4]));
    m
}

fn eager() -> Membership {
    member(vec![AssignorKind::Range])
}

fn cooperative() -> Membership {
    member(vec![AssignorKind::CooperativeSticky])
}

fn kip848() -> Membership {
    let mut cfg = ConsumerConfig::defaults(Profile::Java, "g");
    cfg.group_protocol_consumer = true;
    let mut m = Membership::new(Arc::new(cfg), 0);
    m.subscribe(vec![0], crate::assignor::topics_from_counts(&[4]));
    m
}

/// Joined and synced into generation `generation` owning `partitions`.
fn stable(m: &mut Membership, generation: i32, partitions: &[u32]) -> Vec<Out> {
    let mut out = Vec::new();
    m.send_join(&mut out);
    m.on_join_answer(
        Ok(JoinOk {
            generation,
            protocol: m.cfg.assignors[0],
            leader: "other".into(),
            member_id: "me".into(),
            members: Vec::new(),
        }),
        &mut out,
    );
    out.clear();
    m.on_sync_answer(Ok(partitions.iter().map(|p| tp(*p)).collect()), &mut out);
    out
}

fn revoked(out: &[Out]) -> Vec<Tp> {
    out.iter()
        .filter_map(|o| match o {
            Out::Revoke { partitions, .. } => Some(partitions.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn lost(out: &[Out]) -> Vec<Tp> {
    out.iter()
        .filter_map(|o| match o {
            Out::Lose { partitions, .. } => Some(partitions.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn joins(out: &[Out]) -> Vec<&JoinGroup> {
    out.iter()
        .filter_map(|o| match o {
            Out::Join(j) => Some(&**j),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_join_gets_member_id_required_then_joins_with_it() {
    let mut m = eager();
    let mut out = Vec::new();
    m.send_join(&mut out);
    assert_eq!(joins(&out)[0].member_id, None);
    assert_eq!(m.phase, Phase::Joining);
    out.clear();
    m.on_join_answer(Err((ErrorCode::MemberIdRequired, Some("me".into()))), &mut out);
    assert_eq!(joins(&out).len(), 1);
    assert_eq!(joins(&out)[0].member_id.as_deref(), Some("me"));
}

#[test]
fn the_leader_assigns_and_a_follower_sends_an_empty_sync() {
    let mut m = eager();
    let mut out = Vec::new();
    m.send_join(&mut out);
    let subs = vec![MemberSubscription {
        member_id: "me".into(),
        instance_id: None,
        topics: vec![0],
        owned: vec![],
        generation: -1,
    }];
    m.on_join_answer(
        Ok(JoinOk {
            generation: 1,
            protocol: AssignorKind::Range,
            leader: "me".into(),
            member_id: "me".into(),
            members: subs,
        }),
        &mut out,
    );
    let sync = out.iter().find_map(|o| match o {
        Out::Sync { assignment, .. } => Some(assignment.clone()),
        _ => None,
    });
    let assignment = sync.expect("a SyncGroup");
    assert_eq!(assignment.len(), 1);
    assert_eq!(assignment[0].1.len(), 4, "the only member gets every partition");
    assert_eq!(m.phase, Phase::Syncing);
}

#[test]
fn an_eager_rebalance_revokes_everything_before_rejoining() {
    let mut m = eager();
    stable(&mut m, 1, &[0, 1]);
    let mut out = Vec::new();
    m.on_heartbeat_answer(Err(ErrorCode::RebalanceInProgress), &mut out);
    assert!(revoked(&out).is_empty(), "joined at the next poll, not at once");
    m.on_poll(&mut out);
    assert_eq!(revoked(&out), vec![tp(0), tp(1)]);
    assert!(m.owned.is_empty());
    let j = joins(&out);
    assert_eq!(
        j[0].owned,
        vec![tp(0), tp(1)],
        "eager sticky: last assignment in the join"
    );
}

#[test]
fn a_cooperative_rebalance_revokes_only_what_moves_and_rejoins() {
    let mut m = cooperative();
    stable(&mut m, 1, &[0, 1, 2]);
    let mut out = Vec::new();
    m.on_heartbeat_answer(Err(ErrorCode::RebalanceInProgress), &mut out);
    m.on_poll(&mut out);
    assert!(revoked(&out).is_empty(), "keeps its partitions while rejoining");
    assert!(m.can_fetch(), "and keeps fetching them");
    assert_eq!(joins(&out)[0].owned, vec![tp(0), tp(1), tp(2)]);
    let mut out = Vec::new();
    m.on_join_answer(
        Ok(JoinOk {
            generation: 2,
            protocol: AssignorKind::CooperativeSticky,
            leader: "other".into(),
            member_id: "me".into(),
            members: Vec::new(),
        }),
        &mut out,
    );
    out.clear();
    m.on_sync_answer(Ok(vec![tp(0), tp(1)]), &mut out);
    assert_eq!(revoked(&out), vec![tp(2)]);
    assert_eq!(
        m.rejoin,
        Some(Rejoin::Rebalance),
        "rejoins so the partition can move"
    );
}

#[test]
fn illegal_generation_keeps_the_member_id_unknown_member_drops_it() {
    let mut m = eager();
    stable(&mut m, 3, &[0]);
    let mut out = Vec::new();
    m.on_heartbeat_answer(Err(ErrorCode::IllegalGeneration), &mut out);
    m.on_poll(&mut out);
    assert_eq!(lost(&out), vec![tp(0)], "lost, not revoked");
    assert_eq!(joins(&out)[0].member_id.as_deref(), Some("me"));

    let mut m = eager();
    stable(&mut m, 3, &[0]);
    let mut out = Vec::new();
    m.on_heartbeat_answer(Err(ErrorCode::UnknownMemberId), &mut out);
    m.on_poll(&mut out);
    assert_eq!(lost(&out), vec![tp(0)]);
    assert_eq!(joins(&out)[0].member_id, None);
    assert_eq!(m.generation, -1);
}

#[test]
fn a_poll_timeout_leaves_the_group_and_loses_the_partitions_at_the_next_poll() {
    let mut m = eager();
    stable(&mut m, 1, &[0, 1]);
    let epoch = m.hb_epoch;
    let mut out = Vec::new();
    m.on_heartbeat_timer(epoch, true, &mut out);
    assert!(matches!(out[0], Out::Record(Event::PollTimeout { .. })));
    assert!(matches!(out[1], Out::Leave { .. }));
    assert_eq!(m.phase, Phase::Unjoined);
    out.clear();
    m.on_poll(&mut out);
    assert_eq!(lost(&out), vec![tp(0), tp(1)]);
    assert_eq!(joins(&out)[0].member_id, None, "rejoins as a new member");
}

#[test]
fn a_static_member_sends_no_leave_and_keeps_its_id_on_a_poll_timeout() {
    let mut cfg = ConsumerConfig::defaults(Profile::Java, "g");
    cfg.assignors = vec![AssignorKind::Range];
    cfg.group_instance_id = Some("instance-1".into());
    let mut m = Membership::new(Arc::new(cfg), 0);
    stable(&mut m, 1, &[0]);
    let mut out = Vec::new();
    m.on_heartbeat_timer(m.hb_epoch, true, &mut out);
    assert!(!out.iter().any(|o| matches!(o, Out::Leave { .. })));
    m.on_poll(&mut out);
    let j = joins(&out);
    assert_eq!(j[0].member_id.as_deref(), Some("me"));
    assert_eq!(j[0].instance_id.as_deref(), Some("instance-1"));
}

#[test]
fn a_stale_heartbeat_timer_does_nothing_and_a_live_one_heartbeats() {
    let mut m = eager();
    stable(&mut m, 1, &[0]);
    let mut out = Vec::new();
    m.on_heartbeat_timer(m.hb_epoch - 1, false, &mut out);
    assert!(out.is_empty());
    m.on_heartbeat_timer(m.hb_epoch, false, &mut out);
    assert!(matches!(out[0], Out::Heartbeat { generation: 1, .. }));
    assert!(matches!(out[1], Out::HeartbeatTimer(..)));
}

#[test]
fn fenced_instance_id_is_fatal() {
    let mut m = eager();
    stable(&mut m, 1, &[0]);
    let mut out = Vec::new();
    m.on_heartbeat_answer(Err(ErrorCode::FencedInstanceId), &mut out);
    assert_eq!(m.phase, Phase::Failed);
    assert!(m.ended());
    assert!(m.owned.is_empty());
}

#[test]
fn kip848_gives_up_a_partition_before_taking_new_ones() {
    let mut m = kip848();
    let mut out = Vec::new();
    m.send_join(&mut out);
    assert!(matches!(&out[0], Out::CgHeartbeat(h) if h.member_epoch == 0));
    let answer = |epoch, parts: &[u32]| HeartbeatOk {
        member_id: "me".into(),
        member_epoch: epoch,
        assignment: parts.iter().map(|p| tp(*p)).collect(),
        heartbeat_interval_us: 5_000_000,
    };
    out.clear();
    m.on_cg_answer(Ok(answer(1, &[0, 1])), &mut out);
    assert_eq!(m.owned.len(), 2);
    assert!(
        out.iter().any(|o| matches!(o, Out::HeartbeatTimer(..))),
        "nothing to report"
    );
    out.clear();
    m.on_cg_answer(Ok(answer(2, &[1, 2])), &mut out);
    let revoke_at = out
        .iter()
        .position(|o| matches!(o, Out::Revoke { .. }))
        .expect("revokes 0");
    let assign_at = out
        .iter()
        .position(|o| matches!(o, Out::Assigned { .. }))
        .expect("takes 2");
    assert!(revoke_at < assign_at);
    assert_eq!(revoked(&out), vec![tp(0)]);
    // and says so at once, owning only what it keeps and takes
    let hb = out.iter().find_map(|o| match o {
        Out::CgHeartbeat(h) => Some(h.owned.clone()),
        _ => None,
    });
    assert_eq!(hb, Some(vec![tp(1), tp(2)]));
}

#[test]
fn closing_revokes_then_leaves() {
    let mut m = eager();
    stable(&mut m, 1, &[0]);
    let mut out = Vec::new();
    m.close(&mut out);
    assert!(matches!(out[0], Out::Revoke { .. }));
    assert!(matches!(out[1], Out::Leave { .. }));
    assert!(matches!(out[2], Out::Record(Event::Left { .. })));
    assert!(matches!(out[3], Out::Record(Event::Closed)));
    assert_eq!(m.phase, Phase::Closed);
}

#[test]
fn manual_assignment_owns_its_partitions_without_a_group() {
    let mut m = eager();
    let mut out = Vec::new();
    m.assign(vec![tp(1), tp(3)], &mut out);
    assert_eq!(m.phase, Phase::Stable);
    assert!(m.can_fetch());
    assert!(joins(&out).is_empty(), "no JoinGroup");
    assert!(
        !out.iter().any(|o| matches!(o, Out::HeartbeatTimer(..))),
        "no heartbeats"
    );
    out.clear();
    m.close(&mut out);
    assert!(revoked(&out).is_empty(), "no rebalance listener on close");
    assert!(
        !out.iter().any(|o| matches!(o, Out::Leave { .. })),
        "no group to leave"
    );
}

fn kip848_static() -> Membership {
    let mut cfg = ConsumerConfig::defaults(Profile::Java, "g");
    cfg.group_protocol_consumer = true;
    cfg.group_instance_id = Some("inst".into());
    let mut m = Membership::new(Arc::new(cfg), 0);
    m.subscribe(vec![0], crate::assignor::topics_from_counts(&[4]));
    m
}

fn cg_answer(epoch: i32, parts: &[u32]) -> HeartbeatOk {
    HeartbeatOk {
        member_id: "Zm9vYmFyYmF6cXV4cXV1eA".into(),
        member_epoch: epoch,
        assignment: parts.iter().map(|p| tp(*p)).collect(),
        heartbeat_interval_us: 5_000_000,
    }
}

fn cg_heartbeats(out: &[Out]) -> Vec<(MemberId, i32, Option<Arc<str>>)> {
    out.iter()
        .filter_map(|o| match o {
            Out::CgHeartbeat(h) => Some((h.member_id.clone(), h.member_epoch, h.instance_id.clone())),
            _ => None,
        })
        .collect()
}

/// KIP-848 member with the id it generated, stable at epoch 1 owning `parts`.
fn kip848_stable(mut m: Membership, parts: &[u32]) -> Membership {
    m.member_id = Some("Zm9vYmFyYmF6cXV4cXV1eA".into());
    let mut out = Vec::new();
    m.send_join(&mut out);
    m.on_cg_answer(Ok(cg_answer(1, parts)), &mut out);
    m
}

/// KIP-1082: the first heartbeat carries the consumer's own member id (and its instance id);
/// fenced, the member loses its partitions and rejoins with epoch 0 under the same id.
#[test]
fn kip848_member_id_is_the_clients_and_survives_fencing() {
    let mut m = kip848_static();
    m.member_id = Some("Zm9vYmFyYmF6cXV4cXV1eA".into());
    let mut out = Vec::new();
    m.send_join(&mut out);
    let first = cg_heartbeats(&out);
    assert_eq!(
        first,
        vec![("Zm9vYmFyYmF6cXV4cXV1eA".into(), 0, Some("inst".into()))]
    );
    out.clear();
    m.on_cg_answer(Ok(cg_answer(1, &[0, 1])), &mut out);
    let joined = |out: &[Out]| {
        out.iter()
            .filter(|o| matches!(o, Out::Record(Event::Joined { .. })))
            .count()
    };
    assert_eq!(joined(&out), 1, "joined once");
    out.clear();
    m.on_cg_answer(Ok(cg_answer(1, &[0, 1])), &mut out);
    assert_eq!(joined(&out), 0, "a later answer is no new join");
    out.clear();
    m.on_cg_answer(Err(ErrorCode::UnknownMemberId), &mut out);
    assert!(out
        .iter()
        .any(|o| matches!(o, Out::Lose { partitions, .. } if partitions.len() == 2)));
    assert_eq!(cg_heartbeats(&out), first, "rejoins with epoch 0 and the same id");
}

/// Java's `leaveGroupEpoch()`: a static member leaves with −2 (its place kept for the session
/// timeout), a dynamic one with −1 (and the history says it left).
#[test]
fn kip848_static_members_leave_with_epoch_minus_two() {
    let mut m = kip848_stable(kip848_static(), &[0]);
    let mut out = Vec::new();
    m.close(&mut out);
    let hbs = cg_heartbeats(&out);
    assert_eq!(hbs.len(), 1);
    assert_eq!((hbs[0].1, hbs[0].2.as_deref()), (-2, Some("inst")));
    assert!(!out.iter().any(|o| matches!(o, Out::Record(Event::Left { .. }))));
    let mut m = kip848_stable(kip848(), &[0]);
    out.clear();
    m.close(&mut out);
    assert_eq!(cg_heartbeats(&out)[0].1, -1);
    assert!(out.iter().any(|o| matches!(o, Out::Record(Event::Left { .. }))));
    // a consumer that never joined has nothing to leave
    let mut m = kip848();
    m.member_id = Some("Zm9vYmFyYmF6cXV4cXV1eA".into());
    out.clear();
    m.close(&mut out);
    assert!(cg_heartbeats(&out).is_empty());
}

/// `UNRELEASED_INSTANCE_ID` and `FENCED_INSTANCE_ID` are fatal; a retriable error retries
/// the heartbeat after the backoff, keeping epoch and partitions.
#[test]
fn kip848_instance_id_errors_are_fatal_and_retriable_ones_retry() {
    for e in [
        ErrorCode::UnreleasedInstanceId,
        ErrorCode::FencedInstanceId,
        ErrorCode::InvalidRequest,
    ] {
        let mut m = kip848_stable(kip848_static(), &[0]);
        let mut out = Vec::new();
        m.on_cg_answer(Err(e), &mut out);
        assert_eq!(m.phase, Phase::Failed, "{e}");
        assert!(out
            .iter()
            .any(|o| matches!(o, Out::Record(Event::Fatal { error }) if *error == e)));
    }
    let mut m = kip848_stable(kip848_static(), &[0, 1]);
    let mut out = Vec::new();
    m.on_cg_answer(Err(ErrorCode::CoordinatorLoadInProgress), &mut out);
    assert_eq!((m.phase, m.generation, m.owned.len()), (Phase::Stable, 1, 2));
    let backoff = Time::ms(super::super::client::RETRY_BACKOFF_MS);
    assert!(out
        .iter()
        .any(|o| matches!(o, Out::HeartbeatTimer(t, _) if *t == backoff)));
    // a leave's answer is not an assignment
    let mut m = kip848_stable(kip848(), &[0]);
    out.clear();
    m.on_cg_answer(Ok(cg_answer(-1, &[])), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.generation, 1);
}

/// KIP-848 static member out of `poll()` too long: it leaves with −2 (Java's heartbeat
/// thread), and at the next poll rejoins with epoch 0 under the same member id.
#[test]
fn kip848_static_poll_timeout_leaves_with_minus_two_and_rejoins_under_its_id() {
    let mut m = kip848_stable(kip848_static(), &[0]);
    let mut out = Vec::new();
    let epoch = m.hb_epoch;
    m.on_heartbeat_timer(epoch, true, &mut out);
    assert_eq!(
        cg_heartbeats(&out).iter().map(|h| h.1).collect::<Vec<_>>(),
        vec![-2]
    );
    out.clear();
    m.on_poll(&mut out);
    let rejoin = cg_heartbeats(&out);
    assert_eq!(rejoin.len(), 1);
    assert_eq!((&*rejoin[0].0, rejoin[0].1), ("Zm9vYmFyYmF6cXV4cXV1eA", 0));
}

/// A member of a one-topic group that joined as the leader (or a follower, `leader` false)
/// before it knew the topic's partitions (kafka-python's start-up).
fn joined_before_the_topics(leader: &str) -> (Membership, Vec<Out>) {
    let mut cfg = ConsumerConfig::defaults(Profile::KafkaPython, "g");
    cfg.assignors = vec![AssignorKind::Range];
    let mut m = Membership::new(Arc::new(cfg), 0);
    m.subscribe(vec![0], crate::assignor::topics_from_counts(&[0]));
    let mut out = Vec::new();
    m.send_join(&mut out);
    let subs = vec![MemberSubscription {
        member_id: "me".into(),
        instance_id: None,
        topics: vec![0],
        owned: vec![],
        generation: -1,
    }];
    m.on_join_answer(
        Ok(JoinOk {
            generation: 1,
            protocol: AssignorKind::Range,
            leader: leader.into(),
            member_id: "me".into(),
            members: if leader == "me" { subs } else { Vec::new() },
        }),
        &mut out,
    );
    let sync = out.iter().find_map(|o| match o {
        Out::Sync { assignment, .. } => Some(assignment.clone()),
        _ => None,
    });
    if leader == "me" {
        let assignment = sync.expect("a SyncGroup");
        assert!(
            assignment.iter().all(|(_, tps)| tps.is_empty()),
            "nothing known, nothing assigned"
        );
    }
    m.on_sync_answer(Ok(Vec::new()), &mut out);
    out.clear();
    (m, out)
}

#[test]
fn a_leader_that_assigned_without_the_topics_rejoins_when_they_arrive() {
    let (mut m, mut out) = joined_before_the_topics("me");
    m.update_topics(crate::assignor::topics_from_counts(&[0]), &mut out);
    assert_eq!(m.rejoin, None, "the same metadata: no rejoin");
    m.update_topics(crate::assignor::topics_from_counts(&[4]), &mut out);
    assert_eq!(m.rejoin, Some(Rejoin::Rebalance));
    assert!(
        matches!(out.last(), Some(Out::Poll)),
        "a poll in progress acts on it"
    );
    m.on_poll(&mut out);
    let j = joins(&out);
    assert_eq!(j.len(), 1, "one JoinGroup");
    // the next assignment is made from the four partitions
    let mut out = Vec::new();
    let subs = vec![MemberSubscription {
        member_id: "me".into(),
        instance_id: None,
        topics: vec![0],
        owned: vec![],
        generation: 1,
    }];
    m.on_join_answer(
        Ok(JoinOk {
            generation: 2,
            protocol: AssignorKind::Range,
            leader: "me".into(),
            member_id: "me".into(),
            members: subs,
        }),
        &mut out,
    );
    let sync = out.iter().find_map(|o| match o {
        Out::Sync { assignment, .. } => Some(assignment.clone()),
        _ => None,
    });
    assert_eq!(sync.expect("a SyncGroup")[0].1.len(), 4);
}

#[test]
fn a_follower_does_not_rejoin_on_new_metadata() {
    let (mut m, mut out) = joined_before_the_topics("other");
    m.update_topics(crate::assignor::topics_from_counts(&[4]), &mut out);
    assert_eq!(
        m.rejoin, None,
        "only the leader compares its assignment's metadata"
    );
    assert!(out.is_empty());
}
