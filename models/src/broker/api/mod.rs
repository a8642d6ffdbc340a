//! One handler per Kafka API, as Kafka's `KafkaApis.handle*` methods (and franz-go's kfake,
//! a file per API): each checks what the request needs from this broker (that it leads the
//! partition, coordinates the group) and drives the components.
//!
//! * [`produce`] — Produce; [`fetch`] — Fetch (consumers); [`list_offsets`] — ListOffsets;
//! * [`metadata`] — Metadata and FindCoordinator;
//! * [`classic_group`] — JoinGroup, SyncGroup, Heartbeat, LeaveGroup (and the groups' timers);
//! * [`consumer_group_heartbeat`] — ConsumerGroupHeartbeat (KIP-848);
//! * [`offset_commit`] — OffsetCommit; [`offset_fetch`] — OffsetFetch;
//! * [`replica_fetch`] — Fetch from a follower (the leader side of replication);
//! * [`txn`] — InitProducerId, AddPartitionsToTxn, EndTxn, WriteTxnMarkers.

mod classic_group;
mod consumer_group_heartbeat;
mod fetch;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_fetch;
mod produce;
mod replica_fetch;
mod txn;

use rand::RngCore;

/// A UUID drawn from `rng` (a KIP-394 member id's suffix).
fn uuid_from(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}
