//! `lost-write`: an acknowledged record stays in the log. With `acks=all` and
//! `min.insync.replicas` a write the leader acknowledged survives any election of an in-sync
//! replica; an unclean election (`unclean.leader.election.enable`), `acks=1` with the leader
//! failing before followers fetched, or a deposed leader acknowledging lose it. The record
//! must be in the log at the end (the leader's, see [`super::leader_log`]) at the offset the
//! producer was told; for `acks=0`, with no offset told, anywhere in it.

use super::log_duplicate::places;
use super::{name, Anomaly, AnomalyKind, End, Invariant, Step};
use crate::history::Event;
use crate::types::{RecordId, Tp};
use sim::{ActorId, Time, TraceEntry};

/// The `lost-write` checker.
#[derive(Default)]
pub(crate) struct LostWrite {
    /// Every acknowledgement: record, partition, offset (negative: none), when, producer.
    acks: Vec<(RecordId, Tp, i64, Time, ActorId)>,
}

impl Invariant for LostWrite {
    fn entry(&mut self, _: &Step, e: &TraceEntry<Event>) {
        if let Event::Produced { id, tp, offset, .. } = &e.record {
            self.acks.push((*id, *tp, *offset, e.time, e.actor));
        }
    }

    fn finish(self, end: &End, out: &mut Vec<Anomaly>) {
        let at = places(end);
        for (id, tp, offset, t, client) in self.acks {
            let kept = if offset < 0 {
                at.contains_key(&id)
            } else {
                end.log.at(tp, offset) == Some(id)
            };
            if !kept {
                out.push(Anomaly {
                    kind: AnomalyKind::LostWrite,
                    group: None,
                    tp,
                    offset: Some(offset),
                    record: Some(id),
                    time: t,
                    clients: vec![name(end.names, client)],
                    detail: "acknowledged but not in the log at the end".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn an_acknowledgement_the_log_overwrote() {
        let mut h = H::new();
        h.write(0, 0, 0).at(1, BROKER, appended(1, 0));
        let a = run::<LostWrite>(&h);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(
            (a[0].record, a[0].clients.clone()),
            (Some(id(0)), vec!["p".to_string()])
        );
    }

    #[test]
    fn an_acknowledgement_an_election_cut_off() {
        let mut h = H::new();
        h.at(0, BROKER, elected(0, 0))
            .write(1, 0, 0)
            .at(2, C1, elected(1, 0));
        assert_eq!(run::<LostWrite>(&h).len(), 1);
    }

    #[test]
    fn acks_zero_is_kept_anywhere_in_the_log() {
        let mut h = H::new();
        h.at(0, BROKER, appended(0, 3)).at(0, PROD, acked(0, -1));
        assert!(run::<LostWrite>(&h).is_empty());
        h.at(1, PROD, acked(1, -1));
        assert_eq!(run::<LostWrite>(&h)[0].record, Some(id(1)));
    }
}
