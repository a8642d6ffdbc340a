//! How a message is delivered: at the network's base latency or with the seeded jitter
//! (the README's *Idle time*), and whether it is a request a crashed broker's host resets.

use super::Msg;

impl Msg {
    /// Whether this travels at the network's base latency, drawing nothing
    /// (`Ctx::send_fixed`): a Fetch, and a Fetch's empty answer — the two legs of an idle
    /// long-poll, whose timing is then a function of when the cycle started alone; and a
    /// classic Heartbeat and its answer, for the same reason (a heartbeat chain's instants
    /// are a function of its first heartbeat alone).
    pub fn travels_fixed(&self) -> bool {
        match self {
            Msg::FetchReq { .. } | Msg::HeartbeatReq { .. } | Msg::HeartbeatResp(_) => true,
            Msg::FetchResp { records, errors, .. } => records.is_empty() && errors.is_empty(),
            _ => false,
        }
    }

    /// Whether this is a request a broker answers (so a crashed broker's host resets it).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Msg::MetadataReq
                | Msg::FindCoordinatorReq { .. }
                | Msg::JoinGroupReq(_)
                | Msg::SyncGroupReq { .. }
                | Msg::HeartbeatReq { .. }
                | Msg::LeaveGroupReq { .. }
                | Msg::OffsetCommitReq { .. }
                | Msg::OffsetFetchReq { .. }
                | Msg::ListOffsetsReq { .. }
                | Msg::ProduceReq { .. }
                | Msg::ConsumerHeartbeatReq(_)
                | Msg::FetchReq { .. }
                | Msg::ReplicaFetchReq { .. }
                | Msg::InitProducerIdReq { .. }
                | Msg::AddPartitionsToTxnReq { .. }
                | Msg::EndTxnReq { .. }
                | Msg::WriteTxnMarkersReq(_)
                | Msg::TxnOffsetCommitReq(_)
        )
    }
}
