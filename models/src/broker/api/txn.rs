//! The transaction APIs: InitProducerId, AddPartitionsToTxn, EndTxn (to the coordinator of a
//! `transactional.id`: the leader of its `__transaction_state` partition, else
//! `NOT_COORDINATOR`), WriteTxnMarkers (to a partition leader, from a coordinator),
//! TxnOffsetCommit (to the group coordinator), and
//! the coordinator's timers. They drive the transaction host
//! ([`crate::broker::txn_host`]) and carry out what it asks: its records appended to
//! `__transaction_state` (applied once the high watermark passes them), its answers, its
//! markers.

use crate::broker::replica_manager::Waiting;
use crate::broker::txn_host::TxnAction;
use crate::broker::Broker;
use crate::history::Event;
use crate::log::{Entry, TxnBatch};
use crate::protocol::{ErrorCode, Msg, ServerTimer, TxnMarkers, TxnOffsetCommit, TxnReply};
use crate::transaction::{TxnCoordinator, TxnOutput};
use crate::types::{LogRecord, Payload, RecordId, Tp};
use sim::{ActorId, Time};
use std::sync::Arc;

impl Broker {
    /// Routes a transaction API message.
    pub(in crate::broker) fn on_txn_msg(&mut self, now: Time, from: ActorId, msg: Msg) {
        match msg {
            Msg::InitProducerIdReq {
                transactional_id,
                timeout_us,
            } => {
                let refused = TxnReply::InitProducerId(Err(ErrorCode::NotCoordinator));
                self.on_txn_request(now, from, &transactional_id.clone(), refused, |c, out| {
                    c.init_producer_id(now, from, &transactional_id, timeout_us, out)
                });
            }
            Msg::AddPartitionsToTxnReq {
                transactional_id,
                producer_id,
                epoch,
                partitions,
            } => {
                let refused = TxnReply::AddPartitions(Err(ErrorCode::NotCoordinator));
                self.on_txn_request(now, from, &transactional_id.clone(), refused, |c, out| {
                    c.add_partitions(now, from, &transactional_id, producer_id, epoch, &partitions, out)
                });
            }
            Msg::EndTxnReq {
                transactional_id,
                producer_id,
                epoch,
                commit,
            } => {
                let refused = TxnReply::EndTxn(Err(ErrorCode::NotCoordinator));
                self.on_txn_request(now, from, &transactional_id.clone(), refused, |c, out| {
                    c.end_txn(now, from, &transactional_id, producer_id, epoch, commit, out)
                });
            }
            Msg::WriteTxnMarkersReq(m) => self.on_write_txn_markers(now, from, &m),
            Msg::WriteTxnMarkersResp {
                transactional_id,
                results,
            } => self.on_write_txn_markers_resp(now, &transactional_id, &results),
            Msg::TxnOffsetCommitReq(req) => self.on_txn_offset_commit(now, from, *req),
            other => unreachable!("not a transaction API message: {other:?}"),
        }
    }

    /// TxnOffsetCommit (KIP-447): checked against the group's generation and member like an
    /// OffsetCommit, written to the group's offsets partition, pending until the
    /// transaction's marker; answered (as an OffsetCommit) once replicated.
    fn on_txn_offset_commit(&mut self, now: Time, from: ActorId, req: TxnOffsetCommit) {
        let TxnOffsetCommit {
            corr,
            producer_id,
            group,
            member_id,
            generation,
            offsets,
        } = req;
        let result = if self.rm.coordinates(&group) {
            self.groups
                .validate_commit(&group, member_id.as_ref(), generation)
        } else {
            Err(ErrorCode::NotCoordinator)
        };
        if result.is_err() {
            self.fx.send(
                from,
                Msg::OffsetCommitResp {
                    corr,
                    offsets,
                    result,
                },
            );
            return;
        }
        let entry = self.groups.txn_commit(&group, producer_id, &offsets);
        let tp = self.rm.cluster().offsets_tp(&group);
        let offset = self.append_internal(now, tp, entry);
        let waiting = Waiting::Commit {
            client: from,
            corr,
            offsets,
            offset,
        };
        self.rm.wait(tp, waiting);
        self.advance_high_watermark(tp);
    }

    /// Whether this broker coordinates `tid` (it leads its `__transaction_state` partition).
    fn coordinates_txn(&self, tid: &str) -> bool {
        self.rm.cluster().txn_tp(tid).is_some_and(|tp| self.rm.leads(tp))
    }

    /// Runs a client's request through the coordinator of `tid`, or answers
    /// `NOT_COORDINATOR` with `refused`.
    pub(in crate::broker) fn on_txn_request(
        &mut self,
        now: Time,
        from: ActorId,
        tid: &Arc<str>,
        refused: TxnReply,
        input: impl FnOnce(&mut TxnCoordinator, &mut Vec<TxnOutput>),
    ) {
        if !self.coordinates_txn(tid) {
            self.fx.send(from, Msg::TxnResp(refused));
            return;
        }
        let actions = self.txns.drive(self.rm.cluster(), input);
        self.carry_txn(now, actions);
    }

