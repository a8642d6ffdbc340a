//! A broker: partition replicas (leader and follower), the group coordinator and committed
//! offsets.
//!
//! What one Kafka broker does, as far as it matters to what clients observe. The actor here
//! is a thin shell, as Kafka's `KafkaApis` is: it routes each request to one handler per API
//! (module `api`, a file per API or API family), and the handlers drive components that own
//! their state and return their effects ([`effects`]), each modelled after the Kafka class
//! of the same role:
//!
//! * [`replica_manager`] — partitions, logs, high watermark, ISR, leader epochs, the roles a
//!   metadata image gives, appends with `acks`, `min.insync.replicas` and idempotent
//!   sequence checks, the leader side of replication;
//! * [`purgatory`] — consumer and replica fetches waiting for data (`fetch.max.wait.ms`,
//!   `replica.fetch.wait.max.ms`);
//! * [`replica_fetcher`] — the follower side: fetch sessions to leaders, diverging-epoch
//!   truncation (KIP-101/279/595), stalls;
//! * [`group_host`] — the classic ([`crate::coordinator`]) and KIP-848 ([`crate::consumer_group`])
//!   groups whose `__consumer_offsets` partition this broker leads, and their offsets;
//! * [`txn_host`] — the transaction coordinator ([`crate::transaction`]) of the
//!   `transactional.id`s whose `__transaction_state` partition this broker leads: its
//!   records, its markers (a component; the Kafka APIs that drive it are not routed yet);
//! * [`retention`] — `retention.ms`;
//! * [`interceptor`] — request-level fault injection ([`BrokerConfig::inject`]): an API
//!   answered with a Kafka error, or held back, before its handler runs.
//!
//! The controller link (several brokers only): a heartbeat every
//! `broker.heartbeat.interval.ms`; the controller's metadata image decides who leads.
//! Faults: a crash keeps the logs (they are on disk) and loses everything in memory; a stall
//! pauses the replica fetchers (the slow follower).

mod api;
pub mod delayed_produce;
pub mod effects;
pub mod group_host;
pub mod interceptor;
pub mod purgatory;
pub mod replica_fetcher;
pub mod replica_manager;
pub mod retention;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
pub mod txn_host;

use crate::cluster::{ClusterState, NodeId};
use crate::coordinator::GroupConfig;
use crate::history::Event;
use crate::log::{Entry, Internal};
use crate::protocol::{Acks, ErrorCode, Msg, ServerTimer};
use crate::types::{Metadata, Tp};
use effects::Effects;
use group_host::GroupHost;
use interceptor::{InjectRule, Interceptor, Verdict};
use purgatory::Purgatory;
use replica_fetcher::ReplicaFetcher;
use replica_manager::{ReplicaManager, RoleChange};
use retention::Retention;
use sim::{Actor, ActorId, Ctx, Time};
use std::sync::Arc;
use txn_host::TxnHost;

/// A broker's settings (Kafka's names).
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node: NodeId,
    /// Group coordinator settings.
    pub group: GroupConfig,
    /// The controller, when the cluster has one (more than one broker).
    pub controller: Option<ActorId>,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval: Time,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_max: Time,
    /// `replica.fetch.wait.max.ms`.
    pub replica_fetch_wait: Time,
    /// `replica.socket.timeout.ms`: an unanswered replica fetch is sent again after it.
    pub replica_socket_timeout: Time,
    /// `min.insync.replicas`, per topic index (the offsets topic last).
    pub min_isr: Vec<u32>,
    /// `retention.ms`, per topic index (`None`: kept for the whole run).
    pub retention: Vec<Option<Time>>,
    /// `log.retention.check.interval.ms`.
    pub retention_check: Time,
    /// Fault injection: requests this broker answers with an error or holds back (empty:
    /// none; see [`interceptor`]).
    pub inject: Vec<InjectRule>,
}

