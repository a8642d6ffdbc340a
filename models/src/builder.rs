//! Scenarios put together in Rust, without a file: the same [`Scenario`] a TOML file gives,
//! with the same defaults (the spec structs' `Default`), checked by the same
//! [`Scenario::validate`].
//!
//! ```
//! use kafka_sim_models::scenario::{CommitPolicy, Scenario};
//!
//! let s = Scenario::builder("orders")
//!     .topic("orders", 3)
//!     .producer("writer", "orders", |p| {
//!         p.generate(1000, Some("key-{i}"), "value-{i}").interval_ms(5)
//!     })
//!     .consumer("c1", "g", &["orders"], |c| {
//!         c.commit(CommitPolicy::AfterBatch)
//!             .config("auto.offset.reset", "earliest")
//!     })
//!     .crash("c1", 5_000, Some(2_000))
//!     .build()
//!     .unwrap();
//! assert_eq!(s.topics[0].partitions, 3);
//! ```

use crate::config::{ConfigValue, Profile};
use crate::scenario::{
    BrokerSpec, CommitPolicy, ConsumerSpec, FaultKind, FaultSpec, GenerateSpec, MessageSpec, ProducerSpec,
    Scenario, ScenarioError, TopicSpec,
};
use std::collections::BTreeMap;

impl Default for GenerateSpec {
    /// No records, null keys, values `value-{i}` (a file's defaults).
    fn default() -> Self {
        GenerateSpec {
            count: 0,
            key: None,
            value: crate::scenario::default_value(),
        }
    }
}

impl Default for TopicSpec {
    fn default() -> Self {
        TopicSpec {
            name: String::new(),
            partitions: 1,
            replication_factor: None,
            config: BTreeMap::new(),
        }
    }
}

impl Scenario {
    /// A builder for a scenario called `name`; see [`ScenarioBuilder`].
    pub fn builder(name: impl Into<String>) -> ScenarioBuilder {
        ScenarioBuilder {
            scenario: Scenario {
                name: Some(name.into()),
                ..Scenario::default()
            },
        }
    }
}

/// Builds a [`Scenario`] step by step; [`ScenarioBuilder::build`] validates it. Everything
/// not set keeps a scenario file's default.
#[derive(Clone, Debug)]
#[must_use]
pub struct ScenarioBuilder {
    scenario: Scenario,
}

impl ScenarioBuilder {
    /// One sentence saying what it shows.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.scenario.description = Some(text.into());
        self
    }

    /// The number of brokers (default 1).
    pub fn brokers(mut self, n: u32) -> Self {
        self.scenario.cluster.brokers = n;
        self
    }

    /// Changes broker settings (`[broker]` in a file).
    pub fn broker(mut self, f: impl FnOnce(&mut BrokerSpec)) -> Self {
        f(&mut self.scenario.broker);
        self
    }

    /// The network's one-way latency and jitter, µs (default 500 and 500).
    pub fn network(mut self, latency_us: u64, jitter_us: u64) -> Self {
        self.scenario.network.latency_us = latency_us;
        self.scenario.network.jitter_us = jitter_us;
        self
    }

    /// A topic with `partitions` partitions and default settings.
    pub fn topic(self, name: impl Into<String>, partitions: u32) -> Self {
        self.topic_with(name, partitions, |t| t)
    }

    /// A topic, with replication factor or settings set by `f`.
    pub fn topic_with(
        mut self,
        name: impl Into<String>,
        partitions: u32,
        f: impl FnOnce(TopicBuilder) -> TopicBuilder,
    ) -> Self {
        let t = TopicBuilder(TopicSpec {
            name: name.into(),
            partitions,
            ..TopicSpec::default()
        });
        self.scenario.topics.push(f(t).0);
        self
    }

    /// A producer process writing `topic`, configured by `f` (give it records with
    /// [`ProducerBuilder::message`] or [`ProducerBuilder::generate`]).
    pub fn producer(
        mut self,
        name: impl Into<String>,
        topic: impl Into<String>,
        f: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
    ) -> Self {
        let p = ProducerBuilder(ProducerSpec {
            name: name.into(),
            topic: topic.into(),
            ..ProducerSpec::default()
        });
        self.scenario.producers.push(f(p).0);
        self
    }

    /// A consumer process in `group` (`""`: no group, kafka-python's `group_id=None`),
    /// subscribed to `topics`, configured by `f`.
    pub fn consumer(
        mut self,
        name: impl Into<String>,
        group: impl Into<String>,
        topics: &[&str],
        f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder,
    ) -> Self {
        let c = ConsumerBuilder(ConsumerSpec {
            name: name.into(),
            group: group.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            ..ConsumerSpec::default()
        });
        self.scenario.consumers.push(f(c).0);
        self
    }

    /// Any fault, as a file writes it (e.g. with `between_ms`, a time drawn from the seed).
    pub fn fault(mut self, fault: FaultSpec) -> Self {
        self.scenario.faults.push(fault);
        self
    }

    /// `client` (a consumer or a broker) crashes at `at_ms`, and restarts after
    /// `restart_after_ms` if given.
    pub fn crash(self, client: impl Into<String>, at_ms: u64, restart_after_ms: Option<u64>) -> Self {
        self.fault(FaultSpec {
            restart_after_ms,
            ..at(FaultKind::Crash, client, at_ms)
        })
    }

    /// `client` stalls at `at_ms` for `duration_ms` (a consumer stops polling; a broker's
    /// replica fetchers stop).
    pub fn stall(self, client: impl Into<String>, at_ms: u64, duration_ms: u64) -> Self {
        self.fault(FaultSpec {
            duration_ms: Some(duration_ms),
            ..at(FaultKind::Stall, client, at_ms)
        })
    }

    /// The network around `client` drops everything at `at_ms` for `duration_ms`.
    pub fn cut(self, client: impl Into<String>, at_ms: u64, duration_ms: u64) -> Self {
        self.fault(FaultSpec {
            duration_ms: Some(duration_ms),
            ..at(FaultKind::Cut, client, at_ms)
        })
    }

    /// Consumer `client` closes cleanly at `at_ms`.
    pub fn close(self, client: impl Into<String>, at_ms: u64) -> Self {
        self.fault(at(FaultKind::Close, client, at_ms))
    }

    /// The run stops at `at_ms` (default: 30 s after the last start, close or fault).
    pub fn stop_at_ms(mut self, at_ms: u64) -> Self {
        self.scenario.stop.at_ms = Some(at_ms);
        self
    }

    /// The scenario, checked as a scenario file is.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        self.scenario.validate()?;
        Ok(self.scenario)
    }
}

