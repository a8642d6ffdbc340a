//! OffsetFetch: the committed offsets of a group this broker coordinates.

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
        tag: u64,
    ) {
        let offsets = if self.rm.coordinates(group) {
            Ok(self.groups.committed(group, partitions))
        } else {
            Err(ErrorCode::NotCoordinator)
        };
        self.fx.send(from, Msg::OffsetFetchResp { tag, offsets });
    }
}
