//! The KIP-848 coordinator driven without an engine.

use super::*;
use crate::assignor::ServerAssignor;

fn hb(corr: u64, member: &str, epoch: i32, owned: &[Tp]) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        corr,
        group: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        instance_id: None,
        client_id: "c".into(),
        topics: vec![0],
        owned: owned.to_vec(),
        assignor: None,
    }
}

fn static_hb(corr: u64, member: &str, instance: &str, epoch: i32, owned: &[Tp]) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        instance_id: Some(instance.into()),
        ..hb(corr, member, epoch, owned)
    }
}

fn answer(out: &mut Vec<Output>) -> Result<ConsumerHeartbeatOk, ErrorCode> {
    let o = std::mem::take(out);
    o.into_iter()
        .find_map(|o| match o {
            Output::Reply(_, Msg::ConsumerHeartbeatResp { result, .. }) => Some(result),
            _ => None,
        })
        .expect("an answer")
}

/// Sends `req` from `from` at `ms` and returns the answer.
fn send(
    g: &mut ConsumerGroup,
    ms: u64,
    from: u32,
    req: &ConsumerHeartbeat,
) -> Result<ConsumerHeartbeatOk, ErrorCode> {
    let mut out = Vec::new();
    g.heartbeat(Time::ms(ms), ActorId(from), req, &mut out);
    answer(&mut out)
}

fn group(partitions: u32) -> ConsumerGroup {
    ConsumerGroup::new("g".into(), Config::default(), vec![partitions])
}

/// Scale out: the new member gets partitions only after the old owner acknowledged their
/// revocation — never two owners at once — and the old owner keeps what does not move.
#[test]
fn revoke_before_assign() {
    let mut g = group(4);
    let a = send(&mut g, 0, 1, &hb(1, "a", 0, &[])).unwrap();
    assert_eq!(a.assignment.len(), 4);
    assert_eq!(a.member_epoch, 1);
    let all: Vec<Tp> = a.assignment.clone();
    let b = send(&mut g, 1, 2, &hb(2, "b", 0, &[])).unwrap();
    assert!(
        b.assignment.is_empty(),
        "a still owns everything: {:?}",
        b.assignment
    );
    assert_eq!(g.group_epoch(), 2);
    // a heartbeats, still owning all four: told to keep two; epoch unchanged
    let a2 = send(&mut g, 2, 1, &hb(3, "a", 1, &all)).unwrap();
    assert_eq!(a2.assignment.len(), 2);
    assert_eq!(a2.member_epoch, 1);
    assert!(
        a2.assignment.iter().all(|tp| all.contains(tp)),
        "keeps what does not move"
    );
    // b asks again before a acknowledged: still nothing
    assert!(send(&mut g, 3, 2, &hb(4, "b", b.member_epoch, &[]))
        .unwrap()
        .assignment
        .is_empty());
    // a acknowledges: epoch 2
    assert_eq!(
        send(&mut g, 4, 1, &hb(5, "a", 1, &a2.assignment))
            .unwrap()
            .member_epoch,
        2
    );
    // now b gets the other two
    let b2 = send(&mut g, 5, 2, &hb(6, "b", b.member_epoch, &[])).unwrap();
    assert_eq!(b2.assignment.len(), 2);
    assert!(b2.assignment.iter().all(|tp| !a2.assignment.contains(tp)));
    assert_eq!(b2.member_epoch, 2);
}

#[test]
fn leave_and_session_timeout_bump_the_group_epoch() {
    let mut g = group(2);
    send(&mut g, 0, 1, &hb(1, "a", 0, &[])).unwrap();
    send(&mut g, 0, 2, &hb(2, "b", 0, &[])).unwrap();
    let left = send(&mut g, 1, 2, &hb(3, "b", -1, &[])).unwrap();
    assert_eq!(left.member_epoch, -1);
    assert_eq!(g.group_epoch(), 3);
    let mut out = Vec::new();
    g.on_timer(Time::ms(45_001), &GroupTimer::Session("a".into()), &mut out);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::MemberRemoved {
            reason: RemovalReason::SessionTimeout,
            ..
        })
    )));
    assert_eq!(g.group_epoch(), 4);
    assert_eq!(
        g.validate_commit(Some(&"a".into()), 1),
        Err(ErrorCode::UnknownMemberId)
    );
}

