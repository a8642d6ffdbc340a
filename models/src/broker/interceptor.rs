//! Request-level fault injection: rules that make this broker answer a Kafka API with an
//! error, or hold a request back before handling it.
//!
//! What librdkafka's mock cluster does with `rd_kafka_mock_push_request_errors` (the next N
//! requests of an API fail with the given error) and `rd_kafka_mock_broker_push_request_error_rtts`
//! (and delay), and franz-go's kfake with `ControlKey` (intercept one API key): a rule names
//! an API ([`ApiKey`]), optionally one partition (for the coordinator APIs: the group's
//! `__consumer_offsets` partition), what to do ([`InjectAction`]: answer with a Kafka error,
//! or hold the request for a while and then handle it as usual) and when ([`InjectWhen`]:
//! the next N matching requests, or every one in a window of virtual time). The broker
//! consults its [`Interceptor`] before the API's handler runs; with no rule nothing changes.
//!
//! Build rules with [`InjectRule::error`] or [`InjectRule::delay`] and refine them:
//!
//! ```
//! use kafka_sim_models::broker::interceptor::{ApiKey, InjectRule};
//! use kafka_sim_models::protocol::ErrorCode;
//! use kafka_sim_models::types::Tp;
//! use sim::Time;
//!
//! let rules = vec![
//!     // the next 3 OffsetCommits fail with COORDINATOR_LOAD_IN_PROGRESS
//!     InjectRule::error(ApiKey::OffsetCommit, ErrorCode::CoordinatorLoadInProgress).times(3),
//!     // Produce to t-0 fails with NOT_LEADER_OR_FOLLOWER from 5 s to 8 s
//!     InjectRule::error(ApiKey::Produce, ErrorCode::NotLeaderOrFollower)
//!         .on_partition(Tp::new(0, 0))
//!         .during(Time::ms(5000), Time::ms(8000)),
//!     // every JoinGroup is handled 2 s late
//!     InjectRule::delay(ApiKey::JoinGroup, Time::ms(2000)).during(Time::ZERO, Time::MAX),
//! ];
//! assert!(rules.iter().all(|r| r.check().is_ok()));
//! ```

use super::effects::Effects;
use crate::cluster::ClusterState;
pub use crate::protocol::ApiKey;
use crate::protocol::{Acks, ErrorCode, FetchedRecords, Msg, ProduceResult, ServerTimer};
use crate::types::{Tp, VecMap};
use sim::{ActorId, Time};

/// What a rule does to a request it matches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InjectAction {
    /// Answer at once with this error instead of handling the request.
    Error(ErrorCode),
    /// Hold the request this long, then handle it as if it arrived then.
    Delay(Time),
}

/// Which matching requests a rule applies to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InjectWhen {
    /// The next `left` arriving at or after `from` (each one it applies to counts).
    Times {
        /// From when.
        from: Time,
        /// How many more.
        left: u32,
    },
    /// Every one arriving at or after `from` and before `until`.
    Window {
        /// Start (inclusive).
        from: Time,
        /// End (exclusive).
        until: Time,
    },
}

/// One fault-injection rule of a broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectRule {
    /// The API it applies to.
    pub api: ApiKey,
    /// Only requests that name this partition (Produce, Fetch, ListOffsets, OffsetCommit,
    /// OffsetFetch: a partition of the request; the coordinator APIs: the group's
    /// `__consumer_offsets` partition); `None`: every request of the API.
    pub partition: Option<Tp>,
    /// What it does.
    pub action: InjectAction,
    /// When.
    pub when: InjectWhen,
}

impl InjectRule {
    /// Answer the next request of `api` with `error` (once; see [`InjectRule::times`] and
    /// [`InjectRule::during`]).
    pub fn error(api: ApiKey, error: ErrorCode) -> InjectRule {
        InjectRule {
            api,
            partition: None,
            action: InjectAction::Error(error),
            when: InjectWhen::Times {
                from: Time::ZERO,
                left: 1,
            },
        }
    }

    /// Hold the next request of `api` for `delay` before handling it (once).
    pub fn delay(api: ApiKey, delay: Time) -> InjectRule {
        InjectRule {
            api,
            partition: None,
            action: InjectAction::Delay(delay),
            when: InjectWhen::Times {
                from: Time::ZERO,
                left: 1,
            },
        }
    }