fn at(kind: FaultKind, client: impl Into<String>, at_ms: u64) -> FaultSpec {
    FaultSpec {
        kind,
        client: client.into(),
        at_ms: Some(at_ms),
        ..FaultSpec::default()
    }
}

/// Sets up a topic in [`ScenarioBuilder::topic_with`].
#[derive(Clone, Debug)]
#[must_use]
pub struct TopicBuilder(pub TopicSpec);

impl TopicBuilder {
    /// Replicas per partition (default: the broker's `default.replication.factor`).
    pub fn replication_factor(mut self, n: u32) -> Self {
        self.0.replication_factor = Some(n);
        self
    }

    /// A topic setting under Kafka's name (`min.insync.replicas`, `retention.ms`, …).
    pub fn config(mut self, key: &str, value: impl Into<ConfigValue>) -> Self {
        self.0.config.insert(key.into(), value.into());
        self
    }
}

/// Sets up a producer in [`ScenarioBuilder::producer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ProducerBuilder(pub ProducerSpec);

impl ProducerBuilder {
    /// The client library (default kafka-python).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.0.profile = profile;
        self
    }

    /// Start time, virtual ms (default 0).
    pub fn start_ms(mut self, ms: u64) -> Self {
        self.0.start_ms = ms;
        self
    }

    /// Time between two sends, virtual ms (default 0).
    pub fn interval_ms(mut self, ms: u64) -> Self {
        self.0.interval_ms = ms;
        self
    }

    /// One more record to send (`None`: a null key or value).
    pub fn message(self, key: Option<&str>, value: Option<&str>) -> Self {
        self.message_spec(MessageSpec {
            key: key.map(str::to_string),
            value: value.map(str::to_string),
            partition: None,
        })
    }

    /// One more record, as a file writes it (e.g. with an explicit partition).
    pub fn message_spec(mut self, m: MessageSpec) -> Self {
        self.0.messages.push(m);
        self
    }

    /// `count` generated records instead: `{i}` in `key` and `value` is the record number.
    pub fn generate(mut self, count: u32, key: Option<&str>, value: &str) -> Self {
        self.0.generate = Some(GenerateSpec {
            count,
            key: key.map(str::to_string),
            value: value.to_string(),
        });
        self
    }

    /// A producer setting under Kafka's name (`acks`, `enable.idempotence`, …).
    pub fn config(mut self, key: &str, value: impl Into<ConfigValue>) -> Self {
        self.0.config.insert(key.into(), value.into());
        self
    }
}

/// Sets up a consumer in [`ScenarioBuilder::consumer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ConsumerBuilder(pub ConsumerSpec);

