//! The messages actors exchange, named after the Kafka APIs they stand for.
//!
//! Requests go from clients to the broker, responses come back; each carries what the real
//! API carries that matters to semantics (no wire encoding). Client timers and broker
//! timers travel as messages an actor sends to itself.

use crate::assignor::MemberSubscription;
use crate::types::{LogRecord, MemberId, Metadata, Payload, RecordId, Tp};
use sim::Time;
use std::sync::Arc;

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
}

impl ErrorCode {
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
        }
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
    /// Assignor names, most preferred first.
    pub protocols: Vec<&'static str>,
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
    pub protocol: &'static str,
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
    /// The application stops polling and processing for this long (a GC pause, a slow call).
    Stall(Time),

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
    /// `Produce` of one record (acks=1 on a single broker).
    ProduceReq {
        /// Target partition.
        tp: Tp,
        /// Identity of the record.
        id: RecordId,
        /// Key and value.
        payload: Payload,
    },
    /// `ConsumerGroupHeartbeat` (KIP-848).
    ConsumerHeartbeatReq(Box<crate::kip848::Heartbeat>),
    /// `Fetch` from the given positions; the broker holds it up to `max_wait_us` for data.
    FetchReq {
        /// Client's fetch number, echoed back.
        fetch_id: u64,
        /// Partition and position.
        positions: Vec<(Tp, i64)>,
        /// `fetch.max.wait.ms`, in µs.
        max_wait_us: u64,
        /// `max.poll.records`-style cap on records in the response.
        max_records: usize,
    },

    // ---- broker → client ----
    /// Metadata response.
    MetadataResp(Arc<Metadata>),
    /// `ConsumerGroupHeartbeat` response.
    ConsumerHeartbeatResp {
        /// The request's correlation id.
        corr: u64,
        /// The member's id, epoch and assignment, or an error.
        result: Result<crate::kip848::HeartbeatOk, ErrorCode>,
    },
    /// FindCoordinator response (single broker: always found).
    FindCoordinatorResp,
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
        /// Committed offsets.
        offsets: Vec<(Tp, Option<i64>)>,
    },
    /// ListOffsets response.
    ListOffsetsResp {
        /// The request's tag.
        tag: u64,
        /// Offsets.
        offsets: Vec<(Tp, i64)>,
    },
    /// Produce response: the record's offset.
    ProduceResp {
        /// Partition.
        tp: Tp,
        /// Record identity.
        id: RecordId,
        /// Offset assigned.
        offset: i64,
    },
    /// Fetch response: records per partition from the requested positions.
    FetchResp {
        /// Echo of the request's id.
        fetch_id: u64,
        /// Records, per partition, in offset order.
        records: Vec<(Tp, Vec<(i64, LogRecord)>)>,
    },

    // ---- timers ----
    /// A client timer.
    ClientTimer(ClientTimer),
    /// A coordinator timer.
    GroupTimer {
        /// Group.
        group: Arc<str>,
        /// What it is for.
        timer: crate::coordinator::GroupTimer,
    },
    /// A parked fetch's `fetch.max.wait.ms` ran out.
    FetchExpired {
        /// Broker-side id of the parked fetch.
        parked: u64,
    },
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
}
