//! The KRaft controller: broker liveness, leader election and ISR changes.
//!
//! Present when the cluster has more than one broker (a one-broker cluster has nobody to fail
//! over to). The controller quorum is modelled as one node that does not fail; it is not a
//! client-visible broker. What it does is what Kafka's `QuorumController` /
//! `ReplicationControlManager` do, as far as clients can tell:
//!
//! * brokers heartbeat every `broker.heartbeat.interval.ms` (2000); a broker not heard from
//!   for `broker.session.timeout.ms` (9000) is **fenced**: it leaves every ISR it is in
//!   (unless it is the last member — an ISR is never empty) and every partition it leads
//!   gets a new leader: the first replica, in replica order, that is in the ISR and not
//!   fenced. With none, the partition goes offline — unless the topic has
//!   `unclean.leader.election.enable`, in which case the first live replica leads with an ISR
//!   of itself, and whatever it never had is gone;
//! * a fenced broker that heartbeats again is **unfenced**: offline partitions whose ISR it is
//!   in (or, unclean, whose replica it is) elect it;
//! * **AlterPartition** from a partition's leader (ISR shrink or expand) is accepted when it
//!   names the current leader epoch and partition epoch, and refused otherwise;
//! * every change bumps the leader epoch (leader changes) and the partition epoch (any
//!   change), and the new image is pushed to every unfenced broker.
//!
//! Not modelled: preferred-leader rebalancing (`auto.leader.rebalance.enable`, every 5 min),
//! KIP-966's eligible leader replicas, controller failover.

