//! The engine's ordering, bounds, determinism and RNG streams.

use super::*;
use rand::Rng;

/// Ping-pong actors that record what they receive and answer with a random number.
struct Pinger {
    peer: Option<ActorId>,
    left: u32,
}

impl Actor<u32, (u32, u32)> for Pinger {
    fn handle(&mut self, ctx: &mut Ctx<'_, u32, (u32, u32)>, from: ActorId, msg: u32) {
        ctx.record((from.0, msg));
        if self.left == 0 {
            return;
        }
        self.left -= 1;
        let n = ctx.rng().random_range(0..1000);
        let to = self.peer.unwrap_or(from);
        ctx.send(to, n);
    }
}

fn run(seed: u64, jitter_us: u64) -> Vec<(u64, u32, u32, u32)> {
    let mut sim = Sim::new(
        seed,
        NetConfig {
            base: Time::us(100),
            jitter: Time::us(jitter_us),
        },
    );
    let a = sim.add_actor("a", Box::new(Pinger { peer: None, left: 50 }));
    let b = sim.add_actor(
        "b",
        Box::new(Pinger {
            peer: Some(a),
            left: 50,
        }),
    );
    let c = sim.add_actor(
        "c",
        Box::new(Pinger {
            peer: Some(a),
            left: 50,
        }),
    );
    sim.schedule(Time::ZERO, b, 0);
    sim.schedule(Time::ZERO, c, 0);
    sim.run_until(Time::ms(1_000));
    sim.trace()
        .entries()
        .iter()
        .map(|e| (e.time.0, e.actor.0, e.record.0, e.record.1))
        .collect()
}

/// Two actors that answer each other with no delay: virtual time never moves.
#[derive(Debug)]
struct Echo;

impl Actor<Echo, ()> for Echo {
    fn handle(&mut self, ctx: &mut Ctx<'_, Echo, ()>, from: ActorId, _msg: Echo) {
        let to = if from == ctx.me() {
            ActorId(1 - ctx.me().0)
        } else {
            from
        };
        ctx.send(to, Echo);
    }
}

fn echoes() -> Sim<Echo, ()> {
    let mut sim = Sim::new(
        1,
        NetConfig {
            base: Time::ZERO,
            jitter: Time::ZERO,
        },
    );
    let a = sim.add_actor("a", Box::new(Echo));
    sim.add_actor("b", Box::new(Echo));
    sim.schedule(Time::ms(5), a, Echo);
    sim
}

#[test]
fn a_loop_at_one_instant_is_stopped_and_named() {
    let mut sim = echoes();
    let limits = Limits {
        events: u64::MAX,
        per_instant: 10_000,
    };
    let stuck = sim
        .run_bounded(Time::ms(1_000), limits)
        .expect_err("never advances");
    assert_eq!(stuck.cause, StuckCause::Instant(10_000));
    assert_eq!(stuck.at, Time::ms(5));
    let actors: Vec<&str> = stuck.busiest.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(actors, ["a", "b"]);
    assert!(stuck.busiest.iter().all(|(_, k, n)| k == "Echo" && *n == 500));
    let line = stuck.to_string();
    assert!(
        line.contains("stopped advancing at 5 ms") && line.contains("Echo to a (500)"),
        "{line}"
    );
}

#[test]
fn the_event_budget_ends_a_long_run() {
    let mut sim = echoes();
    let limits = Limits {
        events: 777,
        per_instant: u64::MAX,
    };
    let stuck = sim.run_bounded(Time::ms(1_000), limits).expect_err("budget");
    assert_eq!(stuck.cause, StuckCause::Budget(777));
    assert!(sim.events_handled() >= 777);
}