    /// Applies to the next `n` matching requests (from the start, or from [`InjectRule::from`]).
    pub fn times(self, n: u32) -> InjectRule {
        let from = match self.when {
            InjectWhen::Times { from, .. } => from,
            InjectWhen::Window { from, .. } => from,
        };
        InjectRule {
            when: InjectWhen::Times { from, left: n },
            ..self
        }
    }

    /// Counts the next requests only from `from` on (for [`InjectRule::times`]).
    pub fn from(self, from: Time) -> InjectRule {
        let left = match self.when {
            InjectWhen::Times { left, .. } => left,
            InjectWhen::Window { .. } => 1,
        };
        InjectRule {
            when: InjectWhen::Times { from, left },
            ..self
        }
    }

    /// Applies to every matching request arriving in `[from, until)`.
    pub fn during(self, from: Time, until: Time) -> InjectRule {
        InjectRule {
            when: InjectWhen::Window { from, until },
            ..self
        }
    }

    /// Applies only to requests that name partition `tp`.
    pub fn on_partition(self, tp: Tp) -> InjectRule {
        InjectRule {
            partition: Some(tp),
            ..self
        }
    }

    /// Whether the rule makes sense: an error only for an API whose answer carries one, a
    /// window that ends after it starts.
    pub fn check(&self) -> Result<(), String> {
        if matches!(self.action, InjectAction::Error(_)) && !self.api.can_fail() {
            return Err(format!(
                "{} answers carry no error; only a delay applies",
                self.api.name()
            ));
        }
        if let InjectWhen::Window { from, until } = self.when {
            if until <= from {
                return Err(format!("empty window {from:?}..{until:?}"));
            }
        }
        Ok(())
    }

    fn matches(&self, now: Time, api: ApiKey, partitions: &[Tp]) -> bool {
        self.api == api
            && self.partition.is_none_or(|tp| partitions.contains(&tp))
            && match self.when {
                InjectWhen::Times { from, left } => from <= now && left > 0,
                InjectWhen::Window { from, until } => from <= now && now < until,
            }
    }
}

/// What the interceptor says of one request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Pass,
    /// Answer it with `error` (for `partition` only, where the answer is per partition).
    Fail {
        /// The error.
        error: ErrorCode,
        /// The rule's partition.
        partition: Option<Tp>,
    },
    /// Hold it this long.
    Hold(Time),
}

/// A broker's fault-injection rules and the requests they hold back.
#[derive(Debug, Default)]
pub struct Interceptor {
    /// The rules, first match wins; `Times` rules count down.
    rules: Vec<InjectRule>,
    held: VecMap<u64, (ActorId, Msg)>,
    next_held: u64,
}

impl Interceptor {
    /// An interceptor with these rules (rules that fail [`InjectRule::check`] never apply).
    pub fn new(rules: Vec<InjectRule>) -> Interceptor {
        let rules = rules.into_iter().filter(|r| r.check().is_ok()).collect();
        Interceptor {
            rules,
            held: VecMap::default(),
            next_held: 0,
        }
    }

    /// Whether it has no rule (then it is never consulted).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Decides what happens to a request of `api` naming `partitions`, arriving at `now`;
    /// counts it against the first rule it matches.
    pub fn inspect(&mut self, now: Time, api: ApiKey, partitions: &[Tp]) -> Verdict {
        let Some(rule) = self.rules.iter_mut().find(|r| r.matches(now, api, partitions)) else {
            return Verdict::Pass;
        };
        if let InjectWhen::Times { left, .. } = &mut rule.when {
            *left -= 1;
        }
        match rule.action {
            InjectAction::Error(error) => Verdict::Fail {
                error,
                partition: rule.partition,
            },
            InjectAction::Delay(d) => Verdict::Hold(d),
        }
    }

    /// Holds request `msg` of `from` for `delay`: a timer brings it back (see
    /// [`Interceptor::release`]).
    pub fn hold(&mut self, from: ActorId, msg: Msg, delay: Time, fx: &mut Effects) {
        let token = self.next_held;
        self.next_held += 1;
        self.held.insert(token, (from, msg));
        fx.timer(delay, Msg::ServerTimer(ServerTimer::Release(token)));
    }

    /// The held request of `token`, to handle now (`None`: forgotten by a crash).
    pub fn release(&mut self, token: u64) -> Option<(ActorId, Msg)> {
        self.held.remove(&token)
    }

    /// Forgets the held requests (a crash: they were in memory).
    pub fn clear_held(&mut self) {
        self.held.clear();
    }
}

