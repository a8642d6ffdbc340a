//! The group metadata record a classic group's coordinator writes to `__consumer_offsets`.
//!
//! Kafka's `GroupMetadataManager` appends a `GroupMetadataValue` record to the group's offsets
//! partition whenever a rebalance completes (and when the group empties): generation, protocol
//! type and name, leader, and per member its id, `group.instance.id`, client, timeouts,
//! subscription and assignment. A broker that becomes leader of that partition replays it and
//! serves the same generation without a rebalance. This is that record as plain data; the
//! coordinator state machine (`coordinator::Group`) writes and reads it.
//!
//! Beyond Kafka's record it keeps what the model needs to answer exactly as the old
//! coordinator would: the fenced static member ids and the join counter that orders members
//! for a leader election.

use crate::assignor::AssignorKind;
use crate::types::{MemberId, Tp};
use sim::ActorId;
use std::sync::Arc;

/// The metadata of one classic group, as persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMetadata {
    /// `group.id`.
    pub group: Arc<str>,
    /// Persisted states are Stable (after a rebalance) and Empty.
    pub empty: bool,
    /// The generation.
    pub generation: i32,
    /// The elected protocol (assignor), once a generation has one.
    pub protocol: Option<AssignorKind>,
    /// The leader's member id.
    pub leader: Option<MemberId>,
    /// Every member, by member id.
    pub members: Vec<MemberMetadata>,
    /// The leader's assignment of this generation, per member id, once synced.
    pub assignment: Vec<(MemberId, Vec<Tp>)>,
    /// Static members: `group.instance.id` → member id.
    pub static_members: Vec<(Arc<str>, MemberId)>,
    /// Member ids fenced by a static member's replacement.
    pub fenced: Vec<MemberId>,
    /// Joins counted so far (orders members by when they joined).
    pub joins: u64,
}

/// One member of a persisted group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMetadata {
    /// Member id.
    pub member_id: MemberId,
    /// The client process (Kafka: `client.id` and host).
    pub client: ActorId,
    /// `group.instance.id`.
    pub instance_id: Option<Arc<str>>,
    /// Assignors it offered, most preferred first.
    pub protocols: Vec<AssignorKind>,
    /// Subscribed topics.
    pub topics: Vec<u32>,
    /// Partitions it reported owning (the sticky assignors' user data).
    pub owned: Vec<Tp>,
    /// The generation of `owned`.
    pub owned_generation: i32,
    /// `session.timeout.ms`, µs.
    pub session_timeout_us: u64,
    /// `max.poll.interval.ms`, µs.
    pub rebalance_timeout_us: u64,
    /// When it joined, in the group's join count.
    pub joined_at: u64,
}
