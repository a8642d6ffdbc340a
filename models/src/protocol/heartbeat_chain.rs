//! A classic consumer's heartbeats (`heartbeat.interval.ms`) while nothing changes, as
//! arithmetic instead of events.
//!
//! A member of a Stable group whose application is polling sends the same Heartbeat every
//! `heartbeat.interval.ms` (the heartbeat timer is re-armed as each Heartbeat goes out), and
//! the coordinator answers each one with no error. A Heartbeat and its answer travel at the
//! network's base latency (`Ctx::send_fixed`), so Heartbeat `k` of a chain whose first one
//! was sent at `s` is sent at `s + k·interval` and reaches the coordinator at
//! `s + k·interval + latency`: where the chain stands at any instant is a function of `s`
//! alone. A [`HeartbeatChain`] is that sequence, shared between the consumer (which sent its
//! first Heartbeat) and the coordinator (which keeps the member's session alive from it):
//!
//! * the coordinator computes the member's session deadline from the last arrival
//!   ([`HeartbeatChain::last_arrived`]) instead of resetting it at each Heartbeat, and answers
//!   nothing while its answer would be no error; the first Heartbeat whose answer would be an
//!   error (a rebalance, a new generation, the member removed) is handled as a real one at
//!   its computed arrival ([`HeartbeatChain::next_arrival`]);
//! * the consumer ends the chain the moment anything changes what it would send at its next
//!   heartbeat instant ([`HeartbeatChain::end_at`]): the Heartbeat sent last by then is the
//!   chain's last, and the heartbeat timer takes over from the next instant.

use sim::Time;
use std::sync::atomic::{AtomicU64, Ordering};

/// One member's chain of classic Heartbeats (see the module's documentation).
#[derive(Debug)]
pub struct HeartbeatChain {
    /// When the consumer sent Heartbeat 0.
    sent: Time,
    /// One way, the network's base latency.
    latency: Time,
    /// `heartbeat.interval.ms`.
    interval: Time,
    /// The last Heartbeat of the chain (`u64::MAX`: not ended).
    end: AtomicU64,
}

impl HeartbeatChain {
    /// The chain of a Heartbeat sent at `sent`, repeated every `interval`, each taking
    /// `latency` to the coordinator.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    pub fn new(sent: Time, latency: Time, interval: Time) -> HeartbeatChain {
        assert!(interval > Time::ZERO, "heartbeats are spaced");
        HeartbeatChain {
            sent,
            latency,
            interval,
            end: AtomicU64::new(u64::MAX),
        }
    }

    /// When Heartbeat `k` is sent.
    pub fn send_time(&self, k: u64) -> Time {
        Time(self.sent.0 + k * self.interval.0)
    }

    /// When Heartbeat `k` reaches the coordinator.
    pub fn arrival(&self, k: u64) -> Time {
        self.send_time(k) + self.latency
    }

    /// The last Heartbeat sent at or before `t`.
    pub fn last_sent(&self, t: Time) -> u64 {
        t.saturating_sub(self.sent).0 / self.interval.0
    }

    /// The last Heartbeat of the chain that reached the coordinator at or before `t`, if any.
    pub fn last_arrived(&self, t: Time) -> Option<u64> {
        let first = self.arrival(0);
        if t < first {
            return None;
        }
        let k = (t.0 - first.0) / self.interval.0;
        Some(k.min(self.end.load(Ordering::Relaxed)))
    }

    /// The first Heartbeat of the chain arriving strictly after `t`, if the chain has one.
    pub fn next_arrival(&self, t: Time) -> Option<u64> {
        let k = self.last_arrived(t).map_or(0, |k| k + 1);
        self.exists(k).then_some(k)
    }

    /// Whether Heartbeat `k` is sent (the chain has not ended before it).
    pub fn exists(&self, k: u64) -> bool {
        k <= self.end.load(Ordering::Relaxed)
    }

    /// Whether the consumer ended the chain.
    pub fn ended(&self) -> bool {
        self.end.load(Ordering::Relaxed) != u64::MAX
    }

    /// The consumer changed at `t`: the Heartbeat sent last by then is the chain's last.
    /// Returns it (the heartbeat timer's next instant is `send_time(k + 1)`).
    pub fn end_at(&self, t: Time) -> u64 {
        let k = self.last_sent(t);
        self.end.store(k, Ordering::Relaxed);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> HeartbeatChain {
        // first sent at 10 s, 500 µs one way, every 3 s
        HeartbeatChain::new(Time::ms(10_000), Time::us(500), Time::ms(3_000))
    }

    #[test]
    fn heartbeats_repeat_every_interval_and_arrive_a_latency_later() {
        let c = chain();
        assert_eq!(c.send_time(2), Time::ms(16_000));
        assert_eq!(c.arrival(2), Time::us(16_000_500));
        assert_eq!(c.last_arrived(Time::us(10_000_499)), None);
        assert_eq!(c.last_arrived(Time::us(10_000_500)), Some(0));
        assert_eq!(c.last_arrived(Time::us(16_000_499)), Some(1));
        assert_eq!(c.next_arrival(Time::us(16_000_499)), Some(2));
        assert_eq!(c.next_arrival(Time::us(16_000_500)), Some(3));
        assert_eq!(c.next_arrival(Time::ZERO), Some(0));
        let day = Time::ms(86_400_000);
        let k = c.last_arrived(day).unwrap();
        assert!(c.arrival(k) <= day && day < c.arrival(k + 1));
    }

    #[test]
    fn ending_the_chain_keeps_the_heartbeat_already_sent() {
        let c = chain();
        assert!(!c.ended() && c.exists(1_000_000));
        // between Heartbeat 2's sending and Heartbeat 3's: Heartbeat 2 is the last
        assert_eq!(c.end_at(Time::ms(17_000)), 2);
        assert!(c.ended() && c.exists(2) && !c.exists(3));
        assert_eq!(c.last_arrived(Time::ms(60_000)), Some(2));
        assert_eq!(c.next_arrival(Time::us(16_000_500)), None);
        // ended at the very instant of a send: that Heartbeat has gone out
        let d = chain();
        assert_eq!(d.end_at(d.send_time(4)), 4);
    }
}
