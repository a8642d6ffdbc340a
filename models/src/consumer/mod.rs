//! The consumer client, with the application around it.
//!
//! Reproduces the life of a `KafkaConsumer` subscribed to topics in a group, as the Java
//! client, kafka-python and librdkafka run it, together with the application around it:
//!
//! 1. bootstrap (Metadata: the demos print `link kafka ok.`), FindCoordinator, then group
//!    membership ([`membership`]: JoinGroup/SyncGroup, or KIP-848 heartbeats);
//! 2. positions: OffsetFetch for committed offsets, ListOffsets with `auto.offset.reset` for
//!    partitions without one; Fetches, one in flight per leader ([`fetcher`]);
//! 3. the application loop ([`app`]): `poll()` returns a batch, the application — a
//!    [`ConsumerApp`], the built-in [`PolicyApp`] for scenario files — processes it record by
//!    record (a [`Event::Consumed`] when a record is done), commits as it chooses, polls
//!    again;
//! 4. heartbeats from a background thread every `heartbeat.interval.ms`; a rebalance they
//!    learn of is joined at the next `poll()`; `max.poll.interval.ms` without a `poll()` gives
//!    the membership up;
//! 5. every request under `request.timeout.ms`, the coordinator and leaders found again when
//!    they move ([`client`]);
//! 6. close: a final commit (auto-commit), revocation, LeaveGroup (dynamic members only —
//!    static members leave it to the session timeout); crash: nothing at all, the process
//!    and its connections vanish; restart: a new process with the same configuration (and
//!    the same application, told by [`ConsumerApp::on_restart`]).
//!
//! Auto-commit (`enable.auto.commit`) is the client's and follows the profile: Java and
//! kafka-python commit inside `poll()` the positions of the records already returned (so,
//! with synchronous processing, records that are processed); librdkafka commits on a timer
//! the offsets of records handed to the application — including the one it is processing.
//!
//! The [`Consumer`] actor is a shell: it routes each message to the component it is for and
//! carries out what the components ask for, in order.

pub mod app;
pub mod client;
mod discovery;
pub mod fetcher;
mod heartbeat_chain;
mod long_poll;
pub mod member_id;
pub mod membership;
mod pipeline;
mod poll;

pub use crate::scenario::CommitPolicy;
pub use app::{AppCtx, ConsumerApp, PolicyApp};
pub use fetcher::ConsumedRecord;
pub use pipeline::PipelineApp;

use crate::config::ConsumerConfig;
use crate::history::Event;
use crate::protocol::{ClientTimer, ErrorCode, Msg};
use crate::types::{MemberId, Metadata, Tp};
use app::{AppLoop, State};
use client::{Client, Req};
use fetcher::Fetcher;
use membership::{Membership, Out, Phase};
use poll::Listener;
use sim::{Actor, ActorId, Ctx, Time};
use std::sync::Arc;

/// What the built-in application around the consumer does (scenario files).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Commit policy.
    pub commit: CommitPolicy,
    /// Time to process one record.
    pub processing: Time,
}

/// `default.api.timeout.ms`: how long `commitSync()` keeps retrying a commit whose
/// coordinator moved.
const API_TIMEOUT_MS: u64 = 60_000;

/// A consumer process.
pub struct Consumer {
    cfg: Arc<ConsumerConfig>,
    topic_names: Vec<Arc<str>>,
    meta: Option<Arc<Metadata>>,
    /// Whether the client auto-commits (`enable.auto.commit`, and a built-in app that
    /// leaves commits to it).
    auto_commit: bool,
    /// The producer of the same process, for [`AppCtx::produce`].
    producer: Option<ActorId>,
    /// Manual assignment (`assign()`): topic and partition, instead of a subscription.
    manual: Option<Vec<(Arc<str>, u32)>>,
    user: Box<dyn ConsumerApp>,
    /// Membership's outputs, a buffer kept between inputs.
    outs: Vec<Out>,
    client: Client,
    member: Membership,
    fetcher: Fetcher,
    app: AppLoop,
    /// OffsetFetch answered `UNSTABLE_OFFSET_COMMIT`: asked again at the next rediscovery.
    offsets_retry: bool,
    /// Whether an idle Fetch may stay parked across its expiries ([`long_poll`]).
    park_idle: bool,
    /// The parked long-poll in flight.
    long_poll: Option<long_poll::InFlight>,
    /// The heartbeat chain going ([`heartbeat_chain`]).
    heartbeats: Option<heartbeat_chain::Beating>,
}

