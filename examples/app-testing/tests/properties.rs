//! A proptest suite through `kafka_sim::testing`: each generated case runs the sink
//! application under kafka-sim's property runner, which writes a counterexample file and
//! names the seed should it fail.

use app_testing::{scenario, sink_apps, Case, SinkKind, RECORDS};
use kafka_sim::models::check::Claim;
use kafka_sim::testing::{claim, Property};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_idempotent_sink_holds_each_record_once(
        every in 1u32..80,
        from in 5_200u64..12_000,
        seed in any::<u64>(),
    ) {
        let case = Case { every, crash_between_ms: [from, from + 1_000] };
        let s = scenario(case).expect("valid");
        let (apps, sink) = sink_apps(every, SinkKind::Idempotent);
        let dir = std::env::temp_dir().join("app-testing-counterexamples");
        let outcome = Property::new("idempotent-sink", &s)
            .apps(apps)
            .only_seeds([seed])
            .expect(Claim::AtLeastOnce)
            .dir(dir)
            .try_run(|run| {
                claim(run, Claim::AtLeastOnce)?;
                let sink = sink.lock().unwrap();
                match (sink.duplicates().is_empty(), sink.keys()) {
                    (true, n) if n == RECORDS as usize => Ok(()),
                    (dups, n) => Err(format!("{n} records in the sink, duplicates: {}", !dups)),
                }
            });
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

#[test]
fn a_failing_property_writes_its_counterexample() {
    let s = scenario(Case::default()).expect("valid");
    let dir = std::env::temp_dir().join(format!("app-testing-props-{}", std::process::id()));
    let (apps, _) = sink_apps(20, SinkKind::Idempotent);
    let failure = Property::new("always-fails", &s)
        .apps(apps)
        .only_seeds([3])
        .dir(&dir)
        .try_run(|_| Err("a property that cannot hold".into()))
        .expect_err("fails");
    let file = failure.file.expect("written");
    let text = std::fs::read_to_string(&file).expect("readable");
    assert!(
        text.contains("always-fails") || text.contains("app-testing"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
