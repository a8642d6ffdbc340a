//! The producer's settings: each profile's defaults, read from the client's source, and the
//! Kafka names that override them.

use super::{as_bool, as_ms, as_name, as_str, int, long_ms, ConfigValue, Profile};
use crate::partitioner::KeyHash;
use std::sync::Arc;

/// Where a producer sends records without a key.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NullKeyStrategy {
    /// A uniformly random partition per record (kafka-python; librdkafka `random`).
    RandomPerRecord,
    /// Java ≥ 3.3 uniform sticky (KIP-794): one partition until `batch.size` bytes went to
    /// it, then a new random one. (Adaptive weighting toward faster brokers is not modelled:
    /// on one broker every queue drains alike.)
    UniformSticky {
        /// `batch.size`.
        batch_size: usize,
    },
    /// librdkafka sticky partitioning: one random partition, re-drawn every
    /// `sticky.partitioning.linger.ms`.
    StickyLinger {
        /// `sticky.partitioning.linger.ms`.
        linger_ms: u64,
    },
}

/// A producer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerConfig {
    /// `client.id`.
    pub client_id: Arc<str>,
    /// The keyed partitioner.
    pub key_hash: KeyHash,
    /// What null keys do.
    pub null_key: NullKeyStrategy,
    /// `acks`.
    pub acks: crate::protocol::Acks,
    /// `enable.idempotence`.
    pub idempotence: bool,
    /// Whether `enable.idempotence` was set explicitly (then a conflict is an error, as in
    /// Java; otherwise idempotence is quietly turned off).
    pub idempotence_explicit: bool,
    /// `retries` (`message.send.max.retries` in librdkafka).
    pub retries: u32,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (KIP-580: the backoff doubles per retry up to it, ±20 % jitter).
    pub retry_backoff_max_ms: u64,
    /// `delivery.timeout.ms` (librdkafka: `message.timeout.ms`).
    pub delivery_timeout_ms: u64,
    /// `max.in.flight.requests.per.connection` (5; librdkafka 1000000, and 5 when idempotent).
    pub max_in_flight: u32,
    /// `transactional.id` (KIP-98): a transactional producer (none by default).
    pub transactional_id: Option<Arc<str>>,
    /// `transaction.timeout.ms` (60000).
    pub transaction_timeout_ms: u64,
    /// `linger.ms` (librdkafka `queue.buffering.max.ms`): how long a batch that is not full
    /// waits for more records before it is ready.
    pub linger_ms: u64,
    /// `batch.size`: a batch is full once its estimated size reaches it (bytes, the
    /// record-batch v2 estimate of [`crate::types::Payload::size_estimate`] summed over its
    /// records plus the 61-byte batch header; see `producer::accumulator`).
    pub batch_size: usize,
    /// librdkafka `batch.num.messages`: at most this many records in a batch (the Java and
    /// kafka-python clients have no such limit: `u32::MAX`).
    pub batch_num_messages: u32,
    /// `max.request.size` (1048576): the batches of one Produce request stay below it (the
    /// first batch always goes).
    pub max_request_size: usize,
    /// kafka-python's sender: a partition is muted while a batch of it is in flight when
    /// `guarantee_message_order` (idempotence, or one request in flight per connection:
    /// `KafkaProducer.__init__`), and its sender thread races the application (the rule:
    /// `producer`'s module doc).
    pub python_sender: bool,
    /// Whether a retry's backoff is jittered by ±20 % (KIP-580: Java, librdkafka); kafka-python
    /// 3.0's accumulator waits exactly `retry_backoff_ms` (`RecordAccumulator.ready`).
    pub retry_jitter: bool,
}

