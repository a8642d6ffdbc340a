//! What Kafka's `GroupMetadataManager.throwIfConsumerGroupHeartbeatRequestIsInvalid` rejects
//! with `INVALID_REQUEST` before it looks at the group, for `ConsumerGroupHeartbeat` from
//! version 1 (Kafka 4.0, KIP-1082: the consumer generates its member id).

use crate::protocol::{ConsumerHeartbeat, ErrorCode};

/// Epoch −1: the member leaves the group.
pub const LEAVE_EPOCH: i32 = -1;
/// Epoch −2: a static member leaves for now and will be back within the session timeout.
pub const LEAVE_STATIC_EPOCH: i32 = -2;

/// Checks `req` as the coordinator does first:
///
/// * the member id is required and non-empty on every heartbeat (version ≥ 1);
/// * a `group.instance.id`, if given, is non-empty;
/// * a join (epoch 0) reports no owned partitions;
/// * epoch −2 needs a `group.instance.id`; an epoch below −2 is invalid.
pub fn check(req: &ConsumerHeartbeat) -> Result<(), ErrorCode> {
    let invalid = Err(ErrorCode::InvalidRequest);
    if req.member_id.is_empty() || req.group.is_empty() {
        return invalid;
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid;
    }
    match req.member_epoch {
        0 if !req.owned.is_empty() => invalid,
        LEAVE_STATIC_EPOCH if req.instance_id.is_none() => invalid,
        e if e < LEAVE_STATIC_EPOCH => invalid,
        _ => Ok(()),
    }
}
