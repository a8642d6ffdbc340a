//! Kafka's documented behaviour around rebalances, commits and crashes, pinned on the
//! example scenarios over many seeds.

mod common;

use common::*;
use models::check::{AnomalyKind, Claim};
use models::history::Event;
use models::types::Tp;
use std::collections::{BTreeMap, BTreeSet};

const SEEDS: u64 = 20;

/// (tp → offset) where `client` started reading a partition from a committed offset after
/// `after`: what the group had committed when it took over.
fn takeover_positions(run: &models::world::Run, client: &str, after: sim::Time) -> BTreeMap<Tp, i64> {
    events_of(run, client)
        .into_iter()
        .filter(|(t, _)| *t > after)
        .filter_map(|(_, e)| match e {
            Event::PositionSet {
                tp,
                offset,
                from: models::history::PositionSource::Committed,
                ..
            } => Some((*tp, *offset)),
            _ => None,
        })
        .collect()
}

/// The partitions `client` owned at `t` (its last assignment before it; eager protocol).
fn owned_at(run: &models::world::Run, client: &str, t: sim::Time) -> Vec<Tp> {
    events_of(run, client)
        .into_iter()
        .filter(|(at, _)| *at < t)
        .filter_map(|(_, e)| match e {
            Event::Assigned { partitions, .. } => Some(partitions.to_vec()),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

fn crashed_at(run: &models::world::Run, client: &str) -> sim::Time {
    first_time(run, client, |e| matches!(e, Event::Crashed)).expect("it crashes")
}

fn duplicates(run: &models::world::Run) -> BTreeSet<(Tp, i64)> {
    report(run, Claim::AtLeastOnce)
        .of(AnomalyKind::Duplicate)
        .map(|a| (a.tp, a.offset.unwrap()))
        .collect()
}

/// An auto-commit consumer that crashes redelivers the records since its last commit to the
/// new owner: exactly those are duplicated, and nothing is lost.
#[test]
fn autocommit_crash_redelivers_since_the_last_commit() {
    for seed in 0..SEEDS {
        let run = run_builtin("crash-autocommit", seed);
        let crash = crashed_at(&run, "consumer-1");
        let resumed = takeover_positions(&run, "consumer-2", crash);
        assert!(
            !resumed.is_empty(),
            "seed {seed}: consumer-2 took over a partition from a committed offset"
        );
        let expected: BTreeSet<(Tp, i64)> = consumptions(&run)
            .into_iter()
            .filter(|(t, c, tp, o)| {
                c == "consumer-1" && *t <= crash && resumed.get(tp).is_some_and(|p| o >= p)
            })
            .map(|(_, _, tp, o)| (tp, o))
            .collect();
        assert!(
            !expected.is_empty(),
            "seed {seed}: the crash falls between two commits"
        );
        assert_eq!(duplicates(&run), expected, "seed {seed}");
        let r = report(&run, Claim::AtLeastOnce);
        assert_eq!(r.count(AnomalyKind::Lost), 0, "seed {seed}");
        assert!(r.passed(), "seed {seed}: at-least-once holds");
        assert!(!report(&run, Claim::ExactlyOncePerGroup).passed(), "seed {seed}");
    }
}

/// Commit-before-processing loses the rest of the batch in hand and duplicates nothing.
#[test]
fn commit_before_processing_loses_the_in_flight_batch_only() {
    for seed in 0..SEEDS {
        let run = run_builtin("commit-before-processing", seed);
        let crash = crashed_at(&run, "consumer-1");
        let resumed = takeover_positions(&run, "consumer-2", crash);
        let mut last_done: BTreeMap<Tp, i64> = BTreeMap::new();
        for (_, c, tp, o) in consumptions(&run) {
            if c == "consumer-1" {
                last_done.insert(tp, o);
            }
        }
        // committed past what consumer-1 finished, and never processed by anyone
        let owned = owned_at(&run, "consumer-1", crash);
        assert!(!owned.is_empty(), "seed {seed}");
        let expected: BTreeSet<(Tp, i64)> = resumed
            .iter()
            .filter(|(tp, _)| owned.contains(tp))
            .flat_map(|(tp, p)| {
                let from = last_done.get(tp).map_or(0, |o| o + 1);
                (from..*p).map(move |o| (*tp, o))
            })
            .collect();
        let r = report(&run, Claim::AtMostOnce);
        let lost: BTreeSet<(Tp, i64)> = r
            .of(AnomalyKind::Lost)
            .map(|a| (a.tp, a.offset.unwrap()))
            .collect();
        assert!(!lost.is_empty(), "seed {seed}: the crash lands mid-batch");
        assert_eq!(lost, expected, "seed {seed}");
        assert!(
            lost.len() <= 50,
            "seed {seed}: at most one batch (max.poll.records = 50)"
        );
        assert_eq!(r.count(AnomalyKind::Duplicate), 0, "seed {seed}");
        assert!(r.passed(), "seed {seed}: at-most-once holds");
        assert!(!report(&run, Claim::AtLeastOnce).passed());
    }
}

/// Commit-after-processing duplicates at most the batch in hand and loses nothing.
#[test]
fn commit_after_processing_duplicates_at_most_the_in_flight_batch() {
    for seed in 0..SEEDS {
        let run = run_builtin("commit-after-processing", seed);
        let crash = crashed_at(&run, "consumer-1");
        let dups = duplicates(&run);
        assert!(!dups.is_empty(), "seed {seed}");
        assert!(
            dups.len() <= 50,
            "seed {seed}: {} duplicates > one batch",
            dups.len()
        );
        let before_crash: BTreeSet<(Tp, i64)> = consumptions(&run)
            .into_iter()
            .filter(|(t, c, ..)| c == "consumer-1" && *t <= crash)
            .map(|(_, _, tp, o)| (tp, o))
            .collect();
        assert!(
            dups.is_subset(&before_crash),
            "seed {seed}: only consumer-1's last batch comes back"
        );
        let r = report(&run, Claim::AtLeastOnce);
        assert_eq!(r.count(AnomalyKind::Lost), 0, "seed {seed}");
        assert!(r.passed());
    }
}

fn revocations(run: &models::world::Run) -> Vec<(sim::Time, String, Vec<Tp>)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Revoked { partitions, .. } => {
                Some((e.time, run.trace.name(e.actor).to_string(), partitions.to_vec()))
            }
            _ => None,
        })
        .collect()
}

