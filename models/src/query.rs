//! Questions a run's history answers, asked once for every reader: which member of a consumer
//! group owned which partition when, what each group and client consumed, and which records
//! the brokers acknowledged to producers.
//!
//! Ownership follows the consumer's rebalance listener, as the Java client reports it: a
//! partition is owned from the `onPartitionsAssigned` of a generation ([`Event::Assigned`])
//! until `onPartitionsRevoked` ([`Event::Revoked`], eager or KIP-429 cooperative) or
//! `onPartitionsLost` ([`Event::Lost`]: the membership ended under the member), or until the
//! process itself ends ([`Event::Crashed`], [`Event::Closed`], [`Event::Fatal`]). Like the
//! checker, these queries read only [`Event`]s, so a simulated run and a run recorded against
//! a real broker answer alike.
//!
//! [`Owners`] is the fold behind [`ownership`] and [`final_assignment`], for readers that go
//! through a history once and keep their own state per owned partition (the checker keeps
//! the offsets a member read inside its assignment).

use crate::history::Event;
use crate::types::{Payload, RecordId, Tp};
use sim::{ActorId, Time, Trace, TraceEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One member's ownership of one partition, from its assignment to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// Consumer group.
    pub group: Arc<str>,
    /// The consumer process.
    pub client: ActorId,
    /// Partition.
    pub tp: Tp,
    /// Generation (KIP-848: member epoch) of the assignment that gave it.
    pub generation: i32,
    /// When it was assigned.
    pub start: Time,
    /// When it was revoked or lost, or the member ended; `None` while still owned at the end
    /// of the history.
    pub end: Option<Time>,
}

impl Ownership {
    /// The end, with `open` standing for "still owned".
    pub fn end_or(&self, open: Time) -> Time {
        self.end.unwrap_or(open)
    }
}

/// An ownership still open, with the reader's state for it.
#[derive(Clone, Debug)]
struct Held<S> {
    group: Arc<str>,
    generation: i32,
    start: Time,
    state: S,
}

impl<S> Held<S> {
    fn ownership(self, client: ActorId, tp: Tp, end: Option<Time>) -> Ownership {
        Ownership {
            group: self.group,
            client,
            tp,
            generation: self.generation,
            start: self.start,
            end,
        }
    }
}

/// Ownership folded over a history one entry at a time. `S` is state a reader keeps per open
/// ownership: created with `S::default()` at each assignment, dropped at its end.
///
/// An assignment of a partition the member already holds starts a new ownership (and a fresh
/// `S`) in place of the open one.
#[derive(Clone, Debug)]
pub struct Owners<S = ()> {
    open: BTreeMap<(ActorId, Tp), Held<S>>,
    /// Every client that received an assignment → the group of its first.
    members: BTreeMap<ActorId, Arc<str>>,
}

impl<S> Default for Owners<S> {
    fn default() -> Self {
        Owners {
            open: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }
}

impl<S: Default> Owners<S> {
    /// Nothing owned yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one entry; each ownership it ends is handed to `ended`, in partition order.
    pub fn apply(&mut self, e: &TraceEntry<Event>, mut ended: impl FnMut(Ownership)) {
        let client = e.actor;
        match &e.record {
            Event::Assigned {
                group,
                generation,
                partitions,
            } => {
                self.members.entry(client).or_insert_with(|| group.clone());
                for tp in partitions {
                    let held = Held {
                        group: group.clone(),
                        generation: *generation,
                        start: e.time,
                        state: S::default(),
                    };
                    self.open.insert((client, *tp), held);
                }
            }
            Event::Revoked { partitions, .. } | Event::Lost { partitions, .. } => {
                for tp in partitions {
                    if let Some(h) = self.open.remove(&(client, *tp)) {
                        ended(h.ownership(client, *tp, Some(e.time)));
                    }
                }
            }
            Event::Crashed | Event::Closed | Event::Fatal { .. } => {
                let held: Vec<Tp> = self.held_by(client).collect();
                for tp in held {
                    let h = self.open.remove(&(client, tp)).expect("held");
                    ended(h.ownership(client, tp, Some(e.time)));
                }
            }
            _ => {}
        }
    }

    /// The state of `client`'s open ownership of `tp`, if it owns it.
    pub fn state_mut(&mut self, client: ActorId, tp: Tp) -> Option<&mut S> {
        self.open.get_mut(&(client, tp)).map(|h| &mut h.state)
    }

    /// The partitions `client` owns now, in order.
    pub fn held_by(&self, client: ActorId) -> impl Iterator<Item = Tp> + '_ {
        self.open
            .range((client, Tp::new(0, 0))..=(client, Tp::new(u32::MAX, u32::MAX)))
            .map(|((_, tp), _)| *tp)
    }

    /// Every client that received an assignment (an empty one too), with the group of its
    /// first.
    pub fn members(&self) -> &BTreeMap<ActorId, Arc<str>> {
        &self.members
    }

