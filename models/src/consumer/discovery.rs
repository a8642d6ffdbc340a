//! The consumer shell's traffic with the cluster: bootstrap and Metadata refreshes,
//! FindCoordinator, what a broker's disconnection fails, `retry.backoff.ms` before looking
//! the cluster up again, position look-ups (OffsetFetch, ListOffsets with
//! `auto.offset.reset`) and Fetches — the [`Client`](super::client::Client) and the
//! [`Fetcher`](super::fetcher::Fetcher) deciding, this carrying out.

use super::client::{Req, RETRY_BACKOFF_MS};
use super::fetcher::{Fetcher, Lookup};
use super::membership::Phase;
use super::{Consumer, Cx};
use crate::cluster::ClusterState;
use crate::history::{Event, PositionSource};
use crate::protocol::{
    ClientTimer, CoordinatorType, ErrorCode, FetchedRecords, IsolationLevel, Msg, OffsetSpec,
};
use crate::types::{Metadata, Tp};
use sim::{ActorId, Time};
use std::sync::Arc;

impl Consumer {
    pub(super) fn start(&mut self, ctx: Cx) {
        self.member.phase = Phase::Bootstrapping;
        self.app.last_poll = ctx.now();
        if self.cfg.group_protocol_consumer && self.manual.is_none() {
            // KIP-1082: the consumer makes its member id when it starts, from its own stream
            self.member.member_id = Some(super::member_id::random_member_id(ctx.rng()));
        }
        let to = self.client.brokers[0];
        self.request(ctx, Req::Metadata, to);
        ctx.send(to, Msg::MetadataReq);
        if self.auto_commit {
            let every = Time::ms(self.cfg.auto_commit_interval_ms);
            ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
        }
    }

    pub(super) fn on_metadata(&mut self, ctx: Cx, meta: Arc<Metadata>, cluster: Arc<ClusterState>) {
        self.client.update_cluster(cluster);
        self.client.cancel(Req::Metadata);
        if self.member.phase != Phase::Bootstrapping {
            let mut out = std::mem::take(&mut self.outs);
            self.member.update_topics(assignor_topics(&meta), &mut out);
            self.apply(ctx, out);
            if !self.client.in_flight(Req::Offsets) {
                self.lookup_positions(ctx);
            }
            return self.maybe_fetch(ctx);
        }
        let topics = self
            .topic_names
            .iter()
            .map(|n| {
                meta.topic_index(n)
                    .expect("scenario validation checked the topic exists")
            })
            .collect();
        let group_join = self.manual.is_none() && !self.cfg.group_protocol_consumer;
        if self.cfg.topics_after_bootstrap && group_join {
            // the bootstrap asked for no topics: the subscription's come retry.backoff.ms later
            self.member.subscribe(topics, unknown_topics(&meta));
            self.schedule_rediscover(ctx);
        } else {
            self.member.subscribe(topics, assignor_topics(&meta));
        }
        ctx.record(Event::Connected);
        if let Some(manual) = &self.manual {
            let mut tps: Vec<Tp> = manual
                .iter()
                .map(|(topic, partition)| Tp {
                    topic: meta
                        .topic_index(topic)
                        .expect("checked when the consumer was built"),
                    partition: *partition,
                })
                .collect();
            tps.sort_unstable();
            tps.dedup();
            self.meta = Some(meta);
            let mut out = std::mem::take(&mut self.outs);
            self.member.assign(tps, &mut out);
            return self.apply(ctx, out);
        }
        self.meta = Some(meta);
        self.member.phase = Phase::FindingCoordinator;
        self.find_coordinator(ctx);
    }

    pub(super) fn find_coordinator(&mut self, ctx: Cx) {
        if self.client.in_flight(Req::FindCoordinator) {
            return;
        }
        let to = self.client.bootstrap();
        self.request(ctx, Req::FindCoordinator, to);
        let key_type = CoordinatorType::Group;
        ctx.send(
            to,
            Msg::FindCoordinatorReq {
                group: self.group(),
                key_type,
            },
        );
    }

    pub(super) fn on_coordinator(&mut self, ctx: Cx, c: Option<ActorId>) {
        self.client.cancel(Req::FindCoordinator);
        let Some(c) = c else {
            // COORDINATOR_NOT_AVAILABLE: ask again after retry.backoff.ms
            return self.schedule_rediscover(ctx);
        };
        self.client.coordinator = Some(c);
        self.resume_commit(ctx);
        let awaiting = self.client.in_flight(Req::Join) || self.client.in_flight(Req::Sync);
        let mut out = std::mem::take(&mut self.outs);
        self.member.on_coordinator(awaiting, &mut out);
        self.apply(ctx, out);
        if !self.client.in_flight(Req::Offsets) {
            self.lookup_positions(ctx);
        }
    }