impl ProducerConfig {
    /// The defaults of `profile`.
    pub fn defaults(profile: Profile) -> ProducerConfig {
        match profile {
            // kafka-python ≥ 2.1 and Java ≥ 3.0 (KIP-679): acks=all, idempotent, retries
            // without end within delivery.timeout.ms
            //
            // Batching, kafka-python 3.0.12 `KafkaProducer.DEFAULT_CONFIG` (kafka/producer/
            // kafka.py): linger_ms=0, batch_size=16384, max_request_size=1048576.
            //
            // Its accumulator backs a retried batch off by a constant retry_backoff_ms: no
            // retry.backoff.max.ms, so no doubling.
            Profile::KafkaPython => ProducerConfig {
                client_id: "kafka-python-producer-1".into(),
                key_hash: KeyHash::Murmur2,
                null_key: NullKeyStrategy::RandomPerRecord,
                retry_backoff_max_ms: 100,
                linger_ms: 0,
                python_sender: true,
                retry_jitter: false,
                ..Self::reliable()
            },
            // Batching, kafka-clients 4.4.0 `ProducerConfig` (javap of its static
            // initializer): linger.ms=5 (0 before Kafka 4.0), batch.size=16384,
            // max.request.size=1048576.
            Profile::Java => ProducerConfig {
                client_id: "producer-1".into(),
                key_hash: KeyHash::Murmur2,
                null_key: NullKeyStrategy::UniformSticky { batch_size: 16_384 },
                linger_ms: 5,
                ..Self::reliable()
            },
            // librdkafka 2.x: acks=all, enable.idempotence=false, message.timeout.ms=300000.
            // Batching, src/rdkafka_conf.c: queue.buffering.max.ms (alias linger.ms) 5.0,
            // batch.num.messages 10000, batch.size 1000000, message.max.bytes 1000000
            // (its cap on a request, used for max.request.size).
            Profile::Librdkafka => ProducerConfig {
                client_id: "rdkafka".into(),
                key_hash: KeyHash::Consistent,
                null_key: NullKeyStrategy::StickyLinger { linger_ms: 10 },
                idempotence: false,
                delivery_timeout_ms: 300_000,
                max_in_flight: 1_000_000,
                linger_ms: 5,
                batch_size: 1_000_000,
                batch_num_messages: 10_000,
                max_request_size: 1_000_000,
                ..Self::reliable()
            },
        }
    }

    fn reliable() -> ProducerConfig {
        ProducerConfig {
            client_id: "".into(),
            key_hash: KeyHash::Murmur2,
            null_key: NullKeyStrategy::RandomPerRecord,
            acks: crate::protocol::Acks::All,
            idempotence: true,
            idempotence_explicit: false,
            retries: u32::MAX,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            delivery_timeout_ms: 120_000,
            max_in_flight: 5,
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            linger_ms: 5,
            batch_size: 16_384,
            batch_num_messages: u32::MAX,
            max_request_size: 1_048_576,
            python_sender: false,
            retry_jitter: true,
        }
    }

    /// Whether the sender keeps at most one batch of a partition in flight: kafka-python's
    /// `guarantee_message_order`, and Java's `guaranteeMessageOrder`
    /// (`max.in.flight.requests.per.connection` = 1).
    pub fn mutes_partitions(&self) -> bool {
        self.max_in_flight == 1 || (self.python_sender && self.idempotence)
    }

    /// How the accumulator cuts batches.
    pub fn batching(&self) -> crate::producer::accumulator::Batching {
        crate::producer::accumulator::Batching {
            linger: sim::Time::ms(self.linger_ms),
            batch_size: self.batch_size,
            max_records: self.batch_num_messages,
        }
    }

    /// Resolves settings that depend on each other, as the Java client does: idempotence
    /// needs `acks=all` and `retries > 0`; set explicitly, a conflict is an error, otherwise
    /// idempotence is turned off.
    pub fn finish(&mut self) -> Result<(), String> {
        let conflict = self.acks != crate::protocol::Acks::All || self.retries == 0;
        if self.transactional_id.is_some() && (conflict || !self.idempotence) {
            // Java: "Cannot set a transactional.id without also enabling idempotence."
            return Err(
                "transactional.id needs idempotence: enable.idempotence=true, acks=all, retries > 0".into(),
            );
        }
        if self.idempotence && conflict {
            if self.idempotence_explicit {
                return Err("enable.idempotence=true needs acks=all and retries > 0".into());
            }
            self.idempotence = false;
        }
        if self.idempotence && self.max_in_flight > 5 {
            if self.idempotence_explicit {
                // librdkafka caps it for idempotence; Java refuses more than 5
                self.max_in_flight = 5;
            } else {
                self.idempotence = false;
            }
        }
        Ok(())
    }

