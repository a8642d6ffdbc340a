//! Helpers shared by the integration tests: run a built-in scenario, pick events apart.
#![allow(dead_code)]

use kafka_sim::load::builtin_scenario;
use models::check::{check, Claim, Report};
use models::history::Event;
use models::types::Tp;
use models::world::{run, Run};
use sim::Time;

/// Runs built-in scenario `name` under `seed`.
pub fn run_builtin(name: &str, seed: u64) -> Run {
    let s = builtin_scenario(name).unwrap_or_else(|| panic!("no built-in {name}"));
    run(&s, seed).unwrap()
}

/// The checker's report for a run.
pub fn report(run: &Run, claim: Claim) -> Report {
    check(&run.trace, claim)
}

/// (time, event) of every entry written by `client`.
pub fn events_of<'a>(run: &'a Run, client: &str) -> Vec<(Time, &'a Event)> {
    run.trace
        .entries()
        .iter()
        .filter(|e| run.trace.name(e.actor) == client)
        .map(|e| (e.time, &e.record))
        .collect()
}

/// (time, client, tp, offset) of every consumption.
pub fn consumptions(run: &Run) -> Vec<(Time, String, Tp, i64)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::Consumed { tp, offset, .. } => {
                Some((e.time, run.trace.name(e.actor).to_string(), *tp, *offset))
            }
            _ => None,
        })
        .collect()
}

/// Generations the coordinator started for `group`.
pub fn generations(run: &Run, group: &str) -> Vec<(Time, i32)> {
    run.trace
        .entries()
        .iter()
        .filter_map(|e| match &e.record {
            Event::GenerationStarted {
                group: g, generation, ..
            } if &**g == group => Some((e.time, *generation)),
            _ => None,
        })
        .collect()
}

/// The time of `client`'s first event matching `pred`.
pub fn first_time(run: &Run, client: &str, pred: impl Fn(&Event) -> bool) -> Option<Time> {
    events_of(run, client)
        .into_iter()
        .find(|(_, e)| pred(e))
        .map(|(t, _)| t)
}