/// A broker.
pub struct Broker {
    cfg: BrokerConfig,
    rm: ReplicaManager,
    purgatory: Purgatory,
    fetcher: ReplicaFetcher,
    groups: GroupHost,
    txns: TxnHost,
    retention: Retention,
    interceptor: Interceptor,
    crashed: bool,
    /// After a restart: the next metadata image is taken whatever its version.
    needs_image: bool,
    /// Process incarnation: bumped by a crash, so timers of the dead process are ignored.
    incarnation: u32,
    /// Actors that sent this broker requests (they hold connections to it), by actor index.
    peers: Vec<bool>,
    /// The effects of the input being handled (its buffer is kept between inputs).
    fx: Effects,
    /// The virtual time of the input being handled.
    now: Time,
}

impl Broker {
    /// Broker `cfg.node` of a cluster whose initial image is `cluster`.
    pub fn new(meta: Arc<Metadata>, cluster: Arc<ClusterState>, cfg: BrokerConfig) -> Broker {
        let rm = ReplicaManager::new(
            cfg.node,
            meta,
            cluster,
            cfg.min_isr.clone(),
            cfg.controller,
            cfg.replica_lag_max,
        );
        Broker {
            rm,
            purgatory: Purgatory::default(),
            fetcher: ReplicaFetcher::new(cfg.replica_socket_timeout),
            groups: GroupHost::new(cfg.group),
            txns: TxnHost::new(crate::transaction::TxnConfig::default()),
            retention: Retention::new(cfg.retention.clone(), cfg.retention_check),
            interceptor: Interceptor::new(cfg.inject.clone()),
            cfg,
            crashed: false,
            needs_image: false,
            incarnation: 0,
            peers: Vec::new(),
            fx: Effects::default(),
            now: Time::ZERO,
        }
    }

    // ------------------------------------------------------------------ glue between components

    /// Appends to a partition this broker leads (scheduling retention, waking parked replica
    /// fetches); returns the offset.
    fn append(&mut self, now: Time, tp: Tp, entry: Entry) -> i64 {
        self.retention.on_append(tp, self.incarnation, &mut self.fx);
        let offset = self.rm.append(tp, entry, now, &mut self.fx);
        self.purgatory.wake_replicas(now, &mut self.rm, &mut self.fx);
        offset
    }

    /// Appends a record batch's `entries` to `tp` at consecutive offsets, scheduling
    /// retention and waking parked replica fetches once; returns the base offset.
    fn append_batch(&mut self, now: Time, tp: Tp, entries: impl Iterator<Item = Entry>) -> i64 {
        self.retention.on_append(tp, self.incarnation, &mut self.fx);
        let mut base = None;
        for entry in entries {
            let offset = self.rm.append(tp, entry, now, &mut self.fx);
            base.get_or_insert(offset);
        }
        self.purgatory.wake_replicas(now, &mut self.rm, &mut self.fx);
        base.expect("a batch has records")
    }

    /// Writes a coordinator entry to offsets partition `tp`; returns its offset.
    fn append_internal(&mut self, now: Time, tp: Tp, internal: Internal) -> i64 {
        let entry = self.rm.internal_entry(tp, internal);
        self.append(now, tp, entry)
    }

    /// Moves the high watermark of `tp` if it can, answering the writes and parked fetches
    /// that it unblocks.
    fn advance_high_watermark(&mut self, tp: Tp) {
        if self.rm.advance_high_watermark(tp, &mut self.fx) {
            self.purgatory.wake_fetches(self.now, tp, &self.rm, &mut self.fx);
            if self.rm.cluster().is_txn_state(tp) {
                self.on_txn_state_high_watermark(self.now, tp);
            }
        }
    }

