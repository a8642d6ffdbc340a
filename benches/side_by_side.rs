//! demo3 side by side, in one run: the simulator, the floor (the same number of events
//! through the engine's queue alone), librdkafka's mock cluster (with the `rdkafka` feature)
//! and a real broker (with the `rdkafka` feature and `KAFKA_SIM_BROKER=host:port`; skipped
//! otherwise). Wall time per seed for each, and for the simulator the instructions per seed
//! too (callgrind, if `valgrind` is installed: the same on every run, unlike wall time).
//!
//! `cargo bench --bench side_by_side` (`--features rdkafka` for the last two rows).

use kafka_sim::load::builtin_scenario;
use sim::queue::EventQueue;
use sim::Time;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

const SEEDS: u64 = 2_000;
const CALLGRIND_SEEDS: u64 = 100;

/// Median of five batches of `SEEDS` runs, per run.
fn per_seed(mut one: impl FnMut(u64)) -> Duration {
    let mut batches: Vec<Duration> = (0..5)
        .map(|b| {
            let start = Instant::now();
            for seed in 0..SEEDS {
                one(b * SEEDS + seed);
            }
            start.elapsed() / SEEDS as u32
        })
        .collect();
    batches.sort();
    batches[2]
}

/// The floor: `events` pops and pushes through the engine's queue, ~64 pending (the queue
/// made once, as the simulator's is per run, and emptied after).
fn floor(q: &mut EventQueue<[u64; 13]>, events: u64) {
    for i in 0..64u64 {
        q.push(Time(i * 997 % 500), [i; 13]);
    }
    let mut t = 0u64;
    for i in 0..events {
        let (now, _, p) = q.pop().unwrap();
        t = t.wrapping_add(p[0]);
        q.push(Time(now.0 + 1 + (i * 7919 + t) % 1000), p);
    }
    while q.pop().is_some() {}
    black_box(t);
}

/// Instructions per seed of `kafka-sim sweep --scenario demo3 --jobs 1` under callgrind.
fn instructions_per_seed() -> Option<u64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(env!("CARGO_BIN_EXE_kafka-sim"))
        .args([
            "sweep",
            "--scenario",
            "demo3",
            "--check",
            "--jobs",
            "1",
            "--seeds",
        ])
        .arg(format!("0..{CALLGRIND_SEEDS}"))
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.contains("Collected :"))?;
    let n: u64 = line.rsplit(':').next()?.trim().replace(',', "").parse().ok()?;
    Some(n / CALLGRIND_SEEDS)
}

fn row(what: &str, wall: Option<Duration>, instructions: Option<u64>, note: &str) {
    let wall = wall.map_or("—".into(), |d| match d.as_micros() {
        us if us >= 10_000 => format!("{:.2} s", d.as_secs_f64()),
        _ => format!("{:.1} µs", d.as_nanos() as f64 / 1e3),
    });
    let ins = instructions.map_or("—".into(), |n| format!("{:.3} M", n as f64 / 1e6));
    println!("| {what} | {wall} | {ins} | {note} |");
}

#[cfg(feature = "rdkafka")]
fn real(scenario: &models::scenario::Scenario, target: &str) -> Result<Duration, String> {
    use kafka_sim::adapter::{run, Options, Target};
    let start = Instant::now();
    run(scenario, 7, &Target::parse(target), &Options::default()).map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

fn main() {
    let scenario = builtin_scenario("demo3").unwrap();
    let events = models::world::run(&scenario, 0).unwrap().events;
    println!("| demo3, one seed | wall time | instructions | |");
    println!("|---|---|---|---|");
    let sim = per_seed(|seed| {
        black_box(models::world::run(&scenario, seed).unwrap().events);
    });
    let note = format!("median of 5 × {SEEDS} seeds; instructions: {CALLGRIND_SEEDS} seeds with --check");
    row("simulator", Some(sim), instructions_per_seed(), &note);
    let mut q = EventQueue::<[u64; 13]>::with_capacity(1024);
    let fl = per_seed(|_| floor(&mut q, events));
    row("floor", Some(fl), None, &format!("{events} queue events"));
    #[cfg(feature = "rdkafka")]
    {
        for (what, target) in [
            ("librdkafka mock cluster", Some("mock".to_string())),
            ("real broker", std::env::var("KAFKA_SIM_BROKER").ok()),
        ] {
            match target.map(|t| real(&scenario, &t)) {
                Some(Ok(d)) => row(what, Some(d), None, "seed 7, one run, through the adapter"),
                Some(Err(e)) => row(what, None, None, &format!("failed: {e}")),
                None => row(what, None, None, "skipped: KAFKA_SIM_BROKER not set"),
            }
        }
    }
    #[cfg(not(feature = "rdkafka"))]
    row(
        "librdkafka mock / real broker",
        None,
        None,
        "skipped: needs --features rdkafka",
    );
}
