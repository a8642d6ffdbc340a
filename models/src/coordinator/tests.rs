//! The classic group protocol's state machine, driven without an engine.

use super::*;

const SESSION: u64 = 10_000_000;
const REBALANCE: u64 = 300_000_000;

fn req(member: Option<&MemberId>) -> JoinGroup {
    JoinGroup {
        group: "g".into(),
        member_id: member.cloned(),
        instance_id: None,
        client_id: "client".into(),
        session_timeout_us: SESSION,
        rebalance_timeout_us: REBALANCE,
        protocols: vec![AssignorKind::Range, AssignorKind::Roundrobin],
        topics: vec![0],
        owned: Vec::new(),
        owned_generation: -1,
        corr: 0,
    }
}

struct Harness {
    g: Group,
    uuids: u32,
    out: Vec<Output>,
}

impl Harness {
    fn new(delay_ms: u64) -> Self {
        Harness {
            g: Group::new(
                "g".into(),
                GroupConfig {
                    initial_rebalance_delay_us: delay_ms * 1000,
                },
            ),
            uuids: 0,
            out: Vec::new(),
        }
    }

    fn join(&mut self, now_ms: u64, client: u32, member: Option<&MemberId>) -> Vec<Output> {
        self.uuids += 1;
        let n = self.uuids;
        self.g.join(
            Time::ms(now_ms),
            ActorId(client),
            &req(member),
            || format!("uuid{n}"),
            &mut self.out,
        );
        std::mem::take(&mut self.out)
    }

    /// First join + MEMBER_ID_REQUIRED + second join, returns the member id.
    fn join_new(&mut self, now_ms: u64, client: u32) -> (MemberId, Vec<Output>) {
        let out = self.join(now_ms, client, None);
        let id = match &out[..] {
            [Output::Reply(
                _,
                Msg::JoinGroupResp {
                    result: Err((ErrorCode::MemberIdRequired, Some(id))),
                    ..
                },
            )] => id.clone(),
            other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
        };
        (id.clone(), self.join(now_ms, client, Some(&id)))
    }

    fn timer(&mut self, now_ms: u64, t: GroupTimer) -> Vec<Output> {
        self.g.on_timer(Time::ms(now_ms), &t, &mut self.out);
        std::mem::take(&mut self.out)
    }
}

fn join_oks(out: &[Output]) -> Vec<(u32, JoinOk)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Reply(to, Msg::JoinGroupResp { result: Ok(j), .. }) => Some((to.0, j.clone())),
            _ => None,
        })
        .collect()
}

fn deadline(out: &[Output]) -> Option<(Time, GroupTimer)> {
    out.iter().find_map(|o| match o {
        Output::Timer(t, g @ GroupTimer::JoinDeadline(_)) => Some((*t, g.clone())),
        _ => None,
    })
}

#[test]
fn persisted_metadata_restores_the_same_group() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    let (_, t) = deadline(&out).unwrap();
    h.timer(0, t);
    let assignment = [(a.clone(), vec![Tp::new(0, 0), Tp::new(0, 1)])];
    h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &assignment, &mut h.out);
    h.out.clear();
    assert_eq!(h.g.state(), GroupState::Stable);
    let meta = h.g.metadata();
    assert_eq!(meta.generation, 1);
    assert_eq!(meta.leader.as_ref(), Some(&a));
    assert_eq!(meta.assignment, assignment.to_vec());
    let mut out = Vec::new();
    let cfg = GroupConfig {
        initial_rebalance_delay_us: 0,
    };
    let loaded = Group::loaded(&meta, cfg, Time::ms(500), &mut out);
    assert_eq!(loaded.metadata(), meta, "the record round-trips");
    assert_eq!(loaded.state(), GroupState::Stable);
    assert_eq!(loaded.assignment_of(&a), Some(&assignment[0].1[..]));
    // the member's session starts again at the load
    match &out[..] {
        [Output::Timer(at, GroupTimer::Session(id))] => {
            assert_eq!(*at, Time::ms(500) + Time::us(SESSION));
            assert_eq!(id, &a);
        }
        other => panic!("expected one session timer, got {other:?}"),
    }
}

#[test]
fn member_id_required_then_join_with_initial_delay() {
    let mut h = Harness::new(3000);
    let (id, out) = h.join_new(0, 1);
    assert_eq!(&*id, "client-uuid1");
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(join_oks(&out).is_empty(), "waits for the initial delay");
    let (at, t) = deadline(&out).expect("initial delay timer");
    assert_eq!(at, Time::ms(3000));
    let out = h.timer(3000, t);
    let oks = join_oks(&out);
    assert_eq!(oks.len(), 1);
    assert_eq!(oks[0].1.generation, 1);
    assert_eq!(oks[0].1.leader, id);
    assert_eq!(oks[0].1.members.len(), 1, "the leader gets the member list");
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
}