impl ConsumerBuilder {
    /// The client library (default kafka-python).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.0.profile = profile;
        self
    }

    /// Start time, virtual ms (default 0).
    pub fn start_ms(mut self, ms: u64) -> Self {
        self.0.start_ms = ms;
        self
    }

    /// A clean close (final commit, LeaveGroup) at `ms`.
    pub fn close_ms(mut self, ms: u64) -> Self {
        self.0.close_ms = Some(ms);
        self
    }

    /// When the application commits (default: auto-commit).
    pub fn commit(mut self, policy: CommitPolicy) -> Self {
        self.0.commit = policy;
        self
    }

    /// Processing time per record, virtual ms (default 0).
    pub fn processing_ms(mut self, ms: u64) -> Self {
        self.0.processing_ms = ms;
        self
    }

    /// A consumer setting under Kafka's name (`session.timeout.ms`, `auto.offset.reset`, …).
    pub fn config(mut self, key: &str, value: impl Into<ConfigValue>) -> Self {
        self.0.config.insert(key.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_files_defaults() {
        let s = Scenario::builder("t").topic("t", 2).build();
        let s = s.unwrap();
        assert_eq!(s.name.as_deref(), Some("t"));
        assert_eq!(s.broker, BrokerSpec::default());
        assert_eq!(s.cluster.brokers, 1);
        assert_eq!(s.topics[0].replication_factor, None);
        let from_json: Scenario =
            serde_json::from_str(r#"{"name":"t","topics":[{"name":"t","partitions":2}]}"#).unwrap();
        assert_eq!(s, from_json);
        let p: ProducerSpec = serde_json::from_str(r#"{"name":"p","topic":"t"}"#).unwrap();
        let want = ProducerSpec {
            name: "p".into(),
            topic: "t".into(),
            ..ProducerSpec::default()
        };
        assert_eq!(p, want);
        let c: ConsumerSpec = serde_json::from_str(r#"{"name":"c","group":"g","topics":[]}"#).unwrap();
        let want = ConsumerSpec {
            name: "c".into(),
            group: "g".into(),
            ..ConsumerSpec::default()
        };
        assert_eq!(c, want);
        let g: GenerateSpec = serde_json::from_str(r#"{"count":0}"#).unwrap();
        assert_eq!(g, GenerateSpec::default());
        let f: FaultSpec = serde_json::from_str(r#"{"kind":"crash","client":""}"#).unwrap();
        assert_eq!(f, FaultSpec::default());
        let t: TopicSpec = serde_json::from_str(r#"{"name":"","partitions":1}"#).unwrap();
        assert_eq!(t, TopicSpec::default());
    }

    #[test]
    fn every_step_lands_in_its_field() {
        let s = Scenario::builder("all")
            .description("d")
            .brokers(3)
            .broker(|b| b.min_insync_replicas = 2)
            .network(100, 0)
            .topic_with("t", 4, |t| t.replication_factor(3).config("retention.ms", 60_000))
            .producer("p", "t", |p| {
                p.profile(Profile::Java)
                    .start_ms(1)
                    .message(Some("k"), None)
                    .config("acks", "all")
            })
            .consumer("c", "g", &["t"], |c| {
                c.profile(Profile::Librdkafka)
                    .start_ms(2)
                    .close_ms(90_000)
                    .processing_ms(3)
                    .config("enable.auto.commit", false)
            })
            .stall("c", 10, 5)
            .cut("broker-2", 20, 5)
            .close("c", 80_000)
            .stop_at_ms(100_000)
            .build()
            .unwrap();
        assert_eq!(s.cluster.brokers, 3);
        assert_eq!(s.broker.min_insync_replicas, 2);
        assert_eq!((s.network.latency_us, s.network.jitter_us), (100, 0));
        assert_eq!(s.topics[0].config["retention.ms"], ConfigValue::Int(60_000));
        assert_eq!(s.producers[0].messages[0].key.as_deref(), Some("k"));
        assert_eq!(s.producers[0].messages[0].value, None);
        let c = &s.consumers[0];
        assert_eq!((c.start_ms, c.close_ms, c.processing_ms), (2, Some(90_000), 3));
        assert_eq!(
            c.config,
            BTreeMap::from([("enable.auto.commit".to_string(), ConfigValue::Bool(false))])
        );
        let kinds: Vec<FaultKind> = s.faults.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![FaultKind::Stall, FaultKind::Cut, FaultKind::Close]);
        assert_eq!(s.faults[1].duration_ms, Some(5));
        assert_eq!(s.stop_ms(), 100_000);
    }

    #[test]
    fn build_validates_like_a_file() {
        let e = Scenario::builder("bad")
            .topic("t", 1)
            .consumer("c", "g", &["nope"], |c| c)
            .build()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "consumers[0].topics[0]: topic \"nope\" does not exist"
        );
        let e = Scenario::builder("bad")
            .topic("t", 1)
            .consumer("c", "g", &["t"], |c| c)
            .crash("p", 1, None)
            .build()
            .unwrap_err();
        assert_eq!(e.path, "faults[0].client");
    }
}
