//! The scenario builder gives the same `Scenario` as the built-in's TOML file, field by field.

use kafka_sim::load::builtin_scenario;
use kafka_sim::models::config::Profile;
use kafka_sim::models::scenario::Scenario;

#[test]
fn crash_autocommit_built_in_rust_is_the_file() {
    let java = |c: kafka_sim::models::builder::ConsumerBuilder| {
        c.profile(Profile::Java).config("session.timeout.ms", 10_000)
    };
    let built = Scenario::builder("crash-autocommit")
        .description(
            "A consumer with auto-commit crashes between two commits: the records it processed \
             since its last commit are delivered again to the member that takes its partitions \
             (duplicates, no loss).",
        )
        .broker(|b| b.group_initial_rebalance_delay_ms = 0)
        .topic("orders", 2)
        .producer("producer", "orders", |p| {
            p.profile(Profile::Java)
                .start_ms(10_000)
                .interval_ms(50)
                .generate(400, Some("order-{i}"), "amount-{i}")
        })
        .consumer("consumer-1", "billing", &["orders"], java)
        .consumer("consumer-2", "billing", &["orders"], |c| java(c).start_ms(2_000))
        .crash("consumer-1", 18_500, None)
        .build()
        .unwrap();
    let file = builtin_scenario("crash-autocommit").unwrap();
    assert_eq!(built, file);
    // and it runs the same
    let json = |s: &Scenario| kafka_sim::render::json_lines(&kafka_sim::models::world::run(s, 3).unwrap());
    assert_eq!(json(&built), json(&file));
}

#[test]
fn demo2_built_in_rust_is_the_file() {
    let producer = |p: kafka_sim::models::builder::ProducerBuilder| {
        let mut p = p.start_ms(20_000);
        for i in 1..=5 {
            p = p.message(Some(&format!("msg{i}_key")), Some(&format!("msg{i}_val")));
        }
        p
    };
    let built = Scenario::builder("demo2")
        .description(
            "One topic with two partitions, two consumers in one group: each record is consumed \
             once, by the owner of its partition.",
        )
        .topic("demo2", 2)
        .producer("demo2_produce", "demo2", producer)
        .consumer("demo2_consume_1", "demo2_group1", &["demo2"], |c| c)
        .consumer("demo2_consume_2", "demo2_group1", &["demo2"], |c| {
            c.start_ms(10_000)
        })
        .build()
        .unwrap();
    let file = builtin_scenario("demo2").unwrap();
    // field by field first, for a readable failure, then the whole
    assert_eq!(built.broker, file.broker);
    assert_eq!(built.topics, file.topics);
    assert_eq!(built.producers, file.producers);
    assert_eq!(built.consumers, file.consumers);
    assert_eq!(built, file);
}
