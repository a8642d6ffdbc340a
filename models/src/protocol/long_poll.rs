//! An idle consumer long-poll (`fetch.min.bytes=1`, `fetch.max.wait.ms`) as arithmetic
//! instead of events.
//!
//! A consumer whose Fetch finds nothing repeats one cycle for as long as nothing happens:
//! the Fetch reaches the broker, waits `fetch.max.wait.ms` in the purgatory, the empty answer
//! comes back and the consumer sends the same Fetch again. Both legs travel at the network's
//! base latency (`Ctx::send_fixed`), so the cycle is periodic, with period
//! `fetch.max.wait.ms + 2 × latency`, and where it stands at any instant is a function of
//! when the first Fetch was sent. A [`LongPoll`] is that cycle, shared between the consumer
//! (which sent it) and the broker (which parks it), so that neither has to simulate it:
//!
//! * the broker answers it when data arrives — at once if the cycle's Fetch is parked then,
//!   else when the next Fetch would have reached it ([`LongPoll::phase`]);
//! * the consumer ends it the moment anything changes what it would send next
//!   ([`LongPoll::end_at`]): the Fetch in flight then is the chain's last, and its empty
//!   answer is delivered at the instant the cycle-by-cycle run delivers it.

use sim::Time;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where a long-poll's cycle stands at an instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The first Fetch is still on its way to the broker.
    Before,
    /// Fetch `k` is parked in the purgatory.
    Parked(u64),
    /// Fetch `k`'s empty answer, or Fetch `k + 1`, is on the wire.
    OnWire(u64),
}

/// One consumer's idle long-poll cycle (see the module's documentation).
#[derive(Debug)]
pub struct LongPoll {
    /// When the consumer sent Fetch 0.
    sent: Time,
    /// One way, the network's base latency.
    latency: Time,
    /// `fetch.max.wait.ms`.
    wait: Time,
    /// The last Fetch of the chain (`u64::MAX`: not ended).
    end: AtomicU64,
    /// The broker answered one of the chain's Fetches with data.
    answered: AtomicBool,
}

impl LongPoll {
    /// The cycle of a Fetch sent at `sent`, each leg taking `latency`, parked for `wait`.
    ///
    /// # Panics
    ///
    /// If `wait` is zero (a Fetch that does not wait has no cycle).
    pub fn new(sent: Time, latency: Time, wait: Time) -> LongPoll {
        assert!(wait > Time::ZERO, "a long-poll waits");
        LongPoll {
            sent,
            latency,
            wait,
            end: AtomicU64::new(u64::MAX),
            answered: AtomicBool::new(false),
        }
    }

    /// `fetch.max.wait.ms` + a round trip.
    pub fn period(&self) -> Time {
        Time(self.wait.0 + 2 * self.latency.0)
    }

    /// When Fetch `k` is sent (the instant Fetch `k − 1`'s empty answer arrives).
    pub fn send_time(&self, k: u64) -> Time {
        Time(self.sent.0 + k * self.period().0)
    }

    /// When Fetch `k` reaches the broker.
    pub fn arrival(&self, k: u64) -> Time {
        self.send_time(k) + self.latency
    }

    /// When Fetch `k` expires in the purgatory (its empty answer is sent).
    pub fn expiry(&self, k: u64) -> Time {
        self.arrival(k) + self.wait
    }

    /// Where the cycle stands at `t`: parked over `[arrival(k), expiry(k))`, else on the wire.
    pub fn phase(&self, t: Time) -> Phase {
        let first = self.arrival(0);
        if t < first {
            return Phase::Before;
        }
        let k = (t.0 - first.0) / self.period().0;
        if t < self.expiry(k) {
            Phase::Parked(k)
        } else {
            Phase::OnWire(k)
        }
    }

    /// The last Fetch sent at or before `t`.
    pub fn last_sent(&self, t: Time) -> u64 {
        t.saturating_sub(self.sent).0 / self.period().0
    }

    /// Whether Fetch `k` is sent (the chain has not ended before it).
    pub fn exists(&self, k: u64) -> bool {
        k <= self.end.load(Ordering::Relaxed)
    }

    /// The last Fetch of the chain, once ended.
    pub fn end(&self) -> Option<u64> {
        let e = self.end.load(Ordering::Relaxed);
        (e != u64::MAX).then_some(e)
    }

    /// The consumer changed at `t`: the Fetch sent last by then is the chain's last. Returns
    /// it (its empty answer arrives at `send_time(k + 1)`).
    pub fn end_at(&self, t: Time) -> u64 {
        let k = self.last_sent(t);
        self.end.store(k, Ordering::Relaxed);
        k
    }

    /// The broker answered a Fetch of the chain with data.
    pub fn mark_answered(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }

    /// Whether the broker answered a Fetch of the chain with data.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll() -> LongPoll {
        // sent at 1 s, 500 µs each way, 500 ms wait: period 501 ms
        LongPoll::new(Time::ms(1_000), Time::us(500), Time::ms(500))
    }

    #[test]
    fn the_cycle_repeats_every_wait_plus_a_round_trip() {
        let p = poll();
        assert_eq!(p.period(), Time::ms(501));
        assert_eq!(p.arrival(0), Time::us(1_000_500));
        assert_eq!(p.expiry(0), Time::us(1_500_500));
        assert_eq!(p.send_time(1), Time::ms(1_501), "the empty answer's arrival");
        assert_eq!(p.arrival(3), Time::us(1_000_500 + 3 * 501_000));
    }

    #[test]
    fn phases_follow_the_cycle() {
        let p = poll();
        assert_eq!(p.phase(Time::ms(1_000)), Phase::Before);
        assert_eq!(p.phase(Time::us(1_000_500)), Phase::Parked(0));
        assert_eq!(p.phase(Time::us(1_500_499)), Phase::Parked(0));
        assert_eq!(p.phase(Time::us(1_500_500)), Phase::OnWire(0));
        assert_eq!(p.phase(Time::us(1_501_499)), Phase::OnWire(0));
        assert_eq!(p.phase(Time::us(1_501_500)), Phase::Parked(1));
        let day = Time::ms(86_400_000);
        match p.phase(day) {
            Phase::Parked(k) => assert!(p.arrival(k) <= day && day < p.expiry(k)),
            Phase::OnWire(k) => assert!(p.expiry(k) <= day && day < p.arrival(k + 1)),
            Phase::Before => panic!("a day later"),
        }
    }

    #[test]
    fn ending_the_chain_keeps_the_fetch_already_sent() {
        let p = poll();
        assert!(p.exists(1_000_000));
        assert_eq!(p.end(), None);
        // between Fetch 2's sending and Fetch 3's: Fetch 2 is the last
        let t = p.send_time(2) + Time::ms(100);
        assert_eq!(p.end_at(t), 2);
        assert_eq!(p.end(), Some(2));
        assert!(p.exists(2) && !p.exists(3));
        // at the very instant of a send, that Fetch has gone out
        let q = poll();
        assert_eq!(q.end_at(q.send_time(4)), 4);
        assert!(!q.answered());
        q.mark_answered();
        assert!(q.answered());
    }
}
