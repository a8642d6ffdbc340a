//! The broker actor: partition logs, the group coordinator and the committed offsets.
//!
//! One broker (node 1) leads every partition and coordinates every group — the single-node
//! cluster of the seed demos. It answers Metadata, Produce (acks=1: append, then answer),
//! Fetch with long polling (`fetch.min.bytes=1`: a fetch with no data waits up to the
//! client's `fetch.max.wait.ms` and is answered as soon as a record arrives), ListOffsets,
//! OffsetFetch and OffsetCommit, and forwards group requests to [`crate::coordinator`].

use crate::coordinator::{Group, GroupConfig, Output};
use crate::history::Event;
use crate::kip848::{self, ConsumerGroup};
use crate::log::PartitionLog;
use crate::protocol::{Msg, OffsetSpec};
use crate::types::{LogRecord, Metadata, Tp};
use rand::RngCore;
use sim::{Actor, ActorId, Ctx, Time};
use std::collections::BTreeMap;
use std::sync::Arc;

struct Parked {
    client: ActorId,
    fetch_id: u64,
    positions: Vec<(Tp, i64)>,
    max_records: usize,
}

/// The broker.
pub struct Broker {
    meta: Arc<Metadata>,
    logs: Vec<Vec<PartitionLog>>,
    groups: BTreeMap<Arc<str>, Group>,
    consumer_groups: BTreeMap<Arc<str>, ConsumerGroup>,
    offsets: BTreeMap<(Arc<str>, Tp), i64>,
    parked: BTreeMap<u64, Parked>,
    next_parked: u64,
    group_cfg: GroupConfig,
    out: Vec<Output>,
}

impl Broker {
    /// A broker hosting the topics in `meta`.
    pub fn new(meta: Arc<Metadata>, group_cfg: GroupConfig) -> Broker {
        let logs = meta
            .topics
            .iter()
            .map(|t| (0..t.partitions).map(|_| PartitionLog::new()).collect())
            .collect();
        Broker {
            meta,
            logs,
            groups: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            offsets: BTreeMap::new(),
            parked: BTreeMap::new(),
            next_parked: 0,
            group_cfg,
            out: Vec::new(),
        }
    }

    fn log(&self, tp: Tp) -> &PartitionLog {
        &self.logs[tp.topic as usize][tp.partition as usize]
    }

    fn valid(&self, tp: Tp) -> bool {
        (tp.topic as usize) < self.logs.len() && (tp.partition as usize) < self.logs[tp.topic as usize].len()
    }

    fn collect(&self, positions: &[(Tp, i64)], max_records: usize) -> Vec<(Tp, Vec<(i64, LogRecord)>)> {
        let mut left = max_records;
        let mut out = Vec::new();
        for &(tp, pos) in positions {
            if left == 0 {
                break;
            }
            if !self.valid(tp) {
                continue;
            }
            let recs: Vec<(i64, LogRecord)> = self
                .log(tp)
                .read(pos, left)
                .map(|(o, r)| (o, r.clone()))
                .collect();
            if !recs.is_empty() {
                left -= recs.len();
                out.push((tp, recs));
            }
        }
        out
    }

    fn group(&mut self, name: &Arc<str>) -> &mut Group {
        let cfg = self.group_cfg;
        self.groups
            .entry(name.clone())
            .or_insert_with(|| Group::new(name.clone(), cfg))
    }

    /// Runs one input through `group`'s state machine, then carries out what it asked for.
    fn drive_group(
        &mut self,
        ctx: &mut Ctx<'_, Msg, Event>,
        group: &Arc<str>,
        input: impl FnOnce(&mut Group, &mut Ctx<'_, Msg, Event>, &mut Vec<Output>),
    ) {
        let mut out = std::mem::take(&mut self.out);
        input(self.group(group), ctx, &mut out);
        self.out = out;
        self.flush(ctx, group);
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, Msg, Event>, group: &Arc<str>) {
        for o in std::mem::take(&mut self.out) {
            match o {
                Output::Reply(to, msg) => {
                    ctx.send(to, msg);
                }
                Output::Timer(at, timer) => {
                    let delay = at.saturating_sub(ctx.now());
                    ctx.timer(
                        delay,
                        Msg::GroupTimer {
                            group: group.clone(),
                            timer,
                        },
                    );
                }
                Output::Event(e) => ctx.record(e),
            }
        }
    }

    fn wake_parked(&mut self, ctx: &mut Ctx<'_, Msg, Event>, tp: Tp) {
        let leo = self.log(tp).end_offset();
        let ready: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, p)| p.positions.iter().any(|&(t, pos)| t == tp && pos < leo))
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let p = self.parked.remove(&id).expect("parked");
            let records = self.collect(&p.positions, p.max_records);
            ctx.send(
                p.client,
                Msg::FetchResp {
                    fetch_id: p.fetch_id,
                    records,
                },
            );
        }
    }
}

