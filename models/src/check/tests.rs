//! The checkers together: histories that show several anomalies, judged under every claim,
//! and the `--check` table.

use super::testkit::*;
use super::*;
use crate::types::Metadata;

impl H {
    fn check(&self, claim: Claim) -> Report {
        check(&self.0, claim)
    }
}

#[test]
fn a_clean_history_passes_every_claim() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .write(2, 1, 1)
        .consume(3, C1, 0, 0)
        .consume(4, C1, 1, 1);
    for claim in Claim::ALL {
        let r = h.check(claim);
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
        assert!(r.passed());
    }
    let r = h.check(Claim::AtLeastOnce);
    assert_eq!((r.acknowledged, r.appended, r.consumed), (2, 2, 2));
}

#[test]
fn lost_only_when_the_group_was_positioned_before_the_record() {
    let mut h = H::new();
    // record 0 written before the group had a position past it; record 1 after
    h.write(0, 0, 0)
        .assign(1, C1, &[0])
        .position(1, C1, 1)
        .write(2, 1, 1)
        .write(3, 2, 2);
    h.consume(4, C1, 1, 1);
    // committed past offset 2 without consuming it (a commit before processing)
    h.at(
        5,
        C1,
        Event::Committed {
            group: g(),
            generation: 1,
            offsets: vec![(tp(0), 3)],
        },
    );
    let r = h.check(Claim::AtLeastOnce);
    assert_eq!(kinds(&r.anomalies), vec![AnomalyKind::Lost]);
    assert_eq!(r.anomalies[0].offset, Some(2));
    assert!(!r.passed());
    assert!(h.check(Claim::AtMostOnce).passed(), "at-most-once allows losses");
}

#[test]
fn a_record_the_group_never_got_past_is_unseen_not_lost() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .write(1, 1, 1)
        .consume(2, C1, 0, 0);
    let r = h.check(Claim::ExactlyOncePerGroup);
    assert_eq!(kinds(&r.anomalies), vec![AnomalyKind::Unseen]);
    assert!(r.passed(), "unseen violates no claim");
    // committing past it makes it lost
    h.at(
        3,
        C1,
        Event::Committed {
            group: g(),
            generation: 1,
            offsets: vec![(tp(0), 2)],
        },
    );
    assert_eq!(
        kinds(&h.check(Claim::AtLeastOnce).anomalies),
        vec![AnomalyKind::Lost]
    );
}

#[test]
fn records_written_after_the_whole_group_closed_are_not_lost() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .at(5, C1, Event::Closed)
        .write(6, 0, 0);
    assert!(h.check(Claim::ExactlyOncePerGroup).anomalies.is_empty());
}

#[test]
fn duplicates_are_allowed_only_at_least_once() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .consume(2, C1, 0, 0)
        .revoke(3, C1, &[0]);
    h.assign(4, C2, &[0]).position(4, C2, 0).consume(5, C2, 0, 0);
    let r = h.check(Claim::ExactlyOncePerGroup);
    assert_eq!(kinds(&r.anomalies), vec![AnomalyKind::Duplicate]);
    assert_eq!(r.anomalies[0].clients, vec!["c1".to_string(), "c2".to_string()]);
    assert!(!r.passed());
    assert!(h.check(Claim::AtLeastOnce).passed());
    assert!(!h.check(Claim::AtMostOnce).passed());
}

#[test]
fn double_ownership_is_an_overlap_of_two_members() {
    let mut h = H::new();
    h.assign(0, C1, &[0, 1])
        .assign(5, C2, &[1])
        .revoke(7, C1, &[0, 1]);
    let r = h.check(Claim::ExactlyOncePerGroup);
    assert_eq!(kinds(&r.anomalies), vec![AnomalyKind::DoubleOwnership]);
    assert_eq!(r.anomalies[0].tp, tp(1));
    assert_eq!(r.anomalies[0].time, Time::ms(5));
    // a hand-over at the same instant is not an overlap
    let mut h = H::new();
    h.assign(0, C1, &[0]).revoke(5, C1, &[0]).assign(5, C2, &[0]);
    assert!(h.check(Claim::ExactlyOncePerGroup).anomalies.is_empty());
}

#[test]
fn nonmonotonic_and_skip_inside_one_assignment() {
    let mut h = H::new();
    h.assign(0, C1, &[0]).position(0, C1, 0);
    for (i, o) in [0, 1, 2, 3].iter().enumerate() {
        h.write(1, i as u32, *o);
    }
    h.consume(2, C1, 0, 0)
        .consume(2, C1, 2, 2)
        .consume(2, C1, 1, 1)
        .consume(2, C1, 3, 3);
    let r = h.check(Claim::AtLeastOnce);
    assert_eq!(
        kinds(&r.anomalies),
        vec![AnomalyKind::Nonmonotonic, AnomalyKind::Skip]
    );
    // a new assignment may start anywhere
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .write(1, 1, 1)
        .consume(2, C1, 0, 0);
    h.revoke(3, C1, &[0])
        .assign(4, C1, &[0])
        .position(4, C1, 0)
        .consume(5, C1, 0, 0)
        .consume(5, C1, 1, 1);
    assert_eq!(
        kinds(&h.check(Claim::AtLeastOnce).anomalies),
        vec![AnomalyKind::Duplicate]
    );
}

