//! The transaction coordinator host: the `transactional.id`s whose `__transaction_state`
//! partition this broker leads, their records in that partition, and the markers they send.
//!
//! Kafka's `TransactionStateManager` and `TransactionMarkerChannelManager` around the
//! coordinator's state machine ([`crate::transaction::TxnCoordinator`]), hosted as
//! [`super::group_host`] hosts groups over `__consumer_offsets`:
//!
//! * each transition is an entry of the id's `__transaction_state` partition
//!   ([`Internal::Txn`]), written with `acks=all`: the state changes (and the client is
//!   answered) once the high watermark passes the entry; a failed write (leadership lost,
//!   ISR below `min.insync.replicas`) answers the client with a coordinator error;
//! * markers: one WriteTxnMarkers per partition leader, for the partitions it leads; a
//!   partition without a leader, or whose leader failed, is sent again on
//!   [`TxnHost::retry_markers`] (Kafka's marker channel retries until it succeeds); once every
//!   partition has its marker the coordinator completes the transaction;
//! * a broker that becomes leader of a `__transaction_state` partition loads it, finishing
//!   each transaction it finds in PrepareCommit or PrepareAbort; one that stops leading it
//!   unloads its ids.
//!
//! The host never writes to a log or sends anything itself: it returns [`TxnAction`]s, and
//! the broker appends and sends.

use crate::cluster::ClusterState;
use crate::log::{Internal, PartitionLog};
use crate::protocol::ErrorCode;
use crate::transaction::{Markers, TxnConfig, TxnCoordinator, TxnOutput, TxnReply};
use crate::types::Tp;
use sim::{ActorId, Time};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the host asks its broker to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnAction {
    /// Append this entry to `__transaction_state` partition `tp`, then report its offset
    /// with [`TxnHost::appended`].
    Write(Tp, Internal),
    /// Answer a client.
    Reply(ActorId, TxnReply),
    /// Send WriteTxnMarkers to `leader` for `partitions` (those it leads).
    SendMarkers {
        /// The partitions' leader.
        leader: ActorId,
        /// `transactional.id` (echoed in the answer).
        transactional_id: Arc<str>,
        /// Producer id.
        producer_id: i64,
        /// Epoch the markers carry.
        epoch: i32,
        /// Commit or abort.
        commit: bool,
        /// Partitions.
        partitions: Vec<Tp>,
    },
}

/// Markers of one transaction still to be written.
#[derive(Clone, Debug)]
struct Fanout {
    markers: Markers,
    /// Partitions without their marker yet.
    left: BTreeSet<Tp>,
    /// Of those, the ones sent and not answered.
    in_flight: BTreeSet<Tp>,
}

/// The transactions this broker coordinates.
pub struct TxnHost {
    coord: TxnCoordinator,
    /// Entries written and not yet replicated: (partition, offset) → id.
    writes: BTreeMap<(Tp, i64), Arc<str>>,
    /// Markers being written, per id.
    fanouts: BTreeMap<Arc<str>, Fanout>,
    out: Vec<TxnOutput>,
}