/// Cooperative-sticky never revokes a partition that keeps its owner: every revoked
/// partition next goes to another member. Eager range revokes everything.
#[test]
fn cooperative_revokes_only_what_moves() {
    for seed in 0..SEEDS {
        let run = run_builtin("cooperative-scale-out", seed);
        let third_joins = sim::Time::ms(20_000);
        let revoked = revocations(&run);
        let later: usize = revoked
            .iter()
            .filter(|r| r.0 > third_joins)
            .map(|r| r.2.len())
            .sum();
        assert_eq!(
            later, 2,
            "seed {seed}: 6 partitions from 2 to 3 members: exactly 2 move"
        );
        for (t, client, tps) in &revoked {
            for tp in tps {
                let next_owner = run
                    .trace
                    .entries()
                    .iter()
                    .filter(|e| e.time > *t)
                    .find_map(|e| match &e.record {
                        Event::Assigned { partitions, .. } if partitions.contains(tp) => {
                            Some(run.trace.name(e.actor))
                        }
                        _ => None,
                    })
                    .expect("the revoked partition is assigned again");
                assert_ne!(
                    next_owner, client,
                    "seed {seed}: {tp:?} was revoked from its next owner"
                );
            }
        }
        let eager = run_builtin("eager-scale-out", seed);
        let eager_later: usize = revocations(&eager)
            .iter()
            .filter(|r| r.0 > third_joins)
            .map(|r| r.2.len())
            .sum();
        assert_eq!(eager_later, 6, "seed {seed}: eager revokes every owned partition");
    }
}