/// KIP-1082: the member id the consumer sent is its id in the group; a join that repeats it
/// (its answer was lost) is the same member, not a second one.
#[test]
fn the_client_generated_member_id_is_accepted() {
    let mut g = group(2);
    let a = send(&mut g, 0, 1, &hb(1, "Zm9vYmFyYmF6cXV4cXV1eA", 0, &[])).unwrap();
    assert_eq!(&*a.member_id, "Zm9vYmFyYmF6cXV4cXV1eA");
    assert_eq!(g.member_epoch("Zm9vYmFyYmF6cXV4cXV1eA"), Some(1));
    let again = send(&mut g, 1, 1, &hb(2, "Zm9vYmFyYmF6cXV4cXV1eA", 0, &[])).unwrap();
    assert_eq!(
        again.member_epoch, 1,
        "no new group epoch for a member already in"
    );
    assert_eq!(again.assignment.len(), 2);
    assert_eq!(g.group_epoch(), 1);
}

/// `throwIfConsumerGroupHeartbeatRequestIsInvalid`: no member id (version ≥ 1), an empty
/// instance id, owned partitions on a join, −2 without an instance id, an epoch below −2.
/// An unknown member id on a heartbeat or a leave is `UNKNOWN_MEMBER_ID`.
#[test]
fn invalid_requests_are_refused() {
    let mut g = group(2);
    let tp = Tp::new(0, 0);
    let invalid = Err(ErrorCode::InvalidRequest);
    assert_eq!(send(&mut g, 0, 1, &hb(1, "", 0, &[])), invalid);
    assert_eq!(send(&mut g, 0, 1, &static_hb(2, "a", "", 0, &[])), invalid);
    assert_eq!(send(&mut g, 0, 1, &hb(3, "a", 0, &[tp])), invalid);
    assert_eq!(send(&mut g, 0, 1, &hb(4, "a", -2, &[])), invalid);
    assert_eq!(send(&mut g, 0, 1, &hb(5, "a", -3, &[])), invalid);
    assert_eq!(g.group_epoch(), 0, "nothing joined");
    assert_eq!(
        send(&mut g, 0, 1, &hb(6, "a", 3, &[])),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        send(&mut g, 0, 1, &hb(7, "a", -1, &[])),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        send(&mut g, 0, 1, &static_hb(8, "a", "i", -2, &[])),
        Err(ErrorCode::UnknownMemberId)
    );
}

