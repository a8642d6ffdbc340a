//! Consume–transform–produce without transactions: under crashes the output topic holds
//! some records twice — the case Kafka's transactions (KIP-98, KIP-447) exist for — and
//! never misses one.

use app_testing::{scenario, transform_apps, Case, RECORDS};
use kafka_sim::models::history::Event;
use kafka_sim::models::world::Prepared;
use std::collections::BTreeMap;

#[test]
fn the_output_topic_has_duplicates_under_crashes_and_no_gaps() {
    let case = Case::default();
    let s = scenario(case).expect("valid");
    let prepared = Prepared::new(&s).expect("valid");
    let apps = transform_apps(case.every);
    let mut with_duplicates = 0;
    for seed in 0..100 {
        let run = prepared
            .run_with_apps(seed, Default::default(), &apps)
            .expect("runs");
        let enriched = run.meta.topic_index("enriched").expect("topic");
        let mut written: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for e in run.trace.entries() {
            if let Event::Produced { tp, payload, .. } = &e.record {
                if tp.topic == enriched {
                    assert_eq!(
                        payload.value().map(|v| v.iter().all(|b| !b.is_ascii_lowercase())),
                        Some(true),
                        "seed {seed}: transformed"
                    );
                    *written
                        .entry(payload.key().unwrap_or_default().to_vec())
                        .or_default() += 1;
                }
            }
        }
        assert_eq!(
            written.len(),
            RECORDS as usize,
            "seed {seed}: every input has an output"
        );
        if written.values().any(|n| *n > 1) {
            with_duplicates += 1;
        }
    }
    eprintln!("{with_duplicates} of 100 seeds wrote some output twice");
    assert!(
        with_duplicates > 10,
        "only {with_duplicates} of 100 seeds wrote an output twice"
    );
}
