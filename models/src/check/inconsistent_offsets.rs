//! `inconsistent-offsets`: one offset of a partition holds one record. Kafka's log is a
//! sequence: the offset a producer's `acks` reply names (`ProduceResponse.base_offset`) is
//! where a consumer's fetch finds the record, and every consumer of the partition reads the
//! same record there. Two different records at one offset — written there twice (a
//! truncated and rewritten log), acknowledged at it and later read there, read there by two
//! consumers, or read where the log holds another — break it (Jepsen's Kafka workload names
//! this `inconsistent-offsets`). Each (partition, offset, record) is reported once.

use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The `inconsistent-offsets` checker.
#[derive(Default)]
pub(crate) struct InconsistentOffsets {
    /// (tp, offset) → the first record seen there by a client (acknowledged or consumed).
    observed: BTreeMap<(Tp, i64), (RecordId, ActorId)>,
    /// What has been reported.
    reported: BTreeSet<(Tp, i64, RecordId)>,
    anomalies: Vec<Anomaly>,
}

impl InconsistentOffsets {
    /// Reports record `id` at `(tp, offset)` unless it was already.
    fn report(
        &mut self,
        group: Option<&Arc<str>>,
        (tp, offset, id): (Tp, i64, RecordId),
        time: Time,
        clients: Vec<String>,
        detail: String,
    ) {
        if self.reported.insert((tp, offset, id)) {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::InconsistentOffsets,
                group: group.cloned(),
                tp,
                offset: Some(offset),
                record: Some(id),
                time,
                clients,
                detail,
            });
        }
    }

    /// Notes that `client` saw record `id` at `(tp, offset)`; a different record seen there
    /// before is an anomaly.
    fn observe(
        &mut self,
        names: &[String],
        at: (Tp, i64, RecordId),
        t: Time,
        client: ActorId,
        group: Option<&Arc<str>>,
    ) {
        let (tp, offset, id) = at;
        match self.observed.get(&(tp, offset)) {
            None => {
                self.observed.insert((tp, offset), (id, client));
            }
            Some(&(other, who)) if other != id => {
                let same = who == client;
                let (who, client) = (name(names, who), name(names, client));
                let (detail, clients) = if same {
                    let detail = format!(
                        "{client} saw p{}-{} there after it had seen p{}-{} there",
                        id.producer, id.seq, other.producer, other.seq
                    );
                    (detail, vec![client])
                } else {
                    let detail = format!(
                        "{client} saw p{}-{} where {who} saw p{}-{}",
                        id.producer, id.seq, other.producer, other.seq
                    );
                    (detail, vec![who, client])
                };
                self.report(group, at, t, clients, detail);
            }
            Some(_) => {}
        }
    }
}

impl Invariant for InconsistentOffsets {
    fn entry(&mut self, step: &Step, e: &TraceEntry<Event>) {
        let (client, t) = (e.actor, e.time);
        match &e.record {
            Event::Appended { id, tp, offset } => {
                if let Some(Some((other, _))) = step.appended {
                    if other != *id {
                        let detail = format!(
                            "offset written twice: p{}-{} then p{}-{}",
                            other.producer, other.seq, id.producer, id.seq
                        );
                        let clients = vec![name(step.names, client)];
                        self.report(None, (*tp, *offset, *id), t, clients, detail);
                    }
                }
            }
            Event::Produced { id, tp, offset, .. } if *offset >= 0 => {
                self.observe(step.names, (*tp, *offset, *id), t, client, None);
            }
            Event::Consumed {
                group,
                tp,
                offset,
                id,
                ..
            } => {
                self.observe(step.names, (*tp, *offset, *id), t, client, Some(group));
                if let Some(other) = step.log.at(*tp, *offset) {
                    if other != *id {
                        let detail = format!(
                            "consumed p{}-{} where the log has p{}-{}",
                            id.producer, id.seq, other.producer, other.seq
                        );
                        let clients = vec![name(step.names, client)];
                        self.report(Some(group), (*tp, *offset, *id), t, clients, detail);
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(self, _: &End, out: &mut Vec<Anomaly>) {
        out.extend(self.anomalies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn an_offset_written_twice_is_reported_once_per_record() {
        let mut h = H::new();
        h.at(0, BROKER, appended(0, 0))
            .at(1, BROKER, appended(1, 0))
            .at(2, BROKER, appended(1, 0));
        let a = run::<InconsistentOffsets>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!((a[0].offset, a[0].record), (Some(0), Some(id(1))));
        assert_eq!(a[0].detail, "offset written twice: p0-0 then p0-1");
        assert_eq!(a[0].clients, vec!["broker-1".to_string()]);
    }

    #[test]
    fn acknowledged_at_one_offset_and_read_there_as_another() {
        let mut h = H::new();
        h.at(0, PROD, acked(0, 0)).consume(1, C1, 7, 0);
        let a = run::<InconsistentOffsets>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].detail, "c1 saw p0-7 where p saw p0-0");
        assert_eq!(a[0].group.as_deref(), Some("g"));
    }

    #[test]
    fn one_client_seeing_two_records_at_one_offset_is_named_once() {
        let mut h = H::new();
        h.at(0, PROD, acked(0, 0)).at(1, PROD, acked(1, 0));
        let a = run::<InconsistentOffsets>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].detail, "p saw p0-1 there after it had seen p0-0 there");
        assert_eq!(a[0].clients, vec!["p".to_string()]);
    }

    #[test]
    fn consuming_what_the_log_does_not_hold() {
        let mut h = H::new();
        h.at(0, BROKER, appended(0, 0)).consume(1, C1, 7, 0);
        let a = run::<InconsistentOffsets>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].detail, "consumed p0-7 where the log has p0-0");
    }

    #[test]
    fn the_same_record_everywhere_is_consistent() {
        let mut h = H::new();
        h.write(0, 0, 0).consume(1, C1, 0, 0).consume(2, C2, 0, 0);
        // an acks=0 record has no offset: nothing to compare
        h.at(3, PROD, acked(1, -1));
        assert!(run::<InconsistentOffsets>(&h).is_empty());
    }
}
