//! The large scenario (examples/large.toml: 1,000,000 records, 64 partitions, three groups of
//! eight consumers, a crash and restart every 15 s): one run, timed, reported as events per
//! second and nanoseconds per event, next to the floor — the same number of events pushed
//! and popped through the engine's queue with no model work — and the ratio of the two.
//!
//! Both history levels are timed: `full` (every event kept, what `--check` needs) and
//! `summary` (per-record events counted, not kept).
//!
//! `cargo bench --bench large` (a run takes seconds; criterion's repetitions would take
//! minutes, so this harness runs it `KAFKA_SIM_BENCH_RUNS` times, default 3, and reports the
//! median).

use models::world::History;
use sim::queue::EventQueue;
use sim::Time;
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run once, small
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("KAFKA_SIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/large.toml");
    let scenario = kafka_sim::load::scenario(path).expect("examples/large.toml");
    // the run as the library runs it (world::run_with: build, run, free the model); dropping
    // the returned history afterwards (millions of entries) is timed apart
    let mut events = 0;
    let mut timed = |history: History| {
        let (mut run_ns, mut drop_ms) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let start = Instant::now();
            let run = models::world::run_with(&scenario, 1, history).unwrap();
            let elapsed = start.elapsed().as_nanos() as f64;
            events = run.events;
            run_ns.push(elapsed / events as f64);
            let start = Instant::now();
            drop(black_box(run));
            drop_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        (median(run_ns), median(drop_ms))
    };
    let (full, full_drop) = timed(History::Full);
    let (summary, summary_drop) = timed(History::Summary);
    let mut floor_ns = Vec::new();
    for _ in 0..runs {
        let mut q = EventQueue::<[u64; 13]>::with_capacity(1024);
        for i in 0..256u64 {
            q.push(Time(i * 997 % 500), [i; 13]);
        }
        let start = Instant::now();
        let mut t = 0u64;
        for i in 0..events {
            let (now, _, p) = q.pop().unwrap();
            t = t.wrapping_add(p[0]);
            q.push(Time(now.0 + 1 + (i * 7919) % 3000), p);
        }
        black_box(t);
        floor_ns.push(start.elapsed().as_nanos() as f64 / events as f64);
    }
    let f = median(floor_ns);
    println!("large scenario: {events} events, median of {runs} runs");
    for (name, s, d) in [
        ("full history", full, full_drop),
        ("summary history", summary, summary_drop),
    ] {
        println!(
            "  simulator, {name}: {s:.1} ns/event, {:.2} M events/s, {:.1}x the floor (dropping the history: {d:.0} ms)",
            1e3 / s,
            s / f
        );
    }
    println!("  floor:     {:.1} ns/event, {:.2} M events/s", f, 1e3 / f);
}