/// No partition has two owners in one group at any virtual instant, under either protocol,
/// while membership is stable or changes cleanly.
#[test]
fn no_double_ownership_under_either_protocol() {
    for seed in 0..SEEDS {
        for name in ["cooperative-scale-out", "eager-scale-out"] {
            let run = run_builtin(name, seed);
            let r = report(&run, Claim::ExactlyOncePerGroup);
            assert_eq!(r.count(AnomalyKind::DoubleOwnership), 0, "{name} seed {seed}");
            assert!(r.passed(), "{name} seed {seed}: {:?}", r.anomalies.first());
        }
    }
}

/// A static member restarting within the session timeout causes no new generation and
/// gets its partitions back.
#[test]
fn static_restart_within_session_timeout_keeps_the_generation() {
    for seed in 0..SEEDS {
        let run = run_builtin("static-restart", seed);
        let crash = crashed_at(&run, "consumer-a");
        let gens = generations(&run, "sessions");
        assert!(
            gens.iter().all(|(t, _)| *t < crash),
            "seed {seed}: a generation after the crash: {gens:?}"
        );
        let assigned: Vec<(sim::Time, Vec<Tp>)> = events_of(&run, "consumer-a")
            .into_iter()
            .filter_map(|(t, e)| match e {
                Event::Assigned { partitions, .. } => Some((t, partitions.to_vec())),
                _ => None,
            })
            .collect();
        let before = assigned.iter().rev().find(|(t, _)| *t < crash).unwrap();
        let after = assigned
            .iter()
            .find(|(t, _)| *t > crash)
            .expect("assigned after the restart");
        assert_eq!(before.1, after.1, "seed {seed}: same partitions back");
        assert!(run
            .trace
            .entries()
            .iter()
            .any(|e| matches!(e.record, Event::StaticReplaced(_))));
        assert!(report(&run, Claim::AtLeastOnce).passed());
    }
}

/// A member stalled beyond max.poll.interval.ms leaves, loses its partitions, and the other
/// member gets them before the stall ends.
#[test]
fn stalled_member_loses_its_partitions() {
    for seed in 0..SEEDS {
        let run = run_builtin("stall-poll-timeout", seed);
        let timeout =
            first_time(&run, "worker-1", |e| matches!(e, Event::PollTimeout { .. })).expect("poll timeout");
        let (lost_at, lost) = events_of(&run, "worker-1")
            .into_iter()
            .find_map(|(t, e)| match e {
                Event::Lost {
                    partitions,
                    reason: models::history::LostReason::PollTimeout,
                    ..
                } => Some((t, partitions.clone())),
                _ => None,
            })
            .expect("lost its partitions");
        assert!(!lost.is_empty());
        let taken = events_of(&run, "worker-2").into_iter().any(|(t, e)| {
            t > timeout && t < lost_at && matches!(e, Event::Assigned { partitions, .. } if lost.iter().all(|p| partitions.contains(p)))
        });
        assert!(
            taken,
            "seed {seed}: worker-2 took {lost:?} while worker-1 was stalled"
        );
        let rejoined = events_of(&run, "worker-1")
            .into_iter()
            .any(|(t, e)| t > lost_at && matches!(e, Event::Joined { .. }));
        assert!(rejoined, "seed {seed}: worker-1 rejoins after the stall");
        assert!(report(&run, Claim::AtLeastOnce).passed());
    }
}

