//! ListOffsets: the log start (`earliest`) or the high watermark (`latest`) of each
//! partition this broker leads; the others are left out of the answer.

use crate::broker::Broker;
use crate::protocol::{Msg, OffsetSpec};
use crate::types::Tp;
use sim::ActorId;

impl Broker {
    /// Handles a ListOffsets request.
    pub(in crate::broker) fn on_list_offsets(
        &mut self,
        from: ActorId,
        partitions: &[Tp],
        spec: OffsetSpec,
        tag: u64,
    ) {
        let offsets = self.rm.list_offsets(partitions, spec);
        self.fx.send(from, Msg::ListOffsetsResp { tag, offsets });
    }
}
