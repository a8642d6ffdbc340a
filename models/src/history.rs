//! The typed history of a run: what every actor did, as records in virtual-time order.
//!
//! The model never prints. Renderers (per-process text, JSON lines) and checkers read these
//! records — and a run recorded against a real broker produces the same kind.

use crate::assignor::{AssignorKind, ServerAssignor};
use crate::protocol::{ApiKey, ErrorCode};
use crate::types::{MemberId, Payload, RecordId, Tp};
use std::sync::Arc;

/// One fact of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A client finished bootstrapping (its first Metadata answer): kafka-python's
    /// constructor returned, and the demos print `link kafka ok.`.
    Connected,
    /// `producer.send()` was called for a record (the demos print `produce: key=.., val=..`).
    Send {
        /// Identity.
        id: RecordId,
        /// Partition the partitioner chose.
        tp: Tp,
        /// Key and value.
        payload: Payload,
    },
    /// The broker acknowledged a record: it is at `offset`.
    Produced {
        /// Identity.
        id: RecordId,
        /// Partition.
        tp: Tp,
        /// Offset.
        offset: i64,
        /// Key and value.
        payload: Payload,
        /// The batch it travelled in, named by the batch's first record (`None` where the
        /// history does not say: a real client's).
        batch: Option<RecordId>,
    },
    /// All of a producer's records are acknowledged (`produce over.`).
    ProducerDone {
        /// Records acknowledged.
        records: u32,
    },
    /// The broker appended a record to a partition log.
    Appended {
        /// Identity.
        id: RecordId,
        /// Partition.
        tp: Tp,
        /// Offset.
        offset: i64,
    },
    /// The coordinator completed a join round: a new generation exists.
    GenerationStarted {
        /// Group.
        group: Arc<str>,
        /// Generation number.
        generation: i32,
        /// Chosen protocol (assignor).
        protocol: Protocol,
        /// Leader.
        leader: MemberId,
        /// All members.
        members: Arc<[MemberId]>,
    },
    /// The coordinator removed a member (session timeout, rebalance timeout, leave).
    MemberRemoved {
        /// Group.
        group: Arc<str>,
        /// Member.
        member_id: MemberId,
        /// Why.
        reason: RemovalReason,
    },
    /// A consumer got a member id and joined a generation.
    Joined {
        /// Group.
        group: Arc<str>,
        /// Its member id.
        member_id: MemberId,
        /// Generation.
        generation: i32,
        /// Whether it leads the group.
        leader: bool,
    },
    /// A consumer received its assignment for a generation.
    Assigned {
        /// Group.
        group: Arc<str>,
        /// Generation.
        generation: i32,
        /// Partitions.
        partitions: Box<[Tp]>,
    },
    /// A consumer gave up partitions (eager protocol: all of them, before rejoining).
    Revoked {
        /// Group.
        group: Arc<str>,
        /// Generation they were owned in.
        generation: i32,
        /// Partitions.
        partitions: Box<[Tp]>,
    },
    /// A consumer's position in a partition was set (from a committed offset or the reset).
    PositionSet {
        /// Group.
        group: Arc<str>,
        /// Partition.
        tp: Tp,
        /// Next offset it will read.
        offset: i64,
        /// `committed`, `earliest` or `latest` when an assignment starts;
        /// `out-of-range:earliest` / `out-of-range:latest` when the fetch position was beyond
        /// the log (after a truncation) and `auto.offset.reset` moved it.
        from: PositionSource,
    },
    /// The application received a record from `poll()`.
    Consumed {
        /// Group.
        group: Arc<str>,
        /// Generation it was fetched under.
        generation: i32,
        /// Partition.
        tp: Tp,
        /// Offset.
        offset: i64,
        /// Identity.
        id: RecordId,
        /// Key and value.
        payload: Payload,
    },
    /// A commit succeeded.
    Committed {
        /// Group.
        group: Arc<str>,
        /// Generation it was made in.
        generation: i32,
        /// Next offset to read, per partition.
        offsets: Vec<(Tp, i64)>,
    },
    /// A commit was refused.
    CommitFailed {
        /// Group.
        group: Arc<str>,
        /// The Kafka error.
        error: ErrorCode,
    },
    /// A consumer left its group (LeaveGroup on close).
    Left {
        /// Group.
        group: Arc<str>,
        /// Member id it had.
        member_id: MemberId,
    },
    /// A consumer lost partitions without revoking them: its membership ended under it
    /// (session timeout, poll timeout, fenced), so another member may already own them
    /// (Java's `onPartitionsLost`). No commit is made for them.
    Lost {
        /// Group.
        group: Arc<str>,
        /// Generation they were owned in.
        generation: i32,
        /// Partitions.
        partitions: Box<[Tp]>,
        /// Why.
        reason: LostReason,
    },
    /// A static member restarted and took its old place without a rebalance (KIP-345; under
    /// KIP-848, after the old process left with epoch −2).
    /// (Boxed: a rare event, kept out of the size of every other.)
    StaticReplaced(Box<StaticReplacement>),
    /// The application stopped polling (a stall) until `until`.
    Stalled {
        /// When it resumes.
        until: sim::Time,
    },
    /// The consumer noticed `max.poll.interval.ms` passed without a poll and left the group.
    PollTimeout {
        /// Group.
        group: Arc<str>,
        /// Member id it had.
        member_id: MemberId,
    },
    /// A client process crashed: no LeaveGroup, no commit.
    Crashed,
    /// A crashed client process started again.
    Restarted,
    /// A client process closed.
    Closed,
    /// A producer's request for a record failed with a retriable error; it will send it again.
    ProduceRetry {
        /// Identity.
        id: RecordId,
        /// Partition.
        tp: Tp,
        /// The Kafka error.
        error: ErrorCode,
    },
    /// A producer gave up on a record (`retries` or `delivery.timeout.ms` exhausted): the
    /// application's callback gets an error.
    ProduceFailed {
        /// Identity.
        id: RecordId,
        /// Partition.
        tp: Tp,
        /// The Kafka error.
        error: ErrorCode,
    },
    /// A broker became the leader of a partition (written by that broker).
    LeaderElected {
        /// Partition (internal topics included: `topic` = number of user topics).
        tp: Tp,
        /// Leader epoch.
        epoch: i32,
        /// Its log end offset when it took over: the log of the partition is now its log.
        log_end: i64,
        /// Whether it was out of sync (`unclean.leader.election.enable`).
        unclean: bool,
    },
    /// The controller changed a partition's ISR.
    IsrChanged {
        /// Partition.
        tp: Tp,
        /// The new ISR (node ids).
        isr: Vec<u32>,
    },
    /// A replica truncated its log to `offset` (it had records the leader does not).
    Truncated {
        /// Partition.
        tp: Tp,
        /// New log end offset.
        offset: i64,
        /// Records removed.
        removed: Vec<RecordId>,
    },
    /// A broker was cut off from the other brokers and the controller (clients still reach
    /// it) until `until`.
    Partitioned {
        /// When the cut heals.
        until: sim::Time,
    },
    /// The controller fenced a broker (no heartbeat for `broker.session.timeout.ms`).
    BrokerFenced {
        /// Node id.
        node: u32,
    },
    /// The controller unfenced a broker (heartbeats again).
    BrokerUnfenced {
        /// Node id.
        node: u32,
    },
    /// A broker applied a scenario's `error` or `delay` fault to a request (written by the
    /// broker; the client's reaction follows in its own events).
    Injected {
        /// The API of the request.
        api: ApiKey,
        /// The client (or broker) that sent it.
        from: sim::ActorId,
        /// The error answered instead of handling it; `None`: held for `delay`.
        error: Option<ErrorCode>,
        /// How long it was held (zero for an error).
        delay: sim::Time,
    },
    /// An application inside a consumer wrote an event of its own
    /// (`consumer::AppCtx::record`).
    App(Box<AppEvent>),
    /// A transactional producer's step: a transaction begun, committed, aborted, its offsets
    /// sent, or the producer fenced (written by the producer).
    Txn(Box<TxnEvent>),
    /// A broker wrote a transaction marker (a control record, one offset) to a partition it
    /// leads: the producer's transaction there ends, committed or aborted.
    MarkerWritten {
        /// Partition.
        tp: Tp,
        /// The marker's offset.
        offset: i64,
        /// The transactional producer's id.
        producer_id: i64,
        /// Commit (or abort).
        commit: bool,
    },
    /// Transactional offsets became the group's committed offsets: the commit marker reached
    /// its `__consumer_offsets` partition (written by the group coordinator).
    TxnOffsetsCommitted {
        /// Group.
        group: Arc<str>,
        /// The transactional producer's id.
        producer_id: i64,
        /// Next offset to read, per partition.
        offsets: Vec<(Tp, i64)>,
    },
    /// A client hit an error it cannot recover from and stopped (e.g. no assignor in common
    /// with its group: `INCONSISTENT_GROUP_PROTOCOL`).
    Fatal {
        /// The Kafka error.
        error: ErrorCode,
    },
}