    /// The coordinator answered `NOT_COORDINATOR` or stopped answering: find it again, then
    /// carry on with what was interrupted.
    pub(super) fn coordinator_lost(&mut self, ctx: Cx) {
        self.client.coordinator = None;
        self.client.next_bootstrap += 1;
        self.schedule_rediscover(ctx);
    }

    /// A broker's process is gone: every request in flight to it failed.
    pub(super) fn on_disconnected(&mut self, ctx: Cx, from: ActorId) {
        if self.client.coordinator == Some(from) {
            self.client.cancel(Req::Join);
            self.client.cancel(Req::Sync);
            self.client.cancel(Req::Heartbeat);
            if self.app.state == super::State::Committing {
                self.client.cancel(Req::Commit);
                ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: ErrorCode::NetworkException,
                });
                self.commit_moved(ctx);
            }
            self.coordinator_lost(ctx);
        }
        if self.client.cancel_to(Req::Offsets, from) {
            self.schedule_rediscover(ctx);
        }
        if self.client.cancel_to(Req::Fetch, from) {
            self.schedule_rediscover(ctx);
        }
        if self.client.cancel_to(Req::Metadata, from) {
            self.schedule_rediscover(ctx);
        }
        if self.client.cancel_to(Req::FindCoordinator, from) {
            self.client.next_bootstrap += 1;
            self.schedule_rediscover(ctx);
        }
    }

    pub(super) fn refresh_metadata(&mut self, ctx: Cx) {
        if self.client.in_flight(Req::Metadata) {
            return;
        }
        let to = self.client.next_metadata_broker();
        self.request(ctx, Req::Metadata, to);
        ctx.send(to, Msg::MetadataReq);
    }

    /// Looks the cluster up again after `retry.backoff.ms` (a partition without a leader, a
    /// group without a coordinator).
    pub(super) fn schedule_rediscover(&mut self, ctx: Cx) {
        if self.client.want_rediscover() {
            ctx.timer(
                Time::ms(RETRY_BACKOFF_MS),
                Msg::ClientTimer(ClientTimer::Rediscover),
            );
        }
    }

    pub(super) fn on_rediscover(&mut self, ctx: Cx) {
        self.client.rediscover_fired();
        if self.app.state == super::State::CommitRetry
            && self
                .app
                .sync_commit
                .as_ref()
                .is_some_and(|(_, d)| ctx.now() >= *d)
        {
            self.resume_commit(ctx);
        } else if self.app.state == super::State::CommitRetry && self.client.coordinator.is_some() {
            // a retriable commit error from a coordinator that stays: send it again
            self.resume_commit(ctx);
        }
        self.refresh_metadata(ctx);
        if self.client.coordinator.is_none()
            && !matches!(self.member.phase, Phase::Bootstrapping | Phase::Idle)
        {
            self.find_coordinator(ctx);
        }
        if std::mem::take(&mut self.offsets_retry) && self.client.coordinator.is_some() {
            self.lookup_positions(ctx);
        }
    }

    // ---------------------------------------------------------------- positions and fetching

    pub(super) fn lookup_positions(&mut self, ctx: Cx) {
        match self.fetcher.lookup(&self.member.owned) {
            Lookup::Done => {}
            Lookup::Reset(tps) => self.list_offsets(ctx, tps),
            Lookup::Committed(tps) if self.member.manual => self.list_offsets(ctx, tps),
            Lookup::Committed(partitions) => {
                let to = self.client.coord();
                let tag = self.request(ctx, Req::Offsets, to);
                let group = self.group();
                ctx.send(
                    to,
                    Msg::OffsetFetchReq {
                        group,
                        partitions,
                        require_stable: self.cfg.isolation_level == IsolationLevel::ReadCommitted,
                        tag,
                    },
                );
            }
        }
    }

    /// ListOffsets (`auto.offset.reset`) for `missing`, to the leader of the first that has
    /// one and for the partitions it leads; the others come in the next round.
    fn list_offsets(&mut self, ctx: Cx, missing: Vec<Tp>) {
        let Some(cluster) = self.client.cluster.clone() else {
            return;
        };
        let Some((leader, partitions)) = Fetcher::list_offsets_target(&cluster, missing) else {
            return self.schedule_rediscover(ctx);
        };
        let tag = self.request(ctx, Req::Offsets, leader);
        let spec = self.cfg.auto_offset_reset;
        ctx.send(
            leader,
            Msg::ListOffsetsReq {
                partitions,
                spec,
                tag,
            },
        );
    }

    fn set_position(&mut self, ctx: Cx, tp: Tp, offset: i64, from: PositionSource) {
        if self.fetcher.set_position(&self.member.owned, tp, offset) {
            ctx.record(Event::PositionSet {
                group: self.group(),
                tp,
                offset,
                from,
            });
        }
    }

    pub(super) fn on_committed_offsets(
        &mut self,
        ctx: Cx,
        offsets: Result<Vec<(Tp, Option<i64>)>, ErrorCode>,
    ) {
        let offsets = match offsets {
            Ok(offsets) => offsets,
            // KIP-447: transactional offsets pending for a partition asked for (require_stable):
            // asked again after retry.backoff.ms, as Java's UnstableOffsetCommitException is
            Err(ErrorCode::UnstableOffsetCommit) => {
                self.offsets_retry = true;
                return self.schedule_rediscover(ctx);
            }
            Err(_) => return self.coordinator_lost(ctx),
        };
        let mut missing = Vec::new();
        for (tp, committed) in offsets {
            match committed {
                Some(o) => self.set_position(ctx, tp, o, PositionSource::Committed),
                None if self.member.owned.contains(&tp) => missing.push(tp),
                None => {}
            }
        }
        if !missing.is_empty() {
            self.list_offsets(ctx, missing);
        }
        self.maybe_fetch(ctx);
    }

    pub(super) fn on_reset_offsets(&mut self, ctx: Cx, offsets: Vec<(Tp, i64)>) {
        let earliest = self.cfg.auto_offset_reset == OffsetSpec::Earliest;
        for (tp, o) in offsets {
            // a position the log no longer had (OFFSET_OUT_OF_RANGE), reset mid-assignment
            let from = match (self.fetcher.take_reset(tp), earliest) {
                (true, true) => PositionSource::OutOfRangeEarliest,
                (true, false) => PositionSource::OutOfRangeLatest,
                (false, true) => PositionSource::Earliest,
                (false, false) => PositionSource::Latest,
            };
            self.set_position(ctx, tp, o, from);
        }
        self.lookup_positions(ctx);
        self.maybe_fetch(ctx);
    }

    pub(super) fn maybe_fetch(&mut self, ctx: Cx) {
        if self.app.state != super::State::Polling
            || !self.member.can_fetch()
            || self.fetcher.positions.is_empty()
        {
            return;
        }
        let Some(cluster) = self.client.cluster.as_ref() else {
            return;
        };
        let client = &self.client;
        let (sends, leaderless) = self
            .fetcher
            .plan(cluster, |b| client.in_flight_with(Req::Fetch, b));
        if leaderless {
            self.schedule_rediscover(ctx);
        }
        let park = self.may_park();
        for (leader, positions) in sends {
            if park {
                self.send_long_poll(ctx, leader, positions);
                continue;
            }
            let fetch_id = self.request(ctx, Req::Fetch, leader);
            ctx.send_fixed(
                leader,
                Msg::FetchReq {
                    fetch_id,
                    positions,
                    max_wait_us: Time::ms(self.cfg.fetch_max_wait_ms).as_us(),
                    max_records: self.cfg.max_poll_records,
                    isolation: self.cfg.isolation_level,
                    long_poll: None,
                },
            );
        }
    }

    pub(super) fn on_fetch(
        &mut self,
        ctx: Cx,
        records: FetchedRecords,
        errors: Vec<(Tp, ErrorCode)>,
        next: &[(Tp, i64, i64)],
    ) {
        let accept = self.member.can_fetch();
        let outcome = self
            .fetcher
            .on_fetched(records, errors, next, self.member.generation, accept);
        if outcome.rediscover {
            self.schedule_rediscover(ctx);
        }
        if outcome.reset {
            self.lookup_positions(ctx);
        }
        if self.app.state == super::State::Polling {
            if self.fetcher.buffer.is_empty() {
                self.maybe_fetch(ctx);
            } else {
                self.on_batch(ctx);
            }
        }
    }
}

/// The metadata's topics as a classic group leader's assignor sees them: real names (Java
/// orders topics by name and iterates its `HashMap`s of `TopicPartition`s by their hashes),
/// by metadata index.
fn assignor_topics(meta: &Metadata) -> Vec<crate::assignor::Topic> {
    meta.topics
        .iter()
        .enumerate()
        .map(|(i, t)| crate::assignor::Topic {
            name: t.name.clone(),
            id: crate::assignor::java::Uuid::for_topic_index(i as u32),
            partitions: t.partitions,
        })
        .collect()
}

/// The metadata's topics as a leader sees them before it learnt any: named, no partitions.
fn unknown_topics(meta: &Metadata) -> Vec<crate::assignor::Topic> {
    let mut topics = assignor_topics(meta);
    for t in &mut topics {
        t.partitions = 0;
    }
    topics
}
