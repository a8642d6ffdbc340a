//! The consumer client of the classic group protocol (eager rebalancing).
//!
//! Reproduces the life of a `KafkaConsumer` subscribed to topics in a group, as kafka-python
//! and the Java client (with an eager assignor) run it:
//!
//! 1. bootstrap: Metadata (the demos print `link kafka ok.` once the constructor returns);
//! 2. FindCoordinator, then JoinGroup — first with no member id, answered
//!    `MEMBER_ID_REQUIRED` with one (KIP-394), then again with it;
//! 3. the leader runs the chosen assignor ([`crate::assignor`]) over every member's
//!    subscription and sends the result in SyncGroup; followers send an empty SyncGroup;
//! 4. for the assigned partitions: OffsetFetch for committed offsets, and ListOffsets with
//!    `auto.offset.reset` for partitions without one;
//! 5. a fetch loop (one Fetch in flight, long-polled by the broker for `fetch.max.wait.ms`);
//!    each fetched record in the current assignment is handed to the application
//!    (a [`Event::Consumed`]) and advances the position;
//! 6. heartbeats every `heartbeat.interval.ms`; an answer `REBALANCE_IN_PROGRESS`,
//!    `ILLEGAL_GENERATION` or `UNKNOWN_MEMBER_ID` makes it rejoin: with auto-commit on it
//!    first commits its positions (Java's `onJoinPrepare` commit), then revokes every
//!    partition — the eager protocol — and sends JoinGroup;
//! 7. auto-commit of the positions of records already returned, every
//!    `auto.commit.interval.ms`;
//! 8. on close: a final commit (auto-commit on), then LeaveGroup.
//!
//! Responses that belong to an older assignment (fetches, offset look-ups in flight during a
//! rebalance) are recognised by an epoch and dropped, as the Java client drops fetched data
//! for partitions it no longer owns.

use crate::assignor::AssignorKind;
use crate::config::ConsumerConfig;
use crate::history::Event;
use crate::protocol::{ClientTimer, ErrorCode, JoinGroup, JoinOk, Msg, OffsetSpec};
use crate::types::{LogRecord, MemberId, Metadata, Tp};
use sim::{Actor, ActorId, Ctx, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Bootstrapping,
    FindingCoordinator,
    Joining,
    Syncing,
    Stable,
    Closed,
}

/// A consumer process.
pub struct Consumer {
    cfg: ConsumerConfig,
    broker: ActorId,
    topic_names: Vec<Arc<str>>,
    meta: Option<Arc<Metadata>>,
    topics: Vec<u32>,
    phase: Phase,
    member_id: Option<MemberId>,
    generation: i32,
    assignment: Vec<Tp>,
    positions: BTreeMap<Tp, i64>,
    epoch: u64,
    fetch_seq: u64,
    in_flight: Option<(u64, u64)>,
}

type Cx<'a, 'b> = &'a mut Ctx<'b, Msg, Event>;

impl Consumer {
    /// A consumer of `topics` with settings `cfg`.
    pub fn new(cfg: ConsumerConfig, broker: ActorId, topics: Vec<Arc<str>>) -> Consumer {
        Consumer {
            cfg,
            broker,
            topic_names: topics,
            meta: None,
            topics: Vec::new(),
            phase: Phase::Idle,
            member_id: None,
            generation: -1,
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            epoch: 0,
            fetch_seq: 0,
            in_flight: None,
        }
    }

    fn group(&self) -> Arc<str> {
        self.cfg.group_id.clone()
    }

    fn send_join(&mut self, ctx: Cx) {
        self.phase = Phase::Joining;
        let req = JoinGroup {
            group: self.group(),
            member_id: self.member_id.clone(),
            instance_id: self.cfg.group_instance_id.clone(),
            client_id: self.cfg.client_id.clone(),
            session_timeout_us: Time::ms(self.cfg.session_timeout_ms).as_us(),
            rebalance_timeout_us: Time::ms(self.cfg.max_poll_interval_ms).as_us(),
            protocols: self.cfg.assignors.iter().map(|a| a.name()).collect(),
            topics: self.topics.clone(),
        };
        ctx.send(self.broker, Msg::JoinGroupReq(Box::new(req)));
    }

    fn commit_positions(&mut self, ctx: Cx) {
        if self.positions.is_empty() {
            return;
        }
        let offsets: Vec<(Tp, i64)> = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
        ctx.send(
            self.broker,
            Msg::OffsetCommitReq {
                group: self.group(),
                member_id: self.member_id.clone(),
                generation: self.generation,
                offsets,
            },
        );
    }

    /// Gives up the current assignment (eager protocol) — committing first when auto-commit is
    /// on — and moves to a new epoch so in-flight answers for it are ignored.
    fn revoke_all(&mut self, ctx: Cx) {
        if self.phase == Phase::Stable {
            if self.cfg.enable_auto_commit {
                self.commit_positions(ctx);
            }
            let partitions = std::mem::take(&mut self.assignment);
            ctx.record(Event::Revoked {
                group: self.group(),
                generation: self.generation,
                partitions,
            });
        }
        self.assignment.clear();
        self.positions.clear();
        self.epoch += 1;
    }