type Cx<'a, 'b> = &'a mut Ctx<'b, Msg, Event>;

impl Consumer {
    /// A consumer of `topics` with settings `cfg`, inside the built-in application that
    /// `behaviour` describes.
    pub fn new(
        cfg: ConsumerConfig,
        behaviour: Behaviour,
        brokers: Vec<ActorId>,
        topics: Vec<Arc<str>>,
    ) -> Consumer {
        let auto_commit = behaviour.commit == CommitPolicy::Auto && cfg.enable_auto_commit;
        let app = PolicyApp {
            commit: behaviour.commit,
            processing: behaviour.processing,
        };
        Consumer::build(cfg, brokers, topics, Box::new(app), auto_commit, None)
    }

    /// A consumer of `topics` with settings `cfg`, inside the user's application `app`;
    /// `producer`: the producer of the same process, which [`AppCtx::produce`] hands records
    /// to. Auto-commit is on if `enable.auto.commit` is.
    pub fn with_app(
        cfg: ConsumerConfig,
        brokers: Vec<ActorId>,
        topics: Vec<Arc<str>>,
        app: Box<dyn ConsumerApp>,
        producer: Option<ActorId>,
    ) -> Consumer {
        let auto_commit = cfg.enable_auto_commit;
        Consumer::build(cfg, brokers, topics, app, auto_commit, producer)
    }

    fn build(
        cfg: ConsumerConfig,
        brokers: Vec<ActorId>,
        topics: Vec<Arc<str>>,
        user: Box<dyn ConsumerApp>,
        auto_commit: bool,
        producer: Option<ActorId>,
    ) -> Consumer {
        let cfg = Arc::new(cfg);
        Consumer {
            client: Client::new(brokers, Time::ms(cfg.request_timeout_ms), 0)
                .with_join_timeout(Time::ms(cfg.join_timeout_ms())),
            member: Membership::new(cfg.clone(), 0),
            fetcher: Fetcher::default(),
            app: AppLoop::new(),
            park_idle: false,
            long_poll: None,
            heartbeats: None,
            cfg,
            topic_names: topics,
            meta: None,
            auto_commit,
            producer,
            manual: None,
            user,
            outs: Vec::new(),
            offsets_retry: false,
        }
    }

    /// Kafka's `assign()` instead of `subscribe()`: the consumer reads `partitions` (topic,
    /// partition) with no group membership — no FindCoordinator, JoinGroup or heartbeats, no
    /// rebalance listener; positions come from `auto.offset.reset` (no committed offsets are
    /// looked up), auto-commit is off and commits are refused (`UNKNOWN_MEMBER_ID`: the
    /// consumer has no member id).
    pub fn assign(mut self, partitions: Vec<(Arc<str>, u32)>) -> Consumer {
        self.manual = Some(partitions);
        self.auto_commit = false;
        self
    }

    /// Idle Fetches stay parked across their expiries, their cycle computed rather than
    /// simulated (see [`crate::protocol::long_poll`]); only on a one-broker cluster.
    pub fn park_idle_fetches(mut self, park: bool) -> Consumer {
        self.park_idle = park;
        self
    }

    /// kafka-python's fetch order: partitions in the order they were assigned, each new
    /// assignment shuffled by `rng` (see `fetcher`).
    pub fn fetch_in_assignment_order(mut self, rng: sim::rng::SimRng) -> Consumer {
        self.fetcher = Fetcher::in_assignment_order(rng);
        self
    }

    fn group(&self) -> Arc<str> {
        self.cfg.group_id.clone()
    }

    /// Sends nothing yet: registers request `req` to `to` with the client, arming the
    /// watchdog if needed, and returns its id.
    fn request(&mut self, ctx: Cx, req: Req, to: ActorId) -> u64 {
        let (id, arm) = self.client.send(req, to, ctx.now());
        if arm {
            ctx.timer(self.client.timeout(), Msg::ClientTimer(ClientTimer::Watchdog));
        }
        id
    }