    /// The ownerships still open, ended by nothing (`end: None`), ordered by the client's
    /// name in `names` (the history's actor names), then partition.
    pub fn finish(self, names: &[String]) -> Vec<Ownership> {
        let mut open: Vec<Ownership> = self
            .open
            .into_iter()
            .map(|((client, tp), h)| h.ownership(client, tp, None))
            .collect();
        open.sort_by(|a, b| (&names[a.client.index()], a.tp).cmp(&(&names[b.client.index()], b.tp)));
        open
    }
}

/// Every ownership in `trace`: those that ended, in the order they ended, then those still
/// open at the end, by client name and partition.
pub fn ownership(trace: &Trace<Event>) -> Vec<Ownership> {
    let mut owners: Owners = Owners::new();
    let mut out = Vec::new();
    for e in trace.entries() {
        owners.apply(e, |o| out.push(o));
    }
    out.extend(owners.finish(trace.names()));
    out
}

/// What each member owns at the end of `trace`, per group: every client that received an
/// assignment (an empty one too) under the group of its first, with the partitions it still
/// owns.
pub fn final_assignment(trace: &Trace<Event>) -> BTreeMap<Arc<str>, BTreeMap<ActorId, BTreeSet<Tp>>> {
    let mut owners: Owners = Owners::new();
    for e in trace.entries() {
        owners.apply(e, |_| {});
    }
    let mut out: BTreeMap<Arc<str>, BTreeMap<ActorId, BTreeSet<Tp>>> = BTreeMap::new();
    for (client, group) in owners.members() {
        let held = owners.held_by(*client).collect();
        out.entry(group.clone()).or_default().insert(*client, held);
    }
    out
}

/// One record handed to an application by `poll()` ([`Event::Consumed`]).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Consumption<'a> {
    /// When.
    pub time: Time,
    /// The consumer process.
    pub client: ActorId,
    /// Its group.
    pub group: &'a Arc<str>,
    /// The generation it was fetched under.
    pub generation: i32,
    /// Partition.
    pub tp: Tp,
    /// Offset.
    pub offset: i64,
    /// The record.
    pub id: RecordId,
    /// Key and value.
    pub payload: &'a Payload,
}

/// Every consumption in `trace`, in history order.
pub fn consumptions(trace: &Trace<Event>) -> impl Iterator<Item = Consumption<'_>> {
    trace.entries().iter().filter_map(|e| match &e.record {
        Event::Consumed {
            group,
            generation,
            tp,
            offset,
            id,
            payload,
        } => Some(Consumption {
            time: e.time,
            client: e.actor,
            group,
            generation: *generation,
            tp: *tp,
            offset: *offset,
            id: *id,
            payload,
        }),
        _ => None,
    })
}

/// The consumptions of each group, in history order.
pub fn consumptions_by_group(trace: &Trace<Event>) -> BTreeMap<&str, Vec<Consumption<'_>>> {
    let mut out: BTreeMap<&str, Vec<Consumption<'_>>> = BTreeMap::new();
    for c in consumptions(trace) {
        out.entry(&**c.group).or_default().push(c);
    }
    out
}

/// The consumptions of each client, in history order.
pub fn consumptions_by_client(trace: &Trace<Event>) -> BTreeMap<ActorId, Vec<Consumption<'_>>> {
    let mut out: BTreeMap<ActorId, Vec<Consumption<'_>>> = BTreeMap::new();
    for c in consumptions(trace) {
        out.entry(c.client).or_default().push(c);
    }
    out
}

/// A record the broker acknowledged to its producer ([`Event::Produced`]).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Acknowledged<'a> {
    /// When the producer got the acknowledgement.
    pub time: Time,
    /// The producer process.
    pub producer: ActorId,
    /// The record.
    pub id: RecordId,
    /// Partition.
    pub tp: Tp,
    /// Offset it was acknowledged at (`-1` under `acks=0`: the producer is not told).
    pub offset: i64,
    /// Key and value.
    pub payload: &'a Payload,
}

