//! The messages actors exchange, named after the Kafka APIs they stand for.
//!
//! Requests go from clients to the broker, responses come back; each carries what the real
//! API carries that matters to semantics (no wire encoding). Client timers and broker
//! timers travel as messages an actor sends to itself.

use crate::assignor::{AssignorKind, MemberSubscription};
use crate::cluster::ClusterState;
use crate::types::{LogRecord, MemberId, Metadata, Payload, RecordId, Tp};
use sim::Time;
use std::sync::Arc;

/// Timers the group coordinator sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupTimer {
    /// End of a join round's wait (initial delay or rebalance timeout); the number is the
    /// round it belongs to.
    JoinDeadline(u64),
    /// Check a member's session.
    Session(MemberId),
}

/// A `ConsumerGroupHeartbeat` request.
#[derive(Clone, Debug)]
pub struct ConsumerHeartbeat {
    /// Correlation id.
    pub corr: u64,
    /// Group.
    pub group: Arc<str>,
    /// Member id (none on the first heartbeat).
    pub member_id: Option<MemberId>,
    /// 0 to join, -1 to leave, else the member's current epoch.
    pub member_epoch: i32,
    /// `client.id`, for the member id.
    pub client_id: Arc<str>,
    /// Subscribed topics.
    pub topics: Vec<u32>,
    /// Partitions the member owns now.
    pub owned: Vec<Tp>,
    /// Preferred server assignor (`group.remote.assignor`).
    pub assignor: Option<crate::assignor::ServerAssignor>,
}

/// A `ConsumerGroupHeartbeat` answer.
#[derive(Clone, Debug)]
pub struct ConsumerHeartbeatOk {
    /// The member's id.
    pub member_id: MemberId,
    /// Its epoch.
    pub member_epoch: i32,
    /// The partitions it should own now.
    pub assignment: Vec<Tp>,
    /// When to heartbeat next, µs.
    pub heartbeat_interval_us: u64,
}

/// The records of a fetch response: one (the common answer to a long-poll woken by an
/// append) travels inline, more on the heap.
pub type FetchedRecords = smallvec::SmallVec<[(Tp, i64, LogRecord); 1]>;

