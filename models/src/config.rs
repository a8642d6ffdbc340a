//! Client configuration under Kafka's own key names, with per-client-profile defaults.
//!
//! A [`Profile`] is the client library a process uses; it decides the defaults a user of that
//! library gets without setting anything:
//!
//! | | kafka-python 3.0 | Java 3.x/4.x | librdkafka 2.12 |
//! |---|---|---|---|
//! | consumer `client.id` | `kafka-python-3.0.12` | `consumer-<group>-1` | `rdkafka` |
//! | producer `client.id` | `kafka-python-producer-1` | `producer-1` | `rdkafka` |
//! | keyed partitioner | murmur2 | murmur2 | CRC32 (`consistent_random`) |
//! | null key | random partition per record | uniform sticky (KIP-794) | sticky, re-drawn every `sticky.partitioning.linger.ms` (10 ms) |
//! | `partition.assignment.strategy` | range, roundrobin | range, cooperative-sticky | range, roundrobin |
//! | `request.timeout.ms` | 305000 | 30000 | 60000 (`socket.timeout.ms`) |
//! | auto-commit runs | inside `poll()` | inside `poll()` | on a timer, offsets of records handed out |
//! | `session.timeout.ms` | 45000 | 45000 | 45000 |
//! | `heartbeat.interval.ms` | 3000 | 3000 | 3000 |
//! | `max.poll.interval.ms` | 300000 | 300000 | 300000 |
//! | `auto.offset.reset` | latest | latest | latest (`largest`) |
//! | `enable.auto.commit`, interval | true, 5000 | true, 5000 | true, 5000 |
//! | `fetch.max.wait.ms` | 500 | 500 | 500 |
//!
//! With the Java default list `[range, cooperative-sticky]` a group elects `range` (every
//! member votes for its first choice) and rebalances eagerly: a consumer is cooperative only
//! when every assignor in its list supports the cooperative protocol (KIP-429).

use crate::assignor::AssignorKind;
use crate::protocol::OffsetSpec;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The client library a process uses.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// kafka-python 3.0.x — the client of the seed demos.
    #[default]
    KafkaPython,
    /// The Apache Kafka Java client.
    Java,
    /// librdkafka (and everything built on it: confluent-kafka, rdkafka, …).
    Librdkafka,
}

impl Profile {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Profile::KafkaPython => "kafka-python",
            Profile::Java => "java",
            Profile::Librdkafka => "librdkafka",
        }
    }
}

/// A configuration value as written in a scenario file: a boolean, an integer or a string
/// (anything else is refused in those words).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConfigValueVisitor)
    }
}

struct ConfigValueVisitor;

