//! The bounds a scenario keeps, so that every run is finite and every size it asks for fits
//! in memory.
//!
//! Where Kafka has a range, it is Kafka's: its `ConfigDef` validators (`atLeast(1)` for
//! `min.insync.replicas` and `offsets.topic.num.partitions`, `atLeast(0)` for
//! `fetch.max.wait.ms` …), the `INT` type of most millisecond settings (at most
//! 2147483647), and `KafkaConfig`'s cross checks (`replica.fetch.wait.max.ms` at most
//! `replica.socket.timeout.ms` and at most `replica.lag.time.max.ms`). Where the simulator
//! needs a limit Kafka does not have, it is one of the constants below, and the error says
//! so. Every derived time (a producer's last send, a fault's end) is computed with checked
//! arithmetic.

use super::{FaultSpec, ProducerSpec, Scenario, ScenarioError};

/// Brokers in a cluster (the simulator's limit).
pub const MAX_BROKERS: u32 = 64;
/// Partitions of one topic (the simulator's limit).
pub const MAX_PARTITIONS: u32 = 100_000;
/// Partitions of `__consumer_offsets` (`offsets.topic.num.partitions`; Kafka: at least 1).
pub const MAX_OFFSETS_PARTITIONS: u32 = 10_000;
/// Partitions of all topics together, the offsets topic included.
pub const MAX_TOTAL_PARTITIONS: u64 = 200_000;
/// The same, in a cluster of more than one broker: the controller sends every broker the
/// whole cluster image on each change, so a failover costs the square of the partitions
/// (2000 take about 400 MB with three brokers).
pub const MAX_REPLICATED_PARTITIONS: u64 = 2_000;
/// Records all producers of a scenario send together (the large benchmark sends 10^6).
pub const MAX_RECORDS: u64 = 10_000_000;
/// Producers plus consumers.
pub const MAX_CLIENTS: usize = 10_000;
pub use crate::config::{KAFKA_INT_MAX, MAX_NAME_LEN, MAX_TIME_MS};
/// The bytes of all records' keys and values together (a generated record's template
/// counted with its number): what the logs would hold.
pub const MAX_RECORD_BYTES: u64 = 1 << 30;

fn err(path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        path: path.into(),
        message: message.into(),
    }
}

/// A virtual time the scenario gives, within [`MAX_TIME_MS`].
pub fn time(path: impl Into<String>, ms: u64) -> Result<u64, ScenarioError> {
    if ms > MAX_TIME_MS {
        return Err(err(
            path,
            format!("{ms} ms is more virtual time than the simulator runs (at most {MAX_TIME_MS} ms)"),
        ));
    }
    Ok(ms)
}

/// A name: not empty, printable characters only, at most [`MAX_NAME_LEN`] bytes.
pub fn name(path: impl Into<String>, what: &str, name: &str) -> Result<(), ScenarioError> {
    crate::config::check_name(what, name).map_err(|m| err(path, m))
}

use crate::config::printable;

/// The virtual time producer `p` sends its last record at, if it fits in a `u64`.
pub fn producer_end(p: &ProducerSpec, records: u64) -> Option<u64> {
    p.interval_ms.checked_mul(records)?.checked_add(p.start_ms)
}

/// The virtual time fault `f` has ended at (its time, duration and restart), if it fits.
pub fn fault_end(f: &FaultSpec) -> Option<u64> {
    let at = f.at_ms.or(f.between_ms.map(|w| w[1])).unwrap_or(0);
    at.checked_add(f.duration_ms.unwrap_or(0))?
        .checked_add(f.restart_after_ms.unwrap_or(0))
}

/// The records producer `p` sends.
pub fn record_count(p: &ProducerSpec) -> u64 {
    p.generate
        .as_ref()
        .map_or(p.messages.len() as u64, |g| u64::from(g.count))
}

/// Checks the sizes and times of `s`: each within its limit, each derived time computable.
pub fn check(s: &Scenario) -> Result<(), ScenarioError> {
    sizes(s)?;
    broker(s)?;
    times(s)
}