/// What [`Event::Txn`] says.
#[derive(Clone, Debug, PartialEq)]
pub struct TxnEvent {
    /// `transactional.id`.
    pub transactional_id: Arc<str>,
    /// The producer id its coordinator gave it.
    pub producer_id: i64,
    /// The producer epoch of the transaction.
    pub epoch: i32,
    /// What happened.
    pub step: TxnStep,
}

/// A transactional producer's step ([`TxnEvent`]).
#[derive(Clone, Debug, PartialEq)]
pub enum TxnStep {
    /// `beginTransaction()`: the records it sends from now on belong to the transaction.
    Begin,
    /// `sendOffsetsToTransaction()`: the group's offsets go with the transaction.
    OffsetsSent {
        /// Group.
        group: Arc<str>,
        /// Next offset to read, per partition.
        offsets: Vec<(Tp, i64)>,
    },
    /// `commitTransaction()` returned.
    Committed,
    /// `abortTransaction()` returned (or the coordinator aborted it).
    Aborted,
    /// A newer instance of its `transactional.id` fenced it (`PRODUCER_FENCED`,
    /// `INVALID_PRODUCER_EPOCH`): it stops.
    Fenced(ErrorCode),
}

impl TxnStep {
    /// Its name in the JSON output (`"event": "txn_<name>"`).
    pub fn name(&self) -> &'static str {
        match self {
            TxnStep::Begin => "begin",
            TxnStep::OffsetsSent { .. } => "offsets",
            TxnStep::Committed => "commit",
            TxnStep::Aborted => "abort",
            TxnStep::Fenced(_) => "fenced",
        }
    }
}

