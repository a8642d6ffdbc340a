//! `kafka_sim::testing`: properties over seeds, their counterexample files and replay
//! commands, and the determinism check.

use kafka_sim::load::{builtin_scenario, parse_toml};
use kafka_sim::models::check::Claim;
use kafka_sim::models::history::Event;
use kafka_sim::testing::{claim, deterministic, seeds_from, Failure, Property};
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kafka-sim-testing-{}-{name}", std::process::id()))
}

#[test]
fn seeds_come_from_the_two_variables() {
    assert_eq!(seeds_from(None, None, 3), Ok(vec![0, 1, 2]));
    assert_eq!(
        seeds_from(Some("42"), Some("10"), 3),
        Ok(vec![42]),
        "one seed wins"
    );
    assert_eq!(seeds_from(None, Some("2"), 3), Ok(vec![0, 1]));
    assert_eq!(seeds_from(None, Some("5..8"), 3), Ok(vec![5, 6, 7]));
    assert!(seeds_from(Some("x"), None, 3)
        .unwrap_err()
        .contains("KAFKA_SIM_SEED"));
    assert!(seeds_from(None, Some("1..y"), 3)
        .unwrap_err()
        .contains("KAFKA_SIM_SEEDS"));
}

#[test]
fn a_true_property_holds_for_every_seed() {
    let s = builtin_scenario("demo2").unwrap();
    let mut seen = Vec::new();
    let n = Property::new("demo2", &s)
        .only_seeds(3..6)
        .deterministic()
        .try_run(|run| {
            seen.push(run.seed);
            claim(run, Claim::ExactlyOncePerGroup)
        })
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(seen, vec![3, 4, 5]);
    assert_eq!(deterministic(&s, 9), Ok(()));
}

#[test]
fn a_false_property_fails_with_a_replayable_counterexample() {
    let s = builtin_scenario("crash-autocommit").unwrap();
    let dir = temp_dir("false");
    let f: Failure = Property::new("crash autocommit", &s)
        .only_seeds([4, 5])
        .expect(Claim::ExactlyOncePerGroup)
        .dir(&dir)
        .try_run(|run| claim(run, Claim::ExactlyOncePerGroup))
        .unwrap_err();
    assert_eq!(f.seed, 4, "the first seed fails");
    assert!(f.message.contains("verdict: FAIL"), "{}", f.message);
    let file = f.file.clone().expect("written");
    assert_eq!(file, dir.join("crash-autocommit-seed4.toml"));
    let command = f.command.clone().unwrap();
    assert_eq!(
        command,
        format!(
            "kafka-sim --scenario {} --seed 4 --check --expect exactly-once-per-group",
            file.display()
        )
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("# Replay: {command}\n")), "{text}");
    assert_eq!(
        parse_toml("counterexample", &text).unwrap(),
        s,
        "the file is the scenario"
    );
    let shown = f.to_string();
    assert!(
        shown.contains("under seed 4") && shown.contains(&command),
        "{shown}"
    );
    assert!(shown.contains("KAFKA_SIM_SEED=4"), "{shown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_panics_with_the_seed_and_the_replay_command() {
    let s = builtin_scenario("demo2").unwrap();
    let dir = temp_dir("panic");
    let result = std::panic::catch_unwind(|| {
        Property::new("demo2-never-consumes", &s)
            .only_seeds([7])
            .dir(&dir)
            .run(|run| {
                // deliberately false: demo2 consumes every record
                let consumed = run
                    .trace
                    .entries()
                    .iter()
                    .any(|e| matches!(e.record, Event::Consumed { .. }));
                if consumed {
                    Err("something was consumed".into())
                } else {
                    Ok(())
                }
            })
    });
    let panic = result.unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    let file = dir.join("demo2-never-consumes-seed7.toml");
    assert!(message.contains("property demo2-never-consumes failed under seed 7: something was consumed"));
    assert!(
        message.contains(&format!(
            "replay: kafka-sim --scenario {} --seed 7 --check\n",
            file.display()
        )),
        "{message}"
    );
    assert!(file.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_panicking_property_is_a_failure_too() {
    let s = builtin_scenario("demo1").unwrap();
    let dir = temp_dir("assert");
    let f = Property::new("demo1-assert", &s)
        .only_seeds([0])
        .dir(&dir)
        .try_run(|run| {
            assert_eq!(run.seed, 99, "deliberately false");
            Ok(())
        })
        .unwrap_err();
    assert!(f.message.starts_with("panicked: assertion"), "{}", f.message);
    assert!(f.file.unwrap().exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
