//! Request-level faults (`kind = "error"` / `"delay"`): one built-in scenario per family of
//! Kafka APIs — produce, fetch, group, commit — whose history shows the broker applying the
//! fault (`injected`) and the client reacting as Kafka's own clients do, with the checker's
//! verdicts that follow. Every property holds over several seeds.

mod common;

use common::*;
use models::check::{AnomalyKind, Claim};
use models::history::{Event, RemovalReason};
use models::protocol::{ApiKey, ErrorCode};
use models::types::RecordId;
use sim::Time;
use std::collections::BTreeMap;

const SEEDS: std::ops::Range<u64> = 0..6;

/// (time, api, error) of every fault the brokers applied.
fn injected(run: &models::world::Run) -> Vec<(Time, ApiKey, Option<ErrorCode>, String)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Injected { api, from, error, .. } => {
                Some((e.time, *api, *error, run.trace.name(*from).to_string()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn produce_errors_are_retried_with_a_growing_backoff_and_a_non_retriable_one_fails() {
    for seed in SEEDS {
        let run = run_builtin("error-produce", seed);
        let faults = injected(&run);
        assert_eq!(
            faults.len(),
            6,
            "seed {seed}: five retriable errors and one fatal"
        );
        assert!(faults
            .iter()
            .all(|(_, api, _, from)| *api == ApiKey::Produce && from == "writer"));
        let mut retries: BTreeMap<RecordId, Vec<Time>> = BTreeMap::new();
        let mut failed = Vec::new();
        let mut produced: BTreeMap<RecordId, usize> = BTreeMap::new();
        for (t, e) in events_of(&run, "writer") {
            match e {
                Event::ProduceRetry { id, error, .. } => {
                    assert_eq!(*error, ErrorCode::NotLeaderOrFollower, "seed {seed}");
                    retries.entry(*id).or_default().push(t);
                }
                Event::ProduceFailed { id, error, .. } => failed.push((*id, *error)),
                Event::Produced { id, .. } => *produced.entry(*id).or_default() += 1,
                _ => {}
            }
        }
        assert_eq!(retries.values().map(Vec::len).sum::<usize>(), 5, "seed {seed}");
        assert_eq!(failed.len(), 1, "seed {seed}: {failed:?}");
        assert_eq!(
            failed[0].1,
            ErrorCode::UnknownServerError,
            "not retried: fails at once"
        );
        assert!(
            !retries.contains_key(&failed[0].0),
            "the fatal error is not a retry"
        );
        assert_eq!(produced.len(), 59, "seed {seed}: every other record acknowledged");
        assert!(produced.values().all(|n| *n == 1), "seed {seed}: each once");
        // the idempotent producer keeps its order: one record at a time is retried, and
        // the backoff between its attempts grows (retry.backoff.ms doubling, ±20 % jitter)
        let (_, times) = retries.iter().max_by_key(|(_, v)| v.len()).expect("retried");
        if times.len() >= 3 {
            let gaps: Vec<u64> = times.windows(2).map(|w| (w[1] - w[0]).as_us()).collect();
            assert!(
                gaps.windows(2).all(|g| g[1] > g[0]),
                "seed {seed}: backoff grows: {gaps:?}"
            );
        }
        let r = report(&run, Claim::ExactlyOncePerGroup);
        assert!(r.passed(), "seed {seed}:\n{}", r.table(&run.meta));
    }
}

#[test]
fn fetch_errors_refresh_metadata_and_fetch_again_losing_nothing() {
    for seed in SEEDS {
        let run = run_builtin("error-fetch", seed);
        let faults = injected(&run);
        assert!(
            faults.len() >= 5,
            "seed {seed}: the consumer kept fetching: {}",
            faults.len()
        );
        assert!(faults.iter().all(|(t, api, e, from)| {
            *api == ApiKey::Fetch
                && *e == Some(ErrorCode::NotLeaderOrFollower)
                && from == "reader"
                && *t >= Time::ms(11_000)
                && *t < Time::ms(13_000)
        }));
        // like Java's fetcher, it asks for a metadata update and fetches again at once (the
        // leader is unchanged); once the window ends partition 0 catches up at once
        let consumed = consumptions(&run);
        assert!(
            consumed
                .iter()
                .any(|(t, _, tp, _)| tp.partition == 0 && *t >= Time::ms(13_000) && *t < Time::ms(13_100)),
            "seed {seed}: partition 0 read right after the window"
        );
        assert!(
            !consumed
                .iter()
                .any(|(t, _, tp, _)| tp.partition == 0 && *t > Time::ms(11_010) && *t < Time::ms(13_000)),
            "seed {seed}: nothing of partition 0 during it"
        );
        assert_eq!(consumed.len(), 100, "seed {seed}: all read, once");
        // partition 1 kept flowing during the window
        assert!(consumed
            .iter()
            .any(|(t, _, tp, _)| tp.partition == 1 && *t > Time::ms(11_200) && *t < Time::ms(12_800)));
        let r = report(&run, Claim::ExactlyOncePerGroup);
        assert!(r.passed(), "seed {seed}:\n{}", r.table(&run.meta));
    }
}

#[test]
fn group_errors_make_members_retry_rejoin_and_start_again() {
    for seed in SEEDS {
        let run = run_builtin("error-group", seed);
        let faults = injected(&run);
        let joins: Vec<Time> = faults
            .iter()
            .filter(|f| f.1 == ApiKey::JoinGroup)
            .map(|f| f.0)
            .collect();
        assert_eq!(joins.len(), 2, "seed {seed}");
        let gap = joins[1] - joins[0];
        assert!(
            gap >= Time::ms(100) && gap < Time::ms(110),
            "seed {seed}: retry.backoff.ms, got {gap:?}"
        );
        // REBALANCE_IN_PROGRESS on a heartbeat: that member revokes (eager) at its next poll
        let (hb_at, _, _, hb_member) = faults
            .iter()
            .find(|f| f.1 == ApiKey::Heartbeat)
            .cloned()
            .expect("heartbeat fault");
        let revoked = events_of(&run, &hb_member)
            .into_iter()
            .find(|(t, e)| *t >= hb_at && matches!(e, Event::Revoked { .. }))
            .map(|(t, _)| t)
            .expect("revoked after the heartbeat error");
        assert!(
            revoked - hb_at < Time::ms(50),
            "seed {seed}: at once, {:?}",
            revoked - hb_at
        );
        // UNKNOWN_MEMBER_ID on a SyncGroup: the member forgets its id; the coordinator
        // removes the old id only at its session timeout; the member comes back as a new id
        let (sync_at, _, _, sync_member) = faults
            .iter()
            .find(|f| f.1 == ApiKey::SyncGroup)
            .cloned()
            .expect("sync fault");
        let ids: Vec<String> = events_of(&run, &sync_member)
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::Joined { member_id, .. } => Some(member_id.to_string()),
                _ => None,
            })
            .collect();
        let removed = run.trace.entries().iter().find_map(|e| match &e.record {
            Event::MemberRemoved {
                member_id, reason, ..
            } if e.time > sync_at => Some((e.time, member_id.to_string(), *reason)),
            _ => None,
        });
        let (removed_at, removed_id, reason) = removed.expect("the old id is removed");
        assert_eq!(reason, RemovalReason::SessionTimeout, "seed {seed}");
        assert!(
            ids[..ids.len() - 1].contains(&removed_id),
            "seed {seed}: its old id"
        );
        assert_ne!(
            ids.last(),
            Some(&removed_id),
            "seed {seed}: it rejoined as a new member"
        );
        assert!(
            removed_at - sync_at >= Time::ms(9_000),
            "seed {seed}: session.timeout.ms"
        );
        assert!(generations(&run, "billing").iter().any(|(t, _)| *t == removed_at));
        let r = report(&run, Claim::ExactlyOncePerGroup);
        assert!(r.passed(), "seed {seed}:\n{}", r.table(&run.meta));
        assert_eq!(consumptions(&run).len(), 200, "seed {seed}");
    }
}

#[test]
fn commit_errors_are_retried_or_cost_duplicates_after_a_crash() {
    for seed in SEEDS {
        let run = run_builtin("error-commit", seed);
        let failed: Vec<(Time, ErrorCode)> = events_of(&run, "retrier")
            .into_iter()
            .filter_map(|(t, e)| match e {
                Event::CommitFailed { error, .. } => Some((t, *error)),
                _ => None,
            })
            .collect();
        assert_eq!(failed.len(), 3, "seed {seed}: {failed:?}");
        assert!(failed
            .iter()
            .all(|(_, e)| *e == ErrorCode::CoordinatorLoadInProgress));
        // commitSync sends the same commit again after retry.backoff.ms, and it succeeds
        let gaps: Vec<u64> = failed.windows(2).map(|w| (w[1].0 - w[0].0).as_us()).collect();
        assert!(
            gaps.iter().all(|g| (100_000..110_000).contains(g)),
            "seed {seed}: {gaps:?}"
        );
        let after = events_of(&run, "retrier")
            .into_iter()
            .find(|(t, e)| *t > failed[2].0 && matches!(e, Event::Committed { .. }))
            .map(|(t, _)| t)
            .expect("committed after the retries");
        assert!(after - failed[2].0 < Time::ms(110), "seed {seed}");
        // 'stale': its commits fail for ten seconds, then its consumer crashes: the records
        // it read since its last successful commit are read again by the successor
        let r = report(&run, Claim::AtLeastOnce);
        assert!(r.passed(), "seed {seed}:\n{}", r.table(&run.meta));
        let dups: Vec<_> = r.of(AnomalyKind::Duplicate).collect();
        assert!(!dups.is_empty(), "seed {seed}: duplicates after the crash");
        assert!(
            dups.iter().all(|a| a.describe(&run.meta).contains("group stale")),
            "seed {seed}: only the group whose commits failed"
        );
        assert!(!report(&run, Claim::ExactlyOncePerGroup).passed());
    }
}

#[test]
fn a_delay_fault_holds_requests_and_the_clients_wait_for_them() {
    let mut s = kafka_sim::load::builtin_scenario("demo2").expect("demo2");
    s.faults.push(models::scenario::FaultSpec {
        kind: models::scenario::FaultKind::Delay,
        api: Some(ApiKey::OffsetFetch),
        delay_ms: Some(1500),
        count: Some(2),
        ..Default::default()
    });
    let run = models::world::run(&s, 7).expect("runs");
    let held = injected(&run);
    assert_eq!(held.len(), 2);
    assert!(held
        .iter()
        .all(|(_, api, e, _)| *api == ApiKey::OffsetFetch && e.is_none()));
    // each held consumer sets its next position only when its request was handled, 1.5 s on
    for (t, _, _, client) in &held {
        let pos = events_of(&run, client)
            .into_iter()
            .find(|(at, e)| at >= t && matches!(e, Event::PositionSet { .. }))
            .map(|(at, _)| at)
            .expect("position");
        assert!(pos >= *t + Time::ms(1500), "{client}: {pos:?} vs {t:?}");
        assert!(pos < *t + Time::ms(1510), "{client}: {pos:?} vs {t:?}");
    }
    assert!(report(&run, Claim::ExactlyOncePerGroup).passed());
}

#[test]
fn malformed_request_faults_are_refused_with_their_field() {
    let base = kafka_sim::load::builtin_scenario("demo2").expect("demo2");
    let cases: Vec<(models::scenario::FaultSpec, &str)> = vec![
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Error,
                error: Some(ErrorCode::NotCoordinator),
                ..Default::default()
            },
            "faults[0].api",
        ),
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Error,
                api: Some(ApiKey::Metadata),
                error: Some(ErrorCode::NotCoordinator),
                ..Default::default()
            },
            "faults[0].api",
        ),
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Delay,
                api: Some(ApiKey::Fetch),
                ..Default::default()
            },
            "faults[0].delay_ms",
        ),
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Error,
                api: Some(ApiKey::Produce),
                error: Some(ErrorCode::NotLeaderOrFollower),
                topic: Some("demo2".into()),
                partition: Some(9),
                ..Default::default()
            },
            "faults[0].partition",
        ),
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Error,
                api: Some(ApiKey::Heartbeat),
                error: Some(ErrorCode::RebalanceInProgress),
                group: Some("nobody".into()),
                ..Default::default()
            },
            "faults[0].group",
        ),
        (
            models::scenario::FaultSpec {
                kind: models::scenario::FaultKind::Crash,
                client: "demo2_consume_1".into(),
                at_ms: Some(1),
                error: Some(ErrorCode::NotCoordinator),
                ..Default::default()
            },
            "faults[0].error",
        ),
    ];
    for (fault, field) in cases {
        let mut s = base.clone();
        s.faults = vec![fault.clone()];
        let e = s.validate().expect_err("refused");
        assert_eq!(e.path, field, "{fault:?}: {e}");
    }
}