    /// Every key [`ProducerConfig::set`] accepts.
    pub const KEYS: &'static [&'static str] = &[
        "client.id",
        "partitioner",
        "batch.size",
        "sticky.partitioning.linger.ms",
        "acks",
        "enable.idempotence",
        "retries",
        "request.timeout.ms",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "delivery.timeout.ms",
        "max.in.flight.requests.per.connection",
        "transactional.id",
        "transaction.timeout.ms",
        "linger.ms",
        "queue.buffering.max.ms",
        "batch.num.messages",
        "max.request.size",
    ];

    /// Sets `key` (a Kafka producer config name) to `value`. `partitioner` takes librdkafka's
    /// names: `murmur2_random`, `murmur2`, `consistent_random`, `consistent`, `fnv1a_random`,
    /// `fnv1a`, `random`; for the other profiles only the keyed hash changes.
    pub fn set(&mut self, key: &str, value: &ConfigValue) -> Result<(), String> {
        match key {
            "client.id" => self.client_id = as_name(value)?.into(),
            "partitioner" => {
                let name = as_str(value)?;
                let base = name.strip_suffix("_random").unwrap_or(name);
                if name == "random" {
                    self.null_key = NullKeyStrategy::RandomPerRecord;
                } else {
                    self.key_hash = KeyHash::parse(base).ok_or_else(|| {
                        format!(
                            "unknown partitioner {name:?} (murmur2_random, murmur2, consistent_random, consistent, fnv1a_random, fnv1a, random)"
                        )
                    })?;
                }
            }
            "batch.size" => {
                // Kafka: INT atLeast(0); a zero-byte batch would re-draw for every record
                let size = int(value, 1)? as usize;
                self.batch_size = size;
                if let NullKeyStrategy::UniformSticky { batch_size } = &mut self.null_key {
                    *batch_size = size;
                }
            }
            "sticky.partitioning.linger.ms" => {
                // librdkafka: 0 to 900000
                let ms = as_ms(value)?;
                if ms > 900_000 {
                    return Err(format!("must be between 0 and 900000 ({value} given)"));
                }
                if let NullKeyStrategy::StickyLinger { linger_ms } = &mut self.null_key {
                    *linger_ms = ms;
                }
            }
            "acks" | "request.required.acks" => {
                use crate::protocol::Acks;
                self.acks = match value {
                    ConfigValue::Int(0) => Acks::None,
                    ConfigValue::Int(1) => Acks::Leader,
                    ConfigValue::Int(-1) => Acks::All,
                    ConfigValue::Str(s) if s == "0" => Acks::None,
                    ConfigValue::Str(s) if s == "1" => Acks::Leader,
                    ConfigValue::Str(s) if s == "all" || s == "-1" => Acks::All,
                    _ => return Err(format!("acks must be 0, 1, all or -1, got {value}")),
                }
            }
            "enable.idempotence" => {
                self.idempotence = as_bool(value)?;
                self.idempotence_explicit = true;
            }
            "retries" | "message.send.max.retries" => {
                // Kafka: INT between(0, Integer.MAX_VALUE); at most 2^31 - 1, so it fits
                self.retries = int(value, 0)? as u32
            }
            // Kafka: INT atLeast(0); the simulator's watchdog needs 1 ms
            "request.timeout.ms" => self.request_timeout_ms = int(value, 1)?,
            // Kafka: LONG atLeast(0)
            "retry.backoff.ms" => self.retry_backoff_ms = long_ms(value, 0)?,
            "retry.backoff.max.ms" => self.retry_backoff_max_ms = long_ms(value, 0)?,
            // Kafka: INT atLeast(1); librdkafka allows up to 1000000
            "max.in.flight.requests.per.connection" | "max.in.flight" => {
                let n = as_ms(value)?;
                if n == 0 || n > 1_000_000 {
                    return Err(format!("must be between 1 and 1000000 ({value} given)"));
                }
                self.max_in_flight = n as u32
            }
            // Kafka: INT atLeast(0); the simulator needs 1 ms
            "delivery.timeout.ms" | "message.timeout.ms" => self.delivery_timeout_ms = int(value, 1)?,
            // Java: LONG atLeast(0); librdkafka: 0 to 900000 (the simulator's bound for both)
            "linger.ms" | "queue.buffering.max.ms" => {
                let ms = as_ms(value)?;
                if ms > 900_000 {
                    return Err(format!("must be between 0 and 900000 ({value} given)"));
                }
                self.linger_ms = ms;
            }
            // librdkafka: 1 to 1000000
            "batch.num.messages" => {
                let n = as_ms(value)?;
                if n == 0 || n > 1_000_000 {
                    return Err(format!("must be between 1 and 1000000 ({value} given)"));
                }
                self.batch_num_messages = n as u32;
            }
            // Kafka: INT atLeast(0); one byte at least, so that a request carries something
            "max.request.size" => self.max_request_size = int(value, 1)? as usize,
            "transactional.id" => self.transactional_id = Some(as_name(value)?.into()),
            // Kafka: INT; the coordinator refuses 0 and more than transaction.max.timeout.ms
            "transaction.timeout.ms" => self.transaction_timeout_ms = int(value, 1)?,
            _ => {
                return Err(format!(
                    "unknown producer setting (known: {})",
                    Self::KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }
}