/// A network cut longer than the session timeout: the member is removed, its partitions move,
/// and it finds out only when the link heals.
#[test]
fn network_cut_removes_the_member_and_it_rejoins_after() {
    for seed in 0..SEEDS {
        let run = run_builtin("network-cut", seed);
        let removed = run.trace.entries().iter().any(|e| {
            matches!(
                e.record,
                Event::MemberRemoved {
                    reason: models::history::RemovalReason::SessionTimeout,
                    ..
                }
            )
        });
        assert!(removed, "seed {seed}");
        let lost = first_time(&run, "consumer-1", |e| matches!(e, Event::Lost { .. })).expect("lost");
        assert!(
            lost.as_ms() >= 35_000,
            "seed {seed}: learns only after the cut heals at 35 s ({lost})"
        );
        let r = report(&run, Claim::AtLeastOnce);
        assert_eq!(r.count(AnomalyKind::Lost), 0);
        assert!(r.passed());
    }
}

/// The rebalance storm, over seeds that move the crash times: at-least-once always holds.
#[test]
fn rebalance_storm_is_at_least_once_for_every_seed() {
    for seed in 0..SEEDS {
        let run = run_builtin("rebalance-storm", seed);
        let r = report(&run, Claim::AtLeastOnce);
        assert!(r.passed(), "seed {seed}: {:?}", r.violations().next());
        // the group rebalances while records flow (the producer sends from 5 s to 35 s)
        let during = generations(&run, "storm")
            .into_iter()
            .filter(|(t, _)| t.as_ms() > 5_000 && t.as_ms() < 35_000)
            .count();
        assert!(during >= 2, "seed {seed}: {during} rebalances during production");
    }
}

/// Every example's JSON shows the rebalance events with their generation.
#[test]
fn json_shows_revoke_and_assign_with_generation() {
    for name in kafka_sim::builtin::names() {
        let run = run_builtin(name, 1);
        let json = kafka_sim::render::json_lines(&run);
        let mut assigns = 0;
        for line in json.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if matches!(v["event"].as_str(), Some("assign" | "revoke" | "lost")) {
                assert!(v["generation"].is_i64(), "{name}: {line}");
                assert!(v["partitions"].is_array(), "{name}: {line}");
                assigns += 1;
            }
        }
        assert!(assigns > 0, "{name}");
    }
}

/// KIP-848: a partition reaches its new owner only after the old owner revoked it, only the
/// partitions that move are revoked, and no partition ever has two owners.
#[test]
fn kip848_hands_over_only_after_revocation() {
    for seed in 0..SEEDS {
        let run = run_builtin("kip848-scale-out", seed);
        let third_joins = sim::Time::ms(20_000);
        let revoked: Vec<_> = revocations(&run)
            .into_iter()
            .filter(|r| r.0 > third_joins)
            .collect();
        let moved: usize = revoked.iter().map(|r| r.2.len()).sum();
        assert_eq!(
            moved, 2,
            "seed {seed}: 6 partitions from 2 to 3 members: exactly 2 move"
        );
        for (t, client, tps) in &revoked {
            for tp in tps {
                let (at, owner) = run
                    .trace
                    .entries()
                    .iter()
                    .filter(|e| e.time > third_joins)
                    .find_map(|e| match &e.record {
                        Event::Assigned { partitions, .. } if partitions.contains(tp) => {
                            Some((e.time, run.trace.name(e.actor)))
                        }
                        _ => None,
                    })
                    .expect("assigned again");
                assert!(
                    at > *t,
                    "seed {seed}: {tp:?} assigned at {at} before its revocation at {t}"
                );
                assert_ne!(owner, client);
            }
        }
        let r = report(&run, Claim::ExactlyOncePerGroup);
        assert_eq!(r.count(AnomalyKind::DoubleOwnership), 0, "seed {seed}");
        assert!(r.passed(), "seed {seed}");
        // epochs, not generations of a stop-the-world rebalance: consumer-1 never revokes
        // everything at once after the group formed
        let c1_revocations: Vec<usize> = revocations(&run)
            .into_iter()
            .filter(|r| r.1 == "consumer-1")
            .map(|r| r.2.len())
            .collect();
        assert!(
            c1_revocations.iter().all(|n| *n < 6),
            "seed {seed}: {c1_revocations:?}"
        );
    }
}