use crate::cluster::{ClusterState, NodeId};
use crate::history::Event;
use crate::protocol::{Msg, ServerTimer};
use crate::types::Tp;
use sim::{Actor, ActorId, Ctx, Time};
use std::sync::Arc;

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`.
    pub session_timeout: Time,
    /// How often sessions are checked.
    pub check_interval: Time,
    /// `unclean.leader.election.enable`, per topic index (the offsets topic last).
    pub unclean: Vec<bool>,
}

/// The controller.
pub struct Controller {
    cfg: ControllerConfig,
    state: Arc<ClusterState>,
    last_heartbeat: Vec<Time>,
    fenced: Vec<bool>,
}

impl Controller {
    /// A controller starting from the initial image.
    pub fn new(state: Arc<ClusterState>, cfg: ControllerConfig) -> Controller {
        let n = state.brokers.len();
        Controller {
            cfg,
            state,
            last_heartbeat: vec![Time::ZERO; n],
            fenced: vec![false; n],
        }
    }

    fn is_fenced(&self, node: NodeId) -> bool {
        self.fenced[(node - 1) as usize]
    }

    fn publish(&mut self, ctx: &mut Ctx<'_, Msg, Event>) {
        Arc::make_mut(&mut self.state).version += 1;
        for (i, b) in self.state.brokers.clone().into_iter().enumerate() {
            if !self.fenced[i] {
                ctx.send(b, Msg::ClusterUpdate(self.state.clone()));
            }
        }
    }

    /// Elects a leader for `tp` among replicas other than `excluded`.
    fn elect(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        let unclean = self.cfg.unclean.get(tp.topic as usize).copied().unwrap_or(false);
        let fenced = self.fenced.clone();
        let live = |n: &NodeId| !fenced[(*n - 1) as usize];
        let st = Arc::make_mut(&mut self.state).part_mut(tp);
        let choice = choose_leader(&st.replicas, &st.isr, live, unclean);
        if choice == st.leader {
            return;
        }
        st.leader = choice;
        st.leader_epoch += 1;
        st.partition_epoch += 1;
        if let Some(l) = choice {
            if !st.isr.contains(&l) {
                st.isr = vec![l];
                let isr = st.isr.clone();
                self.note_isr(ctx, tp, isr);
            }
        }
    }

    /// Records an ISR change of a user topic (the 50 offsets partitions would drown the
    /// history; their leader changes are recorded by the brokers).
    fn note_isr(&self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp, isr: Vec<NodeId>) {
        if tp.topic < self.state.user_topics {
            ctx.record(Event::IsrChanged { tp, isr });
        }
    }

    fn fence(&mut self, ctx: &mut Ctx<'_, Msg, Event>, node: NodeId) {
        self.fenced[(node - 1) as usize] = true;
        ctx.record(Event::BrokerFenced { node });
        let tps: Vec<Tp> = self.state.all().map(|(tp, _)| tp).collect();
        for tp in tps {
            let st = Arc::make_mut(&mut self.state).part_mut(tp);
            if st.isr.contains(&node) && st.isr.len() > 1 {
                st.isr.retain(|r| *r != node);
                st.partition_epoch += 1;
                let isr = st.isr.clone();
                self.note_isr(ctx, tp, isr);
            }
            if self.state.part(tp).leader == Some(node) {
                Arc::make_mut(&mut self.state).part_mut(tp).leader = None;
                self.elect(ctx, tp);
                let st = Arc::make_mut(&mut self.state).part_mut(tp);
                if st.leader.is_none() {
                    // offline: the epoch still moves, so the old leader's requests are refused
                    st.leader_epoch += 1;
                }
            }
        }
        self.publish(ctx);
    }

    fn unfence(&mut self, ctx: &mut Ctx<'_, Msg, Event>, node: NodeId) {
        self.fenced[(node - 1) as usize] = false;
        ctx.record(Event::BrokerUnfenced { node });
        let offline: Vec<Tp> = self
            .state
            .all()
            .filter(|(_, s)| s.leader.is_none() && s.replicas.contains(&node))
            .map(|(tp, _)| tp)
            .collect();
        for tp in offline {
            self.elect(ctx, tp);
        }
        self.publish(ctx);
    }

    fn alter_partition(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        from: ActorId,
        tp: Tp,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<NodeId>,
    ) {
        let node = self.state.node_of(from);
        let st = self.state.part(tp);
        let valid = node.is_some()
            && st.leader == node
            && st.leader_epoch == leader_epoch
            && st.partition_epoch == partition_epoch
            && !isr.is_empty()
            && node.is_some_and(|n| isr.contains(&n))
            && isr.iter().all(|r| st.replicas.contains(r))
            && isr.iter().all(|r| st.isr.contains(r) || !self.is_fenced(*r));
        if !valid {
            // refused: the leader gets the current image instead
            ctx.send(from, Msg::ClusterUpdate(self.state.clone()));
            return;
        }
        let st = Arc::make_mut(&mut self.state).part_mut(tp);
        st.isr = isr.clone();
        st.partition_epoch += 1;
        self.note_isr(ctx, tp, isr);
        self.publish(ctx);
    }
}

impl Actor<Msg, Event> for Controller {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Start => {
                self.last_heartbeat.iter_mut().for_each(|t| *t = now);
                ctx.timer(
                    self.cfg.check_interval,
                    Msg::ServerTimer(ServerTimer::SessionCheck),
                );
            }
            Msg::BrokerHeartbeat { version } => {
                let Some(node) = self.state.node_of(from) else {
                    return;
                };
                self.last_heartbeat[(node - 1) as usize] = now;
                if self.is_fenced(node) {
                    self.unfence(ctx, node);
                    ctx.send(from, Msg::ClusterUpdate(self.state.clone()));
                } else if version < self.state.version || version == u64::MAX {
                    ctx.send(from, Msg::ClusterUpdate(self.state.clone()));
                }
            }
            Msg::ServerTimer(ServerTimer::SessionCheck) => {
                for i in 0..self.fenced.len() {
                    if !self.fenced[i]
                        && now.saturating_sub(self.last_heartbeat[i]) > self.cfg.session_timeout
                    {
                        self.fence(ctx, i as NodeId + 1);
                    }
                }
                ctx.timer(
                    self.cfg.check_interval,
                    Msg::ServerTimer(ServerTimer::SessionCheck),
                );
            }
            Msg::AlterPartitionReq {
                tp,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.alter_partition(ctx, from, tp, leader_epoch, partition_epoch, isr),
            _ => {}
        }
    }
}

/// Kafka's leader choice: the first replica, in replica order, that is in the ISR and alive;
/// with none and `unclean`, the first live replica; else none (the partition is offline).
pub fn choose_leader(
    replicas: &[NodeId],
    isr: &[NodeId],
    live: impl Fn(&NodeId) -> bool,
    unclean: bool,
) -> Option<NodeId> {
    let clean = replicas.iter().copied().find(|r| isr.contains(r) && live(r));
    match clean {
        Some(l) => Some(l),
        None if unclean => replicas.iter().copied().find(|r| live(r)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_come_from_the_isr_in_replica_order() {
        let all = |_: &NodeId| true;
        assert_eq!(choose_leader(&[2, 3, 1], &[1, 2, 3], all, false), Some(2));
        assert_eq!(choose_leader(&[2, 3, 1], &[1, 3], all, false), Some(3));
        let not_3 = |n: &NodeId| *n != 3;
        assert_eq!(choose_leader(&[2, 3, 1], &[1, 3], not_3, false), Some(1));
    }

    #[test]
    fn without_a_live_isr_member_only_an_unclean_election_finds_a_leader() {
        let only_2 = |n: &NodeId| *n == 2;
        assert_eq!(choose_leader(&[1, 2], &[1], only_2, false), None);
        assert_eq!(choose_leader(&[1, 2], &[1], only_2, true), Some(2));
        assert_eq!(choose_leader(&[1, 2], &[1], |_: &NodeId| false, true), None);
    }
}