    /// Carries out the transaction host's actions (and those they lead to).
    pub(in crate::broker) fn carry_txn(&mut self, now: Time, actions: Vec<TxnAction>) {
        for a in actions {
            match a {
                TxnAction::Write(tp, internal) => {
                    let tid = internal
                        .as_txn()
                        .expect("a transaction record")
                        .transactional_id
                        .clone();
                    if !self.rm.leads(tp) {
                        let more = self.txns.appended(
                            self.rm.cluster(),
                            &tid,
                            tp,
                            Err(ErrorCode::NotLeaderOrFollower),
                        );
                        self.carry_txn(now, more);
                        continue;
                    }
                    let offset = self.append_internal(now, tp, internal);
                    let more = self.txns.appended(self.rm.cluster(), &tid, tp, Ok(offset));
                    self.carry_txn(now, more);
                    self.advance_high_watermark(tp);
                }
                TxnAction::Reply(to, r) => self.fx.send(to, Msg::TxnResp(r)),
                TxnAction::SendMarkers {
                    leader,
                    transactional_id,
                    producer_id,
                    epoch,
                    commit,
                    partitions,
                } => {
                    let m = TxnMarkers {
                        transactional_id,
                        producer_id,
                        epoch,
                        commit,
                        partitions,
                    };
                    self.fx.send(leader, Msg::WriteTxnMarkersReq(Box::new(m)));
                }
            }
        }
    }

    /// The high watermark of `__transaction_state` partition `tp` moved: its records below
    /// are written.
    pub(in crate::broker) fn on_txn_state_high_watermark(&mut self, now: Time, tp: Tp) {
        let hw = self.rm.part(tp).map_or(0, |p| p.hw);
        let actions = self.txns.on_high_watermark(self.rm.cluster(), tp, hw);
        self.carry_txn(now, actions);
    }

    /// WriteTxnMarkers: a marker (control record, one offset) in each partition this broker
    /// leads; a commit marker in a `__consumer_offsets` partition makes the producer's
    /// pending transactional offsets there committed. Answered once appended.
    pub(in crate::broker) fn on_write_txn_markers(&mut self, now: Time, from: ActorId, m: &TxnMarkers) {
        let mut results = Vec::with_capacity(m.partitions.len());
        for &tp in &m.partitions {
            if !self.rm.leads(tp) {
                results.push((tp, Err(ErrorCode::NotLeaderOrFollower)));
                continue;
            }
            let part = self.rm.part(tp).expect("led");
            let entry = Entry {
                record: LogRecord {
                    id: RecordId {
                        producer: u32::MAX,
                        seq: part.log.end_offset() as u32,
                    },
                    payload: Payload::new(None, None),
                },
                epoch: part.leader_epoch,
                pseq: -1,
                batch_seq: -1,
                pepoch: 0,
                internal: None,
                txn: Some(TxnBatch::Marker {
                    producer_id: m.producer_id,
                    epoch: m.epoch,
                    commit: m.commit,
                }),
            };
            let offset = self.append(now, tp, entry);
            self.fx.record(Event::MarkerWritten {
                tp,
                offset,
                producer_id: m.producer_id,
                commit: m.commit,
            });
            if !self.rm.is_user_partition(tp) {
                let done = self
                    .groups
                    .complete_txn(tp, m.producer_id, m.commit, self.rm.cluster());
                for (group, offsets) in done {
                    self.fx.record(Event::TxnOffsetsCommitted {
                        group,
                        producer_id: m.producer_id,
                        offsets,
                    });
                }
            }
            self.advance_high_watermark(tp);
            results.push((tp, Ok(())));
        }
        let transactional_id = m.transactional_id.clone();
        self.fx.send(
            from,
            Msg::WriteTxnMarkersResp {
                transactional_id,
                results,
            },
        );
    }

    /// A leader answered WriteTxnMarkers.
    pub(in crate::broker) fn on_write_txn_markers_resp(
        &mut self,
        now: Time,
        tid: &Arc<str>,
        results: &[(Tp, Result<(), ErrorCode>)],
    ) {
        let actions = self.txns.on_markers_answer(now, self.rm.cluster(), tid, results);
        self.carry_txn(now, actions);
    }

    /// Markers not written yet are sent again (after a metadata change, or a leader's
    /// connection broke: `lost`).
    pub(in crate::broker) fn retry_txn_markers(&mut self, now: Time, lost: &[ActorId]) {
        let actions = self.txns.retry_markers(self.rm.cluster(), lost);
        self.carry_txn(now, actions);
    }

    /// Arms the timeout check, in clusters with transactions.
    pub(in crate::broker) fn arm_txn_abort_check(&mut self) {
        if self.rm.cluster().txn_tp("").is_some() {
            let every = self.txns.coordinator().config().abort_check_interval;
            self.fx.timer(
                every,
                Msg::ServerTimer(ServerTimer::TxnAbortCheck(self.incarnation)),
            );
        }
    }

    /// The timeout check fired: aborts what outlived `transaction.timeout.ms`.
    pub(in crate::broker) fn on_txn_abort_check(&mut self, now: Time) {
        let actions = self.txns.abort_timed_out(now, self.rm.cluster());
        self.carry_txn(now, actions);
        self.arm_txn_abort_check();
    }
}
