//! Static membership under the KIP-848 consumer protocol, pinned on
//! `examples/kip848-static-restart.toml` over many seeds: the consumer's own member ids
//! (KIP-1082), the temporary leave with epoch −2 and the replacement that keeps the group
//! epoch and the partitions; a crash (no −2) leaves the instance id held.

mod common;

use common::*;
use kafka_sim::load::builtin_scenario;
use models::check::Claim;
use models::history::Event;
use models::protocol::ErrorCode;
use models::scenario::FaultKind;
use models::types::{MemberId, Tp};

const SEEDS: u64 = 20;

fn joins(run: &models::world::Run, client: &str) -> Vec<(sim::Time, MemberId, i32)> {
    events_of(run, client)
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::Joined {
                member_id,
                generation,
                ..
            } => Some((t, member_id.clone(), *generation)),
            _ => None,
        })
        .collect()
}

fn assignments(run: &models::world::Run, client: &str) -> Vec<(sim::Time, Vec<Tp>)> {
    events_of(run, client)
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::Assigned { partitions, .. } => Some((t, partitions.to_vec())),
            _ => None,
        })
        .collect()
}

/// Java's `Uuid.toString()`: 22 characters of URL-safe base64, not starting with `-`.
fn is_java_uuid(id: &str) -> bool {
    id.len() == 22
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// The static member closes (epoch −2) and a new process with the same instance id comes
/// back under a new member id: no new group epoch, the same partitions, the old id replaced.
#[test]
fn kip848_static_member_comes_back_without_a_new_group_epoch() {
    let mut ids = std::collections::BTreeSet::new();
    for seed in 0..SEEDS {
        let run = run_builtin("kip848-static-restart", seed);
        let closed = first_time(&run, "consumer-a", |e| matches!(e, Event::Closed)).expect("closes");
        let epochs = generations(&run, "sessions");
        assert!(
            epochs.iter().all(|(t, _)| *t < closed),
            "seed {seed}: a group epoch after the close: {epochs:?}"
        );
        let last_epoch = epochs.last().expect("epochs").1;
        let j = joins(&run, "consumer-a");
        assert_eq!(j.len(), 2, "seed {seed}: {j:?}");
        let (first, second) = (&j[0], &j[1]);
        assert!(second.0 > closed);
        assert_ne!(first.1, second.1, "seed {seed}: a new process, a new member id");
        assert!(
            is_java_uuid(&first.1) && is_java_uuid(&second.1),
            "seed {seed}: {j:?}"
        );
        assert_eq!(second.2, last_epoch, "seed {seed}: back at the same epoch");
        ids.insert(first.1.clone());
        // what it owned when it closed: what the close revoked
        let at_close: Vec<Tp> = events_of(&run, "consumer-a")
            .into_iter()
            .filter(|(t, _)| *t == closed)
            .find_map(|(_, e)| match e {
                Event::Revoked { partitions, .. } => Some(partitions.to_vec()),
                _ => None,
            })
            .expect("the close revokes");
        assert_eq!(at_close.len(), 2, "seed {seed}: half of the four");
        let assigned = assignments(&run, "consumer-a");
        let after = assigned
            .iter()
            .find(|(t, _)| *t > closed)
            .expect("assigned again");
        assert_eq!(at_close, after.1, "seed {seed}: same partitions back");
        // consumer-b never got consumer-a's partitions in between
        let b_after: Vec<Tp> = assignments(&run, "consumer-b")
            .into_iter()
            .filter(|(t, _)| *t > closed)
            .flat_map(|(_, p)| p)
            .collect();
        assert!(b_after.is_empty(), "seed {seed}: {b_after:?}");
        let replaced = run.trace.entries().iter().any(|e| {
            matches!(&e.record, Event::StaticReplaced(r)
                if r.old == first.1 && r.new == second.1 && &*r.instance_id == "instance-a")
        });
        assert!(replaced, "seed {seed}");
        let r = report(&run, Claim::AtLeastOnce);
        assert!(r.passed(), "seed {seed}: {:?}", r.anomalies.first());
    }
    assert_eq!(
        ids.len(),
        SEEDS as usize,
        "member ids come from each seed's stream"
    );
}

/// A crash sends no epoch −2: the old member still holds the instance id, so the restarted
/// process is refused with `UNRELEASED_INSTANCE_ID` (fatal for Java's consumer) and the
/// partitions move only when the old member's session (45 s) expires.
#[test]
fn kip848_static_crash_leaves_the_instance_id_unreleased() {
    let mut s = builtin_scenario("kip848-static-restart").unwrap();
    s.faults[0].kind = FaultKind::Crash;
    s.stop.at_ms = Some(90_000);
    for seed in 0..4 {
        let run = models::world::run(&s, seed).unwrap();
        let restarted = first_time(&run, "consumer-a", |e| matches!(e, Event::Restarted)).unwrap();
        let fatal = events_of(&run, "consumer-a")
            .into_iter()
            .find_map(|(t, e)| match e {
                Event::Fatal { error } => Some((t, *error)),
                _ => None,
            });
        let (at, error) = fatal.expect("refused");
        assert_eq!(error, ErrorCode::UnreleasedInstanceId, "seed {seed}");
        assert!(at > restarted);
        let removed = run.trace.entries().iter().find_map(|e| match &e.record {
            Event::MemberRemoved { .. } => Some(e.time),
            _ => None,
        });
        let removed = removed.expect("the session expires");
        assert!(removed > sim::Time::ms(17_000 + 40_000), "seed {seed}: {removed}");
        let b_all = assignments(&run, "consumer-b")
            .into_iter()
            .filter(|(t, _)| *t > removed)
            .flat_map(|(_, p)| p)
            .count();
        assert_eq!(b_all, 2, "seed {seed}: consumer-b takes the other two");
    }
}

/// Two live processes with one `group.instance.id`: the second is refused with
/// `UNRELEASED_INSTANCE_ID` (fatal) and the first keeps every partition.
#[test]
fn kip848_a_second_live_process_with_the_instance_id_is_refused() {
    let mut s = builtin_scenario("kip848-static-restart").unwrap();
    s.faults.clear();
    let inst = models::config::ConfigValue::Str("instance-a".into());
    s.consumers[1].config.insert("group.instance.id".into(), inst);
    for seed in 0..4 {
        let run = models::world::run(&s, seed).unwrap();
        let fatal = events_of(&run, "consumer-b")
            .into_iter()
            .find_map(|(_, e)| match e {
                Event::Fatal { error } => Some(*error),
                _ => None,
            });
        assert_eq!(fatal, Some(ErrorCode::UnreleasedInstanceId), "seed {seed}");
        assert!(assignments(&run, "consumer-b").is_empty(), "seed {seed}");
        let a: usize = assignments(&run, "consumer-a").iter().map(|(_, p)| p.len()).sum();
        assert_eq!(a, 4, "seed {seed}: consumer-a keeps all four");
        assert_eq!(generations(&run, "sessions").len(), 1, "seed {seed}");
    }
}