    fn rejoin(&mut self, ctx: Cx, forget_member: bool) {
        self.revoke_all(ctx);
        if forget_member {
            self.member_id = None;
            self.generation = -1;
        }
        self.send_join(ctx);
    }

    fn on_join(&mut self, ctx: Cx, j: JoinOk) {
        self.generation = j.generation;
        self.member_id = Some(j.member_id.clone());
        let leader = j.leader == j.member_id;
        ctx.record(Event::Joined {
            group: self.group(),
            member_id: j.member_id.clone(),
            generation: j.generation,
            leader,
        });
        let assignment = if leader {
            let meta = self.meta.as_ref().expect("bootstrapped");
            let counts: Vec<u32> = meta.topics.iter().map(|t| t.partitions).collect();
            let kind =
                AssignorKind::parse(j.protocol).expect("the group chose a protocol this member offered");
            kind.assign(&j.members, &counts).into_iter().collect()
        } else {
            Vec::new()
        };
        self.phase = Phase::Syncing;
        ctx.send(
            self.broker,
            Msg::SyncGroupReq {
                group: self.group(),
                member_id: j.member_id,
                generation: j.generation,
                assignment,
            },
        );
    }

    fn on_assignment(&mut self, ctx: Cx, partitions: Vec<Tp>) {
        self.phase = Phase::Stable;
        self.assignment = partitions.clone();
        ctx.record(Event::Assigned {
            group: self.group(),
            generation: self.generation,
            partitions: partitions.clone(),
        });
        let hb = Time::ms(self.cfg.heartbeat_interval_ms);
        ctx.timer(hb, Msg::ClientTimer(ClientTimer::Heartbeat(self.epoch)));
        if !partitions.is_empty() {
            ctx.send(
                self.broker,
                Msg::OffsetFetchReq {
                    group: self.group(),
                    partitions,
                    tag: self.epoch,
                },
            );
        }
    }

    fn set_position(&mut self, ctx: Cx, tp: Tp, offset: i64, from: &'static str) {
        if self.assignment.contains(&tp) && !self.positions.contains_key(&tp) {
            self.positions.insert(tp, offset);
            ctx.record(Event::PositionSet {
                group: self.group(),
                tp,
                offset,
                from,
            });
        }
    }

    fn maybe_fetch(&mut self, ctx: Cx) {
        if self.phase != Phase::Stable
            || self.in_flight.is_some()
            || self.assignment.is_empty()
            || self.positions.len() < self.assignment.len()
        {
            return;
        }
        self.fetch_seq += 1;
        self.in_flight = Some((self.fetch_seq, self.epoch));
        let positions = self.positions.iter().map(|(t, o)| (*t, *o)).collect();
        ctx.send(
            self.broker,
            Msg::FetchReq {
                fetch_id: self.fetch_seq,
                positions,
                max_wait_us: Time::ms(self.cfg.fetch_max_wait_ms).as_us(),
                max_records: self.cfg.max_poll_records,
            },
        );
    }

    fn on_fetch(&mut self, ctx: Cx, fetch_id: u64, records: Vec<(Tp, Vec<(i64, LogRecord)>)>) {
        let Some((id, epoch)) = self.in_flight else { return };
        if id != fetch_id {
            return;
        }
        self.in_flight = None;
        if epoch == self.epoch && self.phase == Phase::Stable {
            for (tp, recs) in records {
                for (offset, rec) in recs {
                    let Some(pos) = self.positions.get_mut(&tp) else {
                        break;
                    };
                    if *pos != offset {
                        continue;
                    }
                    *pos = offset + 1;
                    ctx.record(Event::Consumed {
                        group: self.cfg.group_id.clone(),
                        generation: self.generation,
                        tp,
                        offset,
                        id: rec.id,
                        payload: rec.payload,
                    });
                }
            }
        }
        self.maybe_fetch(ctx);
    }

    fn close(&mut self, ctx: Cx) {
        if self.phase == Phase::Closed {
            return;
        }
        let was_member = matches!(self.phase, Phase::Stable | Phase::Syncing | Phase::Joining);
        self.revoke_all(ctx);
        if let (true, Some(member_id)) = (was_member, self.member_id.clone()) {
            ctx.send(
                self.broker,
                Msg::LeaveGroupReq {
                    group: self.group(),
                    member_id: member_id.clone(),
                },
            );
            ctx.record(Event::Left {
                group: self.group(),
                member_id,
            });
        }
        self.phase = Phase::Closed;
        ctx.record(Event::Closed);
    }
}