#[test]
fn joins_during_initial_delay_extend_it() {
    let mut h = Harness::new(3000);
    let (_, out) = h.join_new(0, 1);
    let (_, t) = deadline(&out).unwrap();
    h.join_new(1000, 2);
    let out = h.timer(3000, t);
    assert!(join_oks(&out).is_empty());
    let (at, t) = deadline(&out).expect("extended");
    assert_eq!(at, Time::ms(6000));
    let out = h.timer(6000, t);
    assert_eq!(join_oks(&out).len(), 2);
    assert_eq!(h.g.generation(), 1);
}

#[test]
fn sync_hands_out_the_leaders_assignment() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    let (_, t) = deadline(&out).unwrap();
    let out = h.timer(0, t);
    assert_eq!(join_oks(&out).len(), 1);
    h.g.sync(
        Time::ms(1),
        ActorId(1),
        0,
        &a,
        1,
        &[(a.clone(), vec![Tp::new(0, 0)])],
        &mut h.out,
    );
    let out = std::mem::take(&mut h.out);
    assert!(
        matches!(&out[..], [Output::Reply(ActorId(1), Msg::SyncGroupResp { result: Ok(p), .. })] if p == &vec![Tp::new(0, 0)])
    );
    assert_eq!(h.g.state(), GroupState::Stable);
}

/// Demo 2's shape: a second member joins a Stable group; the first learns of it from its
/// heartbeat, rejoins, and generation 2 has both.
#[test]
fn second_member_triggers_rebalance_and_generation_bump() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    h.g.sync(
        Time::ms(1),
        ActorId(1),
        0,
        &a,
        1,
        &[(a.clone(), vec![Tp::new(0, 0), Tp::new(0, 1)])],
        &mut h.out,
    );
    h.out.clear();
    let (b, out) = h.join_new(10_000, 2);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(join_oks(&out).is_empty(), "waits for the known member a");
    h.g.heartbeat(Time::ms(11_000), ActorId(1), &a, 1, &mut h.out);
    let hb = std::mem::take(&mut h.out);
    assert!(matches!(
        &hb[..],
        [Output::Reply(
            _,
            Msg::HeartbeatResp(Err(ErrorCode::RebalanceInProgress))
        )]
    ));
    let out = h.join(11_001, 1, Some(&a));
    let oks = join_oks(&out);
    assert_eq!(oks.len(), 2);
    assert!(oks.iter().all(|(_, j)| j.generation == 2));
    let leader = oks.iter().find(|(_, j)| !j.members.is_empty()).unwrap();
    assert_eq!(leader.1.member_id, a, "the first member stays leader");
    assert_eq!(leader.1.members.len(), 2);
    // a stale generation is refused
    h.g.sync(Time::ms(11_002), ActorId(2), 0, &b, 1, &[], &mut h.out);
    assert!(matches!(
        &h.out[..],
        [Output::Reply(
            _,
            Msg::SyncGroupResp {
                result: Err(ErrorCode::IllegalGeneration),
                ..
            }
        )]
    ));
}

#[test]
fn follower_rejoin_in_stable_keeps_generation_leader_rejoin_does_not() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    let (b, _) = h.join_new(1, 2);
    h.join(2, 1, Some(&a));
    h.g.sync(Time::ms(3), ActorId(2), 0, &b, 2, &[], &mut h.out);
    h.g.sync(
        Time::ms(3),
        ActorId(1),
        0,
        &a,
        2,
        &[(a.clone(), vec![]), (b.clone(), vec![])],
        &mut h.out,
    );
    h.out.clear();
    assert_eq!(h.g.state(), GroupState::Stable);
    let out = h.join(4, 2, Some(&b));
    assert_eq!(join_oks(&out)[0].1.generation, 2);
    assert_eq!(h.g.state(), GroupState::Stable);
    h.join(5, 1, Some(&a));
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
}

#[test]
fn leave_and_session_timeout_remove_members() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    let (b, _) = h.join_new(1, 2);
    h.join(2, 1, Some(&a));
    h.g.sync(Time::ms(3), ActorId(1), 0, &a, 2, &[], &mut h.out);
    h.out.clear();
    // b goes silent; a heartbeats
    h.g.heartbeat(Time::ms(5_000), ActorId(1), &a, 2, &mut h.out);
    h.out.clear();
    let out = h.timer(10_003, GroupTimer::Session(b.clone()));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::MemberRemoved {
            reason: RemovalReason::SessionTimeout,
            ..
        })
    )));
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    let out = h.join(10_004, 1, Some(&a));
    assert_eq!(join_oks(&out)[0].1.generation, 3);
    // a leaves: the group becomes empty with a new generation
    h.g.leave(Time::ms(10_005), ActorId(1), &a, &mut h.out);
    assert_eq!(h.g.state(), GroupState::Empty);
    assert_eq!(h.g.generation(), 4);
    assert!(h.g.member_ids().is_empty());
}

