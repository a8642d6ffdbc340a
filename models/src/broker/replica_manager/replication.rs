//! The leader side of replication: follower fetches move the high watermark and the
//! follower's progress; a diverging follower is told where its epoch ends (KIP-101/279,
//! fetch-based since KIP-595); `replica.lag.time.max.ms` shrinks the ISR and a follower that
//! reached the high watermark joins it again, each by an AlterPartition to the controller
//! (KIP-497). And what the follower side asks of its replicas.

use super::{ReplicaManager, Role};
use crate::broker::effects::Effects;
use crate::cluster::NodeId;
use crate::protocol::{Msg, ReplicaData};
use crate::types::Tp;
use sim::{ActorId, Time};

/// Records a follower copies per partition per fetch at most.
const REPLICA_BATCH: usize = 4096;

impl ReplicaManager {
    /// Serves a replica fetch of broker actor `follower`: per partition its log end offset and
    /// last epoch. With `record_progress` (the request itself, not a parked one served
    /// again) it notes how far the follower got; returns the answer and the partitions whose
    /// follower state changed (their high watermark and ISR to look at again).
    pub fn serve_replica_fetch(
        &mut self,
        follower: ActorId,
        parts: &[(Tp, i64, i32)],
        now: Time,
        record_progress: bool,
    ) -> (Vec<(Tp, ReplicaData)>, Vec<Tp>) {
        let mut answer = Vec::new();
        let mut touched = Vec::new();
        let Some(node) = self.cluster.node_of(follower) else {
            return (answer, touched);
        };
        for &(tp, offset, last_epoch) in parts {
            let Some(p) = self.part_mut(tp).filter(|p| p.role == Role::Leader) else {
                answer.push((tp, ReplicaData::NotLeader));
                continue;
            };
            if last_epoch >= 0 {
                let (epoch, end) = p.log.end_offset_for_epoch(last_epoch);
                if epoch != last_epoch || end < offset {
                    let end_offset = end;
                    answer.push((tp, ReplicaData::Diverging { epoch, end_offset }));
                    continue;
                }
            }
            let leo = p.log.end_offset();
            if record_progress {
                if let Some(f) = p.followers.get_mut(&node) {
                    if offset >= leo {
                        f.last_caught_up = now;
                    } else if offset >= f.leo_at_last_fetch && f.leo_at_last_fetch >= 0 {
                        f.last_caught_up = f.last_caught_up.max(f.last_fetch);
                    }
                    f.leo = offset.min(leo);
                    f.last_fetch = now;
                    f.leo_at_last_fetch = leo;
                }
                touched.push(tp);
            }
            let entries = p.log.entries(offset, REPLICA_BATCH).to_vec();
            let (hw, log_start) = (p.hw, p.log.start_offset());
            if !entries.is_empty() || !record_progress || offset < log_start {
                answer.push((
                    tp,
                    ReplicaData::Entries {
                        entries,
                        hw,
                        log_start,
                    },
                ));
            }
        }
        (answer, touched)
    }

    /// Asks the controller to add follower `node` back to the ISR of `tp` once it reached the
    /// high watermark (one AlterPartition in flight per partition).
    pub fn maybe_expand_isr(&mut self, tp: Tp, node: NodeId, fx: &mut Effects) {
        let Some(controller) = self.controller else {
            return;
        };
        let Some(p) = self.part_mut(tp) else { return };
        if p.role != Role::Leader || p.alter_pending || p.isr.contains(&node) {
            return;
        }
        let Some(f) = p.followers.get(&node) else { return };
        if f.leo < p.hw || f.leo < 0 {
            return;
        }
        let mut isr = p.isr.to_vec();
        isr.push(node);
        isr.sort_unstable();
        p.alter_pending = true;
        let req = Msg::AlterPartitionReq {
            tp,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr,
        };
        fx.send(controller, req);
    }

    /// Drops from the ISR of every partition it leads the followers that were not caught up
    /// within `replica.lag.time.max.ms` (an AlterPartition each).
    pub fn shrink_isrs(&mut self, now: Time, fx: &mut Effects) {
        let Some(controller) = self.controller else {
            return;
        };
        let me = self.node;
        let lag = self.replica_lag_max;
        let mut requests = Vec::new();
        for (t, ps) in self.parts.iter_mut().enumerate() {
            for (i, p) in ps.iter_mut().enumerate() {
                let Some(p) = p else { continue };
                if p.role != Role::Leader || p.alter_pending {
                    continue;
                }
                let leo = p.log.end_offset();
                let keep: Vec<NodeId> = p
                    .isr
                    .iter()
                    .copied()
                    .filter(|r| {
                        *r == me
                            || p.followers
                                .get(r)
                                .is_some_and(|f| f.leo >= leo || now.saturating_sub(f.last_caught_up) <= lag)
                    })
                    .collect();
                if keep.len() < p.isr.len() {
                    p.alter_pending = true;
                    requests.push(Msg::AlterPartitionReq {
                        tp: Tp::new(t as u32, i as u32),
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                        isr: keep,
                    });
                }
            }
        }
        for r in requests {
            fx.send(controller, r);
        }
    }

    /// The leaders this broker follows, in node order.
    pub fn leaders_followed(&self) -> Vec<NodeId> {
        let mut leaders: Vec<NodeId> = self
            .parts
            .iter()
            .flatten()
            .flatten()
            .filter_map(|p| match p.role {
                Role::Follower(l) => Some(l),
                _ => None,
            })
            .collect();
        leaders.sort_unstable();
        leaders.dedup();
        leaders
    }

    /// What a replica fetch to `leader` asks for: each partition it follows there, with its
    /// log end offset and last epoch.
    pub fn fetch_positions(&self, leader: NodeId) -> Vec<(Tp, i64, i32)> {
        let mut parts = Vec::new();
        for (t, ps) in self.parts.iter().enumerate() {
            for (i, p) in ps.iter().enumerate() {
                if let Some(p) = p.as_ref().filter(|p| p.role == Role::Follower(leader)) {
                    parts.push((
                        Tp::new(t as u32, i as u32),
                        p.log.end_offset(),
                        p.log.last_epoch(),
                    ));
                }
            }
        }
        parts
    }
}
