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

/// The happens-before graph: node weights are labels, edge weights edge kinds.
pub fn happens_before(run: &Run) -> DiGraph<String, &'static str> {
    let mut g: DiGraph<String, &'static str> = DiGraph::new();
    let mut last_of_actor: BTreeMap<u32, NodeIndex> = BTreeMap::new();
    let mut send: BTreeMap<RecordId, NodeIndex> = BTreeMap::new();
    let mut append: BTreeMap<(Tp, i64), NodeIndex> = BTreeMap::new();
    let mut generation: BTreeMap<(Arc<str>, i32), NodeIndex> = BTreeMap::new();
    let mut leader_join: BTreeMap<(Arc<str>, i32), NodeIndex> = BTreeMap::new();
    let mut commits: BTreeMap<(Arc<str>, Tp, i64), NodeIndex> = BTreeMap::new();
    for e in run.trace.entries() {
        let v = crate::render::event_json(run, e.time.as_us(), e.actor, &e.record);
        let mut label = format!("{} {}\nt={}", run.trace.name(e.actor), e.record.kind(), e.time);
        for k in ["group", "generation", "topic", "partition", "offset", "key"] {
            if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
                label.push_str(&format!("\n{k}={}", x.to_string().trim_matches('"')));
            }
        }
        let n = g.add_node(label);
        if let Some(prev) = last_of_actor.insert(e.actor.0, n) {
            g.add_edge(prev, n, "po");
        }
        match &e.record {
            Event::Send { id, .. } => {
                send.insert(*id, n);
            }
            Event::Appended { id, tp, offset } => {
                if let Some(s) = send.get(id) {
                    g.add_edge(*s, n, "produce");
                }
                append.insert((*tp, *offset), n);
            }
            Event::Produced { tp, offset, .. } => {
                if let Some(a) = append.get(&(*tp, *offset)) {
                    g.add_edge(*a, n, "ack");
                }
            }
            Event::Consumed { tp, offset, .. } => {
                if let Some(a) = append.get(&(*tp, *offset)) {
                    g.add_edge(*a, n, "fetch");
                }
            }
            Event::GenerationStarted {
                group,
                generation: gen,
                ..
            } => {
                generation.insert((group.clone(), *gen), n);
            }
            Event::Joined {
                group,
                generation: gen,
                leader,
                ..
            } => {
                if let Some(s) = generation.get(&(group.clone(), *gen)) {
                    g.add_edge(*s, n, "join");
                }
                if *leader {
                    leader_join.insert((group.clone(), *gen), n);
                }
            }
            Event::Assigned {
                group,
                generation: gen,
                ..
            } => {
                if let Some(l) = leader_join.get(&(group.clone(), *gen)) {
                    g.add_edge(*l, n, "sync");
                }
            }
            Event::Committed { group, offsets, .. } => {
                for (tp, o) in offsets {
                    commits.insert((group.clone(), *tp, *o), n);
                }
            }
            Event::PositionSet {
                group,
                tp,
                offset,
                from: models::history::PositionSource::Committed,
            } => {
                if let Some(c) = commits.get(&(group.clone(), *tp, *offset)) {
                    g.add_edge(*c, n, "offset");
                }
            }
            _ => {}
        }
    }
    g
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
