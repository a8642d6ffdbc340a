//! OffsetCommit: a commit is checked against the group's generation (or KIP-848 member
//! epoch), written to the group's `__consumer_offsets` partition and answered once that
//! entry is replicated (the coordinator writes with `acks=all`).

use crate::broker::replica_manager::Waiting;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, Msg};
use crate::types::{MemberId, Tp};
use sim::{ActorId, Time};
use std::sync::Arc;

impl Broker {
    /// Handles an OffsetCommit request (`NOT_COORDINATOR` elsewhere).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::broker) fn on_offset_commit(
        &mut self,
        now: Time,
        from: ActorId,
        corr: u64,
        group: &Arc<str>,
        member_id: Option<&MemberId>,
        generation: i32,
        offsets: Vec<(Tp, i64)>,
    ) {
        let result = if self.rm.coordinates(group) {
            self.groups.validate_commit(group, member_id, generation)
        } else {
            Err(ErrorCode::NotCoordinator)
        };
        if result.is_err() {
            self.fx.send(
                from,
                Msg::OffsetCommitResp {
                    corr,
                    offsets,
                    result,
                },
            );
            return;
        }
        let entry = self.groups.commit(group, &offsets);
        let tp = self.rm.cluster().offsets_tp(group);
        let offset = self.append_internal(now, tp, entry);
        let client = from;
        self.rm.wait(
            tp,
            Waiting::Commit {
                client,
                corr,
                offsets,
                offset,
            },
        );
        self.advance_high_watermark(tp);
    }
}
