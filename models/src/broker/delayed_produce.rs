//! Kafka's `DelayedProduce`: a Produce request is answered once, when every batch of it is
//! done — written (acks=1), replicated as far as `acks=all` asks, refused, or failed when the
//! partition's leadership moved — with one `ProduceResponse` carrying each batch's result in
//! the request's order (`ReplicaManager.appendRecords` parks the request in the produce
//! purgatory until all of its partitions are satisfied). An `acks=0` request is tracked the
//! same way and never answered.
//!
//! A crash forgets every open request, as the broker's memory is lost: their producers hear
//! nothing and time out.

use crate::broker::effects::Effects;
use crate::protocol::{ErrorCode, Msg, ProduceResult};
use crate::types::{RecordId, Tp};
use sim::ActorId;
use std::collections::BTreeMap;

/// Where one batch's result goes: its request and its place in it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    req: u64,
    index: u32,
}

/// A batch of a request: its partition, its first record and, once known, its result.
type Part = (Tp, RecordId, Option<Result<i64, ErrorCode>>);

/// A request with batches still to be answered.
#[derive(Debug)]
struct Open {
    client: ActorId,
    /// Whether the producer hears of it (`acks` ≠ 0).
    answered: bool,
    results: Vec<Part>,
    left: usize,
}

/// The open Produce requests of one broker.
#[derive(Debug, Default)]
pub struct DelayedProduces {
    next: u64,
    open: BTreeMap<u64, Open>,
}

impl DelayedProduces {
    /// Opens a request of `client` with `batches` (partition, first record), answered to the
    /// client unless `silent` (`acks=0`); returns the first batch's slot (the others follow
    /// it: [`Slot::nth`]).
    pub fn open(
        &mut self,
        client: ActorId,
        silent: bool,
        batches: impl IntoIterator<Item = (Tp, RecordId)>,
    ) -> Slot {
        let req = self.next;
        self.next += 1;
        let results: Vec<_> = batches.into_iter().map(|(tp, id)| (tp, id, None)).collect();
        let left = results.len();
        self.open.insert(
            req,
            Open {
                client,
                answered: !silent,
                results,
                left,
            },
        );
        Slot { req, index: 0 }
    }

    /// Batch `slot`'s result; the request's answer is sent once it was the last one.
    pub fn complete(&mut self, slot: Slot, result: Result<i64, ErrorCode>, fx: &mut Effects) {
        let Some(open) = self.open.get_mut(&slot.req) else {
            return;
        };
        let entry = &mut open.results[slot.index as usize];
        assert!(entry.2.is_none(), "a batch answered twice: {slot:?}");
        entry.2 = Some(result);
        open.left -= 1;
        if open.left == 0 {
            let open = self.open.remove(&slot.req).expect("open");
            if open.answered {
                let results = open
                    .results
                    .into_iter()
                    .map(|(tp, id, r)| ProduceResult {
                        tp,
                        id,
                        result: r.expect("every batch answered"),
                    })
                    .collect();
                fx.send(open.client, Msg::ProduceResp { results });
            }
        }
    }

    /// Requests still waiting for a batch.
    pub fn pending(&self) -> usize {
        self.open.len()
    }

    /// Forgets every open request (a crash).
    pub fn clear(&mut self) {
        self.open.clear();
    }
}

impl Slot {
    /// The slot of the request's `n`-th batch (`self` being its first).
    pub fn nth(self, n: usize) -> Slot {
        Slot {
            req: self.req,
            index: self.index + n as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: ActorId = ActorId(7);

    fn tp(p: u32) -> Tp {
        Tp {
            topic: 0,
            partition: p,
        }
    }

    fn id(seq: u32) -> RecordId {
        RecordId { producer: 0, seq }
    }

    fn answers(fx: &Effects) -> Vec<Vec<ProduceResult>> {
        fx.sent()
            .into_iter()
            .filter_map(|(to, m)| match m {
                Msg::ProduceResp { results } => {
                    assert_eq!(to, CLIENT);
                    Some(results.clone())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_request_is_answered_once_when_its_last_batch_is_done() {
        let (mut d, mut fx) = (DelayedProduces::default(), Effects::default());
        let first = d.open(CLIENT, false, [(tp(0), id(0)), (tp(1), id(1)), (tp(2), id(2))]);
        d.complete(first.nth(1), Ok(5), &mut fx);
        d.complete(first, Err(ErrorCode::NotLeaderOrFollower), &mut fx);
        assert!(answers(&fx).is_empty(), "a batch still waits");
        assert_eq!(d.pending(), 1);
        d.complete(first.nth(2), Ok(9), &mut fx);
        let got = answers(&fx);
        assert_eq!(got.len(), 1);
        // in the request's order, whatever order they completed in
        assert_eq!(
            got[0],
            vec![
                ProduceResult {
                    tp: tp(0),
                    id: id(0),
                    result: Err(ErrorCode::NotLeaderOrFollower)
                },
                ProduceResult {
                    tp: tp(1),
                    id: id(1),
                    result: Ok(5)
                },
                ProduceResult {
                    tp: tp(2),
                    id: id(2),
                    result: Ok(9)
                },
            ]
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn acks_zero_is_never_answered_and_a_crash_forgets() {
        let (mut d, mut fx) = (DelayedProduces::default(), Effects::default());
        let silent = d.open(CLIENT, true, [(tp(0), id(0))]);
        d.complete(silent, Ok(0), &mut fx);
        assert!(answers(&fx).is_empty());
        let open = d.open(CLIENT, false, [(tp(0), id(1)), (tp(1), id(2))]);
        d.complete(open, Ok(1), &mut fx);
        d.clear();
        // an answer for a forgotten request (a write completing after the crash) is dropped
        d.complete(open.nth(1), Ok(1), &mut fx);
        assert!(answers(&fx).is_empty());
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn requests_are_independent() {
        let (mut d, mut fx) = (DelayedProduces::default(), Effects::default());
        let a = d.open(CLIENT, false, [(tp(0), id(0))]);
        let b = d.open(CLIENT, false, [(tp(0), id(1))]);
        d.complete(b, Ok(1), &mut fx);
        d.complete(a, Ok(0), &mut fx);
        let got: Vec<i64> = answers(&fx).iter().map(|r| r[0].result.unwrap()).collect();
        assert_eq!(got, vec![1, 0], "answered as each completes");
    }
}
