//! Each client profile's defaults against the real client's own: kafka-python 3.0.12's
//! `DEFAULT_CONFIG` (`scripts/drivers/kafka-python/defaults.py`), the settings kafka-clients
//! 4.4.0 resolves for a consumer and a producer given nothing (`ksim.Defaults` in the Java
//! driver), and librdkafka's configuration dump (`rd_kafka_conf_dump`, with `--features
//! rdkafka`). A row names the Kafka setting, the real client's name for it, and how the
//! model's value is written; a test fails listing every row where the model and the client
//! disagree. The kafka-python and Java parts run when `KAFKA_SIM_BROKER` is set (the test
//! command, which also installs the drivers); the librdkafka part needs no broker.

use kafka_sim::models::config::{ConsumerConfig, NullKeyStrategy, ProducerConfig, Profile};
use kafka_sim::models::protocol::{Acks, IsolationLevel, OffsetSpec};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What a client printed: `consumer KEY VALUE` and `producer KEY VALUE` lines.
#[derive(Default)]
struct Real {
    consumer: BTreeMap<String, String>,
    producer: BTreeMap<String, String>,
}

impl Real {
    fn parse(text: &str) -> Real {
        let mut real = Real::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(who), Some(key)) = (parts.next(), parts.next()) else {
                continue;
            };
            let value = parts.next().unwrap_or("").to_string();
            match who {
                "consumer" => real.consumer.insert(key.to_string(), value),
                "producer" => real.producer.insert(key.to_string(), value),
                _ => None,
            };
        }
        real
    }
}

/// Which of the model's settings a row reads, written the way the rows compare it.
type Model<C> = fn(&C) -> String;

/// One setting: its Kafka name, the real client's name for it, the model's value.
struct Row<C> {
    kafka: &'static str,
    real: &'static str,
    model: Model<C>,
}

fn row<C>(kafka: &'static str, real: &'static str, model: Model<C>) -> Row<C> {
    Row { kafka, real, model }
}

/// The real client's value written like the model's: booleans in lower case, "no limit" as
/// `max`, `acks` -1 as `all`, assignor classes by the names the model's settings take.
fn normal(value: &str) -> String {
    let v = value.trim();
    let assignor = |name: &str| -> Option<&'static str> {
        let short = name.rsplit('.').next().unwrap_or(name);
        Some(match short {
            "RangePartitionAssignor" | "RangeAssignor" | "range" => "range",
            "RoundRobinPartitionAssignor" | "RoundRobinAssignor" | "roundrobin" => "roundrobin",
            "StickyPartitionAssignor" | "StickyAssignor" => "sticky",
            "CooperativeStickyAssignor" | "cooperative-sticky" => "cooperative-sticky",
            _ => return None,
        })
    };
    if v.contains(',') || assignor(v).is_some() && !v.chars().all(|c| c.is_ascii_lowercase()) {
        let names: Option<Vec<&str>> = v.split(',').map(|n| assignor(n.trim())).collect();
        if let Some(names) = names {
            return names.join(",");
        }
    }
    match v {
        "True" => "true".into(),
        "False" => "false".into(),
        "inf" | "2147483647" => "max".into(),
        "-1" => "all".into(),
        "largest" | "end" => "latest".into(),
        "smallest" | "beginning" => "earliest".into(),
        other => other.into(),
    }
}

fn ms(v: u64) -> String {
    v.to_string()
}

fn assignors(c: &ConsumerConfig) -> String {
    c.assignors.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
}

fn offset_reset(c: &ConsumerConfig) -> String {
    match c.auto_offset_reset {
        OffsetSpec::Earliest => "earliest".into(),
        OffsetSpec::Latest => "latest".into(),
    }
}

fn isolation(c: &ConsumerConfig) -> String {
    match c.isolation_level {
        IsolationLevel::ReadUncommitted => "read_uncommitted".into(),
        IsolationLevel::ReadCommitted => "read_committed".into(),
    }
}

fn group_protocol(c: &ConsumerConfig) -> String {
    if c.group_protocol_consumer {
        "consumer"
    } else {
        "classic"
    }
    .into()
}

