//! Client settings: defaults per profile, Kafka's names and bounds.

use super::*;
use crate::partitioner::KeyHash;

#[test]
fn profiles_differ_where_the_libraries_do() {
    assert_eq!(
        &*ConsumerConfig::defaults(Profile::Java, "g").client_id,
        "consumer-g-1"
    );
    assert_eq!(
        ProducerConfig::defaults(Profile::Librdkafka).key_hash,
        KeyHash::Consistent
    );
    assert_eq!(
        ProducerConfig::defaults(Profile::KafkaPython).key_hash,
        KeyHash::Murmur2
    );
}

#[test]
fn set_validates() {
    let mut c = ConsumerConfig::defaults(Profile::KafkaPython, "g");
    c.set("auto.offset.reset", &ConfigValue::Str("earliest".into()))
        .unwrap();
    assert_eq!(c.auto_offset_reset, OffsetSpec::Earliest);
    c.set(
        "partition.assignment.strategy",
        &ConfigValue::Str("roundrobin,range".into()),
    )
    .unwrap();
    assert_eq!(c.assignors, vec![AssignorKind::Roundrobin, AssignorKind::Range]);
    assert!(c
        .set("auto.offset.reset", &ConfigValue::Str("none".into()))
        .is_err());
    assert!(c.set("session.timeout.ms", &ConfigValue::Int(0)).is_err());
    c.set("session.timeout.ms", &ConfigValue::Int(2000)).unwrap();
    assert!(c.finish().is_err(), "below heartbeat");
    assert!(c
        .set("no.such.key", &ConfigValue::Int(1))
        .unwrap_err()
        .contains("unknown"));
    let mut p = ProducerConfig::defaults(Profile::Librdkafka);
    p.set("partitioner", &ConfigValue::Str("murmur2_random".into()))
        .unwrap();
    assert_eq!(p.key_hash, KeyHash::Murmur2);
    assert!(p.set("partitioner", &ConfigValue::Str("sha1".into())).is_err());
}

#[test]
fn cross_key_checks_wait_for_every_key() {
    // keys come in name order: heartbeat before session, above the default session
    let mut c = ConsumerConfig::defaults(Profile::Java, "g");
    c.set("heartbeat.interval.ms", &ConfigValue::Int(50_000)).unwrap();
    c.set("session.timeout.ms", &ConfigValue::Int(60_000)).unwrap();
    assert_eq!(c.finish(), Ok(()));
    assert_eq!((c.heartbeat_interval_ms, c.session_timeout_ms), (50_000, 60_000));
    c.set("heartbeat.interval.ms", &ConfigValue::Int(60_000)).unwrap();
    assert!(c.finish().unwrap_err().contains("lower than session.timeout.ms"));
}
