//! ConsumerGroupHeartbeat (KIP-848): the consumer protocol's one API, at the coordinator of
//! the group ([`crate::consumer_group::ConsumerGroup`] hosted by [`crate::broker::group_host`]);
//! elsewhere `NOT_COORDINATOR`.

use crate::broker::Broker;
use crate::protocol::{ConsumerHeartbeat, ErrorCode, Msg};
use sim::{ActorId, Time};

impl Broker {
    /// Handles a ConsumerGroupHeartbeat (the member id is the consumer's, KIP-1082).
    pub(in crate::broker) fn on_consumer_group_heartbeat(
        &mut self,
        now: Time,
        from: ActorId,
        req: &ConsumerHeartbeat,
    ) {
        if !self.rm.coordinates(&req.group) {
            let result = Err(ErrorCode::NotCoordinator);
            self.fx.send(
                from,
                Msg::ConsumerHeartbeatResp {
                    corr: req.corr,
                    result,
                },
            );
            return;
        }
        let meta = self.rm.meta();
        let partitions = || meta.topics.iter().map(|t| t.partitions).collect();
        let input =
            |g: &mut crate::consumer_group::ConsumerGroup, out: &mut Vec<_>| g.heartbeat(now, from, req, out);
        self.groups
            .drive_consumer_group(now, &req.group, partitions, input, &mut self.fx);
    }
}
