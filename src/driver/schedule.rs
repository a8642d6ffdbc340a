//! A timed run's schedule: every client start, close and `[[faults]]` entry as an action at
//! its virtual time, which the run plays at the same wall-clock offset from its start (one
//! virtual millisecond is one real millisecond, since the clients' and brokers' timeouts are
//! real). How each fault is staged:
//!
//! * consumer `crash`: SIGKILL of its process (no LeaveGroup, no commit); with
//!   `restart_after_ms`, a new process of the same client then;
//! * consumer `stall`: the application stops polling for `duration_ms` (a `stall MS` line
//!   to the client; its heartbeat thread goes on, as the model's stall);
//! * consumer `close`: a `close` line (commit, LeaveGroup); with `restart_after_ms`, a new
//!   process then;
//! * broker `crash`: `kafka-cluster.sh kill N` (SIGKILL), `restart N` after
//!   `restart_after_ms`;
//! * broker `stall`: `kafka-cluster.sh pause N` (SIGSTOP) for `duration_ms`, then `resume N`
//!   — the whole node stops, not only its replica fetchers as in the model.
//!
//! * client `cut`: the cluster's proxy holds every link whose first request carries the
//!   client's `client.id` (the driver sets it to the client's name) for `duration_ms`, then
//!   closes them ([`super::proxy`]);
//! * broker `cut`: the proxy holds node N's inter-broker and controller links, both ways,
//!   for `duration_ms` (its clients still reach it), then closes them.
//!
//! Request-level `error`/`delay` faults and fault times drawn from a window
//! (`between_ms`) are not staged: [`unstageable`] names them.

use models::scenario::{FaultKind, Scenario};

/// One thing a timed run does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Action {
    /// Starts consumer `i`.
    StartConsumer(usize),
    /// Starts producer `i` (it runs in the background from then on).
    StartProducer(usize),
    /// Application of consumer `i` stops polling for so many ms.
    Stall(usize, u64),
    /// Clean close of consumer `i`.
    Close(usize),
    /// SIGKILL of consumer `i`.
    Crash(usize),
    /// A new process of consumer `i`.
    Restart(usize),
    /// SIGKILL of node `n`.
    BrokerKill(u32),
    /// Node `n` started again.
    BrokerRestart(u32),
    /// SIGSTOP of node `n`.
    BrokerPause(u32),
    /// SIGCONT of node `n`.
    BrokerResume(u32),
    /// The proxy cuts the client of fault `i` off the brokers.
    CutClient(usize),
    /// The proxy heals the cut of fault `i`'s client.
    HealClient(usize),
    /// The proxy cuts node `n` off the other nodes.
    CutBroker(u32),
    /// The proxy heals node `n`'s cut.
    HealBroker(u32),
}

/// `broker-N` as N, if `name` is one of the scenario's brokers.
fn broker_node(s: &Scenario, name: &str) -> Option<u32> {
    let n: u32 = name.strip_prefix("broker-")?.parse().ok()?;
    (1..=s.cluster.brokers).contains(&n).then_some(n)
}

/// Why `s`'s faults cannot be staged by a timed run (with a cluster of `nodes` nodes, or
/// one broker when `None`), if they cannot.
pub(super) fn unstageable(s: &Scenario, nodes: Option<u32>) -> Option<String> {
    for (i, f) in s.faults.iter().enumerate() {
        if f.at_ms.is_none() {
            return Some(format!(
                "faults[{i}]: a time drawn from between_ms is not staged (give at_ms)"
            ));
        }
        let broker = broker_node(s, &f.client).is_some();
        match f.kind {
            FaultKind::Cut if nodes.is_none() => {
                return Some(format!(
                    "faults[{i}]: a network cut needs the cluster's TCP proxy (--cluster DIR, scripts/kafka-cluster.sh)"
                ))
            }
            FaultKind::Error | FaultKind::Delay => {
                return Some(format!(
                    "faults[{i}]: a request-level {} fault needs a broker that injects it (librdkafka's mock cluster)",
                    f.kind.name()
                ))
            }
            FaultKind::Close if broker => return Some(format!("faults[{i}]: a broker does not close")),
            FaultKind::Crash | FaultKind::Stall if broker && nodes.is_none() => {
                return Some(format!(
                    "faults[{i}]: a broker {} needs a cluster (--cluster DIR)",
                    f.kind.name()
                ))
            }
            _ => {}
        }
    }
    match nodes {
        None if s.cluster.brokers > 1 => {
            return Some(format!(
                "the scenario has {} brokers: give a cluster (--cluster DIR, scripts/kafka-cluster.sh)",
                s.cluster.brokers
            ))
        }
        Some(n) if s.cluster.brokers > n => {
            return Some(format!(
                "the scenario has {} brokers; the cluster has {n}",
                s.cluster.brokers
            ))
        }
        _ => {}
    }
    None
}