impl<'de> serde::de::Visitor<'de> for ConfigValueVisitor {
    type Value = ConfigValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, an integer or a string")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfigValue, E> {
        i64::try_from(v)
            .map(ConfigValue::Int)
            .map_err(|_| E::custom(format!("{v} is larger than any Kafka setting allows")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ConfigValue, E> {
        Err(E::custom(format!(
            "{v} is not a whole number: Kafka's numeric settings are integers (milliseconds, bytes, counts)"
        )))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Str(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Str(v))
    }
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<bool> for ConfigValue {
    fn from(v: bool) -> Self {
        ConfigValue::Bool(v)
    }
}

impl From<i64> for ConfigValue {
    fn from(v: i64) -> Self {
        ConfigValue::Int(v)
    }
}

impl From<i32> for ConfigValue {
    fn from(v: i32) -> Self {
        ConfigValue::Int(v.into())
    }
}

impl From<u32> for ConfigValue {
    fn from(v: u32) -> Self {
        ConfigValue::Int(v.into())
    }
}

impl From<u64> for ConfigValue {
    /// Values beyond `i64::MAX` saturate.
    fn from(v: u64) -> Self {
        ConfigValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for ConfigValue {
    fn from(v: &str) -> Self {
        ConfigValue::Str(v.into())
    }
}

impl From<String> for ConfigValue {
    fn from(v: String) -> Self {
        ConfigValue::Str(v)
    }
}

fn as_ms(v: &ConfigValue) -> Result<u64, String> {
    match v {
        ConfigValue::Int(i) if *i >= 0 => Ok(*i as u64),
        ConfigValue::Str(s) => s.parse().map_err(|_| format!("expected milliseconds, got {v}")),
        _ => Err(format!("expected a non-negative integer, got {v}")),
    }
}

/// Any virtual time a scenario names or implies, and any millisecond setting, in ms (10^10
/// ms: about 116 days; [`crate::scenario::limits`] keeps a scenario within it).
pub const MAX_TIME_MS: u64 = 10_000_000_000;
/// The largest value of Kafka's `INT` config type.
pub const KAFKA_INT_MAX: u64 = i32::MAX as u64;
/// Length of a name (topic, process, group, `client.id`), in bytes.
pub const MAX_NAME_LEN: usize = 249;

/// Not a control character and not a noncharacter (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF), so
/// that every output — the timeline's XML included — can hold it as it is.
pub fn printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control() || (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE)
}

/// A name (`what`: "topic name", "process name" …): not empty, printable characters only,
/// at most [`MAX_NAME_LEN`] bytes.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("a {what} cannot be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a {what} has at most {MAX_NAME_LEN} bytes ({} given)",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| !printable(*c)) {
        return Err(format!("a {what} has printable characters only, not {c:?}"));
    }
    Ok(())
}

/// A setting of Kafka's `INT` type with its `atLeast(min)` (or the simulator's, where a
/// zero would spin a timer): `min..=2147483647`.
fn int(v: &ConfigValue, min: u64) -> Result<u64, String> {
    let n = as_ms(v)?;
    if n < min || n > KAFKA_INT_MAX {
        return Err(format!("must be between {min} and {} ({v} given)", KAFKA_INT_MAX));
    }
    Ok(n)
}

/// A setting of Kafka's `LONG` type in milliseconds, within the simulator's virtual time.
fn long_ms(v: &ConfigValue, min: u64) -> Result<u64, String> {
    let n = as_ms(v)?;
    if n < min || n > MAX_TIME_MS {
        return Err(format!(
            "must be between {min} and {} ms ({v} given)",
            MAX_TIME_MS
        ));
    }
    Ok(n)
}

/// A name the client sends (`client.id`, `group.instance.id`): printable characters.
fn as_name(v: &ConfigValue) -> Result<&str, String> {
    let s = as_str(v)?;
    check_name("name", s)?;
    Ok(s)
}

fn as_bool(v: &ConfigValue) -> Result<bool, String> {
    match v {
        ConfigValue::Bool(b) => Ok(*b),
        ConfigValue::Str(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(format!("expected true or false, got {v}")),
    }
}

fn as_str(v: &ConfigValue) -> Result<&str, String> {
    match v {
        ConfigValue::Str(s) => Ok(s),
        _ => Err(format!("expected a string, got {v}")),
    }
}

/// A consumer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerConfig {
    /// `client.id`.
    pub client_id: Arc<str>,
    /// `group.id`.
    pub group_id: Arc<str>,
    /// `group.instance.id` (KIP-345 static membership).
    pub group_instance_id: Option<Arc<str>>,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetSpec,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms` (also the JoinGroup rebalance timeout).
    pub max_poll_interval_ms: u64,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait_ms: u64,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `partition.assignment.strategy`, most preferred first.
    pub assignors: Vec<AssignorKind>,
    /// `request.timeout.ms` (librdkafka: `socket.timeout.ms`): how long a request may go
    /// unanswered before the client gives up on it and retries.
    pub request_timeout_ms: u64,
    /// Which owned partitions the sticky assignors keep when this member leads the group.
    pub sticky_keeps: crate::assignor::StickyKeeps,
    /// `group.protocol`: `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848).
    pub group_protocol_consumer: bool,
    /// `group.remote.assignor` for the KIP-848 protocol (the broker's default: uniform).
    pub group_remote_assignor: Option<crate::assignor::ServerAssignor>,
    /// Whether auto-commit runs on a background timer and commits the offsets of records
    /// already handed to the application (librdkafka), rather than inside `poll()` with the
    /// positions of records the application has finished with (Java, kafka-python).
    pub auto_commit_on_timer: bool,
    /// Whether the subscription's topics are looked up only after the bootstrap (kafka-python:
    /// its bootstrap Metadata request names no topics, and `subscribe()`'s update waits out
    /// `retry_backoff_ms` since that refresh while the group join goes ahead, so a leader
    /// that joins first assigns from metadata without the topics — nothing — and rejoins
    /// when they arrive). Java and librdkafka ask for the topics before they join.
    pub topics_after_bootstrap: bool,
    /// `isolation.level` (`read_uncommitted`; `read_committed`: KIP-98). librdkafka's default
    /// is `read_committed`, the others' `read_uncommitted`.
    pub isolation_level: crate::protocol::IsolationLevel,
    /// How long a classic `JoinGroup` may go unanswered.
    pub join_timeout: JoinTimeout,
}

/// How long a consumer waits for a classic `JoinGroup`'s answer, which the coordinator holds
/// until the rebalance completes (up to the rebalance timeout, `max.poll.interval.ms`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JoinTimeout {
    /// `max(request.timeout.ms, max.poll.interval.ms + grace)`: Java's
    /// `AbstractCoordinator` (`JOIN_GROUP_TIMEOUT_LAPSE` = 5000) and kafka-python 3.0's
    /// `BaseCoordinator`, the same rule.
    AtLeastRequest {
        /// Added to the rebalance timeout (5000).
        grace_ms: u64,
    },
    /// `max.poll.interval.ms + grace`, whatever `socket.timeout.ms` says: librdkafka's
    /// `rd_kafka_JoinGroupRequest` (3000).
    Rebalance {
        /// Added to the rebalance timeout (3000).
        grace_ms: u64,
    },
}