#[test]
fn heartbeat_and_commit_validation() {
    let mut h = Harness::new(0);
    assert_eq!(
        h.g.validate_commit(None, -1),
        Ok(()),
        "simple commit to an empty group"
    );
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    assert_eq!(
        h.g.validate_commit(Some(&a), 1),
        Err(ErrorCode::RebalanceInProgress)
    );
    h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
    assert_eq!(h.g.validate_commit(Some(&a), 1), Ok(()));
    assert_eq!(
        h.g.validate_commit(Some(&a), 0),
        Err(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        h.g.validate_commit(Some(&"x".into()), 1),
        Err(ErrorCode::UnknownMemberId)
    );
    h.out.clear();
    h.g.heartbeat(Time::ms(2), ActorId(9), &"nobody".into(), 1, &mut h.out);
    assert!(matches!(
        &h.out[..],
        [Output::Reply(
            _,
            Msg::HeartbeatResp(Err(ErrorCode::UnknownMemberId))
        )]
    ));
}

#[test]
fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
    h.out.clear();
    let (_b, out) = h.join_new(1_000, 2);
    let (at, t) = deadline(&out).unwrap();
    assert_eq!(at, Time::ms(1_000) + Time::us(REBALANCE));
    // a keeps heartbeating but never rejoins (a stalled poll loop)
    let out = h.timer(at.as_ms(), t);
    let oks = join_oks(&out);
    assert_eq!(oks.len(), 1);
    assert_eq!(oks[0].0, 2);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::MemberRemoved {
            reason: RemovalReason::RebalanceTimeout,
            ..
        })
    )));
}

#[test]
fn protocol_vote_and_inconsistent_protocol() {
    let mut h = Harness::new(0);
    let (_a, out) = h.join_new(0, 1);
    let mut r = req(None);
    r.protocols = vec![AssignorKind::Sticky];
    h.g.join(Time::ms(0), ActorId(3), &r, || "u".into(), &mut h.out);
    assert!(matches!(
        &h.out[..],
        [Output::Reply(
            _,
            Msg::JoinGroupResp {
                result: Err((ErrorCode::InconsistentGroupProtocol, _)),
                ..
            }
        )]
    ));
    h.out.clear();
    // b prefers roundrobin; a prefers range: tie goes to the leader's preference
    let mut r = req(None);
    r.protocols = vec![AssignorKind::Roundrobin, AssignorKind::Range];
    h.g.join(Time::ms(0), ActorId(2), &r, || "v".into(), &mut h.out);
    let id = match &h.out[0] {
        Output::Reply(
            _,
            Msg::JoinGroupResp {
                result: Err((_, Some(id))),
                ..
            },
        ) => id.clone(),
        o => panic!("{o:?}"),
    };
    h.out.clear();
    r.member_id = Some(id);
    h.g.join(Time::ms(0), ActorId(2), &r, || "w".into(), &mut h.out);
    // the first deadline sees that b joined during the (zero) initial delay and re-arms
    let out = h.timer(0, deadline(&out).unwrap().1);
    assert!(join_oks(&out).is_empty());
    let out = h.timer(0, deadline(&out).unwrap().1);
    let oks = join_oks(&out);
    assert_eq!(oks.len(), 2);
    assert!(oks.iter().all(|(_, j)| j.protocol == AssignorKind::Range));
}