/// Every action of `s` at its virtual time, in time order (at equal times in [`Action`]'s
/// order: starts first).
pub(super) fn actions(s: &Scenario) -> Vec<(u64, Action)> {
    let mut out: Vec<(u64, Action)> = Vec::new();
    for (i, c) in s.consumers.iter().enumerate() {
        out.push((c.start_ms, Action::StartConsumer(i)));
        if let Some(t) = c.close_ms {
            out.push((t, Action::Close(i)));
        }
    }
    for (i, p) in s.producers.iter().enumerate() {
        out.push((p.start_ms, Action::StartProducer(i)));
    }
    for (k, f) in s.faults.iter().enumerate() {
        let at = f.at_ms.unwrap_or(0);
        let restart = f.restart_after_ms.map(|d| at + d);
        let until = at + f.duration_ms.unwrap_or(0);
        if let Some(n) = broker_node(s, &f.client) {
            match f.kind {
                FaultKind::Crash => {
                    out.push((at, Action::BrokerKill(n)));
                    out.extend(restart.map(|t| (t, Action::BrokerRestart(n))));
                }
                FaultKind::Stall => {
                    out.push((at, Action::BrokerPause(n)));
                    out.push((until, Action::BrokerResume(n)));
                }
                FaultKind::Cut => {
                    out.push((at, Action::CutBroker(n)));
                    out.push((until, Action::HealBroker(n)));
                }
                _ => {}
            }
            continue;
        }
        if f.kind == FaultKind::Cut {
            out.push((at, Action::CutClient(k)));
            out.push((until, Action::HealClient(k)));
            continue;
        }
        let Some(i) = s.consumers.iter().position(|c| c.name == f.client) else {
            continue;
        };
        match f.kind {
            FaultKind::Crash => out.push((at, Action::Crash(i))),
            FaultKind::Close => out.push((at, Action::Close(i))),
            FaultKind::Stall => out.push((at, Action::Stall(i, f.duration_ms.unwrap_or(0)))),
            _ => continue,
        }
        if matches!(f.kind, FaultKind::Crash | FaultKind::Close) {
            out.extend(restart.map(|t| (t, Action::Restart(i))));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::builtin_scenario;

    #[test]
    fn a_consumer_crash_with_a_restart_is_two_actions() {
        let s = builtin_scenario("static-restart").unwrap();
        let a = actions(&s);
        assert!(a.contains(&(17_000, Action::Crash(0))), "{a:?}");
        assert!(a.contains(&(22_000, Action::Restart(0))), "{a:?}");
        assert_eq!(a[0], (0, Action::StartConsumer(0)));
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(unstageable(&s, None), None);
    }

    #[test]
    fn broker_faults_go_through_the_cluster() {
        let s = builtin_scenario("acks-all-minisr").unwrap();
        let a = actions(&s);
        assert!(a.contains(&(10_000, Action::BrokerKill(2))), "{a:?}");
        assert!(a.contains(&(55_000, Action::BrokerRestart(2))), "{a:?}");
        assert!(a.contains(&(14_000, Action::BrokerKill(3))), "{a:?}");
        assert!(unstageable(&s, None).unwrap().contains("needs a cluster"));
        assert_eq!(unstageable(&s, Some(3)), None);
        let u = builtin_scenario("unclean-election").unwrap();
        let a = actions(&u);
        assert!(a.contains(&(2_000, Action::BrokerPause(2))), "{a:?}");
        assert!(a.contains(&(65_000, Action::BrokerResume(2))), "{a:?}");
    }

    #[test]
    fn cuts_go_through_the_clusters_proxy() {
        let s = builtin_scenario("network-cut").unwrap();
        assert!(unstageable(&s, None).unwrap().contains("TCP proxy"));
        assert_eq!(unstageable(&s, Some(3)), None);
        let a = actions(&s);
        assert!(a.contains(&(15_000, Action::CutClient(0))), "{a:?}");
        assert!(a.contains(&(35_000, Action::HealClient(0))), "{a:?}");
        let s = builtin_scenario("acks1-leader-loss").unwrap();
        assert_eq!(unstageable(&s, Some(3)), None);
        let a = actions(&s);
        assert!(a.contains(&(5_000, Action::CutBroker(1))), "{a:?}");
        assert!(a.contains(&(20_000, Action::HealBroker(1))), "{a:?}");
    }

    #[test]
    fn request_faults_are_named_as_not_staged() {
        let s = builtin_scenario("error-produce").unwrap();
        assert!(unstageable(&s, None).unwrap().contains("request-level"));
    }
}
