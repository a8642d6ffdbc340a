//! A scenario's faults in a built simulation: crashes, restarts, stalls, closes and network
//! cuts as scheduled inputs and link cuts (times drawn from the seed's `faults` stream), and
//! request-level `error`/`delay` faults as each broker's injection rules (franz-go kfake's
//! request interception).

use super::ClientInfo;
use crate::broker::interceptor::InjectRule;
use crate::cluster::ClusterState;
use crate::history::Event;
use crate::protocol::Msg;
use crate::scenario::{broker_name, FaultKind, Scenario};
use crate::types::Metadata;
use rand::Rng;
use sim::{ActorId, Sim, Time};

/// Schedules `scenario`'s faults (times drawn from the seed's `faults` stream, in order).
pub(super) fn schedule_faults(
    engine: &mut Sim<Msg, Event>,
    scenario: &Scenario,
    seed: u64,
    clients: &[ClientInfo],
    broker_ids: &[ActorId],
    controller_id: Option<ActorId>,
) {
    let mut fault_rng = sim::rng::stream(seed, "faults");
    for f in &scenario.faults {
        if matches!(f.kind, FaultKind::Error | FaultKind::Delay) {
            // request-level faults are the brokers' rules (see inject_rules)
            continue;
        }
        let target_broker = (1..=scenario.cluster.brokers).find(|node| broker_name(*node) == f.client);
        let actor = match target_broker {
            Some(node) => broker_ids[(node - 1) as usize],
            None => {
                clients
                    .iter()
                    .find(|c| c.name == f.client)
                    .expect("validated")
                    .actor
            }
        };
        let at = match (f.at_ms, f.between_ms) {
            (Some(at), _) => Time::ms(at),
            (None, Some([a, b])) => Time::ms(fault_rng.random_range(a..=b)),
            (None, None) => unreachable!("validated"),
        };
        let duration = Time::ms(f.duration_ms.unwrap_or(0));
        // the producer of a pipeline's process dies and restarts with it
        let process_producer = scenario
            .consumers
            .iter()
            .find(|c| c.name == f.client)
            .and_then(|c| c.pipeline.as_ref())
            .and_then(|p| clients.iter().find(|q| q.name == p.producer))
            .map(|q| q.actor);
        match f.kind {
            FaultKind::Crash => {
                for actor in std::iter::once(actor).chain(process_producer) {
                    engine.schedule(at, actor, Msg::Crash);
                    if let Some(after) = f.restart_after_ms {
                        engine.schedule(at + Time::ms(after), actor, Msg::Restart);
                    }
                }
            }
            FaultKind::Stall => engine.schedule(at, actor, Msg::Stall(duration)),
            FaultKind::Close => {
                engine.schedule(at, actor, Msg::Close);
                if let Some(after) = f.restart_after_ms {
                    engine.schedule(at + Time::ms(after), actor, Msg::Restart);
                }
            }
            FaultKind::Cut if target_broker.is_some() => {
                engine.schedule(at, actor, Msg::Partitioned(at + duration));
                for other in broker_ids.iter().copied().chain(controller_id) {
                    if other != actor {
                        engine.network().cut(actor, other, at, at + duration);
                    }
                }
            }
            FaultKind::Cut => {
                for b in broker_ids {
                    engine.network().cut(actor, *b, at, at + duration);
                }
            }
            FaultKind::Error | FaultKind::Delay => unreachable!("skipped above"),
        }
    }
}

/// The fault-injection rules of broker `node`: the scenario's `error` and `delay` faults
/// that name it or no broker, in file order (the first that matches a request applies).
pub(super) fn inject_rules(
    scenario: &Scenario,
    meta: &Metadata,
    cluster: &ClusterState,
    node: u32,
) -> Vec<InjectRule> {
    let mine = |f: &&crate::scenario::FaultSpec| {
        matches!(f.kind, FaultKind::Error | FaultKind::Delay)
            && (f.client.is_empty() || f.client == broker_name(node))
    };
    scenario
        .faults
        .iter()
        .filter(mine)
        .map(|f| {
            let api = f.api.expect("validated");
            let rule = match (f.error, f.delay_ms) {
                (Some(e), _) => InjectRule::error(api, e),
                (None, d) => InjectRule::delay(api, Time::ms(d.expect("validated"))),
            };
            let from = Time::ms(f.at_ms.unwrap_or(0));
            let rule = match f.duration_ms {
                Some(d) => rule.during(from, from + Time::ms(d)),
                None => rule.times(f.count.unwrap_or(1)).from(from),
            };
            match (&f.topic, f.partition, &f.group) {
                (Some(t), Some(p), _) => {
                    let topic = meta.topic_index(t).expect("validated");
                    rule.on_partition(crate::types::Tp::new(topic, p))
                }
                (_, _, Some(g)) => rule.on_partition(cluster.offsets_tp(g)),
                _ => rule,
            }
        })
        .collect()
}