impl ConsumerConfig {
    /// The defaults of `profile` for a member of `group`.
    pub fn defaults(profile: Profile, group: &str) -> ConsumerConfig {
        let client_id: Arc<str> = match profile {
            Profile::KafkaPython => "kafka-python-3.0.12".into(),
            Profile::Java => format!("consumer-{group}-1").into(),
            Profile::Librdkafka => "rdkafka".into(),
        };
        ConsumerConfig {
            client_id,
            group_id: group.into(),
            group_instance_id: None,
            auto_offset_reset: OffsetSpec::Latest,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            fetch_max_wait_ms: 500,
            max_poll_records: match profile {
                Profile::Librdkafka => 10_000,
                _ => 500,
            },
            assignors: match profile {
                Profile::Java => vec![AssignorKind::Range, AssignorKind::CooperativeSticky],
                _ => vec![AssignorKind::Range, AssignorKind::Roundrobin],
            },
            // kafka-python 3.0 lowered its 305000 to Java's 30000 (its DEFAULT_CONFIG)
            request_timeout_ms: match profile {
                Profile::KafkaPython | Profile::Java => 30_000,
                Profile::Librdkafka => 60_000,
            },
            auto_commit_on_timer: profile == Profile::Librdkafka,
            topics_after_bootstrap: profile == Profile::KafkaPython,
            sticky_keeps: match profile {
                Profile::Librdkafka => crate::assignor::StickyKeeps::Highest,
                _ => crate::assignor::StickyKeeps::Lowest,
            },
            group_protocol_consumer: false,
            group_remote_assignor: None,
            isolation_level: match profile {
                Profile::Librdkafka => crate::protocol::IsolationLevel::ReadCommitted,
                _ => crate::protocol::IsolationLevel::ReadUncommitted,
            },
            join_timeout: match profile {
                Profile::Librdkafka => JoinTimeout::Rebalance { grace_ms: 3_000 },
                _ => JoinTimeout::AtLeastRequest { grace_ms: 5_000 },
            },
        }
    }

    /// How long a `JoinGroup` may go unanswered ([`JoinTimeout`]); a KIP-848
    /// `ConsumerGroupHeartbeat`, which takes its place, is under `request.timeout.ms`.
    pub fn join_timeout_ms(&self) -> u64 {
        if self.group_protocol_consumer {
            return self.request_timeout_ms;
        }
        match self.join_timeout {
            JoinTimeout::AtLeastRequest { grace_ms } => self
                .request_timeout_ms
                .max(self.max_poll_interval_ms.saturating_add(grace_ms)),
            JoinTimeout::Rebalance { grace_ms } => self.max_poll_interval_ms.saturating_add(grace_ms),
        }
    }