    fn route(&mut self, ctx: Cx, from: ActorId, msg: Msg) {
        match msg {
            Msg::Start => self.start(ctx),
            Msg::Close => self.close(ctx),
            Msg::Crash => {
                ctx.reset_connections();
                ctx.record(Event::Crashed);
                self.member.phase = Phase::Crashed;
            }
            Msg::Restart => {}
            Msg::Stall(d) => self.on_stall(ctx, d),
            Msg::MetadataResp(meta, cluster) => self.on_metadata(ctx, meta, cluster),
            Msg::FindCoordinatorResp(c) => {
                if self.client.in_flight(Req::FindCoordinator) {
                    self.on_coordinator(ctx, c);
                }
            }
            Msg::ClientTimer(ClientTimer::Rediscover) => self.on_rediscover(ctx),
            Msg::ClientTimer(ClientTimer::RetryJoin(attempt)) => {
                let mut out = Vec::new();
                self.member.on_retry_join(attempt, &mut out);
                self.apply(ctx, out);
            }
            Msg::Disconnected => self.on_disconnected(ctx, from),
            Msg::JoinGroupResp { corr, result } => {
                if self.client.answer(corr, Req::Join) {
                    let mut out = std::mem::take(&mut self.outs);
                    self.member.on_join_answer(result, &mut out);
                    self.apply(ctx, out);
                }
            }
            Msg::ConsumerHeartbeatResp { corr, result } => {
                if self.client.answer(corr, Req::Join) {
                    let mut out = std::mem::take(&mut self.outs);
                    self.member.on_cg_answer(result, &mut out);
                    self.apply(ctx, out);
                }
            }
            Msg::SyncGroupResp { corr, result } => {
                if self.client.answer(corr, Req::Sync) {
                    let mut out = std::mem::take(&mut self.outs);
                    self.member.on_sync_answer(result, &mut out);
                    self.apply(ctx, out);
                }
            }
            Msg::ClientTimer(ClientTimer::Heartbeat(epoch)) => self.on_heartbeat_timer(ctx, epoch),
            Msg::HeartbeatResp(result) => {
                self.client.cancel(Req::Heartbeat);
                let mut out = std::mem::take(&mut self.outs);
                self.member.on_heartbeat_answer(result, &mut out);
                self.apply(ctx, out);
            }
            Msg::ClientTimer(ClientTimer::AutoCommit) => self.on_auto_commit(ctx),
            Msg::OffsetCommitResp {
                corr,
                offsets,
                result,
            } => self.on_commit_answer(ctx, corr, offsets, result),
            Msg::OffsetFetchResp { tag, offsets } => {
                if self.client.answer(tag, Req::Offsets) {
                    self.on_committed_offsets(ctx, offsets);
                }
            }
            Msg::ListOffsetsResp { tag, offsets } => {
                if self.client.answer(tag, Req::Offsets) {
                    self.on_reset_offsets(ctx, offsets);
                }
            }
            Msg::FetchResp {
                fetch_id,
                records,
                errors,
                next,
            } if self.client.answer(fetch_id, Req::Fetch) => self.on_fetch(ctx, records, errors, &next),
            Msg::FetchResp { .. } => {}
            Msg::LongPollEnded { fetch_id, long_poll } => self.on_long_poll_ended(ctx, fetch_id, &long_poll),
            Msg::ClientTimer(ClientTimer::ProcessDone) => {
                if self.app.state == State::Processing {
                    self.run(ctx);
                }
            }
            Msg::ClientTimer(ClientTimer::Resume) => self.on_resume(ctx),
            Msg::ClientTimer(ClientTimer::Watchdog) => self.on_watchdog(ctx),
            Msg::LeaveGroupResp => {}
            Msg::AppTxnDone { call, result } => self.on_txn_done(ctx, call, result),
            other => panic!("consumer got an unexpected message: {other:?}"),
        }
    }

    fn on_heartbeat_timer(&mut self, ctx: Cx, epoch: u64) {
        let idle = ctx.now().saturating_sub(self.app.last_poll);
        let overdue = self.app.state != State::Polling && idle > Time::ms(self.cfg.max_poll_interval_ms);
        let mut out = std::mem::take(&mut self.outs);
        self.member.on_heartbeat_timer(epoch, overdue, &mut out);
        self.heartbeat_or_chain(ctx, out);
    }