fn uuid_from(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl Actor<Msg, Event> for Broker {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, from: ActorId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::MetadataReq => {
                ctx.send(from, Msg::MetadataResp(self.meta.clone()));
            }
            Msg::FindCoordinatorReq { .. } => {
                ctx.send(from, Msg::FindCoordinatorResp);
            }
            Msg::JoinGroupReq(req) => {
                let group = req.group.clone();
                self.drive_group(ctx, &group, |g, ctx, out| {
                    g.join(now, from, &req, || uuid_from(ctx.rng()), out)
                });
            }
            Msg::SyncGroupReq {
                corr,
                group,
                member_id,
                generation,
                assignment,
            } => self.drive_group(ctx, &group, |g, _, out| {
                g.sync(now, from, corr, &member_id, generation, &assignment, out)
            }),
            Msg::HeartbeatReq {
                group,
                member_id,
                generation,
            } => self.drive_group(ctx, &group, |g, _, out| {
                g.heartbeat(now, from, &member_id, generation, out)
            }),
            Msg::LeaveGroupReq { group, member_id } => {
                self.drive_group(ctx, &group, |g, _, out| g.leave(now, from, &member_id, out))
            }
            Msg::GroupTimer { group, timer } if self.consumer_groups.contains_key(&group) => {
                let mut out = std::mem::take(&mut self.out);
                if let Some(g) = self.consumer_groups.get_mut(&group) {
                    g.on_timer(now, &timer, &mut out);
                }
                self.out = out;
                self.flush(ctx, &group);
            }
            Msg::GroupTimer { group, timer } => {
                self.drive_group(ctx, &group, |g, _, out| g.on_timer(now, &timer, out))
            }
            Msg::ConsumerHeartbeatReq(req) => {
                let group = req.group.clone();
                let partitions: Vec<u32> = self.meta.topics.iter().map(|t| t.partitions).collect();
                let mut out = std::mem::take(&mut self.out);
                let g = self.consumer_groups.entry(group.clone()).or_insert_with(|| {
                    ConsumerGroup::new(group.clone(), kip848::Config::default(), partitions)
                });
                g.heartbeat(now, from, &req, || uuid_from(ctx.rng()), &mut out);
                self.out = out;
                self.flush(ctx, &group);
            }
            Msg::OffsetCommitReq {
                corr,
                group,
                member_id,
                generation,
                offsets,
            } => {
                let result = match self.consumer_groups.get(&group) {
                    Some(g) => g.validate_commit(member_id.as_ref(), generation),
                    None => self.group(&group).validate_commit(member_id.as_ref(), generation),
                };
                if result.is_ok() {
                    for &(tp, off) in &offsets {
                        self.offsets.insert((group.clone(), tp), off);
                    }
                }
                ctx.send(
                    from,
                    Msg::OffsetCommitResp {
                        corr,
                        offsets,
                        result,
                    },
                );
            }
            Msg::OffsetFetchReq {
                group,
                partitions,
                tag,
            } => {
                let offsets = partitions
                    .iter()
                    .map(|&tp| (tp, self.offsets.get(&(group.clone(), tp)).copied()))
                    .collect();
                ctx.send(from, Msg::OffsetFetchResp { tag, offsets });
            }
            Msg::ListOffsetsReq {
                partitions,
                spec,
                tag,
            } => {
                let offsets = partitions
                    .iter()
                    .filter(|tp| self.valid(**tp))
                    .map(|&tp| {
                        let log = self.log(tp);
                        let o = match spec {
                            OffsetSpec::Earliest => log.start_offset(),
                            OffsetSpec::Latest => log.end_offset(),
                        };
                        (tp, o)
                    })
                    .collect();
                ctx.send(from, Msg::ListOffsetsResp { tag, offsets });
            }
            Msg::ProduceReq { tp, id, payload } => {
                assert!(self.valid(tp), "producer chose a partition that does not exist");
                let offset =
                    self.logs[tp.topic as usize][tp.partition as usize].append(LogRecord { id, payload });
                ctx.record(Event::Appended { id, tp, offset });
                ctx.send(from, Msg::ProduceResp { tp, id, offset });
                self.wake_parked(ctx, tp);
            }
            Msg::FetchReq {
                fetch_id,
                positions,
                max_wait_us,
                max_records,
            } => {
                let records = self.collect(&positions, max_records);
                if !records.is_empty() || max_wait_us == 0 {
                    ctx.send(from, Msg::FetchResp { fetch_id, records });
                } else {
                    let parked = self.next_parked;
                    self.next_parked += 1;
                    self.parked.insert(
                        parked,
                        Parked {
                            client: from,
                            fetch_id,
                            positions,
                            max_records,
                        },
                    );
                    ctx.timer(Time::us(max_wait_us), Msg::FetchExpired { parked });
                }
            }
            Msg::FetchExpired { parked } => {
                if let Some(p) = self.parked.remove(&parked) {
                    ctx.send(
                        p.client,
                        Msg::FetchResp {
                            fetch_id: p.fetch_id,
                            records: Vec::new(),
                        },
                    );
                }
            }
            other => panic!("broker got a message it does not serve: {other:?}"),
        }
    }
}
