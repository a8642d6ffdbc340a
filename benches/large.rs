//! The large scenario (examples/large.toml: 1,000,000 records, 64 partitions, three groups of
//! eight consumers, a crash and restart every 15 s): one run, timed, reported as events per
//! second and nanoseconds per event, next to the floor — the same number of events pushed
//! and popped through the engine's queue with no model work — and the ratio of the two.
//!
//! `cargo bench --bench large` (a run takes seconds; criterion's repetitions would take
//! minutes, so this harness runs it `KAFKA_SIM_BENCH_RUNS` times, default 3, and reports the
//! median).

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
    let mut sim_ns = Vec::new();
    let mut events = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let run = models::world::run(&scenario, 1).unwrap();
        let elapsed = start.elapsed().as_nanos() as f64;
        events = run.events;
        sim_ns.push(elapsed / events as f64);
        drop(black_box(run));
    }
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
    let (s, f) = (median(sim_ns), median(floor_ns));
    println!("large scenario: {events} events, median of {runs} runs");
    println!("  simulator: {:.1} ns/event, {:.2} M events/s", s, 1e3 / s);
    println!("  floor:     {:.1} ns/event, {:.2} M events/s", f, 1e3 / f);
    println!("  ratio simulator/floor: {:.1}x", s / f);
}
