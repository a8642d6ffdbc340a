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

mod api;
mod error;

pub use api::ApiKey;
pub use error::ErrorCode;

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

/// A transaction coordinator's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnReply {
    /// InitProducerId: (producer id, epoch).
    InitProducerId(Result<(i64, i32), ErrorCode>),
    /// AddPartitionsToTxn / AddOffsetsToTxn.
    AddPartitions(Result<(), ErrorCode>),
    /// EndTxn: (producer id, the epoch of the next transaction).
    EndTxn(Result<(i64, i32), ErrorCode>),
}

/// WriteTxnMarkers for one transaction: a control record in each partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMarkers {
    /// `transactional.id`.
    pub transactional_id: Arc<str>,
    /// Producer id.
    pub producer_id: i64,
    /// The epoch the markers carry (the bumped one).
    pub epoch: i32,
    /// Commit (or abort).
    pub commit: bool,
    /// The partitions (of the transaction; in a request, those its receiver leads).
    pub partitions: Vec<Tp>,
}

/// A `TxnOffsetCommit` request.
#[derive(Clone, Debug)]
pub struct TxnOffsetCommit {
    /// Correlation id (echoed in the OffsetCommit answer).
    pub corr: u64,
    /// Producer id.
    pub producer_id: i64,
    /// The group.
    pub group: Arc<str>,
    /// The consumer's member id (KIP-447: fenced like an OffsetCommit).
    pub member_id: Option<MemberId>,
    /// Its generation.
    pub generation: i32,
    /// Next offset to read, per partition.
    pub offsets: Vec<(Tp, i64)>,
}

/// The records of a fetch response: one (the common answer to a long-poll woken by an
/// append) travels inline, more on the heap.
pub type FetchedRecords = smallvec::SmallVec<[(Tp, i64, LogRecord); 1]>;

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
                | Msg::InitProducerIdReq { .. }
                | Msg::AddPartitionsToTxnReq { .. }
                | Msg::EndTxnReq { .. }
                | Msg::WriteTxnMarkersReq(_)
                | Msg::TxnOffsetCommitReq(_)
        )
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
        /// A transactional producer's (producer id, epoch): the record belongs to its open
        /// transaction.
        txn: Option<(i64, i32)>,
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

    /// `InitProducerId` of a transactional producer, to its transaction coordinator.
    InitProducerIdReq {
        /// `transactional.id`.
        transactional_id: Arc<str>,
        /// `transaction.timeout.ms`, µs.
        timeout_us: u64,
    },
    /// `AddPartitionsToTxn` (and `AddOffsetsToTxn`: the group's offsets partition).
    AddPartitionsToTxnReq {
        /// `transactional.id`.
        transactional_id: Arc<str>,
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i32,
        /// Partitions joining the transaction.
        partitions: Vec<Tp>,
    },
    /// `EndTxn`: commit or abort.
    EndTxnReq {
        /// `transactional.id`.
        transactional_id: Arc<str>,
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i32,
        /// Commit (or abort).
        commit: bool,
    },

    /// `TxnOffsetCommit` (KIP-447): a group's offsets inside a producer's transaction, with
    /// the consumer's generation and member id; answered as an OffsetCommit.
    TxnOffsetCommitReq(Box<TxnOffsetCommit>),

    // ---- broker → client ----
    /// A transaction coordinator's answer (InitProducerId, AddPartitionsToTxn, EndTxn).
    TxnResp(TxnReply),
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
    /// `WriteTxnMarkers` from a transaction coordinator to a partition leader.
    WriteTxnMarkersReq(Box<TxnMarkers>),
    /// The leader's answer: per partition, written or why not.
    WriteTxnMarkersResp {
        /// `transactional.id` of the request.
        transactional_id: Arc<str>,
        /// Per partition.
        results: Vec<(Tp, Result<(), ErrorCode>)>,
    },
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
    /// Broker: abort the transactions past their timeout
    /// (`transaction.abort.timed.out.transaction.cleanup.interval.ms`); the number is the
    /// process incarnation.
    TxnAbortCheck(u32),
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
