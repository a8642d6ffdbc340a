//! The broker's fetch purgatory: a long-poll answered early by new data leaves nothing
//! behind, and one that waits is answered when its `fetch.max.wait.ms` runs out.

use models::history::Event;
use models::world::{build, IdleMode, Prepared};
use sim::Time;

const BUSY: &str = r#"
name = "busy"
[[topics]]
name = "t"
partitions = 8
[[producers]]
name = "p"
topic = "t"
start_ms = 1000
interval_ms = 1
generate = { count = 20000, key = "k{i}", value = "v" }
[[consumers]]
name = "c1"
group = "g"
topics = ["t"]
[[consumers]]
name = "c2"
group = "g"
topics = ["t"]
[stop]
at_ms = 30000
"#;

#[test]
fn fetches_answered_by_new_data_leave_no_timers_pending() {
    let scenario = kafka_sim::load::parse_toml("inline", BUSY).unwrap();
    let mut built = build(&scenario, 1).unwrap();
    let mut max_pending = 0;
    // every 100 ms of the busy stretch (a record each millisecond, so nearly every fetch is
    // answered by new data long before its 500 ms wait): a timer per parked fetch would
    // leave hundreds pending
    for ms in (5_000..20_000).step_by(100) {
        built.sim.run_until(Time::ms(ms));
        max_pending = max_pending.max(built.sim.pending());
    }
    let consumed = built
        .sim
        .trace()
        .entries()
        .iter()
        .filter(|e| matches!(e.record, Event::Consumed { .. }))
        .count();
    assert!(consumed > 10_000, "the consumers kept up: {consumed}");
    assert!(max_pending < 40, "{max_pending} events pending at once");
}

/// Events in the idle stretch 10..20 s of the idle variant of `BUSY`, long-polls as `mode`.
fn idle_events(mode: IdleMode) -> u64 {
    let idle = BUSY.replace("count = 20000", "count = 0");
    let scenario = kafka_sim::load::parse_toml("inline", &idle).unwrap();
    let mut built = Prepared::new(&scenario).unwrap().with_idle(mode).build(1);
    built.sim.run_until(Time::ms(10_000));
    let early = built.sim.events_handled();
    built.sim.run_until(Time::ms(20_000));
    built.sim.events_handled() - early
}

#[test]
fn an_idle_long_poll_is_answered_after_its_wait() {
    // no records: simulated cycle by cycle, each consumer's fetch is parked and answered
    // empty after fetch.max.wait.ms (500 ms), so the consumer sends the next one about
    // every 501 ms: request, expiry, answer per cycle each (plus heartbeats and
    // auto-commits): tens of events, not thousands, and not zero
    let late = idle_events(IdleMode::Cycles);
    assert!((40..400).contains(&late), "{late} events in 10 idle seconds");
    // parked across its expiries, only the heartbeats and auto-commits are left
    let parked = idle_events(IdleMode::Parked);
    assert!(
        parked > 0 && parked + 60 <= late,
        "{parked} events parked, {late} cycle by cycle"
    );
}