#[test]
fn static_member_restart_replaces_and_fences_without_rebalance() {
    let mut h = Harness::new(0);
    let mut r = req(None);
    r.instance_id = Some("inst-a".into());
    // a static member gets its id at once: no MEMBER_ID_REQUIRED round
    h.g.join(Time::ms(0), ActorId(1), &r, || "u1".into(), &mut h.out);
    let out = std::mem::take(&mut h.out);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Reply(_, Msg::JoinGroupResp { result: Err(_), .. }))));
    h.timer(0, deadline(&out).unwrap().1);
    let a: MemberId = "inst-a-u1".into();
    h.g.sync(
        Time::ms(1),
        ActorId(1),
        0,
        &a,
        1,
        &[(a.clone(), vec![Tp::new(0, 0)])],
        &mut h.out,
    );
    h.out.clear();
    assert_eq!(h.g.state(), GroupState::Stable);
    // the process restarts: same instance id, no member id
    h.g.join(Time::ms(5_000), ActorId(1), &r, || "u2".into(), &mut h.out);
    let out = std::mem::take(&mut h.out);
    let oks = join_oks(&out);
    assert_eq!(oks.len(), 1);
    assert_eq!(&*oks[0].1.member_id, "inst-a-u2");
    assert_eq!(oks[0].1.generation, 1, "no new generation");
    assert_eq!(h.g.state(), GroupState::Stable);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(Event::StaticReplaced(_)))));
    let b: MemberId = "inst-a-u2".into();
    assert_eq!(
        h.g.assignment_of(&b),
        Some(&[Tp::new(0, 0)][..]),
        "keeps the assignment"
    );
    // the old id is fenced everywhere
    h.g.heartbeat(Time::ms(5_001), ActorId(9), &a, 1, &mut h.out);
    assert!(matches!(
        &h.out[..],
        [Output::Reply(
            _,
            Msg::HeartbeatResp(Err(ErrorCode::FencedInstanceId))
        )]
    ));
    assert_eq!(h.g.validate_commit(Some(&a), 1), Err(ErrorCode::FencedInstanceId));
}

/// A chained member: its session lives from the chain's arrivals; a second member's join
/// makes the chain's next Heartbeat a real one, answered `REBALANCE_IN_PROGRESS` at its
/// arrival; and a chain that ended lets the session expire after its last arrival.
#[test]
fn a_heartbeat_chain_keeps_the_session_and_is_answered_at_its_next_arrival_once_it_must_fail() {
    use crate::protocol::heartbeat_chain::HeartbeatChain;
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
    h.out.clear();
    // Heartbeats every 3 s from 2 s, 1 ms to the coordinator: no answer, nothing to probe
    let chain = Arc::new(HeartbeatChain::new(Time::ms(2_000), Time::ms(1), Time::ms(3_000)));
    let first = chain.arrival(0);
    h.g.heartbeat_chained(first, ActorId(1), &a, 1, Some(chain.clone()), &mut h.out);
    h.g.probe_chains(first, &mut h.out);
    assert!(h.out.is_empty(), "{:?}", h.out);
    // the session timer set at the sync (1 ms + 10 s) finds the chain's last arrival
    let out = h.timer(10_001, GroupTimer::Session(a.clone()));
    assert!(
        matches!(&out[..], [Output::Timer(t, GroupTimer::Session(_))] if *t == chain.arrival(2) + Time::us(SESSION))
    );
    // b joins at 12.5 s: the rebalance is learnt from Heartbeat 4 (sent at 14 s)
    let (_b, _) = h.join_new(12_500, 2);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    h.g.probe_chains(Time::ms(12_500), &mut h.out);
    let out = std::mem::take(&mut h.out);
    let probe = GroupTimer::ChainHeartbeat(a.clone(), 4);
    assert!(matches!(&out[..], [Output::Timer(t, p)] if *t == chain.arrival(4) && *p == probe));
    // the consumer got to send it (the chain ended after it): it is answered there
    chain.end_at(Time::ms(14_500));
    h.g.on_timer(chain.arrival(4), &probe, &mut h.out);
    let out = std::mem::take(&mut h.out);
    assert!(matches!(
        &out[..],
        [Output::Reply(
            ActorId(1),
            Msg::HeartbeatResp(Err(ErrorCode::RebalanceInProgress))
        )]
    ));
    // a second chain that ends: the member is removed session.timeout.ms after its last one
    let mut h = Harness::new(0);
    let (a, out) = h.join_new(0, 1);
    h.timer(0, deadline(&out).unwrap().1);
    h.g.sync(Time::ms(1), ActorId(1), 0, &a, 1, &[], &mut h.out);
    h.out.clear();
    let chain = Arc::new(HeartbeatChain::new(Time::ms(2_000), Time::ms(1), Time::ms(3_000)));
    h.g.heartbeat_chained(
        chain.arrival(0),
        ActorId(1),
        &a,
        1,
        Some(chain.clone()),
        &mut h.out,
    );
    assert_eq!(chain.end_at(Time::ms(9_000)), 2);
    let out = h.timer(10_001, GroupTimer::Session(a.clone()));
    let last = chain.arrival(2) + Time::us(SESSION);
    assert!(matches!(&out[..], [Output::Timer(t, _)] if *t == last));
    h.g.on_timer(last, &GroupTimer::Session(a.clone()), &mut h.out);
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Event(Event::MemberRemoved {
            reason: RemovalReason::SessionTimeout,
            ..
        })
    )));
}
