//! The classic group protocol's APIs: JoinGroup, SyncGroup, Heartbeat and LeaveGroup, and
//! the group's own timers, at the coordinator of the group ([`crate::coordinator::Group`]
//! hosted by [`crate::broker::group_host`]); elsewhere `NOT_COORDINATOR`.

use super::uuid_from;
use crate::broker::Broker;
use crate::coordinator::{Group, Output};
use crate::protocol::heartbeat_chain::HeartbeatChain;
use crate::protocol::{ErrorCode, GroupTimer, JoinGroup, Msg};
use crate::types::{MemberId, Tp};
use rand::RngCore;
use sim::{ActorId, Time};
use std::sync::Arc;

impl Broker {
    /// Runs one input through `group`'s state machine and writes the group's metadata to
    /// its offsets partition when a rebalance completed or it emptied.
    fn drive_group(&mut self, now: Time, group: &Arc<str>, input: impl FnOnce(&mut Group, &mut Vec<Output>)) {
        if let Some(snapshot) = self.groups.drive(now, group, input, &mut self.fx) {
            let tp = self.rm.cluster().offsets_tp(group);
            self.append_internal(now, tp, snapshot);
            self.advance_high_watermark(tp);
        }
    }

    /// Handles JoinGroup; a new member's id takes a UUID from `rng` (KIP-394).
    pub(in crate::broker) fn on_join_group(
        &mut self,
        now: Time,
        from: ActorId,
        req: &JoinGroup,
        rng: &mut impl RngCore,
    ) {
        if !self.rm.coordinates(&req.group) {
            let result = Err((ErrorCode::NotCoordinator, None));
            self.fx.send(
                from,
                Msg::JoinGroupResp {
                    corr: req.corr,
                    result,
                },
            );
            return;
        }
        self.drive_group(now, &req.group, |g, out| {
            g.join(now, from, req, || uuid_from(rng), out)
        });
    }

    /// Handles SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::broker) fn on_sync_group(
        &mut self,
        now: Time,
        from: ActorId,
        corr: u64,
        group: &Arc<str>,
        member_id: &MemberId,
        generation: i32,
        assignment: &[(MemberId, Vec<Tp>)],
    ) {
        if !self.rm.coordinates(group) {
            let result = Err(ErrorCode::NotCoordinator);
            self.fx.send(from, Msg::SyncGroupResp { corr, result });
            return;
        }
        self.drive_group(now, group, |g, out| {
            g.sync(now, from, corr, member_id, generation, assignment, out)
        });
    }

    /// Handles Heartbeat.
    pub(in crate::broker) fn on_heartbeat(
        &mut self,
        now: Time,
        from: ActorId,
        group: &Arc<str>,
        member_id: &MemberId,
        generation: i32,
        chain: Option<Arc<HeartbeatChain>>,
    ) {
        if !self.rm.coordinates(group) {
            self.fx
                .send(from, Msg::HeartbeatResp(Err(ErrorCode::NotCoordinator)));
            return;
        }
        self.drive_group(now, group, |g, out| {
            g.heartbeat_chained(now, from, member_id, generation, chain, out)
        });
    }

    /// Handles LeaveGroup (answered as done elsewhere: the member is gone either way).
    pub(in crate::broker) fn on_leave_group(
        &mut self,
        now: Time,
        from: ActorId,
        group: &Arc<str>,
        member_id: &MemberId,
    ) {
        if !self.rm.coordinates(group) {
            self.fx.send(from, Msg::LeaveGroupResp);
            return;
        }
        self.drive_group(now, group, |g, out| g.leave(now, from, member_id, out));
    }

    /// A group's timer fired (a classic or a KIP-848 group's; ignored once this broker no
    /// longer coordinates it).
    pub(in crate::broker) fn on_group_timer(&mut self, now: Time, group: &Arc<str>, timer: &GroupTimer) {
        if !self.rm.coordinates(group) {
            return;
        }
        if self.groups.is_consumer_group(group) {
            let input = |g: &mut crate::consumer_group::ConsumerGroup, out: &mut Vec<Output>| {
                g.on_timer(now, timer, out)
            };
            self.groups
                .drive_consumer_group(now, group, Vec::new, input, &mut self.fx);
        } else if self.groups.is_classic_group(group) {
            self.drive_group(now, group, |g, out| g.on_timer(now, timer, out));
        }
    }
}