#[test]
fn a_bounded_run_that_fits_is_the_same_as_an_unbounded_one() {
    let mut sim = Sim::new(
        42,
        NetConfig {
            base: Time::us(100),
            jitter: Time::us(300),
        },
    );
    let a = sim.add_actor("a", Box::new(Pinger { peer: None, left: 50 }));
    let b = sim.add_actor(
        "b",
        Box::new(Pinger {
            peer: Some(a),
            left: 50,
        }),
    );
    sim.schedule(Time::ZERO, b, 0);
    sim.run_bounded(Time::ms(1_000), Limits::default())
        .expect("finite");
    let bounded: Vec<_> = sim
        .trace()
        .entries()
        .iter()
        .map(|e| (e.time, e.actor, e.record))
        .collect();
    let mut sim = Sim::new(
        42,
        NetConfig {
            base: Time::us(100),
            jitter: Time::us(300),
        },
    );
    let a = sim.add_actor("a", Box::new(Pinger { peer: None, left: 50 }));
    let b = sim.add_actor(
        "b",
        Box::new(Pinger {
            peer: Some(a),
            left: 50,
        }),
    );
    sim.schedule(Time::ZERO, b, 0);
    sim.run_until(Time::ms(1_000));
    let plain: Vec<_> = sim
        .trace()
        .entries()
        .iter()
        .map(|e| (e.time, e.actor, e.record))
        .collect();
    assert_eq!(bounded, plain);
    assert_eq!(bounded.len(), 101);
}

#[test]
fn same_seed_same_history() {
    assert_eq!(run(42, 300), run(42, 300));
}

#[test]
fn seed_changes_history() {
    assert_ne!(run(42, 300), run(43, 300));
}

#[test]
fn time_is_monotonic_and_latency_bounded() {
    let h = run(5, 300);
    assert!(h.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(h.len() > 100);
    // a reply arrives 100..=400 µs after the message it answers (each actor answers at
    // once, and a and b/c alternate): consecutive entries on one conversation are spaced
    // by one network hop.
    let from_b: Vec<u64> = h.iter().filter(|e| e.1 == 0 && e.2 == 1).map(|e| e.0).collect();
    let at_b: Vec<u64> = h.iter().filter(|e| e.1 == 1).map(|e| e.0).collect();
    let mut hops = 0;
    for (sent, got) in at_b.iter().zip(&from_b) {
        let hop = got - sent;
        assert!((100..=400).contains(&hop), "hop of {hop} µs");
        hops += 1;
    }
    assert_eq!(hops, from_b.len());
    assert!(hops > 10);
}

#[test]
fn links_are_fifo() {
    struct Burst {
        to: ActorId,
    }
    impl Actor<u32, u32> for Burst {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, _: ActorId, _: u32) {
            for i in 0..100 {
                ctx.send(self.to, i);
            }
        }
    }
    struct Sink;
    impl Actor<u32, u32> for Sink {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, _: ActorId, m: u32) {
            ctx.record(m);
        }
    }
    let mut sim = Sim::new(
        1,
        NetConfig {
            base: Time::us(10),
            jitter: Time::ms(5),
        },
    );
    let sink = sim.add_actor("sink", Box::new(Sink));
    let src = sim.add_actor("src", Box::new(Burst { to: sink }));
    sim.schedule(Time::ZERO, src, 0);
    sim.run_until(Time::MAX);
    let got: Vec<u32> = sim.trace().entries().iter().map(|e| e.record).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn cut_links_drop_messages_in_their_window() {
    struct Src {
        to: ActorId,
    }
    impl Actor<u32, u32> for Src {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, _: ActorId, m: u32) {
            ctx.send(self.to, m);
        }
    }
    struct Sink;
    impl Actor<u32, u32> for Sink {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, _: ActorId, m: u32) {
            ctx.record(m);
        }
    }
    let mut sim = Sim::new(1, NetConfig::default());
    let sink = sim.add_actor("sink", Box::new(Sink));
    let src = sim.add_actor("src", Box::new(Src { to: sink }));
    sim.network().cut(src, sink, Time::ms(10), Time::ms(20));
    for t in [0, 10, 15, 20, 30] {
        sim.schedule(Time::ms(t), src, t as u32);
    }
    sim.run_until(Time::MAX);
    let got: Vec<u32> = sim.trace().entries().iter().map(|e| e.record).collect();
    assert_eq!(got, vec![0, 20, 30]);
    assert_eq!(sim.messages_dropped(), 2);
}

