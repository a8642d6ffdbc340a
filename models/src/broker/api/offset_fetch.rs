//! OffsetFetch: the committed offsets of a group this broker coordinates; with
//! `require_stable` (KIP-447) `UNSTABLE_OFFSET_COMMIT` while transactional offsets of a
//! partition asked for are pending.

use crate::broker::Broker;
use crate::protocol::{ErrorCode, Msg};
use crate::types::Tp;
use sim::ActorId;
use std::sync::Arc;

impl Broker {
    /// Handles an OffsetFetch request (`NOT_COORDINATOR` elsewhere).
    pub(in crate::broker) fn on_offset_fetch(
        &mut self,
        from: ActorId,
        group: &Arc<str>,
        partitions: &[Tp],
        require_stable: bool,
        tag: u64,
    ) {
        let offsets = if !self.rm.coordinates(group) {
            Err(ErrorCode::NotCoordinator)
        } else if require_stable {
            self.groups.committed_stable(group, partitions)
        } else {
            Ok(self.groups.committed(group, partitions))
        };
        self.fx.send(from, Msg::OffsetFetchResp { tag, offsets });
    }
}