#[test]
fn a_first_record_past_the_position_is_a_skip() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .write(1, 1, 1)
        .consume(2, C1, 1, 1);
    assert_eq!(
        kinds(&h.check(Claim::AtMostOnce).anomalies),
        vec![AnomalyKind::Lost, AnomalyKind::Skip]
    );
    assert!(!h.check(Claim::AtMostOnce).passed(), "a skip is never allowed");
}

#[test]
fn log_anomalies() {
    // two records at one offset, one record at two offsets, an ack the log lost
    let mut h = H::new();
    h.write(0, 0, 0);
    h.at(
        1,
        BROKER,
        Event::Appended {
            id: id(1),
            tp: tp(0),
            offset: 0,
        },
    );
    h.at(
        2,
        BROKER,
        Event::Appended {
            id: id(1),
            tp: tp(0),
            offset: 1,
        },
    );
    let r = h.check(Claim::AtLeastOnce);
    assert_eq!(
        kinds(&r.anomalies),
        vec![
            AnomalyKind::InconsistentOffsets,
            AnomalyKind::LogDuplicate,
            AnomalyKind::LostWrite
        ]
    );
    assert_eq!(r.of(AnomalyKind::LostWrite).next().unwrap().record, Some(id(0)));
    for claim in Claim::ALL {
        assert!(!h.check(claim).passed());
    }
}

#[test]
fn the_log_follows_the_newest_leader_epoch() {
    let elected = |epoch, log_end| Event::LeaderElected {
        tp: tp(0),
        epoch,
        log_end,
        unclean: false,
    };
    let appended = |seq, offset| Event::Appended {
        id: id(seq),
        tp: tp(0),
        offset,
    };
    let acked = |seq, offset| Event::Produced {
        id: id(seq),
        tp: tp(0),
        offset,
        payload: empty(),
        batch: None,
    };
    let (b1, b2, b3) = (ActorId(0), ActorId(2), ActorId(3));
    let mut h = H::new();
    h.at(0, b1, elected(0, 0))
        .at(1, b1, appended(0, 0))
        .at(1, PROD, acked(0, 0))
        .at(2, b1, appended(1, 1)) // never replicated: gone at the next election
        .at(5, b3, elected(2, 1))
        .at(6, b2, elected(1, 1)) // heard late: not the leader
        .at(7, b2, appended(2, 1)) // a stale leader's write: never the partition's
        .at(8, b3, appended(3, 1))
        .at(8, PROD, acked(3, 1));
    let r = h.check(Claim::AtLeastOnce);
    assert!(r.passed(), "{:?}", r.anomalies);
    let log = final_log(&h.0);
    assert_eq!(
        log[&tp(0)].values().copied().collect::<Vec<_>>(),
        vec![id(0), id(3)]
    );
}

#[test]
fn consuming_what_the_log_does_not_hold_is_inconsistent() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .consume(2, C1, 7, 0);
    assert_eq!(
        kinds(&h.check(Claim::AtLeastOnce).anomalies),
        vec![AnomalyKind::InconsistentOffsets]
    );
}

#[test]
fn table_names_every_kind_and_the_verdict() {
    let mut h = H::new();
    h.assign(0, C1, &[0])
        .position(0, C1, 0)
        .write(1, 0, 0)
        .write(1, 1, 1)
        .consume(2, C1, 1, 1);
    let r = h.check(Claim::AtLeastOnce);
    let meta = Metadata::new(vec![crate::types::TopicMeta {
        name: "t".into(),
        partitions: 2,
    }]);
    let table = r.table(&meta);
    for k in AnomalyKind::ALL {
        let transactional = AnomalyKind::TRANSACTIONAL.contains(&k);
        assert_eq!(
            table.contains(k.name()),
            !transactional,
            "{k:?}: the transactional kinds only for histories with transactions"
        );
    }
    assert!(
                    table.contains("lost                        1  no       t=2.000ms t-0@0 record p0-0 group g: never consumed by the group, which consumed past it"),
        "{table}"
    );
    assert!(table.ends_with("2 not allowed)\n"), "{table}");
    assert!(table.contains("verdict: FAIL"));
}

#[test]
fn a_history_with_transactions_lists_the_transactional_kinds() {
    let mut h = H::new();
    h.txn(0, &[(0, 0)], false).consume(4, C1, 0, 0);
    let r = h.check(Claim::ExactlyOncePipeline);
    let meta = Metadata::new(vec![crate::types::TopicMeta {
        name: "t".into(),
        partitions: 1,
    }]);
    let table = r.table(&meta);
    for k in AnomalyKind::ALL {
        assert!(table.contains(k.name()), "{k:?}");
    }
    assert_eq!(r.count(AnomalyKind::AbortedRead), 1);
    assert!(!r.passed(), "the pipeline claim forbids aborted reads");
    assert!(h.check(Claim::AtLeastOnce).passed(), "group claims allow them");
}
