//! Fetch from a follower (the leader side of replication): the follower's positions move
//! the high watermark and may bring it back into the ISR; an answer without data waits in
//! the purgatory for `replica.fetch.wait.max.ms`.

use crate::broker::purgatory::has_data;
use crate::broker::Broker;
use crate::protocol::Msg;
use crate::types::Tp;
use sim::{ActorId, Time};

impl Broker {
    /// Handles a replica Fetch from broker actor `from`: per partition its log end offset
    /// and last epoch.
    pub(in crate::broker) fn on_replica_fetch(
        &mut self,
        now: Time,
        from: ActorId,
        fetch_id: u64,
        parts: Vec<(Tp, i64, i32)>,
    ) {
        let (answer, touched) = self.rm.serve_replica_fetch(from, &parts, now, true);
        if let Some(node) = self.rm.cluster().node_of(from) {
            for tp in touched {
                self.advance_high_watermark(tp);
                self.rm.maybe_expand_isr(tp, node, &mut self.fx);
            }
        }
        if has_data(&answer) || self.cfg.replica_fetch_wait == Time::ZERO {
            self.fx.send(
                from,
                Msg::ReplicaFetchResp {
                    fetch_id,
                    parts: answer,
                },
            );
        } else {
            let deadline = now + self.cfg.replica_fetch_wait;
            self.purgatory
                .park_replica(now, deadline, from, fetch_id, parts, &mut self.fx);
        }
    }
}
