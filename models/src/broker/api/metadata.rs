//! Metadata and FindCoordinator: what this broker's metadata image says (topics, leaders;
//! the leader of a group's `__consumer_offsets` partition).

use crate::broker::Broker;
use crate::protocol::Msg;
use sim::ActorId;

impl Broker {
    /// Handles a Metadata request.
    pub(in crate::broker) fn on_metadata(&mut self, from: ActorId) {
        let msg = Msg::MetadataResp(self.rm.meta().clone(), self.rm.cluster().clone());
        self.fx.send(from, msg);
    }

    /// Handles a FindCoordinator request.
    pub(in crate::broker) fn on_find_coordinator(&mut self, from: ActorId, group: &str) {
        let msg = Msg::FindCoordinatorResp(self.rm.cluster().coordinator(group));
        self.fx.send(from, msg);
    }
}
