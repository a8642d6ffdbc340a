//! The happens-before graph of a run (petgraph), exported as Graphviz DOT.
//!
//! Nodes are history events. Edges say why one event had to come before another:
//! `po` — program order inside one process; `produce` — a send before the broker's append of
//! that record; `ack` — the append before the producer's acknowledgement; `fetch` — the
//! append before each consumption of it; `join` — the coordinator's new generation before a
//! member's join of it; `sync` — the leader's join (where it computed the assignment) before
//! each member's assignment in that generation; `offset` — a commit before a position read
//! back from it.

use models::history::Event;
use models::types::{RecordId, Tp};
use models::world::Run;
use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A key for one generation of one group.
type Generation = (Arc<str>, i32);

/// The graph built so far, and what later events need to find their causes.
#[derive(Default)]
struct Builder {
    g: DiGraph<String, &'static str>,
    last_of_actor: BTreeMap<u32, NodeIndex>,
    send: BTreeMap<RecordId, NodeIndex>,
    append: BTreeMap<(Tp, i64), NodeIndex>,
    generation: BTreeMap<Generation, NodeIndex>,
    leader_join: BTreeMap<Generation, NodeIndex>,
    commits: BTreeMap<(Arc<str>, Tp, i64), NodeIndex>,
}

impl Builder {
    /// Edges from `from` (if it happened) to `n`.
    fn edge(&mut self, from: Option<NodeIndex>, n: NodeIndex, kind: &'static str) {
        if let Some(from) = from {
            self.g.add_edge(from, n, kind);
        }
    }

    /// `produce`, `ack`, `fetch`: a record's way from its send to its consumptions.
    fn record_edges(&mut self, n: NodeIndex, e: &Event) {
        match e {
            Event::Send { id, .. } => {
                self.send.insert(*id, n);
            }
            Event::Appended { id, tp, offset } => {
                self.edge(self.send.get(id).copied(), n, "produce");
                self.append.insert((*tp, *offset), n);
            }
            Event::Produced { tp, offset, .. } => {
                self.edge(self.append.get(&(*tp, *offset)).copied(), n, "ack");
            }
            Event::Consumed { tp, offset, .. } => {
                self.edge(self.append.get(&(*tp, *offset)).copied(), n, "fetch");
            }
            _ => {}
        }
    }

    /// `join`, `sync`, `offset`: the group protocol's causes.
    fn group_edges(&mut self, n: NodeIndex, e: &Event) {
        match e {
            Event::GenerationStarted {
                group,
                generation: gen,
                ..
            } => {
                self.generation.insert((group.clone(), *gen), n);
            }
            Event::Joined {
                group,
                generation: gen,
                leader,
                ..
            } => {
                let key = (group.clone(), *gen);
                self.edge(self.generation.get(&key).copied(), n, "join");
                if *leader {
                    self.leader_join.insert(key, n);
                }
            }
            Event::Assigned {
                group,
                generation: gen,
                ..
            } => {
                self.edge(self.leader_join.get(&(group.clone(), *gen)).copied(), n, "sync");
            }
            Event::Committed { group, offsets, .. } => {
                for (tp, o) in offsets {
                    self.commits.insert((group.clone(), *tp, *o), n);
                }
            }
            Event::PositionSet {
                group,
                tp,
                offset,
                from: models::history::PositionSource::Committed,
            } => {
                let c = self.commits.get(&(group.clone(), *tp, *offset)).copied();
                self.edge(c, n, "offset");
            }
            _ => {}
        }
    }
}

/// A node's label: who, what, when, and the event's group, generation, partition, offset
/// and key.
fn label(run: &Run, e: &sim::TraceEntry<Event>) -> String {
    let v = crate::render::event_json(run, e.time.as_us(), e.actor, &e.record);
    let mut label = format!("{} {}\nt={}", run.trace.name(e.actor), e.record.kind(), e.time);
    for k in ["group", "generation", "topic", "partition", "offset", "key"] {
        if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
            label.push_str(&format!("\n{k}={}", x.to_string().trim_matches('"')));
        }
    }
    label
}

/// The happens-before graph: node weights are labels, edge weights edge kinds.
pub fn happens_before(run: &Run) -> DiGraph<String, &'static str> {
    let mut b = Builder::default();
    for e in run.trace.entries() {
        let n = b.g.add_node(label(run, e));
        let prev = b.last_of_actor.insert(e.actor.0, n);
        b.edge(prev, n, "po");
        b.record_edges(n, &e.record);
        b.group_edges(n, &e.record);
    }
    b.g
}

/// The graph in Graphviz DOT.
pub fn dot(run: &Run) -> String {
    let g = happens_before(run);
    format!("{}", Dot::with_config(&g, &[Config::GraphContentOnly]))
        .lines()
        .map(|l| format!("    {}\n", l.trim()))
        .fold(
            String::from("digraph happens_before {\n    node [shape=box, fontsize=10];\n"),
            |mut acc, l| {
                acc.push_str(&l);
                acc
            },
        )
        + "}\n"
}