/// Kafka error codes the model produces (subset of `org.apache.kafka.common.protocol.Errors`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    /// `UNKNOWN_MEMBER_ID` (25).
    UnknownMemberId,
    /// `ILLEGAL_GENERATION` (22).
    IllegalGeneration,
    /// `REBALANCE_IN_PROGRESS` (27).
    RebalanceInProgress,
    /// `MEMBER_ID_REQUIRED` (79, KIP-394).
    MemberIdRequired,
    /// `INCONSISTENT_GROUP_PROTOCOL` (23).
    InconsistentGroupProtocol,
    /// `UNKNOWN_TOPIC_OR_PARTITION` (3).
    UnknownTopicOrPartition,
    /// `FENCED_INSTANCE_ID` (82, KIP-345): a newer process took this static member's place.
    FencedInstanceId,
    /// The client gave up waiting for an answer (`request.timeout.ms`).
    RequestTimedOut,
    /// `NOT_LEADER_OR_FOLLOWER` (6): this broker does not lead the partition.
    NotLeaderOrFollower,
    /// `NOT_COORDINATOR` (16): this broker does not coordinate the group.
    NotCoordinator,
    /// `COORDINATOR_NOT_AVAILABLE` (15): the group's offsets partition has no leader.
    CoordinatorNotAvailable,
    /// `NOT_ENOUGH_REPLICAS` (19): ISR smaller than `min.insync.replicas`; nothing written.
    NotEnoughReplicas,
    /// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` (20): written, but the ISR shrank below
    /// `min.insync.replicas` before it was replicated.
    NotEnoughReplicasAfterAppend,
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER` (45): an idempotent producer's earlier record is missing.
    OutOfOrderSequenceNumber,
    /// `OFFSET_OUT_OF_RANGE` (1): the fetch position is beyond the log (after a truncation).
    OffsetOutOfRange,
    /// The producer gave up on a record (`delivery.timeout.ms`).
    DeliveryTimedOut,
    /// `NETWORK_EXCEPTION` (13): the connection broke (the broker's process is gone).
    NetworkException,
    /// `COORDINATOR_LOAD_IN_PROGRESS` (14): the coordinator is still loading the group's
    /// offsets partition; retriable.
    CoordinatorLoadInProgress,
    /// `LEADER_NOT_AVAILABLE` (5): the partition has no leader right now (an election is
    /// under way); retriable.
    LeaderNotAvailable,
    /// `KAFKA_STORAGE_ERROR` (56): the replica's log directory is offline; retriable.
    KafkaStorageError,
    /// `UNKNOWN_SERVER_ERROR` (−1): an unexpected error on the broker.
    UnknownServerError,
}

impl Msg {
    /// Whether this is a request a broker answers (so a crashed broker's host resets it).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Msg::MetadataReq
                | Msg::FindCoordinatorReq { .. }
                | Msg::JoinGroupReq(_)
                | Msg::SyncGroupReq { .. }
                | Msg::HeartbeatReq { .. }
                | Msg::LeaveGroupReq { .. }
                | Msg::OffsetCommitReq { .. }
                | Msg::OffsetFetchReq { .. }
                | Msg::ListOffsetsReq { .. }
                | Msg::ProduceReq { .. }
                | Msg::ConsumerHeartbeatReq(_)
                | Msg::FetchReq { .. }
                | Msg::ReplicaFetchReq { .. }
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl ErrorCode {
    /// Every error the model knows.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::UnknownMemberId,
        ErrorCode::IllegalGeneration,
        ErrorCode::RebalanceInProgress,
        ErrorCode::MemberIdRequired,
        ErrorCode::InconsistentGroupProtocol,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::FencedInstanceId,
        ErrorCode::RequestTimedOut,
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::NotCoordinator,
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::NotEnoughReplicasAfterAppend,
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::DeliveryTimedOut,
        ErrorCode::NetworkException,
        ErrorCode::CoordinatorLoadInProgress,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::KafkaStorageError,
        ErrorCode::UnknownServerError,
    ];

    /// Whether Kafka's clients retry it: its exception is a `RetriableException`
    /// (`org.apache.kafka.common.errors`).
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::KafkaStorageError
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::NotEnoughReplicas
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
                | ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
        )
    }

    /// Whether it says the client's metadata is stale (an `InvalidMetadataException`, or a
    /// broken connection): the client refreshes it before retrying.
    pub fn invalidates_metadata(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::KafkaStorageError
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
        )
    }

    /// The error Kafka calls `name` (`NOT_COORDINATOR`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::DeliveryTimedOut => "DELIVERY_TIMEOUT",
            ErrorCode::NetworkException => "NETWORK_EXCEPTION",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            ErrorCode::KafkaStorageError => "KAFKA_STORAGE_ERROR",
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
        }
    }
}

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

/// Errors are written by their Kafka names in scenario files.
impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        let name = String::deserialize(d)?;
        ErrorCode::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = ErrorCode::ALL.iter().map(|e| e.name()).collect();
            serde::de::Error::custom(format!(
                "unknown Kafka error {name:?} (one of {})",
                names.join(", ")
            ))
        })
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

/// Where a consumer with no committed offset starts (`auto.offset.reset`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// Log start.
    Earliest,
    /// Log end.
    Latest,
}

/// A group join as the client sends it.
#[derive(Clone, Debug)]
pub struct JoinGroup {
    /// Correlation id, echoed in the response.
    pub corr: u64,
    /// `group.id`.
    pub group: Arc<str>,
    /// Empty on the first join.
    pub member_id: Option<MemberId>,
    /// `group.instance.id`.
    pub instance_id: Option<Arc<str>>,
    /// `client.id`.
    pub client_id: Arc<str>,
    /// `session.timeout.ms`, in µs.
    pub session_timeout_us: u64,
    /// `max.poll.interval.ms`, in µs.
    pub rebalance_timeout_us: u64,
    /// Assignors, most preferred first.
    pub protocols: Vec<AssignorKind>,
    /// Subscribed topics.
    pub topics: Vec<u32>,
    /// Partitions owned (cooperative) or last assigned (sticky's user data).
    pub owned: Vec<Tp>,
    /// Generation of `owned` (-1: none).
    pub owned_generation: i32,
}

/// A successful JoinGroup answer.
#[derive(Clone, Debug)]
pub struct JoinOk {
    /// The new generation.
    pub generation: i32,
    /// The protocol (assignor) the group chose.
    pub protocol: AssignorKind,
    /// The leader's member id.
    pub leader: MemberId,
    /// This member's id.
    pub member_id: MemberId,
    /// Every member's subscription — only in the leader's response, and only when it has to
    /// compute an assignment (not when a static leader rejoins a stable group).
    pub members: Vec<MemberSubscription>,
}

/// Everything on the wire and every timer.
#[derive(Clone, Debug)]
pub enum Msg {
    // ---- scenario inputs ----
    /// A client process starts.
    Start,
    /// A client process closes cleanly (LeaveGroup, final commit).
    Close,
    /// A client process dies: no LeaveGroup, no commit, connections reset.
    Crash,
    /// A crashed client process starts again (a new process, same configuration).
    Restart,
    /// The connection to the sender broke: its process is gone, and its host's kernel answered
    /// the request with a reset. Clients treat every request in flight to it as failed.
    Disconnected,
    /// The application stops polling and processing for this long (a GC pause, a slow call).
    Stall(Time),
    /// A broker is cut off from the other brokers and the controller until this time (the
    /// network does it; the message only lets the broker note it in the history).
    Partitioned(Time),
    /// An application inside a consumer process hands a record to the producer of the same
    /// process (consume–transform–produce): the producer partitions it and sends it as its
    /// own. Travels inside the process, not over the network.
    AppProduce {
        /// The topic to write to.
        topic: Arc<str>,
        /// Key and value.
        payload: Payload,
    },

    // ---- client → broker ----
    /// `Metadata`.
    MetadataReq,
    /// `FindCoordinator`.
    FindCoordinatorReq {
        /// The group.
        group: Arc<str>,
    },
    /// `JoinGroup`.
    JoinGroupReq(Box<JoinGroup>),
    /// `SyncGroup`; the leader sends the assignment.
    SyncGroupReq {
        /// Correlation id.
        corr: u64,
        /// Group.
        group: Arc<str>,
        /// Member.
        member_id: MemberId,
        /// Generation it joined.
        generation: i32,
        /// The leader's assignment, empty from followers.
        assignment: Vec<(MemberId, Vec<Tp>)>,
    },
    /// `Heartbeat`.
    HeartbeatReq {
        /// Group.
        group: Arc<str>,
        /// Member.
        member_id: MemberId,
        /// Generation.
        generation: i32,
    },
    /// `LeaveGroup`.
    LeaveGroupReq {
        /// Group.
        group: Arc<str>,
        /// Member.
        member_id: MemberId,
    },
    /// `OffsetCommit`.
    OffsetCommitReq {
        /// Correlation id.
        corr: u64,
        /// Group.
        group: Arc<str>,
        /// Member (empty for a simple commit).
        member_id: Option<MemberId>,
        /// Generation (-1 for a simple commit).
        generation: i32,
        /// Next offset to read, per partition.
        offsets: Vec<(Tp, i64)>,
    },
    /// `OffsetFetch`.
    OffsetFetchReq {
        /// Group.
        group: Arc<str>,
        /// Partitions asked for.
        partitions: Vec<Tp>,
        /// Echoed in the response, so a client can drop answers to an older assignment.
        tag: u64,
    },
    /// `ListOffsets`.
    ListOffsetsReq {
        /// Partitions asked for.
        partitions: Vec<Tp>,
        /// Earliest or latest.
        spec: OffsetSpec,
        /// Echoed in the response.
        tag: u64,
    },
    /// `Produce` of one record (`linger.ms=0`: a record per request).
    ProduceReq {
        /// Target partition.
        tp: Tp,
        /// Identity of the record.
        id: RecordId,
        /// Key and value.
        payload: Payload,
        /// `acks`.
        acks: Acks,
        /// Idempotent producer's per-partition sequence number, −1 without idempotence.
        pseq: i32,
        /// Idempotent producer's epoch for the partition.
        pepoch: i32,
    },
    /// `ConsumerGroupHeartbeat` (KIP-848).
    ConsumerHeartbeatReq(Box<ConsumerHeartbeat>),
    /// `Fetch` from the given positions; the broker holds it up to `max_wait_us` for data.
    FetchReq {
        /// Client's fetch number, echoed back.
        fetch_id: u64,
        /// Partition and position.
        positions: Arc<[(Tp, i64)]>,
        /// `fetch.max.wait.ms`, in µs.
        max_wait_us: u64,
        /// `max.poll.records`-style cap on records in the response.
        max_records: usize,
    },

    // ---- broker → client ----
    /// Metadata response: topics, and who leads what as this broker last heard.
    MetadataResp(Arc<Metadata>, Arc<ClusterState>),
    /// `ConsumerGroupHeartbeat` response.
    ConsumerHeartbeatResp {
        /// The request's correlation id.
        corr: u64,
        /// The member's id, epoch and assignment, or an error.
        result: Result<ConsumerHeartbeatOk, ErrorCode>,
    },
    /// FindCoordinator response: the coordinating broker, if the group's offsets partition
    /// has a leader.
    FindCoordinatorResp(Option<sim::ActorId>),
    /// JoinGroup response.
    JoinGroupResp {
        /// The request's correlation id.
        corr: u64,
        /// Outcome; with `MEMBER_ID_REQUIRED`, the member id to join with.
        result: Result<JoinOk, (ErrorCode, Option<MemberId>)>,
    },
    /// SyncGroup response: this member's partitions.
    SyncGroupResp {
        /// The request's correlation id.
        corr: u64,
        /// Outcome.
        result: Result<Vec<Tp>, ErrorCode>,
    },
    /// Heartbeat response.
    HeartbeatResp(Result<(), ErrorCode>),
    /// LeaveGroup response.
    LeaveGroupResp,
    /// OffsetCommit response.
    OffsetCommitResp {
        /// The request's correlation id.
        corr: u64,
        /// What was committed.
        offsets: Vec<(Tp, i64)>,
        /// Outcome.
        result: Result<(), ErrorCode>,
    },
    /// OffsetFetch response: committed offset per partition, if any.
    OffsetFetchResp {
        /// The request's tag.
        tag: u64,
        /// Committed offsets, or `NOT_COORDINATOR`.
        offsets: Result<Vec<(Tp, Option<i64>)>, ErrorCode>,
    },
    /// ListOffsets response.
    ListOffsetsResp {
        /// The request's tag.
        tag: u64,
        /// Offsets.
        offsets: Vec<(Tp, i64)>,
    },
    /// Produce response: the record's offset, or why not.
    ProduceResp {
        /// Partition.
        tp: Tp,
        /// Record identity.
        id: RecordId,
        /// Offset assigned (for a duplicate: where it was first written).
        result: Result<i64, ErrorCode>,
    },
    /// Fetch response: records per partition from the requested positions.
    FetchResp {
        /// Echo of the request's id.
        fetch_id: u64,
        /// Records with their partition and offset, in offset order per partition.
        records: FetchedRecords,
        /// Partitions this broker could not serve (`NOT_LEADER_OR_FOLLOWER`,
        /// `OFFSET_OUT_OF_RANGE`).
        errors: Vec<(Tp, ErrorCode)>,
    },

    // ---- between brokers and the controller ----
    /// A follower's `Fetch` to a leader: per partition its fetch offset and the epoch of its
    /// last entry (for the diverging-epoch check).
    ReplicaFetchReq {
        /// The follower's fetch number.
        fetch_id: u64,
        /// (partition, fetch offset, last fetched epoch).
        parts: Vec<(Tp, i64, i32)>,
    },
    /// The leader's answer.
    ReplicaFetchResp {
        /// Echo.
        fetch_id: u64,
        /// Per partition.
        parts: Vec<(Tp, ReplicaData)>,
    },
    /// `BrokerHeartbeat` to the controller (KRaft), with the metadata version the broker has.
    BrokerHeartbeat {
        /// Metadata version the broker has applied.
        version: u64,
    },
    /// The controller's metadata image (pushed on change, and to brokers that lag behind).
    ClusterUpdate(Arc<ClusterState>),
    /// `AlterPartition`: a leader asks the controller to change a partition's ISR.
    AlterPartitionReq {
        /// Partition.
        tp: Tp,
        /// The leader epoch the leader is in.
        leader_epoch: i32,
        /// The partition epoch its ISR view comes from.
        partition_epoch: i32,
        /// The ISR it wants.
        isr: Vec<crate::cluster::NodeId>,
    },

    // ---- timers ----
    /// A client timer.
    ClientTimer(ClientTimer),
    /// A coordinator timer.
    GroupTimer {
        /// Group.
        group: Arc<str>,
        /// What it is for.
        timer: GroupTimer,
    },
    /// The broker's fetch purgatory timer: the earliest parked fetch's `fetch.max.wait.ms`
    /// (or `replica.fetch.wait.max.ms`) may have run out.
    FetchExpired {
        /// Which arming of the timer this is; an older one (re-armed earlier since) is stale.
        token: u64,
    },
    /// A broker or controller timer.
    ServerTimer(ServerTimer),
}

/// What a leader answers a follower for one partition.
#[derive(Clone, Debug)]
pub enum ReplicaData {
    /// Entries from the fetch offset, and the leader's high watermark.
    Entries {
        /// Copied entries.
        entries: Vec<crate::log::Entry>,
        /// Leader's high watermark.
        hw: i64,
        /// Leader's log start offset (retention).
        log_start: i64,
    },
    /// The follower's log diverges: truncate to `end_offset` (the leader's end of `epoch`).
    Diverging {
        /// Largest epoch ≤ the follower's last the leader has.
        epoch: i32,
        /// Where it ends in the leader's log.
        end_offset: i64,
    },
    /// This broker does not lead the partition (any more).
    NotLeader,
}

/// `acks`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: no answer at all.
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it.
    All,
}

/// Timers of brokers and the controller.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ServerTimer {
    /// Broker: send a heartbeat to the controller (the number is the process incarnation:
    /// a timer of a process that crashed since is ignored).
    Heartbeat(u32),
    /// Broker: check followers' lag (`replica.lag.time.max.ms`).
    IsrCheck(u32),
    /// Broker: a replica fetch to a leader went unanswered (`replica.socket.timeout.ms`).
    ReplicaFetchTimeout(u64),
    /// Broker: its stalled replica fetchers resume.
    FetchersResume,
    /// Broker: apply `retention.ms` (every `log.retention.check.interval.ms`).
    RetentionCheck(u32),
    /// Controller: check brokers' sessions (`broker.session.timeout.ms`).
    SessionCheck,
    /// Broker: a request held back by an injected delay is handled now (the number is its
    /// token in the interceptor).
    Release(u64),
}

/// Timers a client sets for itself. The `u64` is an epoch: a timer whose epoch is stale (the
/// client rejoined or closed since) is ignored.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientTimer {
    /// Producer: send the next record.
    SendNext,
    /// Consumer: heartbeat.
    Heartbeat(u64),
    /// Consumer: auto-commit interval.
    AutoCommit,
    /// Consumer: the application finished processing the record in hand.
    ProcessDone,
    /// Consumer: a stall ended.
    Resume,
    /// Consumer: the request watchdog — some request may have gone unanswered for
    /// `request.timeout.ms`.
    Watchdog,
    /// Producer: records waiting out `retry.backoff.ms` are sent again.
    Retry,
    /// Producer: some request may have gone unanswered for `request.timeout.ms`.
    ProduceWatchdog,
    /// Consumer: look up the cluster again (a partition without a leader, a lost coordinator).
    Rediscover,
    /// Consumer: send JoinGroup again after `retry.backoff.ms` (the coordinator answered
    /// `COORDINATOR_LOAD_IN_PROGRESS` or `REBALANCE_IN_PROGRESS`); the number is the join
    /// attempt it belongs to.
    RetryJoin(u64),
}
