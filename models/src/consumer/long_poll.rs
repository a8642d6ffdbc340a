//! The consumer's side of a parked idle long-poll (`fetch.max.wait.ms`, see
//! [`crate::protocol::long_poll`]): a Fetch that the broker keeps parked across its expiries
//! while the consumer, between its Fetches, would send the same Fetch again.
//!
//! After every input the consumer checks that it would: still polling, still allowed to
//! fetch, nothing buffered, the Fetch still in flight, the same positions in the same order.
//! The first input after which it would not ends the chain there: the Fetch sent last by
//! then is the chain's last, and its empty answer is delivered to the consumer itself at the
//! instant the cycle-by-cycle run delivers it — unless the broker answered with data.
//! Only on a one-broker cluster in a run without faults (the world decides): a crash, a cut
//! or an injected error would change the cycle in ways this does not compute.

use super::app::State;
use super::client::Req;
use super::{Consumer, Cx};
use crate::protocol::long_poll::LongPoll;
use crate::protocol::{FetchedRecords, Msg};
use crate::types::Tp;
use sim::{ActorId, Time};
use std::sync::Arc;

/// A long-poll the consumer has in flight: its fetch id, the cycle, the broker and the
/// positions it fetches.
pub(super) struct InFlight {
    fetch_id: u64,
    cycle: Arc<LongPoll>,
    broker: ActorId,
    positions: Arc<[(Tp, i64)]>,
}

impl Consumer {
    /// Whether the Fetch about to go to `leader` may be a parked long-poll.
    pub(super) fn may_park(&self) -> bool {
        self.park_idle && self.client.brokers.len() == 1 && self.cfg.fetch_max_wait_ms > 0
    }

    /// Sends Fetch `positions` to `leader` as a parked long-poll.
    pub(super) fn send_long_poll(&mut self, ctx: Cx, leader: ActorId, positions: Arc<[(Tp, i64)]>) {
        let now = ctx.now();
        // no request timeout while parked: the broker answers when there is data
        let fetch_id = self.client.send_unwatched(Req::Fetch, leader, now);
        let wait = Time::ms(self.cfg.fetch_max_wait_ms);
        let cycle = Arc::new(LongPoll::new(now, ctx.base_latency(), wait));
        self.long_poll = Some(InFlight {
            fetch_id,
            cycle: cycle.clone(),
            broker: leader,
            positions: positions.clone(),
        });
        ctx.send_fixed(
            leader,
            Msg::FetchReq {
                fetch_id,
                positions,
                max_wait_us: wait.as_us(),
                max_records: self.cfg.max_poll_records,
                isolation: self.cfg.isolation_level,
                long_poll: Some(cycle),
            },
        );
    }

    /// After an input: ends the long-poll in flight if the consumer would no longer send the
    /// same Fetch again.
    pub(super) fn check_long_poll(&mut self, ctx: Cx) {
        let Some(lp) = &self.long_poll else {
            return;
        };
        if lp.cycle.answered() {
            self.long_poll = None;
            return;
        }
        let same = self.app.state == State::Polling
            && self.member.can_fetch()
            && self.fetcher.buffer.is_empty()
            && self.client.in_flight_to(Req::Fetch, lp.broker) == Some(lp.fetch_id)
            && self.fetcher.would_fetch(&lp.positions);
        if same {
            return;
        }
        let lp = self.long_poll.take().expect("checked");
        let now = ctx.now();
        let last = lp.cycle.end_at(now);
        let answer_at = lp.cycle.send_time(last + 1);
        if let Some(first) = self.client.rewatch(lp.fetch_id, lp.cycle.send_time(last), now) {
            ctx.timer(first, Msg::ClientTimer(crate::protocol::ClientTimer::Watchdog));
        }
        let fetch_id = lp.fetch_id;
        let long_poll = lp.cycle;
        ctx.timer(answer_at - now, Msg::LongPollEnded { fetch_id, long_poll });
    }

    /// The empty answer of an ended chain's last Fetch arrives (if no data did).
    pub(super) fn on_long_poll_ended(&mut self, ctx: Cx, fetch_id: u64, cycle: &LongPoll) {
        if !cycle.answered() && self.client.answer(fetch_id, Req::Fetch) {
            self.on_fetch(ctx, FetchedRecords::new(), Vec::new(), &[]);
        }
    }
}