/// Every acknowledged record in `trace`, in history order.
pub fn acknowledged(trace: &Trace<Event>) -> impl Iterator<Item = Acknowledged<'_>> {
    trace.entries().iter().filter_map(|e| match &e.record {
        Event::Produced {
            id,
            tp,
            offset,
            payload,
            ..
        } => Some(Acknowledged {
            time: e.time,
            producer: e.actor,
            id: *id,
            tp: *tp,
            offset: *offset,
            payload,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: ActorId = ActorId(1);
    const C2: ActorId = ActorId(2);
    const PROD: ActorId = ActorId(0);

    fn tp(p: u32) -> Tp {
        Tp::new(0, p)
    }

    fn assigned(generation: i32, parts: &[u32]) -> Event {
        Event::Assigned {
            group: "g".into(),
            generation,
            partitions: parts.iter().map(|p| tp(*p)).collect(),
        }
    }

    fn revoked(parts: &[u32]) -> Event {
        Event::Revoked {
            group: "g".into(),
            generation: 1,
            partitions: parts.iter().map(|p| tp(*p)).collect(),
        }
    }

    /// Names sort c2 before c1, so the still-open order is by name, not actor id.
    fn trace(events: Vec<(u64, ActorId, Event)>) -> Trace<Event> {
        let mut t = Trace::new(vec!["p".into(), "zz-c1".into(), "c2".into()]);
        for (ms, who, e) in events {
            t.push(Time::ms(ms), who, e);
        }
        t
    }

    fn own(client: ActorId, p: u32, generation: i32, start: u64, end: Option<u64>) -> Ownership {
        Ownership {
            group: "g".into(),
            client,
            tp: tp(p),
            generation,
            start: Time::ms(start),
            end: end.map(Time::ms),
        }
    }

    #[test]
    fn ownership_runs_from_assignment_to_revocation_loss_or_the_end_of_the_member() {
        let t = trace(vec![
            (0, C1, assigned(1, &[0, 1, 2])),
            (5, C1, revoked(&[1])),
            (
                6,
                C1,
                Event::Lost {
                    group: "g".into(),
                    generation: 1,
                    partitions: vec![tp(2)].into(),
                    reason: crate::history::LostReason::UnknownMember,
                },
            ),
            (7, C2, assigned(2, &[1, 2])),
            (9, C1, Event::Crashed),
        ]);
        assert_eq!(
            ownership(&t),
            vec![
                own(C1, 1, 1, 0, Some(5)),
                own(C1, 2, 1, 0, Some(6)),
                own(C1, 0, 1, 0, Some(9)),
                own(C2, 1, 2, 7, None),
                own(C2, 2, 2, 7, None),
            ]
        );
        let end = final_assignment(&t);
        let g = &end["g"];
        assert_eq!(
            g[&C1],
            BTreeSet::new(),
            "a crashed member owns nothing, and is listed"
        );
        assert_eq!(g[&C2], [tp(1), tp(2)].into_iter().collect());
    }

    #[test]
    fn still_open_ownerships_come_by_client_name() {
        let t = trace(vec![(0, C1, assigned(1, &[0])), (0, C2, assigned(1, &[1]))]);
        let o = ownership(&t);
        assert_eq!(o, vec![own(C2, 1, 1, 0, None), own(C1, 0, 1, 0, None)]);
        assert_eq!(o[0].end_or(Time::ms(42)), Time::ms(42));
    }

    #[test]
    fn a_new_assignment_of_a_held_partition_starts_afresh() {
        let mut owners: Owners<u32> = Owners::new();
        let t = trace(vec![(0, C1, assigned(1, &[0])), (3, C1, assigned(2, &[0]))]);
        owners.apply(&t.entries()[0], |_| panic!("nothing ends"));
        *owners.state_mut(C1, tp(0)).unwrap() = 7;
        owners.apply(&t.entries()[1], |_| panic!("nothing ends"));
        assert_eq!(owners.state_mut(C1, tp(0)), Some(&mut 0));
        assert_eq!(owners.state_mut(C2, tp(0)), None);
        assert_eq!(owners.finish(t.names()), vec![own(C1, 0, 2, 3, None)]);
    }

    #[test]
    fn an_empty_assignment_still_makes_a_member() {
        let t = trace(vec![(0, C2, assigned(1, &[]))]);
        assert!(ownership(&t).is_empty());
        assert_eq!(final_assignment(&t)["g"][&C2], BTreeSet::new());
    }

    #[test]
    fn consumptions_and_acknowledgements() {
        let id = |seq| RecordId { producer: 0, seq };
        let payload = Payload::new(Some(&b"k"[..]), Some(&b"v"[..]));
        let consumed = |seq, offset| Event::Consumed {
            group: "g".into(),
            generation: 1,
            tp: tp(0),
            offset,
            id: id(seq),
            payload: payload.clone(),
        };
        let t = trace(vec![
            (
                1,
                PROD,
                Event::Produced {
                    id: id(0),
                    tp: tp(0),
                    offset: 0,
                    payload: payload.clone(),
                    batch: None,
                },
            ),
            (2, C1, consumed(0, 0)),
            (3, C2, consumed(0, 0)),
        ]);
        let acks: Vec<_> = acknowledged(&t)
            .map(|a| (a.time, a.producer, a.id, a.offset))
            .collect();
        assert_eq!(acks, vec![(Time::ms(1), PROD, id(0), 0)]);
        assert_eq!(acknowledged(&t).next().unwrap().payload.key(), Some(&b"k"[..]));
        let all: Vec<_> = consumptions(&t).map(|c| (c.time, c.client, c.offset)).collect();
        assert_eq!(all, vec![(Time::ms(2), C1, 0), (Time::ms(3), C2, 0)]);
        assert_eq!(consumptions_by_group(&t)["g"].len(), 2);
        let by_client = consumptions_by_client(&t);
        assert_eq!(by_client[&C2][0].time, Time::ms(3));
        assert_eq!(by_client.len(), 2);
    }
}