#[test]
fn reset_connections_drops_in_flight_messages_and_timers_but_not_inputs() {
    /// Echoes to its peer; on 99 it "crashes"; on 7 it sets a timer.
    struct Node {
        peer: Option<ActorId>,
    }
    impl Actor<u32, u32> for Node {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, from: ActorId, m: u32) {
            ctx.record(m);
            match (m, self.peer) {
                (99, _) => ctx.reset_connections(),
                (7, _) => ctx.timer(Time::ms(5), 70),
                (_, Some(p)) if from == ctx.me() => {
                    ctx.send(p, m + 1);
                }
                _ => {}
            }
        }
    }
    let mut sim = Sim::new(
        3,
        NetConfig {
            base: Time::ms(1),
            jitter: Time::ZERO,
        },
    );
    let b = sim.add_actor("b", Box::new(Node { peer: None }));
    let a = sim.add_actor("a", Box::new(Node { peer: Some(b) }));
    sim.schedule(Time::ZERO, a, 10); // a sends 11 to b, arriving at 1 ms
    sim.schedule(Time::ZERO, b, 7); // b sets a timer for 5 ms
    sim.schedule(Time::us(500), b, 99); // b crashes before 11 arrives and before its timer
    sim.schedule(Time::ms(2), b, 1); // an input after the crash still arrives
    sim.run_until(Time::MAX);
    let got: Vec<(u32, u32)> = sim
        .trace()
        .entries()
        .iter()
        .map(|e| (e.actor.0, e.record))
        .collect();
    assert_eq!(got, vec![(1, 10), (0, 7), (0, 99), (0, 1)]);
    assert_eq!(sim.messages_dropped(), 2);
}

#[test]
fn adding_an_actor_keeps_other_streams() {
    // "a" draws the same numbers whether or not "z" exists.
    let draw = |extra: bool| {
        let mut sim: Sim<u32, u32> = Sim::new(9, NetConfig::default());
        if extra {
            sim.add_actor("z", Box::new(Pinger2));
        }
        let a = sim.add_actor("a", Box::new(Pinger2));
        sim.schedule(Time::ZERO, a, 0);
        sim.run_until(Time::MAX);
        sim.trace().entries().iter().map(|e| e.record).collect::<Vec<_>>()
    };
    struct Pinger2;
    impl Actor<u32, u32> for Pinger2 {
        fn handle(&mut self, ctx: &mut Ctx<'_, u32, u32>, _: ActorId, _: u32) {
            let v = ctx.rng().random();
            ctx.record(v);
        }
    }
    assert_eq!(draw(false), draw(true));
}

#[test]
fn progress_is_told_the_virtual_time_and_changes_nothing() {
    let mut sim = echoes();
    let limits = Limits {
        events: 3 * PROGRESS_EVERY,
        per_instant: u64::MAX,
    };
    let mut seen = Vec::new();
    let stuck = sim
        .run_observed(Time::ms(1_000), limits, &mut |t| seen.push(t))
        .expect_err("budget");
    assert_eq!(stuck.cause, StuckCause::Budget(3 * PROGRESS_EVERY));
    assert_eq!(seen.len(), 3, "once every PROGRESS_EVERY events");
    assert!(seen.iter().all(|t| *t == Time::ms(5)));
}

/// Sets named timers as its inputs say: `(name, delay_ms)` sets one, `(name, 0)` cancels it;
/// records every timer delivered (its name) and what each cancel returned.
struct Timers;

impl Actor<(u64, u64), (u64, bool)> for Timers {
    fn handle(&mut self, ctx: &mut Ctx<'_, (u64, u64), (u64, bool)>, from: ActorId, msg: (u64, u64)) {
        let (name, delay) = msg;
        if delay == u64::MAX {
            // a delivered timer
            ctx.record((name, true));
        } else if delay == 0 {
            let was = ctx.cancel_timer(name);
            ctx.record((name, was));
        } else {
            assert_eq!(from, ctx.me());
            ctx.named_timer(name, Time::ms(delay), (name, u64::MAX));
        }
    }
}

fn timers(inputs: &[(u64, u64, u64)]) -> (Vec<(u64, u64, bool)>, u64) {
    let mut sim = Sim::new(1, NetConfig::default());
    let a = sim.add_actor("timers", Box::new(Timers));
    for &(at, name, delay) in inputs {
        sim.schedule(Time::ms(at), a, (name, delay));
    }
    sim.run_until(Time::ms(10_000));
    let fired = sim
        .trace()
        .entries()
        .iter()
        .map(|e| (e.time.0 / 1000, e.record.0, e.record.1))
        .collect();
    (fired, sim.events_handled())
}

#[test]
fn a_named_timer_set_again_replaces_the_pending_one() {
    // timer 7 set at 0 for 100 ms, set again at 50 for 10 ms: fires once, at 60
    let (fired, events) = timers(&[(0, 7, 100), (50, 7, 10)]);
    assert_eq!(fired, vec![(60, 7, true)]);
    assert_eq!(
        events, 3,
        "two inputs and one timer: the replaced one costs no event"
    );
    assert_eq!(timers(&[(0, 7, 100), (50, 7, 200)]).0, vec![(250, 7, true)]);
}