/// The answers to request `msg` that fails with `error` (for `partition` only where
/// answers are per partition): one for a Produce with a result per failed batch (where the
/// rule names a partition, the broker appends the other batches and answers them together:
/// [`crate::broker::Broker`]'s produce handler), one for the other APIs; none where it gets none (acks=0, an API that
/// cannot fail) and for ListOffsets, whose answer has no error: the broker answers it
/// without the failed partitions, as a broker that does not lead them does.
pub fn error_response(msg: Msg, error: ErrorCode, partition: Option<Tp>) -> Vec<Msg> {
    let only = |tp: &Tp| partition.is_none_or(|p| p == *tp);
    if let Msg::ProduceReq { batches, acks, .. } = &msg {
        if *acks == Acks::None {
            return Vec::new();
        }
        let results: Vec<_> = batches
            .iter()
            .filter(|b| only(&b.tp))
            .map(|b| ProduceResult {
                tp: b.tp,
                id: b.first(),
                result: Err(error),
            })
            .collect();
        return if results.is_empty() {
            Vec::new()
        } else {
            vec![Msg::ProduceResp { results }]
        };
    }
    vec![match msg {
        Msg::FetchReq {
            fetch_id, positions, ..
        } => Msg::FetchResp {
            fetch_id,
            records: FetchedRecords::new(),
            errors: positions
                .iter()
                .filter(|(tp, _)| only(tp))
                .map(|&(tp, _)| (tp, error))
                .collect(),
            next: Vec::new(),
        },
        Msg::OffsetCommitReq { corr, offsets, .. } => Msg::OffsetCommitResp {
            corr,
            offsets,
            result: Err(error),
        },
        Msg::OffsetFetchReq { tag, .. } => Msg::OffsetFetchResp {
            tag,
            offsets: Err(error),
        },
        Msg::FindCoordinatorReq { .. } => Msg::FindCoordinatorResp(None),
        Msg::JoinGroupReq(req) => Msg::JoinGroupResp {
            corr: req.corr,
            result: Err((error, None)),
        },
        Msg::HeartbeatReq { .. } => Msg::HeartbeatResp(Err(error)),
        Msg::SyncGroupReq { corr, .. } => Msg::SyncGroupResp {
            corr,
            result: Err(error),
        },
        Msg::ConsumerHeartbeatReq(req) => Msg::ConsumerHeartbeatResp {
            corr: req.corr,
            result: Err(error),
        },
        _ => return Vec::new(),
    }]
}