    fn on_watchdog(&mut self, ctx: Cx) {
        let now = ctx.now();
        for (req, _) in self.client.expire(now) {
            self.on_request_timeout(ctx, req);
        }
        if let Some(next) = self.client.rearm(now) {
            ctx.timer(next, Msg::ClientTimer(ClientTimer::Watchdog));
        }
    }

    /// Request `req` went unanswered for `request.timeout.ms` (a cut link, a dead broker).
    fn on_request_timeout(&mut self, ctx: Cx, req: Req) {
        let multi = self.client.multi_broker();
        match req {
            Req::Commit => {
                ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: ErrorCode::RequestTimedOut,
                });
                self.app.state = State::Polling;
                self.commit_failed(ctx);
            }
            Req::Join | Req::Sync => {
                self.client.cancel(Req::Join);
                self.client.cancel(Req::Sync);
                if multi {
                    return self.coordinator_lost(ctx);
                }
                let mut out = std::mem::take(&mut self.outs);
                self.member.send_join(&mut out);
                self.apply(ctx, out);
            }
            Req::Fetch => {
                if multi {
                    self.refresh_metadata(ctx);
                }
                self.maybe_fetch(ctx);
            }
            Req::Offsets if multi => self.coordinator_lost(ctx),
            Req::Offsets => self.lookup_positions(ctx),
            Req::FindCoordinator => {
                self.client.next_bootstrap += 1;
                self.find_coordinator(ctx);
            }
            Req::Metadata => self.refresh_metadata(ctx),
            Req::Heartbeat => unreachable!("heartbeats have no request timeout"),
        }
    }
}

impl Consumer {
    /// Carries out what membership asked for, in order.
    fn apply(&mut self, ctx: Cx, mut out: Vec<Out>) {
        for o in out.drain(..) {
            match o {
                Out::Join(mut req) => {
                    let to = self.client.coord();
                    req.corr = self.request(ctx, Req::Join, to);
                    ctx.send(to, Msg::JoinGroupReq(req));
                }
                Out::CgHeartbeat(mut req) => {
                    let to = self.client.coord();
                    req.corr = self.request(ctx, Req::Join, to);
                    ctx.send(to, Msg::ConsumerHeartbeatReq(req));
                }
                Out::Sync {
                    member_id,
                    generation,
                    assignment,
                } => self.send_sync(ctx, member_id, generation, assignment),
                Out::Heartbeat {
                    member_id,
                    generation,
                } => self.send_heartbeat(ctx, member_id, generation),
                Out::Leave { member_id } => {
                    self.client.next_id();
                    let group = self.group();
                    ctx.send(self.client.coord(), Msg::LeaveGroupReq { group, member_id });
                }
                Out::Record(e) => ctx.record(e),
                Out::HeartbeatTimer(after, epoch) => {
                    ctx.timer(after, Msg::ClientTimer(ClientTimer::Heartbeat(epoch)))
                }
                Out::Revoke {
                    partitions,
                    generation,
                    member_id,
                } => self.revoke(ctx, partitions, generation, member_id),
                Out::Lose {
                    partitions,
                    generation,
                    reason,
                } => self.lose(ctx, partitions, generation, reason),
                Out::Assigned {
                    generation,
                    partitions,
                } => {
                    self.fetcher.assigned(&partitions);
                    ctx.record(Event::Assigned {
                        group: self.group(),
                        generation,
                        partitions: partitions.as_slice().into(),
                    });
                    self.listener(ctx, Listener::Assigned, &partitions);
                }
                Out::Forget(tps) => self.drop_partitions(&tps),
                Out::LookupPositions => self.lookup_positions(ctx),
                Out::Poll if self.app.state == State::Polling => self.poll(ctx),
                Out::Fetch if self.app.state == State::Polling => self.maybe_fetch(ctx),
                Out::Poll | Out::Fetch => {}
                Out::ClearFetches => {
                    self.client.cancel(Req::Fetch);
                }
                Out::CoordinatorLost => self.coordinator_lost(ctx),
                Out::RetryJoin(attempt) => ctx.timer(
                    Time::ms(client::RETRY_BACKOFF_MS),
                    Msg::ClientTimer(ClientTimer::RetryJoin(attempt)),
                ),
            }
        }
        // the buffer is used again by the next input (none allocated per heartbeat)
        if self.outs.capacity() == 0 {
            self.outs = out;
        }
    }