/// A static member leaves with −2 and a new process (new member id, same instance id) takes
/// its place: the same partitions at once, and the group epoch does not move.
#[test]
fn static_replacement_keeps_the_assignment() {
    let mut g = group(4);
    send(&mut g, 0, 1, &static_hb(1, "a1", "ia", 0, &[])).unwrap();
    send(&mut g, 1, 2, &static_hb(2, "b", "ib", 0, &[])).unwrap();
    // reconcile both to epoch 2
    let a = send(&mut g, 2, 1, &static_hb(3, "a1", "ia", 1, &[])).unwrap();
    let a = send(&mut g, 3, 1, &static_hb(4, "a1", "ia", 1, &a.assignment)).unwrap();
    let b = send(&mut g, 4, 2, &static_hb(5, "b", "ib", 2, &[])).unwrap();
    assert_eq!((a.member_epoch, b.member_epoch, a.assignment.len()), (2, 2, 2));
    let epoch = g.group_epoch();
    let left = send(&mut g, 5, 1, &static_hb(6, "a1", "ia", -2, &[])).unwrap();
    assert_eq!(left.member_epoch, -2);
    assert_eq!(g.member_epoch("a1"), Some(-2), "kept, away");
    assert_eq!(g.group_epoch(), epoch, "a temporary leave moves nothing");
    // b cannot take a's partitions meanwhile
    let b2 = send(&mut g, 6, 2, &static_hb(7, "b", "ib", 2, &b.assignment)).unwrap();
    assert_eq!(b2.assignment, b.assignment);
    let mut out = Vec::new();
    g.heartbeat(
        Time::ms(7),
        ActorId(3),
        &static_hb(8, "a2", "ia", 0, &[]),
        &mut out,
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(Event::StaticReplaced(r)) if &*r.old == "a1" && &*r.new == "a2")));
    let a2 = answer(&mut out).unwrap();
    assert_eq!(a2.assignment, a.assignment, "the same partitions");
    assert_eq!(a2.member_epoch, epoch, "at the group epoch");
    assert_eq!(g.group_epoch(), epoch, "no bump");
    assert_eq!(g.static_member("ia").map(|m| &**m), Some("a2"));
    assert_eq!(g.member_epoch("a1"), None);
    // the old id is fenced now
    assert_eq!(
        send(&mut g, 8, 1, &static_hb(9, "a1", "ia", 2, &[])),
        Err(ErrorCode::FencedInstanceId)
    );
}

/// A second live process with the same `group.instance.id`: its join is refused while the
/// holder did not leave with −2; a heartbeat under another id than the holder's is fenced.
#[test]
fn a_duplicate_instance_id_is_refused() {
    let mut g = group(2);
    send(&mut g, 0, 1, &static_hb(1, "a1", "ia", 0, &[])).unwrap();
    assert_eq!(
        send(&mut g, 1, 2, &static_hb(2, "a2", "ia", 0, &[])),
        Err(ErrorCode::UnreleasedInstanceId)
    );
    assert_eq!(
        send(&mut g, 1, 2, &static_hb(3, "a2", "ia", 1, &[])),
        Err(ErrorCode::FencedInstanceId)
    );
    assert_eq!(
        send(&mut g, 1, 2, &static_hb(4, "a2", "ia", -2, &[])),
        Err(ErrorCode::FencedInstanceId)
    );
    assert_eq!(g.group_epoch(), 1);
    assert_eq!(g.member_epoch("a1"), Some(1), "the holder is untouched");
}

/// A static member away (−2) is removed when its session times out, counted from its last
/// heartbeat; then its instance id is free and a new process joins as a new member.
#[test]
fn a_temporary_leave_expires_after_the_session_timeout() {
    let mut g = group(2);
    send(&mut g, 0, 1, &static_hb(1, "a1", "ia", 0, &[])).unwrap();
    send(
        &mut g,
        10_000,
        1,
        &static_hb(2, "a1", "ia", 1, &[Tp::new(0, 0), Tp::new(0, 1)]),
    )
    .unwrap();
    send(&mut g, 12_000, 1, &static_hb(3, "a1", "ia", -2, &[])).unwrap();
    let mut out = Vec::new();
    // the timer armed at the join finds a later deadline: re-armed
    g.on_timer(Time::ms(45_000), &GroupTimer::Session("a1".into()), &mut out);
    assert_eq!(g.member_epoch("a1"), Some(-2));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Timer(t, _) if *t == Time::ms(55_000))));
    out.clear();
    g.on_timer(Time::ms(55_000), &GroupTimer::Session("a1".into()), &mut out);
    assert_eq!(g.member_epoch("a1"), None);
    assert_eq!(g.static_member("ia"), None);
    assert_eq!(g.group_epoch(), 2);
    let a2 = send(&mut g, 56_000, 2, &static_hb(4, "a2", "ia", 0, &[])).unwrap();
    assert_eq!(g.group_epoch(), 3, "a new member: the group epoch moves");
    assert_eq!(a2.assignment.len(), 2);
}

