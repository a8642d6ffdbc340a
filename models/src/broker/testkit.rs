//! Fixtures of the components' unit tests: a small cluster, records, requests.

use super::effects::Effects;
use super::replica_manager::{ProduceCheck, ReplicaManager, Waiting};
use crate::cluster::ClusterState;
use crate::log::Entry;
use crate::protocol::{Acks, Msg};
use crate::types::{LogRecord, Metadata, Payload, RecordId, TopicMeta, Tp};
use sim::{ActorId, Time};
use std::sync::Arc;

/// The user partition of the fixtures.
pub const TP: Tp = Tp {
    topic: 0,
    partition: 0,
};

/// A producer or consumer.
pub const CLIENT: ActorId = ActorId(10);

/// The actor of broker `node` (node 1 is actor 0).
pub fn broker(node: u32) -> ActorId {
    ActorId(node - 1)
}

/// One topic `t` of one partition, and one offsets partition, on `brokers` brokers with
/// every partition on all of them (broker 1 leads).
pub fn cluster(brokers: u32) -> (Arc<Metadata>, Arc<ClusterState>) {
    let meta = Metadata::new(vec![TopicMeta {
        name: "t".into(),
        partitions: 1,
    }]);
    let actors = (1..=brokers).map(broker).collect();
    let cluster = ClusterState::initial(actors, &[(1, brokers)], 1, brokers);
    (Arc::new(meta), Arc::new(cluster))
}

/// Broker `node`'s replica manager in [`cluster`], with `min.insync.replicas` `min_isr`.
pub fn replicas(brokers: u32, node: u32, min_isr: u32) -> ReplicaManager {
    let (meta, cluster) = cluster(brokers);
    let controller = Some(ActorId(99));
    ReplicaManager::new(node, meta, cluster, vec![min_isr, 1], controller, Time::ms(100))
}

/// A record of producer `producer` with sequence number `seq`.
pub fn entry(producer: u32, seq: i32, epoch: i32) -> Entry {
    Entry {
        record: LogRecord {
            id: RecordId {
                producer,
                seq: seq as u32,
            },
            payload: Payload::new(Some(b"k"), Some(b"v")),
        },
        epoch,
        pseq: seq,
        batch_seq: seq,
        pepoch: 0,
        internal: None,
        txn: None,
    }
}

/// What the broker's Produce handler does with the replica manager alone: check, append,
/// answer acks=1 or wait for acks=all, move the high watermark.
pub fn produce(
    rm: &mut ReplicaManager,
    acks: Acks,
    producer: u32,
    seq: i32,
    now: Time,
    fx: &mut Effects,
) -> ProduceCheck {
    let id = RecordId {
        producer,
        seq: seq as u32,
    };
    let record = LogRecord {
        id,
        payload: Payload::new(Some(b"k"), Some(b"v")),
    };
    let batch = crate::protocol::ProduceBatch {
        tp: TP,
        records: vec![record],
        base_seq: seq,
        pepoch: 0,
    };
    let slot = rm.produces.open(CLIENT, acks == Acks::None, [(TP, id)]);
    let check = rm.check_produce(slot, acks, &batch);
    let ProduceCheck::Append(epoch) = check else {
        return check;
    };
    let offset = rm.append(TP, entry(producer, seq, epoch), now, fx);
    match acks {
        Acks::None | Acks::Leader => rm.produces.complete(slot, Ok(offset), fx),
        Acks::All => rm.wait(
            TP,
            Waiting::Produce {
                slot,
                base: offset,
                offset,
            },
        ),
    }
    rm.advance_high_watermark(TP, fx);
    check
}

/// The Produce answers sent so far: their results.
pub fn produce_results(fx: &Effects) -> Vec<Result<i64, crate::protocol::ErrorCode>> {
    fx.sent()
        .into_iter()
        .flat_map(|(_, m)| match m {
            Msg::ProduceResp { results } => results.iter().map(|r| r.result).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Follower `node` tells leader `rm` it has `leo` records of epoch 0 (a replica fetch).
pub fn follower_fetch(rm: &mut ReplicaManager, node: u32, leo: i64, now: Time, fx: &mut Effects) -> bool {
    let (_, touched) = rm.serve_replica_fetch(broker(node), &[(TP, leo, 0)], now, true);
    let mut advanced = false;
    for tp in touched {
        advanced |= rm.advance_high_watermark(tp, fx);
        rm.maybe_expand_isr(tp, node, fx);
    }
    advanced
}