impl Actor<Msg, Event> for Consumer {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, _from: ActorId, msg: Msg) {
        if self.phase == Phase::Closed {
            return;
        }
        match msg {
            Msg::Start => {
                self.phase = Phase::Bootstrapping;
                ctx.send(self.broker, Msg::MetadataReq);
                if self.cfg.enable_auto_commit {
                    let every = Time::ms(self.cfg.auto_commit_interval_ms);
                    ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
                }
            }
            Msg::Close => self.close(ctx),
            Msg::MetadataResp(meta) => {
                self.topics = self
                    .topic_names
                    .iter()
                    .map(|n| {
                        meta.topic_index(n)
                            .expect("scenario validation checked the topic exists")
                    })
                    .collect();
                self.topics.sort_unstable();
                self.meta = Some(meta);
                ctx.record(Event::Connected);
                self.phase = Phase::FindingCoordinator;
                ctx.send(self.broker, Msg::FindCoordinatorReq { group: self.group() });
            }
            Msg::FindCoordinatorResp => self.send_join(ctx),
            Msg::JoinGroupResp(result) => {
                if self.phase != Phase::Joining {
                    return;
                }
                match result {
                    Ok(j) => self.on_join(ctx, j),
                    Err((ErrorCode::MemberIdRequired, Some(id))) => {
                        self.member_id = Some(id);
                        self.send_join(ctx);
                    }
                    Err((ErrorCode::UnknownMemberId, _)) => {
                        self.member_id = None;
                        self.send_join(ctx);
                    }
                    Err((e, _)) => {
                        ctx.record(Event::Fatal { error: e.name() });
                        self.phase = Phase::Closed;
                        ctx.record(Event::Closed);
                    }
                }
            }
            Msg::SyncGroupResp(result) => {
                if self.phase != Phase::Syncing {
                    return;
                }
                match result {
                    Ok(partitions) => self.on_assignment(ctx, partitions),
                    Err(ErrorCode::UnknownMemberId) => self.rejoin(ctx, true),
                    Err(_) => self.rejoin(ctx, false),
                }
            }
            Msg::ClientTimer(ClientTimer::Heartbeat(epoch)) => {
                if epoch == self.epoch && self.phase == Phase::Stable {
                    ctx.send(
                        self.broker,
                        Msg::HeartbeatReq {
                            group: self.group(),
                            member_id: self.member_id.clone().expect("member"),
                            generation: self.generation,
                        },
                    );
                    let hb = Time::ms(self.cfg.heartbeat_interval_ms);
                    ctx.timer(hb, Msg::ClientTimer(ClientTimer::Heartbeat(epoch)));
                }
            }
            Msg::HeartbeatResp(result) => {
                if self.phase != Phase::Stable {
                    return;
                }
                match result {
                    Ok(()) => {}
                    Err(ErrorCode::UnknownMemberId) => self.rejoin(ctx, true),
                    Err(_) => self.rejoin(ctx, false),
                }
            }
            Msg::ClientTimer(ClientTimer::AutoCommit) => {
                if self.phase == Phase::Stable {
                    self.commit_positions(ctx);
                }
                let every = Time::ms(self.cfg.auto_commit_interval_ms);
                ctx.timer(every, Msg::ClientTimer(ClientTimer::AutoCommit));
            }
            Msg::OffsetCommitResp { offsets, result } => match result {
                Ok(()) => ctx.record(Event::Committed {
                    group: self.group(),
                    generation: self.generation,
                    offsets,
                }),
                Err(e) => ctx.record(Event::CommitFailed {
                    group: self.group(),
                    error: e.name(),
                }),
            },
            Msg::OffsetFetchResp { tag, offsets } => {
                if tag != self.epoch || self.phase != Phase::Stable {
                    return;
                }
                let mut missing = Vec::new();
                for (tp, committed) in offsets {
                    match committed {
                        Some(o) => self.set_position(ctx, tp, o, "committed"),
                        None => missing.push(tp),
                    }
                }
                if missing.is_empty() {
                    self.maybe_fetch(ctx);
                } else {
                    ctx.send(
                        self.broker,
                        Msg::ListOffsetsReq {
                            partitions: missing,
                            spec: self.cfg.auto_offset_reset,
                            tag: self.epoch,
                        },
                    );
                }
            }
            Msg::ListOffsetsResp { tag, offsets } => {
                if tag != self.epoch || self.phase != Phase::Stable {
                    return;
                }
                let from = match self.cfg.auto_offset_reset {
                    OffsetSpec::Earliest => "earliest",
                    OffsetSpec::Latest => "latest",
                };
                for (tp, o) in offsets {
                    self.set_position(ctx, tp, o, from);
                }
                self.maybe_fetch(ctx);
            }
            Msg::FetchResp { fetch_id, records } => self.on_fetch(ctx, fetch_id, records),
            Msg::LeaveGroupResp => {}
            other => panic!("consumer got an unexpected message: {other:?}"),
        }
    }
}