/// The server-side range assignor puts static members first, by instance id: the static
/// member `zz` (instance `i0`) gets the first partitions though its member id sorts last.
#[test]
fn range_orders_static_members_first() {
    let mut g = group(4);
    let req = |corr, id: &str, inst: Option<&str>| ConsumerHeartbeat {
        assignor: Some(ServerAssignor::Range),
        instance_id: inst.map(Into::into),
        ..hb(corr, id, 0, &[])
    };
    send(&mut g, 0, 1, &req(1, "aa", None)).unwrap();
    send(&mut g, 0, 2, &req(2, "zz", Some("i0"))).unwrap();
    send(&mut g, 0, 3, &req(3, "mm", Some("i1"))).unwrap();
    assert_eq!(g.target_of("zz"), vec![Tp::new(0, 0), Tp::new(0, 1)]);
    assert_eq!(g.target_of("mm"), vec![Tp::new(0, 2)]);
    assert_eq!(g.target_of("aa"), vec![Tp::new(0, 3)]);
}

/// The same process back after a poll timeout (it left with −2, its member id unchanged):
/// its place again, no replacement recorded, no bump.
#[test]
fn a_static_member_rejoining_under_its_own_id_takes_its_place_back() {
    let mut g = group(2);
    send(&mut g, 0, 1, &static_hb(1, "a1", "ia", 0, &[])).unwrap();
    send(&mut g, 1, 1, &static_hb(2, "a1", "ia", -2, &[])).unwrap();
    let mut out = Vec::new();
    g.heartbeat(
        Time::ms(2),
        ActorId(1),
        &static_hb(3, "a1", "ia", 0, &[]),
        &mut out,
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Event(_))), "{out:?}");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Timer(..))),
        "its timer runs on"
    );
    let a = answer(&mut out).unwrap();
    assert_eq!((a.member_epoch, a.assignment.len(), g.group_epoch()), (1, 2, 1));
}

/// `throwIfConsumerGroupMemberEpochIsInvalid`: an epoch ahead is fenced; one behind is
/// accepted only if it is the previous epoch and the member owns no more than it was given.
#[test]
fn stale_or_future_member_epochs_are_fenced() {
    let mut g = group(4);
    let a = send(&mut g, 0, 1, &hb(1, "a", 0, &[])).unwrap();
    send(&mut g, 1, 2, &hb(2, "b", 0, &[])).unwrap();
    // a gives up two and moves to epoch 2
    let keep = send(&mut g, 2, 1, &hb(3, "a", 1, &a.assignment))
        .unwrap()
        .assignment;
    assert_eq!(send(&mut g, 3, 1, &hb(4, "a", 1, &keep)).unwrap().member_epoch, 2);
    let fenced = Err(ErrorCode::FencedMemberEpoch);
    assert_eq!(send(&mut g, 4, 1, &hb(5, "a", 3, &keep)), fenced, "ahead");
    // the answer with epoch 2 was lost: epoch 1 with what it kept is fine
    assert_eq!(send(&mut g, 5, 1, &hb(6, "a", 1, &keep)).unwrap().member_epoch, 2);
    // epoch 1 still owning everything is not
    assert_eq!(send(&mut g, 6, 1, &hb(7, "a", 1, &a.assignment)), fenced);
    // fenced, it rejoins with epoch 0 under its id
    assert_eq!(send(&mut g, 7, 1, &hb(8, "a", 0, &[])).unwrap().member_epoch, 2);
    // a static member away (−2) heartbeating on is fenced
    send(&mut g, 8, 3, &static_hb(9, "s", "i", 0, &[])).unwrap();
    send(&mut g, 9, 3, &static_hb(10, "s", "i", -2, &[])).unwrap();
    assert_eq!(send(&mut g, 10, 3, &static_hb(11, "s", "i", 3, &[])), fenced);
}