    fn send_sync(
        &mut self,
        ctx: Cx,
        member_id: MemberId,
        generation: i32,
        assignment: Vec<(MemberId, Vec<Tp>)>,
    ) {
        let to = self.client.coord();
        let corr = self.request(ctx, Req::Sync, to);
        let group = self.group();
        let req = Msg::SyncGroupReq {
            corr,
            group,
            member_id,
            generation,
            assignment,
        };
        ctx.send(to, req);
    }

    /// A classic heartbeat, unless the coordinator stopped answering (then it is looked for
    /// again).
    fn send_heartbeat(&mut self, ctx: Cx, member_id: MemberId, generation: i32) {
        if let Some(since) = self.client.oldest(Req::Heartbeat) {
            if self.client.multi_broker() && ctx.now().saturating_sub(since) > self.client.timeout() {
                self.client.cancel(Req::Heartbeat);
                self.coordinator_lost(ctx);
            }
        }
        if self.client.coordinator.is_some() {
            let to = self.client.coord();
            let group = self.group();
            ctx.send_fixed(
                to,
                Msg::HeartbeatReq {
                    group,
                    member_id,
                    generation,
                    chain: None,
                },
            );
            self.client.heartbeat_sent(to, ctx.now());
        }
    }

    /// Partitions given up: commit first under auto-commit, then the `revoked` event and
    /// listener, then their positions are forgotten.
    fn revoke(&mut self, ctx: Cx, tps: Vec<Tp>, generation: i32, member_id: Option<MemberId>) {
        if self.auto_commit {
            let offsets: Vec<(Tp, i64)> = tps
                .iter()
                .filter_map(|tp| self.commit_offset(*tp).map(|o| (*tp, o)))
                .collect();
            self.send_commit_as(ctx, offsets, member_id, generation);
        }
        ctx.record(Event::Revoked {
            group: self.group(),
            generation,
            partitions: tps.as_slice().into(),
        });
        self.listener(ctx, Listener::Revoked, &tps);
        self.drop_partitions(&tps);
    }

    /// Partitions lost: the `lost` event and listener (if any), no commit.
    fn lose(&mut self, ctx: Cx, partitions: Vec<Tp>, generation: i32, reason: crate::history::LostReason) {
        if !partitions.is_empty() {
            ctx.record(Event::Lost {
                group: self.group(),
                generation,
                partitions: partitions.as_slice().into(),
                reason,
            });
            self.listener(ctx, Listener::Lost, &partitions);
        }
        self.drop_partitions(&partitions);
    }

    fn drop_partitions(&mut self, tps: &[Tp]) {
        self.fetcher.drop_partitions(tps);
        for tp in tps {
            self.app.stored.remove(tp);
        }
    }

    fn close(&mut self, ctx: Cx) {
        let mut out = std::mem::take(&mut self.outs);
        self.member.close(&mut out);
        self.apply(ctx, out);
    }

    /// Resets everything a process holds in memory (a restart starts from here); the
    /// application keeps what its external store keeps.
    fn reset_state(&mut self) {
        // the crash reset the connections, which dropped the armed watchdog with them;
        // correlation ids and timer epochs keep counting across incarnations
        let brokers = std::mem::take(&mut self.client.brokers);
        self.client = Client::new(
            brokers,
            Time::ms(self.cfg.request_timeout_ms),
            self.client.last_id(),
        )
        .with_join_timeout(Time::ms(self.cfg.join_timeout_ms()));
        self.member = Membership::new(self.cfg.clone(), self.member.hb_epoch + 1);
        self.fetcher = Fetcher::default();
        self.app = AppLoop::new();
        self.offsets_retry = false;
        self.meta = None;
        self.long_poll = None;
        self.heartbeats = None;
        self.user.on_restart();
    }
}

impl Actor<Msg, Event> for Consumer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        match (self.member.phase, &msg) {
            (Phase::Crashed | Phase::Closed, Msg::Restart) => {
                self.reset_state();
                ctx.record(Event::Restarted);
                self.start(ctx);
                return;
            }
            (Phase::Closed | Phase::Crashed | Phase::Failed, _) => return,
            _ => {}
        }
        self.route(ctx, from, msg);
        if self.app.close_requested && !self.member.ended() {
            self.close(ctx);
        }
        self.check_long_poll(ctx);
        self.check_heartbeat_chain(ctx);
    }
}