    /// Takes the roles a metadata image gives this broker, one partition at a time.
    fn apply_cluster(&mut self, now: Time, new: Arc<ClusterState>) {
        let (old, all) = self.rm.take_image(new);
        for (tp, st) in all {
            match self.rm.apply_partition(tp, &st, &old, now, &mut self.fx) {
                RoleChange::Kept { leader } => {
                    if leader {
                        self.advance_high_watermark(tp);
                    }
                }
                RoleChange::Leads { internal, failed } => {
                    if internal && self.rm.cluster().is_txn_state(tp) {
                        let log = &self.rm.part(tp).expect("a replica").log;
                        let actions = self.txns.load(self.rm.cluster(), log);
                        self.carry_txn(now, actions);
                    } else if internal {
                        let log = &self.rm.part(tp).expect("a replica").log;
                        self.groups.load(now, log, &mut self.fx);
                    }
                    self.advance_high_watermark(tp);
                    for w in failed {
                        let lost = Err(ErrorCode::NotLeaderOrFollower);
                        w.answer(lost, &mut self.rm.produces, &mut self.fx);
                    }
                }
                RoleChange::Leaves { unload, failed } => {
                    if unload && self.rm.cluster().is_txn_state(tp) {
                        let lost = ErrorCode::NotLeaderOrFollower;
                        let actions = self.txns.on_write_failed(self.rm.cluster(), tp, lost);
                        self.carry_txn(now, actions);
                        self.txns.unload(tp);
                    } else if unload {
                        self.groups.unload(tp, self.rm.cluster());
                    }
                    for w in failed {
                        let lost = Err(ErrorCode::NotLeaderOrFollower);
                        w.answer(lost, &mut self.rm.produces, &mut self.fx);
                    }
                }
            }
        }
        self.needs_image = false;
        self.fetcher.start(now, &self.rm, &mut self.fx);
        self.retry_txn_markers(now, &[]);
    }

    // ------------------------------------------------------------------ lifecycle and faults

    /// The cluster formed: says who leads what from the start and starts the fetchers, the
    /// heartbeat and the ISR check.
    fn start(&mut self, now: Time) {
        for tp in self.rm.led_user_partitions() {
            self.fx.record(Event::LeaderElected {
                tp,
                epoch: 0,
                log_end: 0,
                unclean: false,
            });
        }
        self.fetcher.start(now, &self.rm, &mut self.fx);
        self.heartbeat(0);
        self.arm_isr_check();
        self.arm_txn_abort_check();
    }

    /// The process dies. Its host stays up: the kernel closes its connections, so every
    /// client and follower connected to it learns at once (and later requests are refused,
    /// see [`Msg::is_request`]); what it had sent is still delivered.
    fn crash(&mut self) {
        self.fx.record(Event::Crashed);
        self.crashed = true;
        self.incarnation += 1;
        for (i, _) in self.peers.iter().enumerate().filter(|(_, p)| **p) {
            self.fx.send(ActorId(i as u32), Msg::Disconnected);
        }
        self.peers.clear();
    }

    /// The process starts again: what was in memory is gone; the logs (and their high
    /// watermarks) are on disk.
    fn restart(&mut self) {
        self.crashed = false;
        self.fx.record(Event::Restarted);
        self.groups.clear();
        self.txns.clear();
        self.interceptor.clear_held();
        self.purgatory.clear();
        self.fetcher.reset();
        self.retention.reset();
        self.needs_image = true;
        self.rm.reset();
        self.heartbeat(u64::MAX);
        self.arm_isr_check();
        self.arm_txn_abort_check();
    }

    /// Tells the controller which image version this broker has (`u64::MAX`: none).
    fn heartbeat(&mut self, version: u64) {
        if let Some(c) = self.cfg.controller {
            self.fx.send(c, Msg::BrokerHeartbeat { version });
            let timer = Msg::ServerTimer(ServerTimer::Heartbeat(self.incarnation));
            self.fx.timer(self.cfg.heartbeat_interval, timer);
        }
    }

    fn arm_isr_check(&mut self) {
        if self.cfg.controller.is_some() {
            let timer = Msg::ServerTimer(ServerTimer::IsrCheck(self.incarnation));
            self.fx
                .timer(Time::us(self.cfg.replica_lag_max.as_us() / 2), timer);
        }
    }

    /// A message while the process is down.
    fn handle_crashed(&mut self, me: ActorId, from: ActorId, msg: Msg) {
        match msg {
            Msg::Restart => self.restart(),
            // the host is up, the process is not: the kernel resets the connection
            // (acks=0 produces would not hear it either, but they go unanswered anyway)
            m if m.is_request() && from != me && !matches!(m, Msg::ProduceReq { acks: Acks::None, .. }) => {
                self.fx.send(from, Msg::Disconnected);
            }
            _ => {}
        }
    }