#[test]
fn a_cancelled_timer_is_not_delivered_and_other_names_are_untouched() {
    let (fired, events) = timers(&[(0, 1, 100), (0, 2, 100), (50, 1, 0)]);
    assert_eq!(fired, vec![(50, 1, true), (100, 2, true)]);
    assert_eq!(events, 4);
    // cancelling after delivery, or a name never set: nothing pending
    let (fired, _) = timers(&[(0, 1, 100), (200, 1, 0), (300, 9, 0)]);
    assert_eq!(fired, vec![(100, 1, true), (200, 1, false), (300, 9, false)]);
}

#[test]
fn a_crash_drops_named_timers_like_the_others() {
    struct Crashy;
    impl Actor<u8, u8> for Crashy {
        fn handle(&mut self, ctx: &mut Ctx<'_, u8, u8>, _from: ActorId, msg: u8) {
            ctx.record(msg);
            match msg {
                0 => ctx.named_timer(3, Time::ms(100), 1),
                2 => ctx.reset_connections(),
                4 => ctx.named_timer(3, Time::ms(100), 5),
                _ => {}
            }
        }
    }
    let mut sim = Sim::new(1, NetConfig::default());
    let a = sim.add_actor("crashy", Box::new(Crashy));
    sim.schedule(Time::ZERO, a, 0);
    sim.schedule(Time::ms(50), a, 2);
    sim.schedule(Time::ms(60), a, 4);
    sim.run_until(Time::ms(1_000));
    let seen: Vec<u8> = sim.trace().entries().iter().map(|e| e.record).collect();
    assert_eq!(seen, vec![0, 2, 4, 5], "the timer set before the crash is gone");
}

struct PairSink;

impl Actor<u32, (u32, u32)> for PairSink {
    fn handle(&mut self, ctx: &mut Ctx<'_, u32, (u32, u32)>, _: ActorId, m: u32) {
        ctx.record((m, 0));
    }
}

/// Sends one message with `send_fixed` (odd values) or `send` (even), then records the next
/// number its stream gives.
struct FixedSender {
    to: ActorId,
}

impl Actor<u32, (u32, u32)> for FixedSender {
    fn handle(&mut self, ctx: &mut Ctx<'_, u32, (u32, u32)>, _from: ActorId, msg: u32) {
        if msg % 2 == 1 {
            assert!(ctx.send_fixed(self.to, msg));
        } else {
            assert!(ctx.send(self.to, msg));
        }
        let next = ctx.rng().random_range(0..1_000_000);
        ctx.record((msg, next));
    }
}

#[test]
fn a_fixed_send_takes_the_base_latency_draws_nothing_and_stays_out_of_fifo_order() {
    let mut sim: Sim<u32, (u32, u32)> = Sim::new(
        3,
        NetConfig {
            base: Time::us(100),
            jitter: Time::us(1_000),
        },
    );
    let sink = sim.add_actor("sink", Box::new(PairSink));
    let src = sim.add_actor("src", Box::new(FixedSender { to: sink }));
    // a drawn message at 0, a fixed one at 10 µs: the fixed one is not held behind it
    sim.schedule(Time::ZERO, src, 0);
    sim.schedule(Time::us(10), src, 1);
    sim.run_until(Time::ms(10));
    let e = sim.trace().entries();
    let got: Vec<(u64, u32)> = e
        .iter()
        .filter(|x| x.actor == sink)
        .map(|x| (x.time.0, x.record.0))
        .collect();
    assert!(got.contains(&(110, 1)), "fixed: sent at 10 µs + 100 µs: {got:?}");
    let drawn = got.iter().find(|(_, m)| *m == 0).unwrap().0;
    assert!(drawn > 110, "the drawn message is later (seed 3): {got:?}");
    // the stream after the fixed send continues where the drawn send left it
    let mut rng = crate::rng::stream(3, "src");
    let _latency: u64 = rng.random_range(0..=1_000);
    let first: u32 = rng.random_range(0..1_000_000);
    let second: u32 = rng.random_range(0..1_000_000);
    let src_draws: Vec<u32> = e.iter().filter(|x| x.actor == src).map(|x| x.record.1).collect();
    assert_eq!(src_draws, vec![first, second]);
}
