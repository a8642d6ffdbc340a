//! Kafka's error codes as the model produces them (a subset of
//! `org.apache.kafka.common.protocol.Errors`), with Kafka's names — the names scenario files
//! and the JSON output use — and which of them Kafka's clients retry.

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
    /// `INVALID_REQUEST` (42): a malformed request (a KIP-848 heartbeat with no member id,
    /// an invalid epoch, …).
    InvalidRequest,
    /// `FENCED_MEMBER_EPOCH` (110, KIP-848): the member's epoch is stale; it gives up its
    /// partitions and rejoins with epoch 0.
    FencedMemberEpoch,
    /// `UNRELEASED_INSTANCE_ID` (111, KIP-848): a static member's `group.instance.id` is still
    /// held by a live member that did not leave with epoch −2.
    UnreleasedInstanceId,
    /// `PRODUCER_FENCED` (90): a newer instance of this `transactional.id` bumped the epoch.
    ProducerFenced,
    /// `INVALID_PRODUCER_EPOCH` (47): a produce with an epoch older than the partition's.
    InvalidProducerEpoch,
    /// `CONCURRENT_TRANSACTIONS` (51): the coordinator is finishing the previous transaction;
    /// retriable.
    ConcurrentTransactions,
    /// `INVALID_TXN_STATE` (48): the request does not fit the transaction's state.
    InvalidTxnState,
    /// `INVALID_PRODUCER_ID_MAPPING` (49): the producer id is not the `transactional.id`'s.
    InvalidProducerIdMapping,
    /// `INVALID_TRANSACTION_TIMEOUT` (50): above `transaction.max.timeout.ms`.
    InvalidTransactionTimeout,
    /// `UNSTABLE_OFFSET_COMMIT` (88, KIP-447): a transactional offset commit is pending;
    /// retriable.
    UnstableOffsetCommit,
    /// The client's own error for a record still queued when its transaction was aborted
    /// (Java's `TransactionAbortedException`: "Failing batch since transaction was aborted").
    TransactionAborted,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl ErrorCode {
    /// Every error the model knows.
    pub const ALL: [ErrorCode; 32] = [
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
        ErrorCode::InvalidRequest,
        ErrorCode::FencedMemberEpoch,
        ErrorCode::UnreleasedInstanceId,
        ErrorCode::ProducerFenced,
        ErrorCode::InvalidProducerEpoch,
        ErrorCode::ConcurrentTransactions,
        ErrorCode::InvalidTxnState,
        ErrorCode::InvalidProducerIdMapping,
        ErrorCode::InvalidTransactionTimeout,
        ErrorCode::UnstableOffsetCommit,
        ErrorCode::TransactionAborted,
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
                | ErrorCode::ConcurrentTransactions
                | ErrorCode::UnstableOffsetCommit
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
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::FencedMemberEpoch => "FENCED_MEMBER_EPOCH",
            ErrorCode::UnreleasedInstanceId => "UNRELEASED_INSTANCE_ID",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            ErrorCode::TransactionAborted => "TRANSACTION_ABORTED",
        }
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
