//! Scenario validation, driven field by field.

use super::*;

fn base() -> Scenario {
    Scenario {
        name: None,
        description: None,
        cluster: ClusterSpec::default(),
        broker: BrokerSpec::default(),
        network: NetworkSpec::default(),
        topics: vec![TopicSpec {
            name: "t".into(),
            partitions: 2,
            replication_factor: None,
            config: BTreeMap::new(),
        }],
        producers: vec![ProducerSpec {
            name: "p".into(),
            profile: Profile::KafkaPython,
            topic: "t".into(),
            start_ms: 0,
            interval_ms: 0,
            messages: vec![MessageSpec {
                key: Some("k".into()),
                value: Some("v".into()),
                partition: None,
            }],
            generate: None,
            config: BTreeMap::new(),
            linger_ms: None,
            batch_size: None,
            batch_num_messages: None,
            transactions: None,
        }],
        consumers: vec![ConsumerSpec {
            name: "c".into(),
            profile: Profile::KafkaPython,
            group: "g".into(),
            topics: vec!["t".into()],
            start_ms: 0,
            close_ms: None,
            commit: CommitPolicy::Auto,
            processing_ms: 0,
            config: BTreeMap::new(),
            pipeline: None,
        }],
        faults: Vec::new(),
        stop: StopSpec::default(),
    }
}

#[test]
fn valid_base() {
    assert_eq!(base().validate(), Ok(()));
    assert_eq!(base().stop_ms(), 30_000);
}

#[test]
fn problems_are_located() {
    let mut s = base();
    s.topics[0].partitions = 0;
    let e = s.validate().unwrap_err();
    assert_eq!(e.path, "topics[0].partitions");
    assert!(e.message.contains("zero partitions"));

    let mut s = base();
    s.consumers[0].topics = vec!["nope".into()];
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "consumers[0].topics[0]: topic \"nope\" does not exist"
    );

    let mut s = base();
    s.consumers[0].name = "p".into();
    assert_eq!(s.validate().unwrap_err().path, "consumers[0].name");

    let mut s = base();
    s.consumers[0]
        .config
        .insert("session.timeout.ms".into(), ConfigValue::Str("x".into()));
    assert_eq!(
        s.validate().unwrap_err().path,
        "consumers[0].config.\"session.timeout.ms\""
    );

    let mut s = base();
    s.producers[0].messages[0].partition = Some(2);
    assert!(s.validate().unwrap_err().message.contains("does not exist"));
}

/// A consumer without a group is kafka-python's `group_id=None`: the other profiles, a commit
/// policy and a static instance id are refused; its settings never auto-commit.
#[test]
fn a_consumer_without_a_group() {
    let mut s = base();
    s.consumers[0].group = String::new();
    assert_eq!(s.validate(), Ok(()));
    assert!(!s.consumer_config(0).unwrap().enable_auto_commit);

    let mut java = s.clone();
    java.consumers[0].profile = Profile::Java;
    let e = java.validate().unwrap_err();
    assert_eq!(e.path, "consumers[0].group");
    assert!(e.message.contains("a java consumer needs a group"), "{e}");

    let mut commits = s.clone();
    commits.consumers[0].commit = CommitPolicy::AfterRecord;
    assert_eq!(commits.validate().unwrap_err().path, "consumers[0].commit");

    let mut fixed = s.clone();
    fixed.consumers[0]
        .config
        .insert("group.instance.id".into(), ConfigValue::Str("i".into()));
    assert!(fixed
        .validate()
        .unwrap_err()
        .message
        .contains("group_instance_id requires group_id"));
}

/// A crash or a close may restart the consumer (a new process); a stall may not.
#[test]
fn close_and_crash_restart_a_stall_does_not() {
    let fault = |kind, duration_ms| FaultSpec {
        kind,
        client: "c".into(),
        at_ms: Some(1_000),
        duration_ms,
        restart_after_ms: Some(5_000),
        ..FaultSpec::default()
    };
    for kind in [FaultKind::Crash, FaultKind::Close] {
        let mut s = base();
        s.faults.push(fault(kind, None));
        assert_eq!(s.validate(), Ok(()), "{}", kind.name());
        assert_eq!(s.stop_ms(), 36_000, "the restart counts for the stop time");
    }
    let mut s = base();
    s.faults.push(fault(FaultKind::Stall, Some(1_000)));
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "faults[0].restart_after_ms: only a crash or a close restarts"
    );
}

/// Java's `KafkaProducer` refuses an explicit `delivery.timeout.ms` below
/// `linger.ms + request.timeout.ms` (a real run of `acks-all-minisr` with 20 s against the
/// default 30 s failed to start its producer), and raises a default one to it.
#[test]
fn batching_keys_override_the_profile_and_are_bounded() {
    let mut s = base();
    let cfg = s.producer_config(0).unwrap();
    // kafka-python 3.0.12: linger_ms=0, batch_size=16384, no batch.num.messages
    assert_eq!(
        (cfg.linger_ms, cfg.batch_size, cfg.batch_num_messages),
        (0, 16_384, u32::MAX)
    );
    s.producers[0].profile = Profile::Librdkafka;
    let cfg = s.producer_config(0).unwrap();
    assert_eq!(
        (cfg.linger_ms, cfg.batch_size, cfg.batch_num_messages),
        (5, 1_000_000, 10_000)
    );
    s.producers[0].linger_ms = Some(20);
    s.producers[0].batch_size = Some(100);
    s.producers[0].batch_num_messages = Some(3);
    let cfg = s.producer_config(0).unwrap();
    assert_eq!(
        (cfg.linger_ms, cfg.batch_size, cfg.batch_num_messages),
        (20, 100, 3)
    );
    s.validate().unwrap();
    for (field, bad) in [
        ("linger_ms", 900_001),
        ("batch_size", 0),
        ("batch_num_messages", 0),
    ] {
        let mut b = s.clone();
        match field {
            "linger_ms" => b.producers[0].linger_ms = Some(bad),
            "batch_size" => b.producers[0].batch_size = Some(bad),
            _ => b.producers[0].batch_num_messages = Some(bad),
        }
        let e = b.validate().unwrap_err();
        assert_eq!(e.path, format!("producers[0].{field}"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    let mut b = s.clone();
    b.producers[0].batch_num_messages = Some(u64::MAX);
    assert!(b.validate().is_err());
}

#[test]
fn a_java_delivery_timeout_below_the_request_timeout_is_refused() {
    let mut s = base();
    s.producers[0].profile = Profile::Java;
    s.producers[0]
        .config
        .insert("delivery.timeout.ms".into(), ConfigValue::Int(20_000));
    let e = s.validate().unwrap_err();
    assert_eq!(e.path, "producers[0].config.\"delivery.timeout.ms\"");
    assert!(e.message.contains("linger.ms + request.timeout.ms"), "{e}");
    s.producers[0]
        .config
        .insert("request.timeout.ms".into(), ConfigValue::Int(10_000));
    s.validate().unwrap();
    // not set: raised to linger.ms (5) + request.timeout.ms, as Java does
    let mut d = base();
    d.producers[0].profile = Profile::Java;
    d.producers[0]
        .config
        .insert("request.timeout.ms".into(), ConfigValue::Int(200_000));
    assert_eq!(d.producer_config(0).unwrap().delivery_timeout_ms, 200_005);
    // kafka-python has no such rule
    s.producers[0].profile = Profile::KafkaPython;
    s.producers[0].config.remove("request.timeout.ms");
    s.validate().unwrap();
}