/// What [`Event::App`] says: an application's own event.
#[derive(Clone, Debug, PartialEq)]
pub struct AppEvent {
    /// The app's name for it.
    pub name: Arc<str>,
    /// Its fields, in the order the app gave them.
    pub fields: Vec<(Arc<str>, AppValue)>,
}

/// A field's value in an [`AppEvent`].
#[derive(Clone, Debug, PartialEq)]
pub enum AppValue {
    /// An integer.
    Int(i64),
    /// A text.
    Text(Arc<str>),
    /// A partition.
    Tp(Tp),
}

/// What [`Event::StaticReplaced`] says.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticReplacement {
    /// Group.
    pub group: Arc<str>,
    /// `group.instance.id`.
    pub instance_id: Arc<str>,
    /// The fenced member id.
    pub old: MemberId,
    /// The new member id.
    pub new: MemberId,
}

/// Where a consumer's position for a partition came from (`Event::PositionSet`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PositionSource {
    /// The group's committed offset (OffsetFetch).
    Committed,
    /// `auto.offset.reset=earliest`: no committed offset, the log start (ListOffsets).
    Earliest,
    /// `auto.offset.reset=latest`: no committed offset, the log end (ListOffsets).
    Latest,
    /// The fetch position was beyond the log (`OFFSET_OUT_OF_RANGE`, after a truncation) and
    /// `auto.offset.reset=earliest` moved it.
    OutOfRangeEarliest,
    /// Likewise with `auto.offset.reset=latest`.
    OutOfRangeLatest,
}

impl std::fmt::Display for PositionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PositionSource {
    /// Its name in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            PositionSource::Committed => "committed",
            PositionSource::Earliest => "earliest",
            PositionSource::Latest => "latest",
            PositionSource::OutOfRangeEarliest => "out-of-range:earliest",
            PositionSource::OutOfRangeLatest => "out-of-range:latest",
        }
    }

    /// Whether an `OFFSET_OUT_OF_RANGE` reset moved the position mid-assignment.
    pub fn is_out_of_range_reset(self) -> bool {
        matches!(
            self,
            PositionSource::OutOfRangeEarliest | PositionSource::OutOfRangeLatest
        )
    }
}

/// Why a consumer lost its partitions without revoking them (`Event::Lost`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// `max.poll.interval.ms` passed without a `poll()`: the heartbeat thread left the group.
    PollTimeout,
    /// `ILLEGAL_GENERATION`: the group moved to a newer generation (the member id survives).
    IllegalGeneration,
    /// `UNKNOWN_MEMBER_ID` (or another error that ends membership): the member is gone.
    UnknownMember,
}

impl std::fmt::Display for LostReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl LostReason {
    /// Its name in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            LostReason::PollTimeout => "poll timeout",
            LostReason::IllegalGeneration => "illegal generation",
            LostReason::UnknownMember => "unknown member",
        }
    }
}

/// Why the coordinator removed a member (`Event::MemberRemoved`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RemovalReason {
    /// No heartbeat within `session.timeout.ms`.
    SessionTimeout,
    /// It did not rejoin within the rebalance timeout (`max.poll.interval.ms`).
    RebalanceTimeout,
    /// LeaveGroup (or a KIP-848 heartbeat with epoch -1).
    LeaveGroup,
}

