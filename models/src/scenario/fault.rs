//! A scenario's `[[faults]]`: what goes wrong (a client's or broker's crash, stall, close
//! or network cut; a broker's injected request error or delay — franz-go kfake's request
//! interception), to whom and when.

use crate::protocol::{ApiKey, ErrorCode};
use serde::{Deserialize, Serialize};

/// What goes wrong, and when. `at_ms` fixes the time; `between_ms = [a, b]` instead draws it
/// from the seed (uniformly, from the `faults` RNG stream), so a seed sweep explores fault
/// timings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// To which process: a consumer, or a broker (`broker-2`; the key `broker` works too).
    /// For `error` and `delay`: the broker, or empty for every broker.
    #[serde(alias = "broker", default)]
    pub client: String,
    /// When (virtual ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// Or: a window the time is drawn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between_ms: Option<[u64; 2]>,
    /// How long (stall, cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// For a crash or a close: restart this long after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after_ms: Option<u64>,
    /// For `error` and `delay`: the Kafka API whose requests it intercepts (`Produce`,
    /// `Fetch`, `OffsetCommit`, `JoinGroup`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiKey>,
    /// For `error`: the Kafka error answered (`NOT_COORDINATOR`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
    /// For `delay`: how long each request is held before the broker handles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `error` and `delay`: how many requests from `at_ms` on (default 1; or
    /// `duration_ms` for every request in a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// For `error` and `delay` on Produce, Fetch or ListOffsets: only requests naming this
    /// topic's `partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// With `topic`: the partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// For `error` and `delay` on a coordinator API (OffsetCommit, OffsetFetch,
    /// FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
    /// ConsumerGroupHeartbeat): only requests of this group — of every group whose
    /// `__consumer_offsets` partition it shares, as a rule on that partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl FaultSpec {
    /// The first field only `error` and `delay` faults take, if this one has it.
    pub(super) fn injection_field(&self) -> Option<&'static str> {
        [
            ("api", self.api.is_some()),
            ("error", self.error.is_some()),
            ("delay_ms", self.delay_ms.is_some()),
            ("count", self.count.is_some()),
            ("topic", self.topic.is_some()),
            ("partition", self.partition.is_some()),
            ("group", self.group.is_some()),
        ]
        .into_iter()
        .find_map(|(field, set)| set.then_some(field))
    }
}

/// Kinds of fault (the default: a crash).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    #[default]
    /// The process dies: no LeaveGroup, no commit; the group notices after
    /// `session.timeout.ms`. With `restart_after_ms`, a new process starts. A broker keeps
    /// its logs and loses what it held in memory.
    Crash,
    /// A consumer's application stops polling and processing for `duration_ms`; a broker's
    /// replica fetchers stop (the slow follower that falls out of the ISR).
    Stall,
    /// The network drops everything for `duration_ms` between a consumer and every broker,
    /// or between a broker and the other brokers and the controller (clients still reach it:
    /// a network partition).
    Cut,
    /// A clean close (commit, LeaveGroup). With `restart_after_ms`, a new process starts
    /// (a rolling restart).
    Close,
    /// A broker (or every broker, when `broker` is empty) answers requests of `api` with
    /// Kafka `error` instead of handling them — `count` of them from `at_ms`, or every one
    /// for `duration_ms` (librdkafka's `rd_kafka_mock_push_request_errors`).
    Error,
    /// Likewise, but each request is held `delay_ms` and then handled as usual.
    Delay,
}

impl FaultKind {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Stall => "stall",
            FaultKind::Cut => "cut",
            FaultKind::Close => "close",
            FaultKind::Error => "error",
            FaultKind::Delay => "delay",
        }
    }
}
