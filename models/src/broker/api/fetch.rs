//! Fetch from a consumer: reads below the high watermark of the partitions this broker
//! leads — below the last stable offset for `isolation.level=read_committed` (KIP-98),
//! without markers and aborted records, each partition's next offset in the answer — long-
//! polled (`fetch.min.bytes=1`, `fetch.max.wait.ms`) in the purgatory, across its expiries
//! when it carries a [`LongPoll`] (see `purgatory`).

use crate::broker::purgatory::{ParkedFetch, Read};
use crate::broker::Broker;
use crate::protocol::long_poll::LongPoll;
use crate::protocol::Msg;
use crate::types::Tp;
use sim::{ActorId, Time};
use std::sync::Arc;

impl Broker {
    /// Handles a consumer Fetch: answered at once when it reads something (or steps over
    /// markers and aborted records) or meets an error (or does not wait), else parked for
    /// `max_wait_us`.
    pub(in crate::broker) fn on_fetch(
        &mut self,
        from: ActorId,
        fetch_id: u64,
        positions: Arc<[(Tp, i64)]>,
        max_wait_us: u64,
        read: Read,
        long_poll: Option<Arc<LongPoll>>,
    ) {
        let now = self.now;
        let (records, errors, next) = self.rm.collect_read(&positions, read);
        if !records.is_empty() || !errors.is_empty() || !next.is_empty() || max_wait_us == 0 {
            self.answer_fetch(from, fetch_id, records, errors, next);
        } else {
            let deadline = match long_poll {
                Some(_) => Time::MAX,
                None => now + Time::us(max_wait_us),
            };
            let fetch = ParkedFetch {
                deadline,
                parked_at: now,
                long_poll,
                client: from,
                fetch_id,
                positions,
                read,
            };
            self.purgatory.park_fetch(now, fetch, &mut self.fx);
        }
    }

    /// A consumer Fetch of which one partition fails with an injected `error`: the other
    /// partitions are read as usual, and the answer goes at once (an error in a fetch
    /// response ends its long poll, as in Kafka).
    pub(in crate::broker) fn on_fetch_failing(
        &mut self,
        from: ActorId,
        fetch_id: u64,
        positions: &[(Tp, i64)],
        read: Read,
        failing: (Tp, crate::protocol::ErrorCode),
    ) {
        let rest: Vec<(Tp, i64)> = positions
            .iter()
            .copied()
            .filter(|(tp, _)| *tp != failing.0)
            .collect();
        let (records, mut errors, next) = self.rm.collect_read(&rest, read);
        errors.push(failing);
        self.answer_fetch(from, fetch_id, records, errors, next);
    }

    fn answer_fetch(
        &mut self,
        from: ActorId,
        fetch_id: u64,
        records: crate::protocol::FetchedRecords,
        errors: Vec<(Tp, crate::protocol::ErrorCode)>,
        next: Vec<(Tp, i64, i64)>,
    ) {
        let answer = Msg::FetchResp {
            fetch_id,
            records,
            errors,
            next,
        };
        self.fx.send(from, answer);
    }
}