impl std::fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl RemovalReason {
    /// Its name in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            RemovalReason::SessionTimeout => "session timeout",
            RemovalReason::RebalanceTimeout => "rebalance timeout",
            RemovalReason::LeaveGroup => "leave group",
        }
    }
}

/// The assignor a generation runs: the protocol a classic group elected, or a KIP-848
/// group's server-side assignor (`group.remote.assignor`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// A classic group's elected protocol (`partition.assignment.strategy`).
    Classic(AssignorKind),
    /// A KIP-848 group's broker-side assignor.
    Server(ServerAssignor),
}

impl Protocol {
    /// Its name, as Kafka's clients and brokers call it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Classic(a) => a.name(),
            Protocol::Server(a) => a.name(),
        }
    }
}

/// The `group` field of the events that have one (one list for [`Event::group`] and
/// [`Event::group_mut`]).
macro_rules! group_field {
    ($event:expr) => {
        match $event {
            Event::GenerationStarted { group, .. }
            | Event::MemberRemoved { group, .. }
            | Event::Joined { group, .. }
            | Event::Assigned { group, .. }
            | Event::Revoked { group, .. }
            | Event::PositionSet { group, .. }
            | Event::Consumed { group, .. }
            | Event::Committed { group, .. }
            | Event::CommitFailed { group, .. }
            | Event::Left { group, .. }
            | Event::Lost { group, .. }
            | Event::PollTimeout { group, .. } => Some(group),
            _ => None,
        }
    };
}

impl Event {
    /// The consumer group the event belongs to, for events of a group's member (empty for a
    /// consumer without a group).
    pub fn group(&self) -> Option<&Arc<str>> {
        group_field!(self)
    }

    /// [`Event::group`], to change.
    pub fn group_mut(&mut self) -> Option<&mut Arc<str>> {
        group_field!(self)
    }

    /// Short name used as `"event"` in JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Connected => "connected",
            Event::Send { .. } => "send",
            Event::Produced { .. } => "produce",
            Event::ProducerDone { .. } => "producer_done",
            Event::Appended { .. } => "append",
            Event::GenerationStarted { .. } => "generation",
            Event::MemberRemoved { .. } => "member_removed",
            Event::Joined { .. } => "join",
            Event::Assigned { .. } => "assign",
            Event::Revoked { .. } => "revoke",
            Event::PositionSet { .. } => "position",
            Event::Consumed { .. } => "consume",
            Event::Committed { .. } => "commit",
            Event::CommitFailed { .. } => "commit_failed",
            Event::Left { .. } => "leave",
            Event::Lost { .. } => "lost",
            Event::StaticReplaced(_) => "static_replace",
            Event::Stalled { .. } => "stall",
            Event::PollTimeout { .. } => "poll_timeout",
            Event::Crashed => "crash",
            Event::Restarted => "restart",
            Event::Closed => "close",
            Event::Fatal { .. } => "fatal",
            Event::ProduceRetry { .. } => "produce_retry",
            Event::ProduceFailed { .. } => "produce_failed",
            Event::LeaderElected { .. } => "leader",
            Event::IsrChanged { .. } => "isr",
            Event::Truncated { .. } => "truncate",
            Event::Partitioned { .. } => "partitioned",
            Event::BrokerFenced { .. } => "fenced",
            Event::BrokerUnfenced { .. } => "unfenced",
            Event::Injected { .. } => "injected",
            Event::App(_) => "app",
            Event::Txn(t) => match t.step {
                TxnStep::Begin => "txn_begin",
                TxnStep::OffsetsSent { .. } => "txn_offsets",
                TxnStep::Committed => "txn_commit",
                TxnStep::Aborted => "txn_abort",
                TxnStep::Fenced(_) => "txn_fenced",
            },
            Event::MarkerWritten { .. } => "marker",
            Event::TxnOffsetsCommitted { .. } => "txn_offsets_commit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_small() {
        // the full history keeps several events per record: the largest variant decides what
        // each one costs (rare, large ones are boxed)
        assert!(
            std::mem::size_of::<Event>() <= 56,
            "{}",
            std::mem::size_of::<Event>()
        );
    }

    #[test]
    fn protocols_keep_their_names() {
        for name in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
            let kind = AssignorKind::parse(name).expect("a classic assignor");
            assert_eq!(Protocol::Classic(kind).name(), name);
        }
        for name in ["uniform", "range"] {
            let kind = ServerAssignor::parse(name).expect("a server assignor");
            assert_eq!(Protocol::Server(kind).name(), name);
        }
    }
}
