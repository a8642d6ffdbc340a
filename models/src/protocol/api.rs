//! Kafka's APIs (its API keys), as request-level fault rules name them, and which request
//! message belongs to which.

use super::Msg;

/// A Kafka API, as fault-injection rules name it (Kafka's API keys).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiKey {
    /// `Produce` (0).
    Produce,
    /// `Fetch` (1) from a consumer.
    Fetch,
    /// `ListOffsets` (2).
    ListOffsets,
    /// `Metadata` (3). Only delays: its answer has no error here.
    Metadata,
    /// `OffsetCommit` (8).
    OffsetCommit,
    /// `OffsetFetch` (9).
    OffsetFetch,
    /// `FindCoordinator` (10). An error answers "no coordinator" (the client retries).
    FindCoordinator,
    /// `JoinGroup` (11).
    JoinGroup,
    /// `Heartbeat` (12).
    Heartbeat,
    /// `LeaveGroup` (13). Only delays: the member leaves whatever the answer.
    LeaveGroup,
    /// `SyncGroup` (14).
    SyncGroup,
    /// `ConsumerGroupHeartbeat` (68, KIP-848).
    ConsumerGroupHeartbeat,
    /// `Fetch` (1) from a follower replica. Only delays.
    ReplicaFetch,
}

impl ApiKey {
    /// Every API, in Kafka's key order.
    pub const ALL: [ApiKey; 13] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ReplicaFetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::SyncGroup,
        ApiKey::ConsumerGroupHeartbeat,
    ];

    /// Kafka's name for it (`ReplicaFetch`: a Fetch from a replica).
    pub fn name(self) -> &'static str {
        match self {
            ApiKey::Produce => "Produce",
            ApiKey::Fetch => "Fetch",
            ApiKey::ListOffsets => "ListOffsets",
            ApiKey::Metadata => "Metadata",
            ApiKey::OffsetCommit => "OffsetCommit",
            ApiKey::OffsetFetch => "OffsetFetch",
            ApiKey::FindCoordinator => "FindCoordinator",
            ApiKey::JoinGroup => "JoinGroup",
            ApiKey::Heartbeat => "Heartbeat",
            ApiKey::LeaveGroup => "LeaveGroup",
            ApiKey::SyncGroup => "SyncGroup",
            ApiKey::ConsumerGroupHeartbeat => "ConsumerGroupHeartbeat",
            ApiKey::ReplicaFetch => "ReplicaFetch",
        }
    }

    /// The API named `name` (as [`ApiKey::name`] spells it).
    pub fn from_name(name: &str) -> Option<ApiKey> {
        ApiKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The API of request `msg` (`None`: not a request a broker serves).
    pub fn of(msg: &Msg) -> Option<ApiKey> {
        Some(match msg {
            Msg::ProduceReq { .. } => ApiKey::Produce,
            Msg::FetchReq { .. } => ApiKey::Fetch,
            Msg::ListOffsetsReq { .. } => ApiKey::ListOffsets,
            Msg::MetadataReq => ApiKey::Metadata,
            Msg::OffsetCommitReq { .. } => ApiKey::OffsetCommit,
            Msg::OffsetFetchReq { .. } => ApiKey::OffsetFetch,
            Msg::FindCoordinatorReq { .. } => ApiKey::FindCoordinator,
            Msg::JoinGroupReq(_) => ApiKey::JoinGroup,
            Msg::HeartbeatReq { .. } => ApiKey::Heartbeat,
            Msg::LeaveGroupReq { .. } => ApiKey::LeaveGroup,
            Msg::SyncGroupReq { .. } => ApiKey::SyncGroup,
            Msg::ConsumerHeartbeatReq(_) => ApiKey::ConsumerGroupHeartbeat,
            Msg::ReplicaFetchReq { .. } => ApiKey::ReplicaFetch,
            _ => return None,
        })
    }

    /// Whether its answer can carry an error here.
    pub fn can_fail(self) -> bool {
        !matches!(self, ApiKey::Metadata | ApiKey::LeaveGroup | ApiKey::ReplicaFetch)
    }
}

/// APIs are written by their Kafka names in scenario files.
impl serde::Serialize for ApiKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ApiKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ApiKey, D::Error> {
        let name = String::deserialize(d)?;
        ApiKey::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = ApiKey::ALL.iter().map(|k| k.name()).collect();
            serde::de::Error::custom(format!(
                "unknown Kafka API {name:?} (one of {})",
                names.join(", ")
            ))
        })
    }
}