/// The partitions request `msg` names, for rules on one partition: those of Produce, Fetch,
/// ListOffsets, OffsetCommit and OffsetFetch; for the coordinator APIs (OffsetCommit and
/// OffsetFetch too) the group's `__consumer_offsets` partition in `cluster`; none for
/// Metadata and replica fetches.
pub fn request_partitions(msg: &Msg, cluster: &ClusterState) -> Vec<Tp> {
    match msg {
        Msg::ProduceReq { batches, .. } => batches.iter().map(|b| b.tp).collect(),
        Msg::FetchReq { positions, .. } => positions.iter().map(|&(tp, _)| tp).collect(),
        Msg::ListOffsetsReq { partitions, .. } => partitions.clone(),
        // the committed partitions, and the group's offsets partition (rules on a group)
        Msg::OffsetCommitReq { offsets, group, .. } => offsets
            .iter()
            .map(|&(tp, _)| tp)
            .chain([cluster.offsets_tp(group)])
            .collect(),
        Msg::OffsetFetchReq {
            partitions, group, ..
        } => partitions
            .iter()
            .copied()
            .chain([cluster.offsets_tp(group)])
            .collect(),
        Msg::FindCoordinatorReq { group, .. }
        | Msg::HeartbeatReq { group, .. }
        | Msg::LeaveGroupReq { group, .. }
        | Msg::SyncGroupReq { group, .. } => vec![cluster.offsets_tp(group)],
        Msg::JoinGroupReq(req) => vec![cluster.offsets_tp(&req.group)],
        Msg::ConsumerHeartbeatReq(req) => vec![cluster.offsets_tp(&req.group)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testkit::{self, CLIENT, TP};
    use crate::types::RecordId;
    use std::sync::Arc;

    fn commit(corr: u64) -> Msg {
        Msg::OffsetCommitReq {
            corr,
            group: "g".into(),
            member_id: None,
            generation: -1,
            offsets: vec![(TP, 3)],
        }
    }

    fn produce(tp: Tp, acks: Acks) -> Msg {
        let record = crate::types::LogRecord {
            id: RecordId { producer: 1, seq: 0 },
            payload: crate::types::Payload::new(None, None),
        };
        let batch = crate::protocol::ProduceBatch {
            tp,
            records: vec![record],
            base_seq: 0,
            pepoch: 0,
        };
        Msg::ProduceReq {
            batches: vec![batch],
            acks,
            txn: None,
        }
    }

    fn fail(error: ErrorCode) -> Verdict {
        Verdict::Fail {
            error,
            partition: None,
        }
    }

    #[test]
    fn an_error_rule_applies_n_times_then_requests_pass() {
        let load = ErrorCode::CoordinatorLoadInProgress;
        let mut i = Interceptor::new(vec![InjectRule::error(ApiKey::OffsetCommit, load).times(2)]);
        let now = Time::ms(1);
        assert_eq!(
            i.inspect(now, ApiKey::OffsetFetch, &[]),
            Verdict::Pass,
            "another API"
        );
        assert_eq!(i.inspect(now, ApiKey::OffsetCommit, &[]), fail(load));
        assert_eq!(i.inspect(now, ApiKey::OffsetCommit, &[]), fail(load));
        assert_eq!(i.inspect(now, ApiKey::OffsetCommit, &[]), Verdict::Pass);
    }

    #[test]
    fn a_window_rule_applies_from_its_start_until_before_its_end() {
        let rule = InjectRule::error(ApiKey::Heartbeat, ErrorCode::NotCoordinator)
            .during(Time::ms(10), Time::ms(20));
        let mut i = Interceptor::new(vec![rule]);
        let at = |i: &mut Interceptor, ms| i.inspect(Time::ms(ms), ApiKey::Heartbeat, &[]);
        assert_eq!(at(&mut i, 9), Verdict::Pass);
        assert_eq!(at(&mut i, 10), fail(ErrorCode::NotCoordinator));
        assert_eq!(
            at(&mut i, 19),
            fail(ErrorCode::NotCoordinator),
            "not counted down"
        );
        assert_eq!(at(&mut i, 20), Verdict::Pass);
    }

    #[test]
    fn a_partition_rule_matches_only_requests_naming_it_and_the_first_rule_wins() {
        let other = Tp::new(0, 1);
        let mut i = Interceptor::new(vec![
            InjectRule::error(ApiKey::Produce, ErrorCode::KafkaStorageError).on_partition(TP),
            InjectRule::delay(ApiKey::Produce, Time::ms(300)),
        ]);
        assert_eq!(
            i.inspect(Time::ZERO, ApiKey::Produce, &[other]),
            Verdict::Hold(Time::ms(300))
        );
        let v = i.inspect(Time::ZERO, ApiKey::Produce, &[TP]);
        let storage = Verdict::Fail {
            error: ErrorCode::KafkaStorageError,
            partition: Some(TP),
        };
        assert_eq!(v, storage);
        assert_eq!(
            i.inspect(Time::ZERO, ApiKey::Produce, &[TP]),
            Verdict::Pass,
            "both used up"
        );
    }

    #[test]
    fn rules_an_answer_cannot_carry_are_refused() {
        let bad = InjectRule::error(ApiKey::Metadata, ErrorCode::UnknownServerError);
        assert!(bad.check().is_err());
        let empty = InjectRule::delay(ApiKey::Fetch, Time::ms(1)).during(Time::ms(5), Time::ms(5));
        assert!(empty.check().is_err());
        let mut i = Interceptor::new(vec![bad]);
        assert!(i.is_empty());
        assert_eq!(i.inspect(Time::ZERO, ApiKey::Metadata, &[]), Verdict::Pass);
        assert!(InjectRule::delay(ApiKey::Metadata, Time::ms(5)).check().is_ok());
    }

    #[test]
    fn counted_rules_count_from_their_start() {
        let rule = InjectRule::error(ApiKey::Heartbeat, ErrorCode::RebalanceInProgress)
            .times(2)
            .from(Time::ms(5));
        assert_eq!(
            rule.when,
            InjectWhen::Times {
                from: Time::ms(5),
                left: 2
            }
        );
        let mut i = Interceptor::new(vec![rule]);
        let fail = Verdict::Fail {
            error: ErrorCode::RebalanceInProgress,
            partition: None,
        };
        assert_eq!(
            i.inspect(Time::ms(1), ApiKey::Heartbeat, &[]),
            Verdict::Pass,
            "before its start"
        );
        assert_eq!(i.inspect(Time::ms(5), ApiKey::Heartbeat, &[]), fail);
        assert_eq!(i.inspect(Time::ms(6), ApiKey::Heartbeat, &[]), fail);
        assert_eq!(
            i.inspect(Time::ms(7), ApiKey::Heartbeat, &[]),
            Verdict::Pass,
            "used up"
        );
    }

    #[test]
    fn a_held_request_comes_back_by_its_own_timer() {
        let mut i = Interceptor::new(vec![InjectRule::delay(ApiKey::OffsetCommit, Time::ms(250))]);
        let mut fx = Effects::default();
        assert_eq!(
            i.inspect(Time::ZERO, ApiKey::OffsetCommit, &[]),
            Verdict::Hold(Time::ms(250))
        );
        i.hold(CLIENT, commit(7), Time::ms(250), &mut fx);
        let token = match fx.timers()[..] {
            [(d, Msg::ServerTimer(ServerTimer::Release(token)))] if d == Time::ms(250) => *token,
            ref other => panic!("expected the release timer, got {other:?}"),
        };
        let (from, msg) = i.release(token).expect("held");
        assert_eq!(from, CLIENT);
        assert!(matches!(msg, Msg::OffsetCommitReq { corr: 7, .. }));
        assert!(i.release(token).is_none(), "released once");
        i.hold(CLIENT, commit(8), Time::ms(250), &mut fx);
        i.clear_held();
        assert!(fx.timers().iter().all(|(_, m)| match m {
            Msg::ServerTimer(ServerTimer::Release(token)) => i.held.get(token).is_none(),
            _ => true,
        }));
    }

    #[test]
    fn error_answers_take_each_apis_shape() {
        let one = |v: Vec<Msg>| {
            assert!(v.len() <= 1, "{v:?}");
            v.into_iter().next()
        };
        let e = ErrorCode::NotLeaderOrFollower;
        assert!(matches!(
            one(error_response(produce(TP, Acks::All), e, None)),
            Some(Msg::ProduceResp { results }) if matches!(
                results.as_slice(),
                [ProduceResult {
                    tp: TP,
                    result: Err(ErrorCode::NotLeaderOrFollower),
                    ..
                }]
            )
        ));
        assert!(
            one(error_response(produce(TP, Acks::None), e, None)).is_none(),
            "acks=0: no answer"
        );
        let fetch = Msg::FetchReq {
            fetch_id: 3,
            positions: Arc::from(vec![(TP, 0), (Tp::new(0, 1), 0)]),
            max_wait_us: 500_000,
            max_records: 10,
            isolation: crate::protocol::IsolationLevel::ReadUncommitted,
            long_poll: None,
        };
        match one(error_response(fetch, e, Some(TP))) {
            Some(Msg::FetchResp {
                fetch_id: 3,
                records,
                errors,
                ..
            }) => {
                assert!(records.is_empty());
                assert_eq!(errors, vec![(TP, e)], "only the rule's partition");
            }
            other => panic!("expected a Fetch answer, got {other:?}"),
        }
        let load = ErrorCode::CoordinatorLoadInProgress;
        assert!(matches!(
            one(error_response(commit(9), load, None)),
            Some(Msg::OffsetCommitResp { corr: 9, result: Err(ErrorCode::CoordinatorLoadInProgress), ref offsets }) if offsets.len() == 1
        ));
        let find = Msg::FindCoordinatorReq {
            group: "g".into(),
            key_type: crate::protocol::CoordinatorType::Group,
        };
        assert!(matches!(
            one(error_response(find, load, None)),
            Some(Msg::FindCoordinatorResp(None))
        ));
        assert!(one(error_response(Msg::MetadataReq, load, None)).is_none());
    }

    #[test]
    fn coordinator_requests_name_their_offsets_partition() {
        let (_, cluster) = testkit::cluster(1);
        let hb = Msg::HeartbeatReq {
            group: "g".into(),
            member_id: "m".into(),
            generation: 1,
            chain: None,
        };
        assert_eq!(request_partitions(&hb, &cluster), vec![cluster.offsets_tp("g")]);
        assert_eq!(request_partitions(&produce(TP, Acks::All), &cluster), vec![TP]);
        assert!(request_partitions(&Msg::MetadataReq, &cluster).is_empty());
        assert_eq!(
            ApiKey::from_name("ConsumerGroupHeartbeat"),
            Some(ApiKey::ConsumerGroupHeartbeat)
        );
        assert!(ApiKey::ALL
            .iter()
            .all(|k| ApiKey::from_name(k.name()) == Some(*k)));
    }
}