fn acks(p: &ProducerConfig) -> String {
    match p.acks {
        Acks::None => "0".into(),
        Acks::Leader => "1".into(),
        Acks::All => "all".into(),
    }
}

fn retries(p: &ProducerConfig) -> String {
    if p.retries >= i32::MAX as u32 {
        "max".into()
    } else {
        p.retries.to_string()
    }
}

/// The consumer rows every profile shares, with the real client's names.
fn consumer_rows(names: &dyn Fn(&'static str) -> &'static str) -> Vec<Row<ConsumerConfig>> {
    vec![
        row("auto.offset.reset", names("auto.offset.reset"), offset_reset),
        row("enable.auto.commit", names("enable.auto.commit"), |c| {
            c.enable_auto_commit.to_string()
        }),
        row("auto.commit.interval.ms", names("auto.commit.interval.ms"), |c| {
            ms(c.auto_commit_interval_ms)
        }),
        row("session.timeout.ms", names("session.timeout.ms"), |c| {
            ms(c.session_timeout_ms)
        }),
        row("heartbeat.interval.ms", names("heartbeat.interval.ms"), |c| {
            ms(c.heartbeat_interval_ms)
        }),
        row("max.poll.interval.ms", names("max.poll.interval.ms"), |c| {
            ms(c.max_poll_interval_ms)
        }),
        row("fetch.max.wait.ms", names("fetch.max.wait.ms"), |c| {
            ms(c.fetch_max_wait_ms)
        }),
        row("request.timeout.ms", names("request.timeout.ms"), |c| {
            ms(c.request_timeout_ms)
        }),
        row(
            "partition.assignment.strategy",
            names("partition.assignment.strategy"),
            assignors,
        ),
        row("isolation.level", names("isolation.level"), isolation),
    ]
}

/// The producer rows every profile shares, with the real client's names.
fn producer_rows(names: &dyn Fn(&'static str) -> &'static str) -> Vec<Row<ProducerConfig>> {
    vec![
        row("acks", names("acks"), acks),
        row("enable.idempotence", names("enable.idempotence"), |p| {
            p.idempotence.to_string()
        }),
        row("retries", names("retries"), retries),
        row("request.timeout.ms", names("request.timeout.ms"), |p| {
            ms(p.request_timeout_ms)
        }),
        row("retry.backoff.ms", names("retry.backoff.ms"), |p| {
            ms(p.retry_backoff_ms)
        }),
        row("retry.backoff.max.ms", names("retry.backoff.max.ms"), |p| {
            ms(p.retry_backoff_max_ms)
        }),
        row("delivery.timeout.ms", names("delivery.timeout.ms"), |p| {
            ms(p.delivery_timeout_ms)
        }),
        row(
            "max.in.flight.requests.per.connection",
            names("max.in.flight.requests.per.connection"),
            |p| p.max_in_flight.to_string(),
        ),
        row("transaction.timeout.ms", names("transaction.timeout.ms"), |p| {
            ms(p.transaction_timeout_ms)
        }),
        row("linger.ms", names("linger.ms"), |p| ms(p.linger_ms)),
        row("batch.size", names("batch.size"), |p| p.batch_size.to_string()),
    ]
}

/// Every row where the model's value (after `finish`, as a scenario resolves it) is not the
/// real client's, as `setting: model X, client Y` lines; a setting the client does not print
/// is a difference too.
fn differences(
    profile: Profile,
    real: &Real,
    c_rows: &[Row<ConsumerConfig>],
    p_rows: &[Row<ProducerConfig>],
) -> Vec<String> {
    let consumer = ConsumerConfig::defaults(profile, "g");
    let mut producer = ProducerConfig::defaults(profile);
    producer.finish().expect("the defaults resolve");
    let mut out = Vec::new();
    let mut check =
        |who: &str, kafka: &str, name: &str, model: String, map: &BTreeMap<String, String>| match map
            .get(name)
        {
            Some(v) if normal(v) == model => {}
            Some(v) => out.push(format!("{who} {kafka} ({name}): model {model}, client {v}")),
            None => out.push(format!("{who} {kafka}: the client has no setting {name}")),
        };
    for r in c_rows {
        check("consumer", r.kafka, r.real, (r.model)(&consumer), &real.consumer);
    }
    for r in p_rows {
        check("producer", r.kafka, r.real, (r.model)(&producer), &real.producer);
    }
    out
}

fn assert_same(profile: Profile, diffs: Vec<String>) {
    assert!(
        diffs.is_empty(),
        "the {} profile's defaults differ from the real client's:\n  {}",
        profile.name(),
        diffs.join("\n  ")
    );
}

/// The output of a driver's `defaults` mode, or `None` (with the reason printed) when the
/// test command is not running.
fn driver_defaults(test: &str, script: &str) -> Option<Real> {
    if std::env::var("KAFKA_SIM_BROKER").is_err() {
        eprintln!(
            "{test}: skipped: KAFKA_SIM_BROKER is not set (scripts/test.sh sets it and installs the drivers)"
        );
        return None;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(&path)
        .arg("defaults")
        .output()
        .expect("the driver script runs");
    assert!(
        out.status.success(),
        "{script} defaults failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Real::parse(&String::from_utf8_lossy(&out.stdout)))
}

/// kafka-python names a setting with underscores.
fn python_name(kafka: &'static str) -> &'static str {
    match kafka {
        // kafka-python's producer backs off by a constant retry_backoff_ms (its accumulator
        // has no retry.backoff.max.ms): the model's cap must be that same value
        "retry.backoff.max.ms" => "retry_backoff_ms",
        other => Box::leak(other.replace('.', "_").into_boxed_str()),
    }
}

#[test]
fn kafka_python_profile_has_kafka_python_defaults() {
    let Some(real) = driver_defaults(
        "kafka_python_profile_has_kafka_python_defaults",
        "scripts/drivers/kafka-python/client.sh",
    ) else {
        return;
    };
    let mut c = consumer_rows(&python_name);
    c.push(row("client.id", "client_id", |c| c.client_id.to_string()));
    let mut p = producer_rows(&python_name);
    p.push(row("max.request.size", "max_request_size", |p| {
        p.max_request_size.to_string()
    }));
    assert_same(
        Profile::KafkaPython,
        differences(Profile::KafkaPython, &real, &c, &p),
    );
}

#[test]
fn java_profile_has_kafka_clients_defaults() {
    let Some(real) = driver_defaults(
        "java_profile_has_kafka_clients_defaults",
        "scripts/drivers/java/client.sh",
    ) else {
        return;
    };
    let mut c = consumer_rows(&|k| k);
    c.push(row("group.protocol", "group.protocol", group_protocol));
    c.push(row("max.poll.records", "max.poll.records", |c| {
        c.max_poll_records.to_string()
    }));
    // group g's first consumer: consumer-g-1 in both
    c.push(row("client.id", "client.id", |c| c.client_id.to_string()));
    let mut p = producer_rows(&|k| k);
    p.push(row("client.id", "client.id", |p| p.client_id.to_string()));
    // the uniform sticky partitioner (KIP-794) moves on after batch.size bytes
    p.push(row("batch.size", "batch.size", |p| match p.null_key {
        NullKeyStrategy::UniformSticky { batch_size } => batch_size.to_string(),
        other => format!("{other:?}"),
    }));
    p.push(row("max.request.size", "max.request.size", |p| {
        p.max_request_size.to_string()
    }));
    assert_same(Profile::Java, differences(Profile::Java, &real, &c, &p));
}

/// The parser and the normalisation, without any client.
#[test]
fn real_values_are_normalised() {
    let real = Real::parse("consumer a.b 1\nproducer retries inf\nconsumer empty \nnoise\n");
    assert_eq!(real.consumer["a.b"], "1");
    assert_eq!(real.consumer["empty"], "");
    assert_eq!(normal(&real.producer["retries"]), "max");
    assert_eq!(
        normal("RangePartitionAssignor,RoundRobinPartitionAssignor"),
        "range,roundrobin"
    );
    assert_eq!(
        normal("org.apache.kafka.clients.consumer.RangeAssignor,org.apache.kafka.clients.consumer.CooperativeStickyAssignor"),
        "range,cooperative-sticky"
    );
    assert_eq!(normal("range,roundrobin"), "range,roundrobin");
    assert_eq!(normal("True"), "true");
    assert_eq!(normal("-1"), "all");
    assert_eq!(normal("largest"), "latest");
    let diffs = differences(
        Profile::Java,
        &Real::parse("consumer session.timeout.ms 10000\n"),
        &consumer_rows(&|k| k)[3..4],
        &[],
    );
    assert_eq!(
        diffs,
        ["consumer session.timeout.ms (session.timeout.ms): model 45000, client 10000"]
    );
}

#[cfg(feature = "rdkafka")]
mod librdkafka {
    use super::*;
    use rdkafka::bindings as rd;
    use std::ffi::CStr;

    /// `rd_kafka_topic_conf_dump` then `rd_kafka_conf_dump` of new configurations: name, value
    /// pairs. The topic-level settings (`request.required.acks`, `message.timeout.ms`,
    /// `auto.offset.reset`, `partitioner`) come from the first; where both levels have a
    /// setting (`auto.commit.interval.ms`: 60000 at topic level, the legacy consumer's), the
    /// global one, which the consumer uses, wins.
    fn dump() -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        // SAFETY: a fresh configuration object is dumped into an array of `cnt` C strings
        // (name, value, name, value, ...), which is read and freed; the objects are destroyed.
        unsafe {
            let read =
                |arr: *mut *const std::os::raw::c_char, cnt: usize, map: &mut BTreeMap<String, String>| {
                    for i in (0..cnt).step_by(2) {
                        let k = CStr::from_ptr(*arr.add(i)).to_string_lossy().into_owned();
                        let v = CStr::from_ptr(*arr.add(i + 1)).to_string_lossy().into_owned();
                        map.insert(k, v);
                    }
                };
            let mut cnt = 0usize;
            let topic = rd::rd_kafka_topic_conf_new();
            let arr = rd::rd_kafka_topic_conf_dump(topic, &mut cnt);
            read(arr, cnt, &mut map);
            rd::rd_kafka_conf_dump_free(arr, cnt);
            rd::rd_kafka_topic_conf_destroy(topic);
            let conf = rd::rd_kafka_conf_new();
            let arr = rd::rd_kafka_conf_dump(conf, &mut cnt);
            read(arr, cnt, &mut map);
            rd::rd_kafka_conf_dump_free(arr, cnt);
            rd::rd_kafka_conf_destroy(conf);
        }
        map
    }

    fn name(kafka: &'static str) -> &'static str {
        match kafka {
            "fetch.max.wait.ms" => "fetch.wait.max.ms",
            "request.timeout.ms" => "socket.timeout.ms",
            "retries" => "message.send.max.retries",
            "delivery.timeout.ms" => "message.timeout.ms",
            "acks" => "request.required.acks",
            "linger.ms" => "queue.buffering.max.ms",
            other => other,
        }
    }

    #[test]
    fn librdkafka_profile_has_librdkafka_defaults() {
        let map = dump();
        let real = Real {
            consumer: map.clone(),
            producer: map,
        };
        let mut c = consumer_rows(&name);
        c.push(row("group.protocol", "group.protocol", group_protocol));
        c.push(row("client.id", "client.id", |c| c.client_id.to_string()));
        let mut p = producer_rows(&name);
        // the producer's request.timeout.ms is librdkafka's topic-level one
        if let Some(r) = p.iter_mut().find(|r| r.kafka == "request.timeout.ms") {
            r.real = "request.timeout.ms";
        }
        p.push(row("client.id", "client.id", |p| p.client_id.to_string()));
        p.push(row("batch.num.messages", "batch.num.messages", |p| {
            p.batch_num_messages.to_string()
        }));
        p.push(row("partitioner", "partitioner", |p| {
            format!("{}_random", p.key_hash.name())
        }));
        p.push(row(
            "sticky.partitioning.linger.ms",
            "sticky.partitioning.linger.ms",
            |p| match p.null_key {
                NullKeyStrategy::StickyLinger { linger_ms } => linger_ms.to_string(),
                other => format!("{other:?}"),
            },
        ));
        assert_same(
            Profile::Librdkafka,
            differences(Profile::Librdkafka, &real, &c, &p),
        );
    }
}