    /// Notes that `from` holds a connection to this broker.
    fn note_peer(&mut self, from: ActorId) {
        let i = from.index();
        if self.peers.len() <= i {
            self.peers.resize(i + 1, false);
        }
        self.peers[i] = true;
    }

    /// Timers and inputs of the broker itself (not Kafka requests).
    fn on_server_timer(&mut self, now: Time, timer: ServerTimer) {
        match timer {
            ServerTimer::Heartbeat(i) if i == self.incarnation => {
                // u64::MAX: "I have no image" (just restarted)
                let v = if self.needs_image {
                    u64::MAX
                } else {
                    self.rm.cluster().version
                };
                self.heartbeat(v);
            }
            ServerTimer::IsrCheck(i) if i == self.incarnation => {
                self.rm.shrink_isrs(now, &mut self.fx);
                self.arm_isr_check();
            }
            ServerTimer::Heartbeat(_) | ServerTimer::IsrCheck(_) => {}
            ServerTimer::FetchersResume => self.fetcher.resume(now, &self.rm, &mut self.fx),
            ServerTimer::ReplicaFetchTimeout(id) => self.fetcher.on_timeout(id, now, &self.rm, &mut self.fx),
            ServerTimer::RetentionCheck(i) if i == self.incarnation => {
                self.retention
                    .check(now, &mut self.rm, self.incarnation, &mut self.fx);
            }
            ServerTimer::RetentionCheck(_) => {}
            ServerTimer::TxnAbortCheck(i) if i == self.incarnation => self.on_txn_abort_check(now),
            ServerTimer::TxnAbortCheck(_) => {}
            ServerTimer::SessionCheck => panic!("a broker got the controller's timer"),
            ServerTimer::Release(_) => unreachable!("dispatched before"),
        }
    }

    /// Routes one input of a live broker: one handler per Kafka API.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Start => self.start(now),
            Msg::Crash => self.crash(),
            Msg::Restart => {}
            Msg::Partitioned(until) => self.fx.record(Event::Partitioned { until }),
            Msg::Stall(d) => {
                let until = self.fetcher.stall(now, d);
                self.fx.record(Event::Stalled { until });
            }
            Msg::ServerTimer(ServerTimer::Release(token)) => {
                if let Some((from, msg)) = self.interceptor.release(token) {
                    self.dispatch(ctx, from, msg);
                }
            }
            Msg::ServerTimer(t) => self.on_server_timer(now, t),
            Msg::ClusterUpdate(state) => {
                if state.version > self.rm.cluster().version || self.needs_image {
                    self.apply_cluster(now, state);
                }
            }
            Msg::ReplicaFetchReq { fetch_id, parts } => self.on_replica_fetch(now, from, fetch_id, parts),
            Msg::ReplicaFetchResp { fetch_id, parts } => {
                self.fetcher
                    .on_data(now, from, fetch_id, parts, &mut self.rm, &mut self.fx);
            }
            Msg::Disconnected => {
                self.fetcher.on_disconnected(from, &self.rm, &mut self.fx);
                self.retry_txn_markers(now, &[from]);
            }
            msg @ (Msg::InitProducerIdReq { .. }
            | Msg::AddPartitionsToTxnReq { .. }
            | Msg::EndTxnReq { .. }
            | Msg::WriteTxnMarkersReq(_)
            | Msg::WriteTxnMarkersResp { .. }
            | Msg::TxnOffsetCommitReq(_)) => self.on_txn_msg(now, from, msg),
            Msg::MetadataReq => self.on_metadata(from),
            Msg::FindCoordinatorReq { group, key_type } => self.on_find_coordinator(from, &group, key_type),
            Msg::JoinGroupReq(req) => self.on_join_group(now, from, &req, ctx.rng()),
            Msg::SyncGroupReq {
                corr,
                group,
                member_id,
                generation,
                assignment,
            } => self.on_sync_group(now, from, corr, &group, &member_id, generation, &assignment),
            Msg::HeartbeatReq {
                group,
                member_id,
                generation,
                chain,
            } => self.on_heartbeat(now, from, &group, &member_id, generation, chain),
            Msg::LeaveGroupReq { group, member_id } => self.on_leave_group(now, from, &group, &member_id),
            Msg::GroupTimer { group, timer } => self.on_group_timer(now, &group, &timer),
            Msg::ConsumerHeartbeatReq(req) => self.on_consumer_group_heartbeat(now, from, &req),
            Msg::OffsetCommitReq {
                corr,
                group,
                member_id,
                generation,
                offsets,
            } => self.on_offset_commit(now, from, corr, &group, member_id.as_ref(), generation, offsets),
            Msg::OffsetFetchReq {
                group,
                partitions,
                require_stable,
                tag,
            } => self.on_offset_fetch(from, &group, &partitions, require_stable, tag),
            Msg::ListOffsetsReq {
                partitions,
                spec,
                tag,
            } => self.on_list_offsets(from, &partitions, spec, tag),
            msg @ Msg::ProduceReq { .. } => self.on_produce(now, from, msg, None),
            Msg::FetchReq {
                fetch_id,
                positions,
                max_wait_us,
                max_records,
                isolation,
                long_poll,
            } => {
                let read = crate::broker::purgatory::Read {
                    max_records,
                    isolation,
                };
                self.on_fetch(from, fetch_id, positions, max_wait_us, read, long_poll)
            }
            Msg::FetchExpired { token } => self.purgatory.expire(token, now, &mut self.rm, &mut self.fx),
            other => panic!("broker got a message it does not serve: {other:?}"),
        }
    }
}