    /// Every key [`ConsumerConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "client.id",
        "group.instance.id",
        "auto.offset.reset",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "fetch.max.wait.ms",
        "max.poll.records",
        "partition.assignment.strategy",
        "request.timeout.ms",
        "group.protocol",
        "group.remote.assignor",
        "isolation.level",
    ];

    /// Sets `key` (a Kafka consumer config name) to `value`.
    pub fn set(&mut self, key: &str, value: &ConfigValue) -> Result<(), String> {
        match key {
            "client.id" => self.client_id = as_name(value)?.into(),
            "group.instance.id" => self.group_instance_id = Some(as_name(value)?.into()),
            "auto.offset.reset" => {
                self.auto_offset_reset = match as_str(value)? {
                    "earliest" | "smallest" | "beginning" => OffsetSpec::Earliest,
                    "latest" | "largest" | "end" => OffsetSpec::Latest,
                    other => return Err(format!("unsupported value {other:?} (earliest or latest)")),
                }
            }
            "enable.auto.commit" => self.enable_auto_commit = as_bool(value)?,
            // Kafka: INT atLeast(0); the simulator's timer needs 1 ms
            "auto.commit.interval.ms" => self.auto_commit_interval_ms = int(value, 1)?,
            // Kafka: INT, no validator; the simulator's heartbeat timer needs 1 ms
            "session.timeout.ms" => self.session_timeout_ms = int(value, 1)?,
            "heartbeat.interval.ms" => self.heartbeat_interval_ms = int(value, 1)?,
            // Kafka: INT atLeast(1)
            "max.poll.interval.ms" => self.max_poll_interval_ms = int(value, 1)?,
            // Kafka: INT atLeast(0)
            "fetch.max.wait.ms" => self.fetch_max_wait_ms = int(value, 0)?,
            // Kafka: INT atLeast(1); the value is at most 2^31 - 1, so it fits a usize
            "max.poll.records" => self.max_poll_records = int(value, 1)? as usize,
            // Kafka: INT atLeast(0); the simulator's watchdog needs 1 ms
            "request.timeout.ms" | "socket.timeout.ms" => self.request_timeout_ms = int(value, 1)?,
            "group.protocol" => {
                self.group_protocol_consumer = match as_str(value)? {
                    "classic" => false,
                    "consumer" => true,
                    other => return Err(format!("unknown group.protocol {other:?} (classic or consumer)")),
                }
            }
            "isolation.level" => {
                use crate::protocol::IsolationLevel;
                self.isolation_level = match as_str(value)? {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    other => {
                        return Err(format!(
                            "unknown isolation.level {other:?} (read_uncommitted or read_committed)"
                        ))
                    }
                }
            }
            "group.remote.assignor" => {
                let name = as_str(value)?;
                self.group_remote_assignor =
                    Some(crate::assignor::ServerAssignor::parse(name).ok_or_else(|| {
                        format!("unknown group.remote.assignor {name:?} (uniform or range)")
                    })?);
            }
            "partition.assignment.strategy" => {
                let names = as_str(value)?;
                let mut list = Vec::new();
                for name in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    list.push(AssignorKind::parse(name).ok_or_else(|| {
                                                format!(
                            "unsupported assignor {name:?} (supported: range, roundrobin, sticky, cooperative-sticky)"
                        )
                    })?);
                }
                if list.is_empty() {
                    return Err("no assignor given".into());
                }
                self.assignors = list;
            }
            _ => {
                return Err(format!(
                    "unknown consumer setting (known: {})",
                    Self::KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Checks the settings that depend on each other, once every key is set (so the order
    /// keys are given in does not matter): `heartbeat.interval.ms` must be lower than
    /// `session.timeout.ms`, as the Java client requires.
    pub fn finish(&self) -> Result<(), String> {
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err("heartbeat.interval.ms must be lower than session.timeout.ms".into());
        }
        Ok(())
    }
}
mod producer;
pub use producer::{NullKeyStrategy, ProducerConfig};

#[cfg(test)]
mod tests;
