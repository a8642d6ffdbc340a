//! Metadata and FindCoordinator: what this broker's metadata image says (topics, leaders;
//! the leader of a group's `__consumer_offsets` partition).

use crate::broker::Broker;
use crate::protocol::{CoordinatorType, Msg};
use sim::ActorId;

impl Broker {
    /// Handles a Metadata request.
    pub(in crate::broker) fn on_metadata(&mut self, from: ActorId) {
        let msg = Msg::MetadataResp(self.rm.meta().clone(), self.rm.cluster().clone());
        self.fx.send(from, msg);
    }

    /// Handles a FindCoordinator request: the leader of the key's `__consumer_offsets` or
    /// `__transaction_state` partition (none without transactions in the cluster).
    pub(in crate::broker) fn on_find_coordinator(
        &mut self,
        from: ActorId,
        key: &str,
        key_type: CoordinatorType,
    ) {
        let cluster = self.rm.cluster();
        let coordinator = match key_type {
            CoordinatorType::Group => cluster.coordinator(key),
            CoordinatorType::Transaction => cluster.txn_coordinator(key),
        };
        let msg = Msg::FindCoordinatorResp(coordinator);
        self.fx.send(from, msg);
    }
}
