//! Hand-written histories for the checkers' unit tests.

use super::transactions::TxnView;
use super::{Anomaly, AnomalyKind, End, Invariant, LogView, Step};
use crate::history::{Event, PositionSource, TxnEvent, TxnStep};
use crate::types::{Payload, RecordId, Tp};
use sim::{ActorId, Time, Trace};
use std::sync::Arc;

pub(crate) const BROKER: ActorId = ActorId(0);
pub(crate) const PROD: ActorId = ActorId(1);
pub(crate) const C1: ActorId = ActorId(2);
pub(crate) const C2: ActorId = ActorId(3);

/// Partition `p` of topic 0.
pub(crate) fn tp(p: u32) -> Tp {
    Tp::new(0, p)
}

/// Record `seq` of producer 0.
pub(crate) fn id(seq: u32) -> RecordId {
    RecordId { producer: 0, seq }
}

/// The group every consumer of these histories is in.
pub(crate) fn g() -> Arc<str> {
    "g".into()
}

pub(crate) fn empty() -> Payload {
    Payload::new(None, None)
}

/// A leader elected for partition 0 with `epoch` and `log_end`.
pub(crate) fn elected(epoch: i32, log_end: i64) -> Event {
    Event::LeaderElected {
        tp: tp(0),
        epoch,
        log_end,
        unclean: false,
    }
}

/// Record `seq` appended at `offset` of partition 0.
pub(crate) fn appended(seq: u32, offset: i64) -> Event {
    Event::Appended {
        id: id(seq),
        tp: tp(0),
        offset,
    }
}

/// Record `seq` acknowledged at `offset` of partition 0.
pub(crate) fn acked(seq: u32, offset: i64) -> Event {
    Event::Produced {
        id: id(seq),
        tp: tp(0),
        offset,
        payload: empty(),
        batch: None,
    }
}

/// A history of a broker, a producer and two consumers of group `g`.
pub(crate) struct H(pub(crate) Trace<Event>);

impl H {
    pub(crate) fn new() -> H {
        H(Trace::new(vec![
            "broker-1".into(),
            "p".into(),
            "c1".into(),
            "c2".into(),
        ]))
    }
    pub(crate) fn at(&mut self, ms: u64, who: ActorId, e: Event) -> &mut Self {
        self.0.push(Time::ms(ms), who, e);
        self
    }
    /// Record `seq` appended at `offset` of partition 0 and acknowledged.
    pub(crate) fn write(&mut self, ms: u64, seq: u32, offset: i64) -> &mut Self {
        self.at(ms, BROKER, appended(seq, offset))
            .at(ms, PROD, acked(seq, offset))
    }
    pub(crate) fn assign(&mut self, ms: u64, who: ActorId, parts: &[u32]) -> &mut Self {
        let partitions = parts.iter().map(|p| tp(*p)).collect();
        self.at(
            ms,
            who,
            Event::Assigned {
                group: g(),
                generation: 1,
                partitions,
            },
        )
    }
    pub(crate) fn revoke(&mut self, ms: u64, who: ActorId, parts: &[u32]) -> &mut Self {
        let partitions = parts.iter().map(|p| tp(*p)).collect();
        self.at(
            ms,
            who,
            Event::Revoked {
                group: g(),
                generation: 1,
                partitions,
            },
        )
    }
    pub(crate) fn position(&mut self, ms: u64, who: ActorId, offset: i64) -> &mut Self {
        self.at(
            ms,
            who,
            Event::PositionSet {
                group: g(),
                tp: tp(0),
                offset,
                from: PositionSource::Latest,
            },
        )
    }
    pub(crate) fn consume(&mut self, ms: u64, who: ActorId, seq: u32, offset: i64) -> &mut Self {
        self.at(
            ms,
            who,
            Event::Consumed {
                group: g(),
                generation: 1,
                tp: tp(0),
                offset,
                id: id(seq),
                payload: empty(),
            },
        )
    }
}

/// The producer id of the transactional producer [`PROD`].
pub(crate) const PID: i64 = 42;

impl H {
    /// [`PROD`]'s transactional step.
    pub(crate) fn txn_step(&mut self, ms: u64, step: TxnStep) -> &mut Self {
        let e = TxnEvent {
            transactional_id: "t".into(),
            producer_id: PID,
            epoch: 0,
            step,
        };
        self.at(ms, PROD, Event::Txn(Box::new(e)))
    }

    /// [`PROD`] begins a transaction and writes `(seq, offset, value)` records to partition 0.
    pub(crate) fn txn_open_with(&mut self, ms: u64, records: &[(u32, i64, &[u8])]) -> &mut Self {
        self.txn_step(ms, TxnStep::Begin);
        for &(seq, offset, value) in records {
            let payload = Payload::new(None, Some(value));
            self.at(
                ms,
                PROD,
                Event::Send {
                    id: id(seq),
                    tp: tp(0),
                    payload,
                },
            );
            self.write(ms, seq, offset);
        }
        self
    }

    /// [`PROD`] begins a transaction and writes `(seq, offset)` records to partition 0.
    pub(crate) fn txn_open(&mut self, ms: u64, records: &[(u32, i64)]) -> &mut Self {
        let with: Vec<(u32, i64, &[u8])> = records.iter().map(|&(s, o)| (s, o, &b""[..])).collect();
        self.txn_open_with(ms, &with)
    }

    /// [`PROD`]'s transaction ends, its marker at `offset` of partition 0.
    pub(crate) fn txn_end(&mut self, ms: u64, offset: i64, commit: bool) -> &mut Self {
        let marker = Event::MarkerWritten {
            tp: tp(0),
            offset,
            producer_id: PID,
            commit,
        };
        self.at(ms, BROKER, marker);
        self.txn_step(
            ms,
            if commit {
                TxnStep::Committed
            } else {
                TxnStep::Aborted
            },
        )
    }

    /// A whole transaction of `(seq, offset, value)` records, begun at `ms`, its marker
    /// after the last record 3 ms later.
    pub(crate) fn txn_with(&mut self, ms: u64, records: &[(u32, i64, &[u8])], commit: bool) -> &mut Self {
        let last = records.iter().map(|r| r.1).max().unwrap_or(0);
        self.txn_open_with(ms, records).txn_end(ms + 3, last + 1, commit)
    }

    /// A whole transaction of `(seq, offset)` records, begun at `ms`, its marker after the
    /// last record 3 ms later.
    pub(crate) fn txn(&mut self, ms: u64, records: &[(u32, i64)], commit: bool) -> &mut Self {
        let last = records.iter().map(|r| r.1).max().unwrap_or(0);
        self.txn_open(ms, records).txn_end(ms + 3, last + 1, commit)
    }
}

/// What checker `C` alone finds in `h`, sorted.
pub(crate) fn run<C: Invariant + Default>(h: &H) -> Vec<Anomaly> {
    let (mut log, mut checker) = (LogView::default(), C::default());
    let mut txns = TxnView::default();
    let names = h.0.names();
    for e in h.0.entries() {
        let appended = log.apply(e);
        txns.apply(e);
        let step = Step {
            names,
            log: &log,
            txns: &txns,
            appended,
        };
        checker.entry(&step, e);
    }
    let end = End {
        names,
        log: &log,
        txns: &txns,
        end: h.0.entries().last().map_or(Time::ZERO, |e| e.time),
    };
    let mut out = Vec::new();
    checker.finish(&end, &mut out);
    out.sort();
    out
}

/// The kinds of `anomalies`, in order.
pub(crate) fn kinds(anomalies: &[Anomaly]) -> Vec<AnomalyKind> {
    anomalies.iter().map(|a| a.kind).collect()
}