impl TxnHost {
    /// No transaction yet.
    pub fn new(cfg: TxnConfig) -> TxnHost {
        TxnHost {
            coord: TxnCoordinator::new(cfg),
            writes: BTreeMap::new(),
            fanouts: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// The coordinator (to read states).
    pub fn coordinator(&self) -> &TxnCoordinator {
        &self.coord
    }

    /// Forgets everything (a crash).
    pub fn clear(&mut self) {
        self.coord.clear();
        self.writes.clear();
        self.fanouts.clear();
    }

    /// Runs one input through the coordinator and turns what it asked for into actions.
    pub fn drive(
        &mut self,
        cluster: &ClusterState,
        input: impl FnOnce(&mut TxnCoordinator, &mut Vec<TxnOutput>),
    ) -> Vec<TxnAction> {
        let mut out = std::mem::take(&mut self.out);
        input(&mut self.coord, &mut out);
        let actions = self.carry_out(cluster, &mut out);
        self.out = out;
        actions
    }

    fn carry_out(&mut self, cluster: &ClusterState, out: &mut Vec<TxnOutput>) -> Vec<TxnAction> {
        let mut actions = Vec::new();
        for o in out.drain(..) {
            match o {
                TxnOutput::Write(record) => {
                    let tp = cluster
                        .txn_tp(&record.transactional_id)
                        .expect("a __transaction_state topic");
                    actions.push(TxnAction::Write(tp, Internal::Txn(Box::new(record))));
                }
                TxnOutput::Reply(to, r) => actions.push(TxnAction::Reply(to, r)),
                TxnOutput::Markers(m) => {
                    let left: BTreeSet<Tp> = m.partitions.iter().copied().collect();
                    let f = Fanout {
                        markers: m,
                        left,
                        in_flight: BTreeSet::new(),
                    };
                    let tid = f.markers.transactional_id.clone();
                    self.fanouts.insert(tid.clone(), f);
                    self.send_markers(&tid, cluster, &mut actions);
                }
            }
        }
        actions
    }

    /// Sends the markers of `tid` not written nor in flight, one request per leader.
    fn send_markers(&mut self, tid: &Arc<str>, cluster: &ClusterState, actions: &mut Vec<TxnAction>) {
        let Some(f) = self.fanouts.get_mut(tid) else {
            return;
        };
        let mut by_leader: BTreeMap<ActorId, Vec<Tp>> = BTreeMap::new();
        for &tp in f.left.difference(&f.in_flight) {
            if let Some(leader) = cluster.leader_actor(tp) {
                by_leader.entry(leader).or_default().push(tp);
            }
        }
        for (leader, partitions) in by_leader {
            f.in_flight.extend(partitions.iter().copied());
            actions.push(TxnAction::SendMarkers {
                leader,
                transactional_id: tid.clone(),
                producer_id: f.markers.producer_id,
                epoch: f.markers.epoch,
                commit: f.markers.commit,
                partitions,
            });
        }
    }

    /// The entry of the last [`TxnAction::Write`] for `tid` is at `offset` of `tp` (`None`:
    /// it could not be written, with `error`).
    pub fn appended(
        &mut self,
        cluster: &ClusterState,
        tid: &Arc<str>,
        tp: Tp,
        offset: Result<i64, ErrorCode>,
    ) -> Vec<TxnAction> {
        match offset {
            Ok(o) => {
                self.writes.insert((tp, o), tid.clone());
                Vec::new()
            }
            Err(e) => self.drive(cluster, |c, out| c.written(tid, Err(e), out)),
        }
    }

    /// The high watermark of `__transaction_state` partition `tp` moved to `hw`: the entries
    /// below it are written.
    pub fn on_high_watermark(&mut self, cluster: &ClusterState, tp: Tp, hw: i64) -> Vec<TxnAction> {
        let done: Vec<(Tp, i64)> = self
            .writes
            .range((tp, i64::MIN)..(tp, hw))
            .map(|(k, _)| *k)
            .collect();
        let mut actions = Vec::new();
        for k in done {
            let tid = self.writes.remove(&k).expect("listed");
            actions.extend(self.drive(cluster, |c, out| c.written(&tid, Ok(()), out)));
        }
        actions
    }

    /// The entries of `tp` not yet replicated will not be (`error`: the ISR shrank below
    /// `min.insync.replicas`, or this broker lost the partition).
    pub fn on_write_failed(&mut self, cluster: &ClusterState, tp: Tp, error: ErrorCode) -> Vec<TxnAction> {
        let failed: Vec<(Tp, i64)> = self
            .writes
            .range((tp, i64::MIN)..=(tp, i64::MAX))
            .map(|(k, _)| *k)
            .collect();
        let mut actions = Vec::new();
        for k in failed {
            let tid = self.writes.remove(&k).expect("listed");
            actions.extend(self.drive(cluster, |c, out| c.written(&tid, Err(error), out)));
        }
        actions
    }

    /// A leader answered WriteTxnMarkers for `tid`: per partition, written or not.
    pub fn on_markers_answer(
        &mut self,
        now: Time,
        cluster: &ClusterState,
        tid: &Arc<str>,
        results: &[(Tp, Result<(), ErrorCode>)],
    ) -> Vec<TxnAction> {
        let Some(f) = self.fanouts.get_mut(tid) else {
            return Vec::new();
        };
        for (tp, r) in results {
            f.in_flight.remove(tp);
            if r.is_ok() {
                f.left.remove(tp);
            }
        }
        if !f.left.is_empty() {
            return Vec::new();
        }
        self.fanouts.remove(tid);
        self.drive(cluster, |c, out| c.markers_written(now, tid, out))
    }

    /// Sends again every marker not written and not in flight (a timer; after a metadata
    /// change); `lost` are leaders whose connection broke: what was in flight to them is sent
    /// again.
    pub fn retry_markers(&mut self, cluster: &ClusterState, lost: &[ActorId]) -> Vec<TxnAction> {
        let tids: Vec<Arc<str>> = self.fanouts.keys().cloned().collect();
        let mut actions = Vec::new();
        for tid in tids {
            let f = self.fanouts.get_mut(&tid).expect("listed");
            f.in_flight
                .retain(|tp| cluster.leader_actor(*tp).is_some_and(|l| !lost.contains(&l)));
            self.send_markers(&tid, cluster, &mut actions);
        }
        actions
    }

    /// The periodic timeout check (`transaction.abort.timed.out.transaction.cleanup.interval.ms`).
    pub fn abort_timed_out(&mut self, now: Time, cluster: &ClusterState) -> Vec<TxnAction> {
        self.drive(cluster, |c, out| {
            c.abort_timed_out(now, out);
        })
    }

    /// This broker now leads `__transaction_state` partition `tp`, whose log is `log`.
    pub fn load(&mut self, cluster: &ClusterState, log: &PartitionLog) -> Vec<TxnAction> {
        let records: Vec<_> = log
            .all()
            .iter()
            .filter_map(|e| e.internal.as_deref().and_then(Internal::as_txn))
            .cloned()
            .collect();
        self.drive(cluster, |c, out| c.load(&records, out))
    }

    /// This broker no longer leads `__transaction_state` partition `tp`.
    pub fn unload(&mut self, tp: Tp) {
        let coord = &self.coord;
        self.fanouts
            .retain(|tid, _| coord.partition_of(tid) != tp.partition);
        self.writes.retain(|k, _| k.0 != tp);
        self.coord.unload(tp.partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Entry;
    use crate::transaction::TxnState;
    use crate::types::{LogRecord, Payload, RecordId};

    const CLIENT: ActorId = ActorId(50);

    fn cluster() -> ClusterState {
        let brokers: Vec<ActorId> = (0..3).map(ActorId).collect();
        ClusterState::initial(brokers, &[(3, 3)], 50, 3).with_transaction_state(50, 3)
    }

    fn tid() -> Arc<str> {
        "pipeline-1".into()
    }

    /// A broker that appends every write to `log` and replicates it at once.
    struct Fake {
        host: TxnHost,
        cluster: ClusterState,
        log: PartitionLog,
        sent: Vec<TxnAction>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                host: TxnHost::new(TxnConfig::default()),
                cluster: cluster(),
                log: PartitionLog::new(),
                sent: Vec::new(),
            }
        }

        /// Carries actions out: writes are appended and replicated at once.
        fn run(&mut self, mut actions: Vec<TxnAction>) {
            while !actions.is_empty() {
                let mut next = Vec::new();
                for a in actions {
                    match a {
                        TxnAction::Write(tp, internal) => {
                            let seq = self.log.end_offset() as u32;
                            let entry = Entry {
                                record: LogRecord {
                                    id: RecordId {
                                        producer: u32::MAX,
                                        seq,
                                    },
                                    payload: Payload::new(None, None),
                                },
                                epoch: 0,
                                pseq: -1,
                                batch_seq: -1,
                                pepoch: 0,
                                internal: Some(Arc::new(internal)),
                                txn: None,
                            };
                            let o = self.log.append(entry, Time::ZERO);
                            next.extend(self.host.appended(&self.cluster, &tid(), tp, Ok(o)));
                            let hw = self.log.end_offset();
                            next.extend(self.host.on_high_watermark(&self.cluster, tp, hw));
                        }
                        other => self.sent.push(other),
                    }
                }
                actions = next;
            }
        }

        fn drive(&mut self, input: impl FnOnce(&mut TxnCoordinator, &mut Vec<TxnOutput>)) {
            let actions = self.host.drive(&self.cluster, input);
            self.run(actions);
        }

        fn marker_requests(&self) -> Vec<(ActorId, Vec<Tp>)> {
            self.sent
                .iter()
                .filter_map(|a| match a {
                    TxnAction::SendMarkers {
                        leader, partitions, ..
                    } => Some((*leader, partitions.clone())),
                    _ => None,
                })
                .collect()
        }

        fn state(&self) -> TxnState {
            self.host.coordinator().state(&tid()).expect("known").state
        }
    }

    /// Init, add partitions 0 and 1 of topic 0 (led by brokers 1 and 2), commit.
    fn committing(f: &mut Fake) -> (i64, i32) {
        f.drive(|c, out| c.init_producer_id(Time::ZERO, CLIENT, &tid(), 60_000_000, out));
        let Some(TxnAction::Reply(_, TxnReply::InitProducerId(Ok(pe)))) = f.sent.pop() else {
            panic!("{:?}", f.sent)
        };
        let tps = [Tp::new(0, 0), Tp::new(0, 1)];
        f.drive(|c, out| c.add_partitions(Time::ms(1), CLIENT, &tid(), pe.0, pe.1, &tps, out));
        f.drive(|c, out| c.end_txn(Time::ms(2), CLIENT, &tid(), pe.0, pe.1, true, out));
        pe
    }

    #[test]
    fn markers_go_to_each_leader_and_the_transaction_completes_once_all_are_written() {
        let mut f = Fake::new();
        let pe = committing(&mut f);
        assert!(f
            .sent
            .contains(&TxnAction::Reply(CLIENT, TxnReply::EndTxn(Ok((pe.0, pe.1 + 1))))));
        assert_eq!(
            f.marker_requests(),
            vec![
                (ActorId(0), vec![Tp::new(0, 0)]),
                (ActorId(1), vec![Tp::new(0, 1)])
            ]
        );
        assert_eq!(f.state(), TxnState::PrepareCommit);
        let c = f.cluster.clone();
        let a = f
            .host
            .on_markers_answer(Time::ms(3), &c, &tid(), &[(Tp::new(0, 0), Ok(()))]);
        f.run(a);
        assert_eq!(
            f.state(),
            TxnState::PrepareCommit,
            "one partition still lacks its marker"
        );
        // the other leader failed it: sent again on the retry
        let a = f.host.on_markers_answer(
            Time::ms(3),
            &c,
            &tid(),
            &[(Tp::new(0, 1), Err(ErrorCode::NotLeaderOrFollower))],
        );
        f.run(a);
        f.sent.clear();
        let a = f.host.retry_markers(&c, &[]);
        f.run(a);
        assert_eq!(f.marker_requests(), vec![(ActorId(1), vec![Tp::new(0, 1)])]);
        let a = f
            .host
            .on_markers_answer(Time::ms(4), &c, &tid(), &[(Tp::new(0, 1), Ok(()))]);
        f.run(a);
        assert_eq!(f.state(), TxnState::CompleteCommit);
        let written: Vec<TxnState> = f
            .log
            .all()
            .iter()
            .filter_map(|e| e.internal.as_deref().and_then(Internal::as_txn))
            .map(|t| t.state)
            .collect();
        assert_eq!(
            written,
            [
                TxnState::Empty,
                TxnState::Ongoing,
                TxnState::PrepareCommit,
                TxnState::CompleteCommit
            ]
        );
    }

    #[test]
    fn a_new_leader_of_the_partition_finishes_a_commit_left_in_prepare_commit() {
        let mut old = Fake::new();
        committing(&mut old);
        // the coordinator dies before any marker is answered; another broker leads its
        // __transaction_state partition and has the replicated log
        let mut new = Fake::new();
        let a = new.host.load(&old.cluster, &old.log);
        new.log = old.log.clone();
        new.run(a);
        assert_eq!(new.state(), TxnState::PrepareCommit);
        assert_eq!(new.marker_requests().len(), 2, "the markers go out again");
        let c = new.cluster.clone();
        let results = [(Tp::new(0, 0), Ok(())), (Tp::new(0, 1), Ok(()))];
        let a = new.host.on_markers_answer(Time::ms(9), &c, &tid(), &results);
        new.run(a);
        assert_eq!(new.state(), TxnState::CompleteCommit);
        // and one that stops leading it forgets the id
        let tp = c.txn_tp(&tid()).unwrap();
        new.host.unload(tp);
        assert!(new.host.coordinator().state(&tid()).is_none());
    }

    #[test]
    fn a_failed_write_answers_the_client_with_a_coordinator_error() {
        let mut f = Fake::new();
        let c = f.cluster.clone();
        let tp = c.txn_tp(&tid()).unwrap();
        let a = f.host.drive(&c, |co, out| {
            co.init_producer_id(Time::ZERO, CLIENT, &tid(), 60_000_000, out)
        });
        assert!(matches!(&a[..], [TxnAction::Write(t, _)] if *t == tp));
        let a = f.host.appended(&c, &tid(), tp, Ok(0));
        assert!(a.is_empty(), "waits for the high watermark");
        let a = f.host.on_write_failed(&c, tp, ErrorCode::NotEnoughReplicas);
        assert_eq!(
            a,
            vec![TxnAction::Reply(
                CLIENT,
                TxnReply::InitProducerId(Err(ErrorCode::CoordinatorNotAvailable))
            )]
        );
    }
}
