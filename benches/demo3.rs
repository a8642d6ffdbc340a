//! criterion: one run of demo3 (median time per seed), with and without the checker, and
//! the floor — the same number of events pushed and popped through the engine's queue with
//! no model work.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kafka_sim::load::builtin_scenario;
use models::check::{check, Claim};
use sim::queue::EventQueue;
use sim::Time;
use std::hint::black_box;

fn demo3(c: &mut Criterion) {
    let scenario = builtin_scenario("demo3").unwrap();
    let events = models::world::run(&scenario, 0).unwrap().events;
    let mut seed = 0u64;
    c.bench_function("demo3: one run", |b| {
        b.iter(|| {
            seed += 1;
            black_box(models::world::run(&scenario, seed).unwrap().events)
        })
    });
    c.bench_function("demo3: one run + check", |b| {
        b.iter(|| {
            seed += 1;
            let run = models::world::run(&scenario, seed).unwrap();
            black_box(check(&run.trace, Claim::AtLeastOnce).passed())
        })
    });
    // the floor: as many events as a demo3 run, through the same queue, with a payload of
    // the same size as the engine's envelopes, and a similar number pending
    c.bench_function(&format!("floor: {events} queue events"), |b| {
        b.iter_batched(
            || EventQueue::<[u64; 13]>::with_capacity(1024),
            |mut q| {
                let mut t = 0u64;
                for i in 0..64u64 {
                    q.push(Time(i * 997 % 500), [i; 13]);
                }
                for i in 0..events {
                    let (now, _, p) = q.pop().unwrap();
                    t = t.wrapping_add(p[0]);
                    q.push(Time(now.0 + 1 + (i * 7919) % 3000), p);
                }
                black_box(t)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, demo3);
criterion_main!(benches);