impl Broker {
    /// Consults the fault-injection rules before request `msg` of `from` is handled.
    fn intercept(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        let Some(api) = interceptor::ApiKey::of(&msg) else {
            return self.dispatch(ctx, from, msg);
        };
        let partitions = interceptor::request_partitions(&msg, self.rm.cluster());
        let verdict = self.interceptor.inspect(ctx.now(), api, &partitions);
        let (error, delay) = match verdict {
            Verdict::Pass => (None, Time::ZERO),
            Verdict::Hold(d) => (None, d),
            Verdict::Fail { error, .. } => (Some(error), Time::ZERO),
        };
        if verdict != Verdict::Pass {
            self.fx.record(Event::Injected {
                api,
                from,
                error,
                delay,
            });
        }
        match verdict {
            Verdict::Pass => self.dispatch(ctx, from, msg),
            Verdict::Hold(delay) => self.interceptor.hold(from, msg, delay, &mut self.fx),
            Verdict::Fail { partition, .. } if api == interceptor::ApiKey::ListOffsets => {
                let Msg::ListOffsetsReq {
                    partitions,
                    spec,
                    tag,
                } = msg
                else {
                    unreachable!("a ListOffsets request")
                };
                let kept: Vec<_> = partitions
                    .into_iter()
                    .filter(|tp| partition.is_some_and(|p| p != *tp))
                    .collect();
                self.on_list_offsets(from, &kept, spec, tag);
            }
            Verdict::Fail {
                error,
                partition: Some(tp),
            } if api == interceptor::ApiKey::Fetch => {
                let Msg::FetchReq {
                    fetch_id,
                    positions,
                    max_records,
                    isolation,
                    ..
                } = msg
                else {
                    unreachable!("a Fetch request")
                };
                let read = crate::broker::purgatory::Read {
                    max_records,
                    isolation,
                };
                self.on_fetch_failing(from, fetch_id, &positions, read, (tp, error));
            }
            Verdict::Fail {
                error,
                partition: Some(tp),
            } if api == interceptor::ApiKey::Produce => {
                // the rule's partition fails, the request's other batches are appended
                let now = self.now;
                self.on_produce(now, from, msg, Some((tp, error)));
            }
            Verdict::Fail { error, partition } => {
                for resp in interceptor::error_response(msg, error, partition) {
                    self.fx.send(from, resp);
                }
            }
        }
    }
}

impl Actor<Msg, Event> for Broker {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        self.now = ctx.now();
        if self.crashed {
            self.handle_crashed(ctx.me(), from, msg);
        } else {
            let request = from != ctx.me() && msg.is_request();
            if request {
                self.note_peer(from);
            }
            if request && !self.interceptor.is_empty() {
                self.intercept(ctx, from, msg);
            } else {
                self.dispatch(ctx, from, msg);
            }
        }
        self.fx.apply(ctx);
    }
}