fn sizes(s: &Scenario) -> Result<(), ScenarioError> {
    if s.cluster.brokers == 0 || s.cluster.brokers > MAX_BROKERS {
        return Err(err(
            "cluster.brokers",
            format!(
                "a cluster has 1 to {MAX_BROKERS} brokers ({} given)",
                s.cluster.brokers
            ),
        ));
    }
    let offsets = s.broker.offsets_topic_num_partitions;
    if offsets == 0 || offsets > MAX_OFFSETS_PARTITIONS {
        return Err(err(
            "broker.\"offsets.topic.num.partitions\"",
            format!("must be between 1 and {MAX_OFFSETS_PARTITIONS} ({offsets} given)"),
        ));
    }
    for (i, t) in s.topics.iter().enumerate() {
        if t.partitions > MAX_PARTITIONS {
            return Err(err(
                format!("topics[{i}].partitions"),
                format!(
                    "{} partitions: the simulator runs at most {MAX_PARTITIONS} per topic",
                    t.partitions
                ),
            ));
        }
    }
    let total: u64 = s.topics.iter().map(|t| u64::from(t.partitions)).sum::<u64>() + u64::from(offsets);
    if total > MAX_TOTAL_PARTITIONS {
        return Err(err(
            "topics",
            format!("{total} partitions in all, the offsets topic included: the simulator runs at most {MAX_TOTAL_PARTITIONS}"),
        ));
    }
    if s.cluster.brokers > 1 && total > MAX_REPLICATED_PARTITIONS {
        return Err(err(
            "topics",
            format!("{total} partitions in all, the offsets topic included: with more than one broker the simulator runs at most {MAX_REPLICATED_PARTITIONS}"),
        ));
    }
    let clients = s.producers.len() + s.consumers.len();
    if clients > MAX_CLIENTS {
        return Err(err(
            "consumers",
            format!("{clients} producers and consumers: the simulator runs at most {MAX_CLIENTS}"),
        ));
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    for (i, p) in s.producers.iter().enumerate() {
        records += record_count(p);
        if records > MAX_RECORDS {
            return Err(err(
                format!("producers[{i}]"),
                format!("more than {MAX_RECORDS} records in all (the simulator's limit)"),
            ));
        }
        bytes += record_bytes(i, p)?;
        if bytes > MAX_RECORD_BYTES {
            return Err(err(
                format!("producers[{i}]"),
                format!("the records' keys and values come to more than {MAX_RECORD_BYTES} bytes in all (the simulator's limit)"),
            ));
        }
    }
    Ok(())
}

/// Text written into a record: printable characters (so that every output, the timeline's
/// XML included, can show it as it is).
fn text(path: String, t: &str) -> Result<u64, ScenarioError> {
    if let Some(c) = t.chars().find(|c| !printable(*c)) {
        return Err(err(
            path,
            format!("record keys and values are printable text, not {c:?}"),
        ));
    }
    Ok(t.len() as u64)
}

/// The bytes producer `i`'s records hold, their text checked.
fn record_bytes(i: usize, p: &ProducerSpec) -> Result<u64, ScenarioError> {
    let mut bytes = 0u64;
    if let Some(g) = &p.generate {
        let key = match &g.key {
            Some(k) => text(format!("producers[{i}].generate.key"), k)?,
            None => 0,
        };
        let value = text(format!("producers[{i}].generate.value"), &g.value)?;
        // `{i}` becomes up to 10 digits
        bytes += u64::from(g.count) * (key + value + 20);
    }
    for (j, m) in p.messages.iter().enumerate() {
        for (field, t) in [("key", &m.key), ("value", &m.value)] {
            if let Some(t) = t {
                bytes += text(format!("producers[{i}].messages[{j}].{field}"), t)?;
            }
        }
    }
    Ok(bytes)
}

/// Broker settings: Kafka's `INT` type, `KafkaConfig`'s cross checks, and the simulator's
/// need for periodic timers of at least 1 ms.
fn broker(s: &Scenario) -> Result<(), ScenarioError> {
    let b = &s.broker;
    let ints = [
        (
            "group.initial.rebalance.delay.ms",
            b.group_initial_rebalance_delay_ms,
            0,
        ),
        ("replica.fetch.wait.max.ms", b.replica_fetch_wait_max_ms, 0),
        ("replica.socket.timeout.ms", b.replica_socket_timeout_ms, 1),
        ("broker.heartbeat.interval.ms", b.broker_heartbeat_interval_ms, 1),
        ("broker.session.timeout.ms", b.broker_session_timeout_ms, 1),
    ];
    for (key, v, min) in ints {
        if v < min || v > KAFKA_INT_MAX {
            return Err(err(
                format!("broker.\"{key}\""),
                format!("must be between {min} and {KAFKA_INT_MAX} ({v} given)"),
            ));
        }
    }
    let longs = [
        ("replica.lag.time.max.ms", b.replica_lag_time_max_ms),
        (
            "log.retention.check.interval.ms",
            b.log_retention_check_interval_ms,
        ),
    ];
    for (key, v) in longs {
        if v == 0 || v > MAX_TIME_MS {
            return Err(err(
                format!("broker.\"{key}\""),
                format!("must be between 1 and {MAX_TIME_MS} ({v} given)"),
            ));
        }
    }
    if b.replica_fetch_wait_max_ms > b.replica_socket_timeout_ms {
        return Err(err(
            "broker.\"replica.socket.timeout.ms\"",
            "must be at least replica.fetch.wait.max.ms, as Kafka requires",
        ));
    }
    if b.replica_fetch_wait_max_ms > b.replica_lag_time_max_ms {
        return Err(err(
            "broker.\"replica.lag.time.max.ms\"",
            "must be at least replica.fetch.wait.max.ms, as Kafka requires",
        ));
    }
    for (key, v) in [
        ("default.replication.factor", b.default_replication_factor),
        ("min.insync.replicas", b.min_insync_replicas),
        (
            "offsets.topic.replication.factor",
            b.offsets_topic_replication_factor,
        ),
    ] {
        if v == 0 || u64::from(v) > KAFKA_INT_MAX {
            return Err(err(
                format!("broker.\"{key}\""),
                format!("must be between 1 and {KAFKA_INT_MAX} ({v} given)"),
            ));
        }
    }
    Ok(())
}

fn times(s: &Scenario) -> Result<(), ScenarioError> {
    for (i, p) in s.producers.iter().enumerate() {
        time(format!("producers[{i}].start_ms"), p.start_ms)?;
        time(format!("producers[{i}].interval_ms"), p.interval_ms)?;
        let end = producer_end(p, record_count(p)).unwrap_or(u64::MAX);
        time(format!("producers[{i}].interval_ms"), end).map_err(|e| {
            err(
                e.path,
                format!(
                    "start_ms + interval_ms × {} records ends past {MAX_TIME_MS} ms of virtual time",
                    record_count(p)
                ),
            )
        })?;
    }
    for (i, c) in s.consumers.iter().enumerate() {
        time(format!("consumers[{i}].start_ms"), c.start_ms)?;
        if let Some(close) = c.close_ms {
            time(format!("consumers[{i}].close_ms"), close)?;
        }
        time(format!("consumers[{i}].processing_ms"), c.processing_ms)?;
    }
    for (i, f) in s.faults.iter().enumerate() {
        let fields = [
            ("at_ms", f.at_ms),
            ("between_ms", f.between_ms.map(|w| w[0].max(w[1]))),
            ("duration_ms", f.duration_ms),
            ("restart_after_ms", f.restart_after_ms),
        ];
        for (field, v) in fields {
            if let Some(v) = v {
                time(format!("faults[{i}].{field}"), v)?;
            }
        }
        if fault_end(f).is_none_or(|end| end > MAX_TIME_MS) {
            return Err(err(
                format!("faults[{i}]"),
                format!("the fault ends past {MAX_TIME_MS} ms of virtual time"),
            ));
        }
    }
    if let Some(at) = s.stop.at_ms {
        time("stop.at_ms", at)?;
        let first = s
            .producers
            .iter()
            .map(|p| p.start_ms)
            .chain(s.consumers.iter().map(|c| c.start_ms))
            .min();
        if let Some(first) = first.filter(|first| at <= *first) {
            let when = if at < first { "before" } else { "as" };
            return Err(err(
                "stop.at_ms",
                format!("the run stops at {at} ms, {when} the first process starts (at {first} ms): nothing would run"),
            ));
        }
    }
    network(s)
}

fn network(s: &Scenario) -> Result<(), ScenarioError> {
    let n = &s.network;
    for (field, v) in [("latency_us", n.latency_us), ("jitter_us", n.jitter_us)] {
        if v > MAX_TIME_MS {
            return Err(err(
                format!("network.{field}"),
                format!("at most {MAX_TIME_MS} µs ({v} given)"),
            ));
        }
    }
    Ok(())
}

/// Why a run gave no result: the scenario cannot run, or the run hit a bound of
/// [`sim::Limits`] (virtual time stopped advancing, or the event budget ran out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The scenario failed [`Scenario::validate`].
    Scenario(ScenarioError),
    /// The run was ended by its limits.
    Stuck(sim::Stuck),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Scenario(e) => e.fmt(f),
            RunError::Stuck(s) => s.fmt(f),
        }
    }
}

impl std::error::Error for RunError {}

impl From<ScenarioError> for RunError {
    fn from(e: ScenarioError) -> Self {
        RunError::Scenario(e)
    }
}

impl From<sim::Stuck> for RunError {
    fn from(s: sim::Stuck) -> Self {
        RunError::Stuck(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_names() {
        assert!(name("x", "topic name", "demo2_group-1.a").is_ok());
        assert!(name("x", "topic name", "ünïcödé").is_ok());
        for bad in ["a\u{0}b", "\u{1b}[31m", "x\u{fffe}", "tab\t", ""] {
            assert!(name("x", "topic name", bad).is_err(), "{bad:?}");
        }
        assert!(name("x", "topic name", &"a".repeat(250)).is_err());
    }

    #[test]
    fn derived_times_are_checked() {
        let p = ProducerSpec {
            start_ms: 1,
            interval_ms: 1 << 62,
            ..ProducerSpec::default()
        };
        assert_eq!(producer_end(&p, 4), None);
        assert_eq!(producer_end(&p, 1), Some((1 << 62) + 1));
        let f = FaultSpec {
            at_ms: Some(u64::MAX),
            duration_ms: Some(1),
            ..FaultSpec::default()
        };
        assert_eq!(fault_end(&f), None);
    }
}
